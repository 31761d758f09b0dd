//! Service `gate(path, value)`: a call that waits for its test. It creates
//! `{path}.entered` and keeps it open (so a test can see the call has started,
//! and which process runs it), then waits until `{path}.open` exists and
//! answers `value` (or `path`). `path` names a file in a granted directory, as
//! the plugin sees it; a null `path` passes at once (for the calls a test does
//! not hold). The call's deadline ends a gate that is never opened.
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wasmflow_guest::{Context, Error, Result};

fn gate(ctx: &Context) -> Result<Value> {
    let value = ctx.params().get("value").cloned();
    let Some(path) = ctx.param::<Option<String>>("path")? else {
        return Ok(value.unwrap_or(Value::Null));
    };
    let entered = format!("{path}.entered");
    let _held = std::fs::File::create(&entered).map_err(|e| Error::msg(format!("cannot create {entered}: {e}")))?;
    let open = format!("{path}.open");
    while !Path::new(&open).exists() {
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(value.unwrap_or(Value::String(path)))
}

wasmflow_guest::export!(service: gate);
