//! Subprocesses and call activities. An embedded `subProcess` (or an event
//! subprocess, `triggeredByEvent="true"`) is read as a scope of its own whose
//! spec becomes a node of the scope around it; a `callActivity` names a
//! process to start.

use std::sync::Arc;

use super::super::frames::{Frame, Head, SubProcessFrame};
use super::super::parse::Parser;
use super::super::scope::{ScopeDraft, ScopeKind};
use super::super::spec::NodeKind;
use super::super::vocabulary::{Attrs, flag};

/// Deeper subprocess nesting is refused: specs nest through `Arc`s, and
/// dropping or walking them elsewhere may recurse once per level.
const MAX_SUBPROCESS_DEPTH: usize = 100;

impl<'a> Parser<'a> {
    /// A `subProcess`, or a `transaction` (`transaction` true).
    pub(in crate::bpmn) fn open_subprocess(
        &mut self,
        attrs: &mut Attrs<'a>,
        offset: usize,
        transaction: bool,
    ) -> Frame {
        let event = flag(&attrs.triggered_by_event) && !transaction;
        let element = if transaction { "transaction" } else { "subProcess" };
        if self.subprocess_depth >= MAX_SUBPROCESS_DEPTH {
            let message = format!("{element} nested more than {MAX_SUBPROCESS_DEPTH} levels deep");
            self.unsupported(attrs, offset, element, message);
            return Frame::Skip;
        }
        self.subprocess_depth += 1;
        let position = self.position(offset);
        let head = self.head(element, attrs, position);
        let kind = match (event, transaction) {
            (true, _) => ScopeKind::EventSubProcess,
            (_, true) => ScopeKind::Transaction,
            _ => ScopeKind::SubProcess,
        };
        let number = self.next_scope();
        let draft = ScopeDraft::new(kind, number, head.id.clone(), head.name.clone(), false, position);
        Frame::SubProcess(Box::new(SubProcessFrame { draft, head }))
    }

    pub(in crate::bpmn) fn close_subprocess(&mut self, sub: SubProcessFrame) {
        let SubProcessFrame { mut draft, mut head } = sub;
        self.subprocess_depth -= 1;
        let event = draft.kind() == ScopeKind::EventSubProcess;
        if draft.compensates() {
            head.refs.inner_activity_refs = draft.take_activity_refs();
        }
        let spec = Arc::new(draft.finish(&self.file, &self.ids, &mut self.report));
        let kind = if event {
            NodeKind::EventSubProcess(spec)
        } else {
            NodeKind::SubProcess(spec)
        };
        self.add_node(head, Some(kind), false);
    }

    /// The kind of a closed call activity (a plain task when it names no
    /// process, reported).
    pub(in crate::bpmn) fn call_activity_kind(&mut self, head: &Head, called_element: Option<String>) -> NodeKind {
        match called_element.filter(|c| !c.trim().is_empty()) {
            Some(called) => NodeKind::CallActivity {
                called_element: called.trim().to_owned(),
            },
            None => {
                self.report_at(
                    head,
                    "call activity has no calledElement: name the id of the process to call",
                );
                NodeKind::Task
            }
        }
    }
}
