//! The subprocess executor: plugin calls run in a pool of `wasmflow worker`
//! processes, each running the in-process executor on one call at a time.
//!
//! Requests and responses travel as JSON lines over the worker's stdin and
//! stdout (see [`protocol`]); the response bytes come back verbatim, and the
//! worker reports failures as the in-process executor does, so results are the
//! same on both executors. What running out of process adds:
//!
//! - **A deadline the parent enforces.** The worker's own epoch deadline
//!   normally stops a call; if the worker does not answer within the call's
//!   limit plus a grace (1 s + 10 %), the parent kills it (SIGKILL to its
//!   process group), reaps it and fails the call with
//!   [`FailureKind::Deadline`]. A first call of a plugin in a worker also gets
//!   time to compile it.
//! - **Crash containment.** A worker that dies, or prints anything that is not
//!   a protocol line, fails only the call it was running
//!   ([`FailureKind::Worker`], with its exit status and the end of its
//!   stderr); the pool starts a new worker for the next call.
//! - **Confinement** (Linux; see [`confine`]): an empty environment; stdin,
//!   stdout and stderr as pipes and no other descriptor kept across exec;
//!   `RLIMIT_AS`, `RLIMIT_CPU`, `RLIMIT_NOFILE` as configured and
//!   `RLIMIT_CORE` 0; a process group of its own. No seccomp filter or
//!   namespaces are applied: the WebAssembly sandbox inside the worker is the
//!   isolation boundary, and these limits bound what a runtime bug could cost.
//! - **Recycling.** A worker is replaced after `recycle_after_calls` calls,
//!   when its resident memory exceeds `recycle_above_rss` after a call, or
//!   when it has used half its CPU-time limit (so that limit does not end a
//!   call, unless one call alone uses that much).

mod confine;
mod pool;
pub mod protocol;
mod serve;
mod wait;
mod worker;

use std::path::PathBuf;
use std::time::Duration;

pub use serve::serve;
pub use wait::Spinning;

use super::{Call, Executor, Reply};
use crate::call::{FailureKind, ScriptError};
use crate::call::{Limits, Plugin, ServiceCall};
use pool::Pool;
pub(crate) use pool::load_allowance;
use protocol::Answer;
use worker::Broken;

/// Settings of a [`Subprocess`] executor.
#[derive(Debug, Clone)]
pub struct SubprocessConfig {
    /// The worker program (default: this executable, which must be `wasmflow`).
    pub program: PathBuf,
    /// Its arguments (default `["worker"]`). The parent appends
    /// `--cache-dir DIR` (or `--no-cache`) and `--max-memory BYTES`.
    pub args: Vec<String>,
    /// The most workers running at once (default: the number of CPUs).
    pub pool_size: usize,
    /// Workers started when the executor is created, each loading the
    /// built-in interpreter, so first calls are fast (default 1).
    pub warm: usize,
    /// Replace a worker after this many calls (default 10,000).
    pub recycle_after_calls: Option<u64>,
    /// Replace a worker whose resident memory is above this many bytes after a call (default 512 MiB).
    pub recycle_above_rss: Option<u64>,
    /// Each worker's address space limit, bytes (default 64 GiB: the pooling
    /// allocator reserves about 4 GiB of address space per memory slot, and a
    /// worker has ten: one per nesting level of a call, and one for
    /// pre-initialization).
    pub address_space: Option<u64>,
    /// Each worker's CPU time limit, seconds (default 3,600). A worker is
    /// replaced once it has used half of it.
    pub cpu_seconds: Option<u64>,
    /// Each worker's open-descriptor limit (default 256: every loaded module
    /// keeps its cached file open to map its memory image).
    pub open_files: Option<u64>,
    /// Where workers cache compiled modules; `None` for no disk cache
    /// (default: as for the in-process executor).
    pub cache_dir: Option<PathBuf>,
    /// The largest memory any call may be given (sizes each worker's allocator).
    pub max_memory: usize,
    /// How long compiling one module may take in a worker (see
    /// [`InProcessConfig::compile_timeout`](crate::executor::InProcessConfig::compile_timeout)).
    pub compile_timeout: Duration,
}

impl Default for SubprocessConfig {
    fn default() -> Self {
        SubprocessConfig {
            program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("wasmflow")),
            args: vec!["worker".to_string()],
            pool_size: std::thread::available_parallelism().map_or(1, |n| n.get()),
            warm: 1,
            recycle_after_calls: Some(10_000),
            recycle_above_rss: Some(512 << 20),
            address_space: Some(64 << 30),
            cpu_seconds: Some(3_600),
            open_files: Some(256),
            cache_dir: super::in_process::default_cache_dir(),
            max_memory: Limits::default().memory,
            compile_timeout: super::in_process::DEFAULT_COMPILE_TIMEOUT,
        }
    }
}

/// Runs plugins in a pool of worker processes. Share it with an `Arc`.
pub struct Subprocess {
    pool: Pool,
}

impl Subprocess {
    /// Creates the pool and starts the `warm` workers.
    pub fn new(mut config: SubprocessConfig) -> anyhow::Result<Subprocess> {
        config.pool_size = config.pool_size.max(1);
        let pool = Pool::new(config);
        let warm = pool.config().warm;
        pool.warm_up(warm, &Plugin::python())
            .map_err(|error| anyhow::anyhow!("{}", cannot_start(pool.config(), &error)))?;
        Ok(Subprocess { pool })
    }

    /// The settings.
    pub fn config(&self) -> &SubprocessConfig {
        self.pool.config()
    }

    /// The process ids of the workers now running (for diagnostics and tests).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pool.pids()
    }
}

impl Executor for Subprocess {
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError> {
        let name = &call.plugin.name;
        let timeout = call.limits.timeout;
        match self.exchange(
            name,
            |id| protocol::encode_call(id, &call),
            timeout,
            call.limits,
            Some(&call),
        )? {
            Answer::Ok(reply) => Ok(reply),
            Answer::Failed(error) => Err(error),
            Answer::Loading | Answer::Running | Answer::Service(..) => {
                unreachable!("`exchange` waits past notices")
            }
        }
    }

    fn prepare(&self, plugin: &Plugin, limits: Limits) -> Result<(), ScriptError> {
        let allowance = load_allowance(self.config(), limits);
        let wait = Limits {
            timeout: allowance,
            ..limits
        };
        match self.exchange(
            &plugin.name,
            |id| protocol::encode_prepare(id, plugin, limits),
            allowance,
            wait,
            None,
        )? {
            Answer::Ok(_) => Ok(()),
            Answer::Failed(error) => Err(error),
            Answer::Loading | Answer::Running | Answer::Service(..) => {
                unreachable!("`exchange` waits past notices")
            }
        }
    }
}

impl Subprocess {
    /// Sends one request to a worker and waits for its answer: `timeout` plus
    /// a grace, and the [`load_allowance`] while the worker says it is loading
    /// the plugin (until it says the call runs). The running plugin's
    /// `call_service` requests are run here, through `call`'s service runner,
    /// and answered. Any failure of the worker is the failure of this request.
    fn exchange(
        &self,
        plugin: &str,
        request: impl FnOnce(u64) -> Vec<u8>,
        timeout: Duration,
        limits: Limits,
        call: Option<&Call<'_>>,
    ) -> Result<Answer, ScriptError> {
        let nested = call.is_some_and(|call| call.depth > 0);
        let mut worker = self
            .pool
            .lease(!nested)
            .map_err(|error| ScriptError::new(plugin, FailureKind::Worker, cannot_start(self.config(), &error)))?;
        let id = worker.next_id();
        worker
            .send(&request(id))
            .map_err(|broken| failure(plugin, broken, timeout))?;
        let mut wait = timeout + grace(timeout);
        let mut loading = false;
        loop {
            let line = worker
                .receive(wait, longest_reply(limits))
                .map_err(|broken| failure(plugin, broken, timeout))?;
            let answer = match protocol::decode_reply(&line, id) {
                Ok(Answer::Loading) if !loading => {
                    loading = true;
                    wait += load_allowance(self.config(), limits);
                    continue;
                }
                Ok(Answer::Loading) => Err("a second loading notice for the same call".to_string()),
                Ok(Answer::Running) if loading => {
                    // Loaded: the call's own limit starts now, whatever loading took.
                    wait = timeout + grace(timeout);
                    continue;
                }
                Ok(Answer::Running) => Err("a running notice without a loading notice".to_string()),
                Ok(Answer::Service(request, remaining)) => match call.and_then(|call| Some((call, call.services?))) {
                    Some((call, services)) => {
                        let nested = services.runner.call_service(ServiceCall {
                            caller: &call.plugin.name,
                            grants: call.grants,
                            task: services.task,
                            depth: services.depth,
                            deadline: std::time::Instant::now() + remaining.min(call.limits.timeout),
                            request: &request,
                        });
                        worker
                            .send(&protocol::encode_service_answer(id, nested))
                            .map_err(|broken| failure(plugin, broken, timeout))?;
                        continue;
                    }
                    None => Err("a service request from a call that may call no service".to_string()),
                },
                other => other,
            };
            return match answer {
                Ok(answer) => {
                    worker.calls += 1;
                    Ok(answer)
                }
                Err(problem) => {
                    worker.kill();
                    let preview = format!("{} ({problem})", protocol::preview(&line));
                    Err(failure(plugin, Broken::Garbage(preview), timeout))
                }
            };
        }
    }
}

/// How long past its own limit a call may take before the parent kills its worker.
fn grace(timeout: Duration) -> Duration {
    Duration::from_secs(1) + timeout / 10
}

/// The longest reply line a call can produce: the response (at worst six bytes
/// of JSON escape per byte) and the log, with room to spare.
fn longest_reply(limits: Limits) -> usize {
    limits.response.saturating_mul(6).saturating_add(4 << 20)
}

/// A broken worker as the failure of the call it was running.
fn failure(plugin: &str, broken: Broken, timeout: Duration) -> ScriptError {
    const REPLACED: &str = "the pool starts a new worker for the next call";
    let (kind, message) = match broken {
        Broken::Timeout(waited) => (
            FailureKind::Deadline,
            format!(
                "the call's limit is {}, and its worker process did not answer within {}; the worker was killed and {REPLACED} (raise the limit with --timeout)",
                format_duration(timeout),
                format_duration(waited)
            ),
        ),
        Broken::Exited { status, stderr } => {
            let last_words = match stderr.len() {
                0 => String::new(),
                len => format!(
                    "; its stderr ended with: {}",
                    crate::call::escape_controls(&stderr[stderr.floor_char_boundary(len.saturating_sub(1000))..])
                ),
            };
            (
                FailureKind::Worker,
                format!("the worker process {status} while running this call{last_words}; {REPLACED}"),
            )
        }
        Broken::Garbage(preview) => (
            FailureKind::Worker,
            format!(
                "the worker printed something that is not a protocol line: {preview}; it was killed and {REPLACED} (is the worker program `wasmflow worker` of the same version?)"
            ),
        ),
        Broken::TooLong { limit, preview } => (
            FailureKind::Worker,
            format!(
                "the worker printed a line longer than {limit} bytes, starting {preview}; it was killed and {REPLACED}"
            ),
        ),
        Broken::Send { error, status } => (
            FailureKind::Worker,
            format!("the call could not be sent to the worker process ({error}); it {status}; {REPLACED}"),
        ),
    };
    ScriptError::new(plugin, kind, message)
}

/// Why no worker could be started, and what to do about it.
fn cannot_start(config: &SubprocessConfig, error: &std::io::Error) -> String {
    format!(
        "cannot start a worker process `{} {}`: {error} (run with --executor in-process, or check that the program is a wasmflow binary)",
        config.program.display(),
        config.args.join(" ")
    )
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
