//! Token movement: tokens arrive at nodes, move along flows, wait at joins
//! and end; scopes open and, once they hold no token, end.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::routing::common_prefix;
use super::run::Step;
use super::waiting::{event_started, has_waiting_boundaries};
use super::{EventKind, Status, Task, TaskId, TaskState, Workflow, merge};
use crate::bpmn::{FlowIdx, NodeIdx, NodeKind, ProcessSpec};

/// One execution of a process or subprocess spec.
pub(super) struct Scope {
    pub(super) spec: Arc<ProcessSpec>,
    /// The process id reported to plugins (a subprocess reports its process's).
    pub(super) process: String,
    /// The subprocess or call activity task that opened it; none for the instance's own.
    pub(super) owner: Option<TaskId>,
    /// Tasks holding a token in this scope.
    pub(super) active: BTreeSet<TaskId>,
    /// Tokens waiting at each join, in arrival order.
    pub(super) joins: HashMap<NodeIdx, Vec<TaskId>>,
    /// Tokens that ended, with their branches, not yet merged into `end_data`.
    pub(super) ends: Vec<(Vec<u32>, Map<String, Value>)>,
    /// The data of tokens that reached an end, merged in arrival order.
    pub(super) end_data: Option<Map<String, Value>>,
    /// The waiters of its event subprocesses' timer start events: they hold
    /// no token (the scope ends without them) and go when it ends.
    pub(super) waiters: Vec<TaskId>,
    /// Its tasks that keep what compensating them needs, in completion
    /// order (not saved: rebuilt from the tasks' completion numbers).
    pub(super) compensable: Vec<TaskId>,
    /// It holds the instances of its owner, a multi-instance activity (see
    /// `multi`): its spec is its owner's scope's, and what its tasks throw
    /// is caught from its owner outwards.
    pub(super) instances: bool,
    /// The values of the data objects it declares, once written (see `data_objects`).
    pub(super) data_objects: Map<String, Value>,
}

impl Scope {
    /// A scope of `spec` with no token yet.
    pub(super) fn new(spec: Arc<ProcessSpec>, process: String, owner: Option<TaskId>) -> Scope {
        Scope {
            spec,
            process,
            owner,
            active: BTreeSet::new(),
            joins: HashMap::new(),
            end_data: None,
            ends: Vec::new(),
            waiters: Vec::new(),
            compensable: Vec::new(),
            instances: false,
            data_objects: Map::new(),
        }
    }
}

impl Workflow {
    /// Opens a scope of `spec` (owned by `owner`, if any): a token arrives
    /// at each of its none start events with `data`, or, `at` a message or
    /// signal start event, there alone.
    pub(super) fn open_scope(
        &mut self,
        spec: Arc<ProcessSpec>,
        process: String,
        owner: Option<TaskId>,
        data: Map<String, Value>,
        at: &[NodeIdx],
    ) {
        let scope = self.scopes.len();
        self.changes.scopes.insert(scope);
        self.scopes.push(Scope::new(spec.clone(), process, owner));
        if owner.is_none() {
            self.data = data.clone();
        }
        // Timer-started event subprocesses wait beside the scope; their
        // timers and subscriptions are armed as their first step (an
        // expression needs the sandbox).
        for &e in &spec.event_subprocesses {
            if event_started(&spec.nodes[e].kind) {
                let id = self.tasks.len();
                self.changes.tasks.insert(id);
                self.tasks
                    .push(Task::new(id, scope, e, None, TaskState::Ready, None, Vec::new()));
                self.scope_mut(scope).waiters.push(id);
                self.queue.push_back(Step::Execute(id));
            }
        }
        let starts = if at.is_empty() { &spec.starts[..] } else { at };
        if starts.is_empty() {
            self.end_scope(scope);
        }
        for &start in starts {
            self.arrive(scope, start, None, data.clone(), Vec::new());
        }
    }

    /// Starts the inside of a subprocess or call activity with a copy of the task's data.
    pub(super) fn enter(&mut self, id: TaskId, spec: Arc<ProcessSpec>, process: String, data: Map<String, Value>) {
        self.task_mut(id).state = TaskState::Started;
        self.task_mut(id).data = Some(data.clone());
        self.task_mut(id).child = Some(self.scopes.len());
        self.open_scope(spec, process, Some(id), data, &[]);
    }

    /// A token reaches `node` by `via`.
    pub(super) fn arrive(
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
        let state = if joins { TaskState::Waiting } else { TaskState::Ready };
        // A user or manual task waits as soon as it is reached, unless it has
        // a pre-script to run or boundary events to arm first.
        let manual = self.waits_for_someone(&target.kind)
            && target.pre_script.is_none()
            && target.multi.is_none()
            && target.data.as_ref().is_none_or(|d| d.inputs.is_empty())
            && !has_waiting_boundaries(target, &spec.nodes);
        let id = self.add_task(scope, node, via, Some(data), branch, state);
        if joins {
            self.scope_mut(scope).joins.entry(node).or_default().push(id);
            self.try_join(scope, node);
        } else if !manual {
            self.queue.push_back(Step::Execute(id));
        }
    }

    /// A new task holding a token in `scope`: its id.
    pub(super) fn add_task(
        &mut self,
        scope: usize,
        node: NodeIdx,
        via: Option<FlowIdx>,
        data: Option<Map<String, Value>>,
        branch: Vec<u32>,
        state: TaskState,
    ) -> TaskId {
        let id = self.tasks.len();
        self.changes.tasks.insert(id);
        self.tasks.push(Task::new(id, scope, node, via, state, data, branch));
        self.scope_mut(scope).active.insert(id);
        id
    }

    /// Marks a task COMPLETED: what it waited for goes, and its branch key
    /// is handed back for the token it passes on.
    pub(super) fn complete_token(&mut self, id: TaskId) -> Vec<u32> {
        self.disarm(id);
        self.task_mut(id).state = TaskState::Completed;
        let spec_id = self.node(id).id.clone();
        self.emit(EventKind::TaskCompleted {
            task: id,
            spec: spec_id,
        });
        std::mem::take(&mut self.task_mut(id).branch)
    }

    /// Throw link `id` completes and its token, with `data`, arrives at the
    /// catch link `target` of its scope: a jump, as a sequence flow would
    /// take it, so a loop of links grows nothing but its tasks.
    pub(super) fn jump(&mut self, id: TaskId, data: Map<String, Value>, target: NodeIdx) {
        let scope = self.tasks[id].scope;
        let key = self.complete_token(id);
        let spec = self.scopes[scope].spec.clone();
        if let NodeKind::LinkThrowEvent { name, .. } = &spec.nodes[self.tasks[id].node].kind {
            self.emit(EventKind::LinkFollowed {
                task: id,
                spec: self.node(id).id.clone(),
                name: name.clone(),
                to: spec.nodes[target].id.clone(),
            });
        }
        self.arrive(scope, target, None, data, key);
        self.scope_mut(scope).active.remove(&id);
        self.after_tokens_moved(scope);
    }

    /// Marks a task COMPLETED and sends its data along `flows` (or to the scope's end).
    pub(super) fn advance(&mut self, id: TaskId, mut data: Map<String, Value>, flows: Vec<FlowIdx>) {
        if !self.compensation.runs.is_empty() && self.handler_done(id, &mut data) {
            return;
        }
        self.note_completion(id, &data);
        let scope = self.tasks[id].scope;
        let key = self.complete_token(id);
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
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
        self.after_tokens_moved(scope);
    }

    /// After a scope's tokens moved: fire inclusive joins that can no longer
    /// get more branches, and end the scope when it holds no token.
    pub(super) fn after_tokens_moved(&mut self, scope: usize) {
        if !self.scopes[scope].joins.is_empty() {
            let spec = self.scopes[scope].spec.clone();
            let pending: Vec<NodeIdx> = (self.scopes[scope].joins.keys().copied())
                .filter(|&n| {
                    matches!(spec.nodes[n].kind, NodeKind::InclusiveGateway)
                        || spec.loop_fed_joins.binary_search(&n).is_ok()
                })
                .collect();
            for join in pending {
                self.try_join(scope, join);
            }
        }
        if self.scopes[scope].active.is_empty() {
            self.end_scope(scope);
        }
    }

    /// Fires a join if it may (see [`Workflow::join_fires`]). The tokens'
    /// data merge in branch order (see [`Task::branch`]; ties by arrival),
    /// whatever order they arrived in; the last in that order carries on, on
    /// the branch the joined ones share, and the others complete.
    fn try_join(&mut self, scope: usize, node: NodeIdx) {
        let Some(mut consumed) = self.join_fires(scope, node) else {
            return;
        };
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
    pub(super) fn terminate(&mut self, scope: usize) {
        let mut scopes = vec![scope];
        while let Some(s) = scopes.pop() {
            for id in std::mem::take(&mut self.scope_mut(s).active) {
                self.cancel(id);
                if let Some(child) = self.tasks[id].child {
                    scopes.push(child);
                }
            }
            for waiter in std::mem::take(&mut self.scope_mut(s).waiters) {
                self.cancel(waiter);
            }
            self.scope_mut(s).joins.clear();
        }
    }

    /// Marks one task CANCELLED (its scope's bookkeeping is the caller's),
    /// with the waiters of its boundary timers. Like a completed task, it
    /// keeps no data. A task already ended stays as it is.
    pub(super) fn cancel(&mut self, id: TaskId) {
        if matches!(self.tasks[id].state, TaskState::Cancelled | TaskState::Completed) {
            return;
        }
        self.disarm(id);
        self.drop_run(id);
        self.task_mut(id).state = TaskState::Cancelled;
        self.task_mut(id).data = None;
        // A cancelled multi-instance activity gathers nothing: what its
        // completed instances kept goes.
        if let Some(fanout) = self.task_mut(id).fanout.take() {
            for instance in fanout.made {
                if self.tasks[instance].data.is_some() {
                    self.task_mut(instance).data = None;
                }
            }
        }
        let spec = self.node(id).id.clone();
        self.emit(EventKind::TaskCancelled { task: id, spec });
    }

    /// A scope holds no more tokens: hand its data back to its owner, or
    /// complete the instance.
    fn end_scope(&mut self, scope: usize) {
        for waiter in std::mem::take(&mut self.scope_mut(scope).waiters) {
            self.cancel(waiter);
        }
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
                self.forget_completions();
                self.emit(EventKind::InstanceCompleted);
                // A terminate end event may leave queued steps; they are cancelled.
                self.queue.clear();
            }
        }
    }
}
