//! Script: calls the service named by data `operation` with data `params`
//! and stores the result in `result` (grant tests use it to call what it may not).
use serde_json::Value;
use wasmflow_guest::{Context, Result, call_service};

fn call_any(ctx: &mut Context) -> Result<()> {
    let operation: String = ctx.get("operation")?;
    let params: Value = ctx.get("params").unwrap_or(Value::Null);
    let result = call_service(&operation, params)?;
    ctx.set("result", result)
}

wasmflow_guest::export!(script: call_any);
