//! A set of loaded diagrams: where call activities find the processes they call.

use std::collections::HashMap;
use std::sync::Arc;

use super::collaboration::pools_process;
use super::spec::{Diagram, ProcessSpec};

/// Every process of the diagrams given to one run, by id.
#[derive(Debug, Clone, Default)]
pub struct Library {
    diagrams: Vec<Diagram>,
    processes: HashMap<String, Arc<ProcessSpec>>,
}

impl Library {
    /// The processes of `diagrams`. Where two files define the same process id,
    /// the first file given wins (see [`Library::duplicates`]).
    pub fn new(diagrams: Vec<Diagram>) -> Library {
        let mut processes = HashMap::new();
        for process in diagrams.iter().flat_map(|d| &d.processes) {
            processes.entry(process.id.clone()).or_insert_with(|| process.clone());
        }
        // A collaboration runs its pools as one instance, started by its id.
        for diagram in &diagrams {
            let own: HashMap<String, Arc<ProcessSpec>> =
                (diagram.processes.iter()).map(|p| (p.id.clone(), p.clone())).collect();
            for collaboration in &diagram.collaborations {
                if let Some(spec) = pools_process(collaboration, &own) {
                    processes
                        .entry(collaboration.id.clone())
                        .or_insert_with(|| Arc::new(spec));
                }
            }
        }
        Library { diagrams, processes }
    }

    /// The diagrams, in the order given.
    pub fn diagrams(&self) -> &[Diagram] {
        &self.diagrams
    }

    /// The process with this id, from any loaded file.
    pub fn process(&self, id: &str) -> Option<&Arc<ProcessSpec>> {
        self.processes.get(id)
    }

    /// Process ids defined by more than one file, with the second definition.
    pub fn duplicates(&self) -> Vec<&Arc<ProcessSpec>> {
        self.diagrams
            .iter()
            .flat_map(|d| &d.processes)
            .filter(|p| !Arc::ptr_eq(&self.processes[&p.id], p))
            .collect()
    }

    /// The collaborations of the first file whose pools run together: those
    /// with two pools or more.
    fn first_collaborations(&self) -> Vec<&Arc<ProcessSpec>> {
        let Some(first) = self.diagrams.first() else {
            return Vec::new();
        };
        let executable = |id: &str| first.processes.iter().any(|p| p.id == id && p.executable);
        (first.collaborations.iter())
            .filter(|c| c.participants.iter().filter(|p| executable(&p.process)).count() > 1)
            .filter_map(|c| self.processes.get(&c.id))
            .collect()
    }

    /// The process a run starts when none is named: the first file's
    /// collaboration of executable pools, else its executable process (or
    /// its only process). Ambiguity is an error that lists the choices.
    pub fn default_process(&self) -> Result<&Arc<ProcessSpec>, String> {
        let Some(first) = self.diagrams.first() else {
            return Err("no diagram was loaded".into());
        };
        match self.first_collaborations().as_slice() {
            [] => {}
            [only] => return Ok(only),
            many => {
                return Err(format!(
                    "{} has {} collaborations whose pools could start; choose one with --process: {}",
                    first.file.display(),
                    many.len(),
                    many.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let executable: Vec<_> = first.processes.iter().filter(|p| p.executable).collect();
        let candidates = if executable.is_empty() {
            first.processes.iter().collect()
        } else {
            executable
        };
        match candidates.as_slice() {
            [only] => Ok(only),
            [] => Err(format!("{} has no process", first.file.display())),
            many => Err(format!(
                "{} has {} processes that could start; choose one with --process: {}",
                first.file.display(),
                many.len(),
                many.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}
