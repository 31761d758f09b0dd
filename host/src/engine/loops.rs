//! Standard loops: an activity with `standardLoopCharacteristics` runs
//! pass after pass, as one task that is made READY again with the data its
//! last pass ended with, so its boundary events stay armed across passes
//! and its id stays what `waiting` and `complete` name.
//!
//! Whether another pass runs is decided after each pass, or, with
//! `testBefore`, before each, the first too: none once `loopMaximum` passes
//! have run, none once `loopCondition` no longer holds on the data (BPMN
//! 2.0 and SpiffWorkflow: it loops while the condition holds). A pass that
//! cannot decide (the condition fails) fails the task; a retry runs that
//! pass again.

use serde_json::{Map, Value};

use super::failure::{Interrupt, answered};
use super::run::Step;
use super::{EventKind, TaskId, TaskState, Workflow, truthy};
use crate::bpmn::StandardLoop;
use crate::script::ScriptEngine;

impl Workflow {
    /// Whether the loop of task `id`, having completed `passes` passes and
    /// ending with `data`, runs another.
    fn loops_again(
        &self,
        id: TaskId,
        looping: &StandardLoop,
        passes: u32,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<bool, Interrupt> {
        if looping.maximum.is_some_and(|maximum| u64::from(passes) >= maximum) {
            return Ok(false);
        }
        let Some(condition) = &looping.condition else {
            return Ok(true);
        };
        let outcome = answered(scripts.evaluate(&self.task_info(id), condition, data))
            .map_err(|i| i.within(&format!("loopCondition ({condition})")))?;
        Ok(truthy(&outcome.value))
    }

    /// A READY task about to take its first pass: if its loop is tested
    /// before and runs no pass, it goes on at once with the data it was
    /// reached with (neither its work nor its pre- or post-script runs).
    /// Whether it did.
    pub(super) fn skip_loop(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<bool, (TaskId, Interrupt)> {
        let spec = self.scopes[self.tasks[id].scope].spec.clone();
        let Some(looping) = spec.nodes[self.tasks[id].node].looping.as_deref() else {
            return Ok(false);
        };
        if !looping.test_before || self.tasks[id].passes > 0 {
            return Ok(false);
        }
        let data = self.tasks[id].data.clone().unwrap_or_default();
        if self.loops_again(id, looping, 0, &data, scripts).map_err(|i| (id, i))? {
            return Ok(false);
        }
        self.task_mut(id).data = None;
        self.leave(id, data, scripts)?;
        Ok(true)
    }

    /// Task `id` ended a pass with `data`: if its loop runs another, it is
    /// READY again for it (`None`); else the data it goes on with.
    pub(super) fn next_pass(
        &mut self,
        id: TaskId,
        data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Option<Map<String, Value>>, (TaskId, Interrupt)> {
        let spec = self.scopes[self.tasks[id].scope].spec.clone();
        let Some(looping) = spec.nodes[self.tasks[id].node].looping.as_deref() else {
            return Ok(Some(data));
        };
        let passes = self.tasks[id].passes.saturating_add(1);
        match self.loops_again(id, looping, passes, &data, scripts) {
            Ok(false) => {
                self.task_mut(id).passes = passes;
                Ok(Some(data))
            }
            Ok(true) => {
                self.task_mut(id).passes = passes;
                self.task_mut(id).data = Some(data);
                self.task_mut(id).state = TaskState::Ready;
                let spec = self.node(id).id.clone();
                self.emit(EventKind::LoopPassed { task: id, spec, passes });
                self.queue.push_back(Step::Execute(id));
                Ok(None)
            }
            Err(interrupt) => {
                self.task_mut(id).data = Some(data);
                Err((id, interrupt))
            }
        }
    }
}
