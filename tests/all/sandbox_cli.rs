//! Attacks on the sandbox through the `wasmflow` command: a pinned entry's
//! grants claimed by another file, terminal escapes in plugin output, modules
//! that take too long to compile or declare too much memory, a fan-out of
//! batches wider than the instance pool, and workers outliving their parent.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use wasmflow_tests::*;

fn sha256_hex(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    text(&output.stdout).split_whitespace().next().unwrap().to_string()
}

fn write_wat(path: &Path, wat: &str) {
    std::fs::write(path, wat::parse_str(wat).unwrap()).unwrap();
}

#[test]
fn another_file_named_like_a_pinned_entry_gets_none_of_its_grants() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["legit", "evil", "data"] {
        std::fs::create_dir(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("data/note.txt"), "granted secret").unwrap();
    std::fs::copy(plugin("fs_ops"), root.join("legit/pinned.wasm")).unwrap();
    std::fs::copy(plugin("read_file"), root.join("evil/pinned.wasm")).unwrap();
    let manifest = root.join("wasmflow.toml");
    std::fs::write(
        &manifest,
        format!(
            "[plugins.pinned]\nmodule = \"legit/pinned.wasm\"\nsha256 = \"{}\"\nallow_read = [\"./data\"]\n",
            sha256_hex(&root.join("legit/pinned.wasm"))
        ),
    )
    .unwrap();
    let input = r#"{"call": "service", "operation": "read_file", "params": {"filename": "/data/note.txt"}}"#;
    let evil = root.join("evil/pinned.wasm");
    let output = cli(&[
        "call",
        evil.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--input",
        input,
    ]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        !stdout.contains("granted secret"),
        "the unpinned file read the grant: {stdout}"
    );
    assert!(stderr.contains("is not the module of [plugins.pinned]"), "{stderr}");
    assert!(stderr.contains("denied"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");

    // The entry's own module still runs with its grants.
    let legit = root.join("legit/pinned.wasm");
    let input = json!({"data": {"ops": [{"op": "read", "path": "/data/note.txt"}]}}).to_string();
    let output = cli(&[
        "call",
        legit.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--input",
        &input,
    ]);
    assert!(
        text(&output.stdout).contains("ok: granted secret"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn control_characters_from_a_plugin_never_reach_the_terminal() {
    let input = json!({"data": {
        "log": "set title \u{1b}]0;pwned\u{7} and clipboard \u{1b}]52;c;cm0gLXJmIH4=\u{7}",
        "stdout": "carriage\rreturn \u{9b}31m\n",
        "status": "error",
        "message": "\u{1b}[2J\u{1b}[Hcleared",
    }})
    .to_string();
    let output = cli(&["call", plugin("say").to_str().unwrap(), "--input", &input]);
    assert_eq!(output.status.code(), Some(1));
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let shown = text(bytes);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{name} carries raw control characters: {shown:?}"
        );
    }
    let stderr = text(&output.stderr);
    assert!(stderr.contains("\\u{1b}]52;c;"), "escaped, still readable: {stderr}");
    assert!(stderr.contains("carriage\\rreturn"), "{stderr}");
}

#[test]
fn a_module_past_the_compile_limit_fails_to_load_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("huge.wasm");
    let body = "i32.const 1\ni32.const 2\ni32.add\ndrop\n".repeat(50_000);
    write_wat(&module, &format!("(module (func (export \"_start\")\n{body}))"));
    let output = cli(&[
        "call",
        module.to_str().unwrap(),
        "--no-cache",
        "--compile-timeout",
        "1ms",
        "--input",
        "{}",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("compile limit of 1ms"), "{stderr}");
    assert!(stderr.contains("--compile-timeout"), "{stderr}");
}

#[test]
fn a_module_declaring_more_memory_than_allowed_says_which_limit() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("greedy.wasm");
    // 2,000 pages = 125 MiB, over the default 64 MiB.
    write_wat(
        &module,
        r#"(module (memory (export "memory") 2000) (func (export "_start")))"#,
    );
    let output = cli(&["call", module.to_str().unwrap(), "--no-cache", "--input", "{}"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("64 MiB"), "{stderr}");
    assert!(stderr.contains("--memory"), "{stderr}");
}

#[test]
fn a_plugin_that_exits_reports_the_cause_before_the_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("quits.wasm");
    write_wat(
        &module,
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func (export "wasmflow_alloc") (param i32) (result i32) i32.const 0)
             (func $run (export "wasmflow_run") (param i32 i32) (result i64)
               i32.const 3
               call $exit
               i64.const 0))"#,
    );
    let output = cli(&["call", module.to_str().unwrap(), "--no-cache", "--input", "{}"]);
    let stderr = text(&output.stderr);
    let cause = stderr
        .find("exit status 3")
        .unwrap_or_else(|| panic!("no cause: {stderr}"));
    if let Some(backtrace) = stderr.find("wasm backtrace") {
        assert!(cause < backtrace, "the cause comes first: {stderr}");
    }
}

/// A process that forks into `width` parallel plugin calls.
fn fan_out(width: usize) -> String {
    let mut xml = format!("{HEADER}\n  <bpmn:process id=\"fan\" isExecutable=\"true\">\n");
    xml.push_str("    <bpmn:startEvent id=\"start\" />\n    <bpmn:parallelGateway id=\"fork\" />\n");
    xml.push_str("    <bpmn:parallelGateway id=\"join\" />\n    <bpmn:endEvent id=\"end\" />\n");
    xml.push_str("    <bpmn:sequenceFlow id=\"in\" sourceRef=\"start\" targetRef=\"fork\" />\n");
    xml.push_str("    <bpmn:sequenceFlow id=\"out\" sourceRef=\"join\" targetRef=\"end\" />\n");
    for i in 0..width {
        xml.push_str(&format!(
            "    <bpmn:scriptTask id=\"t{i}\" scriptFormat=\"wasm\"><bpmn:script>increment</bpmn:script></bpmn:scriptTask>\n\
             <bpmn:sequenceFlow id=\"a{i}\" sourceRef=\"fork\" targetRef=\"t{i}\" />\n\
             <bpmn:sequenceFlow id=\"b{i}\" sourceRef=\"t{i}\" targetRef=\"join\" />\n"
        ));
    }
    xml.push_str("  </bpmn:process>\n</bpmn:definitions>\n");
    xml
}

#[test]
fn a_batch_wider_than_the_instance_pool_completes_every_instance() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("fan.bpmn");
    std::fs::write(&diagram, fan_out(8)).unwrap();
    let objects = dir.path().join("objects.jsonl");
    std::fs::write(
        &objects,
        (0..64).map(|i| format!("{{\"n\": {i}}}\n")).collect::<String>(),
    )
    .unwrap();
    let plugins = plugin_dir();
    // 16 instances × 8 branches = 128 calls at once, on room for 64.
    let (summary, code) = cli_json(&[
        "run",
        diagram.to_str().unwrap(),
        "--objects",
        objects.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
        "--jobs",
        "16",
        "--concurrency",
        "8",
        "--json",
    ]);
    assert_eq!(
        (code, summary["completed"].clone(), summary["error"].clone()),
        (0, json!(64), json!(0)),
        "{summary}"
    );
}

/// The children of a process: every process in /proc whose parent it is.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // Fields after the command name (which may hold spaces): state, ppid, ...
                let rest = stat.rsplit(')').next().unwrap_or("");
                rest.split_whitespace().nth(1) == Some(&pid.to_string())
            })
        })
        .collect()
}

/// A pidfd of a process (not necessarily a child), which turns readable when it exits.
fn pidfd(pid: u32) -> libc::c_int {
    // SAFETY: a plain system call on integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as libc::c_int;
    assert!(fd >= 0, "pidfd_open({pid}): {}", std::io::Error::last_os_error());
    fd
}

/// Whether the process behind `pidfd` exits within `limit`: the kernel wakes
/// the wait when it does, so this takes only as long as the exit does.
fn exits_within(pidfd: libc::c_int, limit: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `poll` is a valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut poll, 1, limit.as_millis() as libc::c_int) == 1 }
}

/// Waits up to `limit` for `done`, looking every 20 ms.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn a_worker_busy_in_a_call_dies_with_its_killed_parent() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("loop.bpmn");
    std::fs::write(&diagram, plugin_task("loop_forever")).unwrap();
    let plugins = plugin_dir();
    let mut parent = Command::new(wasmflow_bin())
        .args([
            "run",
            diagram.to_str().unwrap(),
            "--plugins",
            plugins.to_str().unwrap(),
            "--executor",
            "subprocess",
            "--workers",
            "1",
            "--timeout",
            "1h",
        ])
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut workers = Vec::new();
    assert!(
        eventually(Duration::from_secs(60), || {
            workers = children(parent.id());
            !workers.is_empty()
        }),
        "the parent started no worker"
    );
    // Pidfds taken while the parent lives, so no recycled pid can stand in for a worker.
    let pidfds: Vec<_> = workers.iter().map(|&pid| pidfd(pid)).collect();
    parent.kill().unwrap();
    parent.wait().unwrap();
    for (pid, fd) in workers.iter().zip(pidfds) {
        assert!(
            exits_within(fd, Duration::from_secs(10)),
            "worker {pid} outlived its parent"
        );
    }
}

#[test]
fn pre_initialization_that_never_ends_does_not_hang_check() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("init.bpmn");
    std::fs::write(&diagram, plugin_task("init_forever")).unwrap();
    let plugins = plugin_dir();
    let output = cli(&[
        "check",
        diagram.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
        "--no-cache",
        "--timeout",
        "300ms",
    ]);
    let stdout = text(&output.stdout) + &text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("pre-initialization"), "{stdout}");
}
