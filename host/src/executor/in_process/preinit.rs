//! Pre-initialization: run a module's `wizer-initialize` once and snapshot the
//! result, so every fresh instance starts warm.
//!
//! The built-in interpreter spends ~36 million instructions on one-time setup
//! in its first call; a fresh instance per call would pay that every time.
//! Any plugin may export `wizer-initialize` (a `[] -> []` function) to get the
//! same treatment. Whatever it leaves in memory is in every instance, so it
//! must warm up without leaving user-visible state.

use wasmtime::{Instance, Store, TypedFunc};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// The export that marks a module as pre-initializable.
pub(super) const INIT_EXPORT: &str = "wizer-initialize";

/// Instruments `wasm`, lets `instantiate` create an instance of the
/// instrumented module, calls its init function, and returns the snapshot.
pub(super) fn preinitialize<T: Send + 'static>(
    store: &mut Store<T>,
    wasm: &[u8],
    instantiate: impl FnOnce(&mut Store<T>, &[u8]) -> wasmtime::Result<Instance>,
) -> wasmtime::Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_EXPORT);
    let (context, instrumented) = wizer.instrument(wasm)?;
    let instance = instantiate(store, &instrumented)?;
    // A WASI reactor's start-up comes first, as at every instantiation; the
    // snapshot has run it and no longer exports it.
    if let Some(initialize) = reactor_start(&mut *store, &instance) {
        initialize.call(&mut *store, ())?;
    }
    let init = instance.get_typed_func::<(), ()>(&mut *store, INIT_EXPORT)?;
    init.call(&mut *store, ())?;
    // Our state reader answers at once, so the future completes on its first poll.
    pollster::block_on(wizer.snapshot(&context, &mut Snapshot { store, instance }))
}

/// The export a WASI reactor runs its start-up (static constructors) in,
/// which must run once before any other export.
pub(super) const REACTOR_START: &str = "_initialize";

/// An instance's reactor start-up function, if it has one.
pub(super) fn reactor_start<T>(store: &mut Store<T>, instance: &Instance) -> Option<TypedFunc<(), ()>> {
    instance.get_typed_func::<(), ()>(store, REACTOR_START).ok()
}

/// Reads globals and memory out of the initialized instance for the snapshot.
struct Snapshot<'a, T: 'static> {
    store: &'a mut Store<T>,
    instance: Instance,
}

impl<T: Send> InstanceState for Snapshot<'_, T> {
    async fn global_get(&mut self, name: &str, _type_hint: ValType) -> SnapshotVal {
        let global = self
            .instance
            .get_global(&mut *self.store, name)
            .expect("wizer names only exported globals");
        match global.get(&mut *self.store) {
            wasmtime::Val::I32(x) => SnapshotVal::I32(x),
            wasmtime::Val::I64(x) => SnapshotVal::I64(x),
            wasmtime::Val::F32(x) => SnapshotVal::F32(x),
            wasmtime::Val::F64(x) => SnapshotVal::F64(x),
            wasmtime::Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!("global `{name}` holds a reference ({other:?}), which cannot be snapshotted"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self
            .instance
            .get_memory(&mut *self.store, name)
            .expect("wizer names only exported memories");
        contents(memory.data(&*self.store))
    }
}
