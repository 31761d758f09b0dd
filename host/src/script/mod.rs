//! The script engine: what it means to run a script, call a service or evaluate
//! an expression, whichever executor runs the plugin.
//!
//! It builds ABI requests, hands them to an [`Executor`], and turns responses
//! into task data or values, or into a [`ScriptError`] that names the plugin.
//! Keeping this here, not in the executors, is what makes executors behave
//! identically.

pub mod abi;
mod catalog;
mod nested;
mod plugin;

use std::sync::Arc;

use serde_json::{Map, Value, json};

pub use crate::call::{FailureKind, ScriptError};
pub use abi::{CallKind, Request, Response};
pub use catalog::{Binding, Catalog, Entry};
pub use plugin::PluginDirectory;

pub use crate::call::{
    Limits, MAX_DEPTH, Nested, PYTHON, Plugin, PluginSource, TaskInfo, escape_controls, parse_duration, parse_size,
};

use crate::bpmn::Script;
use crate::call::{Call, ExecutorKind, Reply, ServiceRunner, Services};
use crate::capability::{Audit, Check, NO_GRANTS};
use crate::executor::Executor;

/// A call's value and what the plugin logged on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    /// What the call came to: for scripts, services and expressions an
    /// [`Answer`]; for [`ScriptEngine::call`] the checked response.
    pub value: T,
    /// The plugin's log and captured output.
    pub log: String,
}

/// What a script, service call or expression answered when it did not fail.
///
/// A BPMN error and a halt are answers a plugin gives on purpose, for the
/// engine to act on (catch the error, stop the instance at the task); they
/// are not failures. A failure (a trap, a deadline, `status: error`, ...) is
/// the `Err(ScriptError)` beside it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    /// It did its work: the new task data (scripts) or the value (expressions, services).
    Done(T),
    /// It threw a BPMN error (`status: bpmn_error`, or a failure the plugin's `on_error` maps).
    BpmnError(BpmnError),
    /// It escalated (`status: escalation`): a script or service task throws
    /// the escalation and goes on unless an interrupting catch takes over.
    Escalation(BpmnError),
    /// It halted the instance at its task (`status: halt`), with this message.
    Halt(String),
}

impl<T> Answer<T> {
    /// The value of a [`Answer::Done`] answer, `None` for a BPMN error or a halt.
    pub fn done(self) -> Option<T> {
        match self {
            Answer::Done(value) => Some(value),
            _ => None,
        }
    }
}

/// A BPMN error (or an escalation) a plugin threw.
#[derive(Debug, Clone, PartialEq)]
pub struct BpmnError {
    /// The plugin that threw it.
    pub plugin: String,
    /// The error code catch events match.
    pub code: String,
    /// The error's name, if the plugin gave one.
    pub name: Option<String>,
    /// What the catching path receives.
    pub payload: Option<Value>,
}

/// Runs user code for the workflow engine.
///
/// ```no_run
/// use std::sync::Arc;
/// use wasmflow::executor::InProcess;
/// use wasmflow::script::{Answer, ScriptEngine, TaskInfo};
///
/// let engine = ScriptEngine::new(Arc::new(InProcess::new(Default::default())?), "plugins");
/// let data = serde_json::json!({"x": 41}).as_object().unwrap().clone();
/// let value = engine.evaluate(&TaskInfo::default(), "x + 1", &data)?.value;
/// assert_eq!(value, Answer::Done(serde_json::json!(42)));
/// # Ok::<(), anyhow::Error>(())
/// ```
#[derive(Clone)]
pub struct ScriptEngine {
    executor: Arc<dyn Executor>,
    catalog: Arc<Catalog>,
    audit: Option<Audit>,
    /// How many `call_service` calls deep this engine runs (0 for the workflow's own).
    depth: u32,
    /// Where a nested engine collects its checks, for the outer call's reply.
    collected: Option<Arc<std::sync::Mutex<Vec<Check>>>>,
    /// How many tasks of one instance may run their plugin calls at once.
    concurrency: usize,
    /// Executors for plugins whose manifest entry names another than `executor`.
    others: Vec<(ExecutorKind, Arc<dyn Executor>)>,
    /// For a nested engine, when the calling plugin's time runs out: calls get
    /// at most what remains.
    deadline: Option<std::time::Instant>,
    /// For a nested engine, the executor the calling plugin runs on.
    caller_executor: Option<Arc<dyn Executor>>,
}

/// Tasks of one instance running plugin calls at once, unless set otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

impl ScriptEngine {
    /// A script engine running plugins from `plugin_dir` on `executor`, with
    /// default limits and no grants.
    pub fn new(executor: Arc<dyn Executor>, plugin_dir: impl Into<std::path::PathBuf>) -> Self {
        Self::with_catalog(executor, Catalog::new(plugin_dir))
    }

    /// A script engine for the plugins, grants and limits of a catalog (see [`crate::manifest`]).
    pub fn with_catalog(executor: Arc<dyn Executor>, catalog: impl Into<Arc<Catalog>>) -> Self {
        ScriptEngine {
            executor,
            catalog: catalog.into(),
            audit: None,
            depth: 0,
            collected: None,
            concurrency: DEFAULT_CONCURRENCY,
            others: Vec::new(),
            deadline: None,
            caller_executor: None,
        }
    }

    /// The same engine, running the calls of plugins whose manifest entry says
    /// `executor = "<kind>"` on `executor`.
    pub fn with_executor_for(mut self, kind: ExecutorKind, executor: Arc<dyn Executor>) -> Self {
        self.others.retain(|(k, _)| *k != kind);
        self.others.push((kind, executor));
        self
    }

    /// The same engine, letting up to `tasks` ready tasks of an instance run
    /// their plugin calls at once (1 runs them one after the other).
    pub fn with_concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = tasks.max(1);
        self
    }

    /// How many ready tasks of an instance may run their plugin calls at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The same engine with other default per-call limits (a plugin's manifest limits still win).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        Arc::make_mut(&mut self.catalog).limits = limits;
        self
    }

    /// The same engine, appending every capability check to `audit`.
    pub fn with_audit(mut self, audit: Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The default per-call limits.
    pub fn limits(&self) -> Limits {
        self.catalog.limits
    }

    /// The plugins this engine can call.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The executor calls run on.
    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.executor
    }

    /// The plugin a script runs on: a compiled plugin, or the built-in interpreter.
    pub fn plugin_for(&self, script: &Script) -> Result<Plugin, ScriptError> {
        match script {
            Script::Plugin { name } => self.catalog.plugin(name).map(|b| b.plugin),
            Script::Inline { .. } => self.catalog.plugin(PYTHON).map(|b| b.plugin),
        }
    }

    /// Loads a plugin without running it, so problems show before a workflow starts.
    pub fn prepare(&self, plugin: &Plugin) -> Result<(), ScriptError> {
        let limits = self
            .catalog
            .plugins
            .get(&plugin.name)
            .and_then(|entry| entry.limits)
            .unwrap_or(self.catalog.limits);
        self.executor.prepare(plugin, limits)
    }

    /// Runs a script task's script; what it is done with is the complete new task data.
    pub fn run_script(
        &self,
        task: &TaskInfo,
        script: &Script,
        data: &Map<String, Value>,
    ) -> Result<Outcome<Answer<Map<String, Value>>>, ScriptError> {
        let (binding, source, first_line) = match script {
            Script::Inline { source, line } => (self.catalog.plugin(PYTHON)?, Some(source.as_str()), Some(*line)),
            Script::Plugin { name } => (self.catalog.plugin(name)?, None, None),
        };
        let config = interpreter_config(&binding);
        let request = Request {
            abi: abi::ABI_VERSION,
            call: CallKind::Script,
            task,
            data,
            source,
            operation: None,
            params: None,
            config: config.as_ref().or(binding.config),
        };
        let outcome = self.invoke(&binding, task, &request.to_bytes(), first_line)?;
        match outcome.value {
            Response::Ok { data: Some(data), .. } => Ok(Outcome {
                value: Answer::Done(data),
                log: outcome.log,
            }),
            Response::Ok { .. } => Err(ScriptError::new(
                &binding.plugin.name,
                FailureKind::InvalidResponse,
                "a script's `ok` response must carry the new task data as a `data` object",
            )
            .with_log(outcome.log)),
            other => answer(&binding.plugin.name, other, outcome.log).map_err(|error| self.hint_service(error)),
        }
    }

    /// An inline script that calls a known service by name without the grant
    /// fails on an undefined name; say which grant would define it.
    fn hint_service(&self, mut error: ScriptError) -> ScriptError {
        if error.plugin != PYTHON {
            return error;
        }
        let name = error
            .message
            .strip_prefix("Variable `")
            .and_then(|rest| rest.split_once("` not found"))
            .map(|(name, _)| name.to_string());
        if let Some(name) = name
            && (self.catalog.services.contains_key(&name) || self.catalog.plugins.contains_key(&name))
        {
            error.message = format!(
                "{}\n`{name}` is a service: let inline scripts call it with `allow_services = [\"{name}\"]` under [plugins.python] in wasmflow.toml",
                error.message
            );
        }
        error
    }

    /// Calls a service operation (a service task, or `call_service` from a script).
    ///
    /// The operation is resolved to the plugin that implements it: through the
    /// manifest's `services` lists, else a plugin of the same name in the plugin
    /// directory (which has no grants). The plugin receives `params`, not the task
    /// data; what it is done with is the value it returned.
    pub fn call_service(
        &self,
        task: &TaskInfo,
        operation: &str,
        params: &Map<String, Value>,
    ) -> Result<Outcome<Answer<Value>>, ScriptError> {
        let outcome = self.service_response(task, operation, params)?;
        match outcome.value {
            Response::Ok { result, .. } => Ok(Outcome {
                value: Answer::Done(result.unwrap_or(Value::Null)),
                log: outcome.log,
            }),
            other => answer(&outcome.plugin, other, outcome.log),
        }
    }

    /// A service call's checked response, whatever its status.
    fn service_response(
        &self,
        task: &TaskInfo,
        operation: &str,
        params: &Map<String, Value>,
    ) -> Result<Named<Response>, ScriptError> {
        let binding = self.catalog.service(operation)?;
        let request = Request {
            abi: abi::ABI_VERSION,
            call: CallKind::Service,
            task,
            data: &Map::new(),
            source: None,
            operation: Some(operation),
            params: Some(params),
            config: binding.config,
        };
        let outcome = self.invoke(&binding, task, &request.to_bytes(), None)?;
        Ok(Named {
            plugin: binding.plugin.name.clone(),
            value: outcome.value,
            log: outcome.log,
        })
    }

    /// Evaluates an expression (a gateway condition) against task data.
    pub fn evaluate(
        &self,
        task: &TaskInfo,
        expression: &str,
        data: &Map<String, Value>,
    ) -> Result<Outcome<Answer<Value>>, ScriptError> {
        let binding = self.catalog.plugin(PYTHON)?;
        let config = interpreter_config(&binding);
        let request = Request {
            abi: abi::ABI_VERSION,
            call: CallKind::Expression,
            task,
            data,
            source: Some(expression),
            operation: None,
            params: None,
            config: config.as_ref(),
        };
        let outcome = self.invoke(&binding, task, &request.to_bytes(), None)?;
        match outcome.value {
            Response::Ok { result, .. } => Ok(Outcome {
                value: Answer::Done(result.unwrap_or(Value::Null)),
                log: outcome.log,
            }),
            other => answer(PYTHON, other, outcome.log),
        }
    }

    /// Checks that inline source parses, without running it (`wasmflow check`).
    ///
    /// The built-in interpreter takes `config: {"check": true}` to mean "parse only".
    pub fn check_source(&self, call: CallKind, source: &str, first_line: u32) -> Result<(), ScriptError> {
        let binding = self.catalog.plugin(PYTHON)?;
        let mut config = interpreter_config(&binding).unwrap_or_else(|| json!({}));
        config["check"] = json!(true);
        let task = TaskInfo::default();
        let request = Request {
            abi: abi::ABI_VERSION,
            call,
            task: &task,
            data: &Map::new(),
            source: Some(source),
            operation: None,
            params: None,
            config: Some(&config),
        };
        let outcome = self.invoke(&binding, &task, &request.to_bytes(), Some(first_line))?;
        match outcome.value {
            Response::Error { message, line } => Err(ScriptError {
                line,
                ..ScriptError::new(PYTHON, FailureKind::PluginError, message)
            }
            .with_log(outcome.log)),
            Response::Ok { .. } => Ok(()),
            Response::BpmnError { .. } | Response::Escalation { .. } | Response::Halt { .. } => Err(ScriptError::new(
                PYTHON,
                FailureKind::InvalidResponse,
                "a parse-only check answers `ok` or `error`",
            )
            .with_log(outcome.log)),
        }
    }

    /// Sends raw request bytes to a plugin and returns its checked response
    /// (`wasmflow call`). The plugin runs with the grants and limits the catalog
    /// gives its name.
    ///
    /// `first_line` maps a line reported by an inline script to its line in the BPMN file.
    pub fn call(
        &self,
        plugin: &Plugin,
        request: &[u8],
        first_line: Option<u32>,
    ) -> Result<Outcome<Response>, ScriptError> {
        // An entry's grants go only to the entry's own module (and its pin is
        // checked when the module is read): a file that merely shares the
        // entry's name runs with nothing granted.
        let mut note = None;
        let binding = match self.catalog.plugins.get(&plugin.name) {
            Some(_) => match self.catalog.plugin(&plugin.name) {
                Ok(binding) if same_module(&binding.plugin, plugin) => binding,
                Ok(binding) => {
                    note = Some(format!(
                        "[note] {} is not the module of [plugins.{}] ({}): it runs without that entry's grants, limits and configuration\n",
                        plugin.source, plugin.name, binding.plugin.source
                    ));
                    self.ungranted(plugin)
                }
                Err(_) => self.ungranted(plugin),
            },
            None => self.ungranted(plugin),
        };
        let task = serde_json::from_slice::<Value>(request)
            .ok()
            .and_then(|v| serde_json::from_value::<TaskInfo>(v.get("task")?.clone()).ok())
            .unwrap_or_default();
        let outcome = self.invoke(&binding, &task, request, first_line);
        match note {
            None => outcome,
            Some(note) => match outcome {
                Ok(mut outcome) => {
                    outcome.log.insert_str(0, &note);
                    Ok(outcome)
                }
                Err(mut error) => {
                    error.log.insert_str(0, &note);
                    Err(error)
                }
            },
        }
    }

    fn ungranted(&self, plugin: &Plugin) -> Binding<'_> {
        Binding {
            plugin: plugin.clone(),
            grants: &NO_GRANTS,
            limits: self.catalog.limits,
            config: None,
            on_error: None,
            executor: None,
        }
    }

    /// Runs one call under a binding's rules: records its capability checks,
    /// adds denials to the log (and to a failure's message), validates the
    /// response, and maps ordinary failures to the binding's `on_error` BPMN error.
    fn invoke(
        &self,
        binding: &Binding<'_>,
        task: &TaskInfo,
        request: &[u8],
        first_line: Option<u32>,
    ) -> Result<Outcome<Response>, ScriptError> {
        let plugin = &binding.plugin;
        // Every call, nested or not, runs where its entry says.
        let executor = binding
            .executor
            .and_then(|kind| self.others.iter().find(|(k, _)| *k == kind))
            .map_or(&self.executor, |(_, executor)| executor);
        // The runner sees every `call_service` request, granted or not, so
        // that refusals are checks too (recorded, audited, shown).
        let runner: Arc<dyn ServiceRunner> = Arc::new(nested::Runner {
            engine: self.clone(),
            executor: executor.clone(),
        });
        // A callee on its caller's own executor runs on what the caller was
        // admitted with; on another executor it is an outermost call there.
        let admitted = self
            .caller_executor
            .as_ref()
            .is_some_and(|caller| std::ptr::addr_eq(Arc::as_ptr(caller), Arc::as_ptr(executor)));
        let mut limits = binding.limits;
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ScriptError::new(
                    &plugin.name,
                    FailureKind::Deadline,
                    "the calling plugin's time limit ran out before this service could start (raise it with --timeout)",
                ));
            }
            limits.timeout = limits.timeout.min(left);
        }
        let started = std::time::Instant::now();
        let result = executor.call(Call {
            plugin,
            request,
            limits,
            grants: binding.grants,
            services: Some(Services {
                runner: &runner,
                task,
                depth: self.depth,
            }),
            depth: self.depth,
            admitted,
        });
        tracing::debug!(
            plugin = %plugin.name,
            task = %task.spec,
            depth = self.depth,
            executor = ?binding.executor,
            micros = started.elapsed().as_micros() as u64,
            failure = result.as_ref().err().map(|e| e.kind.describe()),
            "plugin call"
        );
        let (result, checks) = match result {
            Ok(Reply { response, log, checks }) => (Ok((response, log)), checks),
            Err(mut error) => {
                let checks = std::mem::take(&mut error.checks);
                (Err(error), checks)
            }
        };
        self.record(task, &checks);
        let denials = denials_of(&checks);
        let outcome = result.and_then(|(response, log)| {
            let log = with_denials(log, &denials);
            self.judge(binding, response, log, first_line)
        });
        let outcome = match outcome {
            Err(mut error) => {
                if !denials.is_empty() && !error.message.contains(&denials[0]) {
                    error.message = format!("{}\n{}", error.message, denials.join("\n"));
                }
                Err(error)
            }
            Ok(Outcome {
                value: Response::Error { mut message, line },
                log,
            }) => {
                if !denials.is_empty() {
                    message = format!("{message}\n{}", denials.join("\n"));
                }
                Ok(Outcome {
                    value: Response::Error { message, line },
                    log,
                })
            }
            ok => ok,
        };
        match (binding.on_error, outcome) {
            (Some(code), Err(error)) if maps_to_bpmn(error.kind) => Ok(Outcome {
                value: Response::BpmnError {
                    code: code.to_string(),
                    name: None,
                    payload: Some(json!({"message": error.message, "reason": error.kind})),
                },
                log: error.log,
            }),
            (
                Some(code),
                Ok(Outcome {
                    value: Response::Error { message, .. },
                    log,
                }),
            ) => Ok(Outcome {
                value: Response::BpmnError {
                    code: code.to_string(),
                    name: None,
                    payload: Some(json!({"message": message, "reason": FailureKind::PluginError})),
                },
                log,
            }),
            (_, outcome) => outcome,
        }
    }

    /// Appends checks to the audit file, if there is one. Only the outermost
    /// engine writes: nested calls hand their checks up with the reply.
    fn record(&self, task: &TaskInfo, checks: &[Check]) {
        if let Some(collected) = &self.collected {
            collected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(checks);
            return;
        }
        if let (Some(audit), 0) = (&self.audit, self.depth)
            && let Err(error) = audit.record(task, checks)
        {
            // The audit is evidence, not control flow: report and go on.
            eprintln!(
                "warning: cannot append to the audit file {}: {error}",
                audit.path().display()
            );
        }
    }

    /// Checks a response's size and shape.
    fn judge(
        &self,
        binding: &Binding<'_>,
        response: Vec<u8>,
        log: String,
        first_line: Option<u32>,
    ) -> Result<Outcome<Response>, ScriptError> {
        let plugin = &binding.plugin;
        if response.len() > binding.limits.response {
            return Err(ScriptError::new(
                &plugin.name,
                FailureKind::ResponseTooLarge,
                format!(
                    "the response is {} bytes; the limit is {} bytes (raise it with --max-response)",
                    response.len(),
                    binding.limits.response
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
                format!("the response has status `{status}`; the ABI allows `ok`, `bpmn_error`, `escalation`, `error` and `halt`"),
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

/// Whether two plugins run the same module: the same built-in, or the same file.
fn same_module(a: &Plugin, b: &Plugin) -> bool {
    match (&a.source, &b.source) {
        (PluginSource::Builtin { name: x, .. }, PluginSource::Builtin { name: y, .. }) => x == y,
        (PluginSource::File(x), PluginSource::File(y)) => {
            x == y || matches!((std::fs::canonicalize(x), std::fs::canonicalize(y)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

/// A response and the plugin that gave it.
struct Named<T> {
    plugin: String,
    value: T,
    log: String,
}

/// The built-in interpreter's configuration: the services it may call, so
/// that scripts can call each as a function of its own name.
fn interpreter_config(binding: &Binding<'_>) -> Option<Value> {
    if binding.plugin.name != PYTHON || binding.grants.services.is_empty() {
        return None;
    }
    let mut config = binding.config.cloned().unwrap_or_else(|| json!({}));
    if !config.is_object() {
        config = json!({});
    }
    config["services"] = json!(binding.grants.services);
    Some(config)
}

/// Failures an `on_error` mapping turns into a BPMN error: the plugin ran and
/// failed. Not finding or loading it is a setup problem the operator must fix.
fn maps_to_bpmn(kind: FailureKind) -> bool {
    !matches!(kind, FailureKind::NotFound | FailureKind::Load | FailureKind::NoAbi)
}

/// How many denials a task's log and error spell out; the audit file has them all.
const DENIALS_SHOWN: usize = 10;

/// The call's denials as sentences: the first [`DENIALS_SHOWN`], then how many more.
fn denials_of(checks: &[Check]) -> Vec<String> {
    let denied: Vec<&Check> = checks.iter().filter(|c| !c.allowed).collect();
    let mut shown: Vec<String> = denied.iter().take(DENIALS_SHOWN).map(|c| c.describe()).collect();
    if denied.len() > DENIALS_SHOWN {
        shown.push(format!(
            "denied: {} more checks were denied (--audit FILE records each)",
            denied.len() - DENIALS_SHOWN
        ));
    }
    shown
}

/// The log with the call's denials appended, one per line.
fn with_denials(mut log: String, denials: &[String]) -> String {
    for denial in denials {
        if !log.is_empty() && !log.ends_with('\n') {
            log.push('\n');
        }
        // `denial` reads "denied: plugin ... tried to ...".
        log.push('[');
        log.push_str(denial.replacen(':', "]", 1).as_str());
        log.push('\n');
    }
    log
}

/// A non-`ok` response as what the call answered: a BPMN error or a halt,
/// or the failure `status: error` is.
fn answer<T>(plugin: &str, response: Response, log: String) -> Result<Outcome<Answer<T>>, ScriptError> {
    let value = match response {
        Response::Error { message, line } => {
            return Err(ScriptError {
                line,
                ..ScriptError::new(plugin, FailureKind::PluginError, message)
            }
            .with_log(log));
        }
        Response::BpmnError { code, name, payload } => Answer::BpmnError(BpmnError {
            plugin: plugin.to_string(),
            code,
            name,
            payload,
        }),
        Response::Escalation { code, name, payload } => Answer::Escalation(BpmnError {
            plugin: plugin.to_string(),
            code,
            name,
            payload,
        }),
        Response::Halt { message } => Answer::Halt(message),
        Response::Ok { .. } => unreachable!("ok responses are handled by the caller"),
    };
    Ok(Outcome { value, log })
}
