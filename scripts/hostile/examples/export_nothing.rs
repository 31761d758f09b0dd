//! A module exporting no wasmflow function at all.

#[unsafe(no_mangle)]
pub extern "C" fn unrelated() -> i32 {
    7
}
