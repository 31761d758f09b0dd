//! Reports the environment it sees in data `env` (empty in the sandbox).
use serde_json::{Map, Value};
use wasmflow_guest::{Context, Result};

fn read_env(ctx: &mut Context) -> Result<()> {
    let mut env: Map<String, Value> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                Value::String(v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    if let Ok(home) = std::env::var("HOME") {
        env.insert("HOME".into(), Value::String(home));
    }
    ctx.set("env", env)
}

wasmflow_guest::export!(script: read_env);
