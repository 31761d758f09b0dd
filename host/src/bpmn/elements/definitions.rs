//! The root `definitions` and its children the parser reads: `process`
//! (a scope, whose contents the other families read) and root `error` and
//! `escalation` elements (what error and escalation events reference). Messages, signals and
//! escalations, the other root elements events reference, belong here.

use super::super::frames::Frame;
use super::super::parse::Parser;
use super::super::scope::{ScopeDraft, ScopeKind};
use super::super::spec::{ErrorDef, Position};
use super::super::vocabulary::{Attrs, BPMN_NS, Ns, flag};
use super::super::xml::{Fatal, Tag};

/// A root `error` being read.
pub(in crate::bpmn) struct ErrorFrame {
    pub(in crate::bpmn) id: Option<String>,
    indexed: bool,
    name: Option<String>,
    code: Option<String>,
    /// `spiffworkflow:variableName`: where a catch puts the payload.
    pub(in crate::bpmn) variable: Option<String>,
    /// `spiffworkflow:payloadExpression`: what an error end event throws.
    pub(in crate::bpmn) payload: Option<String>,
    /// A root `escalation` (read as an error is: a code, a name, a payload).
    escalation: bool,
}

impl<'a> Parser<'a> {
    /// The root element: it must be BPMN's `definitions`.
    pub(in crate::bpmn) fn open_root(&mut self, tag: &Tag<'_>) -> Result<(), Fatal> {
        let qname = tag.qname();
        if self.root_closed {
            return Err(Fatal::new(
                tag.offset,
                format!("XML error: a second root element `{qname}` after the end of the first"),
            ));
        }
        if !(tag.ns == Ns::Bpmn && tag.local_name() == b"definitions") {
            let hint = match &tag.undeclared {
                Some(p) => format!("; its prefix `{}` is not declared", String::from_utf8_lossy(p)),
                None => String::new(),
            };
            return Err(Fatal::new(
                tag.offset,
                format!(
                    "not a BPMN 2.0 file: the root element is `{qname}` (expected `definitions` \
                     in namespace {BPMN_NS}){hint}"
                ),
            ));
        }
        let position = self.position(tag.offset);
        self.stack.push(tag.offset, Frame::Definitions { position });
        Ok(())
    }

    /// A child of `definitions`.
    pub(in crate::bpmn) fn open_in_definitions(&mut self, local: &[u8], attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        match local {
            b"process" => self.open_process(attrs, offset),
            b"collaboration" => self.open_collaboration(attrs, offset),
            b"error" => self.open_error(attrs, offset, false),
            b"escalation" => self.open_error(attrs, offset, true),
            b"message" => self.open_message(attrs, offset),
            b"signal" => self.open_signal(attrs, offset),
            b"correlationProperty" => self.open_correlation_property(attrs, offset),
            _ => Frame::Skip,
        }
    }

    pub(in crate::bpmn) fn close_definitions(&mut self, position: Position) {
        if !self.saw_process {
            self.report.report(position, None, "no process in this file");
        }
        self.root_closed = true;
    }

    fn open_process(&mut self, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        self.saw_process = true;
        let position = self.position(offset);
        let (id, _) = self.register(attrs, "process", position);
        let executable = flag(&attrs.is_executable);
        let callable_only = attrs.is_executable.as_deref().is_some_and(|e| e.trim() == "false");
        let number = self.next_scope();
        let mut draft = ScopeDraft::new(ScopeKind::Process, number, id, attrs.name.take(), executable, position);
        draft.callable_only = callable_only;
        Frame::Process(Box::new(draft))
    }

    pub(in crate::bpmn) fn close_process(&mut self, draft: ScopeDraft) {
        let spec = draft.finish(&self.file, &self.ids, &mut self.report);
        self.processes.push(std::sync::Arc::new(spec));
    }

    fn open_error(&mut self, attrs: &mut Attrs<'a>, offset: usize, escalation: bool) -> Frame {
        let position = self.position(offset);
        let what = if escalation { "escalation" } else { "error" };
        let (id, indexed) = self.register(attrs, what, position);
        let code = if escalation {
            attrs.escalation_code.take()
        } else {
            attrs.error_code.take()
        };
        Frame::Error(Box::new(ErrorFrame {
            id,
            indexed,
            name: attrs.name.take(),
            code,
            variable: None,
            payload: None,
            escalation,
        }))
    }

    /// A child of a root `error`: only its extensions are read.
    pub(in crate::bpmn) fn open_in_error(&mut self, local: &[u8]) -> Frame {
        if local == b"extensionElements" {
            Frame::Extensions
        } else {
            Frame::Skip
        }
    }

    pub(in crate::bpmn) fn close_error(&mut self, error: ErrorFrame) {
        let ErrorFrame {
            id,
            indexed,
            name,
            code,
            variable,
            payload,
            escalation,
        } = error;
        if let Some(id) = id.filter(|_| indexed) {
            let code = code.filter(|c| !c.trim().is_empty());
            let refs = if escalation {
                &mut self.escalations
            } else {
                &mut self.errors
            };
            refs.define(ErrorDef {
                id,
                name,
                code,
                variable,
                payload,
            });
        }
    }
}
