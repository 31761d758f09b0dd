//! Service `env_var(name)`: the variable's value as the plugin sees it, or null.
use serde_json::Value;
use wasmflow_guest::{Context, Result};

fn env_var(ctx: &Context) -> Result<Value> {
    let name: String = ctx.param("name")?;
    Ok(std::env::var(&name).map(Value::String).unwrap_or(Value::Null))
}

wasmflow_guest::export!(service: env_var);
