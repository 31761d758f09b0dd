//! Fails with the message `nope` at line 7.
use wasmflow_guest::{Context, Error, Result};

fn fail(_ctx: &mut Context) -> Result<()> {
    Err(Error::msg_at("nope", 7))
}

wasmflow_guest::export!(script: fail);
