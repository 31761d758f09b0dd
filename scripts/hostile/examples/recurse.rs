//! Recurses without bound (not a tail call: the result is used after the call) until the stack
//! is exhausted: a trap.
use std::hint::black_box;
use wasmflow_guest::{Context, Result};

#[inline(never)]
fn depth(n: u64) -> u64 {
    // A frame with some stack memory, opaque to the optimiser.
    let frame = black_box([n; 8]);
    if black_box(frame[0]) == u64::MAX {
        return 0;
    }
    let below = depth(frame[1].wrapping_add(1));
    black_box(below).wrapping_add(frame[7])
}

fn recurse(ctx: &mut Context) -> Result<()> {
    let d = depth(black_box(0));
    ctx.set("depth", d)
}

wasmflow_guest::export!(script: recurse);
