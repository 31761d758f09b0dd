//! Vendor extensions, apart from the BPMN core: what modelers write in
//! `extensionElements` under their own namespace. Each vendor has one module
//! (`spiffworkflow`, `zeebe` today); a new one (Camunda 7 `camunda`,
//! Flowable `flowable`) adds its module, a row in [`VENDORS`], and a
//! variant in [`Vendor`] (and [`Frame`] and [`Role`] when its elements have
//! content); what it contributes to a node goes in [`NodeExtensions`].
//! Elements of other namespaces are ignored.

pub(super) mod spiffworkflow;
pub(super) mod zeebe;

use super::elements::messages::MessageExtensions;
use super::frames::{self, Stack};
use super::parse::Parser;
use super::script::Text;
use super::spec::{Position, ServiceCall};
use super::vocabulary::{Attrs, Elem, article};

/// The modelers whose extensions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Vendor {
    /// SpiffWorkflow and SpiffArena.
    SpiffWorkflow,
    /// Camunda 8 (Zeebe).
    Zeebe,
}

/// The vendors by namespace URI (any prefix).
const VENDORS: &[(&str, Vendor)] = &[
    (spiffworkflow::NAMESPACE, Vendor::SpiffWorkflow),
    (zeebe::NAMESPACE, Vendor::Zeebe),
];

/// The vendor whose namespace `uri` is.
pub(super) fn vendor(uri: &[u8]) -> Option<Vendor> {
    VENDORS
        .iter()
        .find(|(namespace, _)| namespace.as_bytes() == uri)
        .map(|&(_, vendor)| vendor)
}

/// A vendor element with content the parser reads.
pub(super) enum Frame {
    SpiffWorkflow(spiffworkflow::Frame),
}

/// What the character data of a vendor element is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    SpiffWorkflow(spiffworkflow::Role),
}

/// What vendor extensions said about a flow node, in the engine's terms.
#[derive(Default)]
pub(super) struct NodeExtensions {
    /// Inline code run before the activity (`spiffworkflow:preScript`).
    pub(super) pre_script: Option<Text>,
    /// Inline code run after the activity (`spiffworkflow:postScript`).
    pub(super) post_script: Option<Text>,
    /// The operation a service task calls (`spiffworkflow:serviceTaskOperator`).
    pub(super) spiff_operator: Option<spiffworkflow::Operator>,
    /// What a send or receive task's message carries and where it goes.
    pub(super) message: MessageExtensions,
    /// Where a user task puts the data it is completed with (`spiffworkflow:variableName`).
    pub(super) form_variable: Option<String>,
}

/// A vendor's element opened in `extensionElements` or in another element
/// of the same vendor.
pub(super) fn open(
    parser: &mut Parser<'_>,
    vendor: Vendor,
    local: &[u8],
    attrs: &mut Attrs<'_>,
    offset: usize,
) -> frames::Frame {
    match vendor {
        Vendor::SpiffWorkflow => spiffworkflow::open(parser, local, attrs, offset),
        Vendor::Zeebe => zeebe::open(parser, local, attrs, offset),
    }
}

/// A vendor's element closed.
pub(super) fn close(parser: &mut Parser<'_>, frame: Frame) {
    match frame {
        Frame::SpiffWorkflow(frame) => spiffworkflow::close(parser, frame),
    }
}

/// The text of a vendor's element closed; `offset` is where the element starts.
pub(super) fn close_text(parser: &mut Parser<'_>, role: Role, text: Text, offset: usize) {
    match role {
        Role::SpiffWorkflow(role) => spiffworkflow::close_text(parser, role, text, offset),
    }
}

/// The call of a service task with id `task_id`, from its extensions, or
/// what is wrong with it (and where, when not at the task).
pub(super) fn service_call(
    task_id: &str,
    extensions: &mut NodeExtensions,
) -> Result<ServiceCall, (Option<Position>, String)> {
    spiffworkflow::service_call(task_id, extensions.spiff_operator.take())
}

/// Which element an `extensionElements` belongs to, as far as extensions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// A flow node (a subprocess is `Node(None)`).
    Node(Option<Elem>),
    /// A root `error`.
    Error,
    /// A `messageEventDefinition`.
    MessageDefinition,
    /// A root `message`.
    Message,
    /// A root `signal`.
    Signal,
    /// Anything else (extensions there are ignored).
    Other,
}

impl Owner {
    /// The owner of the `extensionElements` the innermost open element is in.
    pub(super) fn of(stack: &Stack) -> Owner {
        match stack.extension_owner() {
            Some(frames::Frame::Node(node)) => Owner::Node(Some(node.elem())),
            Some(frames::Frame::SubProcess(_)) => Owner::Node(None),
            Some(frames::Frame::Error(_)) => Owner::Error,
            Some(frames::Frame::MessageDef(_)) => Owner::MessageDefinition,
            Some(frames::Frame::Message(_)) => Owner::Message,
            Some(frames::Frame::Signal(_)) => Owner::Signal,
            _ => Owner::Other,
        }
    }

    /// Whether it is an activity (task, subprocess or call activity).
    pub(super) fn is_activity(self) -> bool {
        match self {
            Owner::Node(None) => true,
            Owner::Node(Some(elem)) => elem.is_activity(),
            Owner::Error | Owner::MessageDefinition | Owner::Message | Owner::Signal | Owner::Other => false,
        }
    }

    /// Whether it says something about a message: a message event
    /// definition, a root message, a send or receive task.
    pub(super) fn carries_message(self) -> bool {
        matches!(
            self,
            Owner::MessageDefinition
                | Owner::Message
                | Owner::Node(Some(Elem::Task(
                    super::vocabulary::TaskElem::Send | super::vocabulary::TaskElem::Receive
                )))
        )
    }

    /// How messages name it: "a scriptTask", "a subProcess", "an error".
    pub(super) fn describe(self) -> String {
        match self {
            Owner::Node(Some(elem)) => article(elem.name()),
            Owner::Node(None) => "a subProcess".to_owned(),
            Owner::Error => "an error".to_owned(),
            Owner::MessageDefinition => "a messageEventDefinition".to_owned(),
            Owner::Message => "a message".to_owned(),
            Owner::Signal => "a signal".to_owned(),
            Owner::Other => "this element".to_owned(),
        }
    }
}
