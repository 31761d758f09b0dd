//! One process or subprocess being read: its nodes and flows are collected in
//! document order; once the whole scope has been read (a flow may come before
//! the nodes it joins) its references are resolved (see `resolve`) and its
//! structure is checked here: start events, and what each kind of node needs
//! of its flows.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::diagnostic::Reporter;
use super::resolve::{Ids, ScopeNo};
use super::spec::{FlowIdx, FlowSpec, NodeIdx, NodeKind, NodeSpec, Position, ProcessSpec};
use super::vocabulary::article;

/// Whether a scope is a top-level process or an embedded subprocess; only
/// changes how messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScopeKind {
    Process,
    SubProcess,
    /// A `subProcess` with `triggeredByEvent="true"`.
    EventSubProcess,
    /// A `transaction`: a subprocess that cancel end events cancel.
    Transaction,
}

/// A sequence flow being read, as written.
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
    /// The `activityRef` of a compensation throw or end event.
    pub(super) activity_ref: Option<String>,
    /// `isForCompensation="true"`: an activity that compensates another,
    /// joined to it by an association, on no sequence flow.
    pub(super) for_compensation: bool,
    /// Of a compensation event subprocess: the `activityRef`s of the
    /// compensation events directly inside it (by their node there), which
    /// name activities of the scope around it, the one it compensates.
    pub(super) inner_activity_refs: Vec<(NodeIdx, String)>,
}

impl NodeRefs {
    fn is_empty(&self) -> bool {
        self.default_ref.is_none()
            && self.attached_ref.is_none()
            && self.activity_ref.is_none()
            && !self.for_compensation
            && self.inner_activity_refs.is_empty()
    }
}

/// An `association` as written: what joins a compensation boundary event
/// to its handler.
#[derive(Debug)]
pub(super) struct AssociationDraft {
    pub(super) source_ref: Option<String>,
    pub(super) target_ref: Option<String>,
}

/// One end of a flow that was not known when the flow closed.
#[derive(Debug)]
pub(super) enum FlowEnd {
    /// Known: the node.
    Node(NodeIdx),
    /// Resolved when the scope closes: the reference as written (`None`
    /// when the attribute is missing).
    Ref(Option<String>),
}

/// A flow with an end that names no node read so far (the node may come
/// later in the scope, or not at all).
#[derive(Debug)]
pub(super) struct PendingFlow {
    pub(super) flow: FlowIdx,
    pub(super) source: FlowEnd,
    pub(super) target: FlowEnd,
}

/// A process or subprocess being read.
#[derive(Debug)]
pub(super) struct ScopeDraft {
    kind: ScopeKind,
    number: ScopeNo,
    id: Option<String>,
    name: Option<String>,
    executable: bool,
    /// `isExecutable="false"` was written (see [`ProcessSpec::callable_only`]).
    pub(super) callable_only: bool,
    position: Position,
    pub(super) nodes: Vec<NodeSpec>,
    /// What nodes reference, for the few nodes that reference anything.
    pub(super) refs: Vec<(NodeIdx, NodeRefs)>,
    /// Nodes without a usable id, ascending: nothing can reference them, so
    /// structural checks would only repeat the id diagnostic.
    pub(super) unchecked: Vec<NodeIdx>,
    /// Nodes with an outgoing flow dropped (its target is unsupported or
    /// missing, already reported), so saying they have none would mislead.
    pub(super) loose: HashSet<NodeIdx>,
    /// The sequence flows, built as they close so that no draft outlives its
    /// element. The ends of a [`PendingFlow`] are placeholders until the
    /// scope closes.
    pub(super) flows: Vec<FlowSpec>,
    pub(super) pending: Vec<PendingFlow>,
    /// Ids of flow elements already reported as unsupported: references to
    /// them are dropped without a second diagnostic.
    pub(super) unsupported: HashSet<String>,
    /// An unsupported start event was reported: the scope is not also said to
    /// have no start event.
    unsupported_start: bool,
    /// Its associations, in document order.
    pub(super) associations: Vec<AssociationDraft>,
    /// Its `dataObject`s, by id.
    pub(super) data_objects: Vec<String>,
}

impl ScopeDraft {
    pub(super) fn new(
        kind: ScopeKind,
        number: ScopeNo,
        id: Option<String>,
        name: Option<String>,
        executable: bool,
        position: Position,
    ) -> Self {
        ScopeDraft {
            kind,
            number,
            id,
            name,
            executable,
            callable_only: false,
            position,
            nodes: Vec::new(),
            refs: Vec::new(),
            unchecked: Vec::new(),
            loose: HashSet::new(),
            flows: Vec::new(),
            pending: Vec::new(),
            unsupported: HashSet::new(),
            unsupported_start: false,
            associations: Vec::new(),
            data_objects: Vec::new(),
        }
    }

    /// Its number in the file (see [`Ids`]).
    pub(super) fn number(&self) -> ScopeNo {
        self.number
    }

    /// Whether it is a process, a subprocess or an event subprocess.
    pub(super) fn kind(&self) -> ScopeKind {
        self.kind
    }

    /// Whether it is a compensation event subprocess (one a compensation
    /// start event starts).
    pub(super) fn compensates(&self) -> bool {
        self.kind == ScopeKind::EventSubProcess
            && (self.nodes.iter()).any(|n| matches!(n.kind, NodeKind::CompensationStartEvent))
    }

    /// Takes the `activityRef`s of its compensation events, by node: in a
    /// compensation event subprocess they are resolved in the scope around
    /// it, once that scope has been read.
    pub(super) fn take_activity_refs(&mut self) -> Vec<(NodeIdx, String)> {
        (self.refs.iter_mut())
            .filter_map(|(n, refs)| Some((*n, refs.activity_ref.take()?)))
            .collect()
    }

    /// How messages name this scope: "process `P`" or "subProcess `S`".
    pub(super) fn label(&self) -> String {
        let kind = match self.kind {
            ScopeKind::Process => "process",
            ScopeKind::SubProcess => "subProcess",
            ScopeKind::EventSubProcess => "event subProcess",
            ScopeKind::Transaction => "transaction",
        };
        match &self.id {
            Some(id) => format!("{kind} `{id}`"),
            None => format!("{kind} at {}", self.position),
        }
    }

    /// Adds a node with what it references; returns its index. `indexed`
    /// is false when its id is missing or a duplicate (already reported): it
    /// is kept, but nothing can reference it.
    pub(super) fn add_node(&mut self, node: NodeSpec, refs: NodeRefs, indexed: bool) -> NodeIdx {
        let at = self.nodes.len();
        if !indexed {
            self.unchecked.push(at);
        }
        if !refs.is_empty() {
            self.refs.push((at, refs));
        }
        self.nodes.push(node);
        at
    }

    /// Whether structural checks apply to a node (it has a usable id).
    pub(super) fn checked(&self, node: NodeIdx) -> bool {
        self.unchecked.binary_search(&node).is_err()
    }

    /// Notes a flow element that was reported as unsupported.
    pub(super) fn add_unsupported(&mut self, id: Option<String>, start_event: bool) {
        self.unsupported.extend(id);
        self.unsupported_start |= start_event;
    }

    /// Adds a sequence flow. Its ends are resolved now when their nodes have
    /// been read, as they usually have; the others when the scope closes.
    pub(super) fn add_flow(&mut self, flow: FlowDraft, ids: &Ids<'_>) {
        let FlowDraft {
            id,
            name,
            source_ref,
            target_ref,
            condition,
            position,
        } = flow;
        let end = |reference: Option<String>| match reference.as_deref().and_then(|r| ids.node_in(self.number, r)) {
            Some(node) => FlowEnd::Node(node),
            None => FlowEnd::Ref(reference),
        };
        let (source, target) = (end(source_ref), end(target_ref));
        let at = self.flows.len();
        let (source, target) = match (source, target) {
            (FlowEnd::Node(source), FlowEnd::Node(target)) => (source, target),
            (source, target) => {
                self.pending.push(PendingFlow {
                    flow: at,
                    source,
                    target,
                });
                (0, 0)
            }
        };
        self.flows.push(FlowSpec {
            id: id.unwrap_or_default(),
            name,
            source,
            target,
            condition,
            position,
        });
    }

    /// Resolves the references, checks the structure, and returns
    /// the spec (meaningful only if nothing was reported).
    pub(super) fn finish(mut self, file: &Arc<PathBuf>, ids: &Ids<'_>, report: &mut Reporter) -> ProcessSpec {
        let label = self.label();
        self.resolve_references(&label, ids, report);

        // Event starts (error, timer, message) start event subprocesses; none starts the rest.
        let of_kind = |event: bool| -> Vec<NodeIdx> {
            (self.nodes.iter().enumerate())
                .filter(|(_, n)| match n.kind {
                    NodeKind::StartEvent => !event,
                    NodeKind::ErrorStartEvent(_)
                    | NodeKind::EscalationStartEvent { .. }
                    | NodeKind::TimerStartEvent { .. }
                    | NodeKind::MessageStartEvent { .. }
                    | NodeKind::SignalStartEvent { .. }
                    | NodeKind::ConditionalStartEvent { .. }
                    | NodeKind::MultipleStartEvent { .. }
                    | NodeKind::CompensationStartEvent => event,
                    _ => false,
                })
                .map(|(i, _)| i)
                .collect()
        };
        let in_event_subprocess = self.kind == ScopeKind::EventSubProcess;
        let (starts, mut misplaced) = (of_kind(in_event_subprocess), of_kind(!in_event_subprocess));
        // A process may also start by a message, a signal or a timer.
        let mut event_starts = Vec::new();
        if self.kind == ScopeKind::Process {
            misplaced.retain(|&n| {
                let by_event = matches!(
                    self.nodes[n].kind,
                    NodeKind::MessageStartEvent { .. }
                        | NodeKind::SignalStartEvent { .. }
                        | NodeKind::TimerStartEvent { .. }
                        | NodeKind::ConditionalStartEvent { .. }
                );
                if by_event {
                    event_starts.push(n);
                }
                !by_event
            });
        }
        for &n in &misplaced {
            let message = match self.nodes[n].kind {
                _ if in_event_subprocess => {
                    "an event subprocess starts with an error, timer, message or signal start event (a \
                     startEvent with one of those event definitions), not a none start event"
                }
                NodeKind::TimerStartEvent { .. }
                | NodeKind::MessageStartEvent { .. }
                | NodeKind::SignalStartEvent { .. }
                | NodeKind::ConditionalStartEvent { .. } => {
                    "a timer, message, signal or conditional start event starts a process or an event \
                     subprocess; an embedded subprocess starts with a none start event"
                }
                NodeKind::EscalationStartEvent { .. } => {
                    "an escalation start event can only start an event subprocess (a subProcess with \
                     triggeredByEvent=\"true\")"
                }
                NodeKind::MultipleStartEvent { .. } => {
                    "a start event with several event definitions can only start an event subprocess, for \
                     now: give a process one start event per definition"
                }
                NodeKind::CompensationStartEvent => {
                    "a compensation start event can only start an event subprocess (a subProcess with \
                     triggeredByEvent=\"true\"), inside the subprocess or called process it compensates"
                }
                _ => {
                    "an error start event can only start an event subprocess (a subProcess with \
                     triggeredByEvent=\"true\")"
                }
            };
            report.report(self.nodes[n].position, Some(&self.nodes[n].id), message);
        }
        if starts.is_empty() && event_starts.is_empty() && misplaced.is_empty() && !self.unsupported_start {
            let message = if self.kind == ScopeKind::EventSubProcess {
                format!("{label} has no start event: it starts with an error, timer, message or signal start event")
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
        for (n, node) in self.nodes.iter().enumerate() {
            if !self.checked(n) {
                continue;
            }
            let message = match node.kind {
                NodeKind::ExclusiveGateway
                | NodeKind::ParallelGateway
                | NodeKind::InclusiveGateway
                | NodeKind::EventBasedGateway
                    if node.outgoing.is_empty() && !self.loose.contains(&n) =>
                {
                    "gateway has no outgoing sequence flow: there is no way out"
                }
                NodeKind::EndEvent { .. }
                | NodeKind::ErrorEndEvent(_)
                | NodeKind::MessageEndEvent(_)
                | NodeKind::SignalEndEvent(_)
                | NodeKind::EscalationEndEvent(_)
                | NodeKind::CompensationEndEvent { .. }
                | NodeKind::MultipleEndEvent(_)
                | NodeKind::CancelEndEvent
                    if !node.outgoing.is_empty() =>
                {
                    "end event has an outgoing sequence flow: an end event ends its path"
                }
                NodeKind::StartEvent
                | NodeKind::ErrorStartEvent(_)
                | NodeKind::TimerStartEvent { .. }
                | NodeKind::MessageStartEvent { .. }
                | NodeKind::SignalStartEvent { .. }
                | NodeKind::EscalationStartEvent { .. }
                | NodeKind::ConditionalStartEvent { .. }
                | NodeKind::MultipleStartEvent { .. }
                | NodeKind::CompensationStartEvent
                    if !node.incoming.is_empty() =>
                {
                    "start event has an incoming sequence flow: a start event begins a path"
                }
                NodeKind::BoundaryEvent { .. }
                | NodeKind::TimerBoundaryEvent { .. }
                | NodeKind::MessageBoundaryEvent { .. }
                | NodeKind::SignalBoundaryEvent { .. }
                | NodeKind::EscalationBoundaryEvent { .. }
                | NodeKind::ConditionalBoundaryEvent { .. }
                | NodeKind::CompensationBoundaryEvent { .. }
                | NodeKind::MultipleBoundaryEvent { .. }
                | NodeKind::CancelBoundaryEvent { .. }
                    if !node.incoming.is_empty() =>
                {
                    "boundary event has an incoming sequence flow: a boundary event begins a path"
                }
                NodeKind::EventSubProcess(_) if !node.incoming.is_empty() || !node.outgoing.is_empty() => {
                    "an event subprocess has no sequence flows: its start event starts it (an error it catches, a \
                     timer, a message, a signal)"
                }
                _ => continue,
            };
            report.report(node.position, Some(&node.id), message);
        }
        self.check_event_based_gateways(report);
        self.resolve_links(report);
        self.resolve_compensation(&label, ids, report);

        let loop_fed_joins = loop_fed_joins(&self.nodes, &self.flows);
        // The spec lives as long as the run: give back what growing the vectors left over.
        self.nodes.shrink_to_fit();
        self.flows.shrink_to_fit();
        let mut index = Vec::with_capacity(self.nodes.len() - self.unchecked.len());
        index.extend((0..self.nodes.len()).filter(|&n| self.checked(n)));
        index.sort_unstable_by(|&a, &b| self.nodes[a].id.cmp(&self.nodes[b].id));
        ProcessSpec {
            id: self.id.unwrap_or_default(),
            name: self.name,
            executable: self.executable,
            callable_only: self.callable_only,
            file: Arc::clone(file),
            position: self.position,
            nodes: self.nodes,
            flows: self.flows,
            starts,
            index,
            event_subprocesses,
            event_starts,
            transaction: self.kind == ScopeKind::Transaction,
            loop_fed_joins,
            data_objects: self.data_objects,
        }
    }
}

impl ScopeDraft {
    /// Each throw link jumps to the one catch link of its name in this
    /// scope (BPMN: links do not cross process levels).
    fn resolve_links(&mut self, report: &mut Reporter) {
        let mut catches: HashMap<String, NodeIdx> = HashMap::new();
        for (n, node) in self.nodes.iter().enumerate() {
            let NodeKind::LinkCatchEvent { name } = &node.kind else {
                continue;
            };
            if !self.checked(n) {
                continue;
            }
            if !node.incoming.is_empty() {
                report.report(
                    node.position,
                    Some(&node.id),
                    "a catch link has no incoming sequence flow: throw links of its name lead to it",
                );
            }
            if let Some(&first) = catches.get(name) {
                let message = format!(
                    "catch link `{name}` is also the name of `{}` (line {}): a throw link jumps to one catch of its name",
                    self.nodes[first].id, self.nodes[first].position.line
                );
                report.report(node.position, Some(&node.id), message);
            } else {
                catches.insert(name.clone(), n);
            }
        }
        for n in 0..self.nodes.len() {
            let node = &self.nodes[n];
            let NodeKind::LinkThrowEvent { name, .. } = &node.kind else {
                continue;
            };
            if !self.checked(n) {
                continue;
            }
            if !node.outgoing.is_empty() {
                report.report(
                    node.position,
                    Some(&node.id),
                    "a throw link has no outgoing sequence flow: the token goes on from the catch link of its name",
                );
            }
            match catches.get(name) {
                Some(&target) => {
                    if let NodeKind::LinkThrowEvent { target: to, .. } = &mut self.nodes[n].kind {
                        *to = target;
                    }
                }
                None => {
                    let message = format!(
                        "throw link `{name}` has no catch link of that name in this process level (links join \
                         parts of one process or subprocess)"
                    );
                    report.report(node.position, Some(&node.id), message);
                }
            }
        }
    }

    /// An event-based gateway's flows lead to catch events, and have no
    /// conditions: the event that happens first decides.
    fn check_event_based_gateways(&self, report: &mut Reporter) {
        for (n, node) in self.nodes.iter().enumerate() {
            if !self.checked(n) || !matches!(node.kind, NodeKind::EventBasedGateway) {
                continue;
            }
            for &f in &node.outgoing {
                let flow = &self.flows[f];
                if flow.condition.is_some() {
                    report.report(
                        flow.position,
                        Some(&flow.id),
                        "a flow out of an event-based gateway has no condition: the event it leads to decides",
                    );
                }
                let target = &self.nodes[flow.target];
                if !matches!(
                    target.kind,
                    NodeKind::TimerCatchEvent(_)
                        | NodeKind::MessageCatchEvent(_)
                        | NodeKind::SignalCatchEvent(_)
                        | NodeKind::ReceiveTask(_)
                ) {
                    report.report(
                        node.position,
                        Some(&node.id),
                        format!(
                            "event-based gateway leads to `{}`, {}: its flows lead to intermediate catch events \
                             (timers, messages and signals, for now) and receive tasks",
                            target.id,
                            article(target.kind.element_name())
                        ),
                    );
                }
            }
        }
    }
}

/// The parallel joins with an incoming flow on a cycle through them: the
/// flow's source is in the join's strongly connected component. Tarjan's
/// algorithm, with an explicit stack (no recursion on the diagram's size),
/// once per scope: linear in its nodes and flows.
fn loop_fed_joins(nodes: &[NodeSpec], flows: &[FlowSpec]) -> Vec<NodeIdx> {
    let joins = |n: &NodeSpec| matches!(n.kind, NodeKind::ParallelGateway) && n.incoming.len() > 1;
    if !nodes.iter().any(joins) {
        return Vec::new();
    }
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; nodes.len()];
    let mut low = vec![0; nodes.len()];
    let mut on_stack = vec![false; nodes.len()];
    let mut component = vec![0; nodes.len()];
    let (mut next, mut components) = (0, 0);
    let mut stack = Vec::new();
    // (node, how many of its outgoing flows were walked)
    let mut walk: Vec<(NodeIdx, usize)> = Vec::new();
    for root in 0..nodes.len() {
        if index[root] != UNSEEN {
            continue;
        }
        walk.push((root, 0));
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut done)) = walk.last_mut() {
            if let Some(&flow) = nodes[node].outgoing.get(*done) {
                *done += 1;
                let target = flows[flow].target;
                if target >= nodes.len() {
                    continue;
                }
                if index[target] == UNSEEN {
                    index[target] = next;
                    low[target] = next;
                    next += 1;
                    stack.push(target);
                    on_stack[target] = true;
                    walk.push((target, 0));
                } else if on_stack[target] {
                    low[node] = low[node].min(index[target]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(parent, _)) = walk.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = components;
                    if member == node {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    (0..nodes.len())
        .filter(|&n| joins(&nodes[n]))
        .filter(|&n| {
            let fed = |&f: &FlowIdx| flows[f].source < nodes.len() && component[flows[f].source] == component[n];
            nodes[n].incoming.iter().any(fed)
        })
        .collect()
}
