//! One process or subprocess being read: its nodes and flows are collected in
//! document order; once the whole scope has been read (a flow may come before
//! the nodes it joins) its references are resolved (see `resolve`) and its
//! structure is checked here: start events, and what each kind of node needs
//! of its flows.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::diagnostic::Reporter;
use super::spec::{NodeIdx, NodeKind, NodeSpec, Position, ProcessSpec};

/// Whether a scope is a top-level process or an embedded subprocess; only
/// changes how messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScopeKind {
    Process,
    SubProcess,
    /// A `subProcess` with `triggeredByEvent="true"`.
    EventSubProcess,
}

/// A sequence flow as written, its ends not yet resolved.
#[derive(Debug)]
pub(super) struct FlowDraft {
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) source_ref: Option<String>,
    pub(super) target_ref: Option<String>,
    pub(super) condition: Option<String>,
    pub(super) position: Position,
}

/// The references a flow node makes by id, resolved when its scope closes.
#[derive(Debug, Default)]
pub(super) struct NodeRefs {
    /// The `default` attribute (gateways and activities).
    pub(super) default_ref: Option<String>,
    /// The `attachedToRef` of a boundary event.
    pub(super) attached_ref: Option<String>,
}

/// What the scope keeps about a node besides its [`NodeSpec`].
#[derive(Debug)]
pub(super) struct NodeExtra {
    /// What it references.
    pub(super) refs: NodeRefs,
    /// False for a node without a usable id: nothing can reference it, so
    /// structural checks would only repeat the id diagnostic.
    pub(super) checked: bool,
    /// An outgoing flow of this node was dropped (its target is unsupported
    /// or missing, already reported), so saying it has none would mislead.
    pub(super) loose: bool,
}

/// A process or subprocess being read.
#[derive(Debug)]
pub(super) struct ScopeDraft {
    kind: ScopeKind,
    id: Option<String>,
    name: Option<String>,
    executable: bool,
    position: Position,
    pub(super) nodes: Vec<NodeSpec>,
    pub(super) extras: Vec<NodeExtra>,
    pub(super) flows: Vec<FlowDraft>,
    /// Node id → index, for nodes with a usable id.
    pub(super) index: HashMap<String, NodeIdx>,
    /// Ids of flow elements already reported as unsupported: references to
    /// them are dropped without a second diagnostic.
    pub(super) unsupported: HashSet<String>,
    /// An unsupported start event was reported: the scope is not also said to
    /// have no start event.
    unsupported_start: bool,
}

impl ScopeDraft {
    pub(super) fn new(
        kind: ScopeKind,
        id: Option<String>,
        name: Option<String>,
        executable: bool,
        position: Position,
    ) -> Self {
        ScopeDraft {
            kind,
            id,
            name,
            executable,
            position,
            nodes: Vec::new(),
            extras: Vec::new(),
            flows: Vec::new(),
            index: HashMap::new(),
            unsupported: HashSet::new(),
            unsupported_start: false,
        }
    }

    /// Whether it is a process, a subprocess or an event subprocess.
    pub(super) fn kind(&self) -> ScopeKind {
        self.kind
    }

    /// How messages name this scope: "process `P`" or "subProcess `S`".
    pub(super) fn label(&self) -> String {
        let kind = match self.kind {
            ScopeKind::Process => "process",
            ScopeKind::SubProcess => "subProcess",
            ScopeKind::EventSubProcess => "event subProcess",
        };
        match &self.id {
            Some(id) => format!("{kind} `{id}`"),
            None => format!("{kind} at {}", self.position),
        }
    }

    /// Adds a node with what it references. `indexed` is false when its id
    /// is missing or a duplicate (already reported): it is kept, but nothing
    /// can reference it.
    pub(super) fn add_node(&mut self, node: NodeSpec, refs: NodeRefs, indexed: bool) {
        if indexed {
            self.index.insert(node.id.clone(), self.nodes.len());
        }
        self.nodes.push(node);
        self.extras.push(NodeExtra {
            refs,
            checked: indexed,
            loose: false,
        });
    }

    /// Notes a flow element that was reported as unsupported.
    pub(super) fn add_unsupported(&mut self, id: Option<String>, start_event: bool) {
        self.unsupported.extend(id);
        self.unsupported_start |= start_event;
    }

    /// Adds a sequence flow.
    pub(super) fn add_flow(&mut self, flow: FlowDraft) {
        self.flows.push(flow);
    }

    /// Resolves the references, checks the structure, and returns
    /// the spec (meaningful only if nothing was reported).
    pub(super) fn finish(mut self, file: &Arc<PathBuf>, report: &mut Reporter) -> ProcessSpec {
        let label = self.label();
        let flows = self.resolve_references(&label, report);

        let of_kind = |error: bool| -> Vec<NodeIdx> {
            (self.nodes.iter().enumerate())
                .filter(|(_, n)| match n.kind {
                    NodeKind::StartEvent => !error,
                    NodeKind::ErrorStartEvent(_) => error,
                    _ => false,
                })
                .map(|(i, _)| i)
                .collect()
        };
        let (starts, misplaced, message) = if self.kind == ScopeKind::EventSubProcess {
            (
                of_kind(true),
                of_kind(false),
                "an event subprocess starts with an error start event (a startEvent with an \
                 errorEventDefinition), not a none start event",
            )
        } else {
            (
                of_kind(false),
                of_kind(true),
                "an error start event can only start an event subprocess (a subProcess with \
                 triggeredByEvent=\"true\")",
            )
        };
        for &n in &misplaced {
            report.report(self.nodes[n].position, Some(&self.nodes[n].id), message);
        }
        if starts.is_empty() && misplaced.is_empty() && !self.unsupported_start {
            let message = if self.kind == ScopeKind::EventSubProcess {
                format!("{label} has no start event: it starts with an error start event")
            } else {
                format!("{label} has no start event")
            };
            report.report(self.position, self.id.as_deref(), message);
        }
        if self.kind == ScopeKind::EventSubProcess {
            for &n in starts.iter().skip(1) {
                report.report(
                    self.nodes[n].position,
                    Some(&self.nodes[n].id),
                    "an event subprocess has exactly one start event",
                );
            }
        }
        let event_subprocesses: Vec<NodeIdx> = (self.nodes.iter().enumerate())
            .filter(|(_, n)| matches!(n.kind, NodeKind::EventSubProcess(_)))
            .map(|(i, _)| i)
            .collect();
        for (node, extra) in self.nodes.iter().zip(&self.extras) {
            if !extra.checked {
                continue;
            }
            let message = match node.kind {
                NodeKind::ExclusiveGateway | NodeKind::ParallelGateway | NodeKind::InclusiveGateway
                    if node.outgoing.is_empty() && !extra.loose =>
                {
                    "gateway has no outgoing sequence flow: there is no way out"
                }
                NodeKind::EndEvent { .. } | NodeKind::ErrorEndEvent(_) if !node.outgoing.is_empty() => {
                    "end event has an outgoing sequence flow: an end event ends its path"
                }
                NodeKind::StartEvent | NodeKind::ErrorStartEvent(_) if !node.incoming.is_empty() => {
                    "start event has an incoming sequence flow: a start event begins a path"
                }
                NodeKind::BoundaryEvent { .. } if !node.incoming.is_empty() => {
                    "boundary event has an incoming sequence flow: a boundary event begins a path"
                }
                NodeKind::EventSubProcess(_) if !node.incoming.is_empty() || !node.outgoing.is_empty() => {
                    "an event subprocess has no sequence flows: it starts when an error it catches is thrown"
                }
                _ => continue,
            };
            report.report(node.position, Some(&node.id), message);
        }

        // The spec lives as long as the run: give back what growing the vectors left over.
        self.nodes.shrink_to_fit();
        let mut flows = flows;
        flows.shrink_to_fit();
        self.index.shrink_to_fit();
        ProcessSpec {
            id: self.id.unwrap_or_default(),
            name: self.name,
            executable: self.executable,
            file: Arc::clone(file),
            position: self.position,
            nodes: self.nodes,
            flows,
            starts,
            index: self.index,
            event_subprocesses,
        }
    }
}
