//! The index every kind of waiting event keeps (timers, message and signal
//! subscriptions, watched conditions): its records by waiter, and the
//! waiters beside each activity or gateway, which go when it does.

use std::collections::{BTreeMap, BTreeSet};

use super::TaskId;

/// A waiting event's record: which task waits, and beside which activity.
pub(super) trait Waiter {
    /// The waiting task.
    fn task(&self) -> TaskId;
    /// The activity (or event-based gateway) it waits beside, if any.
    fn attached_to(&self) -> Option<TaskId>;
}

/// Records of one kind, by waiter and by activity.
#[derive(Debug, Clone)]
pub(super) struct Waiters<R> {
    by_task: BTreeMap<TaskId, R>,
    /// (activity, waiter) of boundary events' and gateways' catches.
    by_activity: BTreeSet<(TaskId, TaskId)>,
}

impl<R> Default for Waiters<R> {
    fn default() -> Self {
        Waiters {
            by_task: BTreeMap::new(),
            by_activity: BTreeSet::new(),
        }
    }
}

impl<R: Waiter> Waiters<R> {
    /// Adds `record`, handing back the one it replaces (its waiter's earlier one).
    pub(super) fn insert(&mut self, record: R) -> Option<R> {
        let replaced = self.remove(record.task());
        if let Some(activity) = record.attached_to() {
            self.by_activity.insert((activity, record.task()));
        }
        self.by_task.insert(record.task(), record);
        replaced
    }

    pub(super) fn remove(&mut self, task: TaskId) -> Option<R> {
        let record = self.by_task.remove(&task)?;
        if let Some(activity) = record.attached_to() {
            self.by_activity.remove(&(activity, task));
        }
        Some(record)
    }

    pub(super) fn get(&self, task: TaskId) -> Option<&R> {
        self.by_task.get(&task)
    }

    /// The record of `task`, to change what is not indexed (never its task
    /// or activity).
    pub(super) fn get_mut(&mut self, task: TaskId) -> Option<&mut R> {
        self.by_task.get_mut(&task)
    }

    /// The waiters beside an activity or gateway.
    pub(super) fn attached(&self, activity: TaskId) -> Vec<TaskId> {
        (self.by_activity.range((activity, 0)..=(activity, TaskId::MAX)))
            .map(|&(_, waiter)| waiter)
            .collect()
    }

    /// Every record, by waiter.
    pub(super) fn records(&self) -> impl Iterator<Item = &R> {
        self.by_task.values()
    }

    /// Every record, by waiter, to change what is not indexed.
    pub(super) fn records_mut(&mut self) -> impl Iterator<Item = &mut R> {
        self.by_task.values_mut()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_task.is_empty()
    }
}

impl<R: Waiter> FromIterator<R> for Waiters<R> {
    fn from_iter<I: IntoIterator<Item = R>>(records: I) -> Self {
        let mut waiters = Waiters::default();
        for record in records {
            waiters.insert(record);
        }
        waiters
    }
}
