//! Text a plugin wrote, made safe to show.
//!
//! A plugin's log, output, error and halt messages reach terminals and log
//! files. Control characters in them could move the cursor, rewrite what the
//! operator sees, set the window title (OSC 0) or write the clipboard (OSC 52),
//! so everything a plugin wrote passes through [`escape_controls`] before it
//! leaves the script engine.

use std::borrow::Cow;

/// `text` with every control character except newline and tab written as an
/// escape (`\u{1b}`, `\r`), C1 controls and DEL included.
///
/// ```
/// use wasmflow::call::escape_controls;
/// assert_eq!(escape_controls("a\u{1b}]52;c;x\u{7}b\n"), "a\\u{1b}]52;c;x\\u{7}b\n");
/// assert_eq!(escape_controls("plain"), "plain");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
