//! Exports a `wizer-initialize` that never returns: pre-initialization must be
//! stopped by the plugin's time limit, not hang `check` or the first call.
use wasmflow_guest::{Context, Result};

#[unsafe(export_name = "wizer-initialize")]
pub extern "C" fn init() {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn init_forever(_ctx: &mut Context) -> Result<()> {
    Ok(())
}

wasmflow_guest::export!(script: init_forever);
