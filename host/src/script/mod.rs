//! The script engine: what it means to run a script, call a service or evaluate
//! an expression, whichever executor runs the plugin.
//!
//! It builds ABI requests, hands them to an [`Executor`], and turns responses
//! into task data or values, or into a [`ScriptError`] that names the plugin.
//! Keeping this here, not in the executors, is what makes executors behave
//! identically.

pub mod abi;
mod error;
mod limits;
mod plugin;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use abi::{CallKind, Request, Response, TaskInfo};
pub use error::{FailureKind, ScriptError};
pub use limits::{Limits, parse_duration, parse_size};
pub use plugin::{PYTHON, Plugin, PluginDirectory, PluginSource};

use crate::bpmn::Script;
use crate::capability::Grants;
use crate::executor::{Call, Executor, Reply};

/// A successful call's value and what the plugin logged on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    /// The new task data (scripts) or the result (expressions, services).
    pub value: T,
    /// The plugin's log and captured output.
    pub log: String,
}

/// Runs user code for the workflow engine.
///
/// ```no_run
/// use std::sync::Arc;
/// use wasmflow::executor::InProcess;
/// use wasmflow::script::{ScriptEngine, TaskInfo};
///
/// let engine = ScriptEngine::new(Arc::new(InProcess::new(Default::default())?), "plugins");
/// let data = serde_json::json!({"x": 41}).as_object().unwrap().clone();
/// let value = engine.evaluate(&TaskInfo::default(), "x + 1", &data)?.value;
/// assert_eq!(value, serde_json::json!(42));
/// # Ok::<(), anyhow::Error>(())
/// ```
#[derive(Clone)]
pub struct ScriptEngine {
    executor: Arc<dyn Executor>,
    plugins: PluginDirectory,
    limits: Limits,
    python: Plugin,
    grants: Grants,
}

impl ScriptEngine {
    /// A script engine running plugins from `plugin_dir` on `executor`, with default limits.
    pub fn new(executor: Arc<dyn Executor>, plugin_dir: impl Into<std::path::PathBuf>) -> Self {
        ScriptEngine {
            executor,
            plugins: PluginDirectory::new(plugin_dir),
            limits: Limits::default(),
            python: Plugin::python(),
            grants: Grants::none(),
        }
    }

    /// The same engine with other per-call limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The per-call limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Where plugins are looked up.
    pub fn plugins(&self) -> &PluginDirectory {
        &self.plugins
    }

    /// The plugin a script runs on: a compiled plugin, or the built-in interpreter.
    pub fn plugin_for(&self, script: &Script) -> Result<Plugin, ScriptError> {
        match script {
            Script::Plugin { name } => self.plugins.resolve(name),
            Script::Inline { .. } => Ok(self.python.clone()),
        }
    }

    /// Loads a plugin without running it, so problems show before a workflow starts.
    pub fn prepare(&self, plugin: &Plugin) -> Result<(), ScriptError> {
        self.executor.prepare(plugin)
    }

    /// Runs a script task's script; the result is the complete new task data.
    pub fn run_script(
        &self,
        task: &TaskInfo,
        script: &Script,
        data: &Map<String, Value>,
    ) -> Result<Outcome<Map<String, Value>>, ScriptError> {
        let plugin = self.plugin_for(script)?;
        let (source, first_line) = match script {
            Script::Inline { source, line } => (Some(source.as_str()), Some(*line)),
            Script::Plugin { .. } => (None, None),
        };
        let request = Request {
            abi: abi::ABI_VERSION,
            call: CallKind::Script,
            task,
            data,
            source,
            operation: None,
            params: None,
            config: None,
        };
        let outcome = self.call(&plugin, &request.to_bytes(), first_line)?;
        match outcome.value {
            Response::Ok { data: Some(data), .. } => Ok(Outcome {
                value: data,
                log: outcome.log,
            }),
            Response::Ok { .. } => Err(ScriptError::new(
                &plugin.name,
                FailureKind::InvalidResponse,
                "a script's `ok` response must carry the new task data as a `data` object",
            )
            .with_log(outcome.log)),
            other => Err(failure(&plugin.name, other, outcome.log)),
        }
    }

    /// Evaluates an expression (a gateway condition) against task data.
    pub fn evaluate(
        &self,
        task: &TaskInfo,
        expression: &str,
        data: &Map<String, Value>,
    ) -> Result<Outcome<Value>, ScriptError> {
        let request = Request {
            abi: abi::ABI_VERSION,
            call: CallKind::Expression,
            task,
            data,
            source: Some(expression),
            operation: None,
            params: None,
            config: None,
        };
        let outcome = self.call(&self.python, &request.to_bytes(), None)?;
        match outcome.value {
            Response::Ok { result, .. } => Ok(Outcome {
                value: result.unwrap_or(Value::Null),
                log: outcome.log,
            }),
            other => Err(failure(&self.python.name, other, outcome.log)),
        }
    }

    /// Checks that inline source parses, without running it (`wasmflow check`).
    ///
    /// The built-in interpreter takes `config: {"check": true}` to mean "parse only".
    pub fn check_source(&self, call: CallKind, source: &str, first_line: u32) -> Result<(), ScriptError> {
        let config = serde_json::json!({"check": true});
        let request = Request {
            abi: abi::ABI_VERSION,
            call,
            task: &TaskInfo::default(),
            data: &Map::new(),
            source: Some(source),
            operation: None,
            params: None,
            config: Some(&config),
        };
        let outcome = self.call(&self.python, &request.to_bytes(), Some(first_line))?;
        match outcome.value {
            Response::Ok { .. } => Ok(()),
            other => Err(failure(&self.python.name, other, outcome.log)),
        }
    }

    /// Sends raw request bytes to a plugin and returns its checked response.
    ///
    /// `first_line` maps a line reported by an inline script to its line in the BPMN file.
    pub fn call(
        &self,
        plugin: &Plugin,
        request: &[u8],
        first_line: Option<u32>,
    ) -> Result<Outcome<Response>, ScriptError> {
        let Reply { response, log } = self.executor.call(Call {
            plugin,
            request,
            limits: self.limits,
            grants: &self.grants,
        })?;
        if response.len() > self.limits.response {
            return Err(ScriptError::new(
                &plugin.name,
                FailureKind::ResponseTooLarge,
                format!(
                    "the response is {} bytes; the limit is {} bytes (raise it with --max-response)",
                    response.len(),
                    self.limits.response
                ),
            )
            .with_log(log));
        }
        match Response::parse(&response) {
            Ok(Response::Error { message, line }) => {
                let line = match (line, first_line) {
                    (Some(line), Some(first)) => Some(first + line.max(1) - 1),
                    (line, _) => line,
                };
                Ok(Outcome {
                    value: Response::Error { message, line },
                    log,
                })
            }
            Ok(value) => Ok(Outcome { value, log }),
            Err(abi::ResponseProblem::UnknownStatus(status)) => Err(ScriptError::new(
                &plugin.name,
                FailureKind::WrongStatus,
                format!("the response has status `{status}`; the ABI allows `ok`, `bpmn_error`, `error` and `halt`"),
            )
            .with_log(log)),
            Err(abi::ResponseProblem::Invalid(problem)) => Err(ScriptError::new(
                &plugin.name,
                FailureKind::InvalidResponse,
                format!("the response is not a valid ABI response: {problem}"),
            )
            .with_log(log)),
        }
    }
}

/// A non-`ok` response as the task's error.
fn failure(plugin: &str, response: Response, log: String) -> ScriptError {
    match response {
        Response::Error { message, line } => ScriptError {
            line,
            ..ScriptError::new(plugin, FailureKind::PluginError, message)
        }
        .with_log(log),
        Response::BpmnError { code, name, payload } => {
            let message = match &name {
                Some(name) => format!("BPMN error `{code}` ({name}) was thrown and nothing catches it"),
                None => format!("BPMN error `{code}` was thrown and nothing catches it"),
            };
            ScriptError {
                code: Some(code),
                payload,
                ..ScriptError::new(plugin, FailureKind::BpmnError, message)
            }
            .with_log(log)
        }
        Response::Halt { message } => ScriptError::new(plugin, FailureKind::Halt, message).with_log(log),
        Response::Ok { .. } => unreachable!("ok responses are handled by the caller"),
    }
}
