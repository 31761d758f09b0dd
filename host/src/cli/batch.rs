//! `wasmflow run --objects FILE.jsonl`: one instance per line, then a summary.
//!
//! With `--db`, each line's instance is recorded with the batch (the hash of
//! the objects file, the diagrams and the process), so running the same batch
//! again skips the lines already done and continues the ones a kill interrupted.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    keeper: Keeper,
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

    let summary = Summary {
        batch: batch.clone(),
        total: items.len(),
        ..Summary::default()
    };
    let progress = Progress::new(items.len() as u64, args.json);
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, items.len().max(1));
    // Instances run on `jobs` threads; the keeper (database, events file) and
    // the summary are shared under locks, so each step's save stays one
    // transaction and lines are counted once. A stop flag ends the batch after
    // the instances in flight: later lines stay for the next run.
    let pending = Mutex::new(items.into_iter());
    let shared = Mutex::new((keeper, summary));
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let Some((line, data)) = pending.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        break;
                    };
                    match run_line(args, &library, diagrams, &batch, line, data, &shared, scripts) {
                        Ok((id, status, earlier)) => {
                            let mut guard = shared.lock().unwrap_or_else(|e| e.into_inner());
                            let summary = &mut guard.1;
                            summary.already_done += usize::from(earlier);
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
                            if (args.stop_on_error && status == Status::Error)
                                || (args.stop_on_halt && status == Status::Halted)
                            {
                                summary.stopped_at = Some(summary.stopped_at.map_or(line, |l| l.min(line)));
                                stop.store(true, Ordering::SeqCst);
                            }
                        }
                        Err(error) => {
                            failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(error);
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        progress.finish();
        return Err(error);
    }
    let (_keeper, mut summary) = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.not_completed.sort_by_key(|item| item.line);
    progress.finish();

    if args.json {
        print_json(&summary);
    } else {
        out!(
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
            out!("stopped at line {line}; run the same command again to go on");
        }
        for item in &summary.not_completed {
            out!("  line {}: {} {}", item.line, item.status, item.id);
        }
    }
    Ok(if summary.error > 0 {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs (or continues, or skips) the instance of one line; answers its id,
/// its status and whether an earlier run of the batch had finished it.
#[allow(clippy::too_many_arguments)]
fn run_line(
    args: &RunArgs,
    library: &Arc<Library>,
    diagrams: &[String],
    batch: &str,
    line: usize,
    data: serde_json::Map<String, Value>,
    shared: &Mutex<(Keeper, Summary)>,
    scripts: &ScriptEngine,
) -> anyhow::Result<(String, Status, bool)> {
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let existing = match lock().0.store() {
        Some(store) => store.batch_item(batch, line)?,
        None => None,
    };
    let mut workflow = match existing {
        // Interrupted half-way: continue it.
        Some((id, Status::Running)) => lock().0.store().expect("batch items come from the store").load(&id)?,
        Some((id, status)) => return Ok((id, status, true)),
        None => {
            let mut workflow = Workflow::start(library.clone(), args.process.as_deref(), data)?;
            workflow.set_abstract_tasks(args.abstract_tasks.unwrap_or_default());
            lock().0.create(&mut workflow, diagrams, Some((batch, line)))?;
            workflow
        }
    };
    let status = workflow
        .run_observed(scripts, |workflow| lock().0.save(workflow))
        .context("saving the instance failed; it is kept as of its last saved step")?;
    Ok((workflow.id().to_string(), status, false))
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
            Progress::Lines { total } => eprintln!("line {line}/{total}: {status} {id}"),
            Progress::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
