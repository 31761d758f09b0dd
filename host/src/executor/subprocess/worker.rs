//! One worker process, seen from the parent: spawn it confined, send it a
//! line, wait for its answer with a deadline, kill it when it misbehaves.

use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::SubprocessConfig;
use super::confine::{self, Rlimits};
use super::protocol::preview;

/// How much of a worker's stderr is kept to explain its death.
const STDERR_TAIL: usize = 4 << 10;

/// Why a worker can no longer be used; it has been killed and reaped.
#[derive(Debug)]
pub enum Broken {
    /// No answer within the deadline.
    Timeout(Duration),
    /// The worker exited (or closed its stdout): how, and the end of its stderr.
    Exited { status: String, stderr: String },
    /// The worker printed something that is not a protocol line.
    Garbage(String),
    /// The worker printed a line longer than any answer can be.
    TooLong { limit: usize, preview: String },
    /// The request could not be written (the worker is gone).
    Send { error: std::io::Error, status: String },
}

/// A running worker process and the pipes to it.
pub struct Worker {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// What was read from stdout and not yet taken as a line.
    pending: Vec<u8>,
    /// The read buffer, kept across calls.
    chunk: Vec<u8>,
    stderr: Arc<Mutex<Vec<u8>>>,
    statm: Option<File>,
    stat: Option<File>,
    next_id: u64,
    /// Calls answered so far (for recycling).
    pub calls: u64,
    /// A warm-up prepare sent at spawn whose answer is still to be read.
    pub warming: Option<u64>,
    dead: bool,
}

impl Worker {
    /// Starts a worker: empty environment, piped stdio, confined (see [`confine`]).
    pub fn spawn(config: &SubprocessConfig) -> std::io::Result<Worker> {
        let mut command = Command::new(&config.program);
        command
            .args(&config.args)
            .args(worker_args(config))
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        confine::confine(
            &mut command,
            Rlimits {
                address_space: config.address_space,
                cpu_seconds: config.cpu_seconds,
                open_files: config.open_files,
            },
        );
        let mut child = command.spawn()?;
        let pid = child.id();
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = stderr.clone();
        // stderr must be drained, or a worker that writes much of it would block.
        let drain = std::thread::Builder::new()
            .name(format!("wasmflow-worker-{pid}-err"))
            .spawn(move || drain(stderr_pipe, &tail));
        if let Err(error) = drain {
            let _ = child.kill();
            let _ = child.wait();
            return Err(error);
        }
        // Kept open: re-reading an open /proc file costs one system call per check.
        let proc_file = |name: &str, wanted: bool| {
            (cfg!(target_os = "linux") && wanted)
                .then(|| File::open(format!("/proc/{pid}/{name}")).ok())
                .flatten()
        };
        let statm = proc_file("statm", config.recycle_above_rss.is_some());
        let stat = proc_file("stat", config.cpu_seconds.is_some());
        Ok(Worker {
            child,
            pid,
            stdin,
            stdout,
            pending: Vec::new(),
            chunk: vec![0; 64 << 10],
            stderr,
            statm,
            stat,
            next_id: 1,
            calls: 0,
            warming: None,
            dead: false,
        })
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the worker has not been killed or seen to exit.
    pub fn is_alive(&self) -> bool {
        !self.dead
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Whether the worker is still usable: alive and with nothing unasked-for on its stdout.
    pub fn is_sound(&mut self) -> bool {
        !self.dead && self.pending.is_empty() && !readable(&self.stdout, Duration::ZERO)
    }

    /// Sends `line` without waiting for the answer (a warm-up prepare).
    pub fn send(&mut self, line: &[u8]) -> Result<(), Broken> {
        if let Err(error) = self.stdin.write_all(line) {
            let status = self.kill();
            return Err(Broken::Send { error, status });
        }
        Ok(())
    }

    /// Waits up to `wait` for one line, allowing lines up to `max_line` bytes.
    /// On any failure the worker is killed and reaped before this returns.
    ///
    /// The calling thread reads the pipe itself (`poll` for the deadline):
    /// no reader thread, so no second thread wake-up on every call.
    pub fn receive(&mut self, wait: Duration, max_line: usize) -> Result<Vec<u8>, Broken> {
        let deadline = Instant::now() + wait;
        let mut scanned = 0;
        loop {
            if let Some(end) = self.pending[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + end;
                let line = self.pending[..end].to_vec();
                self.pending.drain(..=end);
                return Ok(line);
            }
            scanned = self.pending.len();
            if self.pending.len() > max_line {
                let start = preview(&self.pending);
                self.kill();
                return Err(Broken::TooLong {
                    limit: max_line,
                    preview: start,
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !readable(&self.stdout, left) {
                if Instant::now() < deadline {
                    continue; // interrupted early
                }
                self.kill();
                return Err(Broken::Timeout(wait));
            }
            match self.stdout.read(&mut self.chunk) {
                Ok(0) => {
                    let status = self.status_after_eof();
                    return Err(Broken::Exited {
                        status,
                        stderr: self.stderr_tail(),
                    });
                }
                Ok(len) => self.pending.extend_from_slice(&self.chunk[..len]),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    let status = self.kill();
                    return Err(Broken::Exited {
                        status: format!("could not be read from ({error}) and {status}"),
                        stderr: self.stderr_tail(),
                    });
                }
            }
        }
    }

    /// The worker's resident memory, when it is measured.
    pub fn resident_bytes(&self) -> Option<u64> {
        self.statm.as_ref().and_then(confine::resident_bytes)
    }

    /// The CPU time the worker has used, seconds, when it is measured.
    pub fn cpu_seconds_used(&self) -> Option<u64> {
        self.stat.as_ref().and_then(confine::cpu_seconds_used)
    }

    /// Kills the worker (and its process group) and reaps it; says how it ended.
    pub fn kill(&mut self) -> String {
        if !self.dead {
            confine::kill_group(self.pid);
            let _ = self.child.kill();
        }
        self.dead = true;
        match self.child.wait() {
            Ok(status) => describe(status),
            Err(error) => format!("could not be waited for ({error})"),
        }
    }

    /// After its stdout closed: the worker has usually exited already; give it
    /// a moment so its own exit status is reported, then make sure.
    fn status_after_eof(&mut self) -> String {
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.dead = true;
                    confine::kill_group(self.pid);
                    return describe(status);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(_) => break,
            }
        }
        let status = self.kill();
        format!("closed its output and {status}")
    }

    /// The end of what the worker wrote on stderr.
    fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&tail).trim().to_string()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.dead {
            self.kill();
        }
    }
}

/// What the parent appends to the configured arguments: the cache and memory settings.
fn worker_args(config: &SubprocessConfig) -> Vec<String> {
    let mut args = Vec::new();
    match &config.cache_dir {
        Some(dir) => {
            args.push("--cache-dir".to_string());
            args.push(dir.display().to_string());
        }
        None => args.push("--no-cache".to_string()),
    }
    args.push("--max-memory".to_string());
    args.push(config.max_memory.to_string());
    args.push("--compile-timeout".to_string());
    args.push(config.compile_timeout.as_secs_f64().to_string());
    args.push("--parent".to_string());
    args.push(std::process::id().to_string());
    args
}

/// How a process ended, in words.
fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("exited with signal {signal} ({})", signal_name(signal));
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("ended ({status})"),
    }
}

#[cfg(unix)]
fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "a signal",
    }
}

/// Whether the worker's stdout has something to read (or has closed) within `wait`.
#[cfg(unix)]
fn readable(stdout: &ChildStdout, wait: Duration) -> bool {
    use std::os::fd::AsFd;
    super::wait::readable(stdout.as_fd(), wait)
}

/// Not Unix: no deadline; the read blocks until the worker answers or exits.
#[cfg(not(unix))]
fn readable(_stdout: &ChildStdout, wait: Duration) -> bool {
    !wait.is_zero()
}

/// The stderr thread: keeps the last few KiB, so a dying worker's last words can be reported.
fn drain(mut stderr: impl Read, tail: &Mutex<Vec<u8>>) {
    let mut buffer = [0u8; 4096];
    while let Ok(len @ 1..) = stderr.read(&mut buffer) {
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.extend_from_slice(&buffer[..len]);
        if tail.len() > STDERR_TAIL {
            let excess = tail.len() - STDERR_TAIL;
            tail.drain(..excess);
        }
    }
}
