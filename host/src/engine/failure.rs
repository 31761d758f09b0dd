//! Why a task did not complete ([`Interrupt`]), and the failure it is
//! reported as in `"error"` when nothing catches it ([`TaskFailure`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catching::Thrown;
use super::{EventKind, Halt, Status, TaskId, TaskState, Workflow};
use crate::script::{Answer, FailureKind, Outcome, ScriptError};

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

/// Why a task did not complete: what the step loop handles instead of moving
/// the task's token on.
#[derive(Debug, Clone)]
pub(crate) enum Interrupt {
    /// An event was thrown, for the innermost catch that matches it.
    Throw(Thrown),
    /// A task's call escalated: thrown to the innermost catch, after which
    /// the task goes on unless an interrupting catch took over.
    Escalate(Thrown),
    /// A plugin halted the instance at the task, with this message.
    Halt(String),
    /// The task failed.
    Fail(Cause),
}

/// A task's failure, before the task's identity is attached.
#[derive(Debug, Clone)]
pub(crate) enum Cause {
    /// A plugin call failed.
    Script(ScriptError),
    /// The engine could not go on (no flow to take, an unknown called process, ...).
    Engine { reason: &'static str, message: String },
}

impl Interrupt {
    /// The same interruption, its message saying where it arose (`pre-script: ...`).
    pub(crate) fn within(mut self, context: &str) -> Self {
        let message = match &mut self {
            Interrupt::Throw(thrown) | Interrupt::Escalate(thrown) => &mut thrown.uncaught.message,
            Interrupt::Halt(message) => message,
            Interrupt::Fail(Cause::Script(error)) => &mut error.message,
            Interrupt::Fail(Cause::Engine { message, .. }) => message,
        };
        *message = format!("{context}: {message}");
        self
    }

    /// What it says, for a caller that reports it outside any task.
    pub(crate) fn message(&self) -> &str {
        match self {
            Interrupt::Throw(thrown) | Interrupt::Escalate(thrown) => &thrown.uncaught.message,
            Interrupt::Halt(message) => message,
            Interrupt::Fail(Cause::Script(error)) => &error.message,
            Interrupt::Fail(Cause::Engine { message, .. }) => message,
        }
    }

    /// The same interruption, reported at `line` of the file if it fails the task.
    pub(crate) fn at_line(mut self, line: u32) -> Self {
        match &mut self {
            Interrupt::Throw(thrown) | Interrupt::Escalate(thrown) => thrown.uncaught.line = Some(line),
            Interrupt::Fail(Cause::Script(error)) => error.line = Some(line),
            Interrupt::Halt(_) | Interrupt::Fail(Cause::Engine { .. }) => {}
        }
        self
    }
}

impl From<ScriptError> for Interrupt {
    fn from(error: ScriptError) -> Self {
        Interrupt::Fail(Cause::Script(error))
    }
}

/// A task's call's answer (a script or service task's): the value it is
/// done with, or the interruption a BPMN error, an escalation, a halt or a
/// failure is.
pub(crate) fn answered_by_task<T>(result: Result<Outcome<Answer<T>>, ScriptError>) -> Result<Outcome<T>, Interrupt> {
    match result {
        Ok(Outcome {
            value: Answer::Escalation(escalation),
            log,
        }) => Err(Interrupt::Escalate(Thrown::by_plugin_escalation(escalation, log))),
        other => answered(other),
    }
}

/// A call's answer: the value it is done with, or the interruption a BPMN
/// error, a halt or a failure is. Only a task's own call may escalate (see
/// [`answered_by_task`]): an expression or a pre- or post-script that does
/// fails, saying so.
pub(crate) fn answered<T>(result: Result<Outcome<Answer<T>>, ScriptError>) -> Result<Outcome<T>, Interrupt> {
    let Outcome { value, log } = result?;
    match value {
        Answer::Done(value) => Ok(Outcome { value, log }),
        Answer::BpmnError(error) => Err(Interrupt::Throw(Thrown::by_plugin(error, log))),
        Answer::Escalation(escalation) => Err(Interrupt::Fail(Cause::Script(
            ScriptError::new(
                &escalation.plugin,
                FailureKind::InvalidResponse,
                format!(
                    "the call answered escalation `{}`: only a script or service task's own call may escalate, \
                     not an expression or a pre- or post-script",
                    escalation.code
                ),
            )
            .with_log(log),
        ))),
        // What a halting call logged is not kept: the task runs again on resume.
        Answer::Halt(message) => Err(Interrupt::Halt(message)),
    }
}

impl Workflow {
    /// Stops the instance at task `id` for an interruption nothing caught: a
    /// halt makes the task wait and the instance halted; anything else puts
    /// the task in ERROR and the instance with it.
    pub(super) fn stop(&mut self, id: TaskId, interrupt: Interrupt) {
        let cause = match interrupt {
            Interrupt::Halt(message) => return self.halt_at(id, message),
            Interrupt::Throw(thrown) | Interrupt::Escalate(thrown) => Err(thrown),
            Interrupt::Fail(cause) => Ok(cause),
        };
        self.task_mut(id).state = TaskState::Error;
        let node = self.node(id);
        let scope = &self.scopes[self.tasks[id].scope];
        let location = format!("{}:{}", scope.spec.file.display(), node.position);
        let mut failure = TaskFailure {
            task: id,
            spec: node.id.clone(),
            name: node.name.clone(),
            kind: node.kind.element_name().to_string(),
            process: scope.process.clone(),
            location,
            plugin: None,
            reason: String::new(),
            message: String::new(),
            line: None,
            code: None,
            error_name: None,
            payload: None,
            log: String::new(),
        };
        match cause {
            Ok(Cause::Script(error)) => {
                failure.reason = serde_json::to_value(error.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                failure.plugin = Some(error.plugin);
                failure.message = error.message;
                failure.line = error.line;
                failure.log = error.log;
            }
            Ok(Cause::Engine { reason, message }) => {
                failure.reason = reason.to_string();
                failure.message = message;
            }
            Err(Thrown {
                code,
                name,
                payload,
                uncaught,
                ..
            }) => {
                failure.reason = "bpmn_error".to_string();
                failure.plugin = uncaught.plugin;
                failure.message = uncaught.message;
                failure.line = uncaught.line;
                failure.log = uncaught.log;
                failure.code = code;
                failure.error_name = name;
                failure.payload = payload;
            }
        }
        self.emit(EventKind::TaskError {
            task: id,
            spec: failure.spec.clone(),
            message: failure.message.clone(),
        });
        self.emit(EventKind::InstanceError {
            task: id,
            message: failure.message.clone(),
        });
        self.error = Some(failure);
        self.status = Status::Error;
    }

    /// A plugin halted the instance at task `id`: the task waits for an operator.
    fn halt_at(&mut self, id: TaskId, message: String) {
        self.task_mut(id).state = TaskState::Waiting;
        self.halt = Some(Halt {
            task: id,
            spec: self.node(id).id.clone(),
            message: message.clone(),
        });
        self.status = Status::Halted;
        self.emit(EventKind::InstanceHalted { task: id, message });
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
