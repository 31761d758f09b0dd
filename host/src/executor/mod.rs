//! Executors run one plugin call in a sandbox and hand back the raw response.
//!
//! The script engine decides *what* to call and what the answer means; an
//! executor only decides *where* it runs. Both executors must behave the same,
//! so everything about the ABI's meaning lives in [`crate::script`], not here.

pub mod in_process;
pub mod subprocess;

pub use in_process::{InProcess, InProcessConfig};
pub use subprocess::{Subprocess, SubprocessConfig};

pub use crate::call::{Call, ExecutorKind as Kind, Reply, Services};

use crate::call::ScriptError;
use crate::call::{Limits, Plugin};

/// Runs plugin calls in a sandbox.
pub trait Executor: Send + Sync {
    /// Runs one call. Every failure names the plugin.
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError>;

    /// Loads and checks a plugin without running it (compiling and caching it
    /// on the way). Its pre-initialization, if it has one, runs under `limits`.
    fn prepare(&self, plugin: &Plugin, limits: Limits) -> Result<(), ScriptError>;
}
