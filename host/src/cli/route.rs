//! Delivering what kept instances threw for other instances: a message
//! nothing in its own instance took, and every signal, wait in the thrower's
//! saved outbox (the store indexes which instances have one). Each is handed
//! to its receivers here, one at a time: the delivery to a receiver and the
//! sender's outbox shrinking are saved in one transaction, so a crash loses
//! nothing and delivers nothing twice. The receivers then run on, and what
//! they throw is routed in turn.
//!
//! A message that correlates with no catch waiting anywhere is dropped and
//! recorded in its sender's history (`message_undelivered`), with a warning.
//! The caller holds the scheduler lock.

use std::collections::HashSet;

use super::keep::Keeper;
use crate::engine::{Message, Outgoing, Signal, Status, Workflow};
use crate::script::ScriptEngine;

/// Routes every outbox of the database until none is left. Instances that
/// cannot be loaded are warned about once and left alone.
pub(super) fn route(keeper: &mut Keeper, scripts: &ScriptEngine) -> anyhow::Result<()> {
    let mut left_alone: HashSet<String> = HashSet::new();
    loop {
        let store = keeper.store().expect("routing is for kept instances");
        let senders: Vec<String> = (store.outboxes()?.into_iter())
            .filter(|id| !left_alone.contains(id))
            .collect();
        if senders.is_empty() {
            return Ok(());
        }
        for id in senders {
            let store = keeper.store().expect("kept");
            let mut sender = match store.load(&id) {
                Ok(sender) if sender.status() != Status::Running => sender,
                // Being run elsewhere (or left so by a crash): its own run routes it.
                Ok(_) => {
                    left_alone.insert(id);
                    continue;
                }
                Err(error) => {
                    eprintln!("warning: instance {id} has messages for others but cannot be loaded: {error}");
                    left_alone.insert(id);
                    continue;
                }
            };
            while let Some(outgoing) = sender.next_outgoing().cloned() {
                match outgoing {
                    Outgoing::Message(message) => send(keeper, scripts, &mut sender, &message)?,
                    Outgoing::Signal { signal, reached } => broadcast(keeper, scripts, &mut sender, &signal, &reached)?,
                }
            }
        }
    }
}

/// Delivers `message` from `sender` to the first waiting catch elsewhere it
/// correlates with, or drops it, recorded.
fn send(keeper: &mut Keeper, scripts: &ScriptEngine, sender: &mut Workflow, message: &Message) -> anyhow::Result<()> {
    let store = keeper.store().expect("kept");
    for id in store.subscribers(message)? {
        if id == sender.id() {
            continue;
        }
        let store = keeper.store().expect("kept");
        let Ok(mut target) = store.load(&id) else {
            continue;
        };
        if target.status() != Status::Waiting {
            continue;
        }
        match target.deliver(message) {
            Ok(Some(_)) => {
                sender.outgoing_delivered();
                hand_over(keeper, scripts, sender, &mut target)?;
                return Ok(());
            }
            Ok(None) => {}
            Err(error) => eprintln!(
                "warning: message `{}` from instance {} not delivered to instance {id}: {error}",
                message.name,
                sender.id()
            ),
        }
    }
    eprintln!(
        "warning: message `{}` thrown by instance {} correlates with no catch waiting in any instance; \
         it is recorded as undelivered in that instance's history",
        message.name,
        sender.id()
    );
    sender.outgoing_undelivered();
    keeper.save(sender)
}

/// Broadcasts `signal` from `sender` to every other waiting instance with a
/// catch for it that it has not `reached` yet.
fn broadcast(
    keeper: &mut Keeper,
    scripts: &ScriptEngine,
    sender: &mut Workflow,
    signal: &Signal,
    reached: &[String],
) -> anyhow::Result<()> {
    let store = keeper.store().expect("kept");
    for id in store.signal_subscribers(&signal.name)? {
        if id == sender.id() || reached.contains(&id) {
            continue;
        }
        let store = keeper.store().expect("kept");
        let Ok(mut target) = store.load(&id) else {
            continue;
        };
        if target.status() != Status::Waiting || target.broadcast(signal).is_empty() {
            continue;
        }
        sender.outgoing_reached(&id);
        hand_over(keeper, scripts, sender, &mut target)?;
    }
    sender.outgoing_delivered();
    keeper.save(sender)
}

/// Saves `sender` (its outbox shrunk) and `target` (the delivery in it) in
/// one transaction, then runs `target` on.
fn hand_over(
    keeper: &mut Keeper,
    scripts: &ScriptEngine,
    sender: &mut Workflow,
    target: &mut Workflow,
) -> anyhow::Result<()> {
    let ran = keeper.run_claimed(target, scripts, |keeper, target| {
        let events = keeper.store().expect("kept").save_together(sender, target)?;
        keeper.append(&events)
    });
    ran.map(drop)
}
