//! Calls from a plugin to the host that answer with JSON (`call_service`,
//! `http_request`).
//!
//! Contract (both functions, module `wasmflow`): the plugin passes a JSON
//! request as `(ptr, len)`; the host answers with JSON it writes into a buffer
//! it obtains from the plugin's own `wasmflow_alloc`, and returns
//! `(ptr << 32) | len`, or `-1` if it could not deliver an answer at all
//! (the plugin exports no `wasmflow_alloc`, or the allocation failed). The
//! buffer then belongs to the plugin, which frees it here.

use serde_json::Value;

use crate::error::{Error, Result};

/// Which host function to call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HostFn {
    /// `wasmflow.call_service`.
    CallService,
    /// `wasmflow.http_request`.
    HttpRequest,
}

impl HostFn {
    fn name(self) -> &'static str {
        match self {
            HostFn::CallService => "call_service",
            HostFn::HttpRequest => "http_request",
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod sys {
    #[link(wasm_import_module = "wasmflow")]
    unsafe extern "C" {
        pub fn call_service(ptr: i32, len: i32) -> i64;
        pub fn http_request(ptr: i32, len: i32) -> i64;
    }
}

/// Sends `request` to a host function and parses its JSON answer.
pub(crate) fn exchange(function: HostFn, request: &Value) -> Result<Value> {
    let bytes = serde_json::to_vec(request).map_err(Error::msg)?;
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: the host reads `len` bytes at `ptr` during the call; the vector outlives it.
        let packed = unsafe {
            let (ptr, len) = (bytes.as_ptr() as usize as i32, bytes.len() as i32);
            match function {
                HostFn::CallService => sys::call_service(ptr, len),
                HostFn::HttpRequest => sys::http_request(ptr, len),
            }
        };
        if packed < 0 {
            return Err(Error::msg(format!(
                "the host could not deliver the answer of `{}`",
                function.name()
            )));
        }
        let (ptr, len) = ((packed as u64 >> 32) as usize, (packed as u64 & 0xffff_ffff) as usize);
        let answer: Box<[u8]> = if len == 0 {
            Box::default()
        } else {
            // SAFETY: the host wrote `len` bytes into a buffer our `wasmflow_alloc(len)` made
            // (`alloc_buffer`, a boxed slice of exactly that length) and hands it over.
            unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr as *mut u8, len)) }
        };
        serde_json::from_slice(&answer)
            .map_err(|e| Error::msg(format!("the host's answer to `{}` is not JSON: {e}", function.name())))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        native::answer(function, &bytes)
    }
}

/// Outside the sandbox (native unit tests) there is no host: tests install a
/// stand-in with [`crate::testing`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod native {
    use std::cell::RefCell;

    use super::*;

    type Handler = Box<dyn Fn(&Value) -> Value>;

    thread_local! {
        pub(crate) static SERVICE: RefCell<Option<Handler>> = RefCell::new(None);
        pub(crate) static HTTP: RefCell<Option<Handler>> = RefCell::new(None);
    }

    pub(super) fn answer(function: HostFn, bytes: &[u8]) -> Result<Value> {
        let request: Value = serde_json::from_slice(bytes).map_err(Error::msg)?;
        let slot = match function {
            HostFn::CallService => &SERVICE,
            HostFn::HttpRequest => &HTTP,
        };
        slot.with(|handler| match &*handler.borrow() {
            Some(handler) => Ok(handler(&request)),
            None => Err(Error::msg(format!(
                "`{}` needs the wasmflow host (natively, install a stand-in with wasmflow_guest::testing)",
                function.name()
            ))),
        })
    }
}
