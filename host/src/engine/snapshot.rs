//! Instances as plain data: what a store saves and loads.
//!
//! A snapshot refers to its process by id and to spec nodes by index; it
//! never embeds the spec, which the store keeps once per diagram. Completed
//! tasks carry no data (their data moved on), so a finished 1,000-task
//! instance stays small. The format is versioned; loading another version is
//! a clear error, never a guess.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::conditions::{WatchRecord, Watches, condition_of};
use super::messages::{Outgoing, Subscription, Subscriptions};
use super::timers::{Clock, Timers};
use super::waiting::event_start;
use super::{
    AbstractTasks, Compensations, Completion, Fanout, Halt, Scope, Status, Step, Task, TaskFailure, TaskId, TaskList,
    TaskState, TimerRecord, Undo, Workflow,
};
use crate::bpmn::{FlowIdx, Library, NodeIdx, NodeKind, ProcessSpec};

/// The snapshot format this build writes and reads.
pub const FORMAT: u32 = 1;

/// A whole instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The instance-level state.
    #[serde(flatten)]
    pub instance: InstanceRecord,
    /// Every task, in id order.
    pub tasks: Vec<TaskRecord>,
    /// Every scope, in creation order.
    pub scopes: Vec<ScopeRecord>,
}

/// The instance-level part of a snapshot: small, saved after every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The instance id.
    pub id: String,
    /// The root process id.
    pub process: String,
    /// Where it stands.
    pub status: Status,
    /// The final data once completed (before that, the start data is kept
    /// with the root scope: this record is saved after every step, and the
    /// start data may be large).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
    /// The failure that stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskFailure>,
    /// Where it halted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt: Option<Halt>,
    /// The steps still to take, in order.
    pub queue: Vec<StepRecord>,
    /// Its armed timers, by waiting task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<TimerRecord>,
    /// What its message catches wait for, by waiting task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
    /// Its waiting conditional events, by waiting task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watches: Vec<WatchRecord>,
    /// Messages thrown here that nothing here waited for, not yet delivered elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Outgoing>,
    /// Its compensation state: the completion count and the runs under way.
    #[serde(default, skip_serializing_if = "Compensations::is_empty")]
    pub compensation: Compensations,
    /// What the definitions of parallel multiple events that happened
    /// brought, kept with a waiter of one still to happen: `[task, data]`
    /// pairs (JSON keys would be strings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gathered: Vec<(TaskId, Map<String, Value>)>,
    /// Whether its abstract tasks wait to be completed.
    #[serde(default, skip_serializing_if = "is_pass")]
    pub abstract_tasks: AbstractTasks,
}

fn is_pass(mode: &AbstractTasks) -> bool {
    *mode == AbstractTasks::Pass
}

/// A queued step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepRecord {
    /// Run a READY task.
    Execute(TaskId),
    /// Complete a STARTED task whose work is done.
    Finish(TaskId),
    /// Run READY tasks `[first, first + count)`, in order: how a fork or
    /// a multi-instance activity's many queued tasks are saved, so that an
    /// instance record stays small however many are queued.
    Executes(TaskId, usize),
}

/// The queue as saved: runs of consecutive tasks to run are one record.
fn queue_records(steps: impl Iterator<Item = Step>) -> Vec<StepRecord> {
    let mut records: Vec<StepRecord> = Vec::new();
    for step in steps {
        let last = records.last_mut();
        match (step, last) {
            (Step::Execute(id), Some(StepRecord::Execute(first))) if id == *first + 1 => {
                *records.last_mut().unwrap() = StepRecord::Executes(id - 1, 2);
            }
            (Step::Execute(id), Some(StepRecord::Executes(first, count))) if id == *first + *count => *count += 1,
            (step, _) => records.push(StepRecord::from(step)),
        }
    }
    records
}

/// The queue a saved one stands for.
fn queue_steps(records: Vec<StepRecord>, tasks: usize) -> Result<VecDeque<Step>, RestoreError> {
    let mut queue = VecDeque::with_capacity(records.len());
    for record in records {
        match record {
            StepRecord::Execute(id) => queue.push_back(Step::Execute(id)),
            StepRecord::Finish(id) => queue.push_back(Step::Finish(id)),
            StepRecord::Executes(first, count) => {
                if first.checked_add(count).is_none_or(|end| end > tasks) {
                    return Err(RestoreError::Mismatch(format!(
                        "the queue names tasks {first} and on, which the instance does not have"
                    )));
                }
                queue.extend((first..first + count).map(Step::Execute));
            }
        }
    }
    Ok(queue)
}

/// One task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Its id.
    pub id: TaskId,
    /// Its scope's index.
    pub scope: usize,
    /// Its node's index in the scope's spec.
    pub node: NodeIdx,
    /// The flow it arrived by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<FlowIdx>,
    /// Its state.
    pub state: TaskState,
    /// Its data, while it holds any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    /// The scope it opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<usize>,
    /// Its plugin's log.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// Its branch (the fork ordinals that led to it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branch: Vec<u32>,
    /// What it completed with, while it may still be compensated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensable: Option<Completion>,
    /// The passes of its standard loop it has completed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub passes: u32,
    /// Its index among the instances of a multi-instance activity.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub index: u32,
    /// Where the instances of a multi-instance activity stand, while they run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Fanout>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One scope: a process, subprocess or call execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeRecord {
    /// The task that opened it; none for the instance's own. Its spec follows from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<TaskId>,
    /// The process id reported to plugins.
    pub process: String,
    /// Tasks holding a token in it.
    pub active: Vec<TaskId>,
    /// Tokens waiting at joins: (join node, tasks in arrival order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<(NodeIdx, Vec<TaskId>)>,
    /// End data gathered so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_data: Option<Map<String, Value>>,
    /// Ended tokens not yet merged: (branch, data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends: Vec<(Vec<u32>, Map<String, Value>)>,
    /// The waiters of its timer-started event subprocesses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiters: Vec<TaskId>,
    /// It holds the instances of its owner, a multi-instance activity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub instances: bool,
    /// The values of its data objects.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data_objects: Map<String, Value>,
    /// The root scope of an instance not yet completed: its start data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_data: Option<Map<String, Value>>,
}

/// What changed since the last [`Workflow::take_changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Changed or new tasks.
    pub tasks: BTreeSet<TaskId>,
    /// Changed or new scopes.
    pub scopes: BTreeSet<usize>,
    /// The itemized changes were dropped ([`Workflow::run`] does): anything may
    /// have changed, so a store must write the whole instance.
    pub all: bool,
}

/// Why a snapshot cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Written by another version of the format.
    #[error(
        "instance format {found} is not supported by this wasmflow (it reads format {FORMAT}); use the wasmflow version that wrote it"
    )]
    Format {
        /// The version found.
        found: u32,
    },
    /// The snapshot does not fit the diagrams it names.
    #[error("the saved instance does not match its diagrams: {0}")]
    Mismatch(String),
}

impl Workflow {
    /// The instance-level state (saved after every step).
    pub fn instance_record(&self) -> InstanceRecord {
        InstanceRecord {
            format: FORMAT,
            id: self.id.clone(),
            process: self.process.clone(),
            status: self.status,
            data: if self.status == Status::Completed {
                self.data.clone()
            } else {
                Map::new()
            },
            error: self.error.clone(),
            halt: self.halt.clone(),
            // Calls running on the pool are saved as queued: after a crash
            // they run again (at least once), like any step in flight.
            queue: queue_records(
                (self.in_flight.iter())
                    .map(|&id| Step::Execute(id))
                    .chain(self.queue.iter().copied()),
            ),
            timers: self.timers.records().cloned().collect(),
            subscriptions: self.subscriptions.records().cloned().collect(),
            watches: self.watches.records().cloned().collect(),
            outbox: self.outbox.clone(),
            compensation: self.compensation.clone(),
            gathered: (self.gathered.iter()).map(|(&t, data)| (t, data.clone())).collect(),
            abstract_tasks: self.abstract_tasks,
        }
    }

    /// One task as saved.
    pub fn task_record(&self, id: TaskId) -> TaskRecord {
        let task = &self.tasks[id];
        TaskRecord {
            id,
            scope: task.scope,
            node: task.node,
            via: task.via,
            state: task.state,
            data: task.data.clone(),
            child: task.child,
            log: task.log.clone(),
            branch: task.branch.clone(),
            compensable: task.compensable.as_deref().cloned(),
            passes: task.passes,
            index: task.index,
            fanout: task.fanout.as_deref().cloned(),
        }
    }

    /// One scope as saved.
    pub fn scope_record(&self, index: usize) -> ScopeRecord {
        let scope = &self.scopes[index];
        let mut joins: Vec<_> = scope.joins.iter().map(|(&node, tasks)| (node, tasks.clone())).collect();
        joins.sort_unstable_by_key(|(node, _)| *node);
        ScopeRecord {
            owner: scope.owner,
            process: scope.process.clone(),
            // An instances scope's tokens follow from its tasks' states: a
            // step of one instance does not save the list of all the others.
            active: if scope.instances {
                Vec::new()
            } else {
                scope.active.iter().copied().collect()
            },
            joins,
            end_data: scope.end_data.clone(),
            ends: scope.ends.clone(),
            waiters: scope.waiters.clone(),
            instances: scope.instances,
            data_objects: scope.data_objects.clone(),
            start_data: (index == 0 && self.status != Status::Completed).then(|| self.data.clone()),
        }
    }

    /// The whole instance.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            instance: self.instance_record(),
            tasks: (0..self.tasks.len()).map(|id| self.task_record(id)).collect(),
            scopes: (0..self.scopes.len()).map(|index| self.scope_record(index)).collect(),
        }
    }

    /// How many tasks the instance has had.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// How many scopes (process, subprocess and call executions) the instance has had.
    pub fn scope_count(&self) -> usize {
        self.scopes.len()
    }

    /// What changed since the last call (or since the instance was started or restored).
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Rebuilds an instance from a snapshot, against the diagrams it was started from.
    pub fn restore(library: Arc<Library>, snapshot: Snapshot) -> Result<Workflow, RestoreError> {
        let Snapshot {
            instance,
            tasks,
            scopes,
        } = snapshot;
        if instance.format != FORMAT {
            return Err(RestoreError::Format { found: instance.format });
        }
        let mismatch = |what: String| RestoreError::Mismatch(what);
        let root = library
            .process(&instance.process)
            .cloned()
            .ok_or_else(|| mismatch(format!("no process `{}` in the saved diagrams", instance.process)))?;
        let mut tasks: TaskList = tasks
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                if record.id != index {
                    return Err(mismatch(format!("task {} is saved at position {index}", record.id)));
                }
                Ok(Task {
                    id: record.id,
                    scope: record.scope,
                    node: record.node,
                    via: record.via,
                    state: record.state,
                    data: record.data,
                    child: record.child,
                    log: record.log,
                    branch: record.branch,
                    compensable: record.compensable.map(Box::new),
                    passes: record.passes,
                    index: record.index,
                    fanout: record.fanout.map(Box::new),
                })
            })
            .collect::<Result<_, _>>()?;

        // A scope's spec follows from its owner: the root process, the inside of
        // a subprocess node, or the process a call activity names. Owners always
        // belong to earlier scopes, so one pass in order resolves them all.
        let mut rebuilt: Vec<Scope> = Vec::with_capacity(scopes.len());
        let mut start_data = None;
        for (index, mut record) in scopes.into_iter().enumerate() {
            if index == 0 {
                start_data = record.start_data.take();
            }
            let spec: Arc<ProcessSpec> = match record.owner {
                None => root.clone(),
                Some(owner) => {
                    let task = tasks.get(owner).ok_or_else(|| {
                        mismatch(format!("scope {index} names owner task {owner}, which does not exist"))
                    })?;
                    let parent = rebuilt
                        .get(task.scope)
                        .ok_or_else(|| mismatch(format!("scope {index}'s owner is in a later scope")))?;
                    let node = parent.spec.nodes.get(task.node).ok_or_else(|| {
                        mismatch(format!("task {owner} names node {} of a smaller process", task.node))
                    })?;
                    match &node.kind {
                        _ if record.instances => {
                            if node.multi.is_none() {
                                return Err(mismatch(format!(
                                    "scope {index} holds instances of task {owner}, which is not a multi-instance activity"
                                )));
                            }
                            parent.spec.clone()
                        }
                        NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) => inner.clone(),
                        NodeKind::CallActivity { called_element } => {
                            library.process(called_element).cloned().ok_or_else(|| {
                                mismatch(format!(
                                    "called process `{called_element}` is not in the saved diagrams"
                                ))
                            })?
                        }
                        other => return Err(mismatch(format!("scope {index}'s owner is a {}", other.element_name()))),
                    }
                }
            };
            rebuilt.push(Scope {
                spec,
                process: record.process,
                owner: record.owner,
                active: record.active.into_iter().collect(),
                joins: record.joins.into_iter().collect::<HashMap<_, _>>(),
                end_data: record.end_data,
                ends: record.ends,
                waiters: record.waiters,
                compensable: Vec::new(),
                instances: record.instances,
                data_objects: record.data_objects,
            });
        }
        for (index, scope) in rebuilt.iter().enumerate() {
            let joined = scope.joins.values().flatten();
            if let Some(bad) = scope
                .active
                .iter()
                .chain(joined)
                .chain(&scope.waiters)
                .find(|&&id| tasks.get(id).is_none_or(|t| t.scope != index))
            {
                return Err(mismatch(format!(
                    "scope {index} holds task {bad}, which is not one of its tasks"
                )));
            }
        }
        for task in tasks.iter() {
            let scope = rebuilt.get(task.scope).ok_or_else(|| {
                mismatch(format!(
                    "task {} is in scope {}, which does not exist",
                    task.id, task.scope
                ))
            })?;
            if task.node >= scope.spec.nodes.len() || task.via.is_some_and(|f| f >= scope.spec.flows.len()) {
                return Err(mismatch(format!(
                    "task {} names a node or flow that process `{}` does not have",
                    task.id, scope.spec.id
                )));
            }
        }
        // What an instances scope's tokens are, and where a multi-instance
        // activity's instances stand, follow from the instance tasks.
        for id in 0..tasks.len() {
            let scope = tasks[id].scope;
            if !rebuilt[scope].instances {
                continue;
            }
            let (state, index) = (tasks[id].state, tasks[id].index as usize);
            if state.is_active() {
                rebuilt[scope].active.insert(id);
            }
            let Some(owner) = rebuilt[scope].owner else { continue };
            if tasks[owner].child != Some(scope) {
                continue;
            }
            if let Some(fanout) = tasks[owner].fanout.as_deref_mut() {
                if fanout.made.len() <= index {
                    fanout.made.resize(index + 1, TaskId::MAX);
                }
                fanout.made[index] = id;
                match state {
                    TaskState::Completed => fanout.completed += 1,
                    TaskState::Cancelled => fanout.cancelled += 1,
                    _ => {}
                }
            }
        }
        if let Some(owner) = (tasks.iter()).find(|t| t.fanout.as_ref().is_some_and(|f| f.made.contains(&TaskId::MAX))) {
            return Err(mismatch(format!(
                "multi-instance activity task {} lacks some of its instances",
                owner.id
            )));
        }
        // Each scope's compensable tasks, in completion order.
        let mut completed: Vec<(u64, TaskId)> = (tasks.iter())
            .filter_map(|task| task.compensable.as_ref().map(|c| (c.seq, task.id)))
            .collect();
        completed.sort_unstable();
        for (_, id) in completed {
            rebuilt[tasks[id].scope].compensable.push(id);
        }
        let queue = queue_steps(instance.queue, tasks.len())?;
        if let Some(bad) = queue.iter().map(|step| step.task()).find(|&id| id >= tasks.len()) {
            return Err(mismatch(format!("the queue names task {bad}, which does not exist")));
        }
        for timer in &instance.timers {
            let names_timer = |id: TaskId| {
                tasks.get(id).is_some_and(|task| {
                    let kind = &rebuilt[task.scope].spec.nodes[task.node].kind;
                    kind.timer().is_some() || event_start(kind).is_some_and(|(start, _)| start.timer().is_some())
                })
            };
            if !names_timer(timer.task) || timer.attached_to.is_some_and(|a| tasks.get(a).is_none()) {
                return Err(mismatch(format!(
                    "a timer names task {}, which is not a timer event's task",
                    timer.task
                )));
            }
        }
        for subscription in &instance.subscriptions {
            let names_catch = |id: TaskId| {
                tasks.get(id).is_some_and(|task| {
                    let kind = &rebuilt[task.scope].spec.nodes[task.node].kind;
                    let catches = |kind: &NodeKind| kind.message_catch().is_some() || kind.signal_catch().is_some();
                    catches(kind) || event_start(kind).is_some_and(|(start, _)| catches(start))
                })
            };
            if !names_catch(subscription.task) || subscription.attached_to.is_some_and(|a| tasks.get(a).is_none()) {
                return Err(mismatch(format!(
                    "a subscription names task {}, which is not a message or signal catch's task",
                    subscription.task
                )));
            }
        }
        for watch in &instance.watches {
            let names_condition = |id: TaskId| {
                tasks.get(id).is_some_and(|task| {
                    let kind = &rebuilt[task.scope].spec.nodes[task.node].kind;
                    condition_of(kind).is_some()
                })
            };
            if !names_condition(watch.task) || watch.attached_to.is_some_and(|a| tasks.get(a).is_none()) {
                return Err(mismatch(format!(
                    "a watched condition names task {}, which is not a conditional event's task",
                    watch.task
                )));
            }
        }
        for run in &instance.compensation.runs {
            let fits = |undo: &Undo| {
                rebuilt
                    .get(undo.scope)
                    .is_some_and(|s| undo.handler < s.spec.nodes.len())
                    && undo.activity < tasks.len()
            };
            if run.thrower >= tasks.len()
                || run.running.is_some_and(|h| h >= tasks.len())
                || !run.pending.iter().all(fits)
            {
                return Err(mismatch(format!(
                    "a compensation run of task {} names tasks, scopes or handlers the instance does not have",
                    run.thrower
                )));
            }
        }
        if let Some(&(task, _)) = instance.gathered.iter().find(|(t, _)| *t >= tasks.len()) {
            return Err(mismatch(format!(
                "what a parallel multiple event gathered is kept with task {task}, which the instance does not have"
            )));
        }
        Ok(Workflow {
            id: instance.id,
            library,
            tasks,
            scopes: rebuilt,
            queue,
            data: match (instance.status, start_data) {
                (Status::Completed, _) | (_, None) => instance.data,
                (_, Some(start)) => start,
            },
            status: instance.status,
            error: instance.error,
            halt: instance.halt,
            process: instance.process,
            changes: Changes::default(),
            events: Vec::new(),
            in_flight: Vec::new(),
            timers: instance.timers.into_iter().collect::<Timers>(),
            subscriptions: instance.subscriptions.into_iter().collect::<Subscriptions>(),
            watches: instance.watches.into_iter().collect::<Watches>(),
            compensation: instance.compensation,
            gathered: instance.gathered.into_iter().collect(),
            outbox: instance.outbox,
            clock: Clock::System,
            abstract_tasks: instance.abstract_tasks,
        })
    }
}

impl Step {
    fn task(self) -> TaskId {
        match self {
            Step::Execute(id) | Step::Finish(id) => id,
        }
    }
}

impl From<Step> for StepRecord {
    fn from(step: Step) -> Self {
        match step {
            Step::Execute(id) => StepRecord::Execute(id),
            Step::Finish(id) => StepRecord::Finish(id),
        }
    }
}
