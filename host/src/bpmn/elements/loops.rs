//! Standard loops: `standardLoopCharacteristics` on a task, subprocess or
//! call activity, read into the [`StandardLoop`] of its node.

use super::super::frames::{Frame, Role};
use super::super::parse::Parser;
use super::super::script::Text;
use super::super::spec::{Position, StandardLoop};
use super::super::vocabulary::{Attrs, flag};

/// A `standardLoopCharacteristics` being read.
pub(in crate::bpmn) struct LoopDraft {
    position: Position,
    test_before: Option<String>,
    maximum: Option<String>,
    /// Its `loopCondition`'s text, once closed.
    condition: Option<Text>,
}

/// Opens a `standardLoopCharacteristics` with its attributes.
pub(super) fn open(attrs: &mut Attrs<'_>, position: Position) -> Frame {
    Frame::Loop(Box::new(LoopDraft {
        position,
        test_before: attrs.test_before.take(),
        maximum: attrs.loop_maximum.take(),
        condition: None,
    }))
}

impl Parser<'_> {
    /// A child of a `standardLoopCharacteristics`: its `loopCondition` is collected.
    pub(in crate::bpmn) fn open_in_loop(&mut self, local: &[u8]) -> Frame {
        match local {
            b"loopCondition" => Frame::Text(Box::default(), Role::LoopCondition),
            _ => Frame::Skip,
        }
    }

    /// The text of a closed `loopCondition`.
    pub(in crate::bpmn) fn close_loop_condition(&mut self, text: Text) {
        if let Some(Frame::Loop(draft)) = self.stack.parent_mut()
            && draft.condition.is_none()
        {
            draft.condition = Some(text);
        }
    }

    /// A closed `standardLoopCharacteristics`, handed to its activity, or
    /// reported when it cannot run.
    pub(in crate::bpmn) fn close_loop(&mut self, draft: LoopDraft) {
        let LoopDraft {
            position,
            test_before,
            maximum,
            condition,
        } = draft;
        let id = self
            .stack
            .parent_mut()
            .and_then(Frame::head_mut)
            .and_then(|h| h.id.clone());
        let maximum = match maximum.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            None => None,
            Some(text) => match text.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    let message = format!("loopMaximum `{text}` is not a whole number of passes");
                    self.report.report(position, id.as_deref(), message);
                    return;
                }
            },
        };
        let condition = condition.and_then(|t| t.trimmed());
        if condition.is_none() && maximum.is_none() {
            self.report.report(
                position,
                id.as_deref(),
                "a standard loop needs a loopCondition or a loopMaximum: without either it would never end",
            );
            return;
        }
        let looping = StandardLoop {
            condition,
            maximum,
            test_before: flag(&test_before),
        };
        let Some(head) = self.stack.parent_mut().and_then(Frame::head_mut) else {
            return;
        };
        if head.looping.is_some() {
            let id = head.id.clone();
            self.report.report(
                position,
                id.as_deref(),
                "an activity has one standardLoopCharacteristics",
            );
            return;
        }
        head.looping = Some(Box::new(looping));
    }
}
