//! Signals: root `signal` elements and the `signalRef` of signal events,
//! resolved once the file is read to the signal's name and SpiffWorkflow's
//! `payloadExpression` and `variableName` extensions of the signal.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::diagnostic::Reporter;
use super::super::frames::Frame;
use super::super::parse::Parser;
use super::super::resolve::{each_node_mut, resolvable};
use super::super::spec::{NodeKind, Position, ProcessSpec, SignalDef, SignalEvent};
use super::super::vocabulary::Attrs;
use super::messages::reference;

/// A root `signal` being read.
pub(in crate::bpmn) struct SignalFrame {
    pub(in crate::bpmn) id: Option<String>,
    indexed: bool,
    name: Option<String>,
    /// `spiffworkflow:variableName`.
    pub(in crate::bpmn) variable: Option<String>,
    /// `spiffworkflow:payloadExpression`.
    pub(in crate::bpmn) payload: Option<String>,
}

impl<'a> Parser<'a> {
    /// A root `signal`.
    pub(in crate::bpmn) fn open_signal(&mut self, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let (id, indexed) = self.register(attrs, "signal", position);
        Frame::Signal(Box::new(SignalFrame {
            id,
            indexed,
            name: attrs.name.take(),
            variable: None,
            payload: None,
        }))
    }

    /// A child of a root `signal`: only its extensions are read.
    pub(in crate::bpmn) fn open_in_signal(&mut self, local: &[u8]) -> Frame {
        if local == b"extensionElements" {
            Frame::Extensions
        } else {
            Frame::Skip
        }
    }

    pub(in crate::bpmn) fn close_signal(&mut self, signal: SignalFrame) {
        let SignalFrame {
            id,
            indexed,
            name,
            variable,
            payload,
        } = signal;
        if let Some(id) = id.filter(|_| indexed) {
            let name = reference(name).unwrap_or_else(|| id.clone());
            self.signals.define(SignalDef {
                id,
                name,
                payload,
                variable,
            });
        }
    }

    /// The signal of a closed event, its reference noted for resolution.
    pub(in crate::bpmn) fn signal_of(
        &mut self,
        element: Option<&str>,
        name: Option<&str>,
        signal_ref: Option<String>,
        position: Position,
    ) -> SignalEvent {
        let mut event = SignalEvent {
            signal_ref: signal_ref.clone(),
            name: String::new(),
            payload: None,
            variable: None,
            line: position.line,
        };
        match signal_ref {
            Some(r) => self.signals.refer(r, position, element.map(str::to_owned)),
            None => match reference(name.map(str::to_owned)) {
                // SpiffWorkflow: a signal event with no signalRef is named after the event.
                Some(name) => event.name = name,
                None => self.report.report(
                    position,
                    element,
                    "the signal event names no signal: give it a signalRef naming a bpmn:signal, e.g. \
                     signalRef=\"shutdown\" with <bpmn:signal id=\"shutdown\" name=\"shutdown\"/>",
                ),
            },
        }
        event
    }
}

/// The root `signal` elements of a file and every `signalRef` that names one.
#[derive(Default)]
pub(in crate::bpmn) struct SignalRefs {
    defined: HashMap<String, SignalDef>,
    refs: Vec<(String, Position, Option<String>)>,
}

impl SignalRefs {
    fn define(&mut self, signal: SignalDef) {
        self.defined.insert(signal.id.clone(), signal);
    }

    fn refer(&mut self, signal_ref: String, position: Position, element: Option<String>) {
        self.refs.push((signal_ref, position, element));
    }

    /// Reports every `signalRef` that names no root `signal`, and, when
    /// nothing at all was reported, fills in every signal of `processes`.
    pub(in crate::bpmn) fn resolve(self, processes: &mut [Arc<ProcessSpec>], report: &mut Reporter) {
        if self.refs.is_empty() {
            return;
        }
        let known = |r: &str| self.defined.contains_key(r);
        let example = |r: &str| format!("<bpmn:signal id=\"{r}\" name=\"{r}\"/>");
        if !resolvable(&self.refs, "signal", known, example, report) {
            return;
        }
        each_node_mut(processes, |kind| {
            let (NodeKind::SignalStartEvent { signal, .. }
            | NodeKind::SignalBoundaryEvent { signal, .. }
            | NodeKind::SignalCatchEvent(signal)
            | NodeKind::SignalThrowEvent(signal)
            | NodeKind::SignalEndEvent(signal)) = kind
            else {
                return;
            };
            let Some(def) = signal.signal_ref.as_ref().and_then(|r| self.defined.get(r)) else {
                return;
            };
            signal.name = def.name.clone();
            signal.payload = def.payload.clone();
            signal.variable = def.variable.clone();
        });
    }
}
