//! `wasmflow run`: start a process and run it until it ends, waits or fails.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::BAD_INPUT;
use super::args::RunArgs;
use super::batch;
use super::input::{load, object_arg};
use super::keep::Keeper;
use super::report::{self, print_json};
use std::io::IsTerminal;

use crate::engine::{Outgoing, Status, Workflow};
use crate::manifest;
use crate::store::SqliteStore;

pub fn run(mut args: RunArgs) -> anyhow::Result<ExitCode> {
    // Usage errors first: they are cheaper to fix than anything a run finds.
    let data = match &args.data {
        Some(text) => object_arg(text, "--data")?,
        None => Default::default(),
    };
    let (library, sources) = match load(&args.files) {
        Ok(loaded) => loaded,
        Err(problems) => {
            if args.json {
                let diagnostics: Vec<Value> = problems.iter().map(|p| json!({"file": p.file, "line": p.position.line, "column": p.position.column, "element": p.element, "message": p.message})).collect();
                let message = format!(
                    "{} problem(s) in the diagrams: run `wasmflow check` for the list",
                    problems.len()
                );
                print_json(
                    &json!({"status": "error", "data": {}, "error": {"reason": "invalid_diagram", "message": message, "diagnostics": diagnostics}, "tasks": []}),
                );
            } else {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                eprintln!("error: {} problem(s) in the diagrams; nothing was run", problems.len());
            }
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let scripts = args.sandbox.script_engine(args.files.first().map(|f| f.as_path()))?;
    // The command line's choice, else the manifest's.
    if args.abstract_tasks.is_none()
        && let Some(path) = manifest::find(
            args.sandbox.manifest.as_deref(),
            args.files.first().map(|f| f.as_path()),
        )
    {
        args.abstract_tasks = manifest::run_settings(&path)?.abstract_tasks;
    }
    let store = args.db.as_deref().map(SqliteStore::open).transpose()?;
    let mut keeper = Keeper::new(store, args.events.as_deref())?;
    let diagrams = match keeper.store() {
        Some(store) => sources
            .iter()
            .map(|s| store.add_diagram(&s.name, &s.xml))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    // Stored, or not needed: a long diagram's text is not kept through the run.
    drop(sources);
    if let Some(objects) = &args.objects {
        return batch::run(&args, objects, library, &diagrams, keeper, &scripts);
    }
    let mut workflow = Workflow::start(library, args.process.as_deref(), data)?;
    workflow.set_abstract_tasks(args.abstract_tasks.unwrap_or_default());
    keeper.create(&mut workflow, &diagrams, None)?;
    if let (Some(path), false) = (&args.db, args.json) {
        out!("instance {} (kept in {})", workflow.id(), path.display());
    }
    keeper.run(&mut workflow, &scripts)?;
    // Kept: what it threw for other instances goes to them.
    keeper.route(&scripts, false)?;
    // Not kept: what only waits for time waits here, then runs on.
    while args.db.is_none() && !args.no_wait && only_timers_left(&workflow) {
        let due = workflow.next_due().expect("timers are left");
        if std::io::stderr().is_terminal() {
            eprintln!(
                "waiting for a timer due {due} (Ctrl-C stops; --no-wait stops here with status waiting, \
                 --db keeps the instance for `wasmflow tick`)"
            );
        }
        let wait = due.duration_since(jiff::Timestamp::now());
        if let Ok(wait) = std::time::Duration::try_from(wait) {
            std::thread::sleep(wait);
        }
        keeper.run(&mut workflow, &scripts)?;
    }
    if args.db.is_none() {
        warn_undelivered(&workflow);
    }
    Ok(report::print(&workflow, args.json))
}

/// Says which messages the instance threw reached no catch: without a
/// store there is no other instance to take them, and a message is never
/// dropped without a word.
fn warn_undelivered(workflow: &Workflow) {
    for outgoing in workflow.outbox() {
        if let Outgoing::Message(message) = outgoing {
            eprintln!(
                "warning: message `{}` reached no catch: nothing in this instance waits for it, and without \
                 --db there is no other instance to take it (keep instances with --db, or run the collaboration \
                 whose pools send and receive it)",
                message.name
            );
        }
    }
}

/// Whether the instance waits for timers only: no person has a task to
/// complete, so time alone moves it on.
fn only_timers_left(workflow: &Workflow) -> bool {
    workflow.status() == Status::Waiting
        && workflow.next_due().is_some()
        && workflow
            .waiting()
            .all(|w| !matches!(w.task.kind, "userTask" | "manualTask"))
}
