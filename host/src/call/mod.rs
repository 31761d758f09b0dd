//! What a plugin call is: the vocabulary the script engine, the executors and
//! the capability checks share, so that none of them imports another for it.
//!
//! A [`Call`] names a [`Plugin`], its request bytes, the [`Limits`] and grants
//! it runs under and, when it may call services, the [`Services`] its
//! `call_service` requests go to; a [`Reply`] is what came back. The script
//! engine decides what a call means and which [`ExecutorKind`] runs it; an
//! executor runs it. A nested `call_service` goes back to the script engine
//! through the [`ServiceRunner`] trait, so the engine routes every call,
//! nested or not, by the callee's entry.

mod error;
mod kind;
mod limits;
mod plugin;
mod task;
mod text;

use std::sync::Arc;
use std::time::Instant;

pub use error::{FailureKind, ScriptError};
pub use kind::ExecutorKind;
pub use limits::{Limits, MAX_SIZE, MAX_TIMEOUT, MIN_TIMEOUT, parse_duration, parse_size};
pub use plugin::{PYTHON, Plugin, PluginSource};
pub use task::TaskInfo;
pub use text::escape_controls;

use crate::capability::{Check, Grants};

/// How deep services may call services (a service that calls itself stops here).
pub const MAX_DEPTH: u32 = 8;

/// One plugin call: which plugin, the request bytes, and the rules it runs under.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The plugin to run.
    pub plugin: &'a Plugin,
    /// The request JSON.
    pub request: &'a [u8],
    /// Memory, time, request and response limits.
    pub limits: Limits,
    /// What the plugin may reach.
    pub grants: &'a Grants,
    /// Where its `call_service` requests go; `None` when the plugin may call no service.
    pub services: Option<Services<'a>>,
    /// How many `call_service` calls deep this call is (0 for a task's own call).
    pub depth: u32,
    /// Whether this call runs on what its caller already holds on this executor:
    /// a nested call on the executor its caller runs on. Such a call never
    /// waits for admission (it would wait for room its own caller holds); any
    /// other call, a task's own or a nested call coming from another
    /// executor, is an outermost call here and is admitted against capacity.
    pub admitted: bool,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("plugin", &self.plugin.name)
            .field("request_bytes", &self.request.len())
            .field("limits", &self.limits)
            .field("services", &self.services.is_some())
            .field("depth", &self.depth)
            .field("admitted", &self.admitted)
            .finish()
    }
}

/// Where a plugin's `call_service` requests go, and for which task.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    /// Runs each request (the script engine: it checks the grant and routes
    /// the callee to the executor its entry names).
    pub runner: &'a Arc<dyn ServiceRunner>,
    /// The task the outermost call runs for (nested requests carry it too).
    pub task: &'a TaskInfo,
    /// How many `call_service` calls deep the calling plugin is.
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

/// One `call_service` request from a running plugin.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCall<'a> {
    /// The calling plugin's name.
    pub caller: &'a str,
    /// The calling plugin's grants (its `allow_services` decide).
    pub grants: &'a Grants,
    /// The task the outermost call runs for.
    pub task: &'a TaskInfo,
    /// The calling plugin's depth (0 for a task's own call).
    pub depth: u32,
    /// When the calling plugin's own limit runs out: the nested call gets only
    /// what remains, so nesting cannot stretch a task's time limit.
    pub deadline: Instant,
    /// The request: `{"operation": "...", "params": {...}}`.
    pub request: &'a [u8],
}

/// Runs the services plugins call. The script engine implements it; executors
/// hand every `call_service` request of a plugin to the runner of its [`Call`].
pub trait ServiceRunner: Send + Sync {
    /// Runs one `call_service` request; every refusal and failure is in the answer.
    fn call_service(&self, call: ServiceCall<'_>) -> Nested;
}

/// What a nested call hands back to the calling plugin and to the host.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Nested {
    /// The JSON answer for the calling plugin: an ABI response
    /// (`ok`/`bpmn_error`/`error`/`halt`), with `"denied": true` on a refusal.
    pub answer: Vec<u8>,
    /// The called plugin's log, prefixed with the service name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// The checks made: this call's own, then the called plugin's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

impl Nested {
    /// A refusal that made no check: `{"status": "error", "message": ..., "denied": false}`.
    pub fn error(message: &str) -> Nested {
        Nested {
            answer: serde_json::to_vec(&serde_json::json!({"status": "error", "message": message, "denied": false}))
                .expect("JSON serializes"),
            ..Nested::default()
        }
    }
}

/// The refusal of a request larger than [`Limits::request`], naming the limit.
pub fn request_too_large(what: &str, size: usize, limit: usize) -> String {
    format!(
        "{what}: the request is {size} bytes; the request limit is {limit} bytes (raise it with --max-request, \
         or `limits = {{ request = \"...\" }}` in the manifest)"
    )
}
