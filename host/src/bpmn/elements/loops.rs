//! Loop characteristics of a task, subprocess or call activity:
//! `standardLoopCharacteristics`, read into the [`StandardLoop`] of its
//! node, and `multiInstanceLoopCharacteristics`, read into its
//! [`MultiInstance`].

use super::super::frames::{Frame, Role};
use super::super::parse::Parser;
use super::super::script::Text;
use super::super::spec::{Instances, MultiInstance, Position, StandardLoop};
use super::super::vocabulary::{Attrs, flag};

/// A loop characteristics element being read.
pub(in crate::bpmn) struct LoopDraft {
    position: Position,
    kind: DraftKind,
}

enum DraftKind {
    Standard {
        test_before: Option<String>,
        maximum: Option<String>,
        /// Its `loopCondition`'s text, once closed.
        condition: Option<Text>,
    },
    Multi(Box<MultiDraft>),
}

/// What a `multiInstanceLoopCharacteristics` says, as written.
#[derive(Default)]
struct MultiDraft {
    sequential: bool,
    scripts_on_instances: bool,
    cardinality: Option<Text>,
    input: Option<Text>,
    output: Option<Text>,
    input_item: Option<String>,
    output_item: Option<String>,
    completion: Option<Text>,
}

/// The children of a loop characteristics element whose text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::bpmn) enum LoopPart {
    /// `loopCondition` of a standard loop.
    Condition,
    /// `loopCardinality`.
    Cardinality,
    /// `loopDataInputRef`.
    Input,
    /// `loopDataOutputRef`.
    Output,
    /// `completionCondition`.
    Completion,
}

/// Opens a `standardLoopCharacteristics` with its attributes.
pub(super) fn open_standard(attrs: &mut Attrs<'_>, position: Position) -> Frame {
    Frame::Loop(Box::new(LoopDraft {
        position,
        kind: DraftKind::Standard {
            test_before: attrs.test_before.take(),
            maximum: attrs.loop_maximum.take(),
            condition: None,
        },
    }))
}

/// Opens a `multiInstanceLoopCharacteristics` with its attributes.
pub(super) fn open_multi(attrs: &mut Attrs<'_>, position: Position) -> Frame {
    Frame::Loop(Box::new(LoopDraft {
        position,
        kind: DraftKind::Multi(Box::new(MultiDraft {
            sequential: flag(&attrs.is_sequential),
            scripts_on_instances: flag(&attrs.scripts_on_instances),
            ..MultiDraft::default()
        })),
    }))
}

/// A data item's variable: its `id`, as SpiffWorkflow reads it, else its `name`.
fn item_variable(attrs: &mut Attrs<'_>) -> Option<String> {
    let trimmed = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    trimmed(attrs.id.take()).or_else(|| trimmed(attrs.name.take()))
}

impl Parser<'_> {
    /// A child of a loop characteristics element: its expressions and
    /// references are collected, its data items read from their attributes.
    pub(in crate::bpmn) fn open_in_loop(&mut self, local: &[u8], attrs: &mut Attrs<'_>) -> Frame {
        let Some(Frame::Loop(draft)) = self.stack.parent_mut() else {
            return Frame::Skip;
        };
        let part = match (&mut draft.kind, local) {
            (DraftKind::Standard { .. }, b"loopCondition") => LoopPart::Condition,
            (DraftKind::Multi(_), b"loopCardinality") => LoopPart::Cardinality,
            (DraftKind::Multi(_), b"loopDataInputRef") => LoopPart::Input,
            (DraftKind::Multi(_), b"loopDataOutputRef") => LoopPart::Output,
            (DraftKind::Multi(_), b"completionCondition") => LoopPart::Completion,
            (DraftKind::Multi(multi), b"inputDataItem") => {
                multi.input_item = item_variable(attrs);
                return Frame::Skip;
            }
            (DraftKind::Multi(multi), b"outputDataItem") => {
                multi.output_item = item_variable(attrs);
                return Frame::Skip;
            }
            _ => return Frame::Skip,
        };
        Frame::Text(Box::default(), Role::Loop(part))
    }

    /// The text of a closed child of a loop characteristics element.
    pub(in crate::bpmn) fn close_loop_text(&mut self, part: LoopPart, text: Text) {
        let Some(Frame::Loop(draft)) = self.stack.parent_mut() else {
            return;
        };
        let slot = match (&mut draft.kind, part) {
            (DraftKind::Standard { condition, .. }, LoopPart::Condition) => condition,
            (DraftKind::Multi(multi), LoopPart::Cardinality) => &mut multi.cardinality,
            (DraftKind::Multi(multi), LoopPart::Input) => &mut multi.input,
            (DraftKind::Multi(multi), LoopPart::Output) => &mut multi.output,
            (DraftKind::Multi(multi), LoopPart::Completion) => &mut multi.completion,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(text);
        }
    }

    /// A closed loop characteristics element, handed to its activity, or
    /// reported when it cannot run.
    pub(in crate::bpmn) fn close_loop(&mut self, draft: LoopDraft) {
        let LoopDraft { position, kind } = draft;
        let id = self
            .stack
            .parent_mut()
            .and_then(Frame::head_mut)
            .and_then(|h| h.id.clone());
        let built = match kind {
            DraftKind::Standard {
                test_before,
                maximum,
                condition,
            } => standard(test_before, maximum, condition).map(|l| (Some(Box::new(l)), None)),
            DraftKind::Multi(multi) => multi_instance(*multi).map(|m| (None, Some(Box::new(m)))),
        };
        let (looping, multi) = match built {
            Ok(built) => built,
            Err(message) => {
                self.report.report(position, id.as_deref(), message);
                return;
            }
        };
        let Some(head) = self.stack.parent_mut().and_then(Frame::head_mut) else {
            return;
        };
        if head.looping.is_some() || head.multi.is_some() {
            let id = head.id.clone();
            self.report.report(
                position,
                id.as_deref(),
                "an activity has one loop characteristics: a standard loop or a multi-instance, once",
            );
            return;
        }
        head.looping = looping;
        head.multi = multi;
    }
}

/// A standard loop from what its element says.
fn standard(
    test_before: Option<String>,
    maximum: Option<String>,
    condition: Option<Text>,
) -> Result<StandardLoop, String> {
    let maximum = match maximum.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| format!("loopMaximum `{text}` is not a whole number of passes"))?,
        ),
    };
    let condition = condition.and_then(|t| t.trimmed());
    if condition.is_none() && maximum.is_none() {
        return Err("a standard loop needs a loopCondition or a loopMaximum: without either it would never end".into());
    }
    Ok(StandardLoop {
        condition,
        maximum,
        test_before: flag(&test_before),
    })
}

/// A multi-instance from what its element says.
fn multi_instance(draft: MultiDraft) -> Result<MultiInstance, String> {
    let text = |t: Option<Text>| t.and_then(|t| t.trimmed());
    let over = match (text(draft.cardinality), text(draft.input)) {
        (Some(_), Some(_)) => {
            return Err(
                "a multi-instance activity has a loopCardinality or a loopDataInputRef, not both: \
                        its instances come from one or the other"
                    .into(),
            );
        }
        (Some(cardinality), None) => match cardinality.parse::<u64>() {
            Ok(n) => Instances::Count(n),
            Err(_) => Instances::Cardinality(cardinality),
        },
        (None, Some(input)) => Instances::Collection(input),
        (None, None) => {
            return Err(
                "a multi-instance activity needs a loopCardinality (how many instances) or a \
                        loopDataInputRef (a collection, one instance per element)"
                    .into(),
            );
        }
    };
    Ok(MultiInstance {
        sequential: draft.sequential,
        over,
        input_item: draft.input_item,
        output: text(draft.output),
        output_item: draft.output_item,
        completion: text(draft.completion),
        scripts_on_instances: draft.scripts_on_instances,
    })
}
