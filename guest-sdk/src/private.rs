//! What the [`export!`](crate::export) macro expands to call. Not a public API.
//!
//! The exports-carrier contract (DESIGN.md, guest ABI version 1):
//! 0. the host calls `_initialize` once, if the module exports it (WASI reactors);
//! 1. the host calls `wasmflow_alloc(len)` and writes the request's `len` bytes at the returned
//!    pointer;
//! 2. it calls `wasmflow_run(ptr, len)` with that pointer and length; the plugin takes the buffer
//!    back (and frees it), answers, and returns `(response_ptr << 32) | response_len`;
//! 3. the response bytes stay valid until the next `wasmflow_run` in the same instance.

use crate::plugin::Plugin;

/// Allocate a zeroed buffer of `len` bytes for the host to write a request into; ownership
/// passes to [`run_buffer`]. A zero length gives a dangling (non-null) pointer.
pub fn alloc_buffer(len: usize) -> *mut u8 {
    let buf: Box<[u8]> = vec![0u8; len].into_boxed_slice();
    Box::into_raw(buf) as *mut u8
}

/// Answer the request in a buffer from [`alloc_buffer`], freeing the buffer.
///
/// # Safety
/// `ptr` must come from `alloc_buffer(len)` with the same `len` and not have been passed here
/// before (or be null, or `len` be 0, which reads as an empty request).
pub unsafe fn run_buffer(ptr: *mut u8, len: usize, plugin: Plugin) -> Vec<u8> {
    let request: Box<[u8]> = if ptr.is_null() || len == 0 {
        Box::default()
    } else {
        // SAFETY: the caller hands back a buffer alloc_buffer made with this length.
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }
    };
    let response = plugin.handle(&request);
    drop(request);
    response.to_json_bytes()
}

/// Body of the exported `_initialize`: the module's static constructors, as
/// the C runtime's reactor start-up runs them.
#[cfg(target_arch = "wasm32")]
pub fn initialize() {
    unsafe extern "C" {
        // Synthesized by the linker; referring to it here is what tells the
        // linker that the module runs its constructors itself.
        fn __wasm_call_ctors();
    }
    // SAFETY: called once per instance, first, as the WASI reactor ABI says.
    unsafe { __wasm_call_ctors() }
}

/// Body of the exported `wasmflow_alloc`: a negative length gets a null pointer.
#[cfg(target_arch = "wasm32")]
pub fn alloc(len: i32) -> i32 {
    match usize::try_from(len) {
        Ok(len) => alloc_buffer(len) as usize as i32,
        Err(_) => 0,
    }
}

/// Body of the exported `wasmflow_run`.
///
/// # Safety
/// As [`run_buffer`]: `ptr` and `len` come from one `wasmflow_alloc(len)` call.
#[cfg(target_arch = "wasm32")]
pub unsafe fn run(ptr: i32, len: i32, plugin: Plugin) -> i64 {
    let len = usize::try_from(len).unwrap_or(0);
    let ptr = ptr as u32 as usize as *mut u8;
    // SAFETY: forwarded contract.
    let bytes = unsafe { run_buffer(ptr, len, plugin) };
    // The last response, kept alive for the host to read (replaced by the next call).
    static RESPONSE: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
    let mut slot = RESPONSE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = bytes;
    pack(slot.as_ptr() as usize, slot.len())
}

/// `(ptr << 32) | len`, both as unsigned 32-bit numbers.
#[cfg(target_arch = "wasm32")]
fn pack(ptr: usize, len: usize) -> i64 {
    (((ptr as u32 as u64) << 32) | (len as u32 as u64)) as i64
}
