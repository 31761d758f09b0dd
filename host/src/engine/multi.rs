//! Multi-instance activities: an activity with
//! `multiInstanceLoopCharacteristics` runs as several *instances*, one per
//! element of a collection or as many as its cardinality says, one after the
//! other (`isSequential`) or all at once, on the task pool like any other
//! tasks.
//!
//! The activity's own task holds the data it was reached with (the
//! collection included) and a [`Fanout`] while its instances run; it opens a
//! scope of its own holding them, so that an interrupting catch on the
//! activity cancels every instance as it cancels the inside of a
//! subprocess, and throws from an instance are caught from the activity
//! outwards. An instance is a task of the same element whose data is the
//! activity's without the input and output collections (no instance copies
//! the whole collection), with its element under `inputDataItem`, its
//! index as `loopCounter` (from 0, as Camunda and Flowable count) and
//! `numberOfInstances`.
//!
//! What each instance hands back is its `outputDataItem`, gathered into
//! `loopDataOutputRef` in element order, never completion order: a list, or
//! for an object collection an object with its keys (with the same variable
//! for input and output, the collection is updated in place). Without an
//! output item an instance's data is merged into the activity's, in element
//! order (sequential instances each see what the one before merged, as in
//! SpiffWorkflow). The instance variables stay with the instances.
//!
//! `completionCondition` is evaluated on each instance's data as it
//! completes, with `numberOfInstances`, `numberOfActiveInstances`,
//! `numberOfCompletedInstances` and `numberOfTerminatedInstances` (and
//! Camunda's `nrOf...` spellings); once it holds, the instances still
//! running are cancelled and the activity goes on.
//!
//! The activity's pre- and post-scripts run once, before the instances are
//! made (a pre-script can build the collection) and after their results
//! are gathered; with `spiffworkflow:scriptsOnInstances="true"` they run
//! on each instance instead (SpiffWorkflow's rule).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt, answered};
use super::hooks::{Hook, run_hook};
use super::run::Step;
use super::tokens::Scope;
use super::{EventKind, TaskId, TaskState, Workflow, merge, truthy};
use crate::bpmn::{Instances, MultiInstance};
use crate::script::ScriptEngine;

/// The most instances a `loopCardinality` expression may ask for: each is a
/// task held in memory; a collection is not limited (it is in memory already).
pub const MAX_CARDINALITY: u64 = 1_000_000;

/// The variables an instance has that its activity does not.
const LOOP_COUNTER: &str = "loopCounter";
const NUMBER_OF_INSTANCES: &str = "numberOfInstances";

/// Where a multi-instance activity's instances stand, kept by its task
/// while they run.
///
/// Only what is fixed when the instances are made is saved, with the
/// activity's task, once: what changes as they run follows from the
/// instance tasks (rebuilt from them when the instance is loaded), and what
/// a completed instance hands back stays in its own task until gathered.
/// So a step of one instance saves that instance, never the activity with
/// its whole collection: saving stays linear in the number of instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fanout {
    /// How many instances there are.
    pub count: u32,
    /// The keys of an object collection, in order: instance `i` has the
    /// value of key `i`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// The instance tasks made so far, by index.
    #[serde(skip)]
    pub(super) made: Vec<TaskId>,
    /// How many completed.
    #[serde(skip)]
    pub(super) completed: u32,
    /// How many the completion condition cancelled.
    #[serde(skip)]
    pub(super) cancelled: u32,
}

impl Workflow {
    /// The multi-instance characteristics of task `id`'s element, if any.
    fn multi(&self, id: TaskId) -> Option<&MultiInstance> {
        self.node(id).multi.as_deref()
    }

    /// Whether task `id` is an instance of a multi-instance activity.
    pub(super) fn is_instance(&self, id: TaskId) -> bool {
        self.scopes[self.tasks[id].scope].instances
    }

    /// Whether task `id` is a multi-instance activity itself, which makes
    /// instances rather than doing the work.
    pub(super) fn fans_out(&self, id: TaskId) -> bool {
        self.multi(id).is_some() && !self.is_instance(id)
    }

    /// Whether the pre- and post-scripts of task `id`'s element run at it:
    /// on a multi-instance activity, or on each of its instances.
    pub(super) fn runs_hooks(&self, id: TaskId) -> bool {
        self.multi(id)
            .is_none_or(|multi| multi.scripts_on_instances == self.is_instance(id))
    }

    /// A READY multi-instance activity runs: its pre-script, then its
    /// instances are made, or, with none, it goes on at once.
    pub(super) fn fan_out(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        let spec = self.scopes[self.tasks[id].scope].spec.clone();
        let node = &spec.nodes[self.tasks[id].node];
        let multi = node.multi.as_deref().expect("a multi-instance activity");
        let mut data = self.task_mut(id).data.take().unwrap_or_default();
        let before = self.watching().then(|| data.clone());
        // Interrupted, it keeps the data it was reached with (a retry runs
        // the pre-script again on the same data).
        let original = node.pre_script.as_ref().map(|_| data.clone());
        self.task_mut(id).log.clear();
        if let Some(pre) = node.pre_script.as_deref().filter(|_| self.runs_hooks(id)) {
            let info = self.task_info(id);
            match run_hook(scripts, &info, Hook::Pre, pre, &data, &mut self.task_mut(id).log) {
                Ok(new) => data = new,
                Err(interrupt) => {
                    self.task_mut(id).data = original;
                    return Err((id, interrupt));
                }
            }
        }
        let (count, keys) = match self.instances(id, multi, &data, scripts) {
            Ok(planned) => planned,
            Err(interrupt) => {
                self.task_mut(id).data = Some(original.unwrap_or(data));
                return Err((id, interrupt));
            }
        };
        let fanout = Fanout {
            count,
            keys,
            made: Vec::new(),
            completed: 0,
            cancelled: 0,
        };
        if count == 0 {
            let data = self.gathered(id, data, fanout.keys, Vec::new());
            return self.complete_with(id, data, before, scripts);
        }
        if let Some(before) = before {
            self.observe(id, &before, &data);
        }
        let scope = self.scopes.len();
        self.changes.scopes.insert(scope);
        let around = &self.scopes[self.tasks[id].scope];
        let mut instances = Scope::new(around.spec.clone(), around.process.clone(), Some(id));
        instances.instances = true;
        self.scopes.push(instances);
        let task = self.task_mut(id);
        task.state = TaskState::Started;
        task.data = Some(data);
        task.child = Some(scope);
        task.fanout = Some(Box::new(fanout));
        self.emit(EventKind::InstancesStarted {
            task: id,
            spec: node.id.clone(),
            instances: count,
            sequential: multi.sequential,
        });
        let first = if multi.sequential { 1 } else { count };
        for index in 0..first {
            self.start_instance(id, index);
        }
        Ok(())
    }

    /// How many instances activity `id` makes from `data`, and the keys of
    /// an object collection.
    fn instances(
        &self,
        id: TaskId,
        multi: &MultiInstance,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(u32, Option<Vec<String>>), Interrupt> {
        let fail = |message: String| {
            Interrupt::Fail(Cause::Engine {
                reason: "multi_instance",
                message,
            })
        };
        let count = match &multi.over {
            &Instances::Count(count) => count,
            Instances::Cardinality(expression) => {
                let outcome = answered(scripts.evaluate(&self.task_info(id), expression, data))
                    .map_err(|i| i.within(&format!("loopCardinality ({expression})")))?;
                let value = outcome.value;
                value
                    .as_u64()
                    .or_else(|| {
                        value
                            .as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| {
                        fail(format!(
                            "loopCardinality ({expression}) is {value}, not a whole number of instances"
                        ))
                    })?
            }
            Instances::Collection(variable) => {
                return match data.get(variable) {
                    Some(Value::Array(items)) => Ok((count_of(items.len()).map_err(fail)?, None)),
                    Some(Value::Object(entries)) => Ok((
                        count_of(entries.len()).map_err(fail)?,
                        Some(entries.keys().cloned().collect()),
                    )),
                    Some(other) => Err(fail(format!(
                        "loopDataInputRef `{variable}` is {}, not a list or an object to make instances of",
                        kind_of(other)
                    ))),
                    None => Err(fail(format!(
                        "loopDataInputRef `{variable}` is not in the task's data: set it before the activity \
                         (a pre-script or an earlier task), one instance runs per element"
                    ))),
                };
            }
        };
        if count > MAX_CARDINALITY {
            return Err(fail(format!(
                "loopCardinality asks for {count} instances, more than the {MAX_CARDINALITY} one activity may \
                 make: give a collection (loopDataInputRef) instead"
            )));
        }
        Ok((count as u32, None))
    }

    /// Makes instance `index` of multi-instance activity `parent`.
    fn start_instance(&mut self, parent: TaskId, index: u32) {
        let scope = self.tasks[parent]
            .child
            .expect("a fanned-out activity has its instances' scope");
        let spec = self.scopes[scope].spec.clone();
        let node_index = self.tasks[parent].node;
        let node = &spec.nodes[node_index];
        let multi = node.multi.as_deref().expect("a multi-instance activity");
        let whole = self.tasks[parent].data.as_ref();
        let fanout = self.tasks[parent].fanout.as_deref().expect("a fanned-out activity");
        let collection = match &multi.over {
            Instances::Collection(variable) => Some(variable.as_str()),
            _ => None,
        };
        let mut data = Map::new();
        let mut item = Value::from(index);
        // Sequential instances that hand back their data each start from
        // what the one before ended with (kept by its task).
        let before = (index.checked_sub(1))
            .filter(|_| multi.sequential && !collects(multi))
            .and_then(|i| fanout.made.get(i as usize))
            .and_then(|&t| self.tasks[t].data.as_ref());
        if let Some(whole) = whole {
            for (key, value) in before.unwrap_or(whole) {
                if Some(key.as_str()) == collection || Some(key) == multi.output.as_ref() {
                    continue;
                }
                data.insert(key.clone(), value.clone());
            }
            match (collection.and_then(|c| whole.get(c)), &fanout.keys) {
                (Some(Value::Array(items)), _) => item = items.get(index as usize).cloned().unwrap_or(Value::Null),
                (Some(Value::Object(entries)), Some(keys)) => {
                    item = (keys.get(index as usize))
                        .and_then(|k| entries.get(k))
                        .cloned()
                        .unwrap_or(Value::Null)
                }
                _ => {}
            }
        }
        let count = fanout.count;
        if let Some(variable) = &multi.input_item {
            data.insert(variable.clone(), item);
        }
        data.insert(LOOP_COUNTER.into(), Value::from(index));
        data.insert(NUMBER_OF_INSTANCES.into(), Value::from(count));
        // A user or manual instance waits as soon as it is made, unless its
        // pre-script is to run first.
        let manual = self.waits_for_someone(&node.kind) && !(multi.scripts_on_instances && node.pre_script.is_some());
        let id = self.add_task(scope, node_index, None, Some(data), vec![index], TaskState::Ready);
        self.task_mut(id).index = index;
        // Not a change to save: it follows from the instance tasks.
        if let Some(fanout) = self.tasks[parent].fanout.as_deref_mut() {
            fanout.made.push(id);
        }
        if !manual {
            self.queue.push_back(Step::Execute(id));
        }
    }

    /// Instance `id` ended with `data`: what it hands back is kept, the
    /// completion condition decides whether others still run, and the next
    /// sequential instance is made; once none runs, its activity goes on.
    pub(super) fn instance_done(
        &mut self,
        id: TaskId,
        mut data: Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), (TaskId, Interrupt)> {
        let scope = self.tasks[id].scope;
        let parent = self.scopes[scope].owner.expect("instances have their activity");
        let spec = self.scopes[scope].spec.clone();
        let multi = spec.nodes[self.tasks[id].node]
            .multi
            .as_deref()
            .expect("a multi-instance activity");
        let index = self.tasks[id].index;
        let fail = |workflow: &mut Workflow, data, message: String| {
            workflow.task_mut(id).data = Some(data);
            Err((
                id,
                Interrupt::Fail(Cause::Engine {
                    reason: "multi_instance",
                    message,
                }),
            ))
        };
        let collect = collects(multi);
        if let Some(item) = multi.output_item.as_ref().filter(|_| collect)
            && !data.contains_key(item)
        {
            let message = format!(
                "instance {index} ended without its outputDataItem `{item}`: set it in the instance, it is gathered \
                 into `{}`",
                multi.output.as_deref().unwrap_or_default()
            );
            return fail(self, data, message);
        }
        let Some(fanout) = self.tasks[parent].fanout.as_deref() else {
            return fail(self, data, "its multi-instance activity is not running".into());
        };
        let (count, completed, cancelled) = (fanout.count, fanout.completed + 1, fanout.cancelled);
        let made = fanout.made.len() as u32;
        let previous = (index.checked_sub(1)).and_then(|i| fanout.made.get(i as usize).copied());
        let active = self.scopes[scope].active.len().saturating_sub(1) as u32;
        let stop = match &multi.completion {
            None => false,
            Some(condition) => {
                let mut view = data.clone();
                for (names, n) in [
                    (["numberOfInstances", "nrOfInstances"], count),
                    (["numberOfActiveInstances", "nrOfActiveInstances"], active),
                    (["numberOfCompletedInstances", "nrOfCompletedInstances"], completed),
                    (["numberOfTerminatedInstances", "nrOfTerminatedInstances"], cancelled),
                ] {
                    for name in names {
                        view.insert(name.into(), Value::from(n));
                    }
                }
                match answered(scripts.evaluate(&self.task_info(id), condition, &view)) {
                    Ok(outcome) => truthy(&outcome.value),
                    Err(interrupt) => {
                        self.task_mut(id).data = Some(data);
                        return Err((id, interrupt.within(&format!("completionCondition ({condition})"))));
                    }
                }
            }
        };
        // The instance completes, keeping what it hands back until gathered;
        // the variables only it had stay with it.
        let kept = match multi.output_item.as_ref().filter(|_| collect) {
            Some(item) => {
                let value = data.remove(item).expect("checked above");
                Map::from_iter([(item.clone(), value)])
            }
            None => {
                for variable in [LOOP_COUNTER, NUMBER_OF_INSTANCES]
                    .into_iter()
                    .chain(multi.input_item.as_deref())
                {
                    data.remove(variable);
                }
                data
            }
        };
        let kept = match previous.filter(|_| multi.sequential && !collect) {
            // Sequential: the one before's data, with this one's merged in,
            // is what the next starts from; the one before keeps nothing more.
            Some(previous) => {
                let mut accumulated = self.task_mut(previous).data.take().unwrap_or_default();
                merge(&mut accumulated, kept);
                accumulated
            }
            None => kept,
        };
        self.complete_token(id);
        self.task_mut(id).data = Some(kept);
        self.scopes[scope].active.remove(&id);
        if let Some(fanout) = self.tasks[parent].fanout.as_deref_mut() {
            fanout.completed = completed;
        }
        if stop {
            let running: Vec<TaskId> = self.scopes[scope].active.iter().copied().collect();
            if let Some(fanout) = self.tasks[parent].fanout.as_deref_mut() {
                fanout.cancelled += running.len() as u32;
            }
            self.terminate(scope);
        } else if multi.sequential && made < count {
            self.start_instance(parent, made);
        }
        self.after_tokens_moved(scope);
        Ok(())
    }

    /// A multi-instance activity whose instances all ended goes on with
    /// what they handed back.
    pub(super) fn finish_instances(&mut self, id: TaskId, scripts: &ScriptEngine) -> Result<(), (TaskId, Interrupt)> {
        let data = self.task_mut(id).data.take().unwrap_or_default();
        let before = self.watching().then(|| data.clone());
        let Some(fanout) = self.task_mut(id).fanout.take() else {
            return self.complete_with(id, data, before, scripts);
        };
        let spec = self.node(id).id.clone();
        self.emit(EventKind::InstancesEnded {
            task: id,
            spec,
            completed: fanout.completed,
            cancelled: fanout.cancelled,
        });
        // What each completed instance kept, in element order; they keep nothing more.
        let mut results = Vec::with_capacity(fanout.completed as usize);
        for (index, &instance) in fanout.made.iter().enumerate() {
            if self.tasks[instance].state == TaskState::Completed
                && let Some(kept) = self.task_mut(instance).data.take()
            {
                results.push((index as u32, kept));
            }
        }
        let data = self.gathered(id, data, fanout.keys, results);
        self.complete_with(id, data, before, scripts)
    }

    /// The data multi-instance activity `id` goes on with: `data` with what
    /// its instances handed back, in element order.
    fn gathered(
        &self,
        id: TaskId,
        mut data: Map<String, Value>,
        keys: Option<Vec<String>>,
        kept: Vec<(u32, Map<String, Value>)>,
    ) -> Map<String, Value> {
        let multi = self.multi(id).expect("a multi-instance activity");
        let (Some(output), Some(item)) = (multi.output.as_ref(), multi.output_item.as_ref()) else {
            for (_, result) in kept {
                merge(&mut data, result);
            }
            return data;
        };
        let results = kept
            .into_iter()
            .map(|(index, mut kept)| (index, kept.remove(item).unwrap_or(Value::Null)));
        let in_place = matches!(&multi.over, Instances::Collection(input) if input == output);
        let collected = match (data.remove(output), keys) {
            (Some(Value::Array(mut items)), _) if in_place => {
                for (index, value) in results {
                    if let Some(slot) = items.get_mut(index as usize) {
                        *slot = value;
                    }
                }
                Value::Array(items)
            }
            (existing, Some(keys)) => {
                let mut entries = match existing {
                    Some(Value::Object(entries)) if in_place => entries,
                    _ => Map::new(),
                };
                for (index, value) in results {
                    if let Some(key) = keys.get(index as usize) {
                        entries.insert(key.clone(), value);
                    }
                }
                Value::Object(entries)
            }
            (_, None) => Value::Array(results.map(|(_, value)| value).collect()),
        };
        data.insert(output.clone(), collected);
        data
    }
}

/// Whether the instances' results are gathered into an output collection
/// (else their data is merged).
fn collects(multi: &MultiInstance) -> bool {
    multi.output.is_some() && multi.output_item.is_some()
}

/// A collection's length as a number of instances.
fn count_of(len: usize) -> Result<u32, String> {
    u32::try_from(len).map_err(|_| format!("a collection of {len} elements is more instances than one activity makes"))
}

/// What kind of JSON value `value` is, for messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
