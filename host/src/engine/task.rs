//! Tasks: executions of spec nodes, and their states.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::bpmn::{FlowIdx, NodeIdx};

/// A task's id within its workflow instance (its index in creation order).
pub type TaskId = usize;

/// The life cycle of a task, in SpiffWorkflow's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Predicted but not reached (not used by this engine's token model).
    Future,
    /// Reached, but waiting for something else (a join for its other branches).
    Waiting,
    /// Can run now; user and manual tasks stay READY until completed from outside.
    Ready,
    /// Running: a subprocess or call activity whose inside has not finished.
    Started,
    /// Done.
    Completed,
    /// Failed; the instance stopped here.
    Error,
    /// Abandoned (a terminate end event ended its scope).
    Cancelled,
}

impl TaskState {
    /// Whether the task still holds a token (it can still move the process forward).
    pub fn is_active(self) -> bool {
        matches!(self, TaskState::Waiting | TaskState::Ready | TaskState::Started)
    }
}

/// One task of an instance.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// The scope (process, subprocess or call) it runs in.
    pub(crate) scope: usize,
    /// Its spec node in that scope's spec.
    pub(crate) node: NodeIdx,
    /// The flow it arrived by (none for start events).
    pub(crate) via: Option<FlowIdx>,
    /// Its state.
    pub state: TaskState,
    /// Its data while it holds a token; handed on to its successors when it
    /// completes (a completed task keeps none, which keeps long runs small).
    pub(crate) data: Option<Map<String, Value>>,
    /// The scope it opened (subprocesses and call activities).
    pub(crate) child: Option<usize>,
    /// What its plugin logged, if anything.
    pub log: String,
    /// Its branch: the outgoing-flow ordinals of the forks that led to it
    /// within its scope (empty on the scope's main path). Merges of several
    /// branches go in branch order, so they do not depend on which branch
    /// finished first when tasks run concurrently.
    pub(crate) branch: Vec<u32>,
}

/// A task as reported to users: `{"id", "spec", "name", "type", "state"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    /// The task id.
    pub id: TaskId,
    /// The BPMN element id.
    pub spec: String,
    /// The element's name.
    pub name: Option<String>,
    /// The BPMN element type (`scriptTask`, `exclusiveGateway`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its state.
    pub state: TaskState,
}
