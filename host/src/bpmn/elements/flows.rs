//! Sequence flows and their `conditionExpression`. Their ends are resolved
//! when their scope closes (see `resolve`).

use super::super::frames::{Frame, Role};
use super::super::parse::Parser;
use super::super::scope::FlowDraft;
use super::super::script::Text;
use super::super::vocabulary::Attrs;

impl<'a> Parser<'a> {
    pub(in crate::bpmn) fn open_flow(&mut self, attrs: &mut Attrs<'a>, offset: usize) -> Frame {
        let position = self.position(offset);
        let (id, _) = self.register(attrs, "sequenceFlow", position);
        Frame::Flow(Box::new(FlowDraft {
            id,
            name: attrs.name.take(),
            source_ref: attrs.source_ref.take(),
            target_ref: attrs.target_ref.take(),
            condition: None,
            position,
        }))
    }

    /// A child of a sequence flow: its condition is collected.
    pub(in crate::bpmn) fn open_in_flow(&mut self, local: &[u8]) -> Frame {
        if local == b"conditionExpression" {
            Frame::Text(Box::default(), Role::Condition)
        } else {
            Frame::Skip
        }
    }

    /// The text of a closed `conditionExpression` (the first one counts; a
    /// blank one is no condition).
    pub(in crate::bpmn) fn close_condition(&mut self, text: Text) {
        if let Some(Frame::Flow(flow)) = self.stack.parent_mut()
            && flow.condition.is_none()
        {
            flow.condition = text.trimmed();
        }
    }

    pub(in crate::bpmn) fn close_flow(&mut self, flow: FlowDraft) {
        if let Some(scope) = self.stack.parent_scope_mut() {
            scope.add_flow(flow, &self.ids);
        }
    }
}
