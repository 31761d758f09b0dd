//! The guest ABI, version 1: the JSON request the host sends and the responses it accepts.
//!
//! The contract is fixed in the project's design notes; this module is its host side.
//! Requests borrow the task data so that building one does not copy it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::call::TaskInfo;

/// The ABI version this host speaks.
pub const ABI_VERSION: u32 = 1;

/// What kind of call a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    /// A script task: the response carries the complete new task data.
    Script,
    /// A service operation: the response carries a result value.
    Service,
    /// An expression (a gateway condition): the response carries its value.
    Expression,
}

/// A request, host → plugin.
#[derive(Debug, Serialize)]
pub struct Request<'a> {
    /// Always [`ABI_VERSION`].
    pub abi: u32,
    /// What is asked.
    pub call: CallKind,
    /// The task the call runs for.
    pub task: &'a TaskInfo,
    /// The task's data.
    pub data: &'a Map<String, Value>,
    /// Inline source (interpreter plugins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    /// The service operation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'a str>,
    /// Service parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<&'a Map<String, Value>>,
    /// Static configuration from the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'a Value>,
}

impl Request<'_> {
    /// The request as the JSON bytes that cross into the sandbox.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain maps of JSON values cannot fail.
        serde_json::to_vec(self).expect("a request always serializes")
    }
}

/// A response, plugin → host, after validation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// Success: `data` for a script, `result` for a service or expression.
    Ok {
        /// The complete new task data (scripts).
        #[serde(default)]
        data: Option<Map<String, Value>>,
        /// The value (services and expressions).
        #[serde(default)]
        result: Option<Value>,
    },
    /// A BPMN error to throw from the task.
    BpmnError {
        /// The error code a boundary event can catch.
        code: String,
        /// A human-readable name.
        #[serde(default)]
        name: Option<String>,
        /// Data for the catching path.
        #[serde(default)]
        payload: Option<Value>,
    },
    /// An escalation to throw from the task: caught by a matching
    /// escalation catch; the task goes on (with its data as it was) unless
    /// an interrupting catch takes over.
    Escalation {
        /// The escalation code catch events match.
        code: String,
        /// A human-readable name.
        #[serde(default)]
        name: Option<String>,
        /// Data for the catching path.
        #[serde(default)]
        payload: Option<Value>,
    },
    /// Stop the instance here until an operator resumes it.
    Halt {
        /// Why, for the operator.
        message: String,
    },
    /// An ordinary failure: the task goes to ERROR.
    Error {
        /// What went wrong.
        message: String,
        /// The line of the script where it went wrong, if known.
        #[serde(default)]
        line: Option<u32>,
    },
}

/// Why a response could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseProblem {
    /// Not JSON, or not one of the response shapes.
    Invalid(String),
    /// A `status` this host does not know.
    UnknownStatus(String),
}

impl Response {
    /// Parses and checks a response's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Response, ResponseProblem> {
        match serde_json::from_slice::<Response>(bytes) {
            Ok(response) => Ok(response.escaped()),
            Err(err) => {
                // Tell an unknown status apart from malformed JSON: the fix differs.
                if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(bytes)
                    && let Some(Value::String(status)) = object.get("status")
                    && !matches!(status.as_str(), "ok" | "bpmn_error" | "escalation" | "error" | "halt")
                {
                    return Err(ResponseProblem::UnknownStatus(
                        crate::call::escape_controls(status).into_owned(),
                    ));
                }
                Err(ResponseProblem::Invalid(format!("{err}: {}", preview(bytes))))
            }
        }
    }
}

impl Response {
    /// The response with the text meant for people (messages, names) safe to
    /// print (see [`crate::call::escape_controls`]); codes and data are left as sent.
    fn escaped(self) -> Response {
        let escape = |text: String| match crate::call::escape_controls(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(escaped) => escaped,
        };
        match self {
            Response::BpmnError { code, name, payload } => Response::BpmnError {
                code,
                name: name.map(escape),
                payload,
            },
            Response::Escalation { code, name, payload } => Response::Escalation {
                code,
                name: name.map(escape),
                payload,
            },
            Response::Halt { message } => Response::Halt {
                message: escape(message),
            },
            Response::Error { message, line } => Response::Error {
                message: escape(message),
                line,
            },
            ok => ok,
        }
    }
}

/// The start of some bytes, as text, for an error message.
pub(crate) fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let ellipsis = if bytes.len() > MAX { "…" } else { "" };
    format!("{:?}{ellipsis}", text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_escalation_reads_with_its_code_name_and_payload() {
        let response = Response::parse(br#"{"status":"escalation","code":"late","payload":{"days":3}}"#).unwrap();
        assert_eq!(
            response,
            Response::Escalation {
                code: "late".into(),
                name: None,
                payload: Some(json!({"days": 3})),
            }
        );
        assert_eq!(
            Response::parse(br#"{"status":"escalation"}"#).map_err(|e| matches!(e, ResponseProblem::Invalid(_))),
            Err(true),
            "an escalation needs its code"
        );
    }

    #[test]
    fn request_has_the_documented_shape() {
        let task = TaskInfo {
            id: "3".into(),
            spec: "Activity_1".into(),
            name: Some("Total".into()),
            process: "order".into(),
            instance: "i".into(),
        };
        let data = json!({"x": 1}).as_object().unwrap().clone();
        let request = Request {
            abi: ABI_VERSION,
            call: CallKind::Expression,
            task: &task,
            data: &data,
            source: Some("x > 0"),
            operation: None,
            params: None,
            config: None,
        };
        let value: Value = serde_json::from_slice(&request.to_bytes()).unwrap();
        assert_eq!(
            value,
            json!({"abi": 1, "call": "expression", "task": {"id": "3", "spec": "Activity_1", "name": "Total", "process": "order", "instance": "i"}, "data": {"x": 1}, "source": "x > 0"})
        );
    }

    #[test]
    fn responses_parse_and_problems_are_told_apart() {
        assert_eq!(
            Response::parse(br#"{"status":"ok","result":42}"#),
            Ok(Response::Ok {
                data: None,
                result: Some(json!(42))
            })
        );
        assert_eq!(
            Response::parse(br#"{"status":"error","message":"bad","line":3}"#),
            Ok(Response::Error {
                message: "bad".into(),
                line: Some(3)
            })
        );
        assert_eq!(
            Response::parse(br#"{"status":"maybe"}"#),
            Err(ResponseProblem::UnknownStatus("maybe".into()))
        );
        assert!(matches!(Response::parse(b"not json {"), Err(ResponseProblem::Invalid(m)) if m.contains("not json")));
        assert!(matches!(
            Response::parse(br#"{"status":"ok","data":[1]}"#),
            Err(ResponseProblem::Invalid(_))
        ));
    }
}
