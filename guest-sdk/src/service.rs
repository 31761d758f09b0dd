//! Calling other services from a plugin (`wasmflow.call_service`).
//!
//! A plugin may call only the operations its grant names (`allow_services` in
//! the manifest); anything else is refused with an error that says which grant
//! is missing. The called service runs in its own sandbox with its own grants.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::host::{HostFn, exchange};

/// Calls the service `operation` with `params` and returns its result.
///
/// The callee's answer maps onto [`Error`] so that `?` does the expected thing:
/// a BPMN error it throws is re-thrown from this plugin (with its code, name and
/// payload), a halt halts, any other failure (including a denial) is an
/// ordinary error whose message says what happened.
///
/// ```no_run
/// use wasmflow_guest::{Context, Result, call_service};
/// use serde_json::json;
///
/// fn price(ctx: &mut Context) -> Result<()> {
///     let info = call_service("lookup_product_info", json!({"product_name": "product_a"}))?;
///     ctx.set("price", info["price"].clone())
/// }
/// # wasmflow_guest::export!(script: price);
/// ```
pub fn call_service(operation: &str, params: Value) -> Result<Value> {
    let params = match params {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            return Err(Error::msg(format!(
                "call_service(\"{operation}\", …): params must be a JSON object, not {other}"
            )));
        }
    };
    let answer = exchange(HostFn::CallService, &json!({"operation": operation, "params": params}))?;
    from_answer(operation, answer)
}

/// Turns an ABI response from the host into the result or an [`Error`].
pub(crate) fn from_answer(operation: &str, answer: Value) -> Result<Value> {
    let text = |key: &str| answer.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    match answer.get("status").and_then(Value::as_str) {
        Some("ok") => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        Some("bpmn_error") => {
            let mut error = Error::bpmn(text("code"));
            if let Some(name) = answer.get("name").and_then(Value::as_str) {
                error = error.with_name(name);
            }
            if let Some(payload) = answer.get("payload") {
                error = error.with_payload(payload.clone());
            }
            Err(error)
        }
        Some("halt") => Err(Error::halt(text("message"))),
        Some("error") => Err(Error::msg(format!("service `{operation}`: {}", text("message")))),
        _ => Err(Error::msg(format!(
            "service `{operation}`: unexpected answer from the host: {answer}"
        ))),
    }
}
