//! Messages and signals: what an instance's message and signal catches wait
//! for (a *subscription*: a name, and for a message the correlation values it
//! must carry), the delivery of a message to the catch it correlates with,
//! the broadcast of a signal to every catch waiting for it, and what throws
//! send.
//!
//! A signal has no correlation and no single receiver: every catch waiting
//! for its name is triggered, in the order they started waiting.
//!
//! A catch's waiter is a WAITING task, as for timers (see `waiting`). Its
//! correlation values are computed when it starts waiting:
//! SpiffWorkflow's `processVariableCorrelation` expressions first, then the
//! retrieval expressions of its message's correlation properties, both
//! evaluated in the sandbox against the catching task's data. A property
//! neither gives a value for (the expression fails, or gives `None`) is left
//! open: any value matches (SpiffWorkflow: the first message sets it).
//!
//! A message correlates with a subscription when it has the subscription's
//! name and, for every value the subscription waits for, the same value.
//! Values compare as text: a JSON string by its content, anything else by its
//! JSON (so `--correlate order=42` matches the number 42).
//!
//! A throw's message goes to the first subscription of its own instance it
//! correlates with; a message nothing in the instance waits for leaves it
//! through the *outbox* ([`Workflow::take_outbox`]), saved with the instance
//! until something delivers it elsewhere. A thrown signal is broadcast in
//! its instance and goes to the outbox too, for the other instances.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt, answered};
use super::waiters::{Waiter, Waiters};
use super::waiting::event_start;
use super::{EventKind, TaskId, Workflow, merge};
use crate::bpmn::{MessageEvent, NodeKind, Retrieval, SignalEvent};
use crate::script::ScriptEngine;

/// What a subscription listens for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listen {
    /// A message: delivered to one catch.
    #[default]
    Message,
    /// A signal: broadcast to every catch.
    Signal,
}

impl Listen {
    /// How the store and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Listen::Message => "message",
            Listen::Signal => "signal",
        }
    }

    fn is_message(&self) -> bool {
        *self == Listen::Message
    }
}

/// What a waiting message or signal catch waits for, as saved with its instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The waiter: the WAITING task of the catch.
    pub task: TaskId,
    /// A message or a signal.
    #[serde(default, skip_serializing_if = "Listen::is_message")]
    pub kind: Listen,
    /// The message or signal name.
    pub name: String,
    /// The correlation values it waits for, by property.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub correlation: BTreeMap<String, String>,
    /// The activity of a boundary event's waiter, or the event-based gateway
    /// a catch after it waits beside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<TaskId>,
}

impl Subscription {
    /// Whether `message` correlates with this subscription.
    pub fn matches(&self, message: &Message) -> bool {
        self.kind == Listen::Message
            && self.name == message.name
            && (self.correlation.iter()).all(|(property, value)| message.correlation.get(property) == Some(value))
    }
}

/// A message: its name, its correlation values and its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message name.
    pub name: String,
    /// Its correlation values, by property (see [`correlation_text`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub correlation: BTreeMap<String, String>,
    /// What it carries.
    #[serde(default)]
    pub payload: Value,
}

/// A signal: its name and its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The signal name.
    pub name: String,
    /// What it carries.
    #[serde(default)]
    pub payload: Value,
}

/// What a throw sent that may concern other instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outgoing {
    /// A message nothing in its instance correlated with.
    Message(Message),
    /// A signal (broadcast in its instance already), and the instances it
    /// has reached since.
    Signal {
        /// The signal.
        signal: Signal,
        /// The instances it was delivered to so far.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reached: Vec<String>,
    },
}

/// A correlation value as it is compared: a string's content, any other
/// value's JSON.
pub fn correlation_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Why a message could not be delivered to the catch it correlates with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// An instance's subscriptions, indexed by waiter, by name and by activity.
#[derive(Debug, Clone, Default)]
pub(super) struct Subscriptions {
    waiters: Waiters<Subscription>,
    by_name: BTreeSet<(String, TaskId)>,
}

impl Waiter for Subscription {
    fn task(&self) -> TaskId {
        self.task
    }
    fn attached_to(&self) -> Option<TaskId> {
        self.attached_to
    }
}

impl Subscriptions {
    pub(super) fn insert(&mut self, subscription: Subscription) {
        let name = (subscription.name.clone(), subscription.task);
        if let Some(old) = self.waiters.insert(subscription) {
            self.by_name.remove(&(old.name, old.task));
        }
        self.by_name.insert(name);
    }

    pub(super) fn remove(&mut self, task: TaskId) -> Option<Subscription> {
        let subscription = self.waiters.remove(task)?;
        self.by_name.remove(&(subscription.name.clone(), task));
        Some(subscription)
    }

    pub(super) fn get(&self, task: TaskId) -> Option<&Subscription> {
        self.waiters.get(task)
    }

    /// The waiters of an activity's (or gateway's) catches.
    pub(super) fn attached(&self, activity: TaskId) -> Vec<TaskId> {
        self.waiters.attached(activity)
    }

    /// The signal subscriptions waiting for `name`, in the order they were made.
    fn listening(&self, name: &str) -> Vec<TaskId> {
        let name = name.to_string();
        (self.by_name.range((name.clone(), 0)..=(name, TaskId::MAX)))
            .filter(|&&(_, task)| self.waiters.get(task).is_some_and(|s| s.kind == Listen::Signal))
            .map(|&(_, task)| task)
            .collect()
    }

    /// The first subscription (the one waiting longest) `message` correlates with.
    fn find(&self, message: &Message) -> Option<TaskId> {
        let name = message.name.clone();
        (self.by_name.range((name.clone(), 0)..=(name, TaskId::MAX)))
            .filter_map(|&(_, task)| self.waiters.get(task))
            .find(|s| s.matches(message))
            .map(|s| s.task)
    }

    /// Every subscription, by waiter.
    pub(super) fn records(&self) -> impl Iterator<Item = &Subscription> {
        self.waiters.records()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}

impl FromIterator<Subscription> for Subscriptions {
    fn from_iter<I: IntoIterator<Item = Subscription>>(records: I) -> Self {
        let mut subscriptions = Subscriptions::default();
        for record in records {
            subscriptions.insert(record);
        }
        subscriptions
    }
}

/// A payload on its way into the data that moves on, and the variable it
/// goes under (if the catch names one).
pub(super) struct Payload {
    pub(super) variable: Option<String>,
    pub(super) value: Value,
}

/// Where a delivered payload goes in the data that moves on: the catch's
/// variable, or merged in (an object; anything else adds nothing).
pub(super) fn receive(data: &mut Map<String, Value>, payload: Payload) {
    match (payload.variable, payload.value) {
        (Some(variable), payload) => {
            data.insert(variable.clone(), payload);
        }
        (None, Value::Object(fields)) => merge(data, fields),
        (None, _) => {}
    }
}

impl Workflow {
    /// What the message catch of waiting task `id` waits for.
    pub fn subscription(&self, task: TaskId) -> Option<&Subscription> {
        self.subscriptions.get(task)
    }

    /// Every message catch waiting in the instance.
    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subscriptions.records()
    }

    /// The messages thrown here that nothing in the instance waited for,
    /// taken out of the instance: whoever takes them delivers them.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// What the outbox holds: thrown messages nothing here took, and thrown
    /// signals, for other instances.
    pub fn outbox(&self) -> &[Outgoing] {
        &self.outbox
    }

    /// The first of what the outbox holds, to be delivered to other instances.
    pub fn next_outgoing(&self) -> Option<&Outgoing> {
        self.outbox.first()
    }

    /// The first of the outbox is delivered (a message to its receiver, a
    /// signal to every instance it reaches): it goes.
    pub fn outgoing_delivered(&mut self) {
        if !self.outbox.is_empty() {
            self.outbox.remove(0);
        }
    }

    /// The first of the outbox, a message, correlates with nothing waiting
    /// anywhere: it goes, recorded in the instance's history.
    pub fn outgoing_undelivered(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        if let Outgoing::Message(message) = self.outbox.remove(0) {
            self.emit(EventKind::MessageUndelivered {
                name: message.name,
                correlation: message.correlation,
            });
        }
    }

    /// The first of the outbox, a signal, reached instance `id`.
    pub fn outgoing_reached(&mut self, id: &str) {
        if let Some(Outgoing::Signal { reached, .. }) = self.outbox.first_mut() {
            reached.push(id.to_string());
        }
    }

    /// Delivers `message` to the first catch of this instance it correlates
    /// with (the one waiting longest); `Ok(None)` when none does. Call
    /// [`Workflow::run`] to go on.
    pub fn deliver(&mut self, message: &Message) -> Result<Option<TaskId>, DeliveryError> {
        let Some(waiter) = self.subscriptions.find(message) else {
            return Ok(None);
        };
        let spec = self.scopes[self.tasks[waiter].scope].spec.clone();
        let node = &spec.nodes[self.tasks[waiter].node];
        let start = event_start(&node.kind).map(|(start, _)| start);
        let Some(event) = node
            .kind
            .message_catch()
            .or_else(|| start.and_then(NodeKind::message_catch))
        else {
            return Ok(None);
        };
        if event.variable.is_none() && !matches!(message.payload, Value::Object(_) | Value::Null) {
            return Err(DeliveryError(format!(
                "the payload of message `{}` is {}, not an object: `{}` merges a payload into its data \
                 (give it a spiffworkflow:messageVariable to keep any value under that name)",
                message.name, message.payload, node.id
            )));
        }
        let subscription = self.subscriptions.remove(waiter).expect("found above");
        self.emit(EventKind::MessageReceived {
            task: waiter,
            spec: node.id.clone(),
            name: message.name.clone(),
        });
        let payload = Some(Payload {
            variable: event.variable.clone(),
            value: message.payload.clone(),
        });
        if self.trigger(waiter, subscription.attached_to, payload) {
            // Non-interrupting: it waits for the next one.
            self.subscriptions.insert(subscription);
        }
        if self.status == super::Status::Waiting {
            self.status = super::Status::Running;
        }
        Ok(Some(waiter))
    }

    /// The correlation values a catch of `event` at task `id` waits for,
    /// from `data` (see the module documentation).
    pub(super) fn correlation_of(
        &self,
        id: TaskId,
        event: &MessageEvent,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<BTreeMap<String, String>, Interrupt> {
        let mut values = BTreeMap::new();
        for Retrieval { property, expression } in &event.subscription {
            let outcome = answered(scripts.evaluate(&self.task_info(id), expression, data)).map_err(|i| {
                i.within(&format!(
                    "the correlation value `{property}` the catch waits for ({expression})"
                ))
                .at_line(event.line)
            })?;
            values.insert(property.clone(), correlation_text(&outcome.value));
        }
        for Retrieval { property, expression } in &event.correlation {
            if values.contains_key(property) {
                continue;
            }
            // Not there in the data (or `None`): left open.
            if let Ok(outcome) = answered(scripts.evaluate(&self.task_info(id), expression, data))
                && !outcome.value.is_null()
            {
                values.insert(property.clone(), correlation_text(&outcome.value));
            }
        }
        Ok(values)
    }

    /// What a throw at task `id` sends: its payload `expression` (the
    /// SpiffWorkflow extension `element`, on line `line`) evaluated against `data`.
    fn payload(
        &self,
        id: TaskId,
        element: &str,
        expression: &str,
        line: u32,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Value, Interrupt> {
        let outcome = answered(scripts.evaluate(&self.task_info(id), expression, data)).map_err(|i| {
            i.within(&format!("spiffworkflow:{element} ({expression})"))
                .at_line(line)
        })?;
        Ok(outcome.value)
    }

    /// Task `id` throws the message of `event` with its `data`: the payload
    /// is evaluated, its correlation values read from it, and the message
    /// delivered here if something here waits for it, else put in the outbox.
    pub(super) fn send(
        &mut self,
        id: TaskId,
        event: &MessageEvent,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), Interrupt> {
        let payload = match &event.payload {
            Some(expression) => self.payload(id, "messagePayload", expression, event.line, data, scripts)?,
            None => Value::Object(data.clone()),
        };
        let fields = match &payload {
            Value::Object(fields) => fields.clone(),
            _ => Map::new(),
        };
        let mut correlation = BTreeMap::new();
        for Retrieval { property, expression } in &event.correlation {
            if let Ok(outcome) = answered(scripts.evaluate(&self.task_info(id), expression, &fields))
                && !outcome.value.is_null()
            {
                correlation.insert(property.clone(), correlation_text(&outcome.value));
            }
        }
        let message = Message {
            name: event.name.clone(),
            correlation,
            payload,
        };
        let received_by = self.deliver(&message).map_err(|e| {
            Interrupt::Fail(Cause::Engine {
                reason: "undeliverable_message",
                message: e.0,
            })
        })?;
        let spec = self.node(id).id.clone();
        self.emit(EventKind::MessageSent {
            task: id,
            spec,
            name: message.name.clone(),
            received_by,
        });
        if received_by.is_none() {
            self.outbox.push(Outgoing::Message(message));
        }
        Ok(())
    }

    /// Broadcasts `signal` to every catch of this instance waiting for it,
    /// in the order they started waiting: the waiters triggered. A catch
    /// cancelled by one triggered before it (an event-based gateway, an
    /// interrupting event) is not triggered. Call [`Workflow::run`] to go on.
    pub fn broadcast(&mut self, signal: &Signal) -> Vec<TaskId> {
        let mut triggered = Vec::new();
        for waiter in self.subscriptions.listening(&signal.name) {
            let Some(subscription) = self.subscriptions.remove(waiter) else {
                continue;
            };
            let spec = self.scopes[self.tasks[waiter].scope].spec.clone();
            let node = &spec.nodes[self.tasks[waiter].node];
            let start = event_start(&node.kind).map(|(start, _)| start);
            let variable = (node
                .kind
                .signal_catch()
                .or_else(|| start.and_then(NodeKind::signal_catch)))
            .and_then(|event| event.variable.clone());
            self.emit(EventKind::SignalReceived {
                task: waiter,
                spec: node.id.clone(),
                name: signal.name.clone(),
            });
            let payload = Payload {
                variable,
                value: signal.payload.clone(),
            };
            if self.trigger(waiter, subscription.attached_to, Some(payload)) {
                self.subscriptions.insert(subscription);
            }
            triggered.push(waiter);
        }
        if !triggered.is_empty() && self.status == super::Status::Waiting {
            self.status = super::Status::Running;
        }
        triggered
    }

    /// Task `id` throws the signal of `event` with its `data`: broadcast
    /// here, and put in the outbox for the other instances.
    pub(super) fn signal(
        &mut self,
        id: TaskId,
        event: &SignalEvent,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<(), Interrupt> {
        let payload = match &event.payload {
            Some(expression) => self.payload(id, "payloadExpression", expression, event.line, data, scripts)?,
            None => Value::Null,
        };
        let signal = Signal {
            name: event.name.clone(),
            payload,
        };
        let received_by = self.broadcast(&signal);
        let spec = self.node(id).id.clone();
        self.emit(EventKind::SignalSent {
            task: id,
            spec,
            name: signal.name.clone(),
            received_by,
        });
        self.outbox.push(Outgoing::Signal {
            signal,
            reached: Vec::new(),
        });
        Ok(())
    }
}
