//! Where a run's instance and events go: a database (`--db`), an events file
//! (`--events`), both or neither. Every command that runs tasks saves through here.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::engine::{Event, StartTimer, Status, Workflow};
use crate::script::ScriptEngine;
use crate::store::SqliteStore;

/// Saves instances after every step and appends their events.
pub struct Keeper {
    store: Option<SqliteStore>,
    events: Option<(BufWriter<File>, String)>,
}

impl Keeper {
    /// A keeper writing to the database and/or events file given.
    pub fn new(store: Option<SqliteStore>, events: Option<&Path>) -> anyhow::Result<Keeper> {
        let events = match events {
            Some(path) => {
                let file = File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("--events: cannot open {}", path.display()))?;
                Some((BufWriter::new(file), path.display().to_string()))
            }
            None => None,
        };
        Ok(Keeper { store, events })
    }

    /// The database, if any.
    pub fn store(&mut self) -> Option<&mut SqliteStore> {
        self.store.as_mut()
    }

    /// Records a new instance (as line `line` of `batch`, if given).
    pub fn create(
        &mut self,
        workflow: &mut Workflow,
        diagrams: &[String],
        batch: Option<(&str, usize)>,
    ) -> anyhow::Result<()> {
        let events = match &mut self.store {
            Some(store) => store.create(workflow, diagrams, batch)?,
            None => workflow.take_events(),
        };
        self.append(&events)
    }

    /// Records a new instance that timer start event `fired` started, and
    /// moves the timer on to `next`, at once (see
    /// [`SqliteStore::create_by_timer`]); false if that occurrence had
    /// already started one.
    pub fn create_by_timer(
        &mut self,
        workflow: &mut Workflow,
        diagrams: &[String],
        fired: &StartTimer,
        next: Option<&StartTimer>,
    ) -> anyhow::Result<bool> {
        let store = self.store.as_mut().expect("deployed processes are kept");
        match store.create_by_timer(workflow, diagrams, fired, next)? {
            Some(events) => self.append(&events).map(|()| true),
            None => Ok(false),
        }
    }

    /// Saves what changed since the last save.
    pub fn save(&mut self, workflow: &mut Workflow) -> anyhow::Result<()> {
        let events = match &mut self.store {
            Some(store) => store.save(workflow)?,
            None => {
                // Nothing saves the change records: a long run would otherwise
                // hold one per task.
                workflow.take_changes();
                workflow.take_events()
            }
        };
        self.append(&events)
    }

    /// Runs an instance on, saving after every step.
    pub fn run(&mut self, workflow: &mut Workflow, scripts: &ScriptEngine) -> anyhow::Result<Status> {
        workflow
            .run_observed(scripts, |workflow| self.save(workflow))
            .context("saving the instance failed; it is kept as of its last saved step")
    }

    /// Runs an instance on under a claim, after `first` saved what brought
    /// it here (a delivery, its creation): the claim is taken before that
    /// save, so a scheduler runs on an instance this process was killed in
    /// the middle of (see `tick::recover`), and released once the run is over.
    pub fn run_claimed(
        &mut self,
        workflow: &mut Workflow,
        scripts: &ScriptEngine,
        first: impl FnOnce(&mut Keeper, &mut Workflow) -> anyhow::Result<()>,
    ) -> anyhow::Result<Status> {
        let id = workflow.id().to_string();
        let store = self.store.as_mut().expect("claims are for kept instances");
        store.claim(std::slice::from_ref(&id))?;
        first(self, workflow)?;
        let ran = self.run(workflow, scripts);
        self.store.as_mut().expect("kept").release_claim(&id)?;
        ran
    }

    /// Delivers what kept instances threw for other instances (see
    /// `route`), if any is waiting to be: under the scheduler lock, taken
    /// here unless the caller holds it.
    pub fn route(&mut self, scripts: &ScriptEngine, lock_held: bool) -> anyhow::Result<()> {
        let Some(store) = &mut self.store else {
            return Ok(());
        };
        if store.outboxes()?.is_empty() {
            return Ok(());
        }
        let _lock = if lock_held { None } else { Some(store.scheduler_lock()?) };
        super::route::route(self, scripts)
    }

    /// Appends events to the events file, if there is one.
    pub fn append(&mut self, events: &[Event]) -> anyhow::Result<()> {
        if let Some((file, path)) = &mut self.events {
            for event in events {
                serde_json::to_writer(&mut *file, event)?;
                file.write_all(b"\n")
                    .with_context(|| format!("--events: cannot write to {path}"))?;
            }
            // A killed run keeps the events of every step it saved.
            file.flush()
                .with_context(|| format!("--events: cannot write to {path}"))?;
        }
        Ok(())
    }
}
