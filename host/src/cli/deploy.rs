//! `wasmflow deploy` and `wasmflow list --deployments`: register the
//! executable processes of diagrams, by version, so that a message or signal
//! can start them (see `message`).

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use super::BAD_INPUT;
use super::args::{DbArgs, DeployArgs};
use super::input::load;
use super::report::print_json;
use crate::bpmn::NodeKind;
use crate::engine::Listen;
use crate::store::{SqliteStore, StoreError};

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
    // Deploying makes the database, as `run` does.
    let mut store = SqliteStore::open(&args.db.path()?)?;
    let hashes = (sources.iter())
        .map(|s| store.add_diagram(&s.name, &s.xml))
        .collect::<Result<Vec<_>, _>>()?;
    let mut deployed = Vec::new();
    for spec in &processes {
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
        let (version, new) = store.deploy(&spec.id, &hashes, &starts)?;
        if !args.db.json {
            let starts: Vec<String> = starts
                .iter()
                .map(|(kind, name, _)| format!("{} `{name}`", kind.as_str()))
                .collect();
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
        deployed.push(json!({"process": spec.id, "version": version, "new": new}));
    }
    if args.db.json {
        print_json(&json!({ "deployed": deployed }));
    }
    Ok(ExitCode::SUCCESS)
}

/// `wasmflow list --deployments`.
pub fn list(db: &DbArgs) -> anyhow::Result<ExitCode> {
    let path = db.path()?;
    let deployments = match SqliteStore::open_existing(&path) {
        Ok(store) => store.deployments()?,
        Err(StoreError::Empty { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    if db.json {
        print_json(&deployments);
    } else if deployments.is_empty() {
        out!(
            "no deployments in {} (`wasmflow deploy FILE --db DB` makes one)",
            path.display()
        );
    } else {
        for d in deployments {
            out!(
                "{}  version {}  {}  {}",
                d.process,
                d.version,
                d.deployed,
                d.files.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
