//! Spins forever: only a deadline (epoch interruption) or fuel stops it.
use std::hint::black_box;
use wasmflow_guest::{Context, Result};

fn loop_forever(_ctx: &mut Context) -> Result<()> {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

wasmflow_guest::export!(script: loop_forever);
