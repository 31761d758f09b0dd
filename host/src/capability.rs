//! Capability grants: what a plugin may touch beyond its own memory.
//!
//! Everything is off unless granted. This release grants nothing: no
//! preopened directories, no environment variables, no arguments, no sockets.
//! Stdio is captured by the executor, and clocks and random are allowed
//! (they reveal nothing about the host that a plugin could misuse).

use serde::{Deserialize, Serialize};

/// What one plugin is allowed to reach. `Grants::default()` is nothing at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {}

impl Grants {
    /// No capabilities: the sandbox default.
    pub fn none() -> Self {
        Grants::default()
    }

    /// Applies the grants to a WASI context under construction.
    ///
    /// `WasiCtxBuilder::new()` starts with no preopens, no environment, no
    /// arguments and all socket addresses denied; this adds only what is granted.
    pub fn apply(&self, _builder: &mut wasmtime_wasi::WasiCtxBuilder) {}
}
