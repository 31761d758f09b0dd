//! How a collaboration's pools run as one instance: a process of its own,
//! made from the pools' processes, that [`Library`](super::Library) holds
//! under the collaboration's id.
//!
//! Each pool whose process has a none start event is a node that calls that
//! process, and starts with the instance; its data is the instance's, and
//! what it ends with is merged into the instance's end data. A pool whose
//! process starts only by a message, a signal or a timer waits beside them,
//! as a non-interrupting event subprocess does: each such event starts a run
//! of that process inside the instance. A message one pool sends reaches a
//! catch of another in the same instance (SpiffWorkflow runs a
//! collaboration's pools so), and the instance ends when the pools' work
//! is done: a pool still waiting to be started holds nothing open.
//!
//! Only executable processes' pools run (all of them when none is
//! executable), so a pool drawn for documentation stays out.

use std::collections::HashMap;
use std::sync::Arc;

use super::spec::{Collaboration, NodeKind, NodeSpec, ProcessSpec};

/// The process that runs `collaboration`'s pools together (processes by
/// id), or `None` when no pool of it can start.
pub(super) fn pools_process(
    collaboration: &Collaboration,
    processes: &HashMap<String, Arc<ProcessSpec>>,
) -> Option<ProcessSpec> {
    let pools: Vec<_> = (collaboration.participants.iter())
        .filter_map(|p| Some((p, processes.get(&p.process)?)))
        .collect();
    let any_executable = pools.iter().any(|(_, spec)| spec.executable);
    let pools: Vec<_> = (pools.into_iter())
        .filter(|(_, spec)| spec.executable || !any_executable)
        .collect();
    let (_, first) = pools.first()?;
    let mut nodes = Vec::new();
    let (mut starts, mut event_subprocesses) = (Vec::new(), Vec::new());
    for (participant, spec) in &pools {
        let node = |id: String, kind: NodeKind| NodeSpec {
            id,
            name: participant.name.clone().or_else(|| spec.name.clone()),
            kind,
            incoming: Box::default(),
            outgoing: Box::default(),
            default_flow: None,
            position: participant.position,
            pre_script: None,
            post_script: None,
            boundaries: Box::default(),
            looping: None,
            multi: None,
            data: None,
        };
        if !spec.starts.is_empty() {
            starts.push(nodes.len());
            let called_element = spec.id.clone();
            nodes.push(node(participant.id.clone(), NodeKind::CallActivity { called_element }));
            continue;
        }
        for &start in &spec.event_starts {
            let Some(waiting) = started_by(spec, start) else {
                continue;
            };
            // One node per way in, named after the pool when it has one.
            let id = match spec.event_starts.len() {
                1 => participant.id.clone(),
                _ => format!("{}/{}", participant.id, spec.nodes[start].id),
            };
            event_subprocesses.push(nodes.len());
            nodes.push(node(id, NodeKind::EventSubProcess(Arc::new(waiting))));
        }
    }
    if starts.is_empty() && event_subprocesses.is_empty() {
        return None;
    }
    let mut index: Vec<usize> = (0..nodes.len()).collect();
    index.sort_unstable_by(|&a, &b| nodes[a].id.cmp(&nodes[b].id));
    Some(ProcessSpec {
        id: collaboration.id.clone(),
        name: collaboration.name.clone(),
        executable: any_executable,
        callable_only: false,
        file: first.file.clone(),
        position: collaboration.position,
        nodes,
        flows: Vec::new(),
        starts,
        index,
        event_subprocesses,
        event_starts: Vec::new(),
        transaction: false,
        loop_fed_joins: Vec::new(),
        data_objects: Vec::new(),
    })
}

/// Process `spec` as an event subprocess started, without interrupting, by
/// its start event `start` (a message, signal or timer start event).
fn started_by(spec: &ProcessSpec, start: usize) -> Option<ProcessSpec> {
    let mut waiting = spec.clone();
    match &mut waiting.nodes[start].kind {
        NodeKind::MessageStartEvent { interrupting, .. }
        | NodeKind::SignalStartEvent { interrupting, .. }
        | NodeKind::TimerStartEvent { interrupting, .. }
        | NodeKind::ConditionalStartEvent { interrupting, .. } => *interrupting = false,
        _ => return None,
    }
    waiting.starts = vec![start];
    waiting.event_starts = Vec::new();
    Some(waiting)
}
