//! The state of one sandboxed call: its WASI context, memory limiter, captured
//! output and log, and the host functions a plugin may import.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime::{Linker, ResourceLimiter};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use std::path::Path;

use super::files;
use crate::call::{Limits, ServiceRunner, TaskInfo};
use crate::capability::{CheckLog, Grants};

/// How much a plugin's log and stderr may hold; the rest is dropped with a note.
pub(super) const LOG_CAPACITY: usize = 64 << 10;

/// Store data for one call.
pub(super) struct Sandbox {
    pub wasi: WasiP1Ctx,
    pub limiter: MemoryLimiter,
    pub log: Capture,
    pub stdout: Capture,
    /// The plugin's name, for capability checks.
    pub plugin: String,
    /// What it may reach.
    pub grants: Grants,
    /// Its limits (the network capability bounds requests by them).
    pub limits: Limits,
    /// Preopened directories by descriptor, and directories opened under them.
    pub dirs: files::Dirs,
    /// The open directory of each grant, in the order of `grants.dirs`.
    pub handles: Vec<Arc<std::fs::File>>,
    /// The checks made so far (bounded), returned with the reply.
    pub checks: CheckLog,
    /// What `call_service` needs, if the plugin may call services.
    pub services: Option<ServiceContext>,
    /// When the call started (host functions bound their work by the time left).
    pub started: std::time::Instant,
}

/// A plugin's means to call other services: the call's runner, for its task and depth.
pub(super) struct ServiceContext {
    pub runner: Arc<dyn ServiceRunner>,
    pub task: TaskInfo,
    pub depth: u32,
}

/// How one sandbox is set up.
pub(super) struct Setup<'a> {
    pub plugin: &'a str,
    pub grants: &'a Grants,
    pub limits: Limits,
    /// The request, for the stdio carrier; empty otherwise.
    pub stdin: Vec<u8>,
    /// How much of stdout is kept.
    pub stdout_capacity: usize,
    /// The empty directory behind `/` (see [`files`]); `None` for pre-initialization.
    pub root: Option<&'a Path>,
    /// The open directory of each grant (see [`files::GrantHandles`]), in the order of `grants.dirs`.
    pub handles: Vec<Arc<std::fs::File>>,
    pub services: Option<ServiceContext>,
}

impl Sandbox {
    /// A sandbox with the given grants and limits. Directories are preopened
    /// as granted (read-only ones with read permissions only), granted
    /// environment variables are set, and nothing else is there.
    pub fn new(setup: Setup<'_>) -> Result<Sandbox, String> {
        let log = Capture::new(LOG_CAPACITY);
        let stdout = Capture::new(setup.stdout_capacity);
        let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
        builder
            .stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(setup.stdin))
            .stdout(stdout.clone())
            // stderr is the plugin's log, like its `log` calls: one bounded buffer, in order.
            .stderr(log.clone());
        for var in &setup.grants.env {
            if let Some(value) = &var.value {
                builder.env(&var.name, value);
            }
        }
        let dirs = files::preopen(&mut builder, setup.grants, &setup.handles, setup.root)?;
        Ok(Sandbox {
            wasi: builder.build_p1(),
            limiter: MemoryLimiter {
                limit: setup.limits.memory,
                denied: None,
            },
            log,
            stdout,
            plugin: setup.plugin.to_string(),
            grants: setup.grants.clone(),
            limits: setup.limits,
            dirs,
            handles: setup.handles,
            checks: CheckLog::default(),
            services: setup.services,
            started: std::time::Instant::now(),
        })
    }
}

impl Sandbox {
    /// Which grant (index into `grants.dirs`) a guest path falls under.
    pub fn grant_index(&self, guest: &str) -> Option<usize> {
        let grant = self.grants.dir_for(guest)?;
        self.grants.dirs.iter().position(|d| std::ptr::eq(d, grant))
    }
}

/// Enforces the per-call memory limit and remembers a refused growth, so that
/// the trap that usually follows (an allocation failure aborts) is reported as
/// what it is.
pub(super) struct MemoryLimiter {
    pub limit: usize,
    pub denied: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.denied = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// A bounded, shared byte buffer used for stdout and for the log (stderr and `log` calls).
///
/// Writes past the capacity are dropped, not refused: a plugin that prints
/// garbage must not be able to fail or stall a task by printing.
#[derive(Clone)]
pub(super) struct Capture {
    inner: Arc<Mutex<CaptureInner>>,
}

struct CaptureInner {
    bytes: Vec<u8>,
    capacity: usize,
    dropped: usize,
}

impl Capture {
    pub fn new(capacity: usize) -> Capture {
        Capture {
            inner: Arc::new(Mutex::new(CaptureInner {
                bytes: Vec::new(),
                capacity,
                dropped: 0,
            })),
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = inner.capacity - inner.bytes.len();
        let taken = bytes.len().min(room);
        inner.bytes.extend_from_slice(&bytes[..taken]);
        inner.dropped += bytes.len() - taken;
    }

    /// How many bytes were dropped for lack of room.
    pub fn dropped(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).dropped
    }

    /// Everything kept so far.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes)
    }

    /// The kept bytes as text (lossy: plugins may print anything), with a note
    /// about what was dropped. The text is bounded too: invalid bytes become
    /// three-byte replacement characters, so garbage could otherwise triple.
    pub fn text(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = crate::call::escape_controls(&String::from_utf8_lossy(&inner.bytes)).into_owned();
        let mut dropped = inner.dropped;
        if text.len() > inner.capacity {
            let mut cut = inner.capacity;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            dropped += text.len() - cut;
            text.truncate(cut);
        }
        if dropped > 0 {
            if !text.ends_with('\n') && !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("[{dropped} more bytes of output dropped]\n"));
        }
        text
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        Capture::write(self, &bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always willing: what does not fit is counted and dropped.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Capture::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Adds WASI preview 1 (with nothing granted unless the call's grants say so,
/// and file opens checked and recorded, see [`files`]) and the `wasmflow` host functions.
pub(super) fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    wasmtime_wasi::p1::add_to_linker_sync(linker, |s: &mut Sandbox| &mut s.wasi)?;
    files::add_to_linker(linker)?;
    super::sleep::add_to_linker(linker)?;
    super::host_fns::add_to_linker(linker)
}
