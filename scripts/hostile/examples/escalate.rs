//! Escalates `late` with payload `{"days": 3}` (its task goes on, its data unchanged).
use serde_json::json;
use wasmflow_guest::{Context, Error, Result};

fn escalate(_ctx: &mut Context) -> Result<()> {
    Err(Error::escalation("late")
        .with_name("Running late")
        .with_payload(json!({"days": 3})))
}

wasmflow_guest::export!(script: escalate);
