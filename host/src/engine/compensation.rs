//! Compensation: undoing what completed, latest first; and transactions,
//! which a cancel end event cancels by compensating them.
//!
//! An activity with a compensation boundary event keeps, when it completes,
//! the data it completed with (a [`Completion`]), numbered in completion
//! order; so does a subprocess or call activity inside which something kept
//! one. A compensation throw or end event compensates the completed
//! activities of its scope (or only those of its `activityRef`), latest
//! first: each by its handler (the activity its boundary event is
//! associated with) or, for a subprocess without a handler, by
//! compensating what completed inside it, latest first, in turn. Each
//! activity is compensated once. A subprocess or called process with a
//! compensation event subprocess is compensated by running that instead,
//! in its (completed) scope; a compensation throw inside it compensates
//! what completed in that scope.
//!
//! The handlers run one at a time, as a *run* of the throwing event, which
//! waits STARTED until the last is done. Each handler starts with the data
//! the previous one ended with (the first with the thrower's), plus the
//! data its activity completed with under [`COMPENSATED`], which is removed
//! when it ends; the thrower goes on with the last handler's data. So a
//! handler sees what earlier handlers did (BPMN 2.0, 10.6). A run is saved
//! with the instance, so a crash or a failing handler (retried as any task)
//! resumes it where it stood.
//!
//! A cancel end event, directly inside a transaction, cancels everything
//! else running in it, compensates what it completed, then cancels the
//! transaction, which leaves through its cancel boundary event, if it has
//! one, with the data the compensation ended with.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::failure::Interrupt;
use super::run::Step;
use super::{EventKind, TaskId, TaskState, Workflow};
use crate::bpmn::{NodeIdx, NodeKind, ProcessSpec};
use crate::script::ScriptEngine;

/// The variable under which a handler finds the data its activity completed with.
pub const COMPENSATED: &str = "compensated";

/// What a compensable activity completed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Its place in the instance's completion order (1 first).
    pub seq: u64,
    /// The data it completed with.
    pub data: Map<String, Value>,
}

/// One activity to undo: its handler, and what the handler is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    /// The scope the activity completed in, where its handler runs.
    pub scope: usize,
    /// The handler's node.
    pub handler: NodeIdx,
    /// The completed activity's task.
    pub activity: TaskId,
    /// The data it completed with.
    pub data: Map<String, Value>,
}

/// The handlers a compensating event runs, one after the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompensationRun {
    /// The compensation throw, end or cancel end event that waits for them.
    pub thrower: TaskId,
    /// What is still to undo; the last is next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Undo>,
    /// The handler running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<TaskId>,
    /// The data handed from handler to handler.
    pub data: Map<String, Value>,
}

/// An instance's compensation state, saved with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Compensations {
    /// The last [`Completion::seq`] given.
    #[serde(default)]
    pub seq: u64,
    /// The runs under way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<CompensationRun>,
}

impl Compensations {
    /// Whether there is nothing to save.
    pub fn is_empty(&self) -> bool {
        self.seq == 0 && self.runs.is_empty()
    }
}

/// The handler of activity `node` of `spec`: the activity its compensation
/// boundary event is associated with.
pub(super) fn handler_of(spec: &ProcessSpec, node: NodeIdx) -> Option<NodeIdx> {
    spec.nodes[node]
        .boundaries
        .iter()
        .find_map(|&b| match spec.nodes[b].kind {
            NodeKind::CompensationBoundaryEvent { handler, .. } if handler < spec.nodes.len() => Some(handler),
            _ => None,
        })
}

impl Workflow {
    /// Task `id` completes with `data`: what compensating it will need is
    /// kept, if it can be compensated (see the module documentation).
    pub(super) fn note_completion(&mut self, id: TaskId, data: &Map<String, Value>) {
        let scope = self.tasks[id].scope;
        let handled = handler_of(&self.scopes[scope].spec, self.tasks[id].node).is_some();
        let inside = self.tasks[id].child.is_some_and(|child| {
            !self.scopes[child].compensable.is_empty() || self.scopes[child].spec.compensation_subprocess().is_some()
        });
        if !(handled || inside) {
            return;
        }
        self.compensation.seq += 1;
        let seq = self.compensation.seq;
        self.task_mut(id).compensable = Some(Box::new(Completion {
            seq,
            data: data.clone(),
        }));
        self.scope_mut(scope).compensable.push(id);
    }

    /// The instance has completed: nothing can be compensated any more, so
    /// what compensating would have needed is let go (not kept in the store).
    pub(super) fn forget_completions(&mut self) {
        for scope in 0..self.scopes.len() {
            // The lists are not saved, so clearing one changes no saved scope.
            for id in std::mem::take(&mut self.scopes[scope].compensable) {
                self.task_mut(id).compensable = None;
            }
        }
    }

    /// What compensating `scope` (only activity `only`, if given) undoes,
    /// in the order it is undone; taken, so that nothing is undone twice.
    /// Each scope lists its compensable tasks in completion order, so this
    /// costs what it undoes; nested subprocesses unfold on a stack.
    fn undo_list(&mut self, scope: usize, only: Option<NodeIdx>) -> Vec<Undo> {
        let listed = std::mem::take(&mut self.scope_mut(scope).compensable);
        let (mut stack, kept): (Vec<TaskId>, Vec<TaskId>) =
            (listed.into_iter()).partition(|&t| only.is_none_or(|node| self.tasks[t].node == node));
        self.scope_mut(scope).compensable = kept;
        // Popped latest first; a subprocess pushes what completed inside it.
        let mut order = Vec::new();
        while let Some(t) = stack.pop() {
            let Some(completion) = self.task_mut(t).compensable.take() else {
                continue;
            };
            let at = self.tasks[t].scope;
            match handler_of(&self.scopes[at].spec, self.tasks[t].node) {
                Some(handler) => order.push(Undo {
                    scope: at,
                    handler,
                    activity: t,
                    data: completion.data,
                }),
                None => {
                    let Some(child) = self.tasks[t].child else {
                        continue;
                    };
                    // Its compensation event subprocess undoes it, in its
                    // scope; what completed there stays for that to throw.
                    match self.scopes[child].spec.compensation_subprocess() {
                        Some(handler) => order.push(Undo {
                            scope: child,
                            handler,
                            activity: t,
                            data: completion.data,
                        }),
                        None => stack.extend(std::mem::take(&mut self.scope_mut(child).compensable)),
                    }
                }
            }
        }
        order
    }

    /// Compensation throw or end event `id`, reached with `data`, compensates
    /// its scope (or `activity` alone), then goes on.
    pub(super) fn throw_compensation(
        &mut self,
        id: TaskId,
        activity: Option<NodeIdx>,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let mut scope = self.tasks[id].scope;
        // Inside a compensation event subprocess, a throw compensates the
        // scope that event subprocess compensates (the parser resolved
        // `activity` there too).
        if let Some(owner) = self.scopes[scope].owner
            && let NodeKind::EventSubProcess(inner) = &self.node(owner).kind
            && inner.is_compensation_subprocess()
        {
            scope = self.tasks[owner].scope;
        }
        let undo = self.undo_list(scope, activity);
        let spec = self.scopes[scope].spec.clone();
        self.emit(EventKind::CompensationThrown {
            task: id,
            spec: self.node(id).id.clone(),
            activity: activity.map(|a| spec.nodes[a].id.clone()),
            handlers: undo.len(),
        });
        if undo.is_empty() {
            return self.complete_with(id, data, None, scripts);
        }
        self.start_run(id, undo, data);
        Ok(())
    }

    /// Cancel end event `id`, reached with `data`, cancels its transaction:
    /// the rest of it is cancelled, what it completed is compensated, and it
    /// leaves through its cancel boundary event.
    pub(super) fn cancel_transaction(&mut self, id: TaskId, data: Map<String, Value>) {
        let scope = self.tasks[id].scope;
        self.scope_mut(scope).active.remove(&id);
        self.terminate(scope);
        self.scope_mut(scope).active.insert(id);
        let undo = self.undo_list(scope, None);
        self.emit(EventKind::CompensationThrown {
            task: id,
            spec: self.node(id).id.clone(),
            activity: None,
            handlers: undo.len(),
        });
        if undo.is_empty() {
            self.leave_transaction(id, data);
        } else {
            self.start_run(id, undo, data);
        }
    }

    /// `thrower` waits while the handlers of `undo` (in the order they run) run.
    fn start_run(&mut self, thrower: TaskId, mut undo: Vec<Undo>, data: Map<String, Value>) {
        undo.reverse();
        self.task_mut(thrower).state = TaskState::Started;
        self.compensation.runs.push(CompensationRun {
            thrower,
            pending: undo,
            running: None,
            data,
        });
        self.next_handler(self.compensation.runs.len() - 1);
    }

    /// Starts run `run`'s next handler or, when none is left, lets its thrower go on.
    fn next_handler(&mut self, run: usize) {
        let thrower = self.compensation.runs[run].thrower;
        let Some(undo) = self.compensation.runs[run].pending.pop() else {
            let done = self.compensation.runs.remove(run);
            if matches!(self.node(thrower).kind, NodeKind::CancelEndEvent) {
                self.leave_transaction(thrower, done.data);
            } else {
                self.task_mut(thrower).data = Some(done.data);
                self.queue.push_back(Step::Finish(thrower));
            }
            return;
        };
        let mut data = self.compensation.runs[run].data.clone();
        data.insert(COMPENSATED.to_string(), Value::Object(undo.data));
        let handler = self.add_task(undo.scope, undo.handler, None, Some(data), Vec::new(), TaskState::Ready);
        self.compensation.runs[run].running = Some(handler);
        self.queue.push_back(Step::Execute(handler));
        self.emit(EventKind::CompensationStarted {
            task: handler,
            spec: self.node(handler).id.clone(),
            activity: self.node(undo.activity).id.clone(),
            compensated: undo.activity,
            thrown_by: thrower,
        });
    }

    /// If task `id` is a running compensation handler, it ends here with
    /// `data` (a handler is on no flow) and its run goes on: whether it was.
    pub(super) fn handler_done(&mut self, id: TaskId, data: &mut Map<String, Value>) -> bool {
        let Some(run) = self.compensation.runs.iter().position(|r| r.running == Some(id)) else {
            return false;
        };
        self.disarm(id);
        self.task_mut(id).state = TaskState::Completed;
        let spec = self.node(id).id.clone();
        self.emit(EventKind::TaskCompleted { task: id, spec });
        let scope = self.tasks[id].scope;
        self.scope_mut(scope).active.remove(&id);
        let mut data = std::mem::take(data);
        data.remove(COMPENSATED);
        self.compensation.runs[run].data = data;
        self.compensation.runs[run].running = None;
        self.next_handler(run);
        true
    }

    /// Task `id` is being cancelled: if it waits for a compensation run, the
    /// run ends here, its running handler cancelled with it.
    pub(super) fn drop_run(&mut self, id: TaskId) {
        let Some(run) = self.compensation.runs.iter().position(|r| r.thrower == id) else {
            return;
        };
        let run = self.compensation.runs.remove(run);
        if let Some(handler) = run.running {
            let scope = self.tasks[handler].scope;
            self.cancel(handler);
            self.scope_mut(scope).active.remove(&handler);
            if let Some(child) = self.tasks[handler].child {
                self.terminate(child);
            }
        }
    }

    /// Cancel end event `id` has compensated its transaction, ending with
    /// `data`: it completes, and the transaction is cancelled and leaves
    /// through its cancel boundary event.
    fn leave_transaction(&mut self, id: TaskId, data: Map<String, Value>) {
        let scope = self.tasks[id].scope;
        self.disarm(id);
        self.task_mut(id).state = TaskState::Completed;
        self.task_mut(id).data = None;
        let spec = self.node(id).id.clone();
        self.emit(EventKind::TaskCompleted { task: id, spec });
        self.scope_mut(scope).active.remove(&id);
        let Some(transaction) = self.scopes[scope].owner else {
            return; // The parser allows cancel end events only in transactions.
        };
        let outer = self.tasks[transaction].scope;
        let spec = self.scopes[outer].spec.clone();
        let node = &spec.nodes[self.tasks[transaction].node];
        let boundary = (node.boundaries.iter().copied())
            .find(|&b| matches!(spec.nodes[b].kind, NodeKind::CancelBoundaryEvent { .. }));
        self.emit(EventKind::TransactionCancelled {
            task: transaction,
            spec: node.id.clone(),
            cancelled_by: id,
        });
        let branch = self.tasks[transaction].branch.clone();
        self.cancel(transaction);
        self.scope_mut(outer).active.remove(&transaction);
        if let Some(boundary) = boundary {
            self.arrive(outer, boundary, None, data, branch);
        }
        self.after_tokens_moved(outer);
    }
}
