//! What one step does to one task: run a READY task, or finish a STARTED one.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt};
use super::hooks::{Hook, run_hook};
use super::jobs::{is_call, perform};
use super::{TaskId, Workflow, merge};
use crate::bpmn::{NodeKind, ProcessSpec};
use crate::script::ScriptEngine;

impl Workflow {
    /// Runs one READY task here, plugin work included.
    pub(super) fn execute(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        let scope = self.tasks[id].scope;
        let spec = self.scopes[scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        if self.rewatch(id) || self.skip_loop(id, scripts)? {
            return Ok(());
        }
        self.read_data_objects(id)?;
        self.arm_boundaries(id, scripts)?;
        if self.fans_out(id) {
            return self.fan_out(id, scripts);
        }
        if is_call(node) {
            let job = self.job(id, false);
            let done = perform(job, scripts);
            return self.complete_job(done, scripts);
        }
        let mut data = self.task_mut(id).data.take().unwrap_or_default();
        // What the task changes is seen by the conditions waiting (see `conditions`).
        let before = self.watching().then(|| data.clone());
        self.task_mut(id).log.clear();
        // When interrupted the task keeps the data it was reached with, so
        // that a retry runs the pre-script again on the same data.
        let pre_script = node.pre_script.as_deref().filter(|_| self.runs_hooks(id));
        let original = pre_script.map(|_| data.clone());
        if let Some(pre) = pre_script {
            let info = self.task_info(id);
            match run_hook(scripts, &info, Hook::Pre, pre, &data, &mut self.task_mut(id).log) {
                Ok(new) => data = new,
                Err(interrupt) => {
                    self.task_mut(id).data = original;
                    return Err((id, interrupt));
                }
            }
        }
        let interrupted = |workflow: &mut Workflow, data: Map<String, Value>, interrupt: Interrupt| {
            workflow.task_mut(id).data = Some(original.clone().unwrap_or(data));
            Err((id, interrupt))
        };
        match &node.kind {
            // Reached (and its pre-script run): it waits to be completed from outside.
            kind if self.waits_for_someone(kind) => {
                self.task_mut(id).data = Some(data);
                Ok(())
            }
            NodeKind::TimerCatchEvent(_)
            | NodeKind::MessageCatchEvent(_)
            | NodeKind::SignalCatchEvent(_)
            | NodeKind::ReceiveTask(_)
            | NodeKind::ConditionalCatchEvent(_)
            | NodeKind::MultipleCatchEvent(_) => self.arm_catch(id, &node.kind, data, scripts),
            // An instance started directly at a timer or conditional start
            // event waits there; one the scheduler started is past it, as is
            // an event subprocess (its waiter waited).
            NodeKind::TimerStartEvent { .. } | NodeKind::ConditionalStartEvent { .. }
                if self.scopes[scope].owner.is_none() =>
            {
                self.arm_catch(id, &node.kind, data, scripts)
            }
            NodeKind::MultipleThrowEvent(parts) | NodeKind::MultipleEndEvent(parts) => {
                // In order; a retry after a failure part-way throws them all
                // again (at least once, as every step).
                for part in parts {
                    let sent = match (part.message_throw(), part.signal_throw()) {
                        (Some(message), _) => self.send(id, message, &data, scripts),
                        (None, Some(signal)) => self.signal(id, signal, &data, scripts),
                        (None, None) => Ok(()),
                    };
                    if let Err(interrupt) = sent {
                        return interrupted(self, data, interrupt);
                    }
                }
                let escalation = parts.iter().find_map(|part| match part {
                    NodeKind::EscalationThrowEvent(event) | NodeKind::EscalationEndEvent(event) => Some(event),
                    _ => None,
                });
                match escalation {
                    Some(event) => {
                        if self.escalate(id, event, data, scripts)? {
                            let data = self.task_mut(id).data.take().unwrap_or_default();
                            self.complete_with(id, data, before, scripts)?;
                        }
                        Ok(())
                    }
                    None => self.complete_with(id, data, before, scripts),
                }
            }
            kind if let Some(message) = kind.message_throw() => match self.send(id, message, &data, scripts) {
                Ok(()) => self.complete_with(id, data, before, scripts),
                Err(interrupt) => interrupted(self, data, interrupt),
            },
            kind if let Some(signal) = kind.signal_throw() => match self.signal(id, signal, &data, scripts) {
                Ok(()) => self.complete_with(id, data, before, scripts),
                Err(interrupt) => interrupted(self, data, interrupt),
            },
            NodeKind::EventBasedGateway => self.arm_gateway(id, data, scripts),
            &NodeKind::LinkThrowEvent { target, .. } => {
                self.jump(id, data, target);
                Ok(())
            }
            NodeKind::EscalationThrowEvent(event) | NodeKind::EscalationEndEvent(event) => {
                if self.escalate(id, event, data, scripts)? {
                    let data = self.task_mut(id).data.take().unwrap_or_default();
                    self.complete_with(id, data, before, scripts)?;
                }
                Ok(())
            }
            &NodeKind::CompensationThrowEvent { activity } | &NodeKind::CompensationEndEvent { activity } => {
                self.throw_compensation(id, activity, data, scripts)
            }
            NodeKind::CancelEndEvent => {
                self.cancel_transaction(id, data);
                Ok(())
            }
            NodeKind::ErrorEndEvent(event) => {
                let thrown = self.throw_at_end_event(id, event, &data, scripts);
                interrupted(self, data, thrown)
            }
            // The first step of an event subprocess started by a timer or a
            // message arms it.
            NodeKind::EventSubProcess(inner) if self.scopes[scope].waiters.contains(&id) => {
                self.task_mut(id).data = Some(data);
                self.arm_event_subprocess(id, inner, scripts)
            }
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
                    return interrupted(self, data, Interrupt::Fail(cause));
                };
                let process = called.id.clone();
                self.enter(id, called, process, data);
                Ok(())
            }
            // Events, abstract tasks and gateways (whose joins have already fired).
            _ => self.complete_with(id, data, before, scripts),
        }
    }

    /// A STARTED task's work is done: merge what its scope ended with (if it
    /// opened one) into its data and go on.
    pub(super) fn finish(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        if self.fans_out(id) {
            return self.finish_instances(id, scripts);
        }
        let mut data = self.task_mut(id).data.take().unwrap_or_default();
        let mut before = None;
        if let Some(end) = self.tasks[id]
            .child
            .and_then(|child| self.scope_mut(child).end_data.take())
        {
            before = self.watching().then(|| data.clone());
            merge(&mut data, end);
        }
        self.complete_with(id, data, before, scripts)
    }

    /// Runs a task's post-script, if it has one, then sends its data on.
    /// What it changed since `before` (if given; while conditions wait) is
    /// seen by the conditions waiting.
    pub(super) fn complete_with(
        &mut self,
        id: TaskId,
        data: Map<String, Value>,
        mut before: Option<Map<String, Value>>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let spec: Arc<ProcessSpec> = self.scopes[self.tasks[id].scope].spec.clone();
        let post_script = (spec.nodes[self.tasks[id].node].post_script.as_deref()).filter(|_| self.runs_hooks(id));
        if post_script.is_some() && before.is_none() && self.watching() {
            before = Some(data.clone());
        }
        let data = match post_script {
            Some(post) => {
                let info = self.task_info(id);
                match run_hook(scripts, &info, Hook::Post, post, &data, &mut self.task_mut(id).log) {
                    Ok(new) => new,
                    Err(interrupt) => {
                        self.task_mut(id).data = Some(data);
                        return Err((id, interrupt));
                    }
                }
            }
            None => data,
        };
        if let Some(before) = before {
            self.observe(id, &before, &data);
        }
        self.route(id, data, scripts)
    }

    /// A task's work is done: unless its loop runs it again, it completes
    /// and its data goes along its outgoing flows; an instance of a
    /// multi-instance activity hands it back to the activity instead.
    pub(super) fn route(
        &mut self,
        id: TaskId,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        if self.is_instance(id) {
            return self.instance_done(id, data, scripts);
        }
        match self.next_pass(id, data, scripts)? {
            Some(data) => self.leave(id, data, scripts),
            None => Ok(()), // It runs again.
        }
    }

    /// Chooses a completed task's outgoing flows and sends its data along them.
    pub(super) fn leave(
        &mut self,
        id: TaskId,
        mut data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        if let Err(interrupt) = self.write_data_objects(id, &mut data) {
            self.task_mut(id).data = Some(data);
            return Err((id, interrupt));
        }
        let flows = match self.select_flows(id, &data, scripts) {
            Ok(flows) => flows,
            Err(interrupt) => {
                self.task_mut(id).data = Some(data);
                return Err((id, interrupt));
            }
        };
        self.advance(id, data, flows);
        Ok(())
    }
}
