//! The `wasmflow` host functions a plugin may import: `log`, `call_service`
//! and `http_request`.
//!
//! Each validates its input and bounds sizes; a misbehaving guest gets a JSON
//! error (or a note in its log), never a trap of the host's making.

use wasmtime::{Caller, Extern, Linker};

use super::sandbox::Sandbox;
use crate::call::{Nested, ServiceCall, request_too_large};
use crate::capability::net;

/// The host module name plugins import from.
pub(super) const HOST_MODULE: &str = "wasmflow";

pub(super) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    linker.func_wrap(HOST_MODULE, "log", log)?;
    linker.func_wrap(HOST_MODULE, "call_service", call_service)?;
    linker.func_wrap(HOST_MODULE, "http_request", http_request)?;
    Ok(())
}

/// `log(level, ptr, len)`: one message into the task's log. A bad pointer or
/// an oversized message is noted in the log rather than trapping.
fn log(mut caller: Caller<'_, Sandbox>, level: i32, ptr: i32, len: i32) {
    const MAX_MESSAGE: usize = 16 << 10;
    let level = match level {
        0 => "error",
        1 => "warn",
        2 => "info",
        _ => "debug",
    };
    let message = match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => {
            let data = memory.data(&caller);
            let (start, len) = (ptr as u32 as usize, len as u32 as usize);
            match data.get(start..start.saturating_add(len.min(MAX_MESSAGE))) {
                Some(bytes) if len <= MAX_MESSAGE => String::from_utf8_lossy(bytes).into_owned(),
                Some(bytes) => format!(
                    "{} [message cut at {MAX_MESSAGE} bytes]",
                    String::from_utf8_lossy(bytes)
                ),
                None => format!("[log call with an out-of-bounds message: ptr {start}, len {len}]"),
            }
        }
        _ => "[log call from a module that exports no memory]".to_string(),
    };
    caller.data().log.write(format!("[{level}] {message}\n").as_bytes());
}

/// `call_service(ptr, len) -> i64`: hands the request to the call's service
/// runner, which checks the grant and runs the service where its entry says.
fn call_service(mut caller: Caller<'_, Sandbox>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let request = match read_request(&mut caller, ptr, len, "call_service") {
        Ok(request) => request,
        Err(message) => return answer(&mut caller, &error_json(&message)),
    };
    let sandbox = caller.data();
    let nested = match &sandbox.services {
        Some(services) => services.runner.call_service(ServiceCall {
            caller: &sandbox.plugin,
            grants: &sandbox.grants,
            task: &services.task,
            depth: services.depth,
            deadline: sandbox.started + sandbox.limits.timeout,
            request: &request,
        }),
        None => Nested::error("call_service: this call has no service context"),
    };
    let sandbox = caller.data_mut();
    sandbox.log.write(nested.log.as_bytes());
    sandbox.checks.extend(nested.checks);
    answer(&mut caller, &nested.answer)
}

/// `http_request(ptr, len) -> i64`: one HTTP exchange, checked against `allow_net`.
fn http_request(mut caller: Caller<'_, Sandbox>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let request = match read_request(&mut caller, ptr, len, "http_request") {
        Ok(request) => request,
        Err(message) => return answer(&mut caller, &error_json(&message)),
    };
    let sandbox = caller.data_mut();
    let mut checks = Vec::new();
    // The exchange may use what is left of the call's time, no more.
    let left = sandbox.limits.timeout.saturating_sub(sandbox.started.elapsed());
    let response = net::http_request(
        &sandbox.plugin,
        &sandbox.grants,
        &request,
        left.max(std::time::Duration::from_millis(1)),
        sandbox.limits.response,
        &mut checks,
    );
    sandbox.checks.extend(checks);
    answer(&mut caller, &response)
}

/// Copies a request out of guest memory, if it is within the call's request limit.
fn read_request(caller: &mut Caller<'_, Sandbox>, ptr: i32, len: i32, what: &str) -> Result<Vec<u8>, String> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let limit = caller.data().limits.request;
    if len > limit {
        return Err(request_too_large(what, len, limit));
    }
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err("the module exports no memory".into());
    };
    memory
        .data(&*caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("the request at {start}..{} is outside the plugin's memory", start + len))
}

fn error_json(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"status": "error", "message": message, "denied": false}))
        .expect("JSON serializes")
}

/// Hands `bytes` to the guest in a buffer from its own `wasmflow_alloc`, and
/// returns `(ptr << 32) | len`, or -1 if the guest cannot take it.
fn answer(caller: &mut Caller<'_, Sandbox>, bytes: &[u8]) -> wasmtime::Result<i64> {
    let Some(Extern::Func(alloc)) = caller.get_export("wasmflow_alloc") else {
        return Ok(-1);
    };
    let Ok(alloc) = alloc.typed::<i32, i32>(&*caller) else {
        return Ok(-1);
    };
    let Ok(len) = i32::try_from(bytes.len()) else {
        return Ok(-1);
    };
    // A trap in the guest's allocator (or the deadline) propagates: the call is over.
    let ptr = alloc.call(&mut *caller, len)?;
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Ok(-1);
    };
    if ptr == 0 && len > 0 || memory.write(&mut *caller, ptr as u32 as usize, bytes).is_err() {
        return Ok(-1);
    }
    Ok(((ptr as u32 as u64) << 32 | len as u32 as u64) as i64)
}
