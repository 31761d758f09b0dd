//! Script and service tasks' plugin work, owned so that it can run on another
//! thread: the step loop hands a [`Job`] out and takes its [`Done`] back.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::failure::{Interrupt, answered, answered_by_task};
use super::hooks::{Hook, run_hook};
use super::{TaskId, TaskState, Workflow};
use crate::bpmn::{NodeIdx, NodeKind, NodeSpec, ProcessSpec, ServiceCall};
use crate::script::{ScriptEngine, TaskInfo};

/// Script and service tasks: their work is plugin calls, which may run on the pool.
pub(super) fn is_call(node: &NodeSpec) -> bool {
    matches!(node.kind, NodeKind::ScriptTask(_) | NodeKind::ServiceTask(_))
}

/// A script or service task's plugin work.
pub(super) struct Job {
    id: TaskId,
    info: TaskInfo,
    spec: Arc<ProcessSpec>,
    node: NodeIdx,
    data: Map<String, Value>,
    /// Whether its pre- and post-scripts run here (see `multi`).
    hooks: bool,
}

/// What a [`Job`] came to: the task's new data, or the interruption and the
/// data the task keeps (for a retry); and what the plugins logged.
pub(super) struct Done {
    pub(super) id: TaskId,
    /// The data the work started from, to tell what it changed.
    input: Map<String, Value>,
    pub(super) outcome: Result<Map<String, Value>, (Interrupt, Map<String, Value>)>,
    log: String,
}

/// Runs a script or service task's work: pre-script, script or service call,
/// post-script. Touches no workflow state, so jobs of different tasks run at once.
///
/// When interrupted the task keeps the data it was reached with (so a retry
/// runs the pre-script again on the same data), except after an interrupted
/// post-script, when it keeps the data the call produced.
pub(super) fn perform(job: Job, scripts: &ScriptEngine) -> Done {
    let Job {
        id,
        info,
        spec,
        node,
        data: original,
        hooks,
    } = job;
    let node = &spec.nodes[node];
    let mut log = String::new();
    let mut work = || {
        let pre = match node.pre_script.as_deref().filter(|_| hooks) {
            Some(pre) => Some(run_hook(scripts, &info, Hook::Pre, pre, &original, &mut log).map_err(|i| (i, None))?),
            None => None,
        };
        let input = pre.as_ref().unwrap_or(&original);
        let data = match &node.kind {
            NodeKind::ScriptTask(script) => {
                let outcome = answered_by_task(scripts.run_script(&info, script, input)).map_err(|i| (i, None))?;
                log.push_str(&outcome.log);
                outcome.value
            }
            NodeKind::ServiceTask(call) => {
                let (value, call_log) = service(&info, call, input, scripts).map_err(|i| (i, None))?;
                log.push_str(&call_log);
                let mut data = input.clone();
                data.insert(call.result_variable.clone(), value);
                data
            }
            _ => unreachable!("only script and service tasks are jobs"),
        };
        match node.post_script.as_deref().filter(|_| hooks) {
            Some(post) => run_hook(scripts, &info, Hook::Post, post, &data, &mut log).map_err(|i| (i, Some(data))),
            None => Ok(data),
        }
    };
    let outcome = work().map_err(|(interrupt, keep)| (interrupt, keep.unwrap_or_else(|| original.clone())));
    Done {
        id,
        outcome,
        log,
        input: original,
    }
}

/// Evaluates a service task's parameters against `data` and calls its
/// operation: its result and what it logged.
fn service(
    info: &TaskInfo,
    call: &ServiceCall,
    data: &Map<String, Value>,
    scripts: &ScriptEngine,
) -> Result<(Value, String), Interrupt> {
    let mut params = Map::new();
    for param in &call.params {
        let value = answered(scripts.evaluate(info, &param.value, data)).map_err(|i| {
            i.within(&format!("parameter `{}` ({})", param.id, param.value))
                .at_line(param.line)
        })?;
        params.insert(param.id.clone(), value.value);
    }
    // A failure names the operation; a BPMN error or a halt is the operation's own answer.
    let outcome = scripts
        .call_service(info, &call.operation, &params)
        .map_err(|mut error| {
            error.message = format!("operation `{}`: {}", call.operation, error.message);
            error
        });
    answered_by_task(outcome).map(|outcome| (outcome.value, outcome.log))
}

impl Workflow {
    /// Everything a script or service task's plugin work needs. `keep` leaves
    /// the task its input data while the work runs elsewhere: a task saved
    /// STARTED must be able to run again after a crash.
    pub(super) fn job(&mut self, id: TaskId, keep: bool) -> Job {
        let task = &mut self.tasks[id];
        task.log.clear();
        let data = if keep {
            task.data.clone().unwrap_or_default()
        } else {
            task.data.take().unwrap_or_default()
        };
        Job {
            id,
            info: self.task_info(id),
            spec: self.scopes[self.tasks[id].scope].spec.clone(),
            node: self.tasks[id].node,
            data,
            hooks: self.runs_hooks(id),
        }
    }

    /// Takes in what a task's plugin work came to: done, its data goes on;
    /// interrupted, the task keeps the data the work says (for a retry). A
    /// result for a task no longer running (cancelled meanwhile) is dropped.
    pub(super) fn complete_job(&mut self, done: Done, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        let id = done.id;
        if !matches!(self.tasks[id].state, TaskState::Ready | TaskState::Started) {
            return Ok(());
        }
        self.task_mut(id).log.push_str(&done.log);
        match done.outcome {
            Ok(data) => {
                self.observe(id, &done.input, &data);
                self.route(id, data, scripts)
            }
            Err((interrupt, keep)) => {
                self.task_mut(id).data = Some(keep);
                Err((id, interrupt))
            }
        }
    }
}
