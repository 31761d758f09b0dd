//! Allocates and fills 1 MiB blocks until memory runs out (the allocation failure aborts: a trap).
use std::hint::black_box;
use wasmflow_guest::{Context, Result};

fn alloc_unbounded(_ctx: &mut Context) -> Result<()> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        block.fill((blocks.len() as u8) | 1);
        blocks.push(black_box(block));
    }
}

wasmflow_guest::export!(script: alloc_unbounded);
