//! WASI's `poll_oneoff` (sleeping, waiting on clocks and streams), bounded by
//! the call's deadline.
//!
//! The deadline is enforced by epoch interruption, which stops wasm code. A
//! plugin blocked in the host (asleep in `poll_oneoff`) runs no wasm code, so
//! without this it could hold its thread for as long as it asked to sleep.

use std::time::Duration;

use wasmtime::{Caller, Extern, Linker, Trap};
use wasmtime_wasi::p1::types;
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;

use super::sandbox::Sandbox;

/// Replaces WASI's `poll_oneoff` with one that gives up at the call's deadline.
pub(super) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap("wasi_snapshot_preview1", "poll_oneoff", poll_oneoff)?;
    linker.allow_shadowing(false);
    Ok(())
}

fn poll_oneoff(
    mut caller: Caller<'_, Sandbox>,
    subscriptions: i32,
    events: i32,
    count: i32,
    written: i32,
) -> wasmtime::Result<i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Ok(types::Errno::Inval as i32);
    };
    let left = {
        let sandbox = caller.data();
        sandbox.limits.timeout.saturating_sub(sandbox.started.elapsed())
    };
    // As WASI's own glue does: the fuel bounds how much guest memory one call may read.
    let fuel = wasmtime::AsContextMut::as_context_mut(&mut caller).hostcall_fuel();
    let (data, sandbox) = memory.data_and_store_mut(&mut caller);
    sandbox.wasi.set_hostcall_fuel(fuel);
    let mut guest = wiggle::GuestMemory::Unshared(data);
    let waited = wasmtime_wasi::runtime::in_tokio(async {
        // A little past the deadline, so that the epoch trap (which names the
        // limit) normally fires first when the plugin resumes.
        tokio::time::timeout(
            left + Duration::from_millis(5),
            sandbox.wasi.poll_oneoff(
                &mut guest,
                wiggle::GuestPtr::new(subscriptions as u32),
                wiggle::GuestPtr::new(events as u32),
                count as u32,
            ),
        )
        .await
    });
    let result = match waited {
        Ok(result) => result,
        // Out of time while blocked: the same trap as running out of time in wasm.
        Err(_) => return Err(Trap::Interrupt.into()),
    };
    match result {
        Ok(n) => {
            let start = written as u32 as usize;
            match memory.data_mut(&mut caller).get_mut(start..start.saturating_add(4)) {
                Some(slot) => slot.copy_from_slice(&n.to_le_bytes()),
                None => return Ok(types::Errno::Fault as i32),
            }
            Ok(0)
        }
        Err(error) => Ok(error.downcast()? as i32),
    }
}
