//! The command line's shape (clap derive). No work happens here.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValue;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::engine::Status;
use crate::executor::Kind;
use crate::script::{parse_duration, parse_size};

/// Run BPMN workflows whose scripts run in WebAssembly sandboxes.
#[derive(Debug, Parser)]
#[command(name = "wasmflow", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log more on stderr: -v for the engine's steps and plugin calls, -vv for
    /// everything, including wasmtime's and the HTTP client's (RUST_LOG, when
    /// set, chooses instead, e.g. RUST_LOG=wasmflow=debug,wasmtime=info).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a process to its end, or until it waits for someone.
    Run(RunArgs),
    /// Parse and validate diagrams; list processes, tasks and the plugins they need.
    Check(CheckArgs),
    /// Run one plugin once with a request and print its response.
    Call(CallArgs),
    /// List the instances kept in a database.
    List(ListArgs),
    /// Show one instance: its tasks with their states, data, waiting tasks and error.
    Show(ShowArgs),
    /// Run a kept instance on from where it stopped.
    Resume(ResumeArgs),
    /// Complete a waiting user or manual task with data, and run on.
    Complete(CompleteArgs),
    /// Run a task in ERROR again (after fixing its cause), and run on.
    Retry(RetryArgs),
    /// Restart an instance from any task, with the data that task had, and run on.
    Restart(RestartArgs),
    /// Fire the timers due by now (or --now) in one kept instance or all, and run them on.
    Tick(TickArgs),
    /// The scheduler: fire timers in kept instances as they fall due, until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Register the processes of diagrams, by version, for messages and signals to start.
    Deploy(DeployArgs),
    /// Deliver a message to the waiting catch it correlates with, and run that instance on.
    Message(MessageArgs),
    /// Broadcast a signal to every waiting catch of that name, and run those instances on.
    Signal(SignalArgs),
    /// Serve plugin calls as JSON lines on stdin/stdout (the subprocess executor's worker).
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// BPMN files; called processes may come from any of them.
    #[arg(required = true, value_name = "DIAGRAM.bpmn")]
    pub files: Vec<PathBuf>,
    /// The process to start (default: the first file's executable process).
    #[arg(long, value_name = "ID")]
    pub process: Option<String>,
    /// Start data: a JSON object, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    /// Print one JSON object on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Keep the instance in this SQLite database, saved after every step (see `wasmflow list`).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Append lifecycle events to this file as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Run one instance per line of this JSON-lines file (each line is the start data).
    #[arg(long, value_name = "FILE.jsonl", conflicts_with = "data")]
    pub objects: Option<PathBuf>,
    /// With --objects: stop the batch at the first instance that fails.
    #[arg(long, requires = "objects")]
    pub stop_on_error: bool,
    /// With --objects: stop the batch at the first instance that halts.
    #[arg(long, requires = "objects")]
    pub stop_on_halt: bool,
    /// With --objects: how many instances run at once [default: the number of CPUs].
    #[arg(long, requires = "objects", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Without --db: stop with status `waiting` when only timers are left,
    /// instead of waiting for them in this process.
    #[arg(long)]
    pub no_wait: bool,
    /// What plain `bpmn:task`s do: `pass` (complete at once, as BPMN, Camunda and Zeebe run
    /// them) or `wait` (wait to be completed with `wasmflow complete`, as SpiffWorkflow runs
    /// them) [default: the manifest's `[run] abstract_tasks`, else pass].
    #[arg(long, value_name = "pass|wait")]
    pub abstract_tasks: Option<crate::engine::AbstractTasks>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// The database of kept instances.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// The SQLite database [default: wasmflow.db in the user's data directory].
    #[arg(long, value_name = "FILE", env = "WASMFLOW_DB")]
    pub db: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Append lifecycle events to this file as JSON lines (commands that run tasks).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only instances with this status.
    #[arg(long, value_name = "STATUS", conflicts_with = "deployments")]
    pub status: Option<Status>,
    /// List the deployed processes and their versions instead of instances.
    #[arg(long)]
    pub deployments: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The instance id (from `run --db` or `list`).
    pub id: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The instance id.
    pub id: String,
    /// For a halted instance: data to merge into the halted task's data before it runs again.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The instance id.
    pub id: String,
    /// The task in ERROR: its id, or its BPMN element id.
    pub task: String,
    /// Data to merge into the task's data first: a JSON object, or @FILE.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The instance id.
    pub id: String,
    /// The task to restart from: its id, or a BPMN element id (its most recent task).
    pub task: String,
    /// Data to merge into the data the task had: a JSON object, or @FILE.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct TickArgs {
    /// The instance whose due timers fire [default: every waiting instance with a timer due].
    pub id: Option<String>,
    /// Fire what is due at or before this time (RFC 3339, e.g. 2027-01-01T09:00:00Z)
    /// instead of the clock's: a virtual clock for tests and operators.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub now: Option<jiff::Timestamp>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// BPMN files: each executable process in them is deployed, with all the
    /// files (where its call activities find their processes).
    #[arg(required = true, value_name = "DIAGRAM.bpmn")]
    pub files: Vec<PathBuf>,
    /// Deploy as of this time (RFC 3339) instead of the clock's: timer start
    /// events' durations count from it. A virtual clock, as `tick --now` is.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub now: Option<jiff::Timestamp>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message name (a bpmn:message's `name`).
    pub name: String,
    /// A correlation value the message carries: a correlationProperty id and
    /// its value (repeat for several). A catch waiting for a value takes only
    /// a message that carries it.
    #[arg(long = "correlate", value_name = "KEY=VALUE", value_parser = parse_correlation)]
    pub correlate: Vec<(String, String)>,
    /// The message's Camunda 8 correlation key (what a `zeebe:subscription
    /// correlationKey` computes): the same as `--correlate correlationKey=VALUE`.
    #[arg(long, value_name = "VALUE")]
    pub correlation_key: Option<String>,
    /// Deliver only to this instance.
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// The payload: JSON (an object is merged into the catch's data), or @FILE.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The signal name (a bpmn:signal's `name`).
    pub name: String,
    /// The payload: JSON (an object is merged into each catch's data), or @FILE.
    #[arg(long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// `KEY=VALUE` of `--correlate`.
fn parse_correlation(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!(
            "`{text}` is not KEY=VALUE: name a correlation property and its value, e.g. --correlate order_id=42"
        )),
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// An RFC 3339 instant (`Z` or an offset).
fn parse_instant(text: &str) -> Result<jiff::Timestamp, String> {
    text.parse()
        .map_err(|e| format!("`{text}` is not an RFC 3339 time with an offset, such as 2027-01-01T09:00:00Z: {e}"))
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The instance id.
    pub id: String,
    /// The task: its id, or the BPMN element id of a waiting task.
    pub task: String,
    /// Data to merge into the task's data: a JSON object, or @FILE.
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    pub data: String,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// BPMN files to check together.
    #[arg(required = true, value_name = "DIAGRAM.bpmn")]
    pub files: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// A plugin's .wasm file, or `python` for the built-in interpreter.
    #[arg(value_name = "PLUGIN.wasm")]
    pub plugin: PathBuf,
    /// The request: a JSON object, or @FILE. Missing `abi`, `call`, `task` and `data` get defaults.
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    pub input: String,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Where plugins come from and what each call may use.
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Directory of compiled plugins: `scriptFormat="wasm"` names NAME.wasm in it.
    #[arg(long, value_name = "DIR", default_value = "plugins")]
    pub plugins: PathBuf,
    /// Memory limit per plugin call (at most 4GiB, all a wasm32 memory can hold).
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub memory: usize,
    /// Wall-clock limit per plugin call (from 1ms to 24h).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Largest response a plugin may return (at most 4GiB).
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub max_response: usize,
    /// Largest request a plugin may send out: an http_request, or a call_service request (at most 4GiB).
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub max_request: usize,
    /// How long compiling one plugin module may take (a module past it fails to load).
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub compile_timeout: Duration,
    /// Where compiled modules are cached [default: the user's cache directory].
    #[arg(long, value_name = "DIR", env = "WASMFLOW_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled modules on disk.
    #[arg(long)]
    pub no_cache: bool,
    /// Where plugin calls run: in this process, or in a pool of `wasmflow worker` processes.
    #[arg(long, value_name = "EXECUTOR", default_value = "in-process")]
    pub executor: Kind,
    /// How many worker processes the subprocess executor may run at once [default: the number of CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// How many ready tasks of an instance may run their plugin calls at once (1: one after the other).
    #[arg(long, value_name = "N", default_value_t = crate::script::DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// The manifest declaring plugins, services and grants [default: wasmflow.toml next to the first diagram, if any].
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub grants: GrantArgs,
    /// Append one JSON line per capability check (allowed or denied) to this file.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
}

/// Grants for one run, on top of the manifest's; a deny overrides any allow.
#[derive(Debug, Clone, Default, Args)]
pub struct GrantArgs {
    /// Let plugin NAME read the directory PATH (seen by the plugin as /PATH for a relative PATH).
    #[arg(long, value_name = "NAME=PATH")]
    pub allow_read: Vec<String>,
    /// Let plugin NAME read and write the directory PATH.
    #[arg(long, value_name = "NAME=PATH")]
    pub allow_write: Vec<String>,
    /// Let plugin NAME reach HOST:PORT over HTTP.
    #[arg(long, value_name = "NAME=HOST:PORT")]
    pub allow_net: Vec<String>,
    /// Let plugin NAME see the environment variable VAR (with its value in this environment).
    #[arg(long, value_name = "NAME=VAR")]
    pub allow_env: Vec<String>,
    /// Withdraw any grant of PATH (or of a directory overlapping it) from plugin NAME.
    #[arg(long, value_name = "NAME=PATH")]
    pub deny_read: Vec<String>,
    /// Withdraw write access to PATH (or a directory overlapping it) from plugin NAME.
    #[arg(long, value_name = "NAME=PATH")]
    pub deny_write: Vec<String>,
    /// Refuse HOST:PORT to plugin NAME, even if granted or reached through a name.
    #[arg(long, value_name = "NAME=HOST:PORT")]
    pub deny_net: Vec<String>,
    /// Hide the environment variable VAR from plugin NAME.
    #[arg(long, value_name = "NAME=VAR")]
    pub deny_env: Vec<String>,
}

// The executor kind and the instance status are spelled once, by their
// `Display`: the command line, the manifest, the store and JSON output all use it.

impl ValueEnum for Kind {
    fn value_variants<'a>() -> &'a [Self] {
        &[Kind::InProcess, Kind::Subprocess]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let value = PossibleValue::new(match self {
            Kind::InProcess => "in-process",
            Kind::Subprocess => "subprocess",
        });
        Some(match self {
            Kind::InProcess => value.help("In this process (fastest)"),
            Kind::Subprocess => {
                value.help("In a pool of worker processes (a crash or a hang costs one call, not the run)")
            }
        })
    }
}

impl ValueEnum for Status {
    fn value_variants<'a>() -> &'a [Self] {
        Status::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// A worker's settings; the parent passes them (see `executor::subprocess`).
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Where compiled modules are cached.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled modules on disk.
    #[arg(long)]
    pub no_cache: bool,
    /// The largest memory any call may be given.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_memory: usize,
    /// The parent's process id: the worker exits when that process does, even
    /// in the middle of a call.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
    /// How long compiling one module may take, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub compile_timeout: Option<Duration>,
}

/// A duration in (fractional) seconds, as the parent passes it to a worker.
fn seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|e| format!("`{text}` is not a number of seconds: {e}"))?;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{seconds} seconds: {e}"))
}
