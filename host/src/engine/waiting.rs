//! What an instance waits for: timers, armed where a token reaches a timer
//! catch event and where an activity with timer boundary events starts, and
//! fired once they fall due.
//!
//! A timer belongs to a *waiter*, a WAITING task of the timer event's node.
//! A catch event's waiter is the token itself. A boundary event's waiter
//! stands beside the running activity (in its scope's active tasks, so that
//! `waiting` lists it); it goes when the activity ends, however it ends. The
//! catch events after an event-based gateway get waiters beside the gateway,
//! which holds the token until the first of them fires.
//!
//! Firing:
//! - a catch event's token moves on;
//! - an interrupting boundary event cancels its activity (and everything in
//!   it), then its waiter moves on with the activity's data;
//! - a non-interrupting one starts a new token on its path with the
//!   activity's data; a cycle is armed again for its next occurrence, and its
//!   waiter completes once the cycle has no more.
//!
//! Time comes from the instance's clock ([`Workflow::set_now`]): the system
//! clock, or a fixed instant (`tick --now`, tests). A cycle that fell due
//! several times while nothing ran fires once, and its next occurrence is the
//! first after now.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt, answered};
use super::run::Step;
use super::{EventKind, TaskId, TaskState, Workflow};
use crate::bpmn::{NodeKind, NodeSpec, ProcessSpec, Schedule, TimerDef, TimerKind};
use crate::script::ScriptEngine;

/// An armed timer, as saved with its instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerRecord {
    /// The waiter: the WAITING task of the timer event.
    pub task: TaskId,
    /// When it fires next.
    pub due: Timestamp,
    /// The activity of a boundary event's waiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<TaskId>,
    /// A cycle's value (evaluated, if the diagram gives an expression), to
    /// find its next occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<String>,
    /// How many times a cycle has fired.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fired: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where time comes from.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum Clock {
    #[default]
    System,
    Fixed(Timestamp),
}

/// An instance's armed timers, indexed by waiter, by due time and by activity,
/// so that arming, firing and disarming cost the same with 10,000 timers as with one.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    by_task: BTreeMap<TaskId, TimerRecord>,
    by_due: BTreeSet<(Timestamp, TaskId)>,
    /// (activity, waiter) of boundary events' timers.
    by_activity: BTreeSet<(TaskId, TaskId)>,
}

impl Timers {
    pub(super) fn insert(&mut self, record: TimerRecord) {
        self.remove(record.task);
        self.by_due.insert((record.due, record.task));
        if let Some(activity) = record.attached_to {
            self.by_activity.insert((activity, record.task));
        }
        self.by_task.insert(record.task, record);
    }

    pub(super) fn remove(&mut self, task: TaskId) -> Option<TimerRecord> {
        let record = self.by_task.remove(&task)?;
        self.by_due.remove(&(record.due, task));
        if let Some(activity) = record.attached_to {
            self.by_activity.remove(&(activity, task));
        }
        Some(record)
    }

    pub(super) fn get(&self, task: TaskId) -> Option<&TimerRecord> {
        self.by_task.get(&task)
    }

    /// The waiters of an activity's boundary timers.
    fn attached(&self, activity: TaskId) -> Vec<TaskId> {
        (self.by_activity.range((activity, 0)..=(activity, TaskId::MAX)))
            .map(|&(_, waiter)| waiter)
            .collect()
    }

    /// The earliest due time.
    pub(super) fn next_due(&self) -> Option<Timestamp> {
        self.by_due.first().map(|&(due, _)| due)
    }

    /// Every timer, by waiter.
    pub(super) fn records(&self) -> impl Iterator<Item = &TimerRecord> {
        self.by_task.values()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_task.is_empty()
    }
}

impl FromIterator<TimerRecord> for Timers {
    fn from_iter<I: IntoIterator<Item = TimerRecord>>(records: I) -> Self {
        let mut timers = Timers::default();
        for record in records {
            timers.insert(record);
        }
        timers
    }
}

/// `at`, rounded up to a whole millisecond: how the store indexes due times,
/// so a timer is never found due before it is.
fn whole_millisecond(at: Timestamp) -> Timestamp {
    let ms = at.as_millisecond();
    let down = Timestamp::from_millisecond(ms).unwrap_or(at);
    if down < at {
        Timestamp::from_millisecond(ms + 1).unwrap_or(at)
    } else {
        down
    }
}

/// The timer start event of a timer-started event subprocess node, and
/// whether it interrupts.
pub(super) fn timer_start(kind: &NodeKind) -> Option<(&TimerDef, bool)> {
    let NodeKind::EventSubProcess(inner) = kind else {
        return None;
    };
    match &inner.nodes[*inner.starts.first()?].kind {
        NodeKind::TimerStartEvent { timer, interrupting } => Some((timer, *interrupting)),
        _ => None,
    }
}

/// Whether a node is an event subprocess started by a timer.
pub(super) fn timer_started(kind: &NodeKind) -> bool {
    timer_start(kind).is_some()
}

/// Whether a node has timer boundary events (its scope's spec given).
pub(super) fn has_timer_boundaries(node: &NodeSpec, nodes: &[NodeSpec]) -> bool {
    node.boundaries
        .iter()
        .any(|&b| matches!(nodes[b].kind, NodeKind::TimerBoundaryEvent { .. }))
}

impl Workflow {
    /// Makes time stand still at `now` for this instance (`None`: the system
    /// clock again). Timers are armed from, and fire by, this clock.
    pub fn set_now(&mut self, now: Option<Timestamp>) {
        self.clock = now.map_or(Clock::System, Clock::Fixed);
    }

    /// The instance's time.
    pub fn now(&self) -> Timestamp {
        match self.clock {
            Clock::System => Timestamp::now(),
            Clock::Fixed(at) => at,
        }
    }

    /// When the instance's next timer falls due, if it has any.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.timers.next_due()
    }

    /// The armed timer of a waiting task, if it is a waiter.
    pub fn timer(&self, task: TaskId) -> Option<&TimerRecord> {
        self.timers.get(task)
    }

    /// When `timer` first falls due, armed now for task `id` with `data`.
    /// An expression is evaluated in the sandbox; its result must read as
    /// the timer's kind. `None`: a cycle that never fires.
    fn schedule(
        &self,
        id: TaskId,
        timer: &TimerDef,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(Option<Timestamp>, String), Interrupt> {
        let invalid = |message: String| {
            Interrupt::Fail(Cause::Engine {
                reason: "invalid_timer",
                message,
            })
        };
        let text = if timer.expression {
            let outcome = answered(scripts.evaluate(&self.task_info(id), &timer.text, data)).map_err(|i| {
                i.within(&format!("{} ({})", timer.kind.element_name(), timer.text))
                    .at_line(timer.line)
            })?;
            match outcome.value {
                Value::String(text) => text,
                other => {
                    return Err(invalid(format!(
                        "{} `{}` evaluated to {other}, not a string such as \"{}\"",
                        timer.kind.element_name(),
                        timer.text,
                        match timer.kind {
                            TimerKind::Date => "2027-01-01T09:00:00Z",
                            TimerKind::Duration => "PT1H",
                            TimerKind::Cycle => "R3/PT10S",
                        }
                    )));
                }
            }
        } else {
            timer.text.clone()
        };
        let schedule = Schedule::parse(timer.kind, &text).map_err(|e| {
            let shown = if timer.expression {
                format!("{e} (the value of `{}`)", timer.text)
            } else {
                e
            };
            invalid(shown)
        })?;
        let due = schedule.first_due(self.now()).map_err(invalid)?;
        Ok((due.map(whole_millisecond), text))
    }

    /// A token reached timer catch event `id`: it waits for its timer. A
    /// cycle that never fires lets the token through at once.
    pub(super) fn arm_catch(
        &mut self,
        id: TaskId,
        timer: &TimerDef,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let (due, text) = match self.schedule(id, timer, &data, scripts) {
            Ok(scheduled) => scheduled,
            Err(interrupt) => {
                self.task_mut(id).data = Some(data);
                return Err((id, interrupt));
            }
        };
        self.task_mut(id).data = Some(data);
        let Some(due) = due else {
            self.task_mut(id).state = TaskState::Started;
            self.queue.push_back(Step::Finish(id));
            return Ok(());
        };
        self.task_mut(id).state = TaskState::Waiting;
        self.arm(TimerRecord {
            task: id,
            due,
            attached_to: None,
            cycle: (timer.kind == TimerKind::Cycle).then_some(text),
            fired: 0,
        });
        Ok(())
    }

    /// A token reached event-based gateway `id`: it waits there, and each
    /// catch event its flows lead to gets a waiter with its timer armed. The
    /// first to fire takes the token; the others are cancelled.
    pub(super) fn arm_gateway(
        &mut self,
        id: TaskId,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let scope = self.tasks[id].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        let mut armed = Vec::new();
        for &flow in &node.outgoing {
            let target = spec.flows[flow].target;
            let Some(timer) = spec.nodes[target].kind.timer() else {
                continue;
            };
            match self.schedule(id, timer, &data, scripts) {
                Ok((Some(due), text)) => {
                    armed.push((target, flow, due, (timer.kind == TimerKind::Cycle).then_some(text)))
                }
                Ok((None, _)) => {}
                Err(interrupt) => {
                    self.task_mut(id).data = Some(data);
                    return Err((id, interrupt));
                }
            }
        }
        self.task_mut(id).data = Some(data);
        self.task_mut(id).state = TaskState::Waiting;
        let armed = armed
            .into_iter()
            .map(|(event, flow, due, cycle)| (event, Some(flow), due, cycle));
        self.add_waiters(id, armed);
        Ok(())
    }

    /// Waiters beside task `id` (an activity, an event-based gateway), one
    /// per `(node, flow it arrives by, due, cycle)`, each with its timer armed.
    fn add_waiters(
        &mut self,
        id: TaskId,
        armed: impl IntoIterator<Item = (usize, Option<usize>, Timestamp, Option<String>)>,
    ) {
        let scope = self.tasks[id].scope;
        let branch = self.tasks[id].branch.clone();
        for (node, via, due, cycle) in armed {
            let waiter = self.add_task(scope, node, via, None, branch.clone(), TaskState::Waiting);
            self.arm(TimerRecord {
                task: waiter,
                due,
                attached_to: Some(id),
                cycle,
                fired: 0,
            });
        }
    }

    /// The data a scope's event subprocesses start with: what its owner (the
    /// subprocess or call activity) was reached with, or the instance's start data.
    fn scope_data(&self, scope: usize) -> Map<String, Value> {
        match self.scopes[scope].owner {
            Some(owner) => self.tasks[owner].data.clone().unwrap_or_default(),
            None => self.data.clone(),
        }
    }

    /// The waiter of a timer-started event subprocess takes its first step:
    /// its timer is armed against the scope's data.
    pub(super) fn arm_event_subprocess(
        &mut self,
        id: TaskId,
        inner: &ProcessSpec,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let Some(&start) = inner.starts.first() else {
            return Ok(());
        };
        let NodeKind::TimerStartEvent { timer, .. } = &inner.nodes[start].kind else {
            return Ok(());
        };
        let scope = self.tasks[id].scope;
        let data = self.scope_data(scope);
        let (due, text) = self.schedule(id, timer, &data, scripts).map_err(|i| (id, i))?;
        self.task_mut(id).state = TaskState::Waiting;
        match due {
            Some(due) => self.arm(TimerRecord {
                task: id,
                due,
                attached_to: None,
                cycle: (timer.kind == TimerKind::Cycle).then_some(text),
                fired: 0,
            }),
            // Never fires: it goes.
            None => {
                self.scope_mut(scope).waiters.retain(|&w| w != id);
                self.cancel(id);
            }
        }
        Ok(())
    }

    /// Starts the event subprocess `node` of `scope` with the scope's data,
    /// as a new task.
    fn start_event_subprocess(&mut self, scope: usize, node: usize) {
        let NodeKind::EventSubProcess(inner) = &self.scopes[scope].spec.nodes[node].kind else {
            return;
        };
        let inner = inner.clone();
        let data = self.scope_data(scope);
        let process = self.scopes[scope].process.clone();
        let task = self.add_task(scope, node, None, None, Vec::new(), TaskState::Ready);
        self.enter(task, inner, process, data);
    }

    /// Activity `id` starts: each of its timer boundary events gets a waiter
    /// with its timer armed. Done once per activity run: a retried activity
    /// keeps the waiters it has.
    pub(super) fn arm_boundaries(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        let scope = self.tasks[id].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        if !has_timer_boundaries(node, &spec.nodes) || !self.timers.attached(id).is_empty() {
            return Ok(());
        }
        let data = self.tasks[id].data.clone().unwrap_or_default();
        let mut armed = Vec::new();
        for &b in &node.boundaries {
            let NodeKind::TimerBoundaryEvent { timer, .. } = &spec.nodes[b].kind else {
                continue;
            };
            let (due, text) = self.schedule(id, timer, &data, scripts).map_err(|i| (id, i))?;
            if let Some(due) = due {
                armed.push((b, due, (timer.kind == TimerKind::Cycle).then_some(text)));
            }
        }
        self.add_waiters(
            id,
            armed
                .into_iter()
                .map(|(boundary, due, cycle)| (boundary, None, due, cycle)),
        );
        Ok(())
    }

    /// Saved with the instance record, which every step writes.
    fn arm(&mut self, record: TimerRecord) {
        self.timers.insert(record);
    }

    /// Task `id` ends (completes or is cancelled): its own timer goes, and
    /// so do the waiters of its boundary timers (CANCELLED).
    pub(super) fn disarm(&mut self, id: TaskId) {
        if self.timers.is_empty() {
            return;
        }
        if self.timers.remove(id).is_some() {}
        for waiter in self.timers.attached(id) {
            self.timers.remove(waiter);
            let scope = self.tasks[waiter].scope;
            self.scope_mut(scope).active.remove(&waiter);
            self.cancel(waiter);
        }
    }

    /// Fires every timer due by the instance's clock; whether any fired.
    pub(super) fn fire_due(&mut self) -> bool {
        let Some(first) = self.timers.next_due() else {
            return false;
        };
        let now = self.now();
        if first > now {
            return false;
        }
        while let Some(&(due, waiter)) = self.timers.by_due.first()
            && due <= now
        {
            self.fire(waiter, now);
        }
        true
    }

    /// Fires waiter `waiter`'s timer (see the module documentation).
    fn fire(&mut self, waiter: TaskId, now: Timestamp) {
        let Some(record) = self.timers.remove(waiter) else {
            return;
        };
        let scope = self.tasks[waiter].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[waiter].node];
        let spec_id = node.id.clone();
        self.emit(EventKind::TimerFired {
            task: waiter,
            spec: spec_id,
            due: record.due,
        });
        if let Some((_, interrupting)) = timer_start(&node.kind) {
            let node = self.tasks[waiter].node;
            if interrupting {
                // The rest of the scope goes; the event subprocess runs in its place.
                self.scope_mut(scope).waiters.retain(|&w| w != waiter);
                self.task_mut(waiter).state = TaskState::Completed;
                let spec = self.node(waiter).id.clone();
                self.emit(EventKind::TaskCompleted { task: waiter, spec });
                self.terminate(scope);
                self.start_event_subprocess(scope, node);
                return;
            }
            self.start_event_subprocess(scope, node);
            self.rearm_or_retire(record, now, scope, waiter);
            return;
        }
        let interrupting = match &node.kind {
            NodeKind::TimerBoundaryEvent { interrupting, .. } => *interrupting,
            // A catch event's token moves on; after an event-based gateway,
            // it takes the gateway's token and the other events are cancelled.
            _ => {
                if let Some(gateway) = record.attached_to {
                    let data = self.task_mut(gateway).data.take();
                    self.disarm(gateway);
                    self.scope_mut(scope).active.remove(&gateway);
                    self.task_mut(gateway).state = TaskState::Completed;
                    let spec = self.node(gateway).id.clone();
                    self.emit(EventKind::TaskCompleted { task: gateway, spec });
                    self.task_mut(waiter).data = data;
                }
                self.task_mut(waiter).state = TaskState::Started;
                self.queue.push_back(Step::Finish(waiter));
                return;
            }
        };
        let Some(activity) = record.attached_to else {
            return;
        };
        let data = self.tasks[activity].data.clone().unwrap_or_default();
        if interrupting {
            self.task_mut(activity).data = None;
            self.scope_mut(scope).active.remove(&activity);
            self.cancel(activity);
            if let Some(child) = self.tasks[activity].child {
                self.terminate(child);
            }
            self.task_mut(waiter).data = Some(data);
            self.task_mut(waiter).state = TaskState::Started;
            self.queue.push_back(Step::Finish(waiter));
            self.after_tokens_moved(scope);
            return;
        }
        // Non-interrupting: a new token on the boundary event's path.
        let branch = self.tasks[activity].branch.clone();
        let boundary = self.tasks[waiter].node;
        self.arrive(scope, boundary, None, data, branch);
        self.rearm_or_retire(record, now, scope, waiter);
    }

    /// A non-interrupting timer fired: a cycle is armed for its next
    /// occurrence; anything else is done, and its waiter completes.
    fn rearm_or_retire(&mut self, mut record: TimerRecord, now: Timestamp, scope: usize, waiter: TaskId) {
        record.fired += 1;
        let next = record
            .cycle
            .as_deref()
            .and_then(|text| match Schedule::parse(TimerKind::Cycle, text) {
                Ok(Schedule::Cycle(cycle)) if cycle.repetitions.is_none_or(|n| record.fired < n) => {
                    cycle.next_after(record.due, now).ok().flatten().map(whole_millisecond)
                }
                _ => None,
            });
        match next {
            Some(due) => {
                record.due = due;
                self.arm(record);
            }
            None => {
                let scope = self.scope_mut(scope);
                scope.active.remove(&waiter);
                scope.waiters.retain(|&w| w != waiter);
                self.task_mut(waiter).state = TaskState::Completed;
                let spec = self.node(waiter).id.clone();
                self.emit(EventKind::TaskCompleted { task: waiter, spec });
            }
        }
    }
}
