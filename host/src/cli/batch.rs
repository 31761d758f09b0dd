//! `wasmflow run --objects FILE.jsonl`: one instance per line, then a summary.
//!
//! With `--db`, each line's instance is recorded with the batch (the hash of
//! the objects file, the diagrams and the process), so running the same batch
//! again skips the lines already done and continues the ones a kill interrupted.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::FAILED;
use super::args::RunArgs;
use super::keep::Keeper;
use super::report::print_json;
use crate::bpmn::Library;
use crate::engine::{Status, Workflow};
use crate::script::ScriptEngine;

/// What a batch ended with.
#[derive(Debug, Default, Serialize)]
struct Summary {
    batch: String,
    total: usize,
    completed: usize,
    waiting: usize,
    halted: usize,
    error: usize,
    /// Lines done by an earlier run of the same batch.
    already_done: usize,
    /// The line where --stop-on-error or --stop-on-halt stopped the batch.
    stopped_at: Option<usize>,
    not_completed: Vec<Item>,
}

#[derive(Debug, Serialize)]
struct Item {
    line: usize,
    id: String,
    status: Status,
}

pub fn run(
    args: &RunArgs,
    objects: &Path,
    library: Arc<Library>,
    diagrams: &[String],
    mut keeper: Keeper,
    scripts: &ScriptEngine,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(objects).with_context(|| format!("--objects: cannot read {}", objects.display()))?;
    // Every line is checked before anything runs: a typo on line 900 should not
    // leave 899 instances behind.
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(data)) => items.push((index + 1, data)),
            Ok(_) => bail!(
                "{}:{}: each line must be a JSON object (the instance's start data)",
                objects.display(),
                index + 1
            ),
            Err(e) => bail!("{}:{}: not JSON: {e}", objects.display(), index + 1),
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    for diagram in diagrams {
        hasher.update(diagram.as_bytes());
    }
    hasher.update(args.process.as_deref().unwrap_or("").as_bytes());
    let batch: String = hasher.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();

    let mut summary = Summary {
        batch: batch.clone(),
        total: items.len(),
        ..Summary::default()
    };
    let progress = Progress::new(items.len() as u64, args.json);
    for (line, data) in items {
        let existing = match keeper.store() {
            Some(store) => store.batch_item(&batch, line)?,
            None => None,
        };
        let (id, status) = match existing {
            // Interrupted half-way: continue it.
            Some((id, Status::Running)) => {
                let mut workflow = keeper.store().expect("batch items come from the store").load(&id)?;
                let status = keeper.run(&mut workflow, scripts)?;
                (id, status)
            }
            Some((id, status)) => {
                summary.already_done += 1;
                (id, status)
            }
            None => {
                let mut workflow = Workflow::start(library.clone(), args.process.as_deref(), data)?;
                keeper.create(&mut workflow, diagrams, Some((&batch, line)))?;
                let status = keeper.run(&mut workflow, scripts)?;
                (workflow.id().to_string(), status)
            }
        };
        match status {
            Status::Completed => summary.completed += 1,
            Status::Waiting | Status::Running => summary.waiting += 1,
            Status::Halted => summary.halted += 1,
            Status::Error => summary.error += 1,
        }
        progress.done(line, &id, status);
        if status != Status::Completed {
            summary.not_completed.push(Item { line, id, status });
        }
        if (args.stop_on_error && status == Status::Error) || (args.stop_on_halt && status == Status::Halted) {
            summary.stopped_at = Some(line);
            break;
        }
    }
    progress.finish();

    if args.json {
        print_json(&serde_json::to_value(&summary)?);
    } else {
        println!(
            "batch {}: {} objects: {} completed, {} waiting, {} halted, {} error{}",
            summary.batch,
            summary.total,
            summary.completed,
            summary.waiting,
            summary.halted,
            summary.error,
            if summary.already_done > 0 {
                format!(" ({} done by an earlier run)", summary.already_done)
            } else {
                String::new()
            }
        );
        if let Some(line) = summary.stopped_at {
            println!("stopped at line {line}; run the same command again to go on");
        }
        for item in &summary.not_completed {
            let status = serde_json::to_value(item.status)?;
            println!("  line {}: {} {}", item.line, status.as_str().unwrap_or(""), item.id);
        }
    }
    Ok(if summary.error > 0 {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// A progress bar on a terminal; one plain line per object otherwise (quiet with --json).
enum Progress {
    Bar(ProgressBar),
    Lines { total: u64 },
    Quiet,
}

impl Progress {
    fn new(total: u64, json: bool) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} objects, {elapsed} elapsed, {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Progress::Bar(bar)
        } else if json {
            Progress::Quiet
        } else {
            Progress::Lines { total }
        }
    }

    fn done(&self, line: usize, id: &str, status: Status) {
        match self {
            Progress::Bar(bar) => bar.inc(1),
            Progress::Lines { total } => {
                let status = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                eprintln!("line {line}/{total}: {status} {id}");
            }
            Progress::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
