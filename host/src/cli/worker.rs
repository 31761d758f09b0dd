//! `wasmflow worker` (hidden): serve plugin calls for the subprocess executor
//! as JSON lines on stdin and stdout, until stdin ends.

use std::process::ExitCode;

use super::args::WorkerArgs;
use crate::executor::in_process::default_cache_dir;
use crate::executor::subprocess::{Spinning, serve};
use crate::executor::{InProcess, InProcessConfig};
use crate::script::parse_size;

pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let max_memory = parse_size(&args.max_memory).map_err(|e| anyhow::anyhow!("--max-memory: {e}"))?;
    let config = InProcessConfig {
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir.or_else(default_cache_dir)
        },
        max_memory,
        // A worker runs one call at a time: a small pool keeps its address
        // space reservation (and so its RLIMIT_AS) small.
        max_concurrent_calls: 1,
    };
    let executor = InProcess::new(config).map_err(|e| anyhow::anyhow!("cannot start the WebAssembly engine: {e:#}"))?;
    // stdout carries only protocol lines: plugins' output is captured by the sandbox.
    // Read fd 0 directly (not through `Stdin`'s own buffer), spinning briefly
    // for each request so a busy pool's round trip stays short.
    let stdin = std::io::BufReader::with_capacity(64 << 10, Spinning(stdin_file()?));
    let stdout = std::io::stdout().lock();
    match serve(&executor, stdin, stdout) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The parent is gone: nobody is left to answer.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(error) => Err(anyhow::anyhow!("the worker's stdin or stdout failed: {error}")),
    }
}

/// Standard input as a plain file.
#[cfg(unix)]
fn stdin_file() -> anyhow::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::io::stdin().as_fd().try_clone_to_owned()?.into())
}

#[cfg(not(unix))]
fn stdin_file() -> anyhow::Result<std::io::Stdin> {
    Ok(std::io::stdin())
}
