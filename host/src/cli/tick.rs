//! `wasmflow tick` and `wasmflow serve`: fire the timers due in kept
//! instances and run each instance on from there, once (`tick`) or as they
//! fall due (`serve`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use anyhow::{Context, anyhow};
use jiff::Timestamp;

use super::FAILED;
use super::args::{ServeArgs, TickArgs};
use super::keep::Keeper;
use super::report::{DeliveredJson, instance_json, print_json};
use crate::engine::{StartTimer, Status, Workflow};
use crate::script::ScriptEngine;
use crate::store::{SqliteStore, StoreError};

pub fn tick(args: TickArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(Timestamp::now);
    let scripts = args.sandbox.script_engine(None)?;
    let store = args.db.open()?;
    // Held while timers fire: a `serve` or another `tick` fires none of them too.
    let _lock = store.scheduler_lock()?;
    // Found through the store's index of due times: instances with nothing
    // due are never loaded.
    let due = match &args.id {
        Some(id) => {
            let mut workflow = store.load(id)?;
            if workflow.next_due().is_some_and(|due| due <= now) || workflow.recheck_conditions() {
                vec![id.clone()]
            } else {
                let next = match workflow.next_due() {
                    Some(due) => format!("its next timer falls due at {due}"),
                    None => format!("it waits for no timer (status {})", workflow.status()),
                };
                if !args.db.json {
                    out!("instance {id}: no timer is due by {now}; {next}");
                }
                Vec::new()
            }
        }
        None => {
            // Then those waiting on conditions, evaluated again (they may read the clock).
            let mut due = store.due_instances(now)?;
            let known: HashSet<String> = due.iter().cloned().collect();
            due.extend(store.watching_instances()?.into_iter().filter(|id| !known.contains(id)));
            due
        }
    };
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    let mut delivered = args.db.json.then(DeliveredJson::start);
    let mut failed = false;
    let mut report = |id: &str, fired: anyhow::Result<Workflow>| -> anyhow::Result<()> {
        let workflow = fired?;
        failed |= workflow.status() == Status::Error;
        match &mut delivered {
            Some(list) => list.push(&instance_json(&workflow)),
            None => out!("instance {id}: {}", workflow.status()),
        }
        Ok(())
    };
    recover(&mut keeper, &scripts, &mut report)?;
    // Deployed processes whose timer start events are due start first (not
    // for `tick ID`, which is about one instance).
    let mut started = 0;
    if args.id.is_none() {
        for (timer, ran) in start_due(&mut keeper, &scripts, now, &|_| false)? {
            let workflow =
                ran.with_context(|| format!("timer start event `{}` of process {}", timer.start, timer.process))?;
            started += 1;
            announce(&timer, &workflow, args.db.json);
            report(&workflow.id().to_string(), Ok(workflow))?;
        }
    }
    keeper.store().expect("tick keeps instances").claim(&due)?;
    for id in &due {
        // An instance whose conditions all stayed false took no step: nothing to say.
        if let Some(ran) = fire(&mut keeper, &scripts, id, now).transpose() {
            report(id, ran)?;
        }
    }
    keeper.store().expect("tick keeps instances").release_claims()?;
    keeper.route(&scripts, true)?;
    drop(report);
    match delivered {
        Some(list) => list.finish(),
        None if due.is_empty() && started == 0 && args.id.is_none() => out!("no timer is due by {now}"),
        None => {}
    }
    Ok(if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs on the instances a scheduler claimed and did not release: it was
/// killed half-way through them (the caller holds the scheduler lock, so no
/// live scheduler is running them). Each is reported as `report` says.
pub(super) fn recover(
    keeper: &mut Keeper,
    scripts: &ScriptEngine,
    report: &mut dyn FnMut(&str, anyhow::Result<Workflow>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let store = keeper.store().expect("schedulers keep instances");
    let left = store.claimed()?;
    for id in &left {
        let store = keeper.store().expect("schedulers keep instances");
        let mut workflow = match store.load(id) {
            Ok(workflow) if workflow.status() == Status::Running => workflow,
            // At rest: it finished its run, or never started it.
            Ok(_) => continue,
            // Claimed, then killed before the instance was saved: nothing to run on.
            Err(StoreError::UnknownInstance(_)) => continue,
            Err(error) => {
                report(id, Err(error.into()))?;
                continue;
            }
        };
        tracing::info!(instance = %id, "running on an instance a killed scheduler left running");
        let ran = keeper.run(&mut workflow, scripts).map(|_| workflow);
        report(id, ran)?;
    }
    keeper.store().expect("schedulers keep instances").release_claims()?;
    Ok(())
}

/// Starts an instance of each deployed process whose timer start event is
/// due by `now` (one per timer, however many occurrences fell due while
/// nothing ran), and runs it on: each timer with what starting it came to.
/// Timers `skip` names (by `process/start`) are left alone.
pub(super) fn start_due(
    keeper: &mut Keeper,
    scripts: &ScriptEngine,
    now: Timestamp,
    skip: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Vec<(StartTimer, anyhow::Result<Workflow>)>> {
    let due = keeper
        .store()
        .expect("deployed processes are kept")
        .due_start_timers(now)?;
    let mut started = Vec::with_capacity(due.len());
    for timer in due {
        if skip(&start_key(&timer)) {
            continue;
        }
        let ran = start_one(keeper, scripts, &timer, now);
        started.push((timer, ran));
    }
    Ok(started)
}

/// Says which instance a timer start event started (in text output; the
/// instance object says it in JSON).
fn announce(timer: &StartTimer, workflow: &Workflow, json: bool) {
    if !json {
        out!(
            "timer start event `{}` of process {} started instance {}",
            timer.start,
            timer.process,
            workflow.id()
        );
    }
}

/// How `serve` names a timer start event it leaves alone.
pub(super) fn start_key(timer: &StartTimer) -> String {
    format!("{}/{}", timer.process, timer.start)
}

/// Starts the instance timer start event `timer` starts, due by `now`: the
/// instance and the timer's next occurrence are saved at once, under a
/// claim, before it runs (see [`Keeper::create_by_timer`]).
fn start_one(
    keeper: &mut Keeper,
    scripts: &ScriptEngine,
    timer: &StartTimer,
    now: Timestamp,
) -> anyhow::Result<Workflow> {
    let store = keeper.store().expect("deployed processes are kept");
    let deployed = store.newest_deployment(&timer.process, &timer.start)?;
    let mut workflow = Workflow::start_by_timer(deployed.library, &timer.process, &timer.start, timer.due)?;
    workflow.set_now(Some(now));
    let next = timer.after_firing(now);
    keeper.run_claimed(&mut workflow, scripts, |keeper, workflow| {
        if keeper.create_by_timer(workflow, &deployed.diagrams, timer, next.as_ref())? {
            Ok(())
        } else {
            Err(anyhow!(
                "its occurrence due at {} had already started an instance; nothing was started",
                timer.due
            ))
        }
    })?;
    Ok(workflow)
}

/// Loads instance `id`, fires its timers due by `now`, evaluates its
/// conditions again and runs it on, saving each step: the instance, unless
/// it had no timer due and none of its conditions fired (nothing changed).
fn fire(keeper: &mut Keeper, scripts: &ScriptEngine, id: &str, now: Timestamp) -> anyhow::Result<Option<Workflow>> {
    let store = keeper.store().expect("timers fire in kept instances");
    let mut workflow = store.load(id)?;
    if !matches!(workflow.status(), Status::Waiting | Status::Running) {
        return Err(anyhow!(
            "instance {id} is {}: only a waiting instance's timers fire (see `wasmflow show {id}`)",
            workflow.status()
        ));
    }
    workflow.set_now(Some(now));
    let timer_due = workflow.next_due().is_some_and(|due| due <= now);
    workflow.recheck_conditions();
    let tasks = workflow.task_count();
    keeper.run(&mut workflow, scripts)?;
    let changed = timer_due || workflow.task_count() != tasks || workflow.status() != Status::Waiting;
    Ok(changed.then_some(workflow))
}

/// How long `serve` sleeps at most before it looks again for timers that
/// other processes armed meanwhile: one indexed query a second, which costs
/// nothing measurable while idle.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // SIGINT and SIGTERM wake the loop, which stops between instances;
    // watched first, so that a signal during start-up stops cleanly too.
    let (stop, stopped) = channel();
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
        .context("cannot watch for SIGINT and SIGTERM")?;
    let handle = signals.handle();
    let watcher = std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = stop.send(signal);
        }
    });
    let scripts = args.sandbox.script_engine(None)?;
    // A scheduler may start before anything was run: it makes the database.
    let store = SqliteStore::open(&args.db.path()?)?;
    let path = store.path().display().to_string();
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    if !args.db.json {
        eprintln!("serving {path}: timers fire as they fall due; SIGINT or SIGTERM stops");
    }
    // Instances that could not be loaded or saved: said once, then left
    // alone (the operator looks at them with `show`), so that one damaged
    // instance neither stops the scheduler nor makes it spin.
    let broken = RefCell::new(HashSet::new());
    let mut stopping = false;
    while !stopping {
        let now = Timestamp::now();
        let store = keeper.store().expect("serve keeps instances");
        let lock = store.scheduler_lock()?;
        let mut report = |id: &str, fired: anyhow::Result<Workflow>| -> anyhow::Result<()> {
            match fired {
                Ok(workflow) if args.db.json => print_json(&instance_json(&workflow)),
                Ok(workflow) => out!("instance {id}: {}", workflow.status()),
                Err(error) => {
                    eprintln!("error: instance {id}: {error:#} (left as it is; serve goes on with the others)");
                    broken.borrow_mut().insert(id.to_string());
                }
            }
            Ok(())
        };
        recover(&mut keeper, &scripts, &mut report)?;
        let skip = |key: &str| broken.borrow().contains(key);
        for (timer, ran) in start_due(&mut keeper, &scripts, now, &skip)? {
            match ran {
                Ok(workflow) => {
                    announce(&timer, &workflow, args.db.json);
                    report(&workflow.id().to_string(), Ok(workflow))?;
                }
                Err(error) => {
                    eprintln!(
                        "error: timer start event `{}` of process {}: {error:#} (left as it is; serve goes on)",
                        timer.start, timer.process
                    );
                    broken.borrow_mut().insert(start_key(&timer));
                }
            }
        }
        let store = keeper.store().expect("serve keeps instances");
        let due: Vec<String> = (store.due_instances(now)?.into_iter())
            .filter(|id| !broken.borrow().contains(id))
            .collect();
        store.claim(&due)?;
        for id in &due {
            if stopped.try_recv().is_ok() {
                stopping = true;
                break;
            }
            if let Some(ran) = fire(&mut keeper, &scripts, id, now).transpose() {
                report(id, ran)?;
            }
        }
        keeper.store().expect("serve keeps instances").release_claims()?;
        if let Err(error) = keeper.route(&scripts, true) {
            eprintln!("error: delivering what instances threw for others: {error:#} (serve goes on)");
        }
        drop(lock);
        if stopping {
            break;
        }
        let store = keeper.store().expect("serve keeps instances");
        let wait = match store.next_due()?.filter(|_| broken.borrow().is_empty()) {
            Some(next) => Duration::try_from(next.duration_since(Timestamp::now()))
                .unwrap_or(Duration::ZERO)
                .min(LOOK_AGAIN),
            None => LOOK_AGAIN,
        };
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(_) | Err(RecvTimeoutError::Disconnected) => stopping = true,
        }
    }
    handle.close();
    let _ = watcher.join();
    if !args.db.json {
        eprintln!("serve stopped");
    }
    Ok(ExitCode::SUCCESS)
}
