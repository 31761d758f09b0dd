//! Service `relay(operation, params)`: calls the service `operation` with
//! `params` through `call_service` and answers its result (the routing tests
//! use it to build chains of nested calls across executors).
use serde_json::Value;
use wasmflow_guest::{Context, Result, call_service};

fn relay(ctx: &Context) -> Result<Value> {
    let operation: String = ctx.param("operation")?;
    let params = ctx.params().get("params").cloned().unwrap_or(Value::Null);
    call_service(&operation, params)
}

wasmflow_guest::export!(service: relay);
