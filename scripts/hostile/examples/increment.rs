//! `increment`: a well-behaved, minimal script (`i = i + 1`), for chains,
//! loops and the per-call benchmark.

use wasmflow_guest::{Context, Result};

fn increment(ctx: &mut Context) -> Result<()> {
    let i: i64 = ctx.get::<Option<i64>>("i")?.unwrap_or(0);
    ctx.set("i", i + 1)
}

wasmflow_guest::export!(script: increment);
