//! Why a task failed, as reported in `"error"`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::task::TaskId;
use crate::script::{FailureKind, ScriptError};

/// A task's failure: which task, which plugin, what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The failed task's id.
    pub task: TaskId,
    /// Its BPMN element id.
    pub spec: String,
    /// The element's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The BPMN element type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The process the element belongs to.
    pub process: String,
    /// The file that defines it, with the element's line.
    pub location: String,
    /// The plugin involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// A stable word for the kind of failure (`trap`, `deadline`, `no_way_out`, ...).
    pub reason: String,
    /// What happened.
    pub message: String,
    /// The line in the BPMN file (inline scripts) or reported by the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The BPMN error code of an uncaught BPMN error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The BPMN error's name (the plugin's `name`, or the `bpmn:error`'s
    /// `name` for an error end event) of an uncaught BPMN error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// The BPMN error payload of an uncaught BPMN error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// What the plugin logged before failing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
}

/// A failure found while running a task, before the task's identity is attached.
#[derive(Debug, Clone)]
pub(crate) enum Cause {
    /// A plugin call failed (a `bpmn_error` answer is a BPMN error to catch).
    Script(ScriptError),
    /// The engine could not go on (no flow to take, an unknown called process, ...).
    Engine { reason: &'static str, message: String },
    /// An error end event threw a BPMN error.
    Thrown(Thrown),
}

/// A BPMN error on its way to a catch event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Thrown {
    /// The error code; `None` is caught only by catch-all events.
    pub(crate) code: Option<String>,
    /// The error's name.
    pub(crate) name: Option<String>,
    /// What the catching path receives.
    pub(crate) payload: Option<Value>,
}

impl Cause {
    /// The BPMN error this failure throws, if it is one.
    pub(crate) fn thrown(&self) -> Option<Thrown> {
        match self {
            Cause::Script(error) if error.kind == FailureKind::BpmnError => Some(Thrown {
                code: error.code.clone(),
                name: error.error_name.clone(),
                payload: error.payload.clone(),
            }),
            Cause::Thrown(thrown) => Some(thrown.clone()),
            _ => None,
        }
    }
}

impl From<ScriptError> for Cause {
    fn from(error: ScriptError) -> Self {
        Cause::Script(error)
    }
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} `{}`", self.location, self.kind, self.spec)?;
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        write!(f, " failed")?;
        if let Some(plugin) = &self.plugin {
            write!(f, " in plugin `{plugin}`")?;
        }
        if let Some(line) = self.line {
            write!(f, " at line {line}")?;
        }
        write!(f, ": {}", self.message)
    }
}
