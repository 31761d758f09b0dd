//! A script task's `scriptFormat` and `script` text → [`Script`].

use super::spec::Script;
use super::xml::LineIndex;

/// The character data of one element (`script`, `conditionExpression`),
/// decoded, with where each piece came from in the file so that a line of the
/// decoded text can be traced back to its line in the file.
#[derive(Debug, Default)]
pub(super) struct Text {
    /// Entities and CDATA decoded; line ends as in the file.
    pub(super) text: String,
    /// `(offset in text, byte offset in the file)` of each piece, ascending.
    pieces: Vec<(usize, usize)>,
}

impl Text {
    /// Appends a decoded piece that starts at `file_offset` in the file.
    pub(super) fn push(&mut self, piece: &str, file_offset: usize) {
        if piece.is_empty() {
            return;
        }
        self.pieces.push((self.text.len(), file_offset));
        self.text.push_str(piece);
    }

    /// The file offset of a byte offset in the decoded text. Exact inside text
    /// and CDATA pieces, which are copied verbatim; an entity maps to its `&`.
    fn file_offset(&self, at: usize) -> usize {
        let i = self.pieces.partition_point(|&(start, _)| start <= at);
        match i.checked_sub(1).map(|i| self.pieces[i]) {
            Some((start, file)) => file + (at - start),
            None => self.pieces.first().map_or(0, |&(_, file)| file),
        }
    }

    /// The text trimmed, with `\r\n` line ends made `\n`; `None` when blank.
    pub(super) fn trimmed(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| t.replace("\r\n", "\n"))
    }
}

/// Builds a script task's [`Script`], or says what is wrong with it.
pub(super) fn script(format: Option<&str>, body: Option<&Text>, lines: &LineIndex<'_>) -> Result<Script, String> {
    const EMPTY: &str = "script task has no script";
    let format = format.map(str::trim).unwrap_or("");
    match format.to_ascii_lowercase().as_str() {
        "wasm" => {
            let body = body.map_or("", |b| b.text.trim());
            if body.is_empty() {
                return Err(format!("{EMPTY}: with scriptFormat `wasm` the script names a plugin"));
            }
            plugin_name(body).map(|name| Script::Plugin { name })
        }
        "" | "python" | "starlark" | "text/x-python" => {
            let body = body.ok_or(EMPTY)?;
            let (start, source) = dedent(&body.text).ok_or(EMPTY)?;
            let line = lines.line(body.file_offset(start));
            Ok(Script::Inline { source, line })
        }
        _ => Err(format!(
            "unknown scriptFormat `{format}`: use `wasm` for a compiled plugin, \
             or `python`/`starlark` (or none) for inline code"
        )),
    }
}

/// A plugin name as written in the script body: a bare file name, the
/// `.wasm` suffix optional. Path separators and leading dots are refused so a
/// diagram can never name a file outside the plugin directory.
fn plugin_name(body: &str) -> Result<String, String> {
    let name = body.strip_suffix(".wasm").unwrap_or(body);
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "invalid plugin name `{body}`: with scriptFormat `wasm` the script is the plugin's \
             file name without directory (letters, digits, `_`, `-`, `.`), e.g. `compute_total`"
        ))
    }
}

/// Checks a service task's operation name (the operator's `id`). Names like
/// SpiffArena's connector operations (`http/GetRequestV2`) are accepted:
/// letters, digits, `_`, `-`, `.` and `/`, with no empty, `.` or `..` segment,
/// so that resolving it as a file in a plugin directory can never leave the
/// directory.
pub(super) fn operation_name(name: &str) -> Result<(), String> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    let segments_ok = name.split('/').all(|s| !s.is_empty() && !s.starts_with('.'));
    if chars_ok && segments_ok {
        Ok(())
    } else {
        Err(format!(
            "invalid operation name `{name}`: use letters, digits, `_`, `-`, `.` and `/` \
             (no empty segment and no segment starting with `.`), e.g. `lookup_product_info`"
        ))
    }
}

/// Drops leading and trailing blank lines, then removes the leading spaces
/// and tabs common to all non-blank lines (as Python's `textwrap.dedent`), so
/// code indented to match the XML around it runs as written. Returns the byte
/// offset in `text` of the first non-blank line, and the source (`\n` line
/// ends, no trailing newline); `None` when there is no code at all.
fn dedent(text: &str) -> Option<(usize, String)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        lines.push((start, line.strip_suffix('\r').unwrap_or(line)));
        start += line.len() + 1;
    }
    let blank = |l: &str| l.trim().is_empty();
    let first = lines.iter().position(|&(_, l)| !blank(l))?;
    let last = lines.iter().rposition(|&(_, l)| !blank(l))?;
    let lines = &lines[first..=last];

    let indent = |l: &'_ str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let mut common: Option<&str> = None;
    for &(_, l) in lines.iter().filter(|&&(_, l)| !blank(l)) {
        let ws = &l[..indent(l)];
        common = Some(match common {
            None => ws,
            Some(c) => {
                let n = c.bytes().zip(ws.bytes()).take_while(|(a, b)| a == b).count();
                &c[..n]
            }
        });
    }
    let cut = common.map_or(0, str::len);

    let mut source = String::with_capacity(text.len());
    for (i, &(_, l)) in lines.iter().enumerate() {
        if i > 0 {
            source.push('\n');
        }
        if !blank(l) {
            source.push_str(&l[cut..]);
        }
    }
    Some((lines[0].0, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedent_like_python() {
        let (start, src) = dedent("\n  \n    if x:\n\t\n        y = 1\r\n    z = 2  \n\n").unwrap();
        assert_eq!(start, 4);
        assert_eq!(src, "if x:\n\n    y = 1\nz = 2  ");
        assert_eq!(dedent("x = 1").unwrap(), (0, "x = 1".to_owned()));
        assert_eq!(dedent(" \n\t\n"), None);
        // Mixed tabs and spaces share only their common prefix.
        assert_eq!(dedent("\t a\n\t  b").unwrap().1, "a\n b");
        assert_eq!(dedent("\t a\n  b").unwrap().1, "\t a\n  b");
    }

    #[test]
    fn plugin_names() {
        assert_eq!(plugin_name("compute_total.wasm").unwrap(), "compute_total");
        assert_eq!(plugin_name("a-b.v2").unwrap(), "a-b.v2");
        for bad in ["../x", "a/b", ".wasm", "..", "a b", "é"] {
            assert!(plugin_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn operation_names() {
        for good in ["lookup_product_info", "http/GetRequestV2", "a-b.v2"] {
            assert!(operation_name(good).is_ok(), "{good}");
        }
        for bad in ["../x", "a//b", "/abs", "a/", ".hidden", "a/../b", "a b", "é", "a:b"] {
            assert!(operation_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_offsets() {
        let mut t = Text::default();
        t.push("ab\n", 10);
        t.push(">", 20);
        t.push("cd", 24);
        assert_eq!(t.file_offset(0), 10);
        assert_eq!(t.file_offset(2), 12);
        assert_eq!(t.file_offset(3), 20);
        assert_eq!(t.file_offset(5), 25);
    }
}
