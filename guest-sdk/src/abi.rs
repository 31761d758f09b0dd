//! The wire format of the guest ABI, version 1: [`Request`] and [`Response`].

use std::fmt;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The version of the guest ABI this SDK speaks.
///
/// Every [`Request`] carries the version it was written for in its `abi` field; the SDK answers
/// any other version with an `error` response before your code runs.
///
/// ```
/// assert_eq!(wasmflow_guest::ABI_VERSION, 1);
/// ```
pub const ABI_VERSION: u32 = 1;

/// What the host asks a plugin to do.
///
/// Serialized in lower case: `"script"`, `"service"`, `"expression"`.
///
/// ```
/// use wasmflow_guest::Call;
///
/// let call: Call = serde_json::from_str(r#""service""#).unwrap();
/// assert_eq!(call, Call::Service);
/// assert_eq!(call.to_string(), "service");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Call {
    /// Run a script task: answer with the complete new task data
    /// (`{"status":"ok","data":{…}}`).
    Script,
    /// Run a service task operation: answer with a value (`{"status":"ok","result":…}`).
    Service,
    /// Evaluate an expression (a gateway condition, say): answer with a value
    /// (`{"status":"ok","result":…}`).
    Expression,
}

impl Call {
    /// The name used on the wire.
    ///
    /// ```
    /// assert_eq!(wasmflow_guest::Call::Expression.as_str(), "expression");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Call::Script => "script",
            Call::Service => "service",
            Call::Expression => "expression",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which task of which workflow instance a request is for.
///
/// Informational: use it in log lines and error messages. Every field defaults to empty when the
/// host leaves it out.
///
/// ```
/// use wasmflow_guest::TaskInfo;
///
/// let task: TaskInfo = serde_json::from_str(
///     r#"{"id":"t1","spec":"Activity_1","name":"Compute total","process":"order","instance":"i1"}"#,
/// ).unwrap();
/// assert_eq!(task.spec, "Activity_1");
/// assert_eq!(task.name.as_deref(), Some("Compute total"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskInfo {
    /// The task's unique id within its instance.
    pub id: String,
    /// The id of the BPMN element the task executes (`Activity_1`).
    pub spec: String,
    /// The element's human name, if the diagram gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The id of the BPMN process.
    pub process: String,
    /// The id of the workflow instance.
    pub instance: String,
}

/// One request from the host, as defined by the guest ABI version 1.
///
/// Plugins written with [`export!`](crate::export) of kind `script`, `service` or
/// `expression` see it through a [`Context`](crate::Context); `handler` plugins receive it as is.
///
/// ```
/// use wasmflow_guest::{Call, Request};
///
/// let req: Request = serde_json::from_str(r#"{
///     "abi": 1, "call": "expression",
///     "task": {"id": "t", "spec": "Gateway_1", "process": "p", "instance": "i"},
///     "data": {"x": 3},
///     "source": "x > 2"
/// }"#).unwrap();
/// assert_eq!(req.call, Call::Expression);
/// assert_eq!(req.source.as_deref(), Some("x > 2"));
/// assert!(req.params.is_empty());
/// assert!(req.config.is_null());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The ABI version the host wrote the request for; always [`ABI_VERSION`] by the time plugin
    /// code sees it.
    pub abi: u32,
    /// What to do.
    pub call: Call,
    /// The task the call is for.
    #[serde(default)]
    pub task: TaskInfo,
    /// The task's data.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Inline script or expression text (for interpreter plugins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The service operation to run (for service plugins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The service task's parameters.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// The plugin's static configuration from the manifest (`null` when there is none).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub config: Value,
}

impl Request {
    /// A request of the given kind for ABI version 1, with everything else empty: the start of
    /// a request built by hand, e.g. in a plugin's native unit tests.
    ///
    /// ```
    /// use wasmflow_guest::{Call, Request};
    /// use serde_json::json;
    ///
    /// let req = Request::new(Call::Script).with_data(json!({"x": 1}));
    /// assert_eq!(req.abi, 1);
    /// assert_eq!(req.data["x"], 1);
    /// ```
    pub fn new(call: Call) -> Self {
        Request {
            abi: ABI_VERSION,
            call,
            task: TaskInfo::default(),
            data: Map::new(),
            source: None,
            operation: None,
            params: Map::new(),
            config: Value::Null,
        }
    }

    /// Replace the task data. `data` must be a JSON object; anything else gives empty data.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request};
    /// let req = Request::new(Call::Script).with_data(serde_json::json!({"name": "Ada"}));
    /// assert_eq!(req.data["name"], "Ada");
    /// ```
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = match data {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self
    }

    /// Set the inline source text.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request};
    /// let req = Request::new(Call::Expression).with_source("x > 2");
    /// assert_eq!(req.source.as_deref(), Some("x > 2"));
    /// ```
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Set the service operation.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request};
    /// let req = Request::new(Call::Service).with_operation("lookup_product_info");
    /// assert_eq!(req.operation.as_deref(), Some("lookup_product_info"));
    /// ```
    pub fn with_operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// Replace the service parameters. `params` must be a JSON object; anything else gives no
    /// parameters.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request};
    /// let req = Request::new(Call::Service)
    ///     .with_params(serde_json::json!({"product_name": "product_a"}));
    /// assert_eq!(req.params["product_name"], "product_a");
    /// ```
    pub fn with_params(mut self, params: Value) -> Self {
        self.params = match params {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self
    }

    /// Replace the plugin configuration.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request};
    /// let req = Request::new(Call::Script).with_config(serde_json::json!({"size": 10}));
    /// assert_eq!(req.config["size"], 10);
    /// ```
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// Replace the task information.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request, TaskInfo};
    /// let task = TaskInfo { spec: "Activity_1".into(), ..TaskInfo::default() };
    /// let req = Request::new(Call::Script).with_task(task);
    /// assert_eq!(req.task.spec, "Activity_1");
    /// ```
    pub fn with_task(mut self, task: TaskInfo) -> Self {
        self.task = task;
        self
    }

    /// The request as JSON text, as the host would send it.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Request};
    /// let text = Request::new(Call::Script).to_json();
    /// assert!(text.starts_with(r#"{"abi":1,"call":"script""#));
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Request always serializes")
    }
}

/// One answer to the host, as defined by the guest ABI version 1.
///
/// Serializes exactly to the shapes of the ABI (fields that are `None` are left out):
///
/// | variant | JSON |
/// |---|---|
/// | `Data(map)` | `{"status":"ok","data":{…}}` |
/// | `Result(v)` | `{"status":"ok","result":v}` |
/// | `BpmnError{..}` | `{"status":"bpmn_error","code":"…","name":"…","payload":…}` |
/// | `Escalation{..}` | `{"status":"escalation","code":"…","name":"…","payload":…}` |
/// | `Error{..}` | `{"status":"error","message":"…","line":3}` |
///
/// ```
/// use wasmflow_guest::Response;
/// use serde_json::json;
///
/// let r = Response::Result(json!(42));
/// assert_eq!(r.to_json(), r#"{"status":"ok","result":42}"#);
///
/// let r = Response::error_at("name 'y' is not defined", 2);
/// assert_eq!(r.to_json(), r#"{"status":"error","message":"name 'y' is not defined","line":2}"#);
///
/// let back: Response = serde_json::from_str(r#"{"status":"ok","data":{"x":2}}"#).unwrap();
/// assert_eq!(back, Response::Data(json!({"x": 2}).as_object().unwrap().clone()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A script's complete new task data.
    Data(Map<String, Value>),
    /// A service's or expression's value.
    Result(Value),
    /// A BPMN error to throw: caught by a matching boundary or event-subprocess catch.
    BpmnError {
        /// The error code that catch events match on.
        code: String,
        /// A human name for the error.
        name: Option<String>,
        /// Data handed to the catching flow.
        payload: Option<Value>,
    },
    /// An escalation to throw from the task: caught by a matching escalation
    /// catch; the task goes on unless an interrupting catch takes over.
    Escalation {
        /// The escalation code that catch events match on.
        code: String,
        /// A human name for the escalation.
        name: Option<String>,
        /// Data handed to the catching flow.
        payload: Option<Value>,
    },
    /// A failure: the task goes to ERROR and the instance stops with this message.
    Error {
        /// What went wrong.
        message: String,
        /// The 1-based line in the task's source where it went wrong, if known.
        line: Option<u32>,
    },
    /// Stop here for now: the task waits and the instance is kept as halted
    /// with this message, until an operator resumes it (possibly with amended data).
    Halt {
        /// Why the instance halted, for the operator.
        message: String,
    },
}

impl Response {
    /// An `error` response without a line number.
    ///
    /// ```
    /// use wasmflow_guest::Response;
    /// assert_eq!(Response::error("boom").to_json(), r#"{"status":"error","message":"boom"}"#);
    /// ```
    pub fn error(message: impl Into<String>) -> Self {
        Response::Error {
            message: message.into(),
            line: None,
        }
    }

    /// An `error` response pointing at a 1-based line of the task's source.
    ///
    /// ```
    /// use wasmflow_guest::Response;
    /// let r = Response::error_at("boom", 3);
    /// assert_eq!(r.to_json(), r#"{"status":"error","message":"boom","line":3}"#);
    /// ```
    pub fn error_at(message: impl Into<String>, line: u32) -> Self {
        Response::Error {
            message: message.into(),
            line: Some(line),
        }
    }

    /// The response as JSON text.
    ///
    /// ```
    /// use wasmflow_guest::Response;
    /// assert_eq!(Response::Result(true.into()).to_json(), r#"{"status":"ok","result":true}"#);
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Response always serializes")
    }

    /// The response as JSON bytes, what a plugin hands back to the host.
    ///
    /// ```
    /// use wasmflow_guest::Response;
    /// assert_eq!(Response::error("x").to_json_bytes(), br#"{"status":"error","message":"x"}"#);
    /// ```
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a Response always serializes")
    }

    /// Whether this is an `ok` response (`Data` or `Result`).
    ///
    /// ```
    /// use wasmflow_guest::Response;
    /// assert!(Response::Result(1.into()).is_ok());
    /// assert!(!Response::error("no").is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        matches!(self, Response::Data(_) | Response::Result(_))
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Response::Data(data) => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("status", "ok")?;
                m.serialize_entry("data", data)?;
                m.end()
            }
            Response::Result(value) => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("status", "ok")?;
                m.serialize_entry("result", value)?;
                m.end()
            }
            Response::BpmnError { code, name, payload } | Response::Escalation { code, name, payload } => {
                let status = match self {
                    Response::BpmnError { .. } => "bpmn_error",
                    _ => "escalation",
                };
                let payload = payload.as_ref().filter(|p| !p.is_null());
                let len = 2 + name.is_some() as usize + payload.is_some() as usize;
                let mut m = serializer.serialize_map(Some(len))?;
                m.serialize_entry("status", status)?;
                m.serialize_entry("code", code)?;
                if let Some(name) = name {
                    m.serialize_entry("name", name)?;
                }
                if let Some(payload) = payload {
                    m.serialize_entry("payload", payload)?;
                }
                m.end()
            }
            Response::Halt { message } => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("status", "halt")?;
                m.serialize_entry("message", message)?;
                m.end()
            }
            Response::Error { message, line } => {
                let mut m = serializer.serialize_map(Some(2 + line.is_some() as usize))?;
                m.serialize_entry("status", "error")?;
                m.serialize_entry("message", message)?;
                if let Some(line) = line {
                    m.serialize_entry("line", line)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Response::from_value(value).map_err(D::Error::custom)
    }
}

impl Response {
    fn from_value(value: Value) -> Result<Self, String> {
        let Value::Object(mut obj) = value else {
            return Err("a response must be a JSON object".into());
        };
        let status = match obj.remove("status") {
            Some(Value::String(s)) => s,
            Some(_) => return Err("`status` must be a string".into()),
            None => return Err("a response needs a `status`".into()),
        };
        let opt_string = |obj: &mut Map<String, Value>, key: &str| -> Result<Option<String>, String> {
            match obj.remove(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(format!("`{key}` must be a string")),
            }
        };
        match status.as_str() {
            "ok" => match (obj.remove("data"), obj.remove("result")) {
                (Some(Value::Object(data)), None) => Ok(Response::Data(data)),
                (Some(_), None) => Err("`data` must be a JSON object".into()),
                (None, Some(result)) => Ok(Response::Result(result)),
                (Some(_), Some(_)) => Err("an ok response has `data` or `result`, not both".into()),
                (None, None) => Err("an ok response needs `data` or `result`".into()),
            },
            "bpmn_error" => {
                let code =
                    opt_string(&mut obj, "code")?.ok_or_else(|| "a bpmn_error response needs a `code`".to_string())?;
                let name = opt_string(&mut obj, "name")?;
                let payload = obj.remove("payload").filter(|p| !p.is_null());
                Ok(Response::BpmnError { code, name, payload })
            }
            "escalation" => {
                let code =
                    opt_string(&mut obj, "code")?.ok_or_else(|| "an escalation response needs a `code`".to_string())?;
                let name = opt_string(&mut obj, "name")?;
                let payload = obj.remove("payload").filter(|p| !p.is_null());
                Ok(Response::Escalation { code, name, payload })
            }
            "halt" => {
                let message =
                    opt_string(&mut obj, "message")?.ok_or_else(|| "a halt response needs a `message`".to_string())?;
                Ok(Response::Halt { message })
            }
            "error" => {
                let message = opt_string(&mut obj, "message")?
                    .ok_or_else(|| "an error response needs a `message`".to_string())?;
                let line = match obj.remove("line") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        v.as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| "`line` must be a positive integer".to_string())?,
                    ),
                };
                Ok(Response::Error { message, line })
            }
            other => Err(format!(
                "unknown status `{other}` (expected ok, bpmn_error, escalation, halt or error)"
            )),
        }
    }
}
