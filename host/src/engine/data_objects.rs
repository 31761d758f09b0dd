//! Data objects: values a process or subprocess holds beside its tokens,
//! shared by its tasks (and those of its subprocesses) through data
//! associations, as SpiffWorkflow runs them.
//!
//! A task with a `dataInputAssociation` gets a copy of the data object
//! under its id when it runs; reading one that no task has written yet
//! fails the task with an error naming it. A task with a
//! `dataOutputAssociation` hands the variable of that id over to the data
//! object when it completes: the value leaves the task's data (as do the
//! copies it read), so it does not flow on along sequence flows. Sequence
//! flow conditions see the data objects of their scope beside the data
//! (the data wins where both have a name).
//!
//! Each data object lives in the scope whose spec declares it, found from
//! the task's scope outwards; the scope holding a multi-instance
//! activity's instances declares none of its own.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt};
use super::{TaskId, Workflow};

impl Workflow {
    /// The scope holding data object `name` for a task of `scope`.
    fn data_object_scope(&self, mut scope: usize, name: &str) -> usize {
        loop {
            let here = &self.scopes[scope];
            if !here.instances && here.spec.data_objects.iter().any(|d| d == name) {
                return scope;
            }
            match here.owner {
                Some(owner) => scope = self.tasks[owner].scope,
                None => return scope,
            }
        }
    }

    /// Copies the data objects task `id` reads into its data.
    pub(super) fn read_data_objects(&mut self, id: TaskId) -> Result<(), (TaskId, Interrupt)> {
        let spec = self.scopes[self.tasks[id].scope].spec.clone();
        let Some(data) = spec.nodes[self.tasks[id].node].data.as_deref() else {
            return Ok(());
        };
        if data.inputs.is_empty() || self.is_instance(id) {
            return Ok(());
        }
        let mut read = Vec::with_capacity(data.inputs.len());
        for name in &data.inputs {
            let holder = self.data_object_scope(self.tasks[id].scope, name);
            match self.scopes[holder].data_objects.get(name) {
                Some(value) => read.push((name.clone(), value.clone())),
                None => {
                    let message = format!(
                        "data object `{name}` has no value yet: a task writes it (a dataOutputAssociation) before \
                         one reads it"
                    );
                    let cause = Cause::Engine {
                        reason: "data_object",
                        message,
                    };
                    return Err((id, Interrupt::Fail(cause)));
                }
            }
        }
        let task = self.task_mut(id).data.get_or_insert_with(Map::new);
        task.extend(read);
        Ok(())
    }

    /// Task `id` completes with `data`: what it writes goes to its data
    /// objects, and neither that nor what it read goes on with it.
    pub(super) fn write_data_objects(&mut self, id: TaskId, data: &mut Map<String, Value>) -> Result<(), Interrupt> {
        let spec = self.scopes[self.tasks[id].scope].spec.clone();
        let Some(associations) = spec.nodes[self.tasks[id].node].data.as_deref() else {
            return Ok(());
        };
        if let Some(missing) = associations.outputs.iter().find(|name| !data.contains_key(*name)) {
            let message = format!(
                "the task writes data object `{missing}` (a dataOutputAssociation) but its data has no \
                 `{missing}`: set it in the task"
            );
            return Err(Interrupt::Fail(Cause::Engine {
                reason: "data_object",
                message,
            }));
        }
        for name in &associations.outputs {
            let value = data.remove(name).expect("checked above");
            let holder = self.data_object_scope(self.tasks[id].scope, name);
            self.scope_mut(holder).data_objects.insert(name.clone(), value);
        }
        for name in &associations.inputs {
            data.remove(name);
        }
        Ok(())
    }

    /// `data` with the data objects of `scope` and the scopes around it
    /// beside it, for a condition to read (`data` as it is when there are none).
    pub(super) fn with_data_objects<'a>(
        &self,
        mut scope: usize,
        data: &'a Map<String, Value>,
    ) -> Cow<'a, Map<String, Value>> {
        let mut view = Cow::Borrowed(data);
        loop {
            let here = &self.scopes[scope];
            for (name, value) in &here.data_objects {
                if !view.contains_key(name) {
                    view.to_mut().insert(name.clone(), value.clone());
                }
            }
            match here.owner {
                Some(owner) => scope = self.tasks[owner].scope,
                None => return view,
            }
        }
    }

    /// The data objects of the instance's process (its own scope), by id.
    pub fn data_objects(&self) -> &Map<String, Value> {
        &self.scopes[0].data_objects
    }
}
