//! A well-behaved script: answers its data unchanged plus `echoed: true`, and logs one info
//! line through the host's `wasmflow.log`.
use wasmflow_guest::{Context, Result};

fn echo(ctx: &mut Context) -> Result<()> {
    wasmflow_guest::info!("echo: {} data keys", ctx.data().len());
    ctx.set("echoed", true)
}

wasmflow_guest::export!(script: echo);
