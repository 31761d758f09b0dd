//! The `wasmflow` command line: argument parsing in [`args`], one module per command.

/// `println!` for what a command prints on stdout: when the reader has gone
/// (`wasmflow list | head`), the command ends quietly with status 0, as
/// SIGPIPE would end it, instead of panicking. (The process keeps SIGPIPE
/// ignored: it writes to its workers' pipes, and a dead worker must be an
/// error, not the end of wasmflow.)
macro_rules! out {
    () => {
        $crate::cli::write_stdout(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}

mod args;
mod batch;
mod call;
mod check;
mod deploy;
mod input;
mod instances;
mod keep;
mod logging;
mod message;
mod report;
mod route;
mod run;
mod tick;
mod worker;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

pub use args::Cli;
use args::{Command, GrantArgs, SandboxArgs};

use crate::capability::{Audit, Grants};
use crate::executor::in_process::default_cache_dir;
use crate::executor::{Executor, InProcess, InProcessConfig, Kind, Subprocess, SubprocessConfig};
use crate::manifest;
use crate::script::{Catalog, Limits, ScriptEngine};

/// Exit status: the workflow or call failed.
const FAILED: u8 = 1;
/// Exit status: the input was unusable (bad arguments, diagrams or data).
const BAD_INPUT: u8 = 2;

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A worker's stderr belongs to the plugin calls it serves (the parent
    // reports it with a failed call), so workers log nothing.
    if !matches!(cli.command, Command::Worker(_)) {
        logging::init(cli.verbose);
    }
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Call(args) => call::call(args),
        Command::List(args) => instances::list(args),
        Command::Show(args) => instances::show(args),
        Command::Resume(args) => instances::resume(args),
        Command::Complete(args) => instances::complete(args),
        Command::Retry(args) => instances::retry(args),
        Command::Restart(args) => instances::restart(args),
        Command::Tick(args) => tick::tick(args),
        Command::Serve(args) => tick::serve(args),
        Command::Deploy(args) => deploy::deploy(args),
        Command::Message(args) => message::message(args),
        Command::Signal(args) => message::signal(args),
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
    fn limits(&self) -> Limits {
        Limits {
            memory: self.memory,
            timeout: self.timeout,
            response: self.max_response,
            request: self.max_request,
        }
    }

    /// The plugins, grants and limits of a run: the manifest (given, or next to
    /// `first_diagram`), then the command line's grants, then its denials.
    fn catalog(&self, first_diagram: Option<&Path>) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::new(&self.plugins);
        catalog.limits = self.limits();
        if let Some(path) = manifest::find(self.manifest.as_deref(), first_diagram) {
            tracing::debug!(manifest = %path.display(), "reading the manifest");
            manifest::load(&path, &mut catalog)?;
        }
        self.grants.apply(&mut catalog)?;
        Ok(catalog)
    }

    /// A script engine on the executor these options choose, configured by
    /// them and the manifest (given, or found next to `first_diagram`).
    fn script_engine(&self, first_diagram: Option<&Path>) -> anyhow::Result<ScriptEngine> {
        let catalog = self.catalog(first_diagram)?;
        let max_memory = catalog.max_memory().max(Limits::default().memory);
        let compile_timeout = self.compile_timeout;
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(default_cache_dir)
        };
        let make = |kind: Kind| -> anyhow::Result<Arc<dyn Executor>> {
            tracing::debug!(executor = %kind, cache = ?cache_dir, max_memory, "starting an executor");
            Ok(match kind {
                Kind::InProcess => {
                    let config = InProcessConfig {
                        cache_dir: cache_dir.clone(),
                        max_memory,
                        compile_timeout,
                        ..InProcessConfig::default()
                    };
                    Arc::new(
                        InProcess::new(config)
                            .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly engine: {e:#}"))?,
                    )
                }
                Kind::Subprocess => {
                    let mut config = SubprocessConfig {
                        cache_dir: cache_dir.clone(),
                        max_memory,
                        compile_timeout,
                        ..SubprocessConfig::default()
                    };
                    if let Some(workers) = self.workers {
                        config.pool_size = workers as usize;
                    }
                    Arc::new(Subprocess::new(config)?)
                }
            })
        };
        let default = self.executor;
        let executor = make(default)?;
        // A manifest entry may name the other executor: start it only then.
        let mut others: Vec<Kind> = catalog.executors().filter(|&k| k != default).collect();
        others.dedup();
        let others = others
            .into_iter()
            .map(|k| Ok((k, make(k)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut engine = ScriptEngine::with_catalog(executor, catalog).with_concurrency(usize::from(self.concurrency));
        for (kind, executor) in others {
            engine = engine.with_executor_for(kind, executor);
        }
        if let Some(path) = &self.audit {
            let audit = Audit::open(path).with_context(|| format!("--audit: cannot open {}", path.display()))?;
            engine = engine.with_audit(audit);
        }
        Ok(engine)
    }
}

impl GrantArgs {
    /// Adds the allows, then the denials, to the catalog's entries.
    fn apply(&self, catalog: &mut Catalog) -> anyhow::Result<()> {
        let here = PathBuf::from(".");
        type Apply = fn(&mut Grants, &str, &Path) -> Result<(), String>;
        // Each flag with the shape of its value and an example, for the error on a malformed one.
        const PATH: (&str, &str) = ("NAME=PATH", "read_file=./data");
        const NET: (&str, &str) = ("NAME=HOST:PORT", "fetch=api.example.com:443");
        const ENV: (&str, &str) = ("NAME=VAR", "fetch=API_KEY");
        let steps: [(&str, (&str, &str), &[String], Apply); 8] = [
            ("allow-read", PATH, &self.allow_read, |g, v, base| {
                g.allow_dir(v, base, false)
            }),
            ("allow-write", PATH, &self.allow_write, |g, v, base| {
                g.allow_dir(v, base, true)
            }),
            ("allow-net", NET, &self.allow_net, |g, v, _| g.allow_net(v)),
            ("allow-env", ENV, &self.allow_env, |g, v, _| g.allow_env(v)),
            ("deny-read", PATH, &self.deny_read, |g, v, base| {
                g.deny_dir(v, base, false)
            }),
            ("deny-write", PATH, &self.deny_write, |g, v, base| {
                g.deny_dir(v, base, true)
            }),
            ("deny-net", NET, &self.deny_net, |g, v, _| g.deny_net(v)),
            ("deny-env", ENV, &self.deny_env, |g, v, _| g.deny_env(v)),
        ];
        for (flag, (shape, example), values, apply) in steps {
            for value in values {
                let (name, what) = value
                    .split_once('=')
                    .filter(|(name, what)| !name.is_empty() && !what.is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!("--{flag} {value}: write it as --{flag} {shape}, e.g. --{flag} {example}")
                    })?;
                apply(&mut catalog.entry_mut(name).grants, what, &here)
                    .map_err(|e| anyhow::anyhow!("--{flag} {value}: {e}"))?;
                // Granting a variable this environment lacks is most likely a
                // mistake (a typo, an unexported variable): say so, but run on.
                if flag == "allow-env" {
                    let why = match std::env::var(what) {
                        Ok(_) => None,
                        Err(std::env::VarError::NotPresent) => Some("is not set in this environment"),
                        Err(std::env::VarError::NotUnicode(_)) => Some("is not valid UTF-8"),
                    };
                    if let Some(why) = why {
                        eprintln!("warning: --allow-env {value}: `{what}` {why}, so plugin `{name}` will see it unset");
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes one line of a command's output; see [`out!`].
pub(crate) fn write_stdout(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        // A full disk, say: the output would be incomplete.
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            std::process::exit(1)
        }
    }
}
