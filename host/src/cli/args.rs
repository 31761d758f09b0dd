//! The command line's shape (clap derive). No work happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run BPMN workflows whose scripts run in WebAssembly sandboxes.
#[derive(Debug, Parser)]
#[command(name = "wasmflow", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a process to its end, or until it waits for someone.
    Run(RunArgs),
    /// Parse and validate diagrams; list processes, tasks and the plugins they need.
    Check(CheckArgs),
    /// Run one plugin once with a request and print its response.
    Call(CallArgs),
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
    /// Memory limit per plugin call.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub memory: String,
    /// Wall-clock limit per plugin call.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,
    /// Largest response a plugin may return.
    #[arg(long, value_name = "SIZE", default_value = "16MiB")]
    pub max_response: String,
    /// Where compiled modules are cached [default: $WASMFLOW_CACHE_DIR, else the user's cache directory].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled modules on disk.
    #[arg(long)]
    pub no_cache: bool,
}
