//! The workflow engine: instances of process specs, their tasks and the step loop.
//!
//! An instance moves *tokens*: each token is a task that holds the data that
//! reached its node. Tasks that can run sit in a ready queue, so the cost of a
//! step does not depend on how many tasks ran before, and nothing recurses on
//! the size of the diagram or the number of iterations: a 100,000-task chain
//! or a 100,000-iteration loop runs in constant stack.
//!
//! Every execution of a process, embedded subprocess or called process is a
//! *scope*; a scope ends when it holds no more tokens, and hands its end data
//! back to the task that opened it.
//!
//! Where each part lives:
//! - this file: the [`Workflow`] API (start, inspect, complete, retry, resume, restart, run);
//! - `run`: the step loop, the one place steps are taken, whether
//!   plugin work runs on this thread or on a pool;
//! - `step`: what one step does to one task (run it, finish it);
//! - `jobs`: script and service tasks' plugin work, which may run on another thread;
//! - `hooks`: pre- and post-scripts;
//! - `tokens`: token movement (arrive, advance, join, end) and scopes;
//! - `routing`: which flows a token takes and when a join fires;
//! - `catching`: thrown events (BPMN errors) and the catch events that match them;
//! - `compensation`: undoing completed activities, and cancelling transactions;
//! - `loops`: standard loops, an activity run pass after pass;
//! - `multi`: multi-instance activities, an activity run once per instance;
//! - `data_objects`: values a scope's tasks share through data associations;
//! - `waiting`, `timers`, `messages`, `conditions`: what instances wait for,
//!   each indexed by `waiters`;
//! - `failure`: why a task did not complete, and the failure it is reported as.

mod catching;
mod compensation;
mod conditions;
mod data;
mod data_objects;
mod event;
mod failure;
mod hooks;
mod jobs;
mod loops;
mod messages;
mod multi;
mod routing;
mod run;
mod snapshot;
mod start_timers;
mod status;
mod step;
mod task;
mod timers;
mod tokens;
mod waiters;
mod waiting;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use catching::payload_variable;
pub use compensation::{COMPENSATED, CompensationRun, Compensations, Completion, Undo};
pub use conditions::WatchRecord;
use conditions::Watches;
pub use data::{merge, truthy};
pub use event::{Event, EventKind};
pub use failure::TaskFailure;
use messages::Subscriptions;
pub use messages::{DeliveryError, Listen, Message, Outgoing, Signal, Subscription, correlation_text};
pub use multi::{Fanout, MAX_CARDINALITY};
use run::Step;
pub use snapshot::{Changes, FORMAT, InstanceRecord, RestoreError, ScopeRecord, Snapshot, TaskRecord};
pub use start_timers::StartTimer;
use task::TaskList;
pub use task::{AbstractTasks, Task, TaskId, TaskState, TaskView};
pub use timers::TimerRecord;
use timers::{Clock, Timers};
use tokens::Scope;

use crate::bpmn::{Library, NodeIdx, NodeKind, ProcessSpec};
use crate::script::{ScriptEngine, TaskInfo};

/// Where an instance stands (spelled in [`status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// It has tasks that can run.
    Running,
    /// Nothing can run until something outside completes a task.
    Waiting,
    /// Its process ended.
    Completed,
    /// A task failed; see [`Workflow::error`].
    Error,
    /// A plugin halted the instance at a task; see [`Workflow::halt`] and
    /// [`Workflow::resume_halted`].
    Halted,
}

/// A task something outside must act on, or an event it waits for:
/// `{"id", "spec", "name", "type", "state", "event", "due", "correlation",
/// "task_name"}` in JSON. For a message or signal catch, `name` is the
/// message's or signal's name (what `wasmflow message NAME` names) and
/// `task_name` the element's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    /// The task.
    #[serde(flatten)]
    pub task: TaskView,
    /// The event it waits for (`timer`, `message`, `signal`, `condition`); none for user and manual tasks,
    /// joins and a halted task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    /// When a timer falls due (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<jiff::Timestamp>,
    /// For a message or signal catch, its element's name: `task.name`
    /// (`"name"` in JSON) is then the name of the message or signal it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
    /// The correlation values it waits for, by property.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub correlation: std::collections::BTreeMap<String, String>,
}

/// Where and why an instance halted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// The halted task (WAITING until resumed).
    pub task: TaskId,
    /// Its BPMN element id.
    pub spec: String,
    /// The plugin's message.
    pub message: String,
}

/// Why an instance could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The named process is not in any loaded file.
    #[error("no process `{0}` in the loaded files{1}")]
    UnknownProcess(String, String),
    /// No process was named and the choice is ambiguous.
    #[error("{0}")]
    NoDefault(String),
    /// The process starts only by a message or a signal.
    #[error("{0}")]
    ByEventOnly(String),
    /// The named process is marked `isExecutable="false"`.
    #[error(
        "process `{0}` is not executable (isExecutable=\"false\"): it runs only when a call activity calls it; \
         start the process that calls it, or mark it isExecutable=\"true\""
    )]
    NotExecutable(String),
}

/// A running (or finished) instance of a process.
pub struct Workflow {
    id: String,
    library: Arc<Library>,
    tasks: TaskList,
    scopes: Vec<Scope>,
    queue: VecDeque<Step>,
    data: Map<String, Value>,
    status: Status,
    error: Option<TaskFailure>,
    /// Where it halted, while halted.
    halt: Option<Halt>,
    /// The root process id.
    process: String,
    /// Tasks and scopes changed since [`Workflow::take_changes`] (for incremental saves).
    changes: Changes,
    /// Lifecycle events not yet taken (see [`Workflow::take_events`]).
    events: Vec<Event>,
    /// Call tasks whose plugin work is running on the pool (STARTED).
    in_flight: Vec<TaskId>,
    /// Armed timers (see `timers`).
    timers: Timers,
    /// What message catches wait for (see `messages`).
    subscriptions: Subscriptions,
    /// Waiting conditional events (see `conditions`).
    watches: Watches,
    /// What compensation needs, and the compensations under way (see `compensation`).
    compensation: Compensations,
    /// What happened definitions of parallel multiple events brought, by a
    /// waiter of theirs still armed (see `waiting`).
    gathered: std::collections::BTreeMap<TaskId, Map<String, Value>>,
    /// Thrown messages nothing here waited for, and thrown signals (see `messages`).
    outbox: Vec<Outgoing>,
    /// Where its time comes from (not saved: each run chooses).
    clock: Clock,
    /// Whether its abstract tasks wait (see [`Workflow::set_abstract_tasks`]).
    abstract_tasks: AbstractTasks,
}

impl Workflow {
    /// Starts an instance of `process` (or the library's default process) with
    /// `data` as the start event's data. Nothing runs until [`Workflow::run`].
    pub fn start(
        library: Arc<Library>,
        process: Option<&str>,
        data: Map<String, Value>,
    ) -> Result<Workflow, StartError> {
        let spec = Self::spec_to_start(&library, process)?;
        // Started directly, a process whose only starts are timer start
        // events waits at them (SpiffWorkflow); deployed, the scheduler
        // starts an instance at each occurrence instead (see `start_timers`).
        // Likewise a conditional start event waits until its condition
        // holds for the start data (at once, or on `resume` or `tick`).
        let timer_starts: Vec<NodeIdx> = (spec.event_starts.iter().copied())
            .filter(|&n| {
                matches!(
                    spec.nodes[n].kind,
                    NodeKind::TimerStartEvent { .. } | NodeKind::ConditionalStartEvent { .. }
                )
            })
            .collect();
        if spec.starts.is_empty() && !timer_starts.is_empty() {
            return Ok(Self::open(library, spec, data, &timer_starts));
        }
        if spec.starts.is_empty() && !spec.event_starts.is_empty() {
            let names: Vec<String> = (spec.event_starts.iter())
                .map(|&n| match &spec.nodes[n].kind {
                    NodeKind::MessageStartEvent { message, .. } => format!("message `{}`", message.name),
                    NodeKind::SignalStartEvent { signal, .. } => format!("signal `{}`", signal.name),
                    _ => String::new(),
                })
                .collect();
            return Err(StartError::ByEventOnly(format!(
                "process `{}` starts only by {}: deploy it (`wasmflow deploy FILE --db DB`), then send that \
                 message or signal (`wasmflow message NAME` or `wasmflow signal NAME`)",
                spec.id,
                names.join(" or ")
            )));
        }
        Ok(Self::open(library, spec, data, &[]))
    }

    /// Starts an instance of deployed `process` at its message or signal
    /// start event `start` (an element id), with what the message or signal
    /// brought as its data: under the event's variable, else merged (an
    /// object). Nothing runs until [`Workflow::run`].
    pub fn start_at(library: Arc<Library>, process: &str, start: &str, payload: Value) -> Result<Workflow, StartError> {
        let spec = Self::spec_to_start(&library, Some(process))?;
        let at = (spec.node_index(start))
            .filter(|n| spec.event_starts.contains(n))
            .ok_or_else(|| {
                StartError::NoDefault(format!(
                    "process `{process}` has no message or signal start event `{start}`"
                ))
            })?;
        let kind = &spec.nodes[at].kind;
        let variable = (kind.message_catch().and_then(|m| m.variable.clone()))
            .or_else(|| kind.signal_catch().and_then(|s| s.variable.clone()));
        if variable.is_none() && !matches!(payload, Value::Object(_) | Value::Null) {
            return Err(StartError::NoDefault(format!(
                "the payload {payload} is not an object: start event `{start}` of process `{process}` merges it \
                 into the instance's data (give it a spiffworkflow:messageVariable to keep any value)"
            )));
        }
        let mut data = Map::new();
        messages::receive(
            &mut data,
            messages::Payload {
                variable,
                value: payload,
            },
        );
        Ok(Self::open(library, spec, data, &[at]))
    }

    /// The spec of `process`, or the library's default process.
    fn spec_to_start(library: &Library, process: Option<&str>) -> Result<Arc<ProcessSpec>, StartError> {
        if let Some(spec) = process.and_then(|id| library.process(id))
            && spec.callable_only
        {
            return Err(StartError::NotExecutable(spec.id.clone()));
        }
        Ok(match process {
            Some(id) => library.process(id).cloned().ok_or_else(|| {
                let mut known: Vec<_> = library
                    .diagrams()
                    .iter()
                    .flat_map(|d| &d.processes)
                    .map(|p| p.id.as_str())
                    .collect();
                known.sort();
                StartError::UnknownProcess(
                    id.to_string(),
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (they define: {})", known.join(", "))
                    },
                )
            })?,
            None => library.default_process().map_err(StartError::NoDefault)?.clone(),
        })
    }

    /// A new instance of `spec`, its root scope open at the start events
    /// `at` (none given: its none start events).
    fn open(library: Arc<Library>, spec: Arc<ProcessSpec>, data: Map<String, Value>, at: &[NodeIdx]) -> Workflow {
        let mut workflow = Workflow {
            id: uuid::Uuid::new_v4().to_string(),
            library,
            tasks: TaskList::default(),
            scopes: Vec::new(),
            queue: VecDeque::new(),
            data: Map::new(),
            status: Status::Running,
            error: None,
            halt: None,
            process: spec.id.clone(),
            changes: Changes::default(),
            events: Vec::new(),
            in_flight: Vec::new(),
            timers: Timers::default(),
            subscriptions: Subscriptions::default(),
            watches: Watches::default(),
            compensation: Compensations::default(),
            gathered: Default::default(),
            outbox: Vec::new(),
            clock: Clock::System,
            abstract_tasks: AbstractTasks::Pass,
        };
        let process = spec.id.clone();
        workflow.emit(EventKind::InstanceStarted {
            process: process.clone(),
        });
        workflow.open_scope(spec, process, None, data, at);
        workflow
    }

    /// The instance id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id of the process it is an instance of.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// Where the instance stands.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The final data once completed; before that, the data of the start.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// The failure that stopped the instance, if any.
    pub fn error(&self) -> Option<&TaskFailure> {
        self.error.as_ref()
    }

    /// The lifecycle events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn emit(&mut self, kind: EventKind) {
        self.events.push(Event {
            kind,
            instance: self.id.clone(),
            at: event::now_ms(),
        });
    }

    /// Where the instance halted, while it is halted.
    pub fn halt(&self) -> Option<&Halt> {
        self.halt.as_ref()
    }

    /// Runs the halted task again, its data first patched with `data` (an
    /// operator's amendment). Call [`Workflow::run`] to go on.
    pub fn resume_halted(&mut self, data: Option<Map<String, Value>>) -> Result<(), String> {
        let halt = self
            .halt
            .take()
            .ok_or_else(|| format!("instance {} is not halted", self.id))?;
        if let Some(patch) = data {
            merge(self.task_mut(halt.task).data.get_or_insert_with(Map::new), patch);
        }
        self.task_mut(halt.task).state = TaskState::Ready;
        self.queue.push_front(Step::Execute(halt.task));
        self.status = Status::Running;
        Ok(())
    }

    /// A task by id.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// Every task so far, in creation order.
    pub fn tasks(&self) -> impl Iterator<Item = TaskView> + '_ {
        self.tasks.iter().map(|task| self.view(task))
    }

    /// The tasks something outside must act on: READY user and manual tasks,
    /// joins still waiting for branches, and a halted task.
    pub fn waiting_tasks(&self) -> impl Iterator<Item = TaskView> + '_ {
        self.scopes
            .iter()
            .flat_map(|scope| scope.active.iter().chain(&scope.waiters))
            .map(|&id| &self.tasks[id])
            .filter(|task| self.is_manual(task) || task.state == TaskState::Waiting)
            .map(|task| self.view(task))
    }

    /// The data a task currently holds (active and failed tasks only).
    pub fn task_data(&self, id: TaskId) -> Option<&Map<String, Value>> {
        self.tasks.get(id)?.data.as_ref()
    }

    /// What the instance waits for: [`Workflow::waiting_tasks`], each with
    /// the event it waits for, if any.
    pub fn waiting(&self) -> impl Iterator<Item = Waiting> + '_ {
        self.waiting_tasks().map(|mut task| {
            let timer = self.timers.get(task.id);
            let subscription = self.subscriptions.get(task.id);
            let condition = self.watches.get(task.id).is_some();
            let task_name = match subscription {
                Some(s) => std::mem::replace(&mut task.name, Some(s.name.clone())),
                None => None,
            };
            Waiting {
                event: match (timer, subscription) {
                    (Some(_), _) => Some("timer"),
                    (_, Some(s)) => Some(s.kind.as_str()),
                    _ if condition => Some("condition"),
                    _ => None,
                },
                due: timer.map(|t| t.due),
                task_name,
                correlation: subscription.map(|s| s.correlation.clone()).unwrap_or_default(),
                task,
            }
        })
    }

    fn view(&self, task: &Task) -> TaskView {
        let node = self.node(task.id);
        TaskView {
            id: task.id,
            spec: node.id.clone(),
            name: node.name.clone(),
            kind: node.kind.element_name(),
            state: task.state,
            instance: self.scopes[task.scope].instances.then_some(task.index),
        }
    }

    fn node(&self, id: TaskId) -> &crate::bpmn::NodeSpec {
        let task = &self.tasks[id];
        &self.scopes[task.scope].spec.nodes[task.node]
    }

    /// Whether nodes of `kind` wait, once reached, to be completed from
    /// outside: user and manual tasks, and abstract ones when they wait.
    fn waits_for_someone(&self, kind: &NodeKind) -> bool {
        match kind {
            NodeKind::UserTask { .. } | NodeKind::ManualTask => true,
            NodeKind::Task => self.abstract_tasks == AbstractTasks::Wait,
            _ => false,
        }
    }

    /// Makes the abstract tasks (plain `bpmn:task`s) of this instance wait
    /// to be completed, as manual tasks do, instead of passing through:
    /// SpiffWorkflow runs them so. Set before the first run; the choice is
    /// saved with the instance.
    pub fn set_abstract_tasks(&mut self, mode: AbstractTasks) {
        self.abstract_tasks = mode;
    }

    /// What this instance's abstract tasks do when reached.
    pub fn abstract_tasks(&self) -> AbstractTasks {
        self.abstract_tasks
    }

    fn is_manual(&self, task: &Task) -> bool {
        let node = &self.scopes[task.scope].spec.nodes[task.node];
        task.state == TaskState::Ready
            && self.waits_for_someone(&node.kind)
            // Not while its pre-script is still to run.
            && !(node.pre_script.is_some() && self.queue.contains(&Step::Execute(task.id)))
    }

    /// Completes a READY user or manual task, merging `data` into its data.
    /// Call [`Workflow::run`] afterwards to go on.
    pub fn complete_task(&mut self, id: TaskId, data: Map<String, Value>) -> Result<(), String> {
        let task = self
            .tasks
            .get(id)
            .ok_or_else(|| format!("no task {id} in this instance"))?;
        if !self.is_manual(task) {
            let node = self.node(id);
            return Err(format!(
                "task {id} ({} `{}`) is {:?}, not a READY user or manual task (or waiting abstract task)",
                node.kind.element_name(),
                node.id,
                task.state
            ));
        }
        let before = self.watching().then(|| self.tasks[id].data.clone().unwrap_or_default());
        let variable = match &self.node(id).kind {
            NodeKind::UserTask { variable } => variable.clone(),
            _ => None,
        };
        let current = self.task_mut(id).data.get_or_insert_with(Map::new);
        // SpiffWorkflow: a user task with a variableName keeps what it is
        // completed with under that name; without one, it is merged in.
        match variable {
            Some(variable) => {
                current.insert(variable, Value::Object(data));
            }
            None => merge(current, data),
        }
        if let Some(before) = before {
            let after = self.tasks[id].data.clone().unwrap_or_default();
            self.observe(id, &before, &after);
        }
        // Its outgoing conditions need the script engine: the next `run` completes it.
        self.task_mut(id).state = TaskState::Started;
        self.queue.push_back(Step::Finish(id));
        self.status = Status::Running;
        Ok(())
    }

    /// Makes a task in ERROR READY again (after its cause was fixed: a grant,
    /// a plugin, the data), clearing the instance's error. Call [`Workflow::run`] to go on.
    pub fn retry_task(&mut self, id: TaskId, data: Option<Map<String, Value>>) -> Result<(), String> {
        let task = self
            .tasks
            .get(id)
            .ok_or_else(|| format!("no task {id} in this instance"))?;
        if task.state != TaskState::Error {
            let node = self.node(id);
            return Err(format!(
                "task {id} ({} `{}`) is {:?}, not in ERROR",
                node.kind.element_name(),
                node.id,
                task.state
            ));
        }
        if let Some(patch) = data {
            merge(self.task_mut(id).data.get_or_insert_with(Map::new), patch);
        }
        self.task_mut(id).state = TaskState::Ready;
        self.queue.push_front(Step::Execute(id));
        self.error = None;
        self.status = Status::Running;
        Ok(())
    }

    /// Restarts the instance from task `id` (Invenio's `restart`): whatever
    /// is running or waiting is cancelled, and a new task of the same element
    /// is reached with `data`, as if a token had just arrived there; run the
    /// instance on afterwards. Works at any state, a completed instance included.
    ///
    /// The task must belong to the process itself, not to the inside of a
    /// subprocess or called process (restart from the activity that contains it).
    pub fn restart(&mut self, id: TaskId, data: Map<String, Value>) -> Result<TaskId, String> {
        let task = self
            .tasks
            .get(id)
            .ok_or_else(|| format!("no task {id} in this instance"))?;
        if task.scope != 0 {
            let owner = self.scopes[task.scope].owner.map(|o| self.node(o).id.clone());
            return Err(format!(
                "task {id} (`{}`) runs inside `{}`: restart from a task of the process itself, such as that activity",
                self.node(id).id,
                owner.unwrap_or_default()
            ));
        }
        let (node, via, branch) = (task.node, task.via, task.branch.clone());
        let spec_node = &self.scopes[0].spec.nodes[node];
        if spec_node.incoming.len() > 1
            && matches!(spec_node.kind, NodeKind::ParallelGateway | NodeKind::InclusiveGateway)
        {
            return Err(format!(
                "task {id} is the join `{}`: restart from a task after it, or from one of the branches",
                spec_node.id
            ));
        }
        // Everything still holding a token goes, subprocesses included.
        self.terminate(0);
        self.queue.clear();
        self.in_flight.clear();
        let root = self.scope_mut(0);
        root.ends.clear();
        root.end_data = None;
        self.changes.scopes.insert(0);
        self.error = None;
        self.halt = None;
        self.status = Status::Running;
        let new = self.tasks.len();
        self.arrive(0, node, via, data, branch);
        let spec = self.node(new).id.clone();
        self.emit(EventKind::InstanceRestarted {
            from: id,
            spec,
            task: new,
        });
        Ok(new)
    }

    /// Runs every task that can run, until the instance completes, waits or fails.
    ///
    /// Nothing observes the steps, so their change records and lifecycle events
    /// are dropped as they happen (a long run would otherwise hold one event per
    /// task); use [`Workflow::run_observed`] to save steps or receive events.
    pub fn run(&mut self, scripts: &ScriptEngine) -> Status {
        let discard = |workflow: &mut Workflow| -> Result<(), std::convert::Infallible> {
            workflow.changes.tasks.clear();
            workflow.changes.scopes.clear();
            workflow.changes.all = true;
            workflow.events.clear();
            Ok(())
        };
        match self.run_observed(scripts, discard) {
            Ok(status) => status,
        }
    }

    /// Like [`Workflow::run`], calling `after_step` after every step (a store
    /// saves the instance there). An error from it stops the run at once and
    /// is returned; the instance stays as it was after that step.
    ///
    /// Script and service tasks' plugin work runs on up to
    /// `scripts.concurrency()` threads at once.
    pub fn run_observed<E>(
        &mut self,
        scripts: &ScriptEngine,
        after_step: impl FnMut(&mut Workflow) -> Result<(), E>,
    ) -> Result<Status, E> {
        self.run_steps(scripts, after_step)
    }

    /// A task to change; the change is recorded for the next incremental save.
    fn task_mut(&mut self, id: TaskId) -> &mut Task {
        self.changes.tasks.insert(id);
        &mut self.tasks[id]
    }

    /// A scope to change; recorded like [`Workflow::task_mut`].
    fn scope_mut(&mut self, scope: usize) -> &mut Scope {
        self.changes.scopes.insert(scope);
        &mut self.scopes[scope]
    }

    /// Who a plugin call runs for.
    fn task_info(&self, id: TaskId) -> TaskInfo {
        let node = self.node(id);
        TaskInfo {
            id: id.to_string(),
            spec: node.id.clone(),
            name: node.name.clone(),
            process: self.scopes[self.tasks[id].scope].process.clone(),
            instance: self.id.clone(),
        }
    }
}
