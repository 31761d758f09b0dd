//! `wasmflow tick`: fire the timers due by now in kept instances, and run
//! each instance on from there.

use std::process::ExitCode;

use anyhow::anyhow;

use super::FAILED;
use super::args::TickArgs;
use super::keep::Keeper;
use super::report::{DeliveredJson, instance_json};
use crate::engine::Status;

pub fn tick(args: TickArgs) -> anyhow::Result<ExitCode> {
    let now = args.now.unwrap_or_else(jiff::Timestamp::now);
    let scripts = args.sandbox.script_engine(None)?;
    let store = args.db.open()?;
    // Found through the store's index of due times: instances with nothing
    // due are never loaded.
    let due = match &args.id {
        Some(id) => {
            let workflow = store.load(id)?;
            if workflow.next_due().is_some_and(|due| due <= now) {
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
        None => store.due_instances(now)?,
    };
    let mut keeper = Keeper::new(Some(store), args.db.events.as_deref())?;
    let mut delivered = args.db.json.then(DeliveredJson::start);
    let mut failed = false;
    for id in &due {
        let store = keeper.store().expect("tick keeps instances");
        let mut workflow = store.load(id)?;
        if !matches!(workflow.status(), Status::Waiting | Status::Running) {
            return Err(anyhow!(
                "instance {id} is {}: only a waiting instance's timers fire (see `wasmflow show {id}`)",
                workflow.status()
            ));
        }
        workflow.set_now(Some(now));
        keeper.run(&mut workflow, &scripts)?;
        failed |= workflow.status() == Status::Error;
        match &mut delivered {
            Some(list) => list.push(&instance_json(&workflow)),
            None => out!("instance {id}: {}", workflow.status()),
        }
    }
    match delivered {
        Some(list) => list.finish(),
        None if due.is_empty() && args.id.is_none() => out!("no timer is due by {now}"),
        None => {}
    }
    Ok(if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
