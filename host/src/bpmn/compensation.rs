//! Compensation and transactions, checked and resolved as a scope closes:
//! each compensation boundary event is joined to its handler by an
//! association, a compensation throw's `activityRef` names an activity of
//! its scope, and handlers, cancel end events and cancel boundary events
//! stand where BPMN 2.0 (10.6) allows them.

use std::collections::HashSet;
use std::sync::Arc;

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
        self.check_compensation_subprocesses(label, report);
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
    /// this scope; so are those of the compensation events directly inside
    /// its compensation event subprocess (BPMN 2.0, 10.6: that event
    /// subprocess compensates this scope's activities).
    fn resolve_activity_refs(&mut self, label: &str, ids: &Ids<'_>, report: &mut Reporter) {
        for r in 0..self.refs.len() {
            let n = self.refs[r].0;
            if let Some(reference) = self.refs[r].1.activity_ref.take() {
                match self.activity_named(&reference, label, ids) {
                    Ok(target) => set_activity(&mut self.nodes[n].kind, target),
                    Err(Some(message)) => report.report(self.nodes[n].position, Some(&self.nodes[n].id), message),
                    Err(None) => {}
                }
            }
            for (inner, reference) in std::mem::take(&mut self.refs[r].1.inner_activity_refs) {
                let found = self.activity_named(&reference, label, ids);
                let NodeKind::EventSubProcess(spec) = &mut self.nodes[n].kind else {
                    continue;
                };
                match found {
                    // Just built, the inside is not shared yet.
                    Ok(target) => {
                        if let Some(spec) = Arc::get_mut(spec) {
                            set_activity(&mut spec.nodes[inner].kind, target);
                        }
                    }
                    Err(Some(message)) => {
                        let node = &spec.nodes[inner];
                        let message = format!(
                            "{message}; in a compensation event subprocess it names an activity of the scope the \
                             event subprocess compensates"
                        );
                        report.report(node.position, Some(&node.id), message);
                    }
                    Err(None) => {}
                }
            }
        }
    }

    /// The activity of this scope that `activityRef` `reference` names; else
    /// what to report (nothing when it names an element already reported).
    fn activity_named(&self, reference: &str, label: &str, ids: &Ids<'_>) -> Result<NodeIdx, Option<String>> {
        let reference = reference.trim();
        match ids.node_in(self.number(), reference) {
            Some(target) if is_activity(&self.nodes[target].kind) => Ok(target),
            Some(target) => Err(Some(format!(
                "compensateEventDefinition activityRef `{reference}` is {}: it names the activity to compensate",
                article(self.nodes[target].kind.element_name())
            ))),
            None if self.unsupported.contains(reference) => Err(None),
            None => Err(Some(format!(
                "compensateEventDefinition activityRef `{reference}` names no activity in {label} (a \
                 compensation event compensates activities of its own process level)"
            ))),
        }
    }

    /// Reports every compensation event subprocess of this scope after the
    /// first: one event subprocess undoes a scope.
    fn check_compensation_subprocesses(&self, label: &str, report: &mut Reporter) {
        let mut first: Option<NodeIdx> = None;
        for (n, node) in self.nodes.iter().enumerate() {
            let NodeKind::EventSubProcess(inner) = &node.kind else {
                continue;
            };
            if !inner.is_compensation_subprocess() {
                continue;
            }
            match first {
                None => first = Some(n),
                Some(f) => {
                    let message = format!(
                        "{label} already has a compensation event subprocess, `{}` (line {}): one event \
                         subprocess compensates a scope",
                        self.nodes[f].id, self.nodes[f].position.line
                    );
                    report.report(node.position, Some(&node.id), message);
                }
            }
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

/// Points compensation throw or end event `kind` at activity `target`.
fn set_activity(kind: &mut NodeKind, target: NodeIdx) {
    if let NodeKind::CompensationThrowEvent { activity } | NodeKind::CompensationEndEvent { activity } = kind {
        *activity = Some(target);
    }
}
