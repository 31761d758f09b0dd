//! Writes 1 MiB of arbitrary bytes (invalid UTF-8, NULs, escape sequences, no newlines for long
//! stretches) to stdout and to stderr, then answers ok with the data unchanged.
use std::io::Write;
use wasmflow_guest::{Context, Result};

fn print_garbage(_ctx: &mut Context) -> Result<()> {
    let mut garbage = Vec::with_capacity(1 << 20);
    let mut state: u32 = 0x9e37_79b9;
    while garbage.len() < 1 << 20 {
        // xorshift: every byte value, in no pattern a decoder could rely on.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        garbage.push(state as u8);
    }
    garbage[..8].copy_from_slice(b"\x1b[31m\0\xff\xfe");
    std::io::stdout().write_all(&garbage)?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(&garbage)?;
    Ok(())
}

wasmflow_guest::export!(script: print_garbage);
