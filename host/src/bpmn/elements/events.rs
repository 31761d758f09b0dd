//! Events: start, end and boundary events, and their event definitions.
//! Which definitions each event may have, and what they make of it, is
//! decided here; the `errorRef` of an error event is resolved once the file
//! is read (see `resolve`).

use super::super::frames::{Frame, Head};
use super::super::parse::Parser;
use super::super::spec::{ErrorEvent, NodeKind, Position};
use super::super::vocabulary::{Attrs, EventElem, flag};

/// What an event's start tag and children said.
pub(in crate::bpmn) struct EventDraft {
    /// Local names of its event definitions, in document order.
    definitions: Vec<String>,
    /// The `errorRef` of its first `errorEventDefinition`, and where that starts.
    error_def: Option<(Option<String>, Position)>,
    /// `attachedToRef` and `cancelActivity` (boundary events).
    attached_to: Option<String>,
    cancel_activity: Option<String>,
    /// `isInterrupting` (start events).
    is_interrupting: Option<String>,
}

impl EventDraft {
    /// The event attributes of a start tag.
    pub(in crate::bpmn) fn new(attrs: &mut Attrs<'_>) -> Self {
        EventDraft {
            definitions: Vec::new(),
            error_def: None,
            attached_to: attrs.attached_to_ref.take(),
            cancel_activity: attrs.cancel_activity.take(),
            is_interrupting: attrs.is_interrupting.take(),
        }
    }

    /// A child of the event: an event definition is noted (its content is
    /// skipped); `None` for any other child.
    pub(in crate::bpmn) fn open_child(
        &mut self,
        local: &[u8],
        attrs: &mut Attrs<'_>,
        position: Position,
    ) -> Option<Frame> {
        if !(local.ends_with(b"EventDefinition") || local == b"eventDefinitionRef") {
            return None;
        }
        self.definitions.push(String::from_utf8_lossy(local).into_owned());
        if local == b"errorEventDefinition" && self.error_def.is_none() {
            let error_ref = attrs
                .error_ref
                .take()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty());
            self.error_def = Some((error_ref, position));
        }
        Some(Frame::Skip)
    }

    /// The error event it is, when its one event definition is an
    /// `errorEventDefinition`.
    fn error(&self) -> Option<ErrorEvent> {
        match (self.definitions.as_slice(), &self.error_def) {
            ([only], Some((error_ref, _))) if only == "errorEventDefinition" => Some(ErrorEvent {
                error_ref: error_ref.clone(),
                error: None,
            }),
            _ => None,
        }
    }

    /// The message for more than one event definition.
    fn several(&self) -> String {
        format!(
            "more than one event definition ({}): only one is supported",
            self.definitions.join(", ")
        )
    }
}

impl Parser<'_> {
    /// The kind of a closed event, or `None` when it is unsupported
    /// (reported). Notes its `errorRef` for resolution, and the activity a
    /// boundary event is attached to in its head.
    pub(in crate::bpmn) fn event_kind(
        &mut self,
        elem: EventElem,
        head: &mut Head,
        draft: EventDraft,
    ) -> Option<NodeKind> {
        let kind = match elem {
            EventElem::Start => self.start_event(head, &draft),
            EventElem::End => self.end_event(head, &draft),
            EventElem::Boundary => self.boundary_event(head, &draft),
        };
        if let Some((Some(error_ref), at)) = draft.error_def
            && kind.is_some()
        {
            self.errors.refer(error_ref, at, head.id.clone());
        }
        kind
    }

    fn start_event(&mut self, head: &Head, draft: &EventDraft) -> Option<NodeKind> {
        if draft.definitions.is_empty() {
            return Some(NodeKind::StartEvent);
        }
        match draft.error() {
            Some(error) => {
                if draft.is_interrupting.is_some() && !flag(&draft.is_interrupting) {
                    self.report_at(
                        head,
                        "an error start event always interrupts: isInterrupting=\"false\" is not allowed \
                         (BPMN 2.0, 10.5.2)",
                    );
                }
                Some(NodeKind::ErrorStartEvent(error))
            }
            None if draft.definitions.len() > 1 => {
                self.report_at(head, draft.several());
                None
            }
            None => {
                let message = format!("unsupported start event: {}", draft.definitions.join(", "));
                self.report_at(head, message);
                None
            }
        }
    }

    fn end_event(&mut self, head: &Head, draft: &EventDraft) -> Option<NodeKind> {
        match (draft.definitions.as_slice(), draft.error()) {
            ([], _) => Some(NodeKind::EndEvent { terminate: false }),
            ([only], _) if only == "terminateEventDefinition" => Some(NodeKind::EndEvent { terminate: true }),
            (_, Some(error)) => Some(NodeKind::ErrorEndEvent(error)),
            ([_, _, ..], None) => {
                self.report_at(head, draft.several());
                None
            }
            (_, None) => {
                let message = format!("unsupported end event: {}", draft.definitions.join(", "));
                self.report_at(head, message);
                None
            }
        }
    }

    fn boundary_event(&mut self, head: &mut Head, draft: &EventDraft) -> Option<NodeKind> {
        match draft.error() {
            Some(error) => {
                if draft.cancel_activity.is_some() && !flag(&draft.cancel_activity) {
                    self.report_at(
                        head,
                        "an error boundary event always interrupts its activity: cancelActivity=\"false\" \
                         is not allowed (BPMN 2.0, 10.5.4)",
                    );
                }
                let attached_to = draft.attached_to.as_deref().map(str::trim).filter(|a| !a.is_empty());
                if attached_to.is_none() {
                    self.report_at(
                        head,
                        "boundary event has no attachedToRef: name the activity it is attached to",
                    );
                }
                head.refs.attached_ref = attached_to.map(str::to_owned);
                Some(NodeKind::BoundaryEvent {
                    attached_to: usize::MAX,
                    error,
                })
            }
            None if draft.definitions.is_empty() => {
                self.report_at(
                    head,
                    "boundary event has no event definition: an error boundary event has an \
                      errorEventDefinition",
                );
                None
            }
            None if draft.definitions.len() > 1 => {
                self.report_at(head, draft.several());
                None
            }
            None => {
                let message = format!(
                    "unsupported boundary event: {} (only error boundary events are supported)",
                    draft.definitions.join(", ")
                );
                self.report_at(head, message);
                None
            }
        }
    }
}
