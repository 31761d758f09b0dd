//! Sets data `blob` to a string of `config.size` (or data `size`) bytes, 20 MiB by default, so
//! that the response exceeds a 16 MiB limit.
use wasmflow_guest::{Context, Result};

fn huge_response(ctx: &mut Context) -> Result<()> {
    let size: usize = match ctx.config_get::<Option<usize>>("size")? {
        Some(size) => size,
        None => ctx.get::<Option<usize>>("size")?.unwrap_or(20 << 20),
    };
    ctx.set("blob", "x".repeat(size))
}

wasmflow_guest::export!(script: huge_response);
