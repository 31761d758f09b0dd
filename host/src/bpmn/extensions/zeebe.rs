//! Camunda 8's extensions (prefix usually `zeebe:`). Read today:
//! - `subscription correlationKey` of a root `message`: a catch of that
//!   message waits for the key's value, computed from its data when it
//!   starts waiting (under the correlation property `correlationKey`, which
//!   `wasmflow message --correlation-key VALUE` gives); a throw computes it
//!   from its payload.
//!
//! A key is FEEL when it starts with `=`: a variable (`=orderId`), a path
//! (`=order.id`) or a literal; anything else is refused, saying so, until
//! the FEEL interpreter runs in the sandbox. Without `=` it is a literal
//! string, as Camunda reads it. Other Zeebe extensions are ignored.

use super::super::frames::Frame as CoreFrame;
use super::super::parse::Parser;
use super::super::vocabulary::Attrs;
use super::Owner;

/// Camunda 8's extension namespace.
pub(in crate::bpmn) const NAMESPACE: &str = "http://camunda.org/schema/zeebe/1.0";

/// The correlation property a Zeebe subscription's key is kept under.
pub const CORRELATION_KEY: &str = "correlationKey";

/// A Zeebe element opened in `extensionElements` (or inside another Zeebe element).
pub(super) fn open(parser: &mut Parser<'_>, local: &[u8], attrs: &mut Attrs<'_>, offset: usize) -> CoreFrame {
    if local != b"subscription" || !matches!(parser.stack.parent(), Some(CoreFrame::Extensions)) {
        return CoreFrame::Skip;
    }
    let position = parser.position(offset);
    let element = parser.stack.extension_owner_id();
    if Owner::of(&parser.stack) != Owner::Message {
        return CoreFrame::Skip;
    }
    let Some(key) = attrs.correlation_key.take().filter(|k| !k.trim().is_empty()) else {
        return CoreFrame::Skip;
    };
    match expression(&key) {
        Ok(expression) => {
            if let Some(CoreFrame::Message(message)) = parser.stack.extension_owner_mut() {
                message.extensions.correlation_key = Some(expression);
            }
        }
        Err(why) => parser.report.report(position, element.as_deref(), why),
    }
    CoreFrame::Skip
}

/// The sandbox expression that computes a `correlationKey`.
fn expression(key: &str) -> Result<String, String> {
    let Some(feel) = key.trim().strip_prefix('=') else {
        // A static key.
        return Ok(serde_json::to_string(key.trim()).expect("strings serialize"));
    };
    let feel = feel.trim();
    let identifier = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let plain_string = feel.len() >= 2
        && feel.starts_with('"')
        && feel.ends_with('"')
        && !feel[1..feel.len() - 1].contains(['"', '\\']);
    if plain_string || feel.parse::<f64>().is_ok_and(f64::is_finite) {
        return Ok(feel.to_string());
    }
    let mut path = feel.split('.');
    let first = path.next().unwrap_or_default();
    let rest: Vec<&str> = path.collect();
    if identifier(first) && rest.iter().all(|p| identifier(p)) {
        let mut expression = first.to_string();
        for field in rest {
            expression.push_str(&format!("[\"{field}\"]"));
        }
        return Ok(expression);
    }
    Err(format!(
        "zeebe:subscription correlationKey `{key}`: only a variable (=orderId), a path (=order.id) or a literal \
         is supported until FEEL runs in the sandbox; compute the key into a variable and name it"
    ))
}

#[cfg(test)]
mod tests {
    use super::expression;

    #[test]
    fn a_key_reads_as_the_expression_that_computes_it() {
        assert_eq!(expression("=orderId").unwrap(), "orderId");
        assert_eq!(
            expression("= order.customer.id ").unwrap(),
            r#"order["customer"]["id"]"#
        );
        assert_eq!(expression(r#"="fixed""#).unwrap(), r#""fixed""#);
        assert_eq!(expression("=42").unwrap(), "42");
        assert_eq!(expression("static-key").unwrap(), r#""static-key""#);
        let refused = expression("=orderId + 1").unwrap_err();
        assert!(refused.contains("`=orderId + 1`: only a variable"), "{refused}");
        assert!(expression("=a..b").is_err());
    }
}
