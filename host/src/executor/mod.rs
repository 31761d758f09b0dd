//! Executors run one plugin call in a sandbox and hand back the raw response.
//!
//! The script engine decides *what* to call and what the answer means; an
//! executor only decides *where* it runs. Both executors must behave the same,
//! so everything about the ABI's meaning lives in [`crate::script`], not here.

pub mod in_process;
pub mod subprocess;

pub use in_process::{InProcess, InProcessConfig};
pub use subprocess::{Subprocess, SubprocessConfig};

use std::sync::Arc;

use crate::capability::{Check, Grants};
use crate::script::{Catalog, Limits, Plugin, ScriptError, TaskInfo};

/// The two places a plugin call can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// In this process ([`InProcess`]).
    InProcess,
    /// In a pool of worker processes ([`Subprocess`]).
    Subprocess,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::InProcess => "in-process",
            Kind::Subprocess => "subprocess",
        })
    }
}

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
    /// What `call_service` needs; `None` when the plugin may call no service.
    pub services: Option<Services<'a>>,
    /// How many `call_service` calls deep this call is (0 for a task's own call).
    /// Executors admit only depth-0 calls against their capacity: a nested call
    /// runs on what its outermost call reserved, so it never waits for a slot
    /// its own caller holds.
    pub depth: u32,
}

/// What a plugin's `call_service` needs to run a nested call: the catalog to
/// resolve the operation in, the task the outer call runs for, and the nesting depth.
#[derive(Debug, Clone, Copy)]
pub struct Services<'a> {
    /// Every plugin of the run, with grants and limits.
    pub catalog: &'a Arc<Catalog>,
    /// The task the outermost call runs for (nested requests carry it too).
    pub task: &'a TaskInfo,
    /// How many `call_service` calls deep this call is (0 for a task's own call).
    pub depth: u32,
}

/// What came back from a call that ran to its end.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The response bytes (not yet validated).
    pub response: Vec<u8>,
    /// What the plugin logged or printed (bounded).
    pub log: String,
    /// The capability checks made during the call (and its nested calls), in order.
    pub checks: Vec<Check>,
}

/// Runs plugin calls in a sandbox.
pub trait Executor: Send + Sync {
    /// Runs one call. Every failure names the plugin.
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError>;

    /// Loads and checks a plugin without running it (compiling and caching it
    /// on the way). Its pre-initialization, if it has one, runs under `limits`.
    fn prepare(&self, plugin: &Plugin, limits: Limits) -> Result<(), ScriptError>;
}
