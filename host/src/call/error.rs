//! How a plugin call fails, in terms a user can act on.
//!
//! A BPMN error or a halt is not a failure but an answer
//! ([`Answer`](crate::script::Answer)): the engine decides what it means.

use serde::{Deserialize, Serialize};

/// The kinds of failure a plugin call can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No plugin of that name in the plugin directory.
    NotFound,
    /// The module could not be read, compiled or linked.
    Load,
    /// The module speaks neither ABI carrier.
    NoAbi,
    /// The guest trapped (a panic, `unreachable`, a stack overflow, an out-of-bounds access).
    Trap,
    /// The call ran past its wall-clock limit.
    Deadline,
    /// The guest tried to grow its memory past the limit.
    MemoryLimit,
    /// The response was larger than the limit.
    ResponseTooLarge,
    /// The response was not JSON or not a response shape.
    InvalidResponse,
    /// The response's `status` is not one the ABI defines.
    WrongStatus,
    /// The plugin answered `status: error`.
    PluginError,
    /// The worker process running the call (subprocess executor) died, hung or broke the protocol.
    Worker,
}

impl FailureKind {
    /// A short phrase for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FailureKind::NotFound => "plugin not found",
            FailureKind::Load => "plugin could not be loaded",
            FailureKind::NoAbi => "not a wasmflow plugin",
            FailureKind::Trap => "plugin trapped",
            FailureKind::Deadline => "deadline exceeded",
            FailureKind::MemoryLimit => "memory limit exceeded",
            FailureKind::ResponseTooLarge => "response too large",
            FailureKind::InvalidResponse => "invalid response",
            FailureKind::WrongStatus => "unknown response status",
            FailureKind::PluginError => "script failed",
            FailureKind::Worker => "worker process failed",
        }
    }
}

/// A failed plugin call: which plugin, what happened, and what it logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{plugin}: {}: {message}", kind.describe())]
pub struct ScriptError {
    /// The plugin's name (`python` for inline scripts and expressions).
    pub plugin: String,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The details, e.g. the trap message with the wasm backtrace.
    pub message: String,
    /// The script line, when the plugin reported one (inline scripts: the line in the BPMN file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What the plugin printed or logged before failing (bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// The capability checks made before the failure (the script engine
    /// records them and takes them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::capability::Check>,
}

impl ScriptError {
    /// A failure with no line or log.
    pub fn new(plugin: impl Into<String>, kind: FailureKind, message: impl Into<String>) -> Self {
        ScriptError {
            plugin: plugin.into(),
            kind,
            message: message.into(),
            line: None,
            log: String::new(),
            checks: Vec::new(),
        }
    }

    /// The same failure with the checks made before it.
    pub fn with_checks(mut self, checks: Vec<crate::capability::Check>) -> Self {
        self.checks = checks;
        self
    }

    /// The same failure with the plugin's log attached.
    pub fn with_log(mut self, log: String) -> Self {
        self.log = log;
        self
    }
}
