//! Reference resolution: ids are registered as they are read (unique across
//! the file) in one table, which also learns the scope and index of each flow
//! node; `sourceRef`/`targetRef` become node indices as their flow closes, or,
//! for nodes not read yet, once the scope is read, with `default` (a flow
//! index) and `attachedToRef` (the activity a boundary event is attached to);
//! once the file is read, every `errorRef` names a root `error`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;

use super::diagnostic::Reporter;
use super::scope::{FlowEnd, ScopeDraft};
use super::spec::{ErrorDef, FlowIdx, FlowSpec, NodeIdx, NodeKind, Position, ProcessSpec};
use super::vocabulary::article;

/// A scope's number in the file, in the order scopes open (from 1).
pub(super) type ScopeNo = NonZeroU32;

/// Every id read so far: where it was defined and, for a flow node that
/// joined its scope, which node of which scope it is. This one table is how
/// flows and boundary events find their nodes, so no scope keeps a map of
/// its own. Ids are keyed by their text in the input, copied only when
/// written with references.
#[derive(Default)]
pub(super) struct Ids<'a>(HashMap<Cow<'a, str>, Defined>);

/// What [`Ids`] knows of one id.
struct Defined {
    position: Position,
    /// The scope of the node with this id; `None` for other elements (and
    /// a node still being read).
    scope: Option<ScopeNo>,
    /// Its index in that scope.
    node: u32,
}

impl<'a> Ids<'a> {
    /// Checks that an element (`what`, for the message) has an id not used
    /// before; returns the id and whether it is usable as a reference
    /// (present and unique). `text` is the id as a slice of the input, if
    /// it is one.
    pub(super) fn register(
        &mut self,
        report: &mut Reporter,
        id: Option<String>,
        text: Option<&'a str>,
        what: &str,
        position: Position,
    ) -> (Option<String>, bool) {
        let Some(id) = id.filter(|id| !id.trim().is_empty()) else {
            report.report(position, None, format!("`{what}` has no id attribute"));
            return (None, false);
        };
        match self.0.get(id.as_str()) {
            Some(first) => {
                let message = format!("duplicate id `{id}` (first defined at {})", first.position);
                report.report(position, Some(&id), message);
                (Some(id), false)
            }
            None => {
                let defined = Defined {
                    position,
                    scope: None,
                    node: 0,
                };
                let key = match text {
                    Some(text) if text == id => Cow::Borrowed(text),
                    _ => Cow::Owned(id.clone()),
                };
                self.0.insert(key, defined);
                (Some(id), true)
            }
        }
    }

    /// Records that the usable id `id` is node `node` of scope `scope`.
    pub(super) fn place(&mut self, id: &str, scope: ScopeNo, node: NodeIdx) {
        if let (Some(defined), Ok(node)) = (self.0.get_mut(id), u32::try_from(node)) {
            defined.scope = Some(scope);
            defined.node = node;
        }
    }

    /// The node of scope `scope` with id `id`.
    pub(super) fn node_in(&self, scope: ScopeNo, id: &str) -> Option<NodeIdx> {
        let defined = self.0.get(id)?;
        (defined.scope == Some(scope)).then_some(defined.node as NodeIdx)
    }
}

/// How one end of a flow resolved.
enum End {
    Node(NodeIdx),
    /// Unsupported or missing: already reported.
    Dropped,
}

impl ScopeDraft {
    /// Resolves the flows' ends that were not known when they closed, links
    /// the nodes to their flows, and resolves the nodes' default flows and
    /// the boundary events' activities of this scope (`label` names it in
    /// messages). A flow whose ends do not both resolve is dropped.
    pub(super) fn resolve_references(&mut self, label: &str, ids: &Ids<'_>, report: &mut Reporter) {
        let mut dropped: Vec<FlowIdx> = Vec::new();
        let mut dropped_ids: HashSet<String> = HashSet::new();
        for pending in std::mem::take(&mut self.pending) {
            let flow = &self.flows[pending.flow];
            let source = self.resolve_end(flow, pending.source, "sourceRef", label, ids, report);
            let target = self.resolve_end(flow, pending.target, "targetRef", label, ids, report);
            match (source, target) {
                (End::Node(source), End::Node(target)) => {
                    let flow = &mut self.flows[pending.flow];
                    flow.source = source;
                    flow.target = target;
                }
                (source, _) => {
                    if let End::Node(n) = source {
                        self.loose.insert(n);
                    }
                    if !flow.id.is_empty() {
                        dropped_ids.insert(flow.id.clone());
                    }
                    dropped.push(pending.flow);
                }
            }
        }
        if !dropped.is_empty() {
            // `dropped` is ascending: pending flows are in document order.
            let mut at = 0;
            self.flows.retain(|_| {
                let keep = dropped.binary_search(&at).is_err();
                at += 1;
                keep
            });
        }
        self.link_flows();
        self.resolve_defaults(&dropped_ids, report);
        self.attach_boundaries(label, ids, report);
    }

    /// Gives each node its incoming and outgoing flows, in document order,
    /// each list allocated once at its size.
    fn link_flows(&mut self) {
        // (incoming, outgoing) per node; u32, as flows take far more than a
        // byte each, so no node has 2^32 of them.
        let mut counts: Vec<(u32, u32)> = vec![(0, 0); self.nodes.len()];
        for flow in &self.flows {
            counts[flow.target].0 += 1;
            counts[flow.source].1 += 1;
        }
        for (node, &(incoming, outgoing)) in self.nodes.iter_mut().zip(&counts) {
            node.incoming = vec![0; incoming as usize].into_boxed_slice();
            node.outgoing = vec![0; outgoing as usize].into_boxed_slice();
        }
        // Filled from the last flow back, so that each list ends up in document order.
        for (at, flow) in self.flows.iter().enumerate().rev() {
            let incoming = &mut counts[flow.target].0;
            *incoming -= 1;
            self.nodes[flow.target].incoming[*incoming as usize] = at;
            let outgoing = &mut counts[flow.source].1;
            *outgoing -= 1;
            self.nodes[flow.source].outgoing[*outgoing as usize] = at;
        }
    }

    /// Resolves one end of a flow, reporting a missing or dangling reference.
    fn resolve_end(
        &self,
        flow: &FlowSpec,
        end: FlowEnd,
        attribute: &str,
        label: &str,
        ids: &Ids<'_>,
        report: &mut Reporter,
    ) -> End {
        let reference = match end {
            FlowEnd::Node(node) => return End::Node(node),
            FlowEnd::Ref(reference) => reference,
        };
        let message = match reference {
            Some(r) => match ids.node_in(self.number(), &r) {
                Some(n) => return End::Node(n),
                None if self.unsupported.contains(&r) => return End::Dropped,
                None => format!("sequence flow {attribute} `{r}` names no flow node in {label}"),
            },
            None => format!("sequence flow has no {attribute}"),
        };
        let id = Some(flow.id.as_str()).filter(|id| !id.is_empty());
        report.report(flow.position, id, message);
        End::Dropped
    }

    /// Resolves the `default` of every node: an outgoing flow of that node
    /// (a `dropped` flow was reported already).
    fn resolve_defaults(&mut self, dropped: &HashSet<String>, report: &mut Reporter) {
        let unchecked = &self.unchecked;
        let defaults = (self.refs.iter())
            .filter(|(node, _)| unchecked.binary_search(node).is_err())
            .filter_map(|(node, refs)| Some((*node, refs.default_ref.as_deref()?)));
        let mut flow_index: Option<HashMap<&str, FlowIdx>> = None;
        for (n, default) in defaults {
            // Built for the first default: most diagrams have few, a chain none.
            let flow_index = flow_index.get_or_insert_with(|| {
                let mut index = HashMap::with_capacity(self.flows.len());
                for (i, f) in self.flows.iter().enumerate() {
                    index.entry(f.id.as_str()).or_insert(i);
                }
                index
            });
            let node = &mut self.nodes[n];
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
    }

    /// Resolves the `attachedToRef` of every boundary event: the activity
    /// must be in this scope. Each activity learns its boundary events.
    fn attach_boundaries(&mut self, label: &str, ids: &Ids<'_>, report: &mut Reporter) {
        for r in 0..self.refs.len() {
            let b = self.refs[r].0;
            let Some(reference) = self.refs[r].1.attached_ref.take() else {
                continue;
            };
            let message = match ids.node_in(self.number(), &reference) {
                Some(target) if is_activity(&self.nodes[target].kind) => {
                    if let NodeKind::BoundaryEvent { attached_to, .. }
                    | NodeKind::TimerBoundaryEvent { attached_to, .. }
                    | NodeKind::MessageBoundaryEvent { attached_to, .. }
                    | NodeKind::SignalBoundaryEvent { attached_to, .. }
                    | NodeKind::EscalationBoundaryEvent { attached_to, .. }
                    | NodeKind::ConditionalBoundaryEvent { attached_to, .. }
                    | NodeKind::CompensationBoundaryEvent { attached_to, .. }
                    | NodeKind::MultipleBoundaryEvent { attached_to, .. }
                    | NodeKind::CancelBoundaryEvent { attached_to } = &mut self.nodes[b].kind
                    {
                        *attached_to = target;
                        let mut boundaries = std::mem::take(&mut self.nodes[target].boundaries).into_vec();
                        boundaries.push(b);
                        self.nodes[target].boundaries = boundaries.into_boxed_slice();
                    }
                    continue;
                }
                Some(target) => format!(
                    "boundary event is attached to `{reference}`, {}: boundary events attach to activities \
                     (tasks, subprocesses and call activities)",
                    article(self.nodes[target].kind.element_name())
                ),
                None if self.unsupported.contains(&reference) => continue,
                None => format!("boundary event attachedToRef `{reference}` names no activity in {label}"),
            };
            report.report(self.nodes[b].position, Some(&self.nodes[b].id), message);
        }
    }
}

/// Whether a node is an activity (something a boundary event can be attached to).
pub(super) fn is_activity(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Task
            | NodeKind::ManualTask
            | NodeKind::UserTask { .. }
            | NodeKind::ScriptTask(_)
            | NodeKind::ServiceTask(_)
            | NodeKind::ReceiveTask(_)
            | NodeKind::SendTask(_)
            | NodeKind::SubProcess(_)
            | NodeKind::CallActivity { .. }
    )
}

/// The root `error` elements of the file and every `errorRef` that names
/// one; or, for escalations, the root `escalation` elements and every
/// `escalationRef` (they are read alike: a code, a name, a payload).
#[derive(Default)]
pub(super) struct ErrorRefs {
    /// Whether these are escalations.
    escalations: bool,
    /// Root errors by id.
    defined: HashMap<String, ErrorDef>,
    /// Every `errorRef` read: the reference, where, and the event's id.
    refs: Vec<(String, Position, Option<String>)>,
}

impl ErrorRefs {
    /// The refs of root `escalation` elements.
    pub(super) fn of_escalations() -> ErrorRefs {
        ErrorRefs {
            escalations: true,
            ..ErrorRefs::default()
        }
    }

    /// A root `error` with a usable id.
    pub(super) fn define(&mut self, error: ErrorDef) {
        self.defined.insert(error.id.clone(), error);
    }

    /// An `errorRef` at `position` of the event `element`.
    pub(super) fn refer(&mut self, error_ref: String, position: Position, element: Option<String>) {
        self.refs.push((error_ref, position, element));
    }

    /// Reports every `errorRef` that names no root `error`, and, when nothing
    /// at all was reported, fills in the error of every error event of the
    /// parsed `processes`.
    pub(super) fn resolve(self, processes: &mut [Arc<ProcessSpec>], report: &mut Reporter) {
        if self.refs.is_empty() {
            return;
        }
        let known = |r: &str| self.defined.contains_key(r);
        let (kind, code) = if self.escalations {
            ("escalation", "escalationCode")
        } else {
            ("error", "errorCode")
        };
        let example = |r: &str| format!("<bpmn:{kind} id=\"{r}\" {code}=\"...\"/>");
        if !resolvable(&self.refs, kind, known, example, report) {
            return;
        }
        let errors = &self.defined;
        let escalations = self.escalations;
        each_node_mut(processes, |kind| {
            let event = match kind {
                NodeKind::ErrorStartEvent(event)
                | NodeKind::ErrorEndEvent(event)
                | NodeKind::BoundaryEvent { error: event, .. }
                    if !escalations =>
                {
                    event
                }
                NodeKind::EscalationThrowEvent(event)
                | NodeKind::EscalationEndEvent(event)
                | NodeKind::EscalationBoundaryEvent { escalation: event, .. }
                | NodeKind::EscalationStartEvent { escalation: event, .. }
                    if escalations =>
                {
                    event
                }
                _ => return,
            };
            {
                event.error = event
                    .error_ref
                    .as_ref()
                    .and_then(|r| errors.get(r))
                    .cloned()
                    .map(Box::new);
            }
        });
    }
}

/// Reports every reference `(id, where, element)` in `refs` to a root
/// element of kind `kind` (`error`, `message`, `signal`) that `known` does
/// not know, with `example` of the element to define; whether the file's
/// references can be filled in (nothing at all was reported in it).
pub(super) fn resolvable(
    refs: &[(String, Position, Option<String>)],
    kind: &str,
    known: impl Fn(&str) -> bool,
    example: impl Fn(&str) -> String,
    report: &mut Reporter,
) -> bool {
    for (reference, position, element) in refs {
        if !known(reference) {
            report.report(
                *position,
                element.as_deref(),
                format!(
                    "{kind}Ref `{reference}` names no `{kind}` element in this file: define it, e.g. {}",
                    example(reference)
                ),
            );
        }
    }
    report.found.is_empty()
}

/// Calls `visit` on the kind of every node of `processes` but subprocesses,
/// whose insides it visits instead, and multiple events, whose definitions
/// it visits instead: how references to root elements are filled in once
/// the file is read. Specs are not shared yet, so `make_mut` never copies;
/// an explicit stack, so nesting depth does not make this recurse.
pub(super) fn each_node_mut(processes: &mut [Arc<ProcessSpec>], mut visit: impl FnMut(&mut NodeKind)) {
    let mut stack: Vec<&mut ProcessSpec> = processes.iter_mut().map(Arc::make_mut).collect();
    while let Some(spec) = stack.pop() {
        for node in &mut spec.nodes {
            if let NodeKind::MultipleCatchEvent(event)
            | NodeKind::MultipleBoundaryEvent { event, .. }
            | NodeKind::MultipleStartEvent { event, .. } = &mut node.kind
            {
                event.parts.iter_mut().for_each(&mut visit);
            } else if let NodeKind::MultipleThrowEvent(parts) | NodeKind::MultipleEndEvent(parts) = &mut node.kind {
                parts.iter_mut().for_each(&mut visit);
            } else if !matches!(node.kind, NodeKind::SubProcess(_) | NodeKind::EventSubProcess(_)) {
                visit(&mut node.kind);
            } else if let NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) = &mut node.kind {
                stack.push(Arc::make_mut(inner));
            }
        }
    }
}
