//! Timers: when an armed timer falls due, by the instance's clock, and
//! what firing one does to its waiter (see `waiting`).
//!
//! Time comes from the instance's clock ([`Workflow::set_now`]): the system
//! clock, or a fixed instant (`tick --now`, tests). A cycle that fell due
//! several times while nothing ran fires once, and its next occurrence is the
//! first after now.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt, answered};
use super::waiters::{Waiter, Waiters};
use super::{EventKind, TaskId, TaskState, Workflow};
use crate::bpmn::{Schedule, TimerDef, TimerKind};
use crate::script::{ScriptEngine, TaskInfo};

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
    waiters: Waiters<TimerRecord>,
    by_due: BTreeSet<(Timestamp, TaskId)>,
}

impl Waiter for TimerRecord {
    fn task(&self) -> TaskId {
        self.task
    }
    fn attached_to(&self) -> Option<TaskId> {
        self.attached_to
    }
}

impl Timers {
    pub(super) fn insert(&mut self, record: TimerRecord) {
        let due = (record.due, record.task);
        if let Some(old) = self.waiters.insert(record) {
            self.by_due.remove(&(old.due, old.task));
        }
        self.by_due.insert(due);
    }

    pub(super) fn remove(&mut self, task: TaskId) -> Option<TimerRecord> {
        let record = self.waiters.remove(task)?;
        self.by_due.remove(&(record.due, task));
        Some(record)
    }

    pub(super) fn get(&self, task: TaskId) -> Option<&TimerRecord> {
        self.waiters.get(task)
    }

    /// The waiters of an activity's boundary timers.
    pub(super) fn attached(&self, activity: TaskId) -> Vec<TaskId> {
        self.waiters.attached(activity)
    }

    /// The earliest due time.
    pub(super) fn next_due(&self) -> Option<Timestamp> {
        self.by_due.first().map(|&(due, _)| due)
    }

    /// Every timer, by waiter.
    pub(super) fn records(&self) -> impl Iterator<Item = &TimerRecord> {
        self.waiters.records()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiters.is_empty()
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
pub(super) fn whole_millisecond(at: Timestamp) -> Timestamp {
    let ms = at.as_millisecond();
    let down = Timestamp::from_millisecond(ms).unwrap_or(at);
    if down < at {
        Timestamp::from_millisecond(ms + 1).unwrap_or(at)
    } else {
        down
    }
}

/// When `timer` first falls due if armed at `now` for the task `info`
/// describes, with `data`, and its value: an expression is evaluated in the
/// sandbox, and its result must read as the timer's kind. `None`: a cycle
/// that never fires.
pub(super) fn first_due(
    timer: &TimerDef,
    info: &TaskInfo,
    data: &Map<String, Value>,
    scripts: &ScriptEngine,
    now: Timestamp,
) -> Result<(Option<Timestamp>, String), Interrupt> {
    let invalid = |message: String| {
        Interrupt::Fail(Cause::Engine {
            reason: "invalid_timer",
            message,
        })
    };
    let text = if timer.expression {
        let outcome = answered(scripts.evaluate(info, &timer.text, data)).map_err(|i| {
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
    let due = schedule.first_due(now).map_err(invalid)?;
    Ok((due.map(whole_millisecond), text))
}

/// The occurrence after `due` (and after `now`) of a cycle that has fired
/// `fired` times, if it has one: a value that is not a cycle, or a cycle
/// whose repetitions are spent or past its end, has none.
pub(super) fn next_occurrence(cycle: Option<&str>, fired: u32, due: Timestamp, now: Timestamp) -> Option<Timestamp> {
    match Schedule::parse(TimerKind::Cycle, cycle?) {
        Ok(Schedule::Cycle(cycle)) if cycle.repetitions.is_none_or(|n| fired < n) => {
            cycle.next_after(due, now).ok().flatten().map(whole_millisecond)
        }
        _ => None,
    }
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

    /// When `timer` first falls due, armed now for task `id` with `data`
    /// (see [`first_due`]).
    pub(super) fn schedule(
        &self,
        id: TaskId,
        timer: &TimerDef,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(Option<Timestamp>, String), Interrupt> {
        first_due(timer, &self.task_info(id), data, scripts, self.now())
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

    /// Fires waiter `waiter`'s timer (see `waiting`); a non-interrupting
    /// one is armed again for a cycle's next occurrence.
    fn fire(&mut self, waiter: TaskId, now: Timestamp) {
        let Some(record) = self.timers.remove(waiter) else {
            return;
        };
        let spec = self.node(waiter).id.clone();
        self.emit(EventKind::TimerFired {
            task: waiter,
            spec,
            due: record.due,
        });
        if self.trigger(waiter, record.attached_to, None) {
            let scope = self.tasks[waiter].scope;
            self.rearm_or_retire(record, now, scope, waiter);
        }
    }

    /// A non-interrupting timer fired: a cycle is armed for its next
    /// occurrence; anything else is done, and its waiter completes.
    fn rearm_or_retire(&mut self, mut record: TimerRecord, now: Timestamp, scope: usize, waiter: TaskId) {
        record.fired += 1;
        let next = next_occurrence(record.cycle.as_deref(), record.fired, record.due, now);
        match next {
            Some(due) => {
                record.due = due;
                self.timers.insert(record);
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
