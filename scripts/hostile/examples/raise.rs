//! A service that throws the BPMN error its parameters describe: `code` (required), and
//! optionally `name` and `payload`. Used to test BPMN error catching end to end.
use serde_json::Value;
use wasmflow_guest::{Context, Error, Result};

fn raise(ctx: &Context) -> Result<Value> {
    let code: String = ctx.param("code")?;
    let mut error = Error::bpmn(code);
    if let Some(name) = ctx.param::<Option<String>>("name")? {
        error = error.with_name(name);
    }
    if let Some(payload) = ctx.param::<Option<Value>>("payload")? {
        error = error.with_payload(payload);
    }
    Err(error)
}

wasmflow_guest::export!(service: raise);
