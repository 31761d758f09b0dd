//! Hand-written exports whose response is not JSON.
use wasmflow_hostile::{leak_buffer, pack};

const RESPONSE: &[u8] = b"this is not json {";

#[unsafe(no_mangle)]
pub extern "C" fn wasmflow_alloc(len: i32) -> i32 {
    leak_buffer(len) as usize as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn wasmflow_run(_ptr: i32, _len: i32) -> i64 {
    pack(RESPONSE.as_ptr(), RESPONSE.len())
}
