//! The `wasmflow` command line: argument parsing in [`args`], one module per command.

mod args;
mod batch;
mod call;
mod check;
mod input;
mod instances;
mod keep;
mod report;
mod run;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

pub use args::Cli;
use args::{Command, ExecutorChoice, SandboxArgs};

use crate::executor::{Executor, InProcess, InProcessConfig, Subprocess, SubprocessConfig};
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
        Command::List(args) => instances::list(args),
        Command::Show(args) => instances::show(args),
        Command::Resume(args) => instances::resume(args),
        Command::Complete(args) => instances::complete(args),
        Command::Retry(args) => instances::retry(args),
        Command::Worker(args) => worker::worker(args),
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

    /// A script engine on the executor these options choose, configured by them.
    fn script_engine(&self) -> anyhow::Result<ScriptEngine> {
        let limits = self.limits()?;
        let max_memory = limits.memory.max(Limits::default().memory);
        let mut cache_dir = InProcessConfig::default().cache_dir;
        if self.no_cache {
            cache_dir = None;
        } else if let Some(dir) = &self.cache_dir {
            cache_dir = Some(dir.clone());
        }
        let executor: Arc<dyn Executor> = match self.executor {
            ExecutorChoice::InProcess => {
                let config = InProcessConfig {
                    cache_dir,
                    max_memory,
                    ..InProcessConfig::default()
                };
                Arc::new(
                    InProcess::new(config)
                        .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly engine: {e:#}"))?,
                )
            }
            ExecutorChoice::Subprocess => {
                let mut config = SubprocessConfig {
                    cache_dir,
                    max_memory,
                    ..SubprocessConfig::default()
                };
                if let Some(workers) = self.workers {
                    config.pool_size = workers as usize;
                }
                Arc::new(Subprocess::new(config)?)
            }
        };
        Ok(ScriptEngine::new(executor, &self.plugins).with_limits(limits))
    }
}
