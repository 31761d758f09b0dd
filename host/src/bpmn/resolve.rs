//! Reference resolution: ids are registered as they are read (unique across
//! the file); within a scope, once it is read, `sourceRef`/`targetRef` become
//! node indices, `default` a flow index and `attachedToRef` the activity a
//! boundary event is attached to; once the file is read, every `errorRef`
//! names a root `error`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::diagnostic::Reporter;
use super::scope::{FlowDraft, ScopeDraft};
use super::spec::{ErrorDef, FlowSpec, NodeIdx, NodeKind, Position, ProcessSpec};
use super::vocabulary::article;

/// Every id read so far, with where it was defined.
#[derive(Default)]
pub(super) struct Ids(HashMap<String, Position>);

impl Ids {
    /// Checks that an element (`what`, for the message) has an id not used
    /// before; returns the id and whether it is usable as a reference
    /// (present and unique).
    pub(super) fn register(
        &mut self,
        report: &mut Reporter,
        id: Option<String>,
        what: &str,
        position: Position,
    ) -> (Option<String>, bool) {
        let Some(id) = id.filter(|id| !id.trim().is_empty()) else {
            report.report(position, None, format!("`{what}` has no id attribute"));
            return (None, false);
        };
        match self.0.entry(id) {
            Entry::Occupied(first) => {
                let id = first.key().clone();
                let message = format!("duplicate id `{id}` (first defined at {})", first.get());
                report.report(position, Some(&id), message);
                (Some(id), false)
            }
            Entry::Vacant(slot) => {
                let id = slot.key().clone();
                slot.insert(position);
                (Some(id), true)
            }
        }
    }
}

/// How one end of a flow resolved.
enum End {
    Node(NodeIdx),
    /// Unsupported or missing: already reported.
    Dropped,
}

impl ScopeDraft {
    /// Resolves the flows' ends, the nodes' default flows and the boundary
    /// events' activities of this scope (`label` names it in messages).
    /// Returns the flows whose ends both resolved.
    pub(super) fn resolve_references(&mut self, label: &str, report: &mut Reporter) -> Vec<FlowSpec> {
        let mut flows: Vec<FlowSpec> = Vec::with_capacity(self.flows.len());
        let mut dropped: HashSet<String> = HashSet::new();
        for draft in std::mem::take(&mut self.flows) {
            let source = self.resolve_end(&draft, draft.source_ref.as_deref(), "sourceRef", label, report);
            let target = self.resolve_end(&draft, draft.target_ref.as_deref(), "targetRef", label, report);
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
        self.resolve_defaults(&flows, &dropped, report);
        self.attach_boundaries(label, report);
        flows
    }

    /// Resolves one end of a flow, reporting a missing or dangling reference.
    fn resolve_end(
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

    /// Resolves the `default` of every node: an outgoing flow of that node
    /// (a `dropped` flow was reported already).
    fn resolve_defaults(&mut self, flows: &[FlowSpec], dropped: &HashSet<String>, report: &mut Reporter) {
        let mut flow_index: HashMap<&str, usize> = HashMap::with_capacity(flows.len());
        for (i, f) in flows.iter().enumerate() {
            flow_index.entry(f.id.as_str()).or_insert(i);
        }
        for (node, extra) in self.nodes.iter_mut().zip(&self.extras) {
            let Some(default) = extra.refs.default_ref.as_deref().filter(|_| extra.checked) else {
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
    }

    /// Resolves the `attachedToRef` of every boundary event: the activity
    /// must be in this scope. Each activity learns its boundary events.
    fn attach_boundaries(&mut self, label: &str, report: &mut Reporter) {
        for b in 0..self.nodes.len() {
            let Some(reference) = self.extras[b].refs.attached_ref.take() else {
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

/// The root `error` elements of the file and every `errorRef` that names one.
#[derive(Default)]
pub(super) struct ErrorRefs {
    /// Root errors by id.
    defined: HashMap<String, ErrorDef>,
    /// Every `errorRef` read: the reference, where, and the event's id.
    refs: Vec<(String, Position, Option<String>)>,
}

impl ErrorRefs {
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
        for (error_ref, position, element) in self.refs {
            if !self.defined.contains_key(&error_ref) {
                report.report(
                    position,
                    element.as_deref(),
                    format!(
                        "errorRef `{error_ref}` names no `error` element in this file: define it, e.g. \
                         <bpmn:error id=\"{error_ref}\" errorCode=\"...\"/>"
                    ),
                );
            }
        }
        if !report.found.is_empty() {
            return;
        }
        // Specs are not shared yet, so `make_mut` never copies. An explicit
        // stack: nesting depth does not make this recurse.
        let errors = &self.defined;
        let mut stack: Vec<&mut ProcessSpec> = processes.iter_mut().map(Arc::make_mut).collect();
        while let Some(spec) = stack.pop() {
            for node in &mut spec.nodes {
                match &mut node.kind {
                    NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) => stack.push(Arc::make_mut(inner)),
                    NodeKind::ErrorStartEvent(event)
                    | NodeKind::ErrorEndEvent(event)
                    | NodeKind::BoundaryEvent { error: event, .. } => {
                        event.error = event
                            .error_ref
                            .as_ref()
                            .and_then(|r| errors.get(r))
                            .cloned()
                            .map(Box::new);
                    }
                    _ => {}
                }
            }
        }
    }
}
