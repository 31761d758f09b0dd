//! `wasmflow worker` (hidden): serve plugin calls for the subprocess executor
//! as JSON lines on stdin and stdout, until stdin ends.

use std::process::ExitCode;

use super::args::WorkerArgs;
use crate::executor::in_process::default_cache_dir;
use crate::executor::subprocess::{Spinning, serve};
use crate::executor::{InProcess, InProcessConfig};

pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let config = InProcessConfig {
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir.or_else(default_cache_dir)
        },
        max_memory: args.max_memory,
        // A worker runs one call at a time: a small pool keeps its address
        // space reservation (and so its RLIMIT_AS) small.
        max_concurrent_calls: 1,
        compile_timeout: args
            .compile_timeout
            .unwrap_or(crate::executor::in_process::DEFAULT_COMPILE_TIMEOUT),
    };
    if let Some(parent) = args.parent {
        exit_with_parent(parent)?;
    }
    let executor = InProcess::new(config).map_err(|e| anyhow::anyhow!("cannot start the WebAssembly engine: {e:#}"))?;
    // stdout carries only protocol lines: plugins' output is captured by the sandbox.
    // Read fd 0 directly (not through `Stdin`'s own buffer), spinning briefly
    // for each request so a busy pool's round trip stays short.
    let stdin = std::io::BufReader::with_capacity(64 << 10, Spinning(stdin_file()?));
    let stdout = std::io::stdout();
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

/// Ends this process as soon as `parent` ends, even while a call blocks the
/// main thread: a thread waits on a pidfd of the parent (Linux 5.3+). If the
/// parent is already gone (this process was re-parented), the worker exits now.
#[cfg(target_os = "linux")]
fn exit_with_parent(parent: u32) -> anyhow::Result<()> {
    // SAFETY: plain system calls on integers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, parent as libc::pid_t, 0) } as libc::c_int;
    let gone = move || unsafe { libc::getppid() } as u32 != parent;
    if gone() || (pidfd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)) {
        std::process::exit(0);
    }
    std::thread::Builder::new()
        .name("wasmflow-parent-watch".into())
        .spawn(move || {
            if pidfd < 0 {
                // A kernel without pidfds: look every 100 ms instead.
                while !gone() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                std::process::exit(0);
            }
            let mut poll = libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `poll` is a valid pollfd; the pidfd turns readable when the parent exits.
            while unsafe { libc::poll(&mut poll, 1, -1) } < 0 {}
            std::process::exit(0);
        })?;
    Ok(())
}

/// Not Linux: the worker notices its parent is gone when stdin ends.
#[cfg(not(target_os = "linux"))]
fn exit_with_parent(_parent: u32) -> anyhow::Result<()> {
    Ok(())
}
