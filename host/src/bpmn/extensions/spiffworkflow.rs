//! SpiffWorkflow's extensions (SpiffArena files, prefix usually
//! `spiffworkflow:`):
//! - `preScript`/`postScript`: inline code on any activity;
//! - `serviceTaskOperator` of a service task: its `id` is the operation,
//!   `parameters/parameter` values are expressions, the result goes to
//!   `resultVariable` (by default `spiff__<task id>_result`);
//! - `variableName` and `payloadExpression` of a root `error` or `signal`:
//!   where a catch puts the payload, and what a throw sends;
//! - `messagePayload`, `messageVariable` and `processVariableCorrelation` of
//!   a `messageEventDefinition`, a send or receive task (or, as older files
//!   have them, a root `message`): what a throw sends, where a catch puts it,
//!   and how a catch's correlation values are read from its data.
//!
//! Other SpiffWorkflow extensions (instructions, properties, unit tests, ...)
//! are ignored.

use super::super::elements::messages::MessageExtensions;
use super::super::frames::{self, Frame as CoreFrame};
use super::super::parse::Parser;
use super::super::script::{self, Text};
use super::super::spec::{Position, Retrieval, ServiceCall, ServiceParam};
use super::super::vocabulary::{Attrs, Elem, TaskElem};
use super::Owner;

/// SpiffWorkflow's extension namespace.
pub(in crate::bpmn) const NAMESPACE: &str = "http://spiffworkflow.org/bpmn/schema/1.0/core";

/// A SpiffWorkflow element with content the parser reads.
pub(in crate::bpmn) enum Frame {
    /// `serviceTaskOperator`.
    Operator(Box<Operator>),
    /// `parameters` of an operator.
    Parameters,
    /// `processVariableCorrelation`: its `propertyId` and `expression`.
    Correlation(Box<(Position, Option<String>, Option<String>)>),
}

/// What the text of a SpiffWorkflow element is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::bpmn) enum Role {
    PreScript,
    PostScript,
    /// `variableName` of a root `error`.
    VariableName,
    /// `payloadExpression` of a root `error`.
    PayloadExpression,
    MessagePayload,
    MessageVariable,
    /// `propertyId` of a `processVariableCorrelation`.
    PropertyId,
    /// `expression` of a `processVariableCorrelation`.
    CorrelationExpression,
}

impl Role {
    /// The element, as messages name it.
    fn element(self) -> &'static str {
        match self {
            Role::PreScript => "spiffworkflow:preScript",
            Role::PostScript => "spiffworkflow:postScript",
            Role::VariableName => "spiffworkflow:variableName",
            Role::PayloadExpression => "spiffworkflow:payloadExpression",
            Role::MessagePayload => "spiffworkflow:messagePayload",
            Role::MessageVariable => "spiffworkflow:messageVariable",
            Role::PropertyId => "spiffworkflow:propertyId",
            Role::CorrelationExpression => "spiffworkflow:expression",
        }
    }
}

/// A `serviceTaskOperator` being read.
pub(in crate::bpmn) struct Operator {
    position: Position,
    operation: Option<String>,
    result_variable: Option<String>,
    params: Vec<ServiceParam>,
}

/// A text frame for a SpiffWorkflow element.
fn text(role: Role) -> CoreFrame {
    CoreFrame::Text(Box::default(), frames::Role::Vendor(super::Role::SpiffWorkflow(role)))
}

fn vendor(frame: Frame) -> CoreFrame {
    CoreFrame::Vendor(super::Frame::SpiffWorkflow(frame))
}

/// A SpiffWorkflow element opened in `extensionElements` or in a
/// SpiffWorkflow element.
pub(super) fn open(parser: &mut Parser<'_>, local: &[u8], attrs: &mut Attrs<'_>, offset: usize) -> CoreFrame {
    match parser.stack.parent() {
        Some(CoreFrame::Extensions) => open_extension(parser, local, attrs, offset),
        Some(CoreFrame::Vendor(super::Frame::SpiffWorkflow(Frame::Operator(_)))) if local == b"parameters" => {
            vendor(Frame::Parameters)
        }
        Some(CoreFrame::Vendor(super::Frame::SpiffWorkflow(Frame::Parameters))) if local == b"parameter" => {
            add_parameter(parser, attrs, offset);
            CoreFrame::Skip
        }
        Some(CoreFrame::Vendor(super::Frame::SpiffWorkflow(Frame::Correlation(_)))) => match local {
            b"propertyId" => text(Role::PropertyId),
            b"expression" => text(Role::CorrelationExpression),
            _ => CoreFrame::Skip,
        },
        _ => CoreFrame::Skip,
    }
}

/// A SpiffWorkflow element directly inside `extensionElements`.
fn open_extension(parser: &mut Parser<'_>, local: &[u8], attrs: &mut Attrs<'_>, offset: usize) -> CoreFrame {
    let owner = Owner::of(&parser.stack);
    let position = parser.position(offset);
    let element = parser.stack.extension_owner_id();
    let mut misplaced = |message: String| {
        parser.report.report(position, element.as_deref(), message);
        CoreFrame::Skip
    };
    match local {
        b"preScript" | b"postScript" => {
            let role = if local == b"preScript" {
                Role::PreScript
            } else {
                Role::PostScript
            };
            match owner {
                Owner::Other => CoreFrame::Skip,
                _ if owner.is_activity() => text(role),
                _ => misplaced(format!(
                    "`{}` on {}: pre- and post-scripts run only on activities \
                     (tasks, subprocesses and call activities)",
                    role.element(),
                    owner.describe()
                )),
            }
        }
        b"serviceTaskOperator" => match owner {
            Owner::Node(Some(Elem::Task(TaskElem::Service))) => vendor(Frame::Operator(Box::new(Operator {
                position,
                operation: attrs.id.take(),
                result_variable: attrs.result_variable.take(),
                params: Vec::new(),
            }))),
            Owner::Other => CoreFrame::Skip,
            _ => misplaced(format!(
                "`spiffworkflow:serviceTaskOperator` on {}: only a serviceTask calls an operation",
                owner.describe()
            )),
        },
        b"variableName"
            if matches!(
                owner,
                Owner::Error | Owner::Signal | Owner::Node(Some(Elem::Task(TaskElem::User)))
            ) =>
        {
            text(Role::VariableName)
        }
        b"payloadExpression" if matches!(owner, Owner::Error | Owner::Signal) => text(Role::PayloadExpression),
        b"messagePayload" if owner.carries_message() => text(Role::MessagePayload),
        b"messageVariable" if owner.carries_message() => text(Role::MessageVariable),
        b"processVariableCorrelation" if owner.carries_message() => {
            vendor(Frame::Correlation(Box::new((position, None, None))))
        }
        _ => CoreFrame::Skip,
    }
}

/// A `parameter` of the operator being read.
fn add_parameter(parser: &mut Parser<'_>, attrs: &mut Attrs<'_>, offset: usize) {
    let position = parser.position(offset);
    let element = parser.stack.extension_owner_id();
    let Some(operator) = parser.stack.nearest_vendor_mut(|frame| match frame {
        super::Frame::SpiffWorkflow(Frame::Operator(operator)) => Some(operator),
        _ => None,
    }) else {
        return;
    };
    let id = attrs
        .id
        .take()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty());
    let problem = match (&id, attrs.value.take()) {
        (None, _) => Some("`spiffworkflow:parameter` has no id: the id names the parameter".to_owned()),
        // SpiffWorkflow passes only the parameters that have a value.
        (Some(_), None) => None,
        (Some(id), Some(_)) if operator.params.iter().any(|p| &p.id == id) => {
            Some(format!("parameter `{id}` is given twice"))
        }
        (Some(id), Some(value)) if value.trim().is_empty() => Some(format!(
            "parameter `{id}` has an empty value: the value is an expression evaluated against \
             the task data (quote text, e.g. value=\"'abc'\")"
        )),
        (Some(id), Some(value)) => {
            operator.params.push(ServiceParam {
                id: id.clone(),
                kind: attrs.kind.take(),
                value: value.trim().to_owned(),
                line: position.line,
            });
            None
        }
    };
    if let Some(message) = problem {
        parser.report.report(position, element.as_deref(), message);
    }
}

/// A SpiffWorkflow element closed: an operator goes to its service task.
pub(super) fn close(parser: &mut Parser<'_>, frame: Frame) {
    if let Frame::Correlation(correlation) = frame {
        let (position, property, expression) = *correlation;
        let element = parser.stack.extension_owner_id();
        match (property, expression) {
            (Some(property), Some(expression)) => {
                if let Some(message) = parser.stack.extension_owner_mut().and_then(message_extensions) {
                    message.correlations.push(Retrieval { property, expression });
                }
            }
            _ => parser.report.report(
                position,
                element.as_deref(),
                "`spiffworkflow:processVariableCorrelation` needs a `spiffworkflow:propertyId` (a \
                 correlationProperty id) and a `spiffworkflow:expression` (read from the task data)",
            ),
        }
        return;
    }
    let Frame::Operator(operator) = frame else {
        return;
    };
    let position = operator.position;
    let element = parser.stack.extension_owner_id();
    match parser.stack.extension_owner_mut() {
        Some(CoreFrame::Node(node)) if node.head.vendor.spiff_operator.is_none() => {
            node.head.vendor.spiff_operator = Some(*operator);
        }
        Some(CoreFrame::Node(_)) => parser.report.report(
            position,
            element.as_deref(),
            "more than one `spiffworkflow:serviceTaskOperator`: a service task calls one operation",
        ),
        _ => {}
    }
}

/// Where the message extensions of an extension owner go.
fn message_extensions(owner: &mut CoreFrame) -> Option<&mut MessageExtensions> {
    match owner {
        CoreFrame::MessageDef(draft) => Some(&mut draft.extensions),
        CoreFrame::Message(message) => Some(&mut message.extensions),
        CoreFrame::Node(node) => Some(&mut node.head.vendor.message),
        _ => None,
    }
}

/// The text of a SpiffWorkflow element closed at `offset`.
pub(super) fn close_text(parser: &mut Parser<'_>, role: Role, text: Text, offset: usize) {
    if let Role::PropertyId | Role::CorrelationExpression = role {
        if let Some(correlation) = parser.stack.nearest_vendor_mut(|frame| match frame {
            super::Frame::SpiffWorkflow(Frame::Correlation(correlation)) => Some(correlation),
            _ => None,
        }) {
            let slot = if role == Role::PropertyId {
                &mut correlation.1
            } else {
                &mut correlation.2
            };
            *slot = text.trimmed();
        }
        return;
    }
    let element = parser.stack.extension_owner_id();
    let Some(owner) = parser.stack.extension_owner_mut() else {
        return;
    };
    match role {
        Role::PreScript | Role::PostScript => {
            let Some(head) = owner.head_mut() else {
                return;
            };
            let slot = if role == Role::PreScript {
                &mut head.vendor.pre_script
            } else {
                &mut head.vendor.post_script
            };
            if slot.is_none() {
                *slot = Some(text);
            } else {
                let position = parser.xml.position(offset);
                let message = format!("more than one `{}`: write the code in one", role.element());
                parser.report.report(position, element.as_deref(), message);
            }
        }
        Role::MessagePayload | Role::MessageVariable => {
            if let Some(message) = message_extensions(owner) {
                if role == Role::MessagePayload {
                    message.payload.get_or_insert(text);
                } else if message.variable.is_none() {
                    message.variable = text.trimmed();
                }
            }
        }
        Role::PropertyId | Role::CorrelationExpression => {}
        Role::VariableName if matches!(owner, CoreFrame::Node(_)) => {
            if let Some(head) = owner.head_mut()
                && head.vendor.form_variable.is_none()
            {
                head.vendor.form_variable = text.trimmed();
            }
        }
        Role::VariableName | Role::PayloadExpression => {
            let (variable, payload) = match owner {
                CoreFrame::Error(error) => (&mut error.variable, &mut error.payload),
                CoreFrame::Signal(signal) => (&mut signal.variable, &mut signal.payload),
                _ => return,
            };
            let slot = if role == Role::VariableName { variable } else { payload };
            if slot.is_none() {
                *slot = text.trimmed();
            }
        }
    }
}

/// A service task's call from its operator, or what is wrong with it (and
/// where, when not at the task).
pub(super) fn service_call(
    task_id: &str,
    operator: Option<Operator>,
) -> Result<ServiceCall, (Option<Position>, String)> {
    let Some(operator) = operator else {
        return Err((
            None,
            "service task has no `spiffworkflow:serviceTaskOperator`: add one in its extensionElements \
             naming the operation to call, e.g. <spiffworkflow:serviceTaskOperator id=\"lookup_product\"/>"
                .into(),
        ));
    };
    let at = Some(operator.position);
    let operation = operator.operation.map(|o| o.trim().to_owned()).unwrap_or_default();
    if operation.is_empty() {
        return Err((
            at,
            "`spiffworkflow:serviceTaskOperator` has no id: the id names the operation to call".into(),
        ));
    }
    script::operation_name(&operation).map_err(|message| (at, message))?;
    let result_variable = match operator.result_variable.map(|r| r.trim().to_owned()) {
        Some(r) if !r.is_empty() => r,
        // SpiffWorkflow's default.
        _ => format!("spiff__{}_result", task_id.replace('-', "_")),
    };
    Ok(ServiceCall {
        operation,
        params: operator.params,
        result_variable,
    })
}
