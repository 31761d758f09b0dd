//! Panics with "deliberate trap"; with `panic = "abort"` the panic is a wasm trap after the
//! message is written to stderr.
use wasmflow_guest::{Context, Result};

fn trap(ctx: &mut Context) -> Result<()> {
    if std::hint::black_box(ctx.data().len()) < usize::MAX {
        panic!("deliberate trap");
    }
    Ok(())
}

wasmflow_guest::export!(script: trap);
