//! Conditional events: a waiter (see `waiting`) whose condition is
//! evaluated in the sandbox when it starts waiting, and again whenever a
//! variable the condition names changes in the data it watches; it fires
//! when the condition comes to hold.
//!
//! What a waiter watches, its *view*, starts as the data it waits with (a
//! catch's token data, a boundary event's activity data, an event
//! subprocess's scope data) and is kept as the waiter task's data. Every
//! change a task makes to its data is applied to the views along its line of
//! scopes: of conditions waiting in its own scope, in the scopes around it
//! (whose data it inherited) and in the scopes inside it. So a parallel
//! branch that sets `approved` makes a boundary event's `approved` condition
//! fire while the activity still waits, though the branches' tokens meet
//! only at the join.
//!
//! When it fires, the path it starts carries the view (for a boundary event
//! or event subprocess, merged into the data it would otherwise carry). A
//! non-interrupting event fires again only once its condition has been false
//! in between, as BPMN describes (the condition must *become* true).
//!
//! Conditions are evaluated again, whatever changed, when the instance is
//! resumed and at each `tick` (for conditions that read the clock). A
//! condition that reads a variable the data does not hold yet does not hold;
//! one that fails otherwise stops the instance at its waiter with the error,
//! as a gateway's condition would, and `retry` evaluates it again.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt, answered};
use super::messages::Payload;
use super::waiters::{Waiter, Waiters};
use super::waiting::event_start;
use super::{EventKind, TaskId, TaskState, Workflow, truthy};
use crate::bpmn::{ConditionEvent, NodeKind};
use crate::script::ScriptEngine;

/// A waiting conditional event, as saved with its instance. Its view is
/// its waiter's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    /// The waiter: the WAITING task of the conditional event.
    pub task: TaskId,
    /// The activity of a boundary event's waiter, or the event-based gateway
    /// a catch after it waits beside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<TaskId>,
    /// Whether the condition held when last evaluated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// Whether it is to be evaluated (it has not been since its view changed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// An instance's waiting conditional events, by waiter and by activity.
pub(super) type Watches = Waiters<WatchRecord>;

impl Waiter for WatchRecord {
    fn task(&self) -> TaskId {
        self.task
    }
    fn attached_to(&self) -> Option<TaskId> {
        self.attached_to
    }
}

impl Watches {
    /// The first waiter to evaluate, its stale mark cleared.
    fn take_stale(&mut self) -> Option<WatchRecord> {
        let record = self.records_mut().find(|r| r.stale)?;
        record.stale = false;
        Some(record.clone())
    }

    fn any_stale(&self) -> bool {
        self.records().any(|r| r.stale)
    }
}

/// The condition a conditional waiter's node waits on: its own, or its
/// event subprocess's start event's.
pub(super) fn condition_of(kind: &NodeKind) -> Option<&ConditionEvent> {
    kind.condition()
        .or_else(|| event_start(kind).and_then(|(start, _)| start.condition()))
}

/// What `after` changed from `before`: each variable set to a new value,
/// and each removed (`None`).
fn changes(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<(String, Option<Value>)> {
    let mut changed: Vec<(String, Option<Value>)> = (after.iter())
        .filter(|(key, value)| before.get(*key) != Some(value))
        .map(|(key, value)| (key.clone(), Some(value.clone())))
        .collect();
    changed.extend(
        (before.keys())
            .filter(|key| !after.contains_key(*key))
            .map(|key| (key.clone(), None)),
    );
    changed
}

/// Whether a condition failed for reading a variable its view does not
/// hold yet: such a condition does not hold (yet), rather than fail, so that
/// an event subprocess can wait for a variable that a later task sets. The
/// interpreter names the variable in its message (`` Variable `x` not found
/// ``, `name 'x' is not defined`); the name must also be one the condition
/// mentions and the view lacks, so no other failure is taken for this one.
fn reads_unset(interrupt: &Interrupt, condition: &ConditionEvent, view: &Map<String, Value>) -> bool {
    let Interrupt::Fail(Cause::Script(error)) = interrupt else {
        return false;
    };
    (condition.names.iter())
        .filter(|name| !view.contains_key(name.as_str()))
        .any(|name| error.message.contains(&format!("`{name}`")) || error.message.contains(&format!("'{name}'")))
}

impl Workflow {
    /// Whether any conditional event waits: only then are the changes
    /// tasks make to their data worked out.
    pub(super) fn watching(&self) -> bool {
        !self.watches.is_empty()
    }

    /// Waiter `waiter` starts watching `view` (beside `attached_to`, if
    /// given); it is evaluated after the step.
    pub(super) fn watch(&mut self, waiter: TaskId, attached_to: Option<TaskId>, view: Map<String, Value>) {
        self.task_mut(waiter).data = Some(view);
        self.watches.insert(WatchRecord {
            task: waiter,
            attached_to,
            held: false,
            stale: true,
        });
    }

    /// Task `id` changed its data from `before` to `after`: the views it
    /// reaches take the changes, and the conditions naming a changed
    /// variable are to be evaluated again.
    pub(super) fn observe(&mut self, id: TaskId, before: &Map<String, Value>, after: &Map<String, Value>) {
        if !self.watching() {
            return;
        }
        let changed = changes(before, after);
        if changed.is_empty() {
            return;
        }
        let from = self.lineage(self.tasks[id].scope);
        let waiters: Vec<TaskId> = self.watches.records().map(|r| r.task).collect();
        for waiter in waiters {
            let scope = self.tasks[waiter].scope;
            if waiter == id || !(from.contains(&scope) || self.lineage(scope).contains(&self.tasks[id].scope)) {
                continue;
            }
            let Some(condition) = condition_of(&self.node(waiter).kind) else {
                continue;
            };
            let wakes = changed.iter().any(|(name, _)| condition.mentions(name));
            let view = self.task_mut(waiter).data.get_or_insert_default();
            for (name, value) in &changed {
                match value {
                    Some(value) => view.insert(name.clone(), value.clone()),
                    None => view.remove(name),
                };
            }
            if wakes && let Some(record) = self.watches.get_mut(waiter) {
                record.stale = true;
            }
        }
    }

    /// A scope and the scopes around it, innermost first.
    fn lineage(&self, scope: usize) -> Vec<usize> {
        let mut line = vec![scope];
        let mut at = scope;
        while let Some(owner) = self.scopes[at].owner {
            at = self.tasks[owner].scope;
            line.push(at);
        }
        line
    }

    /// Has every waiting condition evaluated again at the next run (as
    /// `resume` and `tick` do, for conditions that read the clock): whether
    /// the instance has any.
    pub fn recheck_conditions(&mut self) -> bool {
        let waiters: Vec<TaskId> = self.watches.records().map(|r| r.task).collect();
        for waiter in &waiters {
            if let Some(record) = self.watches.get_mut(*waiter) {
                record.stale = true;
            }
        }
        !waiters.is_empty()
    }

    /// Whether a waiting condition is to be evaluated.
    pub(super) fn conditions_stale(&self) -> bool {
        self.watches.any_stale()
    }

    /// Evaluates the conditions whose views changed, and fires those that
    /// came to hold. A condition that cannot be evaluated stops the instance
    /// at its waiter.
    pub(super) fn evaluate_conditions(&mut self, scripts: &ScriptEngine) {
        while !self.is_stopped()
            && let Some(mut record) = self.watches.take_stale()
        {
            let waiter = record.task;
            let Some(condition) = condition_of(&self.node(waiter).kind).cloned() else {
                self.watches.remove(waiter);
                continue;
            };
            let empty = Map::new();
            let view = self.tasks[waiter].data.as_ref().unwrap_or(&empty);
            let held = match answered(scripts.evaluate(&self.task_info(waiter), &condition.expression, view)) {
                Ok(outcome) => truthy(&outcome.value),
                Err(interrupt) if reads_unset(&interrupt, &condition, view) => false,
                Err(interrupt) => {
                    let interrupt = interrupt
                        .within(&format!("condition `{}`", condition.expression))
                        .at_line(condition.line);
                    self.stop(waiter, interrupt);
                    return;
                }
            };
            let fires = held && !record.held;
            record.held = held;
            if !fires {
                self.watches.insert(record);
                continue;
            }
            let spec = self.node(waiter).id.clone();
            self.emit(EventKind::ConditionMet {
                task: waiter,
                spec,
                condition: condition.expression.clone(),
            });
            self.watches.remove(waiter);
            let view = self.tasks[waiter].data.clone().unwrap_or_default();
            let payload = Payload {
                variable: None,
                value: Value::Object(view),
            };
            if self.trigger(waiter, record.attached_to, Some(payload)) {
                // Non-interrupting: it waits for the condition to become true again.
                self.watches.insert(record);
            }
        }
    }

    /// A conditional waiter in ERROR runs again (`retry`): it waits, and its
    /// condition is evaluated again. Whether `id` is one.
    pub(super) fn rewatch(&mut self, id: TaskId) -> bool {
        let Some(record) = self.watches.get_mut(id) else {
            return false;
        };
        record.stale = true;
        self.task_mut(id).state = TaskState::Waiting;
        true
    }
}
