//! Events: start, end, boundary and intermediate catch and throw events, and their
//! event definitions. Which definitions each event may have, and what they
//! make of it, is decided here; the `errorRef` of an error event is resolved
//! once the file is read (see `resolve`), and a timer's value is read by
//! `timer`.

use super::super::frames::{Frame, Head, NodeDraft, Role};
use super::super::parse::Parser;
use super::super::script::Text;
use super::super::spec::{
    ConditionEvent, ErrorEvent, MessageEvent, MultipleEvent, NodeKind, Position, SignalEvent, TimerDef, TimerKind,
};
use super::super::vocabulary::{Attrs, EventElem, article, flag};
use super::messages::{MessageDraft, MessageExtensions, reference};

/// A `timerEventDefinition` being read: the values among its children.
pub(in crate::bpmn) struct TimerDraft {
    position: Position,
    /// Each `timeDate`, `timeDuration` or `timeCycle`, with its text and line.
    values: Vec<(TimerKind, Text, u32)>,
}

/// What a closed `timerEventDefinition` came to: its definition, or where and
/// why it is wrong.
type TimerRead = Result<TimerDef, (Position, String)>;

/// A `conditionalEventDefinition` being read.
pub(in crate::bpmn) struct ConditionDraft {
    position: Position,
    /// Its `condition`'s text and line, once closed.
    condition: Option<(Text, u32)>,
}

/// What a closed `conditionalEventDefinition` came to.
type ConditionRead = Result<ConditionEvent, (Position, String)>;

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
    /// `parallelMultiple` (catch events with several definitions).
    parallel_multiple: Option<String>,
    /// Its first `timerEventDefinition`, once closed.
    timer: Option<TimerRead>,
    /// Its first `messageEventDefinition`, once closed.
    message: Option<MessageDraft>,
    /// The `signalRef` of its first `signalEventDefinition`, and where that starts.
    signal: Option<(Option<String>, Position)>,
    /// The `name` of its first `linkEventDefinition`.
    link: Option<Option<String>>,
    /// The `escalationRef` of its first `escalationEventDefinition`, and where that starts.
    escalation_def: Option<(Option<String>, Position)>,
    /// Its first `conditionalEventDefinition`, once closed.
    condition: Option<ConditionRead>,
    /// The `activityRef` of its first `compensateEventDefinition`.
    compensate: Option<Option<String>>,
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
            parallel_multiple: attrs.parallel_multiple.take(),
            timer: None,
            message: None,
            signal: None,
            link: None,
            escalation_def: None,
            condition: None,
            compensate: None,
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
        if local == b"timerEventDefinition" {
            let values = Vec::new();
            return Some(Frame::Timer(Box::new(TimerDraft { position, values })));
        }
        if local == b"messageEventDefinition" {
            return Some(Frame::MessageDef(Box::new(MessageDraft {
                message_ref: reference(attrs.message_ref.take()),
                position,
                extensions: MessageExtensions::default(),
            })));
        }
        if local == b"conditionalEventDefinition" {
            let condition = None;
            return Some(Frame::ConditionalDef(Box::new(ConditionDraft { position, condition })));
        }
        if local == b"escalationEventDefinition" && self.escalation_def.is_none() {
            self.escalation_def = Some((reference(attrs.escalation_ref.take()), position));
        }
        if local == b"compensateEventDefinition" && self.compensate.is_none() {
            self.compensate = Some(reference(attrs.activity_ref.take()));
        }
        if local == b"linkEventDefinition" && self.link.is_none() {
            self.link = Some(reference(attrs.name.take()));
        }
        if local == b"signalEventDefinition" && self.signal.is_none() {
            self.signal = Some((reference(attrs.signal_ref.take()), position));
        }
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

    /// The escalation event it is, when its one event definition is an
    /// `escalationEventDefinition`.
    fn escalation(&self) -> Option<ErrorEvent> {
        match (self.definitions.as_slice(), &self.escalation_def) {
            ([only], Some((escalation_ref, _))) if only == "escalationEventDefinition" => Some(ErrorEvent {
                error_ref: escalation_ref.clone(),
                error: None,
            }),
            _ => None,
        }
    }

    /// The timer it is, when its one event definition is a `timerEventDefinition`.
    fn timer(&mut self) -> Option<TimerRead> {
        match self.definitions.as_slice() {
            [only] if only == "timerEventDefinition" => self.timer.take(),
            _ => None,
        }
    }

    /// The condition it waits for, when its one event definition is a
    /// `conditionalEventDefinition`.
    fn condition(&mut self) -> Option<ConditionRead> {
        match self.definitions.as_slice() {
            [only] if only == "conditionalEventDefinition" => self.condition.take(),
            _ => None,
        }
    }

    /// A closed `messageEventDefinition` (the first counts).
    pub(in crate::bpmn) fn set_message(&mut self, draft: MessageDraft) {
        if self.message.is_none() {
            self.message = Some(draft);
        }
    }

    /// The message definition, when its one event definition is a
    /// `messageEventDefinition`.
    fn message(&mut self) -> Option<MessageDraft> {
        match self.definitions.as_slice() {
            [only] if only == "messageEventDefinition" => self.message.take(),
            _ => None,
        }
    }

    /// The `signalRef` and position of its signal, when its one event
    /// definition is a `signalEventDefinition`.
    fn signal(&mut self) -> Option<(Option<String>, Position)> {
        match self.definitions.as_slice() {
            [only] if only == "signalEventDefinition" => self.signal.take(),
            _ => None,
        }
    }

    /// The link's name, when its one event definition is a
    /// `linkEventDefinition`: the definition's `name`, else the event's
    /// (modelers write one or both).
    fn link(&mut self, head: &Head) -> Option<Option<String>> {
        match self.definitions.as_slice() {
            [only] if only == "linkEventDefinition" => {
                let name = self.link.take().flatten();
                Some(name.or_else(|| reference(head.name.clone())))
            }
            _ => None,
        }
    }

    /// The `activityRef` of its compensation (`Some(None)`: everything in
    /// scope), when its one event definition is a `compensateEventDefinition`.
    fn compensation(&mut self) -> Option<Option<String>> {
        match self.definitions.as_slice() {
            [only] if only == "compensateEventDefinition" => self.compensate.take(),
            _ => None,
        }
    }

    /// Whether its one event definition is a `cancelEventDefinition`.
    fn cancels(&self) -> bool {
        matches!(self.definitions.as_slice(), [only] if only == "cancelEventDefinition")
    }

    /// Its definitions one by one, when it has several (a multiple or
    /// parallel multiple catch, or, `throws`, a multiple throw): a draft per
    /// definition, as if it were the only one. Else what to report: a catch
    /// combines definitions that wait, a throw what it can throw, one of
    /// each kind.
    fn split(&mut self, throws: bool) -> Result<Vec<EventDraft>, String> {
        const WAITING: [&str; 4] = [
            "timerEventDefinition",
            "messageEventDefinition",
            "signalEventDefinition",
            "conditionalEventDefinition",
        ];
        const THROWN: [&str; 3] = [
            "messageEventDefinition",
            "signalEventDefinition",
            "escalationEventDefinition",
        ];
        let (allowed, what) = if throws {
            (
                &THROWN[..],
                "a throw or end event with several definitions combines message, signal and escalation",
            )
        } else {
            (
                &WAITING[..],
                "a catch event with several definitions combines timer, message, signal and conditional",
            )
        };
        if let Some(other) = self.definitions.iter().find(|d| !allowed.contains(&d.as_str())) {
            return Err(format!(
                "{}: {what} definitions only, not {}",
                self.several_names(),
                article(other)
            ));
        }
        for (i, d) in self.definitions.iter().enumerate() {
            if self.definitions[..i].contains(d) {
                return Err(format!(
                    "{}: two {d}s on one event; give each its own event (after an event-based gateway, \
                     or as two boundary events)",
                    self.several_names()
                ));
            }
        }
        let definitions = std::mem::take(&mut self.definitions);
        let parts = (definitions.iter())
            .map(|d| EventDraft {
                definitions: vec![d.clone()],
                error_def: None,
                attached_to: self.attached_to.clone(),
                cancel_activity: self.cancel_activity.clone(),
                is_interrupting: self.is_interrupting.clone(),
                parallel_multiple: None,
                timer: if d == "timerEventDefinition" {
                    self.timer.take()
                } else {
                    None
                },
                message: if d == "messageEventDefinition" {
                    self.message.take()
                } else {
                    None
                },
                signal: if d == "signalEventDefinition" {
                    self.signal.take()
                } else {
                    None
                },
                link: None,
                escalation_def: if d == "escalationEventDefinition" {
                    self.escalation_def.take()
                } else {
                    None
                },
                condition: if d == "conditionalEventDefinition" {
                    self.condition.take()
                } else {
                    None
                },
                compensate: None,
            })
            .collect();
        self.definitions = definitions;
        Ok(parts)
    }

    /// `several definitions (a, b)`, for messages.
    fn several_names(&self) -> String {
        format!("several event definitions ({})", self.definitions.join(", "))
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
        mut draft: EventDraft,
    ) -> Option<NodeKind> {
        let several = draft.definitions.len() > 1;
        let kind = match elem {
            EventElem::End if several => self
                .multiple_throw(head, &mut draft, Self::end_event)
                .map(NodeKind::MultipleEndEvent),
            EventElem::IntermediateThrow if several => self
                .multiple_throw(head, &mut draft, Self::intermediate_throw_event)
                .map(NodeKind::MultipleThrowEvent),
            EventElem::Start if several => self.multiple_start_event(head, &mut draft),
            EventElem::Boundary if several => self.multiple_boundary_event(head, &mut draft),
            EventElem::IntermediateCatch if several => self.multiple_catch_event(head, &mut draft),
            EventElem::Start => self.start_event(head, &mut draft),
            EventElem::End => self.end_event(head, &mut draft),
            EventElem::Boundary => self.boundary_event(head, &mut draft),
            EventElem::IntermediateCatch => self.intermediate_catch_event(head, &mut draft),
            EventElem::IntermediateThrow => self.intermediate_throw_event(head, &mut draft),
        };
        if let Some((Some(error_ref), at)) = draft.error_def
            && kind.is_some()
        {
            self.errors.refer(error_ref, at, head.id.clone());
        }
        if let Some((Some(escalation_ref), at)) = draft.escalation_def
            && kind.is_some()
        {
            self.escalations.refer(escalation_ref, at, head.id.clone());
        }
        kind
    }

    /// The message of an event whose one definition is a message.
    fn event_message(&mut self, head: &Head, draft: &mut EventDraft) -> Option<Box<MessageEvent>> {
        let MessageDraft {
            message_ref,
            position,
            extensions,
        } = draft.message()?;
        let message = self.message_of(
            head.id.as_deref(),
            head.name.as_deref(),
            (message_ref, position),
            extensions,
        );
        Some(Box::new(message))
    }

    /// The signal of an event whose one definition is a signal.
    fn event_signal(&mut self, head: &Head, draft: &mut EventDraft) -> Option<Box<SignalEvent>> {
        let (signal_ref, position) = draft.signal()?;
        Some(Box::new(self.signal_of(
            head.id.as_deref(),
            head.name.as_deref(),
            signal_ref,
            position,
        )))
    }

    fn start_event(&mut self, head: &Head, draft: &mut EventDraft) -> Option<NodeKind> {
        if draft.definitions.is_empty() {
            return Some(NodeKind::StartEvent);
        }
        if let Some(message) = self.event_message(head, draft) {
            let interrupting = draft.is_interrupting.is_none() || flag(&draft.is_interrupting);
            return Some(NodeKind::MessageStartEvent { message, interrupting });
        }
        if let Some(signal) = self.event_signal(head, draft) {
            let interrupting = draft.is_interrupting.is_none() || flag(&draft.is_interrupting);
            return Some(NodeKind::SignalStartEvent { signal, interrupting });
        }
        if let Some(read) = draft.timer() {
            let timer = self.timer_def(head, read)?;
            let interrupting = draft.is_interrupting.is_none() || flag(&draft.is_interrupting);
            return Some(NodeKind::TimerStartEvent { timer, interrupting });
        }
        if let Some(read) = draft.condition() {
            let condition = self.condition_def(head, read)?;
            let interrupting = draft.is_interrupting.is_none() || flag(&draft.is_interrupting);
            return Some(NodeKind::ConditionalStartEvent {
                condition,
                interrupting,
            });
        }
        if draft.compensation().is_some() {
            // isInterrupting means nothing here: it runs once its scope has completed.
            return Some(NodeKind::CompensationStartEvent);
        }
        if let Some(escalation) = draft.escalation() {
            let interrupting = draft.is_interrupting.is_none() || flag(&draft.is_interrupting);
            return Some(NodeKind::EscalationStartEvent {
                escalation,
                interrupting,
            });
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
            None => {
                let message = format!("unsupported start event: {}", draft.definitions.join(", "));
                self.report_at(head, message);
                None
            }
        }
    }

    fn end_event(&mut self, head: &mut Head, draft: &mut EventDraft) -> Option<NodeKind> {
        if let Some(activity) = draft.compensation() {
            head.refs.activity_ref = activity;
            return Some(NodeKind::CompensationEndEvent { activity: None });
        }
        if draft.cancels() {
            return Some(NodeKind::CancelEndEvent);
        }
        if let Some(message) = self.event_message(head, draft) {
            return Some(NodeKind::MessageEndEvent(message));
        }
        if let Some(signal) = self.event_signal(head, draft) {
            return Some(NodeKind::SignalEndEvent(signal));
        }
        if let Some(escalation) = draft.escalation() {
            return Some(NodeKind::EscalationEndEvent(escalation));
        }
        match (draft.definitions.as_slice(), draft.error()) {
            ([], _) => Some(NodeKind::EndEvent { terminate: false }),
            ([only], _) if only == "terminateEventDefinition" => Some(NodeKind::EndEvent { terminate: true }),
            (_, Some(error)) => Some(NodeKind::ErrorEndEvent(error)),
            (_, None) => {
                let message = format!("unsupported end event: {}", draft.definitions.join(", "));
                self.report_at(head, message);
                None
            }
        }
    }

    /// The condition of a conditional event, or `None` (reported) when it is wrong.
    fn condition_def(&mut self, head: &Head, read: ConditionRead) -> Option<Box<ConditionEvent>> {
        match read {
            Ok(condition) => Some(Box::new(condition)),
            Err((at, message)) => {
                self.report.report(at, head.id.as_deref(), message);
                None
            }
        }
    }

    /// The definition of a timer event, or `None` (reported) when it is wrong.
    fn timer_def(&mut self, head: &Head, read: TimerRead) -> Option<Box<TimerDef>> {
        match read {
            Ok(timer) => Some(Box::new(timer)),
            Err((at, message)) => {
                self.report.report(at, head.id.as_deref(), message);
                None
            }
        }
    }

    /// Each definition of an event with several (`throws`: a throw or end
    /// event), read by `part` as if it were the only one; `None` when any
    /// is wrong (reported; the others are still read, for their diagnostics).
    fn event_parts(
        &mut self,
        head: &mut Head,
        draft: &mut EventDraft,
        throws: bool,
        part: fn(&mut Self, &mut Head, &mut EventDraft) -> Option<NodeKind>,
    ) -> Option<Vec<NodeKind>> {
        let drafts = match draft.split(throws) {
            Ok(drafts) => drafts,
            Err(message) => {
                self.report_at(head, message);
                return None;
            }
        };
        let mut parts = Vec::with_capacity(drafts.len());
        let mut whole = true;
        for mut d in drafts {
            match part(self, head, &mut d) {
                Some(kind) => parts.push(kind),
                None => whole = false,
            }
            if let Some((Some(escalation_ref), at)) = d.escalation_def {
                self.escalations.refer(escalation_ref, at, head.id.clone());
            }
        }
        whole.then_some(parts)
    }

    /// The definitions of a catch event with several.
    fn multiple_event(
        &mut self,
        head: &mut Head,
        draft: &mut EventDraft,
        part: fn(&mut Self, &mut Head, &mut EventDraft) -> Option<NodeKind>,
    ) -> Option<Box<MultipleEvent>> {
        let parts = self.event_parts(head, draft, false, part)?;
        let parallel = flag(&draft.parallel_multiple);
        Some(Box::new(MultipleEvent { parts, parallel }))
    }

    /// What a throw or end event with several definitions throws, an escalation last.
    fn multiple_throw(
        &mut self,
        head: &mut Head,
        draft: &mut EventDraft,
        part: fn(&mut Self, &mut Head, &mut EventDraft) -> Option<NodeKind>,
    ) -> Option<Vec<NodeKind>> {
        let mut parts = self.event_parts(head, draft, true, part)?;
        // An escalation may end the thrower (an interrupting catch): the others go first.
        parts.sort_by_key(|kind| {
            matches!(
                kind,
                NodeKind::EscalationThrowEvent(_) | NodeKind::EscalationEndEvent(_)
            )
        });
        Some(parts)
    }

    fn multiple_catch_event(&mut self, head: &mut Head, draft: &mut EventDraft) -> Option<NodeKind> {
        let event = self.multiple_event(head, draft, |p, h, d| p.intermediate_catch_event(h, d))?;
        Some(NodeKind::MultipleCatchEvent(event))
    }

    fn multiple_boundary_event(&mut self, head: &mut Head, draft: &mut EventDraft) -> Option<NodeKind> {
        self.attach(head, draft);
        // Reported once, for the event, not again for each definition.
        draft.attached_to.as_ref()?;
        let interrupting = draft.cancel_activity.is_none() || flag(&draft.cancel_activity);
        let event = self.multiple_event(head, draft, Self::boundary_event)?;
        Some(NodeKind::MultipleBoundaryEvent {
            attached_to: usize::MAX,
            event,
            interrupting,
        })
    }

    fn multiple_start_event(&mut self, head: &mut Head, draft: &mut EventDraft) -> Option<NodeKind> {
        let interrupting = draft.is_interrupting.is_none() || flag(&draft.is_interrupting);
        let event = self.multiple_event(head, draft, |p, h, d| p.start_event(h, d))?;
        Some(NodeKind::MultipleStartEvent { event, interrupting })
    }

    fn intermediate_catch_event(&mut self, head: &Head, draft: &mut EventDraft) -> Option<NodeKind> {
        if let Some(read) = draft.timer() {
            return self.timer_def(head, read).map(NodeKind::TimerCatchEvent);
        }
        if let Some(message) = self.event_message(head, draft) {
            return Some(NodeKind::MessageCatchEvent(message));
        }
        if let Some(signal) = self.event_signal(head, draft) {
            return Some(NodeKind::SignalCatchEvent(signal));
        }
        if let Some(name) = draft.link(head) {
            return self.link_name(head, name).map(|name| NodeKind::LinkCatchEvent { name });
        }
        if let Some(read) = draft.condition() {
            return self.condition_def(head, read).map(NodeKind::ConditionalCatchEvent);
        }
        let message = match draft.definitions.as_slice() {
            [] => "intermediate catch event has no event definition: say what it waits for \
                   (a timerEventDefinition, a messageEventDefinition, a signalEventDefinition or a \
                   conditionalEventDefinition)"
                .to_string(),
            _ => format!(
                "unsupported intermediate catch event: {} (only timers, messages, signals, conditions and links are supported yet)",
                draft.definitions.join(", ")
            ),
        };
        self.report_at(head, message);
        None
    }

    fn intermediate_throw_event(&mut self, head: &mut Head, draft: &mut EventDraft) -> Option<NodeKind> {
        if draft.definitions.is_empty() {
            return Some(NodeKind::ThrowEvent);
        }
        if let Some(activity) = draft.compensation() {
            head.refs.activity_ref = activity;
            return Some(NodeKind::CompensationThrowEvent { activity: None });
        }
        if let Some(message) = self.event_message(head, draft) {
            return Some(NodeKind::MessageThrowEvent(message));
        }
        if let Some(signal) = self.event_signal(head, draft) {
            return Some(NodeKind::SignalThrowEvent(signal));
        }
        if let Some(escalation) = draft.escalation() {
            return Some(NodeKind::EscalationThrowEvent(escalation));
        }
        if let Some(name) = draft.link(head) {
            // The target is found when the scope closes.
            return (self.link_name(head, name)).map(|name| NodeKind::LinkThrowEvent {
                name,
                target: usize::MAX,
            });
        }
        let message = format!(
            "unsupported intermediate throw event: {} (only messages, signals, escalations, compensation and links are supported yet)",
            draft.definitions.join(", ")
        );
        self.report_at(head, message);
        None
    }

    /// A link event's name, or `None` (reported) when it has none.
    fn link_name(&mut self, head: &Head, name: Option<String>) -> Option<String> {
        if name.is_none() {
            self.report_at(
                head,
                "link event has no name: give its linkEventDefinition a name (throw and catch links meet by name)",
            );
        }
        name
    }

    /// The activity a boundary event names, noted in its head for resolution.
    fn attach(&mut self, head: &mut Head, draft: &EventDraft) {
        let attached_to = draft.attached_to.as_deref().map(str::trim).filter(|a| !a.is_empty());
        if attached_to.is_none() {
            self.report_at(
                head,
                "boundary event has no attachedToRef: name the activity it is attached to",
            );
        }
        head.refs.attached_ref = attached_to.map(str::to_owned);
    }

    fn boundary_event(&mut self, head: &mut Head, draft: &mut EventDraft) -> Option<NodeKind> {
        // Its handler is found when the scope closes.
        if draft.compensation().is_some() {
            self.attach(head, draft);
            return Some(NodeKind::CompensationBoundaryEvent {
                attached_to: usize::MAX,
                handler: usize::MAX,
            });
        }
        if draft.cancels() {
            self.attach(head, draft);
            return Some(NodeKind::CancelBoundaryEvent {
                attached_to: usize::MAX,
            });
        }
        if let Some(message) = self.event_message(head, draft) {
            self.attach(head, draft);
            return Some(NodeKind::MessageBoundaryEvent {
                attached_to: usize::MAX,
                message,
                interrupting: draft.cancel_activity.is_none() || flag(&draft.cancel_activity),
            });
        }
        if let Some(signal) = self.event_signal(head, draft) {
            self.attach(head, draft);
            return Some(NodeKind::SignalBoundaryEvent {
                attached_to: usize::MAX,
                signal,
                interrupting: draft.cancel_activity.is_none() || flag(&draft.cancel_activity),
            });
        }
        if let Some(escalation) = draft.escalation() {
            self.attach(head, draft);
            return Some(NodeKind::EscalationBoundaryEvent {
                attached_to: usize::MAX,
                escalation,
                interrupting: draft.cancel_activity.is_none() || flag(&draft.cancel_activity),
            });
        }
        if let Some(read) = draft.condition() {
            self.attach(head, draft);
            let condition = self.condition_def(head, read)?;
            return Some(NodeKind::ConditionalBoundaryEvent {
                attached_to: usize::MAX,
                condition,
                interrupting: draft.cancel_activity.is_none() || flag(&draft.cancel_activity),
            });
        }
        if let Some(read) = draft.timer() {
            self.attach(head, draft);
            let timer = self.timer_def(head, read)?;
            return Some(NodeKind::TimerBoundaryEvent {
                attached_to: usize::MAX,
                timer,
                interrupting: draft.cancel_activity.is_none() || flag(&draft.cancel_activity),
            });
        }
        match draft.error() {
            Some(error) => {
                if draft.cancel_activity.is_some() && !flag(&draft.cancel_activity) {
                    self.report_at(
                        head,
                        "an error boundary event always interrupts its activity: cancelActivity=\"false\" \
                         is not allowed (BPMN 2.0, 10.5.4)",
                    );
                }
                self.attach(head, draft);
                Some(NodeKind::BoundaryEvent {
                    attached_to: usize::MAX,
                    error,
                })
            }
            None if draft.definitions.is_empty() => {
                self.report_at(
                    head,
                    "boundary event has no event definition: say what it catches (an \
                     errorEventDefinition, a timerEventDefinition, a messageEventDefinition or a signalEventDefinition)",
                );
                None
            }
            None => {
                let message = format!(
                    "unsupported boundary event: {} (only error, escalation, timer, message, signal, conditional, compensation and cancel boundary events are supported yet)",
                    draft.definitions.join(", ")
                );
                self.report_at(head, message);
                None
            }
        }
    }
}

impl Parser<'_> {
    /// A child of a `timerEventDefinition`: its value is collected.
    pub(in crate::bpmn) fn open_in_timer(&mut self, local: &[u8]) -> Frame {
        let kind = match local {
            b"timeDate" => TimerKind::Date,
            b"timeDuration" => TimerKind::Duration,
            b"timeCycle" => TimerKind::Cycle,
            _ => return Frame::Skip,
        };
        Frame::Text(Box::default(), Role::Timer(kind))
    }

    /// The text of a closed `timeDate`, `timeDuration` or `timeCycle`, whose
    /// element starts at `offset`.
    pub(in crate::bpmn) fn close_timer_value(&mut self, kind: TimerKind, text: Text, offset: usize) {
        let line = self.position(offset).line;
        if let Some(Frame::Timer(timer)) = self.stack.parent_mut() {
            timer.values.push((kind, text, line));
        }
    }

    /// A closed `timerEventDefinition`: its one value makes the definition,
    /// handed to its event.
    pub(in crate::bpmn) fn close_timer(&mut self, timer: TimerDraft) {
        let TimerDraft { position, values } = timer;
        let read = match values.as_slice() {
            [] => Err((
                position,
                "timerEventDefinition has no timeDate, timeDuration or timeCycle: say when it fires".to_string(),
            )),
            [(kind, text, line)] => match text.trimmed() {
                None => Err((position, format!("the timer's {} is empty", kind.element_name()))),
                Some(value) => TimerDef::new(*kind, value, *line).map_err(|message| (position, message)),
            },
            [..] => {
                let names: Vec<&str> = values.iter().map(|(kind, ..)| kind.element_name()).collect();
                Err((
                    position,
                    format!("timerEventDefinition has {}: give one", names.join(" and ")),
                ))
            }
        };
        if let Some(node) = self.stack.parent_node_mut()
            && let NodeDraft::Event(_, event) = &mut node.draft
            && event.timer.is_none()
        {
            event.timer = Some(read);
        }
    }
}

impl Parser<'_> {
    /// A child of a `conditionalEventDefinition`: its `condition` is collected.
    pub(in crate::bpmn) fn open_in_conditional(&mut self, local: &[u8]) -> Frame {
        match local {
            b"condition" => Frame::Text(Box::default(), Role::EventCondition),
            _ => Frame::Skip,
        }
    }

    /// The text of a closed `condition`, whose element starts at `offset`.
    pub(in crate::bpmn) fn close_event_condition(&mut self, text: Text, offset: usize) {
        let line = self.position(offset).line;
        if let Some(Frame::ConditionalDef(draft)) = self.stack.parent_mut()
            && draft.condition.is_none()
        {
            draft.condition = Some((text, line));
        }
    }

    /// A closed `conditionalEventDefinition`, handed to its event.
    pub(in crate::bpmn) fn close_conditional(&mut self, draft: ConditionDraft) {
        let ConditionDraft { position, condition } = draft;
        let read = match condition.and_then(|(text, line)| Some((text.trimmed()?, line))) {
            Some((expression, line)) => Ok(ConditionEvent::new(expression, line)),
            None => Err((
                position,
                "conditionalEventDefinition has no condition: give the expression that makes it fire \
                 (<condition xsi:type=\"tFormalExpression\">...</condition>)"
                    .to_string(),
            )),
        };
        if let Some(node) = self.stack.parent_node_mut()
            && let NodeDraft::Event(_, event) = &mut node.draft
            && event.condition.is_none()
        {
            event.condition = Some(read);
        }
    }
}
