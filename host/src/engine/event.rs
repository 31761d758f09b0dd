//! Lifecycle events: what happened to an instance, for logs, histories and subscribers.

use serde::{Deserialize, Serialize};

use super::TaskId;

/// One thing that happened to an instance.
///
/// The engine buffers events as it runs; take them with
/// [`Workflow::take_events`](super::Workflow::take_events), e.g. after every
/// step in [`Workflow::run_observed`](super::Workflow::run_observed):
///
/// ```no_run
/// # fn demo(workflow: &mut wasmflow::engine::Workflow, scripts: &wasmflow::script::ScriptEngine) {
/// workflow.run_observed(scripts, |w| {
///     for event in w.take_events() {
///         println!("{}", serde_json::to_string(&event).unwrap());
///     }
///     Ok::<_, std::convert::Infallible>(())
/// }).unwrap();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The instance id.
    pub instance: String,
    /// When, in milliseconds since the Unix epoch.
    pub at: u64,
}

/// The kinds of lifecycle event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The instance was started.
    InstanceStarted {
        /// Its root process.
        process: String,
    },
    /// Its process ended.
    InstanceCompleted,
    /// An operator restarted it from a task (`wasmflow restart`): everything
    /// that was running was cancelled, and a new task of that element runs.
    InstanceRestarted {
        /// The task it was restarted from.
        from: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The new task that runs in its place.
        task: TaskId,
    },
    /// A plugin halted it.
    InstanceHalted {
        /// The halted task.
        task: TaskId,
        /// The plugin's message.
        message: String,
    },
    /// A task failed and stopped it.
    InstanceError {
        /// The failed task.
        task: TaskId,
        /// What happened.
        message: String,
    },
    /// A task completed.
    TaskCompleted {
        /// The task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
    },
    /// A conditional event's condition came to hold: it fired.
    ConditionMet {
        /// The task of the conditional event (its waiter).
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The condition.
        condition: String,
    },
    /// A compensation throw or end event, or a cancel end event, began
    /// compensating what its scope completed.
    CompensationThrown {
        /// The throwing event's task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The one activity it compensates (`activityRef`), if it names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activity: Option<String>,
        /// How many handlers run, one after the other.
        handlers: usize,
    },
    /// A compensation handler started, to undo a completed activity.
    CompensationStarted {
        /// The handler's task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The BPMN element id of the activity it undoes.
        activity: String,
        /// The task of that activity.
        compensated: TaskId,
        /// The task of the event that threw the compensation.
        thrown_by: TaskId,
    },
    /// A cancel end event cancelled its transaction, once compensated.
    TransactionCancelled {
        /// The transaction's task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The cancel end event's task.
        cancelled_by: TaskId,
    },
    /// A pass of a standard loop ended and the activity runs again.
    LoopPassed {
        /// The looping task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// How many passes it has completed.
        passes: u32,
    },
    /// A multi-instance activity made its instances (all, or the first of
    /// sequential ones).
    InstancesStarted {
        /// The activity's task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// How many instances it runs.
        instances: u32,
        /// One after the other.
        sequential: bool,
    },
    /// A multi-instance activity's instances all ended; it goes on.
    InstancesEnded {
        /// The activity's task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// How many completed.
        completed: u32,
        /// How many its completion condition cancelled.
        cancelled: u32,
    },
    /// A throw link sent its token to the catch link of its name.
    LinkFollowed {
        /// The throw link's task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The link's name.
        name: String,
        /// The catch link's element id.
        to: String,
    },
    /// A task was cancelled: interrupted by a caught BPMN error, or left
    /// behind when a terminate end event or an interrupting event subprocess
    /// ended its scope.
    TaskCancelled {
        /// The task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
    },
    /// A BPMN error was caught by a boundary event or an event subprocess.
    ErrorCaught {
        /// The task of the catching boundary event or event subprocess.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The error code (none for an error thrown without one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// The task that threw it.
        thrown_by: TaskId,
    },
    /// An escalation was caught by a boundary event or an event subprocess.
    EscalationCaught {
        /// The task of the catching boundary event or event subprocess.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The escalation code (none for an escalation thrown without one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// The task that threw it.
        thrown_by: TaskId,
        /// Whether the catch interrupted what threw it.
        interrupting: bool,
    },
    /// An escalation nothing caught: the thrower went on (BPMN: an
    /// escalation is not an error).
    EscalationUncaught {
        /// The task that threw it.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The escalation code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// What it carried.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
    /// A timer fell due and fired.
    TimerFired {
        /// The timer event's waiting task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// When it was due.
        due: jiff::Timestamp,
    },
    /// A message arrived at a waiting catch.
    MessageReceived {
        /// The catch's waiting task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The message name.
        name: String,
    },
    /// A signal reached a waiting catch.
    SignalReceived {
        /// The catch's waiting task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The signal name.
        name: String,
    },
    /// A throw broadcast a signal.
    SignalSent {
        /// The throwing task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The signal name.
        name: String,
        /// The catches in this instance it triggered.
        received_by: Vec<TaskId>,
    },
    /// A message this instance threw correlated with no catch waiting in
    /// any instance: it was dropped.
    MessageUndelivered {
        /// The message name.
        name: String,
        /// Its correlation values.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        correlation: std::collections::BTreeMap<String, String>,
    },
    /// A throw sent a message.
    MessageSent {
        /// The throwing task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// The message name.
        name: String,
        /// The catch in this instance that received it; none when it left
        /// the instance (to be delivered elsewhere).
        #[serde(skip_serializing_if = "Option::is_none")]
        received_by: Option<TaskId>,
    },
    /// A task failed.
    TaskError {
        /// The task.
        task: TaskId,
        /// Its BPMN element id.
        spec: String,
        /// What happened.
        message: String,
    },
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
