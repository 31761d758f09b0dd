//! `wasmflow message` and `wasmflow signal`: deliver a message to the kept
//! instance whose waiting catch it correlates with, or broadcast a signal to
//! every kept instance waiting for it, and run those instances on.
//!
//! Candidates come from the store's subscription index (instances waiting
//! for nothing this message carries are never loaded); the first that
//! correlates, in the order instances were started, takes it. A message that
//! correlates with nothing is refused with what does wait for that name:
//! never silently dropped. A signal nothing waits for is said on stderr (a
//! broadcast has no one receiver to miss).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::{Map, Value};

use super::FAILED;
use super::args::{DbArgs, MessageArgs, SandboxArgs, SignalArgs};
use super::input::json_arg;
use super::keep::Keeper;
use super::report::{DeliveredJson, instance_json};
use super::tick::recover;
use crate::bpmn::ZEEBE_CORRELATION_KEY;
use crate::engine::{Listen, Message, Signal, Status, Workflow};
use crate::script::ScriptEngine;
use crate::store::{Deployed, SchedulerLock, SqliteStore};

/// How many waiting catches a refusal lists.
const SHOWN: usize = 10;

pub fn message(args: MessageArgs) -> anyhow::Result<ExitCode> {
    let payload = match &args.data {
        Some(data) => json_arg(data, "--data")?,
        None => Value::Object(Map::new()),
    };
    let mut correlation = BTreeMap::new();
    let key = (args.correlation_key.iter()).map(|v| (ZEEBE_CORRELATION_KEY.to_string(), v.clone()));
    for (key, value) in args.correlate.iter().cloned().chain(key) {
        if correlation.insert(key.clone(), value).is_some() {
            bail!(
                "--correlate names `{key}` twice (--correlation-key is `correlationKey`): give each correlation property one value"
            );
        }
    }
    let message = Message {
        name: args.name.clone(),
        correlation,
        payload,
    };
    let (scripts, _lock, mut keeper) = open_for_delivery(&args.db, &args.sandbox)?;
    let store = keeper.store().expect("messages go to kept instances");
    let candidates = match &args.instance {
        Some(id) => vec![id.clone()],
        None => store.subscribers(&message)?,
    };
    for id in &candidates {
        let store = keeper.store().expect("messages go to kept instances");
        let mut workflow = match store.load(id) {
            Ok(workflow) => workflow,
            Err(error) if args.instance.is_some() => return Err(error.into()),
            Err(error) => {
                eprintln!(
                    "warning: instance {id} waits for `{}` but cannot be loaded: {error}",
                    message.name
                );
                continue;
            }
        };
        if workflow.status() != Status::Waiting {
            if args.instance.is_some() {
                bail!(
                    "instance {id} is {}: a message goes only to a waiting instance (see `wasmflow show {id}`)",
                    workflow.status()
                );
            }
            continue;
        }
        let Some(task) = workflow.deliver(&message).map_err(|e| anyhow!("instance {id}: {e}"))? else {
            if args.instance.is_some() {
                bail!(refused_by(&workflow, &message));
            }
            continue;
        };
        // The delivery is saved before anything runs: once it is, a crash
        // loses nothing (the instance runs on from there).
        keeper.run_claimed(&mut workflow, &scripts, |keeper, workflow| keeper.save(workflow))?;
        keeper.route(&scripts, true)?;
        return Ok(report(&workflow, &message, task, args.db.json));
    }
    // Nothing waiting takes it: it starts the deployed processes it names.
    let store = keeper.store().expect("messages go to kept instances");
    let starts = match &args.instance {
        Some(_) => Vec::new(),
        None => store.deployed_starts(Listen::Message, &message.name)?,
    };
    if starts.is_empty() {
        bail!(unmatched(store, &message)?)
    }
    let mut delivered = args.db.json.then(DeliveredJson::start);
    let mut failed = false;
    for workflow in start_deployed(&mut keeper, &scripts, starts, &message.payload)? {
        failed |= workflow.status() == Status::Error;
        match &mut delivered {
            Some(list) => list.push(&instance_json(&workflow)),
            None => out!(
                "message {} started instance {} of process {}: {}",
                message.name,
                workflow.id(),
                workflow.process(),
                workflow.status()
            ),
        }
    }
    if let Some(list) = delivered {
        list.finish();
    }
    Ok(if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Starts an instance of each deployed process in `starts` at its start
/// event, with `payload`, and runs it (and what it throws) on.
fn start_deployed(
    keeper: &mut Keeper,
    scripts: &ScriptEngine,
    starts: Vec<Deployed>,
    payload: &Value,
) -> anyhow::Result<Vec<Workflow>> {
    let mut started = Vec::with_capacity(starts.len());
    for deployed in starts {
        let mut workflow = Workflow::start_at(deployed.library, &deployed.process, &deployed.start, payload.clone())?;
        let diagrams = deployed.diagrams;
        keeper.run_claimed(&mut workflow, scripts, |keeper, workflow| {
            keeper.create(workflow, &diagrams, None)
        })?;
        started.push(workflow);
    }
    keeper.route(scripts, true)?;
    Ok(started)
}

pub fn signal(args: SignalArgs) -> anyhow::Result<ExitCode> {
    let payload = match &args.data {
        Some(data) => json_arg(data, "--data")?,
        None => Value::Null,
    };
    let signal = Signal {
        name: args.name.clone(),
        payload,
    };
    let (scripts, _lock, mut keeper) = open_for_delivery(&args.db, &args.sandbox)?;
    let candidates = keeper.store().expect("kept").signal_subscribers(&signal.name)?;
    let starts = keeper
        .store()
        .expect("kept")
        .deployed_starts(Listen::Signal, &signal.name)?;
    let mut delivered = args.db.json.then(DeliveredJson::start);
    let (mut woken, mut failed) = (0, false);
    for id in &candidates {
        let store = keeper.store().expect("signals go to kept instances");
        let mut workflow = match store.load(id) {
            Ok(workflow) if workflow.status() == Status::Waiting => workflow,
            Ok(_) => continue,
            Err(error) => {
                eprintln!(
                    "warning: instance {id} waits for signal `{}` but cannot be loaded: {error}",
                    signal.name
                );
                continue;
            }
        };
        if workflow.broadcast(&signal).is_empty() {
            continue;
        }
        keeper.run_claimed(&mut workflow, &scripts, |keeper, workflow| keeper.save(workflow))?;
        woken += 1;
        failed |= workflow.status() == Status::Error;
        match &mut delivered {
            Some(list) => list.push(&instance_json(&workflow)),
            None => out!(
                "signal {} reached instance {}: {}",
                signal.name,
                workflow.id(),
                workflow.status()
            ),
        }
    }
    keeper.route(&scripts, true)?;
    // It starts the deployed processes it names, too.
    for workflow in start_deployed(&mut keeper, &scripts, starts, &signal.payload)? {
        woken += 1;
        failed |= workflow.status() == Status::Error;
        match &mut delivered {
            Some(list) => list.push(&instance_json(&workflow)),
            None => out!(
                "signal {} started instance {} of process {}: {}",
                signal.name,
                workflow.id(),
                workflow.process(),
                workflow.status()
            ),
        }
    }
    if let Some(list) = delivered {
        list.finish();
    }
    if woken == 0 {
        let store = keeper.store().expect("kept");
        let names = store.waited_names(Listen::Signal, SHOWN)?;
        let others = if names.is_empty() {
            "no kept instance waits for any signal".to_string()
        } else {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("waiting instances wait for {}", names.join(", "))
        };
        eprintln!(
            "signal `{}` reached no instance: none waits for it ({others})",
            signal.name
        );
    }
    Ok(if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// What delivering needs: the sandbox; the database's scheduler lock, held
/// while deliveries run on, so that no `serve` or `tick` runs those instances
/// meanwhile; and a keeper that has first run on what a killed scheduler or
/// sender left half-way, so that a delivery it saved is not made again.
fn open_for_delivery(db: &DbArgs, sandbox: &SandboxArgs) -> anyhow::Result<(ScriptEngine, SchedulerLock, Keeper)> {
    let scripts = sandbox.script_engine(None)?;
    let store = db.open()?;
    let lock = store.scheduler_lock()?;
    let mut keeper = Keeper::new(Some(store), db.events.as_deref())?;
    recover(&mut keeper, &scripts, &mut warn_left)?;
    Ok((scripts, lock, keeper))
}

/// How `recover` reports an instance a killed scheduler left running that
/// could not run on: a warning (the delivery at hand goes on).
fn warn_left(id: &str, ran: anyhow::Result<Workflow>) -> anyhow::Result<()> {
    if let Err(error) = ran {
        eprintln!("warning: instance {id}, left running by a killed scheduler: {error:#}");
    }
    Ok(())
}

/// Prints the instance a message was delivered to; the exit status says
/// whether it failed.
fn report(workflow: &Workflow, message: &Message, task: usize, json: bool) -> ExitCode {
    if json {
        let mut delivered = DeliveredJson::start();
        delivered.push(&instance_json(workflow));
        delivered.finish();
    } else {
        let spec = workflow
            .tasks()
            .find(|t| t.id == task)
            .map(|t| t.spec)
            .unwrap_or_default();
        out!(
            "message {} delivered to instance {} ({spec}, task {task}): {}",
            message.name,
            workflow.id(),
            workflow.status()
        );
    }
    if workflow.status() == Status::Error {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `KEY=VALUE, ...`, or what says there are none.
fn values(correlation: &BTreeMap<String, String>) -> String {
    if correlation.is_empty() {
        return "no correlation value".to_string();
    }
    let pairs: Vec<String> = correlation.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(", ")
}

/// Why instance `workflow` (named by `--instance`) takes no `message`.
fn refused_by(workflow: &Workflow, message: &Message) -> String {
    let waits: Vec<String> = workflow
        .subscriptions()
        .map(|s| format!("`{}` with {}", s.name, values(&s.correlation)))
        .collect();
    let waits = if waits.is_empty() {
        "it waits for no message".to_string()
    } else {
        format!("it waits for {}", waits.join("; "))
    };
    format!(
        "instance {} has no catch that message `{}` with {} correlates with; {waits}. Nothing was delivered.",
        workflow.id(),
        message.name,
        values(&message.correlation)
    )
}

/// The refusal of a message nothing correlates with: what waits for its name.
fn unmatched(store: &SqliteStore, message: &Message) -> anyhow::Result<String> {
    let (waiters, count) = store.waiting_for(&message.name, SHOWN)?;
    if count == 0 {
        let names = store.waited_names(Listen::Message, SHOWN)?;
        let others = if names.is_empty() {
            "no kept instance waits for any message".to_string()
        } else {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("waiting instances wait for {}", names.join(", "))
        };
        return Ok(format!(
            "no waiting instance waits for message `{}` ({others}); nothing was delivered",
            message.name
        ));
    }
    let mut lines: Vec<String> = waiters
        .iter()
        .map(|w| {
            format!(
                "  instance {} (task {}) waits for {}",
                w.instance,
                w.task,
                values(&w.correlation)
            )
        })
        .collect();
    if count > waiters.len() {
        lines.push(format!("  ... and {} more", count - waiters.len()));
    }
    Ok(format!(
        "message `{}` with {} correlates with none of the {count} catches waiting for it; nothing was \
         delivered. Give the values a catch waits for with --correlate KEY=VALUE:\n{}",
        message.name,
        values(&message.correlation),
        lines.join("\n")
    ))
}
