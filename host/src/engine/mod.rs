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
//! BPMN errors (a plugin's `bpmn_error` answer, an error end event) are
//! caught by the innermost matching catch, walking out one scope at a time:
//! the boundary events of the throwing activity, then the event subprocesses
//! of its scope, then the boundary events of the subprocess or call activity
//! that owns the scope, and so on. At each level a catch naming the thrown
//! code wins over a catch-all; among equals, the first in the document.
//! What was interrupted goes to CANCELLED. Uncaught, the throwing task goes
//! to ERROR and the instance stops with the error's code, name and payload.
//!
//! The payload lands in the catching path's data, under the caught error's
//! `spiffworkflow:variableName` (set even when there is no payload, as in
//! SpiffWorkflow), else under `spiff__<catch event id>_payload` when there
//! is a payload (see [`payload_variable`]).

mod data;
mod event;
mod failure;
mod snapshot;
mod status;
mod task;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use data::{merge, truthy};
pub use event::{Event, EventKind};
pub use failure::TaskFailure;
use failure::Thrown;
pub use snapshot::{Changes, FORMAT, InstanceRecord, RestoreError, ScopeRecord, Snapshot, TaskRecord};
pub use task::{Task, TaskId, TaskState, TaskView};

use crate::bpmn::{ErrorEvent, FlowIdx, Library, NodeIdx, NodeKind, NodeSpec, ProcessSpec, Script, ServiceCall};
use crate::script::{FailureKind, ScriptEngine, TaskInfo};
use failure::Cause;

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
}

/// A running (or finished) instance of a process.
pub struct Workflow {
    id: String,
    library: Arc<Library>,
    tasks: Vec<Task>,
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
}

/// What the step loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    /// Run a READY task.
    Execute(TaskId),
    /// Complete a STARTED task whose work is done: a subprocess or call
    /// activity whose scope has ended, or a user task completed from outside.
    Finish(TaskId),
}

/// One execution of a process or subprocess spec.
struct Scope {
    spec: Arc<ProcessSpec>,
    /// The process id reported to plugins (a subprocess reports its process's).
    process: String,
    /// The subprocess or call activity task that opened it; none for the instance's own.
    owner: Option<TaskId>,
    /// Tasks holding a token in this scope.
    active: BTreeSet<TaskId>,
    /// Tokens waiting at each join, in arrival order.
    joins: HashMap<NodeIdx, Vec<TaskId>>,
    /// Tokens that ended, with their branches, not yet merged into `end_data`.
    ends: Vec<(Vec<u32>, Map<String, Value>)>,
    /// The data of tokens that reached an end, merged in arrival order.
    end_data: Option<Map<String, Value>>,
}

impl Workflow {
    /// Starts an instance of `process` (or the library's default process) with
    /// `data` as the start event's data. Nothing runs until [`Workflow::run`].
    pub fn start(
        library: Arc<Library>,
        process: Option<&str>,
        data: Map<String, Value>,
    ) -> Result<Workflow, StartError> {
        let spec = match process {
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
        };
        let mut workflow = Workflow {
            id: uuid::Uuid::new_v4().to_string(),
            library,
            tasks: Vec::new(),
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
        };
        let process = spec.id.clone();
        workflow.emit(EventKind::InstanceStarted {
            process: process.clone(),
        });
        workflow.open_scope(spec, process, None, data);
        Ok(workflow)
    }

    /// The instance id.
    pub fn id(&self) -> &str {
        &self.id
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
            .flat_map(|scope| scope.active.iter())
            .map(|&id| &self.tasks[id])
            .filter(|task| self.is_manual(task) || task.state == TaskState::Waiting)
            .map(|task| self.view(task))
    }

    /// The data a task currently holds (active and failed tasks only).
    pub fn task_data(&self, id: TaskId) -> Option<&Map<String, Value>> {
        self.tasks.get(id)?.data.as_ref()
    }

    fn view(&self, task: &Task) -> TaskView {
        let node = self.node(task.id);
        TaskView {
            id: task.id,
            spec: node.id.clone(),
            name: node.name.clone(),
            kind: node.kind.element_name(),
            state: task.state,
        }
    }

    fn node(&self, id: TaskId) -> &crate::bpmn::NodeSpec {
        let task = &self.tasks[id];
        &self.scopes[task.scope].spec.nodes[task.node]
    }

    fn is_manual(&self, task: &Task) -> bool {
        let node = &self.scopes[task.scope].spec.nodes[task.node];
        task.state == TaskState::Ready
            && matches!(node.kind, NodeKind::UserTask | NodeKind::ManualTask)
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
                "task {id} ({} `{}`) is {:?}, not a READY user or manual task",
                node.kind.element_name(),
                node.id,
                task.state
            ));
        }
        let current = self.task_mut(id).data.get_or_insert_with(Map::new);
        merge(current, data);
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
    pub fn run_observed<E>(
        &mut self,
        scripts: &ScriptEngine,
        mut after_step: impl FnMut(&mut Workflow) -> Result<(), E>,
    ) -> Result<Status, E> {
        // A finished or halted instance stays as it is: nothing can run in it
        // (a halted one runs on after `resume_halted`).
        if matches!(self.status, Status::Error | Status::Completed | Status::Halted) {
            return Ok(self.status);
        }
        self.status = Status::Running;
        // A script or service task saved STARTED was running on the pool when
        // the instance was saved: it runs again (at least once).
        for i in 0..self.queue.len() {
            if let Step::Execute(id) = self.queue[i]
                && self.tasks[id].state == TaskState::Started
                && self.tasks[id].child.is_none()
                && is_call(self.node(id))
                && !self.in_flight.contains(&id)
            {
                self.tasks[id].state = TaskState::Ready;
            }
        }
        if scripts.concurrency() > 1 {
            return self.run_concurrently(scripts, &mut after_step);
        }
        while let Some(step) = self.queue.pop_front() {
            let result = match step {
                Step::Execute(id) if self.tasks[id].state == TaskState::Ready => self.execute(id, scripts),
                Step::Finish(id) if self.tasks[id].state == TaskState::Started => self.finish(id, scripts),
                // Cancelled while queued.
                _ => Ok(()),
            };
            if let Err((id, cause)) = result {
                let caught = cause.thrown().is_some_and(|thrown| self.catch_error(id, thrown));
                if !caught {
                    self.fail(id, cause);
                    after_step(self)?;
                    return Ok(self.status);
                }
            }
            if self.status == Status::Running && self.queue.is_empty() {
                self.status = Status::Waiting;
            }
            after_step(self)?;
        }
        if self.status == Status::Running {
            self.status = Status::Waiting;
        }
        Ok(self.status)
    }

    /// The step loop with script and service tasks' plugin work on a pool of
    /// `scripts.concurrency()` threads: a READY call task becomes STARTED and
    /// its work is handed to the pool; the loop goes on with other steps and
    /// takes in each result as it arrives. All workflow state changes here, on
    /// this thread, so results from the pool apply one at a time; merges go in
    /// branch order (see [`Task::branch`]), so the final data does not depend
    /// on which call finished first.
    ///
    /// When a task fails or halts, no new step starts; the calls still running
    /// are waited for: a success goes on as usual (its successors stay queued),
    /// a failure puts its task back in the queue, to run again on resume or retry.
    fn run_concurrently<E>(
        &mut self,
        scripts: &ScriptEngine,
        after_step: &mut impl FnMut(&mut Workflow) -> Result<(), E>,
    ) -> Result<Status, E> {
        let workers = scripts.concurrency();
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        let inbox = std::sync::Mutex::new(inbox);
        let (results, done) = std::sync::mpsc::channel::<Done>();
        std::thread::scope(|pool| {
            let mut threads = 0;
            let result = (|| {
                loop {
                    let stopped = matches!(self.status, Status::Error | Status::Halted | Status::Completed);
                    let next = if stopped { None } else { self.queue.front().copied() };
                    if let Some(step) = next {
                        if let Step::Execute(id) = step
                            && self.tasks[id].state == TaskState::Ready
                            && is_call(self.node(id))
                        {
                            if self.in_flight.is_empty() && self.queue.len() == 1 {
                                // Nothing else could run meanwhile (a chain): run it
                                // here and spare the handoff to a pool thread.
                                self.queue.pop_front();
                                let result = self.execute(id, scripts);
                                self.settle_result(result);
                                self.mark_idle();
                                after_step(self)?;
                                continue;
                            }
                            if self.in_flight.len() >= workers {
                                // The pool is busy: take in a result first.
                                let finished = done.recv().expect("pool threads outlive the loop");
                                self.take_in(finished, scripts);
                                self.mark_idle();
                                after_step(self)?;
                                continue;
                            }
                            self.queue.pop_front();
                            let job = self.job(id, true);
                            self.task_mut(id).state = TaskState::Started;
                            self.changes.tasks.insert(id);
                            self.in_flight.push(id);
                            if threads < self.in_flight.len() {
                                threads += 1;
                                let (inbox, results) = (&inbox, results.clone());
                                pool.spawn(move || {
                                    loop {
                                        let job = inbox.lock().unwrap_or_else(|e| e.into_inner()).recv();
                                        let Ok(job) = job else { break };
                                        if results.send(perform(job, scripts)).is_err() {
                                            break;
                                        }
                                    }
                                });
                            }
                            jobs.send(job).expect("pool threads wait for jobs");
                            self.mark_idle();
                            after_step(self)?;
                            continue;
                        }
                        self.queue.pop_front();
                        let result = match step {
                            Step::Execute(id) if self.tasks[id].state == TaskState::Ready => self.execute(id, scripts),
                            Step::Finish(id) if self.tasks[id].state == TaskState::Started => self.finish(id, scripts),
                            _ => Ok(()),
                        };
                        self.settle_result(result);
                        self.mark_idle();
                        after_step(self)?;
                        continue;
                    }
                    if self.in_flight.is_empty() {
                        break;
                    }
                    let finished = done.recv().expect("pool threads outlive the loop");
                    self.take_in(finished, scripts);
                    self.mark_idle();
                    after_step(self)?;
                }
                if self.status == Status::Running {
                    self.status = Status::Waiting;
                }
                Ok(self.status)
            })();
            drop(jobs);
            result
        })
    }

    /// A running instance with nothing queued and nothing in flight waits.
    fn mark_idle(&mut self) {
        if self.status == Status::Running && self.queue.is_empty() && self.in_flight.is_empty() {
            self.status = Status::Waiting;
        }
    }

    /// Takes in a result from the pool (see [`Workflow::run_concurrently`]).
    fn take_in(&mut self, done: Done, scripts: &ScriptEngine) {
        let id = done.id;
        self.in_flight.retain(|&t| t != id);
        let stopped = matches!(self.status, Status::Error | Status::Halted | Status::Completed);
        if self.tasks[id].state == TaskState::Started {
            self.task_mut(id).state = TaskState::Ready;
        }
        if stopped && done.outcome.is_err() && self.tasks[id].state == TaskState::Ready {
            // Not this failure's turn: the task runs again when the instance does.
            let Err((_, keep)) = done.outcome else { unreachable!() };
            self.task_mut(id).data = Some(keep);
            self.changes.tasks.insert(id);
            self.queue.push_front(Step::Execute(id));
            return;
        }
        let result = self.apply(done, scripts);
        self.settle_result(result);
    }

    /// What the step loop does with a step's result: a thrown BPMN error is
    /// caught if something catches it, any other failure fails the instance.
    fn settle_result(&mut self, result: Result<(), (TaskId, Cause)>) {
        if let Err((id, cause)) = result {
            let caught = cause.thrown().is_some_and(|thrown| self.catch_error(id, thrown));
            if !caught {
                self.fail(id, cause);
            }
        }
    }

    /// Runs one READY task.
    fn execute(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Cause)> {
        let scope = self.tasks[id].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        if is_call(node) {
            let job = self.job(id, false);
            let done = perform(job, scripts);
            return self.apply(done, scripts);
        }
        let mut data = self.task_mut(id).data.take().unwrap_or_default();
        self.task_mut(id).log.clear();
        // On failure the task keeps the data it was reached with, so that a
        // retry runs the pre-script again on the same data.
        let original = node.pre_script.as_ref().map(|_| data.clone());
        if let Some(pre) = &node.pre_script {
            match self.run_hook(id, pre, &data, scripts, "pre-script") {
                Ok(new) => data = new,
                Err(cause) => {
                    self.task_mut(id).data = original;
                    return Err((id, cause));
                }
            }
        }
        let fail = |workflow: &mut Workflow, data: Map<String, Value>, cause: Cause| {
            workflow.task_mut(id).data = Some(original.clone().unwrap_or(data));
            Err((id, cause))
        };
        match &node.kind {
            // Reached (and its pre-script run): it waits to be completed from outside.
            NodeKind::UserTask | NodeKind::ManualTask => {
                self.task_mut(id).data = Some(data);
                Ok(())
            }
            NodeKind::ErrorEndEvent(event) => match self.error_payload(id, event, &data, scripts) {
                Ok(payload) => {
                    let error = event.error.as_ref();
                    let thrown = Thrown {
                        code: error.and_then(|e| e.code.clone()),
                        name: error.and_then(|e| e.name.clone()),
                        payload,
                    };
                    fail(self, data, Cause::Thrown(thrown))
                }
                Err(cause) => fail(self, data, cause),
            },
            NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) => {
                let process = self.scopes[scope].process.clone();
                self.enter(id, inner.clone(), process, data);
                Ok(())
            }
            NodeKind::CallActivity { called_element } => {
                let Some(called) = self.library.process(called_element).cloned() else {
                    let message = format!(
                        "calledElement `{called_element}` names no process in the loaded files: give the file that defines it too"
                    );
                    let cause = Cause::Engine {
                        reason: "unknown_process",
                        message,
                    };
                    return fail(self, data, cause);
                };
                let process = called.id.clone();
                self.enter(id, called, process, data);
                Ok(())
            }
            // Events, abstract tasks and gateways (whose joins have already fired).
            _ => self.complete_with(id, data, scripts),
        }
    }

    /// Starts the inside of a subprocess or call activity with a copy of the task's data.
    fn enter(&mut self, id: TaskId, spec: Arc<ProcessSpec>, process: String, data: Map<String, Value>) {
        self.task_mut(id).state = TaskState::Started;
        self.task_mut(id).data = Some(data.clone());
        self.task_mut(id).child = Some(self.scopes.len());
        self.open_scope(spec, process, Some(id), data);
    }

    /// A STARTED task's work is done: merge what its scope ended with (if it
    /// opened one) into its data and go on.
    fn finish(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Cause)> {
        let mut data = self.task_mut(id).data.take().unwrap_or_default();
        if let Some(end) = self.tasks[id]
            .child
            .and_then(|child| self.scope_mut(child).end_data.take())
        {
            merge(&mut data, end);
        }
        self.complete_with(id, data, scripts)
    }

    /// Runs a task's post-script, if it has one, then sends its data on.
    fn complete_with(
        &mut self,
        id: TaskId,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Cause)> {
        let spec = self.scopes[self.tasks[id].scope].spec.clone();
        let data = match &spec.nodes[self.tasks[id].node].post_script {
            Some(post) => match self.run_hook(id, post, &data, scripts, "post-script") {
                Ok(new) => new,
                Err(cause) => {
                    self.task_mut(id).data = Some(data);
                    return Err((id, cause));
                }
            },
            None => data,
        };
        self.route(id, data, scripts)
    }

    /// Chooses a completed task's outgoing flows and sends its data along them.
    fn route(&mut self, id: TaskId, data: Map<String, Value>, scripts: &ScriptEngine) -> Result<(), (TaskId, Cause)> {
        let flows = match self.select_flows(id, &data, scripts) {
            Ok(flows) => flows,
            Err(cause) => {
                self.task_mut(id).data = Some(data);
                return Err((id, cause));
            }
        };
        self.advance(id, data, flows);
        Ok(())
    }

    /// Everything a script or service task's plugin work needs. `keep` leaves
    /// the task its input data while the work runs elsewhere: a task saved
    /// STARTED must be able to run again after a crash.
    fn job(&mut self, id: TaskId, keep: bool) -> Job {
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
        }
    }

    /// Takes in the result of a task's plugin work: on success its data goes
    /// on; on failure the task keeps the data the work says (for a retry).
    /// A result for a task no longer running (cancelled meanwhile) is dropped.
    fn apply(&mut self, done: Done, scripts: &ScriptEngine) -> Result<(), (TaskId, Cause)> {
        let id = done.id;
        if !matches!(self.tasks[id].state, TaskState::Ready | TaskState::Started) {
            return Ok(());
        }
        self.changes.tasks.insert(id);
        self.task_mut(id).log.push_str(&done.log);
        match done.outcome {
            Ok(data) => self.route(id, data, scripts),
            Err((cause, keep)) => {
                self.task_mut(id).data = Some(keep);
                Err((id, cause))
            }
        }
    }

    /// Marks a task COMPLETED and sends its data along `flows` (or to the scope's end).
    fn advance(&mut self, id: TaskId, data: Map<String, Value>, flows: Vec<FlowIdx>) {
        let scope = self.tasks[id].scope;
        self.task_mut(id).state = TaskState::Completed;
        let spec_id = self.node(id).id.clone();
        self.emit(EventKind::TaskCompleted {
            task: id,
            spec: spec_id,
        });
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        let key = std::mem::take(&mut self.task_mut(id).branch);
        if flows.is_empty() {
            self.end_token(scope, key, data);
        } else {
            let last = flows.len() - 1;
            let mut data = Some(data);
            for (i, &flow) in flows.iter().enumerate() {
                let branch = if i == last {
                    data.take().unwrap()
                } else {
                    data.clone().unwrap()
                };
                // A fork numbers its branches by the flows' document order.
                let mut child_key = key.clone();
                if flows.len() > 1 {
                    let ordinal = node.outgoing.iter().position(|&f| f == flow).unwrap_or(i);
                    child_key.push(ordinal as u32);
                }
                self.arrive(scope, spec.flows[flow].target, Some(flow), branch, child_key);
            }
        }
        self.scope_mut(scope).active.remove(&id);
        if let NodeKind::EndEvent { terminate: true } = node.kind {
            self.terminate(scope);
        }
        self.settle(scope);
    }

    /// After a scope's tokens moved: fire inclusive joins that can no longer
    /// get more branches, and end the scope when it holds no token.
    fn settle(&mut self, scope: usize) {
        if self.scopes[scope].joins.is_empty() {
            if self.scopes[scope].active.is_empty() {
                self.end_scope(scope);
            }
            return;
        }
        let spec = self.scopes[scope].spec.clone();
        let pending: Vec<NodeIdx> = self.scopes[scope]
            .joins
            .keys()
            .copied()
            .filter(|&n| matches!(spec.nodes[n].kind, NodeKind::InclusiveGateway))
            .collect();
        for join in pending {
            self.try_join(scope, join);
        }
        if self.scopes[scope].active.is_empty() {
            self.end_scope(scope);
        }
    }

    /// A token reaches `node` by `via`.
    fn arrive(
        &mut self,
        scope: usize,
        node: NodeIdx,
        via: Option<FlowIdx>,
        data: Map<String, Value>,
        branch: Vec<u32>,
    ) {
        let spec = &self.scopes[scope].spec;
        let target = &spec.nodes[node];
        let joins =
            target.incoming.len() > 1 && matches!(target.kind, NodeKind::ParallelGateway | NodeKind::InclusiveGateway);
        let id = self.tasks.len();
        let state = if joins { TaskState::Waiting } else { TaskState::Ready };
        // A user or manual task waits as soon as it is reached, unless it has
        // a pre-script to run first.
        let manual = matches!(target.kind, NodeKind::UserTask | NodeKind::ManualTask) && target.pre_script.is_none();
        self.changes.tasks.insert(id);
        self.tasks.push(Task {
            id,
            scope,
            node,
            via,
            state,
            data: Some(data),
            child: None,
            log: String::new(),
            branch,
        });
        self.scope_mut(scope).active.insert(id);
        if joins {
            self.scope_mut(scope).joins.entry(node).or_default().push(id);
            self.try_join(scope, node);
        } else if !manual {
            self.queue.push_back(Step::Execute(id));
        }
    }

    /// Fires a join if it may: a parallel join once a token came by every
    /// incoming flow; an inclusive join once no other token in the scope can
    /// still reach it. The tokens' data merge in branch order (see
    /// [`Task::branch`]; ties by arrival), whatever order they arrived in; the
    /// last in that order carries on, on the branch the joined ones share, and
    /// the others complete.
    fn try_join(&mut self, scope: usize, node: NodeIdx) {
        let spec = self.scopes[scope].spec.clone();
        let Some(waiting) = self.scopes[scope].joins.get(&node) else {
            return;
        };
        let consumed: Vec<TaskId> = match spec.nodes[node].kind {
            NodeKind::ParallelGateway => {
                let mut taken = Vec::new();
                for &flow in &spec.nodes[node].incoming {
                    match waiting.iter().find(|&&t| self.tasks[t].via == Some(flow)) {
                        Some(&t) => taken.push(t),
                        None => return,
                    }
                }
                taken
            }
            _ => {
                let at_join: HashSet<TaskId> = waiting.iter().copied().collect();
                let others = self.scopes[scope].active.iter().filter(|t| !at_join.contains(t));
                if others
                    .map(|&t| self.tasks[t].node)
                    .any(|from| reaches(&spec, from, node))
                {
                    return;
                }
                waiting.clone()
            }
        };
        let mut consumed = consumed;
        consumed.sort_by(|&a, &b| self.tasks[a].branch.cmp(&self.tasks[b].branch).then(a.cmp(&b)));
        let shared = common_prefix(consumed.iter().map(|&t| self.tasks[t].branch.as_slice()));
        let waiting = self.scope_mut(scope).joins.get_mut(&node).unwrap();
        waiting.retain(|t| !consumed.contains(t));
        if waiting.is_empty() {
            self.scope_mut(scope).joins.remove(&node);
        }
        let (&last, earlier) = consumed.split_last().expect("a join fires with at least one token");
        let mut data = Map::new();
        for &t in earlier.iter().chain([&last]) {
            merge(&mut data, self.task_mut(t).data.take().unwrap_or_default());
        }
        for &t in earlier {
            self.task_mut(t).state = TaskState::Completed;
            self.scope_mut(scope).active.remove(&t);
        }
        self.task_mut(last).data = Some(data);
        self.task_mut(last).branch = shared;
        self.task_mut(last).state = TaskState::Ready;
        self.queue.push_back(Step::Execute(last));
    }

    /// A token ends: its data joins the scope's end data, merged in branch
    /// order when the scope ends (so not in the order branches finished).
    fn end_token(&mut self, scope: usize, branch: Vec<u32>, data: Map<String, Value>) {
        self.scope_mut(scope).ends.push((branch, data));
    }

    /// The scope's end data: its ended tokens' data merged in branch order
    /// (a stable sort: equal branches in the order they ended).
    fn gather_ends(&mut self, scope: usize) {
        let mut ends = std::mem::take(&mut self.scope_mut(scope).ends);
        if ends.is_empty() {
            return;
        }
        ends.sort_by(|a, b| a.0.cmp(&b.0));
        let mut end = self.scope_mut(scope).end_data.take().unwrap_or_default();
        for (_, data) in ends {
            merge(&mut end, data);
        }
        self.scope_mut(scope).end_data = Some(end);
    }

    /// A terminate end event: cancel every other token of the scope, and the
    /// insides of subprocesses it had started (iteratively: no recursion).
    fn terminate(&mut self, scope: usize) {
        let mut scopes = vec![scope];
        while let Some(s) = scopes.pop() {
            for id in std::mem::take(&mut self.scope_mut(s).active) {
                self.cancel(id);
                if let Some(child) = self.tasks[id].child {
                    scopes.push(child);
                }
            }
            self.scope_mut(s).joins.clear();
        }
    }

    /// Marks one task CANCELLED (its scope's bookkeeping is the caller's).
    /// Like a completed task, it keeps no data.
    fn cancel(&mut self, id: TaskId) {
        self.task_mut(id).state = TaskState::Cancelled;
        self.task_mut(id).data = None;
        let spec = self.node(id).id.clone();
        self.emit(EventKind::TaskCancelled { task: id, spec });
    }

    /// Catches the BPMN error `thrown` by task `origin`, if anything does (see
    /// the module documentation for the order); returns whether it was caught.
    /// A walk up the scopes, one step per enclosing scope: no recursion.
    fn catch_error(&mut self, origin: TaskId, thrown: Thrown) -> bool {
        let code = thrown.code.as_deref();
        // The task whose boundary events are tried, in `scope`.
        let mut at = origin;
        // Set when the error escapes an event subprocess: its sibling event
        // subprocesses do not catch it (the scope is already interrupted).
        let mut from_event_subprocess = false;
        loop {
            let scope = self.tasks[at].scope;
            let spec = self.scopes[scope].spec.clone();
            let node = &spec.nodes[self.tasks[at].node];
            let boundaries = node.boundaries.iter().filter_map(|&b| match &spec.nodes[b].kind {
                NodeKind::BoundaryEvent { error, .. } => Some((b, error)),
                _ => None,
            });
            if let Some(boundary) = best_catch(boundaries, code) {
                self.catch_at_boundary(origin, at, boundary, thrown);
                return true;
            }
            if !from_event_subprocess {
                let handlers = spec
                    .event_subprocesses
                    .iter()
                    .filter_map(|&e| match &spec.nodes[e].kind {
                        NodeKind::EventSubProcess(inner) => inner.error_start().map(|error| (e, error)),
                        _ => None,
                    });
                if let Some(handler) = best_catch(handlers, code) {
                    self.catch_in_event_subprocess(origin, at, handler, thrown);
                    return true;
                }
            }
            let Some(owner) = self.scopes[scope].owner else {
                return false;
            };
            from_event_subprocess = matches!(self.node(owner).kind, NodeKind::EventSubProcess(_));
            at = owner;
        }
    }

    /// An interrupting boundary event of `activity` caught the error: the
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
        let data = with_payload(data, &spec.nodes[boundary], &thrown);
        self.emit(EventKind::ErrorCaught {
            task: self.tasks.len(),
            spec: spec.nodes[boundary].id.clone(),
            code: thrown.code,
            thrown_by: origin,
        });
        let key = self.tasks[activity].branch.clone();
        self.arrive(scope, boundary, None, data, key);
        self.settle(scope);
    }

    /// An interrupting event subprocess of `at`'s scope caught the error:
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
        let start = &inner.nodes[inner.starts[0]];
        let data = with_payload(data, start, &thrown);
        self.emit(EventKind::ErrorCaught {
            task: self.tasks.len(),
            spec: spec.nodes[handler].id.clone(),
            code: thrown.code,
            thrown_by: origin,
        });
        let key = self.tasks[at].branch.clone();
        self.arrive(scope, handler, None, data, key);
    }

    /// An error end event whose error was caught has done its work: it completes.
    fn retire_thrower(&mut self, origin: TaskId) {
        if matches!(self.node(origin).kind, NodeKind::ErrorEndEvent(_)) {
            let scope = self.tasks[origin].scope;
            self.task_mut(origin).data = None;
            self.task_mut(origin).state = TaskState::Completed;
            self.scope_mut(scope).active.remove(&origin);
            let spec = self.node(origin).id.clone();
            self.emit(EventKind::TaskCompleted { task: origin, spec });
        }
    }

    /// Runs a pre- or post-script on `data`; its failure names which one it was.
    fn run_hook(
        &mut self,
        id: TaskId,
        script: &Script,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
        which: &str,
    ) -> Result<Map<String, Value>, Cause> {
        match scripts.run_script(&self.task_info(id), script, data) {
            Ok(outcome) => {
                self.task_mut(id).log.push_str(&outcome.log);
                Ok(outcome.value)
            }
            Err(mut error) => {
                error.message = format!("{which}: {}", error.message);
                Err(error.into())
            }
        }
    }

    /// The payload an error end event throws: its error's
    /// `spiffworkflow:payloadExpression` evaluated against its data, if any.
    fn error_payload(
        &self,
        id: TaskId,
        event: &ErrorEvent,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Option<Value>, Cause> {
        let Some(expression) = event.error.as_ref().and_then(|e| e.payload.as_deref()) else {
            return Ok(None);
        };
        let outcome = scripts
            .evaluate(&self.task_info(id), expression, data)
            .map_err(|mut error| {
                error.message = format!("payloadExpression ({expression}): {}", error.message);
                error
            })?;
        Ok(Some(outcome.value).filter(|v| !v.is_null()))
    }

    /// A scope holds no more tokens: hand its data back to its owner, or
    /// complete the instance.
    fn end_scope(&mut self, scope: usize) {
        self.gather_ends(scope);
        match self.scopes[scope].owner {
            Some(owner) => {
                if self.tasks[owner].state == TaskState::Started {
                    self.queue.push_back(Step::Finish(owner));
                }
            }
            None => {
                self.data = self.scope_mut(scope).end_data.take().unwrap_or_default();
                self.status = Status::Completed;
                self.emit(EventKind::InstanceCompleted);
                // A terminate end event may leave queued steps; they are cancelled.
                self.queue.clear();
            }
        }
    }

    fn open_scope(&mut self, spec: Arc<ProcessSpec>, process: String, owner: Option<TaskId>, data: Map<String, Value>) {
        let scope = self.scopes.len();
        self.changes.scopes.insert(scope);
        self.scopes.push(Scope {
            spec: spec.clone(),
            process,
            owner,
            active: BTreeSet::new(),
            joins: HashMap::new(),
            end_data: None,
            ends: Vec::new(),
        });
        if owner.is_none() {
            self.data = data.clone();
        }
        if spec.starts.is_empty() {
            self.end_scope(scope);
        }
        for &start in &spec.starts {
            self.arrive(scope, start, None, data.clone(), Vec::new());
        }
    }

    /// The flows a completing task sends its token along.
    fn select_flows(
        &self,
        id: TaskId,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Vec<FlowIdx>, Cause> {
        let scope = &self.scopes[self.tasks[id].scope];
        let spec = &scope.spec;
        let node = &spec.nodes[self.tasks[id].node];
        if matches!(node.kind, NodeKind::EndEvent { .. }) || node.outgoing.is_empty() {
            return Ok(Vec::new());
        }
        if let NodeKind::ParallelGateway = node.kind {
            return Ok(node.outgoing.clone());
        }
        let exclusive = matches!(node.kind, NodeKind::ExclusiveGateway);
        let gateway = exclusive || matches!(node.kind, NodeKind::InclusiveGateway);
        let mut taken = Vec::new();
        let mut condition_held = false;
        for &flow in node.outgoing.iter().filter(|&&f| Some(f) != node.default_flow) {
            let passes = match &spec.flows[flow].condition {
                None => true,
                Some(condition) => {
                    let outcome = scripts
                        .evaluate(&self.task_info(id), condition, data)
                        .map_err(|mut error| {
                            error.message = format!(
                                "condition of sequence flow `{}` ({condition}): {}",
                                spec.flows[flow].id, error.message
                            );
                            error
                        })?;
                    let held = truthy(&outcome.value);
                    condition_held |= held;
                    held
                }
            };
            if passes {
                taken.push(flow);
                if exclusive {
                    break;
                }
            }
        }
        // A gateway's default is taken when no other flow is; an activity's
        // when none of its conditional flows is (BPMN 2.0, 10.3.1 / 13.3.2).
        let use_default = if gateway { taken.is_empty() } else { !condition_held };
        match node.default_flow {
            Some(default) if use_default => taken.push(default),
            _ if taken.is_empty() => {
                let conditions: Vec<String> = node
                    .outgoing
                    .iter()
                    .map(|&f| &spec.flows[f])
                    .map(|f| format!("`{}`: {}", f.id, f.condition.as_deref().unwrap_or("(none)")))
                    .collect();
                let message = format!(
                    "no outgoing condition is true and there is no default flow, so there is no way out (conditions: {})",
                    conditions.join("; ")
                );
                return Err(Cause::Engine {
                    reason: "no_way_out",
                    message,
                });
            }
            _ => {}
        }
        Ok(taken)
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

    /// Puts a task in ERROR and stops the instance; a halt instead makes the
    /// task wait and the instance halted.
    fn fail(&mut self, id: TaskId, cause: Cause) {
        if let Cause::Script(error) = &cause
            && error.kind == FailureKind::Halt
        {
            self.task_mut(id).state = TaskState::Waiting;
            self.halt = Some(Halt {
                task: id,
                spec: self.node(id).id.clone(),
                message: error.message.clone(),
            });
            self.status = Status::Halted;
            self.emit(EventKind::InstanceHalted {
                task: id,
                message: error.message.clone(),
            });
            return;
        }
        self.task_mut(id).state = TaskState::Error;
        let node = self.node(id);
        let scope = &self.scopes[self.tasks[id].scope];
        let location = format!("{}:{}", scope.spec.file.display(), node.position);
        let mut failure = TaskFailure {
            task: id,
            spec: node.id.clone(),
            name: node.name.clone(),
            kind: node.kind.element_name().to_string(),
            process: scope.process.clone(),
            location,
            plugin: None,
            reason: String::new(),
            message: String::new(),
            line: None,
            code: None,
            error_name: None,
            payload: None,
            log: String::new(),
        };
        match cause {
            Cause::Script(error) => {
                failure.reason = serde_json::to_value(error.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                failure.plugin = Some(error.plugin);
                failure.message = error.message;
                failure.line = error.line;
                failure.code = error.code;
                failure.error_name = error.error_name;
                failure.payload = error.payload;
                failure.log = error.log;
            }
            Cause::Engine { reason, message } => {
                failure.reason = reason.to_string();
                failure.message = message;
            }
            Cause::Thrown(thrown) => {
                failure.reason = "bpmn_error".to_string();
                let code = thrown
                    .code
                    .as_deref()
                    .map_or("(no code)".to_string(), |c| format!("`{c}`"));
                let name = thrown.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
                failure.message =
                    format!("BPMN error {code}{name} was thrown by this end event and nothing catches it");
                failure.code = thrown.code;
                failure.error_name = thrown.name;
                failure.payload = thrown.payload;
            }
        }
        self.emit(EventKind::TaskError {
            task: id,
            spec: failure.spec.clone(),
            message: failure.message.clone(),
        });
        self.emit(EventKind::InstanceError {
            task: id,
            message: failure.message.clone(),
        });
        self.error = Some(failure);
        self.status = Status::Error;
    }
}

/// The catch event (boundary event or event subprocess) of `candidates` that
/// catches `code`: one naming that code before a catch-all, then the first.
fn best_catch<'a>(candidates: impl Iterator<Item = (NodeIdx, &'a ErrorEvent)>, code: Option<&str>) -> Option<NodeIdx> {
    let mut catch_all = None;
    for (node, event) in candidates {
        if !event.catches(code) {
            continue;
        }
        if event.code().is_some() {
            return Some(node);
        }
        catch_all.get_or_insert(node);
    }
    catch_all
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

/// `data` with a caught error's payload placed (see [`payload_variable`]).
fn with_payload(mut data: Map<String, Value>, catch_event: &NodeSpec, thrown: &Thrown) -> Map<String, Value> {
    let error = match &catch_event.kind {
        NodeKind::BoundaryEvent { error, .. } | NodeKind::ErrorStartEvent(error) => error,
        _ => return data,
    };
    if let Some(variable) = payload_variable(catch_event, error, thrown.payload.is_some()) {
        data.insert(variable, thrown.payload.clone().unwrap_or(Value::Null));
    }
    data
}

/// Script and service tasks: their work is plugin calls, which may run on the pool.
fn is_call(node: &crate::bpmn::NodeSpec) -> bool {
    matches!(node.kind, NodeKind::ScriptTask(_) | NodeKind::ServiceTask(_))
}

/// A script or service task's plugin work, owned so that it can run on another thread.
struct Job {
    id: TaskId,
    info: TaskInfo,
    spec: Arc<ProcessSpec>,
    node: NodeIdx,
    data: Map<String, Value>,
}

/// What a [`Job`] came to: the task's new data, or the failure and the data
/// the task keeps (for a retry); and what the plugins logged.
struct Done {
    id: TaskId,
    outcome: Result<Map<String, Value>, (Cause, Map<String, Value>)>,
    log: String,
}

/// Runs a script or service task's work: pre-script, script or service call,
/// post-script. Touches no workflow state, so jobs of different tasks run at once.
///
/// On failure the task keeps the data it was reached with (so a retry runs
/// the pre-script again on the same data), except after a failed post-script,
/// when it keeps the data the call produced.
fn perform(job: Job, scripts: &ScriptEngine) -> Done {
    let Job {
        id,
        info,
        spec,
        node,
        data: original,
    } = job;
    let node = &spec.nodes[node];
    let mut log = String::new();
    let hook = |which: &str, script: &Script, data: &Map<String, Value>, log: &mut String| match scripts
        .run_script(&info, script, data)
    {
        Ok(outcome) => {
            log.push_str(&outcome.log);
            Ok(outcome.value)
        }
        Err(mut error) => {
            error.message = format!("{which}: {}", error.message);
            Err(Cause::from(error))
        }
    };
    let pre = match &node.pre_script {
        Some(pre) => match hook("pre-script", pre, &original, &mut log) {
            Ok(new) => Some(new),
            Err(cause) => {
                return Done {
                    id,
                    outcome: Err((cause, original)),
                    log,
                };
            }
        },
        None => None,
    };
    let input = pre.as_ref().unwrap_or(&original);
    let called = match &node.kind {
        NodeKind::ScriptTask(script) => scripts
            .run_script(&info, script, input)
            .map(|outcome| {
                log.push_str(&outcome.log);
                outcome.value
            })
            .map_err(Cause::from),
        NodeKind::ServiceTask(call) => service(&info, call, input, scripts).map(|(value, call_log)| {
            log.push_str(&call_log);
            let mut data = input.clone();
            data.insert(call.result_variable.clone(), value);
            data
        }),
        _ => unreachable!("only script and service tasks are jobs"),
    };
    let data = match called {
        Ok(data) => data,
        Err(cause) => {
            return Done {
                id,
                outcome: Err((cause, original)),
                log,
            };
        }
    };
    let outcome = match &node.post_script {
        Some(post) => match hook("post-script", post, &data, &mut log) {
            Ok(new) => Ok(new),
            Err(cause) => Err((cause, data)),
        },
        None => Ok(data),
    };
    Done { id, outcome, log }
}

/// Evaluates a service task's parameters against `data` and calls its operation.
fn service(
    info: &TaskInfo,
    call: &ServiceCall,
    data: &Map<String, Value>,
    scripts: &ScriptEngine,
) -> Result<(Value, String), Cause> {
    let mut params = Map::new();
    for param in &call.params {
        let value = scripts.evaluate(info, &param.value, data).map_err(|mut error| {
            error.message = format!("parameter `{}` ({}): {}", param.id, param.value, error.message);
            error.line = Some(param.line);
            error
        })?;
        params.insert(param.id.clone(), value.value);
    }
    match scripts.call_service(info, &call.operation, &params) {
        Ok(outcome) => Ok((outcome.value, outcome.log)),
        Err(mut error) => {
            if !matches!(error.kind, FailureKind::BpmnError | FailureKind::Halt) {
                error.message = format!("operation `{}`: {}", call.operation, error.message);
            }
            Err(error.into())
        }
    }
}

/// The longest prefix all the keys share.
fn common_prefix<'a>(mut keys: impl Iterator<Item = &'a [u32]>) -> Vec<u32> {
    let Some(first) = keys.next() else {
        return Vec::new();
    };
    let mut len = first.len();
    for key in keys {
        len = first.iter().zip(key).take(len).take_while(|(a, b)| a == b).count();
    }
    first[..len].to_vec()
}

/// Whether a token at `from` can still reach `to` along sequence flows
/// (a breadth-first walk that does not pass through `to`).
fn reaches(spec: &ProcessSpec, from: NodeIdx, to: NodeIdx) -> bool {
    let mut seen = vec![false; spec.nodes.len()];
    let mut queue = VecDeque::from([from]);
    seen[from] = true;
    while let Some(node) = queue.pop_front() {
        for &flow in &spec.nodes[node].outgoing {
            let next = spec.flows[flow].target;
            if next == to {
                return true;
            }
            if !seen[next] {
                seen[next] = true;
                queue.push_back(next);
            }
        }
    }
    false
}
