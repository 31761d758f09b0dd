//! Timer start events of deployed processes: each occurrence of the timer
//! starts a new instance (BPMN 2.0; Camunda does the same), which begins
//! past its start event. `deploy` computes each timer's first occurrence
//! ([`StartTimer::of_process`]); the scheduler (`tick`, `serve`) starts an
//! instance when one falls due ([`Workflow::start_by_timer`]) and saves the
//! next occurrence ([`StartTimer::after_firing`]) in the same transaction.
//!
//! A process run directly (`wasmflow run`) whose only start is a timer start
//! event waits at it instead, as SpiffWorkflow does: see `Workflow::start`.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Map;

use super::timers::{first_due, next_occurrence};
use super::{EventKind, StartError, TaskState, Workflow};
use crate::bpmn::{Library, NodeKind, ProcessSpec, TimerKind};
use crate::script::{ScriptEngine, TaskInfo};

use super::run::Step;

/// When a timer start event of a deployed process next starts an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTimer {
    /// The process id.
    pub process: String,
    /// The timer start event's element id.
    pub start: String,
    /// When it next falls due.
    pub due: Timestamp,
    /// A cycle's value (evaluated, if the diagram gives an expression), to
    /// find the occurrence after `due`.
    pub cycle: Option<String>,
    /// How many instances it has started.
    pub fired: u32,
}

impl StartTimer {
    /// The first occurrence of each timer start event of `spec`, deployed at
    /// `now` (a duration counts from then). A value that is an expression is
    /// evaluated in the sandbox with no data (a deployment has none); one
    /// that never fires (`R0/...`, a cycle already past its end) is left out.
    pub fn of_process(spec: &ProcessSpec, scripts: &ScriptEngine, now: Timestamp) -> Result<Vec<StartTimer>, String> {
        let mut timers = Vec::new();
        for &n in &spec.event_starts {
            let node = &spec.nodes[n];
            let NodeKind::TimerStartEvent { timer, .. } = &node.kind else {
                continue;
            };
            let info = TaskInfo {
                spec: node.id.clone(),
                name: node.name.clone(),
                process: spec.id.clone(),
                ..TaskInfo::default()
            };
            let (due, text) = first_due(timer, &info, &Map::new(), scripts, now).map_err(|interrupt| {
                format!(
                    "{}:{}: timer start event `{}` of process `{}`: {}",
                    spec.file.display(),
                    timer.line,
                    node.id,
                    spec.id,
                    interrupt.message()
                )
            })?;
            if let Some(due) = due {
                timers.push(StartTimer {
                    process: spec.id.clone(),
                    start: node.id.clone(),
                    due,
                    cycle: (timer.kind == TimerKind::Cycle).then_some(text),
                    fired: 0,
                });
            }
        }
        Ok(timers)
    }

    /// What is left of it once it has started an instance at `now`: a
    /// cycle's next occurrence after now (occurrences missed while nothing
    /// ran started one instance for all of them), or nothing.
    pub fn after_firing(&self, now: Timestamp) -> Option<StartTimer> {
        let fired = self.fired + 1;
        let due = next_occurrence(self.cycle.as_deref(), fired, self.due, now)?;
        Some(StartTimer {
            due,
            fired,
            ..self.clone()
        })
    }
}

impl Workflow {
    /// Starts an instance of deployed `process` because its timer start
    /// event `start` (an element id) fell due at `due`: the start event has
    /// fired, and the instance goes on from it with no data. Nothing runs
    /// until [`Workflow::run`].
    pub fn start_by_timer(
        library: Arc<Library>,
        process: &str,
        start: &str,
        due: Timestamp,
    ) -> Result<Workflow, StartError> {
        let spec = Self::spec_to_start(&library, Some(process))?;
        let at = (spec.node_index(start))
            .filter(|&n| matches!(spec.nodes[n].kind, NodeKind::TimerStartEvent { .. }))
            .filter(|n| spec.event_starts.contains(n))
            .ok_or_else(|| StartError::NoDefault(format!("process `{process}` has no timer start event `{start}`")))?;
        let mut workflow = Self::open(library, spec, Map::new(), &[at]);
        // The start event's task, READY and queued: it has fired, so it
        // finishes rather than waits.
        let task = workflow.tasks.len() - 1;
        debug_assert_eq!(workflow.tasks[task].node, at);
        for step in workflow.queue.iter_mut() {
            if *step == Step::Execute(task) {
                *step = Step::Finish(task);
            }
        }
        workflow.task_mut(task).state = TaskState::Started;
        workflow.emit(EventKind::TimerFired {
            task,
            spec: start.to_string(),
            due,
        });
        Ok(workflow)
    }
}
