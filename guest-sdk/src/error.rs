//! [`Error`]: what a plugin function returns when it does not succeed.

use std::fmt;

use serde_json::Value;

use crate::abi::Response;

/// `Result` with the SDK's [`Error`] as the default error type.
///
/// ```
/// use wasmflow_guest::Result;
///
/// fn half(n: i64) -> Result<i64> {
///     if n % 2 != 0 {
///         return Err("odd number".into());
///     }
///     Ok(n / 2)
/// }
/// assert_eq!(half(4).unwrap(), 2);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a plugin call did not succeed: a BPMN error to throw, or a plain failure.
///
/// * [`Error::bpmn`] / [`Error::bpmn_error`] become a `bpmn_error` response: the engine throws a
///   BPMN error event that a boundary or event-subprocess catch with the same code can handle.
/// * [`Error::msg`] / [`Error::msg_at`] (and every conversion through `?`) become an `error`
///   response: the task goes to ERROR and the instance stops with the message.
///
/// `?` converts `String`, `&str`, `serde_json::Error`, `std::io::Error`, the standard parse
/// errors and `Box<dyn std::error::Error + Send + Sync>`; anything else that displays can go
/// through `.map_err(Error::msg)`.
///
/// ```
/// use wasmflow_guest::{Error, Result};
/// use serde_json::json;
///
/// fn charge(amount: f64) -> Result<()> {
///     if amount > 1000.0 {
///         return Err(Error::bpmn_error("limit_exceeded", json!({"amount": amount})));
///     }
///     let _cents: i64 = "12x".parse()?; // a ParseIntError becomes Error::msg
///     Ok(())
/// }
/// assert_eq!(charge(5000.0).unwrap_err().code(), Some("limit_exceeded"));
/// assert!(charge(1.0).unwrap_err().to_string().contains("invalid digit"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Bpmn {
        code: String,
        name: Option<String>,
        payload: Option<Value>,
        /// An escalation rather than an error.
        escalation: bool,
    },
    Message {
        message: String,
        line: Option<u32>,
    },
    Halt {
        message: String,
    },
}

impl Error {
    /// A BPMN error with the given code, to be caught by a catch event matching the code.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// let e = Error::bpmn("file_not_found").with_name("File not found");
    /// assert_eq!(e.code(), Some("file_not_found"));
    /// ```
    pub fn bpmn(code: impl Into<String>) -> Self {
        Error {
            kind: Kind::Bpmn {
                code: code.into(),
                name: None,
                payload: None,
                escalation: false,
            },
        }
    }

    /// A BPMN error with a code and a payload handed to the catching flow.
    ///
    /// ```
    /// use wasmflow_guest::{Error, Response};
    /// use serde_json::json;
    ///
    /// let e = Error::bpmn_error("payment_failed", json!({"reason": "card declined"}));
    /// assert_eq!(
    ///     Response::from(e).to_json(),
    ///     r#"{"status":"bpmn_error","code":"payment_failed","payload":{"reason":"card declined"}}"#
    /// );
    /// ```
    pub fn bpmn_error(code: impl Into<String>, payload: impl Into<Value>) -> Self {
        Error::bpmn(code).with_payload(payload)
    }

    /// An escalation with the given code: the engine throws it from the
    /// task to a matching escalation catch, and the task goes on (with the
    /// data it was reached with: an escalating call hands back no new data)
    /// unless an interrupting catch takes over. Uncaught, it is recorded and
    /// the task goes on. `with_name` and `with_payload` apply as for errors.
    ///
    /// ```
    /// use wasmflow_guest::{Error, Response};
    /// use serde_json::json;
    ///
    /// let e = Error::escalation("late").with_payload(json!({"days": 3}));
    /// assert!(e.is_escalation());
    /// assert_eq!(Response::from(e).to_json(), r#"{"status":"escalation","code":"late","payload":{"days":3}}"#);
    /// ```
    pub fn escalation(code: impl Into<String>) -> Self {
        Error {
            kind: Kind::Bpmn {
                code: code.into(),
                name: None,
                payload: None,
                escalation: true,
            },
        }
    }

    /// Whether this is an escalation (see [`Error::escalation`]).
    ///
    /// ```
    /// assert!(!wasmflow_guest::Error::bpmn("x").is_escalation());
    /// ```
    pub fn is_escalation(&self) -> bool {
        matches!(self.kind, Kind::Bpmn { escalation: true, .. })
    }

    /// Halts the instance at this task: it waits, kept as halted with `message`,
    /// until an operator resumes it (`wasmflow resume ID --data ...` re-runs the task).
    ///
    /// ```
    /// use wasmflow_guest::{Error, Response};
    /// let e = Error::halt("grade below 50: needs review");
    /// assert!(e.is_halt());
    /// assert_eq!(Response::from(e).to_json(), r#"{"status":"halt","message":"grade below 50: needs review"}"#);
    /// ```
    pub fn halt(message: impl fmt::Display) -> Self {
        Error {
            kind: Kind::Halt {
                message: message.to_string(),
            },
        }
    }

    /// Whether this error halts the instance rather than failing the task.
    ///
    /// ```
    /// assert!(!wasmflow_guest::Error::msg("no").is_halt());
    /// ```
    pub fn is_halt(&self) -> bool {
        matches!(self.kind, Kind::Halt { .. })
    }

    /// A plain failure with a message.
    ///
    /// Takes anything that displays, so it also works as `.map_err(Error::msg)`.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert_eq!(Error::msg("nope").to_string(), "nope");
    /// let e = "x".parse::<u8>().map_err(Error::msg).unwrap_err();
    /// assert_eq!(e.to_string(), "invalid digit found in string");
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            kind: Kind::Message {
                message: message.to_string(),
                line: None,
            },
        }
    }

    /// A plain failure pointing at a 1-based line of the task's source.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert_eq!(Error::msg_at("nope", 7).line(), Some(7));
    /// ```
    pub fn msg_at(message: impl fmt::Display, line: u32) -> Self {
        Error::msg(message).at_line(line)
    }

    /// Set the 1-based source line of a plain failure (no effect on a BPMN error).
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert_eq!(Error::msg("nope").at_line(7).line(), Some(7));
    /// ```
    pub fn at_line(mut self, line: u32) -> Self {
        if let Kind::Message { line: l, .. } = &mut self.kind {
            *l = Some(line);
        }
        self
    }

    /// Set the human name of a BPMN error (no effect on a plain failure).
    ///
    /// ```
    /// use wasmflow_guest::{Error, Response};
    /// let r = Response::from(Error::bpmn("e1").with_name("Out of stock"));
    /// assert_eq!(r.to_json(), r#"{"status":"bpmn_error","code":"e1","name":"Out of stock"}"#);
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        if let Kind::Bpmn { name: n, .. } = &mut self.kind {
            *n = Some(name.into());
        }
        self
    }

    /// Set the payload of a BPMN error (no effect on a plain failure). A `null` payload is left
    /// out of the response.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// let e = Error::bpmn("e1").with_payload("details");
    /// assert_eq!(e.payload(), Some(&serde_json::json!("details")));
    /// ```
    pub fn with_payload(mut self, payload: impl Into<Value>) -> Self {
        if let Kind::Bpmn { payload: p, .. } = &mut self.kind {
            *p = Some(payload.into()).filter(|v: &Value| !v.is_null());
        }
        self
    }

    /// Prefix the message of a plain failure with some context (`context: message`).
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// let e = Error::msg("connection refused").context("calling the stock service");
    /// assert_eq!(e.to_string(), "calling the stock service: connection refused");
    /// ```
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        if let Kind::Message { message, .. } = &mut self.kind {
            *message = format!("{context}: {message}");
        }
        self
    }

    /// The code, if this is a BPMN error.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert_eq!(Error::bpmn("x").code(), Some("x"));
    /// assert_eq!(Error::msg("x").code(), None);
    /// ```
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            Kind::Bpmn { code, .. } => Some(code),
            Kind::Message { .. } | Kind::Halt { .. } => None,
        }
    }

    /// The payload, if this is a BPMN error that has one.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert_eq!(Error::bpmn("x").payload(), None);
    /// ```
    pub fn payload(&self) -> Option<&Value> {
        match &self.kind {
            Kind::Bpmn { payload, .. } => payload.as_ref(),
            Kind::Message { .. } | Kind::Halt { .. } => None,
        }
    }

    /// The source line, if this is a plain failure that has one.
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert_eq!(Error::msg("x").line(), None);
    /// ```
    pub fn line(&self) -> Option<u32> {
        match &self.kind {
            Kind::Message { line, .. } => *line,
            Kind::Bpmn { .. } | Kind::Halt { .. } => None,
        }
    }

    /// Whether this is a BPMN error (rather than a plain failure).
    ///
    /// ```
    /// use wasmflow_guest::Error;
    /// assert!(Error::bpmn("x").is_bpmn());
    /// ```
    pub fn is_bpmn(&self) -> bool {
        matches!(self.kind, Kind::Bpmn { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bpmn {
                code, name, escalation, ..
            } => {
                let what = if *escalation { "escalation" } else { "BPMN error" };
                match name {
                    Some(name) => write!(f, "{what} `{code}` ({name})"),
                    None => write!(f, "{what} `{code}`"),
                }
            }
            Kind::Message { message, .. } => f.write_str(message),
            Kind::Halt { message } => write!(f, "halted: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for Response {
    /// `bpmn` errors become `bpmn_error` responses, escalations `escalation`
    /// responses, halts `halt` responses, the others `error` responses.
    fn from(e: Error) -> Self {
        match e.kind {
            Kind::Bpmn {
                code,
                name,
                payload,
                escalation: false,
            } => Response::BpmnError { code, name, payload },
            Kind::Bpmn {
                code,
                name,
                payload,
                escalation: true,
            } => Response::Escalation { code, name, payload },
            Kind::Message { message, line } => Response::Error { message, line },
            Kind::Halt { message } => Response::Halt { message },
        }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::msg(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::msg(message)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Error::msg(e)
    }
}

impl From<Box<dyn std::error::Error>> for Error {
    fn from(e: Box<dyn std::error::Error>) -> Self {
        Error::msg(e)
    }
}

/// `From` for error types whose message is all we need.
macro_rules! from_display {
    ($($t:ty),* $(,)?) => {
        $(
            impl From<$t> for Error {
                fn from(e: $t) -> Self {
                    Error::msg(e)
                }
            }
        )*
    };
}

from_display!(
    serde_json::Error,
    std::io::Error,
    std::fmt::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::num::TryFromIntError,
    std::str::ParseBoolError,
    std::char::ParseCharError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    std::env::VarError,
);
