//! Routing: which outgoing flows a completing task takes (conditions,
//! gateways, default flows), and when a join may fire.

use std::collections::{HashSet, VecDeque};

use serde_json::{Map, Value};

use super::failure::{Cause, Interrupt, answered};
use super::{TaskId, Workflow, truthy};
use crate::bpmn::{FlowIdx, NodeIdx, NodeKind, ProcessSpec};
use crate::script::ScriptEngine;

impl Workflow {
    /// The flows a completing task sends its token along.
    pub(super) fn select_flows(
        &self,
        id: TaskId,
        data: &Map<String, Value>,
        scripts: &ScriptEngine,
    ) -> Result<Vec<FlowIdx>, Interrupt> {
        let scope = &self.scopes[self.tasks[id].scope];
        let spec = &scope.spec;
        let node = &spec.nodes[self.tasks[id].node];
        if matches!(node.kind, NodeKind::EndEvent { .. }) || node.outgoing.is_empty() {
            return Ok(Vec::new());
        }
        if let NodeKind::ParallelGateway = node.kind {
            return Ok(node.outgoing.to_vec());
        }
        let exclusive = matches!(node.kind, NodeKind::ExclusiveGateway);
        let gateway = exclusive || matches!(node.kind, NodeKind::InclusiveGateway);
        let data = &*self.with_data_objects(self.tasks[id].scope, data);
        let mut taken = Vec::new();
        let mut condition_held = false;
        for &flow in node.outgoing.iter().filter(|&&f| Some(f) != node.default_flow) {
            let passes = match &spec.flows[flow].condition {
                None => true,
                Some(condition) => {
                    let outcome = answered(scripts.evaluate(&self.task_info(id), condition, data)).map_err(|i| {
                        i.within(&format!(
                            "condition of sequence flow `{}` ({condition})",
                            spec.flows[flow].id
                        ))
                    })?;
                    let held = truthy(&outcome.value);
                    condition_held |= held;
                    held
                }
            };
            if passes {
                taken.push(flow);
                if exclusive {
                    break;
                }
            }
        }
        // A gateway's default is taken when no other flow is; an activity's
        // when none of its conditional flows is (BPMN 2.0, 10.3.1 / 13.3.2).
        let use_default = if gateway { taken.is_empty() } else { !condition_held };
        match node.default_flow {
            Some(default) if use_default => taken.push(default),
            _ if taken.is_empty() => {
                let conditions: Vec<String> = node
                    .outgoing
                    .iter()
                    .map(|&f| &spec.flows[f])
                    .map(|f| format!("`{}`: {}", f.id, f.condition.as_deref().unwrap_or("(none)")))
                    .collect();
                let message = format!(
                    "no outgoing condition is true and there is no default flow, so there is no way out (conditions: {})",
                    conditions.join("; ")
                );
                return Err(Interrupt::Fail(Cause::Engine {
                    reason: "no_way_out",
                    message,
                }));
            }
            _ => {}
        }
        Ok(taken)
    }

    /// The tokens a join at `node` of `scope` fires with, if it may fire now:
    /// a parallel join once a token came by every incoming flow (the first
    /// by each), or, fed by a loop, once no other token can still reach it
    /// (SpiffWorkflow's rule: a loop-back flow that will carry no token is
    /// not waited for); an inclusive join once no other token in the scope
    /// can still bring a token to an incoming flow that has none, save one
    /// that can also reach a flow that has (BPMN 2.0, 13.4.2, and
    /// SpiffWorkflow: a token behind another on the same path is not
    /// waited for), with all that wait there.
    pub(super) fn join_fires(&self, scope: usize, node: NodeIdx) -> Option<Vec<TaskId>> {
        let spec = &self.scopes[scope].spec;
        let waiting = self.scopes[scope].joins.get(&node)?;
        let quiet = || {
            let at_join: HashSet<TaskId> = waiting.iter().copied().collect();
            let mut others = self.scopes[scope].active.iter().filter(|t| !at_join.contains(t));
            !others.any(|&t| reaches(spec, self.tasks[t].node, node))
        };
        match spec.nodes[node].kind {
            NodeKind::ParallelGateway => {
                let firsts = (spec.nodes[node].incoming.iter())
                    .map(|&flow| waiting.iter().copied().find(|&t| self.tasks[t].via == Some(flow)));
                let firsts: Vec<Option<TaskId>> = firsts.collect();
                if firsts.iter().all(Option::is_some) {
                    return firsts.into_iter().collect();
                }
                let loop_fed = spec.loop_fed_joins.binary_search(&node).is_ok();
                (loop_fed && !waiting.is_empty() && quiet()).then(|| firsts.into_iter().flatten().collect())
            }
            _ => {
                let filled: HashSet<FlowIdx> = waiting.iter().filter_map(|&t| self.tasks[t].via).collect();
                let at_join: HashSet<TaskId> = waiting.iter().copied().collect();
                let blocked = (self.scopes[scope].active.iter())
                    .filter(|t| !at_join.contains(t))
                    .any(|&t| {
                        let reached = incoming_reached(spec, self.tasks[t].node, node);
                        reached.iter().any(|f| !filled.contains(f)) && !reached.iter().any(|f| filled.contains(f))
                    });
                (!blocked).then(|| waiting.clone())
            }
        }
    }
}

/// The longest prefix all the keys share: the branch a join's token carries on.
pub(super) fn common_prefix<'a>(mut keys: impl Iterator<Item = &'a [u32]>) -> Vec<u32> {
    let Some(first) = keys.next() else {
        return Vec::new();
    };
    let mut len = first.len();
    for key in keys {
        len = first.iter().zip(key).take(len).take_while(|(a, b)| a == b).count();
    }
    first[..len].to_vec()
}

/// The incoming flows of `join` a token at `from` can reach along sequence
/// flows without passing through `join`.
fn incoming_reached(spec: &ProcessSpec, from: NodeIdx, join: NodeIdx) -> Vec<FlowIdx> {
    let mut seen = vec![false; spec.nodes.len()];
    let mut queue = VecDeque::from([from]);
    seen[from] = true;
    let mut reached = Vec::new();
    while let Some(node) = queue.pop_front() {
        for &flow in &spec.nodes[node].outgoing {
            let next = spec.flows[flow].target;
            if next == join {
                reached.push(flow);
            } else if !seen[next] {
                seen[next] = true;
                queue.push_back(next);
            }
        }
    }
    reached
}

/// Whether a token at `from` can still reach `to` along sequence flows
/// (a breadth-first walk that does not pass through `to`).
fn reaches(spec: &ProcessSpec, from: NodeIdx, to: NodeIdx) -> bool {
    let mut seen = vec![false; spec.nodes.len()];
    let mut queue = VecDeque::from([from]);
    seen[from] = true;
    while let Some(node) = queue.pop_front() {
        for &flow in &spec.nodes[node].outgoing {
            let next = spec.flows[flow].target;
            if next == to {
                return true;
            }
            if !seen[next] {
                seen[next] = true;
                queue.push_back(next);
            }
        }
    }
    false
}
