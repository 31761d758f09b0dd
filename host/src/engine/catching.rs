//! Thrown events and the catch events that match them.
//!
//! The thrown events are BPMN errors (a plugin's `bpmn_error` answer, an
//! error end event) and escalations (an escalation throw or end event). A
//! thrown event is caught by the innermost matching
//! catch, walking out one scope at a time: the boundary events of the
//! throwing activity, then the event subprocesses of its scope, then the
//! boundary events of the subprocess or call activity that owns the scope,
//! and so on. At each level a catch naming what was thrown wins over a
//! catch-all; among equals, the first in the document. What was interrupted
//! goes to CANCELLED. Uncaught, the throwing task goes to ERROR and the
//! instance stops with the error's code, name and payload.
//!
//! An escalation is caught the same way, by escalation boundary events and
//! event subprocesses; a non-interrupting catch (`cancelActivity="false"`,
//! `isInterrupting="false"`) runs its path beside what threw, which goes
//! on. An uncaught escalation is recorded (`escalation_uncaught`) and the
//! thrower goes on: an escalation is not an error (BPMN 2.0, 10.5.6).
//!
//! The payload lands in the catching path's data, under the caught error's
//! `spiffworkflow:variableName` (set even when there is no payload, as in
//! SpiffWorkflow), else under `spiff__<catch event id>_payload` when there
//! is a payload (see [`payload_variable`]).
//!
//! Other event kinds (escalations, messages, signals, timers) add a kind of
//! [`Thrown`] and an arm to [`Thrown::matches`]; the walk stays the same.

use serde_json::{Map, Value};

use super::failure::{Interrupt, answered};
use super::{EventKind, TaskId, TaskState, Workflow};
use crate::bpmn::{ErrorEvent, NodeIdx, NodeKind, NodeSpec};
use crate::script::{BpmnError, ScriptEngine, escape_controls};

/// A BPMN error or an escalation thrown inside an instance, on its way to a catch event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Thrown {
    /// An escalation rather than an error.
    pub(crate) escalation: bool,
    /// The error code; `None` is caught only by catch-all events.
    pub(crate) code: Option<String>,
    /// The error's name.
    pub(crate) name: Option<String>,
    /// What the catching path receives.
    pub(crate) payload: Option<Value>,
    /// How the throwing task's failure reads if nothing catches it.
    pub(crate) uncaught: Uncaught,
}

/// The parts of an uncaught throw's failure that depend on who threw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Uncaught {
    /// The plugin that threw it; none for an error end event.
    pub(crate) plugin: Option<String>,
    /// What the failure says.
    pub(crate) message: String,
    /// The line in the file, where one applies.
    pub(crate) line: Option<u32>,
    /// What the throwing call logged.
    pub(crate) log: String,
}

/// How well a catch event matches a thrown event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    /// It catches anything of the kind.
    CatchAll,
    /// It names what was thrown.
    Named,
}

impl Thrown {
    /// A BPMN error a plugin answered with.
    pub(crate) fn by_plugin(error: BpmnError, log: String) -> Thrown {
        let shown = escape_controls(&error.code);
        let message = match &error.name {
            Some(name) => format!("BPMN error `{shown}` ({name}) was thrown and nothing catches it"),
            None => format!("BPMN error `{shown}` was thrown and nothing catches it"),
        };
        Thrown {
            escalation: false,
            code: Some(error.code),
            name: error.name,
            payload: error.payload,
            uncaught: Uncaught {
                plugin: Some(error.plugin),
                message,
                line: None,
                log,
            },
        }
    }

    /// An escalation a task's call answered with.
    pub(crate) fn by_plugin_escalation(escalation: BpmnError, log: String) -> Thrown {
        Thrown {
            escalation: true,
            code: Some(escalation.code),
            name: escalation.name,
            payload: escalation.payload,
            uncaught: Uncaught {
                plugin: Some(escalation.plugin),
                message: String::new(),
                line: None,
                log,
            },
        }
    }

    /// The BPMN error an error end event throws, with `payload`.
    fn by_end_event(event: &ErrorEvent, payload: Option<Value>) -> Thrown {
        let error = event.error.as_ref();
        let code = error.and_then(|e| e.code.clone());
        let name = error.and_then(|e| e.name.clone());
        let shown = code.as_deref().map_or("(no code)".to_string(), |c| format!("`{c}`"));
        let named = name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        Thrown {
            escalation: false,
            code,
            name,
            payload,
            uncaught: Uncaught {
                plugin: None,
                message: format!("BPMN error {shown}{named} was thrown by this end event and nothing catches it"),
                line: None,
                log: String::new(),
            },
        }
    }

    /// The escalation an escalation throw or end event throws, with `payload`.
    fn escalation(event: &ErrorEvent, payload: Option<Value>) -> Thrown {
        let escalation = event.error.as_ref();
        Thrown {
            escalation: true,
            code: escalation.and_then(|e| e.code.clone()),
            name: escalation.and_then(|e| e.name.clone()),
            payload,
            uncaught: Uncaught {
                plugin: None,
                message: String::new(),
                line: None,
                log: String::new(),
            },
        }
    }

    /// How the catch event `kind` (a boundary event, or an event
    /// subprocess's start event) matches this, if it catches it at all.
    fn matches(&self, kind: &NodeKind) -> Option<Fit> {
        let definition = match kind {
            NodeKind::BoundaryEvent { error, .. } | NodeKind::ErrorStartEvent(error) if !self.escalation => error,
            NodeKind::EscalationBoundaryEvent { escalation, .. }
            | NodeKind::EscalationStartEvent { escalation, .. }
                if self.escalation =>
            {
                escalation
            }
            _ => return None,
        };
        if !definition.catches(self.code.as_deref()) {
            return None;
        }
        Some(if definition.code().is_some() {
            Fit::Named
        } else {
            Fit::CatchAll
        })
    }
}

/// The best catch among `candidates` (catch events, each with the node it
/// stands for): the first that names what was thrown, else the first catch-all.
fn best_catch<'a>(thrown: &Thrown, candidates: impl Iterator<Item = (NodeIdx, &'a NodeSpec)>) -> Option<NodeIdx> {
    let mut best: Option<(Fit, NodeIdx)> = None;
    for (node, catch_event) in candidates {
        match thrown.matches(&catch_event.kind) {
            Some(Fit::Named) => return Some(node),
            Some(fit) if best.is_none() => best = Some((fit, node)),
            _ => {}
        }
    }
    best.map(|(_, node)| node)
}

impl Workflow {
    /// The BPMN error error end event `id` throws: its error's
    /// `spiffworkflow:payloadExpression`, if any, evaluated against `data`
    /// becomes the payload.
    pub(super) fn throw_at_end_event(
        &self,
        id: TaskId,
        event: &ErrorEvent,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Interrupt {
        let payload = match event.error.as_ref().and_then(|e| e.payload.as_deref()) {
            None => None,
            Some(expression) => match answered(scripts.evaluate(&self.task_info(id), expression, data)) {
                Ok(outcome) => Some(outcome.value).filter(|v| !v.is_null()),
                Err(interrupt) => return interrupt.within(&format!("payloadExpression ({expression})")),
            },
        };
        Interrupt::Throw(Thrown::by_end_event(event, payload))
    }

    /// Escalation throw or end event `id`, reached with `data`, throws its
    /// escalation (its `payloadExpression`'s value, if any, evaluated
    /// against `data`, is the payload) to the innermost catch. Whether it
    /// goes on with its data: unless an interrupting catch ended it.
    pub(super) fn escalate(
        &mut self,
        id: TaskId,
        event: &ErrorEvent,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<bool, (TaskId, Interrupt)> {
        let payload = match event.error.as_ref().and_then(|e| e.payload.as_deref()) {
            None => None,
            Some(expression) => match answered(scripts.evaluate(&self.task_info(id), expression, &data)) {
                Ok(outcome) => Some(outcome.value).filter(|v| !v.is_null()),
                Err(interrupt) => {
                    self.task_mut(id).data = Some(data);
                    return Err((id, interrupt.within(&format!("payloadExpression ({expression})"))));
                }
            },
        };
        // A catch beside the thrower starts with a copy of its data.
        self.task_mut(id).data = Some(data);
        Ok(self.throw_escalation(id, Thrown::escalation(event, payload)))
    }

    /// Task `id` (an escalation event, or a task whose call escalated)
    /// throws `thrown` to the innermost catch; uncaught, it is recorded.
    /// Whether the task goes on, with its data: unless an interrupting
    /// catch ended it.
    pub(super) fn throw_escalation(&mut self, id: TaskId, thrown: Thrown) -> bool {
        if let Err(thrown) = self.catch(id, thrown) {
            let spec = self.node(id).id.clone();
            self.emit(EventKind::EscalationUncaught {
                task: id,
                spec,
                code: thrown.code,
                payload: thrown.payload,
            });
        }
        !matches!(self.tasks[id].state, TaskState::Completed | TaskState::Cancelled)
    }

    /// Catches `thrown`, thrown by task `origin`, if anything does (see the
    /// module documentation for the order); uncaught, it is handed back.
    /// A walk up the scopes, one step per enclosing scope: no recursion.
    pub(super) fn catch(&mut self, origin: TaskId, thrown: Thrown) -> Result<(), Thrown> {
        // The task whose boundary events are tried, in `scope`.
        let mut at = origin;
        // Set when the event escapes an event subprocess: its sibling event
        // subprocesses do not catch it (the scope is already interrupted).
        let mut from_event_subprocess = false;
        loop {
            let scope = self.tasks[at].scope;
            if self.scopes[scope].instances {
                // An instance of a multi-instance activity: its catches are the activity's.
                at = self.scopes[scope].owner.expect("instances have their activity");
                continue;
            }
            let spec = self.scopes[scope].spec.clone();
            let node = &spec.nodes[self.tasks[at].node];
            let boundaries = node.boundaries.iter().map(|&b| (b, &spec.nodes[b]));
            if let Some(boundary) = best_catch(&thrown, boundaries) {
                if interrupts(&spec.nodes[boundary].kind) {
                    self.catch_at_boundary(origin, at, boundary, thrown);
                } else {
                    self.catch_beside(origin, at, boundary, &spec.nodes[boundary], thrown);
                }
                return Ok(());
            }
            if !from_event_subprocess {
                let handlers = spec
                    .event_subprocesses
                    .iter()
                    .filter_map(|&e| match &spec.nodes[e].kind {
                        NodeKind::EventSubProcess(inner) => (inner.starts.iter())
                            .map(|&s| &inner.nodes[s])
                            .find(|start| {
                                matches!(
                                    start.kind,
                                    NodeKind::ErrorStartEvent(_) | NodeKind::EscalationStartEvent { .. }
                                )
                            })
                            .map(|start| (e, start)),
                        _ => None,
                    });
                if let Some(handler) = best_catch(&thrown, handlers) {
                    let NodeKind::EventSubProcess(inner) = &spec.nodes[handler].kind else {
                        unreachable!("handlers are event subprocesses");
                    };
                    let start = &inner.nodes[inner.starts[0]];
                    if interrupts(&start.kind) {
                        self.catch_in_event_subprocess(origin, at, handler, thrown);
                    } else {
                        self.catch_beside(origin, at, handler, start, thrown);
                    }
                    return Ok(());
                }
            }
            let Some(owner) = self.scopes[scope].owner else {
                return Err(thrown);
            };
            from_event_subprocess = matches!(self.node(owner).kind, NodeKind::EventSubProcess(_));
            at = owner;
        }
    }

    /// An interrupting boundary event of `activity` caught the event: the
    /// activity (and everything inside it) is cancelled and the boundary
    /// event's path starts with the activity's data.
    fn catch_at_boundary(&mut self, origin: TaskId, activity: TaskId, boundary: NodeIdx, thrown: Thrown) {
        let scope = self.tasks[activity].scope;
        let data = self.task_mut(activity).data.take().unwrap_or_default();
        self.retire_thrower(origin);
        self.cancel(activity);
        self.scope_mut(scope).active.remove(&activity);
        if let Some(child) = self.tasks[activity].child {
            self.terminate(child);
        }
        let spec = self.scopes[scope].spec.clone();
        let branch = self.tasks[activity].branch.clone();
        self.take_catch_path(origin, scope, boundary, &spec.nodes[boundary], data, thrown, branch);
        self.after_tokens_moved(scope);
    }

    /// A non-interrupting catch `catch` (a boundary event of `at`, or an
    /// event subprocess of its scope, whose catch event is `catch_event`)
    /// caught the event: its path starts with a copy of `at`'s data, beside
    /// `at`, which goes on.
    fn catch_beside(&mut self, origin: TaskId, at: TaskId, catch: NodeIdx, catch_event: &NodeSpec, thrown: Thrown) {
        let scope = self.tasks[at].scope;
        let data = self.tasks[at].data.clone().unwrap_or_default();
        let branch = self.tasks[at].branch.clone();
        let catch_event = catch_event.clone();
        self.take_catch_path(origin, scope, catch, &catch_event, data, thrown, branch);
    }

    /// An interrupting event subprocess of `at`'s scope caught the event:
    /// everything else in the scope is cancelled and the event subprocess
    /// runs with `at`'s data; the scope ends when it does.
    fn catch_in_event_subprocess(&mut self, origin: TaskId, at: TaskId, handler: NodeIdx, thrown: Thrown) {
        let scope = self.tasks[at].scope;
        let data = self.tasks[at].data.clone().unwrap_or_default();
        self.retire_thrower(origin);
        self.terminate(scope);
        let spec = self.scopes[scope].spec.clone();
        let NodeKind::EventSubProcess(inner) = &spec.nodes[handler].kind else {
            unreachable!("handlers are event subprocesses");
        };
        let branch = self.tasks[at].branch.clone();
        self.take_catch_path(
            origin,
            scope,
            handler,
            &inner.nodes[inner.starts[0]],
            data,
            thrown,
            branch,
        );
    }

    /// A token arrives at `catch` (a boundary event or an event subprocess)
    /// of `scope` with `data` and the payload of `thrown`, placed as the
    /// catch event `catch_event` says.
    #[allow(clippy::too_many_arguments)]
    fn take_catch_path(
        &mut self,
        origin: TaskId,
        scope: usize,
        catch: NodeIdx,
        catch_event: &NodeSpec,
        data: Map<String, Value>,
        thrown: Thrown,
        branch: Vec<u32>,
    ) {
        let data = with_payload(data, catch_event, &thrown);
        let spec = self.scopes[scope].spec.nodes[catch].id.clone();
        let task = self.tasks.len();
        self.emit(if thrown.escalation {
            EventKind::EscalationCaught {
                task,
                spec,
                code: thrown.code,
                thrown_by: origin,
                interrupting: interrupts(&catch_event.kind),
            }
        } else {
            EventKind::ErrorCaught {
                task,
                spec,
                code: thrown.code,
                thrown_by: origin,
            }
        });
        self.arrive(scope, catch, None, data, branch);
    }

    /// An error or escalation event whose throw was caught by an
    /// interrupting catch has done its work: it completes.
    fn retire_thrower(&mut self, origin: TaskId) {
        if matches!(
            self.node(origin).kind,
            NodeKind::ErrorEndEvent(_)
                | NodeKind::EscalationEndEvent(_)
                | NodeKind::EscalationThrowEvent(_)
                | NodeKind::MultipleThrowEvent(_)
                | NodeKind::MultipleEndEvent(_)
        ) {
            let scope = self.tasks[origin].scope;
            self.task_mut(origin).data = None;
            self.task_mut(origin).state = TaskState::Completed;
            self.scope_mut(scope).active.remove(&origin);
            let spec = self.node(origin).id.clone();
            self.emit(EventKind::TaskCompleted { task: origin, spec });
        }
    }
}

/// Where a caught error's payload goes in the catching path's data: the
/// caught error's `spiffworkflow:variableName` (as SpiffWorkflow does), else
/// `spiff__<catch event id>_payload` (with `-` made `_`, like SpiffWorkflow's
/// default service task result variable). `None` when the catch names no
/// variable and there is no payload.
pub fn payload_variable(catch_event: &NodeSpec, error: &ErrorEvent, has_payload: bool) -> Option<String> {
    match error.error.as_ref().and_then(|e| e.variable.clone()) {
        Some(variable) => Some(variable),
        None => has_payload.then(|| format!("spiff__{}_payload", catch_event.id.replace('-', "_"))),
    }
}

/// Whether a catch event interrupts what it catches (an error's always does).
fn interrupts(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::EscalationBoundaryEvent { interrupting, .. }
        | NodeKind::EscalationStartEvent { interrupting, .. } => *interrupting,
        _ => true,
    }
}

/// `data` with a caught error's or escalation's payload placed (see [`payload_variable`]).
fn with_payload(mut data: Map<String, Value>, catch_event: &NodeSpec, thrown: &Thrown) -> Map<String, Value> {
    let error = match &catch_event.kind {
        NodeKind::BoundaryEvent { error, .. }
        | NodeKind::ErrorStartEvent(error)
        | NodeKind::EscalationBoundaryEvent { escalation: error, .. }
        | NodeKind::EscalationStartEvent { escalation: error, .. } => error,
        _ => return data,
    };
    if let Some(variable) = payload_variable(catch_event, error, thrown.payload.is_some()) {
        data.insert(variable, thrown.payload.clone().unwrap_or(Value::Null));
    }
    data
}
