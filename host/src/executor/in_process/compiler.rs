//! The engine settings that shape compiled code, in one place for the
//! executor and for the build script, which compiles the built-in
//! interpreter ahead of time (`host/build.rs` includes this file).
//!
//! A compiled module loads only into an engine with the same compiler flags,
//! CPU features, tunables and wasm features (wasmtime checks them when it
//! deserializes), so both sides start from [`config`]. Settings that do not
//! reach the code, like the instance pool, are added by the executor alone.

use wasmtime::Config;

/// The most native stack one store's wasm may use (wasmtime's default, made
/// explicit because the executor's host stack reserve depends on it).
pub(super) const WASM_STACK: usize = 512 << 10;

/// The configuration every compiled module is made for.
pub(super) fn config() -> Config {
    let mut config = Config::new();
    // Deadlines interrupt wasm through epoch checks compiled into its code.
    config.epoch_interruption(true).max_wasm_stack(WASM_STACK);
    config
}
