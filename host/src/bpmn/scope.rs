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
    /// The `attachedToRef` of a boundary event, resolved at the end.
    attached_ref: Option<String>,
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

/// Whether a node is an activity (something a boundary event can be attached to).
fn is_activity(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Task
            | NodeKind::ManualTask
            | NodeKind::UserTask
            | NodeKind::ScriptTask(_)
            | NodeKind::ServiceTask(_)
            | NodeKind::SubProcess(_)
            | NodeKind::CallActivity { .. }
    )
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
            attached_ref: None,
        });
    }

    /// Notes the `attachedToRef` of the boundary event just added.
    pub(super) fn attach(&mut self, attached_ref: Option<String>) {
        if let Some(extra) = self.extras.last_mut() {
            extra.attached_ref = attached_ref;
        }
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

        self.attach_boundaries(&label, report);

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

    /// Resolves the `attachedToRef` of every boundary event: the activity
    /// must be in this scope. Each activity learns its boundary events.
    fn attach_boundaries(&mut self, label: &str, report: &mut Reporter) {
        for b in 0..self.nodes.len() {
            let Some(reference) = self.extras[b].attached_ref.take() else {
                continue;
            };
            let message = match self.index.get(&reference) {
                Some(&target) if is_activity(&self.nodes[target].kind) => {
                    if let NodeKind::BoundaryEvent { attached_to, .. } = &mut self.nodes[b].kind {
                        *attached_to = target;
                        self.nodes[target].boundaries.push(b);
                    }
                    continue;
                }
                Some(&target) => format!(
                    "boundary event is attached to `{reference}`, {}: boundary events attach to activities \
                     (tasks, subprocesses and call activities)",
                    super::parse::article(self.nodes[target].kind.element_name())
                ),
                None if self.unsupported.contains(&reference) => continue,
                None => format!("boundary event attachedToRef `{reference}` names no activity in {label}"),
            };
            report.report(self.nodes[b].position, Some(&self.nodes[b].id), message);
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
