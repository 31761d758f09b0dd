//! Messages: root `message` and `correlationProperty` elements, the
//! `messageEventDefinition` of an event, and the references between them.
//! An event or task names its message by `messageRef`; once the file is
//! read, every reference is resolved to the message's name and to the
//! retrieval expressions of the correlation properties defined for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::super::diagnostic::Reporter;
use super::super::extensions::zeebe::CORRELATION_KEY;
use super::super::frames::{Frame, NodeDraft, Role};
use super::super::parse::Parser;
use super::super::resolve::{each_node_mut, resolvable};
use super::super::script::Text;
use super::super::spec::{MessageDef, MessageEvent, NodeKind, Position, ProcessSpec, Retrieval};
use super::super::vocabulary::Attrs;

/// What SpiffWorkflow's extensions say about a message, wherever they are
/// written (a `messageEventDefinition`, a send or receive task, a root
/// `message`).
#[derive(Default)]
pub(in crate::bpmn) struct MessageExtensions {
    /// `spiffworkflow:messagePayload`.
    pub(in crate::bpmn) payload: Option<Text>,
    /// `spiffworkflow:messageVariable`.
    pub(in crate::bpmn) variable: Option<String>,
    /// `spiffworkflow:processVariableCorrelation`s.
    pub(in crate::bpmn) correlations: Vec<Retrieval>,
    /// `zeebe:subscription correlationKey` of a root message, as the
    /// expression that computes it.
    pub(in crate::bpmn) correlation_key: Option<String>,
}

/// A `messageEventDefinition` being read.
pub(in crate::bpmn) struct MessageDraft {
    pub(in crate::bpmn) message_ref: Option<String>,
    pub(in crate::bpmn) position: Position,
    pub(in crate::bpmn) extensions: MessageExtensions,
}

/// A root `message` being read.
pub(in crate::bpmn) struct MessageFrame {
    pub(in crate::bpmn) id: Option<String>,
    indexed: bool,
    name: Option<String>,
    pub(in crate::bpmn) extensions: MessageExtensions,
}

/// A root `correlationProperty` being read.
pub(in crate::bpmn) struct CorrelationDraft {
    id: Option<String>,
    indexed: bool,
    position: Position,
    /// `(messageRef, expression)` of each retrieval expression.
    retrievals: Vec<(Option<String>, Option<String>, Position)>,
}

/// A `correlationPropertyRetrievalExpression` being read.
pub(in crate::bpmn) struct RetrievalDraft {
    message_ref: Option<String>,
    position: Position,
    expression: Option<String>,
}

/// A `messageRef` and where it was read.
type MessageRef = (Option<String>, Position);

/// An event's or task's message before its reference is resolved.
pub(in crate::bpmn) fn message_event(
    message_ref: &MessageRef,
    extensions: MessageExtensions,
    line: u32,
) -> MessageEvent {
    MessageEvent {
        message_ref: message_ref.0.clone(),
        name: String::new(),
        payload: extensions.payload.and_then(|p| p.trimmed()),
        variable: extensions.variable,
        correlation: Vec::new(),
        subscription: extensions.correlations,
        line,
    }
}

/// A reference text, trimmed; `None` when blank.
pub(in crate::bpmn) fn reference(value: Option<String>) -> Option<String> {
    value.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty())
}

impl<'a> Parser<'a> {
    /// A root `message`.
    pub(in crate::bpmn) fn open_message(&mut self, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let (id, indexed) = self.register(attrs, "message", position);
        Frame::Message(Box::new(MessageFrame {
            id,
            indexed,
            name: attrs.name.take(),
            extensions: MessageExtensions::default(),
        }))
    }

    /// A child of a root `message`: only its extensions are read.
    pub(in crate::bpmn) fn open_in_message(&mut self, local: &[u8]) -> Frame {
        if local == b"extensionElements" {
            Frame::Extensions
        } else {
            Frame::Skip
        }
    }

    pub(in crate::bpmn) fn close_message(&mut self, message: MessageFrame) {
        let MessageFrame {
            id,
            indexed,
            name,
            extensions,
        } = message;
        if let Some(id) = id.filter(|_| indexed) {
            let name = reference(name).unwrap_or_else(|| id.clone());
            if let Some(expression) = extensions.correlation_key {
                let property = CORRELATION_KEY.to_string();
                self.messages.retrieve(id.clone(), Retrieval { property, expression });
                self.messages.keyed.insert(id.clone());
            }
            self.messages.define(MessageDef {
                id,
                name,
                payload: extensions.payload.and_then(|p| p.trimmed()),
                variable: extensions.variable,
            });
        }
    }

    /// A root `correlationProperty`.
    pub(in crate::bpmn) fn open_correlation_property(&mut self, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let (id, indexed) = self.register(attrs, "correlationProperty", position);
        Frame::Correlation(Box::new(CorrelationDraft {
            id,
            indexed,
            position,
            retrievals: Vec::new(),
        }))
    }

    /// A child of a `correlationProperty`: its retrieval expressions.
    pub(in crate::bpmn) fn open_in_correlation(&mut self, local: &[u8], attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        if local != b"correlationPropertyRetrievalExpression" {
            return Frame::Skip;
        }
        Frame::Retrieval(Box::new(RetrievalDraft {
            message_ref: reference(attrs.message_ref.take()),
            position: self.position(offset),
            expression: None,
        }))
    }

    /// A child of a retrieval expression: its `messagePath` (or, as
    /// SpiffWorkflow also reads it, `formalExpression`).
    pub(in crate::bpmn) fn open_in_retrieval(&mut self, local: &[u8]) -> Frame {
        match local {
            b"messagePath" | b"formalExpression" => Frame::Text(Box::default(), Role::MessagePath),
            _ => Frame::Skip,
        }
    }

    pub(in crate::bpmn) fn close_message_path(&mut self, text: Text) {
        if let Some(Frame::Retrieval(retrieval)) = self.stack.parent_mut()
            && retrieval.expression.is_none()
        {
            retrieval.expression = text.trimmed();
        }
    }

    pub(in crate::bpmn) fn close_retrieval(&mut self, retrieval: RetrievalDraft) {
        if let Some(Frame::Correlation(property)) = self.stack.parent_mut() {
            let RetrievalDraft {
                message_ref,
                position,
                expression,
            } = retrieval;
            property.retrievals.push((message_ref, expression, position));
        }
    }

    pub(in crate::bpmn) fn close_correlation_property(&mut self, property: CorrelationDraft) {
        let CorrelationDraft {
            id,
            indexed,
            position,
            retrievals,
        } = property;
        let element = id.clone();
        if retrievals.is_empty() {
            self.report.report(
                position,
                element.as_deref(),
                "correlationProperty has no correlationPropertyRetrievalExpression: say how its value is read \
                 from each message that carries it",
            );
        }
        for (message_ref, expression, at) in retrievals {
            let (Some(message_ref), Some(expression)) = (message_ref, expression) else {
                self.report.report(
                    at,
                    element.as_deref(),
                    "correlationPropertyRetrievalExpression needs a messageRef and a messagePath (the \
                     expression that reads the value from the message's payload)",
                );
                continue;
            };
            if let Some(property) = id.clone().filter(|_| indexed) {
                self.messages.refer(message_ref.clone(), at, element.clone());
                self.messages.retrieve(message_ref, Retrieval { property, expression });
            }
        }
    }

    /// A child of a `messageEventDefinition`: only its extensions are read.
    pub(in crate::bpmn) fn open_in_message_definition(&mut self, local: &[u8]) -> Frame {
        if local == b"extensionElements" {
            Frame::Extensions
        } else {
            Frame::Skip
        }
    }

    /// A closed `messageEventDefinition`, handed to its event (the first counts).
    pub(in crate::bpmn) fn close_message_definition(&mut self, draft: MessageDraft) {
        if let Some(node) = self.stack.parent_node_mut()
            && let NodeDraft::Event(_, event) = &mut node.draft
        {
            event.set_message(draft);
        }
    }

    /// The message of a closed event or task, its reference noted for
    /// resolution; `None` (reported) when it names none and has no name.
    pub(in crate::bpmn) fn message_of(
        &mut self,
        element: Option<&str>,
        name: Option<&str>,
        message_ref: MessageRef,
        extensions: MessageExtensions,
    ) -> MessageEvent {
        let mut event = message_event(&message_ref, extensions, message_ref.1.line);
        match &message_ref.0 {
            Some(r) => self
                .messages
                .refer(r.clone(), message_ref.1, element.map(str::to_owned)),
            None => match reference(name.map(str::to_owned)) {
                // SpiffWorkflow: a message event with no messageRef is named after the event.
                Some(name) => event.name = name,
                None => self.report.report(
                    message_ref.1,
                    element,
                    "the message event names no message: give it a messageRef naming a bpmn:message, e.g. \
                     messageRef=\"payment\" with <bpmn:message id=\"payment\" name=\"payment\"/>",
                ),
            },
        }
        event
    }
}

/// The root `message` and `correlationProperty` elements of a file and every
/// `messageRef` that names one.
#[derive(Default)]
pub(in crate::bpmn) struct MessageRefs {
    defined: HashMap<String, MessageDef>,
    /// The retrieval expressions of each message, by message id.
    retrievals: HashMap<String, Vec<Retrieval>>,
    /// The messages with a Zeebe correlation key: a catch must compute it.
    keyed: HashSet<String>,
    refs: Vec<(String, Position, Option<String>)>,
}

impl MessageRefs {
    fn define(&mut self, message: MessageDef) {
        self.defined.insert(message.id.clone(), message);
    }

    fn refer(&mut self, message_ref: String, position: Position, element: Option<String>) {
        self.refs.push((message_ref, position, element));
    }

    fn retrieve(&mut self, message_ref: String, retrieval: Retrieval) {
        self.retrievals.entry(message_ref).or_default().push(retrieval);
    }

    /// Reports every `messageRef` that names no root `message`, and, when
    /// nothing at all was reported, fills in the name and correlation of
    /// every message of the parsed `processes`.
    pub(in crate::bpmn) fn resolve(self, processes: &mut [Arc<ProcessSpec>], report: &mut Reporter) {
        if self.refs.is_empty() {
            return;
        }
        let known = |r: &str| self.defined.contains_key(r);
        let example = |r: &str| format!("<bpmn:message id=\"{r}\" name=\"{r}\"/>");
        if !resolvable(&self.refs, "message", known, example, report) {
            return;
        }
        each_node_mut(processes, |kind| {
            let (NodeKind::MessageStartEvent { message, .. }
            | NodeKind::MessageBoundaryEvent { message, .. }
            | NodeKind::MessageCatchEvent(message)
            | NodeKind::MessageThrowEvent(message)
            | NodeKind::MessageEndEvent(message)
            | NodeKind::ReceiveTask(message)
            | NodeKind::SendTask(message)) = kind
            else {
                return;
            };
            let Some(def) = message.message_ref.as_ref().and_then(|r| self.defined.get(r)) else {
                return;
            };
            message.name = def.name.clone();
            message.payload = message.payload.take().or_else(|| def.payload.clone());
            message.variable = message.variable.take().or_else(|| def.variable.clone());
            message.correlation = self.retrievals.get(&def.id).cloned().unwrap_or_default();
            // Camunda 8: a catch whose key cannot be computed is an incident,
            // not a catch open to any key.
            if self.keyed.contains(&def.id) {
                let keys = message.correlation.iter().filter(|r| r.property == CORRELATION_KEY);
                let keys: Vec<Retrieval> = keys.cloned().collect();
                for key in keys {
                    if !message.subscription.iter().any(|s| s.property == key.property) {
                        message.subscription.push(key);
                    }
                }
            }
        });
    }
}
