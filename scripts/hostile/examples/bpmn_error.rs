//! Throws the BPMN error `payment_failed` with payload `{"reason": "card declined"}`.
use serde_json::json;
use wasmflow_guest::{Context, Error, Result};

fn bpmn_error(_ctx: &mut Context) -> Result<()> {
    Err(Error::bpmn_error("payment_failed", json!({"reason": "card declined"})))
}

wasmflow_guest::export!(script: bpmn_error);
