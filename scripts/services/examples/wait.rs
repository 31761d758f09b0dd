//! Service `wait(ms, value)`: sleeps `ms` milliseconds (a slow remote call
//! stand-in), then answers `value` (or `ms`). The concurrency example and tests use it.
use std::time::Duration;

use serde_json::Value;
use wasmflow_guest::{Context, Result};

fn wait(ctx: &Context) -> Result<Value> {
    let ms: u64 = ctx.param("ms")?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(ctx.params().get("value").cloned().unwrap_or(Value::from(ms)))
}

wasmflow_guest::export!(service: wait);
