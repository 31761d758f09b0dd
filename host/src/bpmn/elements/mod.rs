//! The BPMN core, one module per element family: each opens its elements,
//! reads their children and, when they close, builds their [`NodeKind`] or
//! says what is wrong. What every flow node shares (its [`Head`]: id, name,
//! `default`, loops, extensions) is read here.
//!
//! - `definitions`: the root, processes, root errors;
//! - `collaborations`: collaborations and their participants (pools);
//! - `events`: start, end and boundary events and their event definitions;
//! - `messages`: root messages and correlation properties, message event definitions;
//! - `signals`: root signals and the references to them;
//! - `tasks`: tasks, manual, user, script, service, send and receive tasks;
//! - `gateways`: exclusive, parallel and inclusive gateways;
//! - `flows`: sequence flows and their conditions;
//! - `subprocesses`: subprocesses, event subprocesses, call activities;
//! - `loops`: the standard loop characteristics of an activity.

pub(super) mod collaborations;
pub(super) mod data;
pub(super) mod definitions;
pub(super) mod events;
mod flows;
mod gateways;
pub(super) mod loops;
pub(super) mod messages;
pub(super) mod signals;
mod subprocesses;
pub(super) mod tasks;

use super::frames::{Frame, Head, NodeDraft, NodeFrame};
use super::parse::Parser;
use super::scope::{AssociationDraft, NodeRefs};
use super::spec::{NodeKind, Position};
use super::vocabulary::{Attrs, Elem, EventElem, FlowElement};

impl<'a> Parser<'a> {
    /// A child of a process (`sub` false) or subprocess.
    pub(super) fn open_in_scope(&mut self, sub: bool, local: &[u8], attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        match FlowElement::from_local(local) {
            Some(FlowElement::Node(elem)) => self.open_node(elem, attrs, offset),
            Some(FlowElement::SequenceFlow) => self.open_flow(attrs, offset),
            Some(FlowElement::SubProcess) => self.open_subprocess(attrs, offset, false),
            Some(FlowElement::Transaction) => self.open_subprocess(attrs, offset, true),
            Some(FlowElement::Association) => {
                if let Some(scope) = self.stack.parent_scope_mut() {
                    scope.associations.push(AssociationDraft {
                        source_ref: attrs.source_ref.take(),
                        target_ref: attrs.target_ref.take(),
                    });
                }
                Frame::Skip
            }
            Some(FlowElement::Unsupported(name)) => {
                self.unsupported(attrs, offset, name, format!("unsupported element `{name}`"));
                Frame::Skip
            }
            None if matches!(local, b"dataObject" | b"dataObjectReference") => self.open_data_element(local, attrs),
            None if sub => {
                let position = self.position(offset);
                open_in_activity(local, attrs, position)
            }
            None => Frame::Skip,
        }
    }

    /// A flow node other than a subprocess.
    fn open_node(&mut self, elem: Elem, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let draft = match elem {
            Elem::Event(event) => {
                // Events have no default flow.
                attrs.default = None;
                NodeDraft::Event(event, events::EventDraft::new(attrs))
            }
            Elem::Task(task) => NodeDraft::Task(task, tasks::TaskDraft::new(attrs)),
            Elem::Gateway(gateway) => NodeDraft::Gateway(gateway),
            Elem::CallActivity => NodeDraft::CallActivity {
                called_element: attrs.called_element.take(),
            },
        };
        let head = self.head(elem.name(), attrs, position);
        Frame::Node(Box::new(NodeFrame { head, draft }))
    }

    /// A child of a flow node other than a subprocess.
    pub(super) fn open_in_node(&mut self, elem: Elem, local: &[u8], attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let Some(node) = self.stack.parent_node_mut() else {
            return Frame::Skip;
        };
        let family = match &mut node.draft {
            NodeDraft::Event(_, event) => event.open_child(local, attrs, position),
            NodeDraft::Task(task, _) => tasks::open_child(*task, local),
            NodeDraft::Gateway(_) | NodeDraft::CallActivity { .. } => None,
        };
        match family {
            Some(frame) => frame,
            None if local == b"extensionElements" => Frame::Extensions,
            None if elem.is_activity() => open_in_activity(local, attrs, position),
            None => Frame::Skip,
        }
    }

    /// A closed flow node other than a subprocess: its family builds its
    /// kind, then it joins its scope.
    pub(super) fn close_node(&mut self, node: NodeFrame) {
        let NodeFrame { mut head, draft } = node;
        let mut start_event = false;
        let kind = match draft {
            NodeDraft::Event(event, draft) => {
                start_event = event == EventElem::Start;
                self.event_kind(event, &mut head, draft)
            }
            NodeDraft::Task(task, draft) => Some(self.task_kind(task, &mut head, draft)),
            NodeDraft::Gateway(gateway) => Some(gateways::kind(gateway)),
            NodeDraft::CallActivity { called_element } => Some(self.call_activity_kind(&head, called_element)),
        };
        self.add_node(head, kind, start_event);
    }

    /// Adds a node with this head to the scope it closed in; `None` when it
    /// is unsupported (already reported), so that flows touching it are not
    /// reported again.
    fn add_node(&mut self, head: Head, kind: Option<NodeKind>, start_event: bool) {
        let id = head.id.clone();
        let built = kind.map(|kind| head.into_node(kind, self.xml.lines()));
        let Some(scope) = self.stack.parent_scope_mut() else {
            return;
        };
        match built {
            Some((node, refs, indexed)) => {
                let number = scope.number();
                let at = scope.add_node(node, refs, indexed);
                if indexed {
                    self.ids.place(&scope.nodes[at].id, number, at);
                }
            }
            None => scope.add_unsupported(id, start_event),
        }
    }

    /// What every flow node has, from its start tag.
    fn head(&mut self, what: &str, attrs: &mut Attrs<'a>, position: Position) -> Head {
        let (id, indexed) = self.register(attrs, what, position);
        Head {
            id,
            indexed,
            name: attrs.name.take(),
            position,
            refs: NodeRefs {
                default_ref: attrs.default.take(),
                attached_ref: None,
                activity_ref: None,
                for_compensation: super::vocabulary::flag(&attrs.is_for_compensation),
                inner_activity_refs: Vec::new(),
            },
            looping: None,
            multi: None,
            data: None,
            vendor: Default::default(),
        }
    }

    /// Reports an unsupported flow element and notes its id in its scope, so
    /// flows to and from it are not reported again.
    fn unsupported(&mut self, attrs: &mut Attrs<'a>, offset: usize, what: &str, message: String) {
        let position = self.position(offset);
        let (id, _) = self.register(attrs, what, position);
        self.report.report(position, id.as_deref(), message);
        if let Some(scope) = self.stack.parent_scope_mut() {
            scope.add_unsupported(id, false);
        }
    }

    /// Reports `message` about the node `head` (at its start).
    fn report_at(&mut self, head: &Head, message: impl Into<String>) {
        self.report.report(head.position, head.id.as_deref(), message);
    }
}

/// A child every activity (task, subprocess, call activity) may have:
/// `extensionElements` and its loop characteristics.
fn open_in_activity(local: &[u8], attrs: &mut Attrs<'_>, position: Position) -> Frame {
    match local {
        b"extensionElements" => Frame::Extensions,
        b"standardLoopCharacteristics" => loops::open_standard(attrs, position),
        b"multiInstanceLoopCharacteristics" => loops::open_multi(attrs, position),
        b"dataInputAssociation" => Parser::open_data_association(true),
        b"dataOutputAssociation" => Parser::open_data_association(false),
        _ => Frame::Skip,
    }
}
