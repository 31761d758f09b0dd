//! BPMN data: `dataObject` and `dataObjectReference` in processes and
//! subprocesses, and the `dataInputAssociation` / `dataOutputAssociation`
//! of activities, read into [`DataAssociations`] and resolved to data
//! object ids once the whole file is read (a reference may come after the
//! activity that names it, or stand in the scope around).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::super::diagnostic::Reporter;
use super::super::frames::{Frame, Role};
use super::super::parse::Parser;
use super::super::script::Text;
use super::super::spec::{NodeKind, ProcessSpec};
use super::super::vocabulary::Attrs;

/// A data association of an activity being read.
pub(in crate::bpmn) struct AssociationDraft {
    /// `dataInputAssociation` (its `sourceRef` is read), else `dataOutputAssociation` (its `targetRef`).
    input: bool,
    reference: Option<String>,
}

/// The data objects and references of the file, and what each activity's
/// associations name, resolved when the file has been read.
#[derive(Default)]
pub(in crate::bpmn) struct DataRefs {
    /// Every `dataObject` id.
    objects: HashSet<String>,
    /// `dataObjectReference` id → the `dataObjectRef` it stands for.
    references: HashMap<String, String>,
}

impl Parser<'_> {
    /// A `dataObject` or `dataObjectReference` directly inside a process or subprocess.
    pub(in crate::bpmn) fn open_data_element(&mut self, local: &[u8], attrs: &mut Attrs<'_>) -> Frame {
        let Some(id) = attrs
            .id
            .take()
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
        else {
            return Frame::Skip;
        };
        match local {
            b"dataObject" => {
                if let Some(scope) = self.stack.parent_scope_mut() {
                    scope.data_objects.push(id.clone());
                }
                self.data.objects.insert(id);
            }
            _ => {
                if let Some(object) = attrs.data_object_ref.take() {
                    self.data.references.insert(id, object.trim().to_string());
                }
            }
        }
        Frame::Skip
    }

    /// Opens a `dataInputAssociation` (`input`) or `dataOutputAssociation` of an activity.
    pub(in crate::bpmn) fn open_data_association(input: bool) -> Frame {
        Frame::DataAssociation(Box::new(AssociationDraft { input, reference: None }))
    }

    /// A child of a data association: the reference to the data object is read.
    pub(in crate::bpmn) fn open_in_data_association(&mut self, local: &[u8]) -> Frame {
        let Some(Frame::DataAssociation(draft)) = self.stack.parent_mut() else {
            return Frame::Skip;
        };
        match (draft.input, local) {
            (true, b"sourceRef") | (false, b"targetRef") => Frame::Text(Box::default(), Role::DataRef),
            _ => Frame::Skip,
        }
    }

    /// The text of a data association's reference.
    pub(in crate::bpmn) fn close_data_ref(&mut self, text: Text) {
        if let Some(Frame::DataAssociation(draft)) = self.stack.parent_mut() {
            draft.reference = text.trimmed();
        }
    }

    /// A closed data association, handed to its activity.
    pub(in crate::bpmn) fn close_data_association(&mut self, draft: AssociationDraft) {
        let Some(reference) = draft.reference else {
            return;
        };
        if let Some(head) = self.stack.parent_mut().and_then(Frame::head_mut) {
            let data = head.data.get_or_insert_with(Default::default);
            if draft.input {
                data.inputs.push(reference);
            } else {
                data.outputs.push(reference);
            }
        }
    }
}

impl DataRefs {
    /// Makes every activity's associations name data objects, reporting a
    /// reference that names none, or a data object of no scope around the
    /// activity. An explicit stack: nesting does not make this recurse.
    pub(in crate::bpmn) fn resolve(self, processes: &mut [Arc<ProcessSpec>], report: &mut Reporter) {
        // Each spec with the data objects of the scopes around it.
        let mut stack: Vec<(&mut ProcessSpec, Arc<Vec<String>>)> = (processes.iter_mut())
            .map(|p| (Arc::make_mut(p), Arc::new(Vec::new())))
            .collect();
        while let Some((spec, around)) = stack.pop() {
            let mut visible: Vec<String> = around.as_ref().clone();
            visible.extend(spec.data_objects.iter().cloned());
            let visible = Arc::new(visible);
            for node in &mut spec.nodes {
                if let Some(data) = node.data.as_deref_mut() {
                    for (reference, input) in
                        (data.inputs.iter_mut().map(|r| (r, true))).chain(data.outputs.iter_mut().map(|r| (r, false)))
                    {
                        let object = self.references.get(reference.as_str()).cloned();
                        let object = object.unwrap_or_else(|| reference.clone());
                        let association = if input {
                            "dataInputAssociation"
                        } else {
                            "dataOutputAssociation"
                        };
                        if !self.objects.contains(&object) {
                            let message = format!(
                                "{association} names `{reference}`, which is no dataObjectReference or \
                                 dataObject of this file: draw the association to a data object"
                            );
                            report.report(node.position, Some(&node.id), message);
                        } else if !visible.contains(&object) {
                            let message = format!(
                                "{association} names data object `{object}`, which belongs to no process or \
                                 subprocess around this activity: a data object is shared by the tasks of its scope"
                            );
                            report.report(node.position, Some(&node.id), message);
                        }
                        *reference = object;
                    }
                }
                if let NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) = &mut node.kind {
                    stack.push((Arc::make_mut(inner), visible.clone()));
                }
            }
        }
    }
}
