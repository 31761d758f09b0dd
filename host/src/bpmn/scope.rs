//! One process or subprocess being read: its nodes and flows are collected in
//! document order, and the flows' references are resolved and the structure
//! checked only once the whole scope has been read, since a flow may come
//! before the nodes it joins.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::diagnostic::Reporter;
use super::spec::{FlowSpec, NodeIdx, NodeKind, NodeSpec, Position, ProcessSpec};

/// Whether a scope is a top-level process or an embedded subprocess; only
/// changes how messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScopeKind {
    Process,
    SubProcess,
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

/// What the scope keeps about a node besides its [`NodeSpec`].
#[derive(Debug)]
struct NodeExtra {
    /// The `default` attribute, resolved at the end.
    default_ref: Option<String>,
    /// False for a node without a usable id: nothing can reference it, so
    /// structural checks would only repeat the id diagnostic.
    checked: bool,
    /// An outgoing flow of this node was dropped (its target is unsupported
    /// or missing, already reported), so saying it has none would mislead.
    loose: bool,
}

/// A process or subprocess being read.
#[derive(Debug)]
pub(super) struct ScopeDraft {
    kind: ScopeKind,
    id: Option<String>,
    name: Option<String>,
    executable: bool,
    position: Position,
    nodes: Vec<NodeSpec>,
    extras: Vec<NodeExtra>,
    flows: Vec<FlowDraft>,
    index: HashMap<String, NodeIdx>,
    /// Ids of flow elements already reported as unsupported: flows touching
    /// them are dropped without a second diagnostic.
    unsupported: HashSet<String>,
    /// An unsupported start event was reported: the scope is not also said to
    /// have no start event.
    unsupported_start: bool,
}

/// How one end of a flow resolved.
enum End {
    Node(NodeIdx),
    /// Unsupported or missing: already reported.
    Dropped,
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

    /// How messages name this scope: "process `P`" or "subProcess `S`".
    pub(super) fn label(&self) -> String {
        let kind = match self.kind {
            ScopeKind::Process => "process",
            ScopeKind::SubProcess => "subProcess",
        };
        match &self.id {
            Some(id) => format!("{kind} `{id}`"),
            None => format!("{kind} at {}", self.position),
        }
    }

    /// Adds a node. `indexed` is false when its id is missing or a duplicate
    /// (already reported): it is kept, but nothing can reference it.
    pub(super) fn add_node(&mut self, node: NodeSpec, default_ref: Option<String>, indexed: bool) {
        if indexed {
            self.index.insert(node.id.clone(), self.nodes.len());
        }
        self.nodes.push(node);
        self.extras.push(NodeExtra {
            default_ref,
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

    /// Resolves the flows and defaults, checks the structure, and returns
    /// the spec (meaningful only if nothing was reported).
    pub(super) fn finish(mut self, file: &Arc<PathBuf>, report: &mut Reporter) -> ProcessSpec {
        let label = self.label();
        let mut flows: Vec<FlowSpec> = Vec::with_capacity(self.flows.len());
        let mut dropped: HashSet<String> = HashSet::new();
        for draft in std::mem::take(&mut self.flows) {
            let source = self.resolve(&draft, draft.source_ref.as_deref(), "sourceRef", &label, report);
            let target = self.resolve(&draft, draft.target_ref.as_deref(), "targetRef", &label, report);
            match (source, target) {
                (End::Node(source), End::Node(target)) => {
                    let at = flows.len();
                    self.nodes[source].outgoing.push(at);
                    self.nodes[target].incoming.push(at);
                    flows.push(FlowSpec {
                        id: draft.id.unwrap_or_default(),
                        name: draft.name,
                        source,
                        target,
                        condition: draft.condition,
                        position: draft.position,
                    });
                }
                (source, _) => {
                    if let End::Node(n) = source {
                        self.extras[n].loose = true;
                    }
                    dropped.extend(draft.id);
                }
            }
        }

        let mut flow_index: HashMap<&str, usize> = HashMap::with_capacity(flows.len());
        for (i, f) in flows.iter().enumerate() {
            flow_index.entry(f.id.as_str()).or_insert(i);
        }
        for (node, extra) in self.nodes.iter_mut().zip(&self.extras) {
            let Some(default) = extra.default_ref.as_deref().filter(|_| extra.checked) else {
                continue;
            };
            match flow_index.get(default) {
                Some(&f) if node.outgoing.contains(&f) => node.default_flow = Some(f),
                _ if dropped.contains(default) => {}
                _ => report.report(
                    node.position,
                    Some(&node.id),
                    format!("default flow `{default}` is not an outgoing sequence flow of this node"),
                ),
            }
        }

        let starts: Vec<NodeIdx> = (self.nodes.iter().enumerate())
            .filter(|(_, n)| matches!(n.kind, NodeKind::StartEvent))
            .map(|(i, _)| i)
            .collect();
        if starts.is_empty() && !self.unsupported_start {
            report.report(self.position, self.id.as_deref(), format!("{label} has no start event"));
        }
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
                NodeKind::EndEvent { .. } if !node.outgoing.is_empty() => {
                    "end event has an outgoing sequence flow: an end event ends its path"
                }
                NodeKind::StartEvent if !node.incoming.is_empty() => {
                    "start event has an incoming sequence flow: a start event begins a path"
                }
                _ => continue,
            };
            report.report(node.position, Some(&node.id), message);
        }

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
        }
    }

    /// Resolves one end of a flow, reporting a missing or dangling reference.
    fn resolve(
        &self,
        flow: &FlowDraft,
        reference: Option<&str>,
        attribute: &str,
        label: &str,
        report: &mut Reporter,
    ) -> End {
        let message = match reference {
            Some(r) => match self.index.get(r) {
                Some(&n) => return End::Node(n),
                None if self.unsupported.contains(r) => return End::Dropped,
                None => format!("sequence flow {attribute} `{r}` names no flow node in {label}"),
            },
            None => format!("sequence flow has no {attribute}"),
        };
        report.report(flow.position, flow.id.as_deref(), message);
        End::Dropped
    }
}
