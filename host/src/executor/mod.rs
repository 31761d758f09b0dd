//! Executors run one plugin call in a sandbox and hand back the raw response.
//!
//! The script engine decides *what* to call and what the answer means; an
//! executor only decides *where* it runs. Both executors must behave the same,
//! so everything about the ABI's meaning lives in [`crate::script`], not here.

pub mod in_process;
pub mod subprocess;

pub use in_process::{InProcess, InProcessConfig};
pub use subprocess::{Subprocess, SubprocessConfig};

use crate::capability::Grants;
use crate::script::{Limits, Plugin, ScriptError};

/// One plugin call: which plugin, the request bytes, and the rules it runs under.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The plugin to run.
    pub plugin: &'a Plugin,
    /// The request JSON.
    pub request: &'a [u8],
    /// Memory, time and response limits.
    pub limits: Limits,
    /// What the plugin may reach.
    pub grants: &'a Grants,
}

/// What came back from a call that ran to its end.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The response bytes (not yet validated).
    pub response: Vec<u8>,
    /// What the plugin logged or printed (bounded).
    pub log: String,
}

/// Runs plugin calls in a sandbox.
pub trait Executor: Send + Sync {
    /// Runs one call. Every failure names the plugin.
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError>;

    /// Loads and checks a plugin without running it (compiling and caching it on the way).
    fn prepare(&self, plugin: &Plugin) -> Result<(), ScriptError>;
}
