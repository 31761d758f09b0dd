//! Script: everything an untrusted plugin might try against its host — find
//! and kill the host process, read files outside its grant (directly, by
//! `..`, through a symlink), write outside the sandbox, reach the network,
//! read the host's environment. Each attempt is recorded in `attempts` as
//! `{"what", "refused": bool, "outcome"}`; the plugin then fails, listing them,
//! unless data `fail` is false.
use serde_json::{Value, json};
use wasmflow_guest::{Context, Error, Result};

#[cfg(target_arch = "wasm32")]
mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        /// WASI p1 `proc_raise(sig) -> errno`: the only signal call WASI has.
        pub fn proc_raise(sig: i32) -> i32;
    }
}

fn attempt(attempts: &mut Vec<Value>, what: &str, result: std::result::Result<String, String>) {
    let (refused, outcome) = match result {
        Ok(success) => (false, success),
        Err(refusal) => (true, refusal),
    };
    attempts.push(json!({"what": what, "refused": refused, "outcome": outcome}));
}

fn read(path: &str) -> std::result::Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| format!("read {} bytes", text.len()))
        .map_err(|e| format!("{e}"))
}

fn dangerous(ctx: &mut Context) -> Result<()> {
    let mut attempts = Vec::new();
    // Find the host process: list /proc, read its own status.
    attempt(&mut attempts, "list /proc to find the host process", match std::fs::read_dir("/proc") {
        Ok(entries) => {
            let pids: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            if pids.is_empty() { Err("/proc is empty".into()) } else { Ok(format!("found {} entries", pids.len())) }
        }
        Err(e) => Err(format!("{e}")),
    });
    attempt(&mut attempts, "read /proc/self/status", read("/proc/self/status"));
    // Kill: WASI has no kill(pid); proc_raise is the only signal call.
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: a plain import call with an integer argument.
        let errno = unsafe { raw::proc_raise(9) };
        attempt(&mut attempts, "raise SIGKILL", if errno == 0 { Ok("raised".into()) } else { Err(format!("proc_raise refused with errno {errno}")) });
    }
    attempt(&mut attempts, "read /etc/passwd", read("/etc/passwd"));
    for path in ctx.get::<Vec<String>>("paths").unwrap_or_default() {
        attempt(&mut attempts, &format!("read {path}"), read(&path));
    }
    let marker = ctx.get::<String>("marker").unwrap_or_else(|_| "/tmp/wasmflow-dangerous-was-here".into());
    attempt(&mut attempts, &format!("write {marker}"), std::fs::write(&marker, "escaped").map(|()| "written".to_string()).map_err(|e| format!("{e}")));
    attempt(&mut attempts, "connect to 127.0.0.1:22", std::net::TcpStream::connect("127.0.0.1:22").map(|_| "connected".to_string()).map_err(|e| format!("{e}")));
    for url in ctx.get::<Vec<String>>("urls").unwrap_or_default() {
        attempt(&mut attempts, &format!("fetch {url}"), match wasmflow_guest::http::get(&url) {
            Ok(response) => Ok(format!("HTTP {}", response.status)),
            Err(e) => Err(e.to_string()),
        });
    }
    attempt(&mut attempts, "read $HOME and $PATH", match (std::env::var("HOME"), std::env::var("PATH")) {
        (Err(_), Err(_)) => Err("neither is set in the sandbox".into()),
        (home, path) => Ok(format!("HOME={home:?} PATH={path:?}")),
    });
    let escaped: Vec<&Value> = attempts.iter().filter(|a| a["refused"] == false).collect();
    let summary: Vec<String> = attempts.iter().map(|a| format!("{}: {}", a["what"].as_str().unwrap_or_default(), a["outcome"].as_str().unwrap_or_default())).collect();
    let escaped_count = escaped.len();
    ctx.set("attempts", attempts.clone())?;
    ctx.set("escaped", escaped_count)?;
    if ctx.get::<bool>("fail").unwrap_or(true) {
        return Err(Error::msg(format!("{} attempts, {} succeeded:\n{}", summary.len(), escaped_count, summary.join("\n"))));
    }
    Ok(())
}

wasmflow_guest::export!(script: dangerous);
