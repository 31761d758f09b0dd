//! Root `collaboration` elements and their `participant`s: the pools of a
//! diagram. A participant that names a process (`processRef`) is a pool run
//! by that process; one without is a black box, drawn and not run. Message
//! flows are drawn, not read: a message reaches a catch by its name and
//! correlation, whichever pool sends it (see `crate::bpmn::collaboration`
//! for how the pools run together).

use super::super::frames::Frame;
use super::super::parse::Parser;
use super::super::spec::{Collaboration, Participant, Position};
use super::super::vocabulary::Attrs;

/// A `collaboration` being read.
pub(in crate::bpmn) struct CollaborationFrame {
    id: Option<String>,
    name: Option<String>,
    position: Position,
    participants: Vec<Participant>,
}

impl<'a> Parser<'a> {
    pub(in crate::bpmn) fn open_collaboration(&mut self, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let (id, _) = self.register(attrs, "collaboration", position);
        Frame::Collaboration(Box::new(CollaborationFrame {
            id,
            name: attrs.name.take(),
            position,
            participants: Vec::new(),
        }))
    }

    /// A child of a `collaboration`: its participants are read.
    pub(in crate::bpmn) fn open_in_collaboration(
        &mut self,
        local: &[u8],
        attrs: &mut Attrs<'a>,
        offset: usize,
    ) -> Frame {
        if local != b"participant" {
            return Frame::Skip;
        }
        let position = self.position(offset);
        let (id, _) = self.register(attrs, "participant", position);
        let process = attrs.process_ref.take().filter(|p| !p.trim().is_empty());
        if let (Some(id), Some(process), Some(Frame::Collaboration(frame))) = (id, process, self.stack.parent_mut()) {
            frame.participants.push(Participant {
                id,
                name: attrs.name.take(),
                process,
                position,
            });
        }
        Frame::Skip
    }

    pub(in crate::bpmn) fn close_collaboration(&mut self, frame: CollaborationFrame) {
        let CollaborationFrame {
            id,
            name,
            position,
            participants,
        } = frame;
        if let Some(id) = id {
            self.collaborations.push(Collaboration {
                id,
                name,
                position,
                participants,
            });
        }
    }

    /// Once the whole file is read: every pool names a process of this file.
    pub(in crate::bpmn) fn check_participants(&mut self) {
        for collaboration in &self.collaborations {
            for participant in &collaboration.participants {
                if !self.processes.iter().any(|p| p.id == participant.process) {
                    self.report.report(
                        participant.position,
                        Some(&participant.id),
                        format!(
                            "participant `{}` names process `{}` (processRef), which this file does not define",
                            participant.id, participant.process
                        ),
                    );
                }
            }
        }
    }
}
