//! Commands on kept instances: `list`, `show`, `resume` and `complete`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;

use super::args::{CompleteArgs, DbArgs, ListArgs, RestartArgs, ResumeArgs, RetryArgs, ShowArgs};
use super::input::object_arg;
use super::keep::Keeper;
use super::report::{self, instance_json, print_json};
use crate::engine::{Status, TaskId, TaskState, TaskView, Workflow};
use crate::script::ScriptEngine;
use crate::store::{self, SchedulerLock, SqliteStore, StoreError};

impl DbArgs {
    /// The database these options name.
    pub(super) fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.db {
            Some(path) => Ok(path.clone()),
            None => {
                store::default_path().ok_or_else(|| anyhow!("no data directory is known for this user: pass --db FILE"))
            }
        }
    }

    /// Opens the database these options name. These commands act on kept
    /// instances: they create no database (only `run` does), and a missing or
    /// empty file is an error saying it has no instances.
    pub(super) fn open(&self) -> anyhow::Result<SqliteStore> {
        Ok(SqliteStore::open_existing(&self.path()?)?)
    }
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    if args.deployments {
        return super::deploy::list(&args.db);
    }
    let path = args.db.path()?;
    let instances = match SqliteStore::open_existing(&path) {
        Ok(store) => store.list(args.status)?,
        // A missing or empty file lists no instances, and stays as it was.
        Err(StoreError::Empty { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    if args.db.json {
        print_json(&instances);
    } else if instances.is_empty() {
        out!("no instances in {}", path.display());
    } else {
        for instance in instances {
            out!(
                "{}  {:<9}  {}  {}",
                instance.id,
                instance.status.as_str(),
                instance.updated,
                instance.process
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = args.db.open()?;
    let workflow = store.load(&args.id)?;
    let history = store.history(&args.id)?;
    if args.db.json {
        let mut shown = instance_json(&workflow);
        shown.history = Some(&history);
        print_json(&shown);
        return Ok(ExitCode::SUCCESS);
    }
    out!("instance {} ({})", workflow.id(), workflow.status());
    for task in workflow.tasks() {
        let mut name = task.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
        if let Some(index) = task.instance {
            name.push_str(&format!(" instance {index}"));
        }
        out!(
            "  {:>5}  {:<10} {} `{}`{name}",
            task.id,
            format!("{:?}", task.state).to_uppercase(),
            task.kind,
            task.spec
        );
    }
    out!("history: {} events (--json lists them)", history.len());
    Ok(report::print(&workflow, false))
}

/// The database, with its scheduler lock held: a command that runs a kept
/// instance on holds it from load to save, so that no `serve` or `tick`
/// fires a timer in (and saves) the same instance meanwhile, which would
/// lose one of the two runs.
fn open_locked(db: &DbArgs) -> anyhow::Result<(SqliteStore, SchedulerLock)> {
    let store = db.open()?;
    let lock = store.scheduler_lock()?;
    Ok((store, lock))
}

pub fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let scripts = args.sandbox.script_engine(None)?;
    let (store, _lock) = open_locked(&args.db)?;
    let mut workflow = store.load(&args.id)?;
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    let data = args.data.as_deref().map(|d| object_arg(d, "--data")).transpose()?;
    if workflow.status() == Status::Halted {
        workflow.resume_halted(data).map_err(|e| anyhow!(e))?;
        keeper.save(&mut workflow)?;
    } else if data.is_some() {
        return Err(anyhow!(
            "--data amends the halted task of a halted instance; instance {} is not halted (to change a waiting task's data, use `wasmflow complete`)",
            workflow.id()
        ));
    }
    // Conditions are evaluated again: they may read the clock.
    workflow.recheck_conditions();
    run_and_report(&mut keeper, &mut workflow, &scripts, args.db.json)
}

pub fn complete(args: CompleteArgs) -> anyhow::Result<ExitCode> {
    let data = object_arg(&args.data, "--data")?;
    let scripts = args.sandbox.script_engine(None)?;
    let (store, _lock) = open_locked(&args.db)?;
    let mut workflow = store.load(&args.id)?;
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    let waiting: Vec<TaskView> = workflow.waiting_tasks().collect();
    let task = find_task(&workflow, &args.task, Wanted::Waiting, waiting)?;
    workflow.complete_task(task, data).map_err(|e| anyhow!(e))?;
    keeper.save(&mut workflow)?;
    run_and_report(&mut keeper, &mut workflow, &scripts, args.db.json)
}

pub fn retry(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let data = args.data.as_deref().map(|d| object_arg(d, "--data")).transpose()?;
    let scripts = args.sandbox.script_engine(None)?;
    let (store, _lock) = open_locked(&args.db)?;
    let mut workflow = store.load(&args.id)?;
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    let failed: Vec<TaskView> = workflow.tasks().filter(|t| t.state == TaskState::Error).collect();
    let task = find_task(&workflow, &args.task, Wanted::Failed, failed)?;
    workflow.retry_task(task, data).map_err(|e| anyhow!(e))?;
    keeper.save(&mut workflow)?;
    run_and_report(&mut keeper, &mut workflow, &scripts, args.db.json)
}

pub fn restart(args: RestartArgs) -> anyhow::Result<ExitCode> {
    let patch = args.data.as_deref().map(|d| object_arg(d, "--data")).transpose()?;
    let scripts = args.sandbox.script_engine(None)?;
    let (store, _lock) = open_locked(&args.db)?;
    let mut workflow = store.load(&args.id)?;
    // A task id, or the most recent task of that element.
    let task = match args.task.parse::<TaskId>() {
        Ok(id) => id,
        Err(_) => workflow
            .tasks()
            .filter(|t| t.spec == args.task)
            .map(|t| t.id)
            .max()
            .ok_or_else(|| {
                anyhow!(
                    "no task `{}` ran in instance {} (`wasmflow show {}` lists its tasks)",
                    args.task,
                    workflow.id(),
                    workflow.id()
                )
            })?,
    };
    let mut data = match store.task_input(workflow.id(), task)? {
        Some(data) => data,
        None if patch.is_some() => Default::default(),
        None => {
            return Err(anyhow!(
                "the data task {task} had was not recorded (it ran before this database kept task inputs): give it with --data"
            ));
        }
    };
    if let Some(patch) = patch {
        crate::engine::merge(&mut data, patch);
    }
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    workflow.restart(task, data).map_err(|e| anyhow!(e))?;
    keeper.save(&mut workflow)?;
    run_and_report(&mut keeper, &mut workflow, &scripts, args.db.json)
}

/// Runs an instance on, saving after every step, and prints where it ends
/// up. The caller holds the scheduler lock (see [`open_locked`]).
fn run_and_report(
    keeper: &mut Keeper,
    workflow: &mut Workflow,
    scripts: &ScriptEngine,
    json: bool,
) -> anyhow::Result<ExitCode> {
    keeper.run(workflow, scripts)?;
    keeper.route(scripts, true)?;
    Ok(report::print(workflow, json))
}

/// Which tasks a command acts on.
#[derive(Clone, Copy)]
enum Wanted {
    /// `complete`: waiting user and manual tasks.
    Waiting,
    /// `retry`: tasks in ERROR.
    Failed,
}

impl Wanted {
    fn state(self) -> &'static str {
        match self {
            Wanted::Waiting => "waiting",
            Wanted::Failed => "in ERROR",
        }
    }

    fn none_named(self, task: &str) -> String {
        match self {
            Wanted::Waiting => format!("no waiting task `{task}`"),
            Wanted::Failed => format!("no task `{task}` in ERROR"),
        }
    }
}

/// A task by id, or the one among `candidates` (the tasks a command acts on)
/// with that BPMN element id.
fn find_task(workflow: &Workflow, task: &str, wanted: Wanted, candidates: Vec<TaskView>) -> anyhow::Result<TaskId> {
    let what = wanted.state();
    if let Ok(id) = task.parse::<TaskId>() {
        return Ok(id);
    }
    let matches: Vec<_> = candidates.iter().filter(|t| t.spec == task).collect();
    match matches.as_slice() {
        [only] => Ok(only.id),
        [] => {
            let listed: Vec<String> = candidates.iter().map(|t| format!("{} (`{}`)", t.id, t.spec)).collect();
            let hint = if listed.is_empty() {
                format!("no task is {what}")
            } else {
                format!("{what}: {}", listed.join(", "))
            };
            Err(anyhow!(
                "{} in instance {}; {hint}",
                wanted.none_named(task),
                workflow.id()
            ))
        }
        many => Err(anyhow!(
            "{} tasks `{task}` are {what}; give the task id: {}",
            many.len(),
            many.iter().map(|t| t.id.to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}
