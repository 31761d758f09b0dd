//! The open elements: what each is being read as ([`Frame`]), on a
//! [`Stack`] with named ways to reach the elements around the one being read.
//! One frame per open element, so neither the size of a diagram nor the depth
//! of its XML makes the parser recurse.

use super::elements::collaborations::CollaborationFrame;
use super::elements::data::AssociationDraft;
use super::elements::definitions::ErrorFrame;
use super::elements::events::{ConditionDraft, EventDraft, TimerDraft};
use super::elements::loops::{LoopDraft, LoopPart};
use super::elements::messages::{CorrelationDraft, MessageDraft, MessageFrame, RetrievalDraft};
use super::elements::signals::SignalFrame;
use super::elements::tasks::TaskDraft;
use super::extensions::{self, NodeExtensions};
use super::scope::{FlowDraft, NodeRefs, ScopeDraft};
use super::script::{self, Text};
use super::spec::{DataAssociations, MultiInstance, NodeKind, NodeSpec, Position, StandardLoop, TimerKind};
use super::vocabulary::{Elem, EventElem, GatewayElem, TaskElem};
use super::xml::LineIndex;

/// What an open element is being read as.
pub(super) enum Frame {
    /// The root `definitions`.
    Definitions { position: Position },
    /// A `process`.
    Process(Box<ScopeDraft>),
    /// A `subProcess`: a scope of its own, and a node of the scope around it.
    SubProcess(Box<SubProcessFrame>),
    /// A flow node other than a subprocess.
    Node(Box<NodeFrame>),
    /// A `sequenceFlow`.
    Flow(Box<FlowDraft>),
    /// A root `error`.
    Error(Box<ErrorFrame>),
    /// A root `collaboration`.
    Collaboration(Box<CollaborationFrame>),
    /// A `timerEventDefinition` of an event.
    Timer(Box<TimerDraft>),
    /// A `messageEventDefinition` of an event.
    MessageDef(Box<MessageDraft>),
    /// A `conditionalEventDefinition` of an event.
    ConditionalDef(Box<ConditionDraft>),
    /// A `standardLoopCharacteristics` or `multiInstanceLoopCharacteristics` of an activity.
    Loop(Box<LoopDraft>),
    /// A `dataInputAssociation` or `dataOutputAssociation` of an activity.
    DataAssociation(Box<AssociationDraft>),
    /// A root `message`.
    Message(Box<MessageFrame>),
    /// A root `signal`.
    Signal(Box<SignalFrame>),
    /// A root `correlationProperty`.
    Correlation(Box<CorrelationDraft>),
    /// A `correlationPropertyRetrievalExpression`.
    Retrieval(Box<RetrievalDraft>),
    /// `extensionElements` of a flow node, subprocess or error: where vendor
    /// extensions are read.
    Extensions,
    /// A vendor extension element with content the parser reads.
    Vendor(extensions::Frame),
    /// An element whose character data is collected.
    Text(Box<Text>, Role),
    /// Anything else: its content is skipped (but still checked as XML).
    Skip,
}

impl Frame {
    /// The id of the element, when it is one that diagnostics name.
    pub(super) fn element_id(&self) -> Option<&str> {
        match self {
            Frame::Node(node) => node.head.id.as_deref(),
            Frame::SubProcess(sub) => sub.head.id.as_deref(),
            Frame::Error(error) => error.id.as_deref(),
            Frame::Message(message) => message.id.as_deref(),
            Frame::Signal(signal) => signal.id.as_deref(),
            _ => None,
        }
    }

    /// The head of a flow node or subprocess.
    pub(super) fn head_mut(&mut self) -> Option<&mut Head> {
        match self {
            Frame::Node(node) => Some(&mut node.head),
            Frame::SubProcess(sub) => Some(&mut sub.head),
            _ => None,
        }
    }
}

/// What the character data of a [`Frame::Text`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A script task's `script`.
    Script,
    /// A sequence flow's `conditionExpression`.
    Condition,
    /// A timer's `timeDate`, `timeDuration` or `timeCycle`.
    Timer(TimerKind),
    /// A conditional event definition's `condition`.
    EventCondition,
    /// An expression or reference of a loop characteristics element.
    Loop(LoopPart),
    /// The data object reference of a data association.
    DataRef,
    /// The `messagePath` of a correlation property's retrieval expression.
    MessagePath,
    /// A vendor extension's text.
    Vendor(extensions::Role),
}

/// What every flow node has, read from its start tag and from the
/// children and extensions every node may have.
pub(super) struct Head {
    pub(super) id: Option<String>,
    /// The id is present and unique: the node can be referenced.
    pub(super) indexed: bool,
    pub(super) name: Option<String>,
    pub(super) position: Position,
    /// What it references, resolved when its scope closes.
    pub(super) refs: NodeRefs,
    /// Its `standardLoopCharacteristics`, once read.
    pub(super) looping: Option<Box<StandardLoop>>,
    /// Its `multiInstanceLoopCharacteristics`, once read.
    pub(super) multi: Option<Box<MultiInstance>>,
    /// Its data associations, as written (resolved once the file is read).
    pub(super) data: Option<Box<DataAssociations>>,
    /// What vendor extensions said about it.
    pub(super) vendor: NodeExtensions,
}

impl Head {
    /// The node of this head, its references, and whether it is indexed.
    pub(super) fn into_node(self, kind: NodeKind, lines: &LineIndex<'_>) -> (NodeSpec, NodeRefs, bool) {
        // A blank pre- or post-script is no script.
        let inline = |text: Option<Text>| text.and_then(|t| script::script(None, Some(&t), lines).ok());
        let node = NodeSpec {
            id: self.id.unwrap_or_default(),
            name: self.name,
            kind,
            incoming: Box::default(),
            outgoing: Box::default(),
            default_flow: None,
            position: self.position,
            pre_script: inline(self.vendor.pre_script).map(Box::new),
            post_script: inline(self.vendor.post_script).map(Box::new),
            boundaries: Box::default(),
            looping: self.looping,
            multi: self.multi,
            data: self.data,
        };
        (node, self.refs, self.indexed)
    }
}

/// A subprocess being read.
pub(super) struct SubProcessFrame {
    /// Its inside.
    pub(super) draft: ScopeDraft,
    /// It as a node of the scope around it.
    pub(super) head: Head,
}

/// A flow node other than a subprocess being read.
pub(super) struct NodeFrame {
    pub(super) head: Head,
    /// What its family reads besides the head.
    pub(super) draft: NodeDraft,
}

/// A flow node's element, with what its family reads from it.
pub(super) enum NodeDraft {
    Event(EventElem, EventDraft),
    Task(TaskElem, TaskDraft),
    Gateway(GatewayElem),
    CallActivity { called_element: Option<String> },
}

impl NodeFrame {
    /// Which element it is.
    pub(super) fn elem(&self) -> Elem {
        match &self.draft {
            NodeDraft::Event(elem, _) => Elem::Event(*elem),
            NodeDraft::Task(elem, _) => Elem::Task(*elem),
            NodeDraft::Gateway(elem) => Elem::Gateway(*elem),
            NodeDraft::CallActivity { .. } => Elem::CallActivity,
        }
    }
}

/// The kind of the innermost open element, copied out so that handlers can
/// borrow the parser mutably.
#[derive(Debug, Clone, Copy)]
pub(super) enum Context {
    Definitions,
    Process,
    SubProcess,
    Node(Elem),
    Flow,
    Error,
    Collaboration,
    Timer,
    MessageDef,
    ConditionalDef,
    Loop,
    DataAssociation,
    Message,
    Signal,
    Correlation,
    Retrieval,
    Extensions,
    Vendor,
    /// Text and skipped elements: nothing inside is read.
    Leaf,
}

/// One open element: the byte offset of its `<`, and its frame.
struct Open {
    offset: usize,
    frame: Frame,
}

/// The open elements, outermost first.
#[derive(Default)]
pub(super) struct Stack(Vec<Open>);

impl Stack {
    /// Opens an element whose `<` is at `offset`.
    pub(super) fn push(&mut self, offset: usize, frame: Frame) {
        self.0.push(Open { offset, frame });
    }

    /// Closes the innermost element: its offset and frame.
    pub(super) fn pop(&mut self) -> Option<(usize, Frame)> {
        self.0.pop().map(|open| (open.offset, open.frame))
    }

    /// Where the innermost open element starts (`None` once the root closed).
    pub(super) fn innermost_offset(&self) -> Option<usize> {
        self.0.last().map(|open| open.offset)
    }

    /// The innermost open element: the parent of the element being opened,
    /// or, once an element is closed, the parent it closed in.
    pub(super) fn parent(&self) -> Option<&Frame> {
        self.0.last().map(|open| &open.frame)
    }

    /// The parent, mutably.
    pub(super) fn parent_mut(&mut self) -> Option<&mut Frame> {
        self.0.last_mut().map(|open| &mut open.frame)
    }

    /// The parent when it is a process or subprocess: the scope a flow
    /// element belongs to.
    pub(super) fn parent_scope_mut(&mut self) -> Option<&mut ScopeDraft> {
        match self.parent_mut()? {
            Frame::Process(draft) => Some(draft),
            Frame::SubProcess(sub) => Some(&mut sub.draft),
            _ => None,
        }
    }

    /// The parent when it is a flow node other than a subprocess.
    pub(super) fn parent_node_mut(&mut self) -> Option<&mut NodeFrame> {
        match self.parent_mut()? {
            Frame::Node(node) => Some(node),
            _ => None,
        }
    }

    /// The kind of the parent (`None` before the root element).
    pub(super) fn context(&self) -> Option<Context> {
        Some(match self.parent()? {
            Frame::Definitions { .. } => Context::Definitions,
            Frame::Process(_) => Context::Process,
            Frame::SubProcess(_) => Context::SubProcess,
            Frame::Node(node) => Context::Node(node.elem()),
            Frame::Flow(_) => Context::Flow,
            Frame::Error(_) => Context::Error,
            Frame::Collaboration(_) => Context::Collaboration,
            Frame::Timer(_) => Context::Timer,
            Frame::MessageDef(_) => Context::MessageDef,
            Frame::ConditionalDef(_) => Context::ConditionalDef,
            Frame::Loop(_) => Context::Loop,
            Frame::DataAssociation(_) => Context::DataAssociation,
            Frame::Message(_) => Context::Message,
            Frame::Signal(_) => Context::Signal,
            Frame::Correlation(_) => Context::Correlation,
            Frame::Retrieval(_) => Context::Retrieval,
            Frame::Extensions => Context::Extensions,
            Frame::Vendor(_) => Context::Vendor,
            Frame::Text(..) | Frame::Skip => Context::Leaf,
        })
    }

    /// The text being collected, when the parent collects text.
    pub(super) fn text_mut(&mut self) -> Option<&mut Text> {
        match self.parent_mut()? {
            Frame::Text(text, _) => Some(text),
            _ => None,
        }
    }

    /// The element that owns the `extensionElements` the parent is in (or
    /// is): the flow node, subprocess or error that vendor extensions are
    /// about.
    pub(super) fn extension_owner(&self) -> Option<&Frame> {
        let i = self.extensions_index()?;
        self.0.get(i.checked_sub(1)?).map(|open| &open.frame)
    }

    /// The extension owner's id, for the diagnostics of the extensions in it.
    /// (For an event definition's extensions, the event's.)
    pub(super) fn extension_owner_id(&self) -> Option<String> {
        let owner = self.extensions_index()?.checked_sub(1)?;
        let at = match self.0[owner].frame {
            Frame::MessageDef(_) => owner.checked_sub(1)?,
            _ => owner,
        };
        self.0[at].frame.element_id().map(str::to_owned)
    }

    /// The extension owner, mutably.
    pub(super) fn extension_owner_mut(&mut self) -> Option<&mut Frame> {
        let i = self.extensions_index()?;
        self.0.get_mut(i.checked_sub(1)?).map(|open| &mut open.frame)
    }

    /// The innermost open vendor frame that `pick` accepts.
    pub(super) fn nearest_vendor_mut<T>(
        &mut self,
        mut pick: impl FnMut(&mut extensions::Frame) -> Option<&mut T>,
    ) -> Option<&mut T> {
        self.0.iter_mut().rev().find_map(|open| match &mut open.frame {
            Frame::Vendor(frame) => pick(frame),
            _ => None,
        })
    }

    /// The index of the `extensionElements` frame the parent is in: the
    /// innermost one, with only vendor frames above it.
    fn extensions_index(&self) -> Option<usize> {
        for (i, open) in self.0.iter().enumerate().rev() {
            match open.frame {
                Frame::Extensions => return Some(i),
                Frame::Vendor(_) => {}
                _ => return None,
            }
        }
        None
    }
}
