//! Compensation and transactions, checked and resolved as a scope closes:
//! each compensation boundary event is joined to its handler by an
//! association, a compensation throw's `activityRef` names an activity of
//! its scope, and handlers, cancel end events and cancel boundary events
//! stand where BPMN 2.0 (10.6) allows them.

use std::collections::HashSet;

use super::diagnostic::Reporter;
use super::resolve::{Ids, is_activity};
use super::scope::{ScopeDraft, ScopeKind};
use super::spec::{NodeIdx, NodeKind};
use super::vocabulary::article;

impl ScopeDraft {
    /// Resolves what compensation refers to in this scope and reports what
    /// stands where it cannot work.
    pub(super) fn resolve_compensation(&mut self, label: &str, ids: &Ids<'_>, report: &mut Reporter) {
        let handlers: HashSet<NodeIdx> = (self.refs.iter())
            .filter(|(_, refs)| refs.for_compensation)
            .map(|&(n, _)| n)
            .collect();
        self.resolve_activity_refs(label, ids, report);
        let mut joined: HashSet<NodeIdx> = HashSet::new();
        for n in 0..self.nodes.len() {
            let node = &self.nodes[n];
            if !self.checked(n) {
                continue;
            }
            match node.kind {
                NodeKind::CompensationBoundaryEvent { attached_to, .. } => {
                    if !node.outgoing.is_empty() {
                        report.report(
                            node.position,
                            Some(&node.id),
                            "a compensation boundary event has no outgoing sequence flow: an association joins \
                             it to its handler (an activity with isForCompensation=\"true\")",
                        );
                    }
                    let Some(handler) = self.associated(n, ids) else {
                        let activity = self.nodes.get(attached_to).map_or("its activity", |a| a.id.as_str());
                        let message = format!(
                            "compensation boundary event has no handler: draw an association from it to the \
                             activity that undoes `{activity}` (one with isForCompensation=\"true\")"
                        );
                        report.report(node.position, Some(&node.id), message);
                        continue;
                    };
                    if !handlers.contains(&handler) {
                        let message = format!(
                            "the handler of this compensation boundary event, `{}`, is not marked \
                             isForCompensation=\"true\": a handler runs only to compensate, never on a sequence flow",
                            self.nodes[handler].id
                        );
                        report.report(node.position, Some(&node.id), message);
                        continue;
                    }
                    joined.insert(handler);
                    if let NodeKind::CompensationBoundaryEvent { handler: to, .. } = &mut self.nodes[n].kind {
                        *to = handler;
                    }
                }
                NodeKind::CancelEndEvent if self.kind() != ScopeKind::Transaction => report.report(
                    node.position,
                    Some(&node.id),
                    "a cancel end event cancels a transaction: it can only stand directly inside a transaction",
                ),
                NodeKind::CancelBoundaryEvent { attached_to } => match self.nodes.get(attached_to).map(|a| &a.kind) {
                    Some(NodeKind::SubProcess(inner)) if inner.transaction => {}
                    Some(kind) => {
                        let message = format!(
                            "a cancel boundary event is attached to a transaction, not to {}",
                            article(kind.element_name())
                        );
                        report.report(node.position, Some(&node.id), message);
                    }
                    None => {} // Its attachedToRef is wrong: already reported.
                },
                _ => {}
            }
        }
        let mut handlers: Vec<NodeIdx> = handlers.into_iter().collect();
        handlers.sort_unstable();
        for n in handlers {
            let node = &self.nodes[n];
            if !self.checked(n) {
                continue;
            }
            let message = if !node.incoming.is_empty() || !node.outgoing.is_empty() {
                "a compensation handler (isForCompensation=\"true\") has no sequence flows: it runs only when the \
                 activity it undoes is compensated"
            } else if !joined.contains(&n) {
                "this compensation handler (isForCompensation=\"true\") is joined to no compensation boundary event, \
                 so it would never run: draw an association to it from a compensation boundary event"
            } else {
                continue;
            };
            report.report(node.position, Some(&node.id), message);
        }
    }

    /// Each compensation throw or end event's `activityRef`: an activity of
    /// this scope.
    fn resolve_activity_refs(&mut self, label: &str, ids: &Ids<'_>, report: &mut Reporter) {
        for r in 0..self.refs.len() {
            let n = self.refs[r].0;
            let Some(reference) = self.refs[r].1.activity_ref.take() else {
                continue;
            };
            let reference = reference.trim().to_string();
            let message = match ids.node_in(self.number(), &reference) {
                Some(target) if is_activity(&self.nodes[target].kind) => {
                    if let NodeKind::CompensationThrowEvent { activity } | NodeKind::CompensationEndEvent { activity } =
                        &mut self.nodes[n].kind
                    {
                        *activity = Some(target);
                    }
                    continue;
                }
                Some(target) => format!(
                    "compensateEventDefinition activityRef `{reference}` is {}: it names the activity to compensate",
                    article(self.nodes[target].kind.element_name())
                ),
                None if self.unsupported.contains(&reference) => continue,
                None => format!(
                    "compensateEventDefinition activityRef `{reference}` names no activity in {label} (a \
                     compensation event compensates activities of its own process level)"
                ),
            };
            report.report(self.nodes[n].position, Some(&self.nodes[n].id), message);
        }
    }

    /// The node an association joins boundary event `boundary` to (either
    /// way round: modelers draw it from the event, some tools the other way).
    fn associated(&self, boundary: NodeIdx, ids: &Ids<'_>) -> Option<NodeIdx> {
        let resolve = |r: &Option<String>| r.as_deref().and_then(|r| ids.node_in(self.number(), r.trim()));
        self.associations.iter().find_map(|a| {
            let (source, target) = (resolve(&a.source_ref), resolve(&a.target_ref));
            match (source, target) {
                (Some(s), Some(t)) if s == boundary => Some(t),
                (Some(s), Some(t)) if t == boundary => Some(s),
                _ => None,
            }
        })
    }
}
