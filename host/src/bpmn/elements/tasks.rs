//! Tasks: `task`, `manualTask`, `userTask` (no content the engine reads),
//! `scriptTask` (its `scriptFormat` and `script`, see `script`) and
//! `serviceTask` (its call, given by a vendor extension), `sendTask` and
//! `receiveTask` (the message they name, see `messages`).

use super::super::extensions;
use super::super::frames::{Frame, Head, NodeDraft, Role};
use super::super::parse::Parser;
use super::super::script::{self, Text};
use super::super::spec::NodeKind;
use super::super::vocabulary::{Attrs, TaskElem};

/// What a script task's start tag and children said.
pub(in crate::bpmn) struct TaskDraft {
    script_format: Option<String>,
    script: Option<Text>,
    /// `messageRef` of a send or receive task.
    message_ref: Option<String>,
}

impl TaskDraft {
    /// The task attributes of a start tag.
    pub(in crate::bpmn) fn new(attrs: &mut Attrs<'_>) -> Self {
        TaskDraft {
            script_format: attrs.script_format.take(),
            script: None,
            message_ref: super::messages::reference(attrs.message_ref.take()),
        }
    }
}

/// A child of a task: a script task's `script` is collected; `None` for any
/// other child.
pub(in crate::bpmn) fn open_child(task: TaskElem, local: &[u8]) -> Option<Frame> {
    (task == TaskElem::Script && local == b"script").then(|| Frame::Text(Box::default(), Role::Script))
}

impl Parser<'_> {
    /// The text of a `script` closed in its script task (the first one counts).
    pub(in crate::bpmn) fn close_script(&mut self, text: Text) {
        if let Some(node) = self.stack.parent_node_mut()
            && let NodeDraft::Task(_, task) = &mut node.draft
            && task.script.is_none()
        {
            task.script = Some(text);
        }
    }

    /// The kind of a closed task. A task that is wrong inside (reported)
    /// stays in its scope as a plain task, so that its flows do not add
    /// dangling-reference diagnostics.
    pub(in crate::bpmn) fn task_kind(&mut self, elem: TaskElem, head: &mut Head, draft: TaskDraft) -> NodeKind {
        match elem {
            TaskElem::Task => NodeKind::Task,
            TaskElem::Manual => NodeKind::ManualTask,
            TaskElem::User => NodeKind::UserTask {
                variable: head.vendor.form_variable.take(),
            },
            TaskElem::Script => {
                match script::script(draft.script_format.as_deref(), draft.script.as_ref(), self.xml.lines()) {
                    Ok(s) => NodeKind::ScriptTask(s),
                    Err(message) => {
                        self.report_at(head, message);
                        NodeKind::Task
                    }
                }
            }
            TaskElem::Receive | TaskElem::Send => {
                let extensions = std::mem::take(&mut head.vendor.message);
                let at = (draft.message_ref, head.position);
                let message = Box::new(self.message_of(head.id.as_deref(), head.name.as_deref(), at, extensions));
                if elem == TaskElem::Receive {
                    NodeKind::ReceiveTask(message)
                } else {
                    NodeKind::SendTask(message)
                }
            }
            TaskElem::Service => {
                let id = head.id.as_deref().unwrap_or_default();
                match extensions::service_call(id, &mut head.vendor) {
                    Ok(call) => NodeKind::ServiceTask(Box::new(call)),
                    Err((at, message)) => {
                        self.report
                            .report(at.unwrap_or(head.position), head.id.as_deref(), message);
                        NodeKind::Task
                    }
                }
            }
        }
    }
}
