//! Logging on stderr through `tracing`: wasmflow's own events and those of the
//! crates it runs on (wasmtime, wasmtime-wasi, ureq, rustls).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// What each `-v` shows when `RUST_LOG` is not set: nothing by default (the
/// commands print what a user needs), then wasmflow's steps and plugin calls,
/// then everything.
fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "off",
        1 => "wasmflow=debug",
        2 => "wasmflow=trace,wasmtime=info,wasmtime_wasi=debug,ureq=debug,rustls=info",
        _ => "trace",
    }
}

/// Installs the stderr logger: `RUST_LOG` when set (e.g.
/// `RUST_LOG=wasmflow=debug,wasmtime_cranelift=info`), else the level `-v`
/// chooses. A malformed `RUST_LOG` is reported and the `-v` level used.
pub fn init(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG={spec} is not a log filter ({e}): ignoring it");
            EnvFilter::new(default_filter(verbose))
        }),
        _ => EnvFilter::new(default_filter(verbose)),
    };
    let stderr = std::io::stderr();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr.is_terminal())
        .with_target(true)
        .try_init();
}
