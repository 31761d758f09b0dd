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

/// What an abstract task (a plain `bpmn:task`) does when reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbstractTasks {
    /// It completes at once (BPMN 2.0, Camunda and Zeebe).
    #[default]
    Pass,
    /// It waits to be completed from outside, as a manual task does (SpiffWorkflow).
    Wait,
}

impl std::str::FromStr for AbstractTasks {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "pass" => Ok(AbstractTasks::Pass),
            "wait" => Ok(AbstractTasks::Wait),
            other => Err(format!(
                "`{other}` is not a way for abstract tasks to run: `pass` (complete at once) or `wait` (wait to \
                 be completed, as SpiffWorkflow does)"
            )),
        }
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
    /// What it completed with, kept while it may still be compensated (see `compensation`).
    pub(crate) compensable: Option<Box<super::Completion>>,
    /// The passes of its standard loop it has completed (see `loops`).
    pub(crate) passes: u32,
    /// Its index among the instances of a multi-instance activity (see `multi`).
    pub(crate) index: u32,
    /// Where the instances of a multi-instance activity stand, while they run.
    pub(crate) fanout: Option<Box<super::Fanout>>,
}

impl Task {
    /// A task reached (or about to be) at `node` of `scope`, by `via`.
    pub(super) fn new(
        id: TaskId,
        scope: usize,
        node: NodeIdx,
        via: Option<FlowIdx>,
        state: TaskState,
        data: Option<Map<String, Value>>,
        branch: Vec<u32>,
    ) -> Task {
        Task {
            id,
            scope,
            node,
            via,
            state,
            data,
            child: None,
            log: String::new(),
            branch,
            compensable: None,
            passes: 0,
            index: 0,
            fanout: None,
        }
    }
}

/// A task as reported to users: `{"id", "spec", "name", "type", "state"}`,
/// and `"instance"` for an instance of a multi-instance activity.
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
    /// For an instance of a multi-instance activity, its index (its `loopCounter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
}

/// An instance's tasks, by id, in chunks of [`TaskList::CHUNK`]: a long run
/// has hundreds of thousands of tasks, and growing one array would copy it,
/// holding the old and the new array at once.
#[derive(Debug, Clone, Default)]
pub(super) struct TaskList {
    /// Every chunk but the last is full.
    chunks: Vec<Vec<Task>>,
}

impl TaskList {
    const CHUNK: usize = 1024;

    pub(super) fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * Self::CHUNK + last.len())
    }

    /// Adds the task with id `self.len()`. A chunk is allocated whole: its
    /// pages cost memory only once tasks fill them, and it never moves.
    pub(super) fn push(&mut self, task: Task) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < Self::CHUNK => last.push(task),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(task);
                self.chunks.push(chunk);
            }
        }
    }

    pub(super) fn get(&self, id: TaskId) -> Option<&Task> {
        self.chunks.get(id / Self::CHUNK)?.get(id % Self::CHUNK)
    }

    /// The tasks in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Task> {
        self.chunks.iter().flatten()
    }
}

impl std::ops::Index<TaskId> for TaskList {
    type Output = Task;

    fn index(&self, id: TaskId) -> &Task {
        &self.chunks[id / Self::CHUNK][id % Self::CHUNK]
    }
}

impl std::ops::IndexMut<TaskId> for TaskList {
    fn index_mut(&mut self, id: TaskId) -> &mut Task {
        &mut self.chunks[id / Self::CHUNK][id % Self::CHUNK]
    }
}

impl FromIterator<Task> for TaskList {
    fn from_iter<I: IntoIterator<Item = Task>>(tasks: I) -> Self {
        let mut list = TaskList::default();
        for task in tasks {
            list.push(task);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: TaskId) -> Task {
        Task::new(id, 0, id, None, TaskState::Ready, None, Vec::new())
    }

    #[test]
    fn task_list_across_chunks() {
        let n = 2 * TaskList::CHUNK + 5;
        let mut list: TaskList = (0..n).map(task).collect();
        assert_eq!(list.len(), n);
        list[TaskList::CHUNK].state = TaskState::Completed;
        assert_eq!(list.get(TaskList::CHUNK).map(|t| t.state), Some(TaskState::Completed));
        assert_eq!(list[n - 1].node, n - 1);
        assert!(list.get(n).is_none());
        assert!(list.iter().map(|t| t.id).eq(0..n));
        list.push(task(n));
        assert_eq!((list.len(), list[n].id), (n + 1, n));
    }
}
