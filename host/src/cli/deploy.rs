//! `wasmflow deploy` and `wasmflow list --deployments`: register the
//! executable processes of diagrams, by version, so that a message or signal
//! can start them (see `message`), and their timer start events start them
//! when they fall due (see `tick`).

use std::process::ExitCode;

use anyhow::bail;
use jiff::Timestamp;
use serde_json::json;

use super::BAD_INPUT;
use super::args::{DbArgs, DeployArgs};
use super::input::load;
use super::report::print_json;
use crate::bpmn::NodeKind;
use crate::engine::{Listen, StartTimer};
use crate::store::{Deployment, SqliteStore, StoreError};

pub fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let (library, sources) = match load(&args.files) {
        Ok(loaded) => loaded,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!(
                "error: {} problem(s) in the diagrams; nothing was deployed",
                problems.len()
            );
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let processes: Vec<_> = (library.diagrams().iter())
        .flat_map(|d| &d.processes)
        .filter(|p| p.executable)
        .cloned()
        .collect();
    if processes.is_empty() {
        bail!("no executable process in the files given (isExecutable=\"true\"): nothing was deployed");
    }
    // Every timer start event's first occurrence, before anything is written:
    // a value that does not read fails the deployment.
    let now = args.now.unwrap_or_else(Timestamp::now);
    let mut timers = Vec::with_capacity(processes.len());
    let scripts = args.sandbox.script_engine(None)?;
    for spec in &processes {
        match StartTimer::of_process(spec, &scripts, now) {
            Ok(found) => timers.push(found),
            Err(problem) => {
                eprintln!("{problem}");
                eprintln!("error: a timer start event's value does not read; nothing was deployed");
                return Ok(ExitCode::from(BAD_INPUT));
            }
        }
    }
    // Deploying makes the database, as `run` does.
    let mut store = SqliteStore::open(&args.db.path()?)?;
    let hashes = (sources.iter())
        .map(|s| store.add_diagram(&s.name, &s.xml))
        .collect::<Result<Vec<_>, _>>()?;
    let mut deployed = Vec::new();
    for (spec, timers) in processes.iter().zip(&timers) {
        let starts: Vec<(Listen, String, String)> = (spec.event_starts.iter())
            .filter_map(|&n| {
                let node = &spec.nodes[n];
                match &node.kind {
                    NodeKind::MessageStartEvent { message, .. } => {
                        Some((Listen::Message, message.name.clone(), node.id.clone()))
                    }
                    NodeKind::SignalStartEvent { signal, .. } => {
                        Some((Listen::Signal, signal.name.clone(), node.id.clone()))
                    }
                    _ => None,
                }
            })
            .collect();
        let (version, new) = store.deploy(&spec.id, &hashes, &starts, timers)?;
        if !args.db.json {
            let mut starts: Vec<String> = starts
                .iter()
                .map(|(kind, name, _)| format!("{} `{name}`", kind.as_str()))
                .collect();
            starts.extend(
                timers
                    .iter()
                    .map(|t| format!("timer `{}` (next at {})", t.start, t.due)),
            );
            let started = if starts.is_empty() {
                String::new()
            } else {
                format!("; started by {}", starts.join(", "))
            };
            let what = if new {
                "deployed"
            } else {
                "unchanged (the newest version has these diagrams)"
            };
            out!("process {}: version {version} {what}{started}", spec.id);
        }
        let timers: Vec<_> = (timers.iter())
            .map(|t| json!({"start": t.start, "due": t.due.to_string()}))
            .collect();
        deployed.push(json!({"process": spec.id, "version": version, "new": new, "timers": timers}));
    }
    if args.db.json {
        print_json(&json!({ "deployed": deployed }));
    }
    Ok(ExitCode::SUCCESS)
}

/// `wasmflow list --deployments`.
pub fn list(db: &DbArgs) -> anyhow::Result<ExitCode> {
    let path = db.path()?;
    let (deployments, timers) = match SqliteStore::open_existing(&path) {
        Ok(store) => (store.deployments()?, store.scheduled_start_timers()?),
        Err(StoreError::Empty { .. }) => (Vec::new(), Vec::new()),
        Err(e) => return Err(e.into()),
    };
    // The schedule belongs to each process's newest version.
    let newest = |d: &Deployment| {
        !deployments
            .iter()
            .any(|o| o.process == d.process && o.version > d.version)
    };
    let timers_of = |d: &Deployment| -> Vec<&StartTimer> {
        if newest(d) {
            timers.iter().filter(|t| t.process == d.process).collect()
        } else {
            Vec::new()
        }
    };
    if db.json {
        let listed: Vec<_> = (deployments.iter())
            .map(|d| {
                let mut value = serde_json::to_value(d).expect("deployments serialize");
                let timers: Vec<_> = (timers_of(d).into_iter())
                    .map(|t| json!({"start": t.start, "due": t.due.to_string(), "fired": t.fired}))
                    .collect();
                value["timers"] = json!(timers);
                value
            })
            .collect();
        print_json(&listed);
    } else if deployments.is_empty() {
        out!(
            "no deployments in {} (`wasmflow deploy FILE --db DB` makes one)",
            path.display()
        );
    } else {
        for d in &deployments {
            out!(
                "{}  version {}  {}  {}",
                d.process,
                d.version,
                d.deployed,
                d.files.join(", ")
            );
            for t in timers_of(d) {
                out!(
                    "  timer start event `{}` next starts an instance at {} (started {} so far)",
                    t.start,
                    t.due,
                    t.fired
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
