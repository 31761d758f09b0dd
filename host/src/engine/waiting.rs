//! What an instance waits for, and what happens when it comes: timers
//! (`timers`), messages and signals (`messages`) and conditions
//! (`conditions`), armed where a token reaches a catch event or a receive
//! task, where an activity with such boundary events starts, where an
//! event-based gateway is reached, and beside a scope with event
//! subprocesses started by one of them.
//!
//! Each armed event belongs to a *waiter*, a WAITING task of the event's
//! node. A catch event's or receive task's waiter is the token itself. A
//! boundary event's waiter stands beside the running activity (in its
//! scope's active tasks, so that `waiting` lists it); it goes when the
//! activity ends, however it ends. The catches after an event-based gateway
//! get waiters beside the gateway, which holds the token until the first of
//! them is triggered. An event subprocess's waiter stands beside its scope,
//! holding no token.
//!
//! A catch with several event definitions (a multiple event) gets one
//! waiter per definition, of its own node; for an intermediate catch they
//! stand beside its token. The first to happen fires it, or, for a
//! parallel multiple event, the last, with what all of them brought.
//!
//! When a waiter's event happens ([`Workflow::trigger`]):
//! - a catch's token moves on (with a message's payload);
//! - after an event-based gateway, it takes the gateway's token and the
//!   other catches are cancelled;
//! - an interrupting boundary event cancels its activity (and everything in
//!   it), then its waiter moves on with the activity's data;
//! - a non-interrupting one starts a new token on its path with the
//!   activity's data, and keeps waiting (a timer for a cycle's next occurrence);
//! - an event subprocess's start starts it with its scope's data, after
//!   cancelling the rest of the scope if it interrupts.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::failure::Interrupt;
use super::messages::{Listen, Payload, Subscription, receive};
use super::run::Step;
use super::timers::TimerRecord;
use super::{EventKind, Task, TaskId, TaskState, Workflow, merge};
use crate::bpmn::{NodeKind, NodeSpec, ProcessSpec, TimerKind};
use crate::script::ScriptEngine;

/// What a waiter waits for, once armed.
pub(super) enum Wait {
    /// A timer, due then (and, for a cycle, its value).
    Timer { due: Timestamp, cycle: Option<String> },
    /// A message with this name and these correlation values.
    Message {
        name: String,
        correlation: BTreeMap<String, String>,
    },
    /// A signal with this name.
    Signal { name: String },
    /// A condition, watching this data (see `conditions`).
    Condition { view: Map<String, Value> },
}

/// The start event of an event subprocess node that a timer or a message
/// starts (its waiter arms it), and whether it interrupts.
pub(super) fn event_start(kind: &NodeKind) -> Option<(&NodeKind, bool)> {
    let NodeKind::EventSubProcess(inner) = kind else {
        return None;
    };
    let start = &inner.nodes[*inner.starts.first()?].kind;
    match start {
        NodeKind::TimerStartEvent { interrupting, .. }
        | NodeKind::MessageStartEvent { interrupting, .. }
        | NodeKind::SignalStartEvent { interrupting, .. }
        | NodeKind::ConditionalStartEvent { interrupting, .. }
        | NodeKind::MultipleStartEvent { interrupting, .. } => Some((start, *interrupting)),
        _ => None,
    }
}

/// Whether a node is an event subprocess that waits beside its scope.
pub(super) fn event_started(kind: &NodeKind) -> bool {
    event_start(kind).is_some()
}

/// Whether a boundary event waits (for a timer, a message, a signal or a
/// condition) while its activity runs.
fn waits(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::TimerBoundaryEvent { .. }
            | NodeKind::MessageBoundaryEvent { .. }
            | NodeKind::SignalBoundaryEvent { .. }
            | NodeKind::ConditionalBoundaryEvent { .. }
            | NodeKind::MultipleBoundaryEvent { .. }
    )
}

/// Whether a node has boundary events that wait (its scope's spec given).
pub(super) fn has_waiting_boundaries(node: &NodeSpec, nodes: &[NodeSpec]) -> bool {
    node.boundaries.iter().any(|&b| waits(&nodes[b].kind))
}

impl Workflow {
    /// The waits of the events of `kind` (a catch, a boundary event, a start
    /// event), armed now for task `id` with `data`: `None` for a cycle that
    /// never fires.
    fn wait_for(
        &self,
        id: TaskId,
        kind: &NodeKind,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Option<Wait>, Interrupt> {
        if let Some(timer) = kind.timer() {
            let (due, text) = self.schedule(id, timer, data, scripts)?;
            let cycle = (timer.kind == TimerKind::Cycle).then_some(text);
            return Ok(due.map(|due| Wait::Timer { due, cycle }));
        }
        if let Some(message) = kind.message_catch() {
            let correlation = self.correlation_of(id, message, data, scripts)?;
            return Ok(Some(Wait::Message {
                name: message.name.clone(),
                correlation,
            }));
        }
        if let Some(signal) = kind.signal_catch() {
            return Ok(Some(Wait::Signal {
                name: signal.name.clone(),
            }));
        }
        if kind.condition().is_some() {
            return Ok(Some(Wait::Condition { view: data.clone() }));
        }
        Ok(None)
    }

    /// The waits of the events of `kind`, as [`Workflow::wait_for`]: one
    /// per definition of a multiple event, each for a waiter of its own.
    fn waits_for(
        &self,
        id: TaskId,
        kind: &NodeKind,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Vec<Wait>, Interrupt> {
        let Some(multiple) = kind.multiple() else {
            return Ok(self.wait_for(id, kind, data, scripts)?.into_iter().collect());
        };
        let mut waits = Vec::with_capacity(multiple.parts.len());
        for part in &multiple.parts {
            waits.extend(self.wait_for(id, part, data, scripts)?);
        }
        Ok(waits)
    }

    /// Waiter `waiter` waits for `wait` (beside `attached_to`, if given).
    /// Saved with the instance record, which every step writes.
    fn arm(&mut self, waiter: TaskId, attached_to: Option<TaskId>, wait: Wait) {
        match wait {
            Wait::Timer { due, cycle } => self.timers.insert(TimerRecord {
                task: waiter,
                due,
                attached_to,
                cycle,
                fired: 0,
            }),
            Wait::Message { name, correlation } => self.subscriptions.insert(Subscription {
                task: waiter,
                kind: Listen::Message,
                name,
                correlation,
                attached_to,
            }),
            Wait::Signal { name } => self.subscriptions.insert(Subscription {
                task: waiter,
                kind: Listen::Signal,
                name,
                correlation: BTreeMap::new(),
                attached_to,
            }),
            Wait::Condition { view } => self.watch(waiter, attached_to, view),
        }
    }

    /// A token reached catch event or receive task `id` (of `kind`): it
    /// waits for its event. A cycle that never fires lets the token through
    /// at once.
    pub(super) fn arm_catch(
        &mut self,
        id: TaskId,
        kind: &NodeKind,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        if kind.multiple().is_some() {
            // One waiter beside the token per definition (as after an
            // event-based gateway); see `trigger` for what each does.
            let waits = self.waits_for(id, kind, &data, scripts);
            self.task_mut(id).data = Some(data);
            let waits = waits.map_err(|i| (id, i))?;
            if waits.is_empty() {
                self.task_mut(id).state = TaskState::Started;
                self.queue.push_back(Step::Finish(id));
            } else {
                self.task_mut(id).state = TaskState::Waiting;
                let node = self.tasks[id].node;
                self.add_waiters(id, waits.into_iter().map(|wait| (node, None, wait)));
            }
            return Ok(());
        }
        let wait = self.wait_for(id, kind, &data, scripts);
        self.task_mut(id).data = Some(data);
        match wait.map_err(|i| (id, i))? {
            Some(wait) => {
                self.task_mut(id).state = TaskState::Waiting;
                self.arm(id, None, wait);
            }
            None => {
                self.task_mut(id).state = TaskState::Started;
                self.queue.push_back(Step::Finish(id));
            }
        }
        Ok(())
    }

    /// A token reached event-based gateway `id`: it waits there, and each
    /// catch its flows lead to gets a waiter, armed. The first to be
    /// triggered takes the token; the others are cancelled.
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
            match self.wait_for(id, &spec.nodes[target].kind, &data, scripts) {
                Ok(Some(wait)) => armed.push((target, Some(flow), wait)),
                Ok(None) => {}
                Err(interrupt) => {
                    self.task_mut(id).data = Some(data);
                    return Err((id, interrupt));
                }
            }
        }
        self.task_mut(id).data = Some(data);
        self.task_mut(id).state = TaskState::Waiting;
        self.add_waiters(id, armed);
        Ok(())
    }

    /// Waiters beside task `id` (an activity, an event-based gateway), one
    /// per `(node, flow it arrives by, wait)`, each armed.
    fn add_waiters(&mut self, id: TaskId, armed: impl IntoIterator<Item = (usize, Option<usize>, Wait)>) {
        let scope = self.tasks[id].scope;
        let branch = self.tasks[id].branch.clone();
        for (node, via, wait) in armed {
            let waiter = self.add_task(scope, node, via, None, branch.clone(), TaskState::Waiting);
            self.arm(waiter, Some(id), wait);
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

    /// The waiter of an event subprocess started by a timer or a message
    /// takes its first step: it is armed against the scope's data.
    pub(super) fn arm_event_subprocess(
        &mut self,
        id: TaskId,
        inner: &ProcessSpec,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let Some(&start) = inner.starts.first() else {
            return Ok(());
        };
        let scope = self.tasks[id].scope;
        let data = self.scope_data(scope);
        let mut waits = self
            .waits_for(id, &inner.nodes[start].kind, &data, scripts)
            .map_err(|i| (id, i))?
            .into_iter();
        self.task_mut(id).state = TaskState::Waiting;
        match waits.next() {
            Some(wait) => self.arm(id, None, wait),
            // Never fires: it goes.
            None => {
                self.scope_mut(scope).waiters.retain(|&w| w != id);
                self.cancel(id);
            }
        }
        // A multiple start event's other definitions get waiters of their own.
        let node = self.tasks[id].node;
        for wait in waits {
            let waiter = self.tasks.len();
            self.changes.tasks.insert(waiter);
            self.tasks.push(Task::new(
                waiter,
                scope,
                node,
                None,
                TaskState::Waiting,
                None,
                Vec::new(),
            ));
            self.scope_mut(scope).waiters.push(waiter);
            self.arm(waiter, None, wait);
        }
        Ok(())
    }

    /// Starts the event subprocess `node` of `scope` with the scope's data
    /// (and what a parallel multiple start gathered, and a message's
    /// payload), as a new task.
    fn start_event_subprocess(
        &mut self,
        scope: usize,
        node: usize,
        gathered: Map<String, Value>,
        payload: Option<Payload>,
    ) {
        let NodeKind::EventSubProcess(inner) = &self.scopes[scope].spec.nodes[node].kind else {
            return;
        };
        let inner = inner.clone();
        let mut data = self.scope_data(scope);
        merge(&mut data, gathered);
        if let Some(payload) = payload {
            receive(&mut data, payload);
        }
        let process = self.scopes[scope].process.clone();
        let task = self.add_task(scope, node, None, None, Vec::new(), TaskState::Ready);
        self.enter(task, inner, process, data);
    }

    /// Activity `id` starts: each of its timer and message boundary events
    /// gets a waiter, armed. Done once per activity run: a retried activity
    /// keeps the waiters it has.
    pub(super) fn arm_boundaries(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        let scope = self.tasks[id].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        // An instance's boundary events are its activity's, armed there.
        if self.scopes[scope].instances
            || !has_waiting_boundaries(node, &spec.nodes)
            || !self.timers.attached(id).is_empty()
            || !self.subscriptions.attached(id).is_empty()
            || !self.watches.attached(id).is_empty()
        {
            return Ok(());
        }
        let data = self.tasks[id].data.clone().unwrap_or_default();
        let mut armed = Vec::new();
        for &b in &node.boundaries {
            if !waits(&spec.nodes[b].kind) {
                continue;
            }
            let waits = (self.waits_for(id, &spec.nodes[b].kind, &data, scripts)).map_err(|i| (id, i))?;
            armed.extend(waits.into_iter().map(|wait| (b, None, wait)));
        }
        self.add_waiters(id, armed);
        Ok(())
    }

    /// Task `id` ends (completes or is cancelled): what it waited for goes,
    /// and so do the waiters beside it (CANCELLED).
    pub(super) fn disarm(&mut self, id: TaskId) {
        if !self.gathered.is_empty() {
            self.gathered.remove(&id);
        }
        if self.timers.is_empty() && self.subscriptions.is_empty() && self.watches.is_empty() {
            return;
        }
        self.timers.remove(id);
        self.subscriptions.remove(id);
        self.watches.remove(id);
        let mut beside = self.timers.attached(id);
        beside.extend(self.subscriptions.attached(id));
        beside.extend(self.watches.attached(id));
        for waiter in beside {
            self.timers.remove(waiter);
            self.subscriptions.remove(waiter);
            self.watches.remove(waiter);
            let scope = self.tasks[waiter].scope;
            self.scope_mut(scope).active.remove(&waiter);
            self.cancel(waiter);
        }
    }

    /// Waiter `waiter`'s event happened (see the module documentation); a
    /// message's `payload` goes into the data that moves on. Whether the
    /// waiter stays armed (a non-interrupting boundary event or event
    /// subprocess start): its record is the caller's to put back.
    pub(super) fn trigger(&mut self, waiter: TaskId, attached_to: Option<TaskId>, payload: Option<Payload>) -> bool {
        let scope = self.tasks[waiter].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[waiter].node];
        if let (NodeKind::MultipleCatchEvent(event), Some(token)) = (&node.kind, attached_to) {
            self.trigger_multiple_catch(waiter, token, event.parallel, payload);
            return false;
        }
        // A definition of a parallel multiple event waits for the others;
        // the last one fires the event, once, with what they all brought.
        let multiple = event_start(&node.kind)
            .map_or(&node.kind, |(start, _)| start)
            .multiple();
        let parallel = multiple.is_some_and(|m| m.parallel);
        let mut gathered = Map::new();
        let mut payload = payload;
        if parallel {
            match self.gather(waiter, attached_to, payload.take()) {
                Some(all) => gathered = all,
                None => return false,
            }
        }
        if let Some((_, interrupting)) = event_start(&node.kind) {
            let node = self.tasks[waiter].node;
            if interrupting {
                // The rest of the scope goes; the event subprocess runs in its place.
                self.scope_mut(scope).waiters.retain(|&w| w != waiter);
                self.task_mut(waiter).state = TaskState::Completed;
                let spec = self.node(waiter).id.clone();
                self.emit(EventKind::TaskCompleted { task: waiter, spec });
                self.terminate(scope);
                self.start_event_subprocess(scope, node, gathered, payload);
                return false;
            }
            self.start_event_subprocess(scope, node, gathered, payload);
            if parallel {
                self.retire_waiter(waiter);
            }
            return !parallel;
        }
        let interrupting = match &node.kind {
            NodeKind::TimerBoundaryEvent { interrupting, .. }
            | NodeKind::MessageBoundaryEvent { interrupting, .. }
            | NodeKind::SignalBoundaryEvent { interrupting, .. }
            | NodeKind::ConditionalBoundaryEvent { interrupting, .. }
            | NodeKind::MultipleBoundaryEvent { interrupting, .. } => *interrupting,
            // A catch's token moves on; after an event-based gateway, it
            // takes the gateway's token and the other catches are cancelled.
            _ => {
                if let Some(gateway) = attached_to {
                    let data = self.task_mut(gateway).data.take();
                    self.disarm(gateway);
                    self.scope_mut(scope).active.remove(&gateway);
                    self.task_mut(gateway).state = TaskState::Completed;
                    let spec = self.node(gateway).id.clone();
                    self.emit(EventKind::TaskCompleted { task: gateway, spec });
                    self.task_mut(waiter).data = data;
                }
                if let Some(payload) = payload {
                    receive(self.task_mut(waiter).data.get_or_insert_default(), payload);
                }
                self.task_mut(waiter).state = TaskState::Started;
                self.queue.push_back(Step::Finish(waiter));
                return false;
            }
        };
        let Some(activity) = attached_to else {
            return false;
        };
        let mut data = self.tasks[activity].data.clone().unwrap_or_default();
        merge(&mut data, gathered);
        if let Some(payload) = payload {
            receive(&mut data, payload);
        }
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
            return false;
        }
        // Non-interrupting: a new token on the boundary event's path.
        let branch = self.tasks[activity].branch.clone();
        let boundary = self.tasks[waiter].node;
        self.arrive(scope, boundary, None, data, branch);
        if parallel {
            // Its definitions are spent: it fires once per activity run.
            self.retire_waiter(waiter);
        }
        !parallel
    }

    /// Waiter `waiter` of one definition of the multiple catch event that
    /// holds `token` was triggered: its payload joins the token's data, and
    /// the token moves on, at once or, `parallel`, once every definition
    /// has happened. The other waiters go when the token does.
    fn trigger_multiple_catch(&mut self, waiter: TaskId, token: TaskId, parallel: bool, payload: Option<Payload>) {
        if let Some(payload) = payload {
            receive(self.task_mut(token).data.get_or_insert_default(), payload);
        }
        self.retire_waiter(waiter);
        if parallel && !self.armed_beside(waiter, Some(token)).is_empty() {
            return;
        }
        self.disarm(token);
        self.task_mut(token).state = TaskState::Started;
        self.queue.push_back(Step::Finish(token));
    }

    /// The other waiters of `waiter`'s node still armed beside `attached_to`
    /// (an activity, a catch's token) or, for an event subprocess's start,
    /// beside its scope.
    fn armed_beside(&self, waiter: TaskId, attached_to: Option<TaskId>) -> Vec<TaskId> {
        let node = self.tasks[waiter].node;
        let armed = |w: &TaskId| {
            self.timers.get(*w).is_some() || self.subscriptions.get(*w).is_some() || self.watches.get(*w).is_some()
        };
        let candidates = match attached_to {
            Some(at) => {
                let mut beside = self.timers.attached(at);
                beside.extend(self.subscriptions.attached(at));
                beside.extend(self.watches.attached(at));
                beside
            }
            None => self.scopes[self.tasks[waiter].scope].waiters.clone(),
        };
        (candidates.into_iter())
            .filter(|&w| w != waiter && self.tasks[w].node == node && armed(&w))
            .collect()
    }

    /// One definition of a parallel multiple event (boundary or event
    /// subprocess start) happened at `waiter`, bringing `payload`. If others
    /// are still armed, what the happened ones brought is kept with one of
    /// them and this waiter is done: `None`. Else all they brought.
    fn gather(
        &mut self,
        waiter: TaskId,
        attached_to: Option<TaskId>,
        payload: Option<Payload>,
    ) -> Option<Map<String, Value>> {
        let mut gathered = self.gathered.remove(&waiter).unwrap_or_default();
        if let Some(payload) = payload {
            receive(&mut gathered, payload);
        }
        let Some(&next) = self.armed_beside(waiter, attached_to).first() else {
            return Some(gathered);
        };
        let kept = self.gathered.entry(next).or_default();
        merge(kept, gathered);
        self.retire_waiter(waiter);
        None
    }

    /// A waiter whose event happened and that waits no more completes.
    fn retire_waiter(&mut self, waiter: TaskId) {
        let scope = self.scope_mut(self.tasks[waiter].scope);
        scope.active.remove(&waiter);
        scope.waiters.retain(|&w| w != waiter);
        self.task_mut(waiter).state = TaskState::Completed;
        let spec = self.node(waiter).id.clone();
        self.emit(EventKind::TaskCompleted { task: waiter, spec });
    }
}
