//! The `wasmflow` command line: argument parsing in [`args`], one module per command.

mod args;
mod call;
mod check;
mod input;
mod run;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

pub use args::Cli;
use args::{Command, SandboxArgs};

use crate::executor::{InProcess, InProcessConfig};
use crate::script::{Limits, ScriptEngine, parse_duration, parse_size};

/// Exit status: the workflow or call failed.
const FAILED: u8 = 1;
/// Exit status: the input was unusable (bad arguments, diagrams or data).
const BAD_INPUT: u8 = 2;

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Call(args) => call::call(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

impl SandboxArgs {
    /// The per-call limits these options ask for.
    fn limits(&self) -> anyhow::Result<Limits> {
        let parse = |what: &str, result: Result<usize, String>| result.map_err(|e| anyhow::anyhow!("--{what}: {e}"));
        Ok(Limits {
            memory: parse("memory", parse_size(&self.memory))?,
            timeout: parse_duration(&self.timeout).map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
            response: parse("max-response", parse_size(&self.max_response))?,
        })
    }

    /// A script engine on the in-process executor, configured by these options.
    fn script_engine(&self) -> anyhow::Result<ScriptEngine> {
        let limits = self.limits()?;
        let mut config = InProcessConfig {
            max_memory: limits.memory.max(Limits::default().memory),
            ..InProcessConfig::default()
        };
        if self.no_cache {
            config.cache_dir = None;
        } else if let Some(dir) = &self.cache_dir {
            config.cache_dir = Some(dir.clone());
        }
        let executor =
            InProcess::new(config).map_err(|e| anyhow::anyhow!("cannot start the WebAssembly engine: {e:#}"))?;
        Ok(ScriptEngine::new(Arc::new(executor), &self.plugins).with_limits(limits))
    }
}
