//! The subprocess executor, end to end: workers that die, hang or print
//! garbage fail only their call; the pool recovers and holds under load;
//! workers are confined; results are the same as in process.

#![allow(clippy::result_large_err)] // the tests hand ScriptErrors around as the library does

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmflow::executor::{Subprocess, SubprocessConfig};
use wasmflow::script::{Catalog, FailureKind, Limits, Plugin, ScriptEngine, ScriptError, TaskInfo};
use wasmflow_tests::*;

/// A script engine on a pool of its own, so a test can kill its workers.
fn own_pool(config: SubprocessConfig) -> (Arc<Subprocess>, ScriptEngine) {
    let executor = Arc::new(Subprocess::new(config).expect("the workers start"));
    let scripts = ScriptEngine::new(executor.clone(), plugin_dir());
    (executor, scripts)
}

/// One worker, started by the first call.
fn single_worker() -> SubprocessConfig {
    SubprocessConfig {
        pool_size: 1,
        warm: 0,
        ..subprocess_config()
    }
}

/// A "worker" that is not one: a shell command.
fn fake_worker(script: &str) -> SubprocessConfig {
    SubprocessConfig {
        program: PathBuf::from("/bin/sh"),
        args: vec!["-c".into(), script.into()],
        ..single_worker()
    }
}

fn request(data: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"abi": 1, "call": "script", "task": {"id": "1", "spec": "t", "process": "p", "instance": "i"}, "data": data})).unwrap()
}

fn echo(scripts: &ScriptEngine, n: u64) -> Result<Value, ScriptError> {
    let outcome = scripts.call(&Plugin::from_file(plugin("echo")), &request(json!({"n": n})), None)?;
    Ok(serde_json::to_value(match outcome.value {
        wasmflow::script::Response::Ok { data, .. } => data,
        other => panic!("echo answered {other:?}"),
    })
    .unwrap())
}

fn with_timeout(scripts: &ScriptEngine, timeout: Duration) -> ScriptEngine {
    scripts.clone().with_limits(Limits {
        timeout,
        ..Limits::default()
    })
}

/// Waits until the pool has a worker, and returns its pid.
fn first_worker(executor: &Subprocess) -> u32 {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(&pid) = executor.worker_pids().first() {
            return pid;
        }
        assert!(Instant::now() < until, "no worker started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_worker_killed_mid_call_fails_only_that_call() {
    let (executor, _) = own_pool(single_worker());
    let gates = Gates::new();
    let mut catalog = Catalog::new(plugin_dir());
    gates.grant(&mut catalog);
    let scripts = ScriptEngine::with_catalog(executor.clone(), catalog);
    let slow = with_timeout(&scripts, Duration::from_secs(120));
    let path = gates.path("call");
    let call =
        std::thread::spawn(move || slow.call_service(&TaskInfo::default(), "gate", &object(json!({ "path": path }))));
    // Kill the worker once the call is in the plugin, waiting at its gate.
    gates.wait_entered("call");
    let pid = first_worker(&executor);
    assert_eq!(gates.holders("call"), [pid], "the worker runs the call");
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let error = call.join().unwrap().unwrap_err();
    assert_eq!(
        (error.kind, error.plugin.as_str()),
        (FailureKind::Worker, "gate"),
        "{error}"
    );
    assert!(
        error.message.contains("signal 9 (SIGKILL) while running this call"),
        "{}",
        error.message
    );
    assert!(!process_exists(pid), "the dead worker is reaped");

    // The pool replaces it.
    assert_eq!(echo(&scripts, 7).unwrap(), json!({"n": 7, "echoed": true}));
    assert_ne!(executor.worker_pids(), vec![pid]);
}

#[test]
fn a_worker_past_its_deadline_is_killed_and_replaced() {
    let (executor, scripts) = own_pool(fake_worker("sleep 1000"));
    let quick = with_timeout(&scripts, Duration::from_millis(200));
    let start = Instant::now();
    let call = std::thread::spawn(move || echo(&quick, 1));
    let pid = first_worker(&executor);
    let error = call.join().unwrap().unwrap_err();
    let took = start.elapsed();
    assert_eq!(
        (error.kind, error.plugin.as_str()),
        (FailureKind::Deadline, "echo"),
        "{error}"
    );
    assert!(
        error.message.contains("200ms") && error.message.contains("killed") && error.message.contains("--timeout"),
        "{}",
        error.message
    );
    // The limit plus the grace (1 s + 10 %), not the sleep.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!process_exists(pid), "the stuck worker is killed and reaped");
    assert!(executor.worker_pids().is_empty());
}

#[test]
fn once_its_plugin_is_loaded_a_call_gets_only_its_own_deadline() {
    // The worker says it is loading, then that the call runs, then blocks (as
    // a call stuck in the host would). Before, the parent granted the loading
    // allowance on top of the call's limit: two minutes for a 200 ms call.
    let script = r#"read line; id=$(printf '%s' "$line" | sed 's/^{"id":\([0-9]*\).*/\1/'); printf '{"id":%s,"loading":true}\n{"id":%s,"running":true}\n' "$id" "$id"; sleep 1000"#;
    let (_executor, scripts) = own_pool(fake_worker(script));
    let quick = with_timeout(&scripts, Duration::from_millis(200));
    let error = echo(&quick, 1).unwrap_err();
    assert_eq!(error.kind, FailureKind::Deadline, "{error}");
    // The limit plus the grace (1 s + 10 %), and nothing for loading.
    assert!(
        error.message.contains("did not answer within 1220ms"),
        "{}",
        error.message
    );
}

#[test]
fn a_worker_printing_garbage_fails_the_call_with_what_it_printed() {
    let (executor, scripts) = own_pool(fake_worker("echo garbage; sleep 10"));
    let error = echo(&scripts, 1).unwrap_err();
    assert_eq!(
        (error.kind, error.plugin.as_str()),
        (FailureKind::Worker, "echo"),
        "{error}"
    );
    assert!(
        error.message.contains("not a protocol line") && error.message.contains("\"garbage\""),
        "{}",
        error.message
    );
    assert!(executor.worker_pids().is_empty(), "the worker is killed");
}

#[test]
fn a_worker_program_that_cannot_start_is_a_clear_error() {
    let config = SubprocessConfig {
        program: PathBuf::from("/nonexistent/wasmflow"),
        ..single_worker()
    };
    let (_, scripts) = own_pool(config);
    let error = echo(&scripts, 1).unwrap_err();
    assert_eq!(error.kind, FailureKind::Worker);
    assert!(
        error
            .message
            .contains("cannot start a worker process `/nonexistent/wasmflow worker`")
            && error.message.contains("--executor in-process"),
        "{}",
        error.message
    );
    // With warm workers, creating the executor fails instead.
    let config = SubprocessConfig {
        program: PathBuf::from("/nonexistent/wasmflow"),
        warm: 1,
        ..single_worker()
    };
    assert!(Subprocess::new(config).is_err());
}

#[test]
fn sixteen_concurrent_calls_share_two_workers() {
    let (executor, scripts) = own_pool(SubprocessConfig {
        pool_size: 2,
        warm: 2,
        ..subprocess_config()
    });
    let results: Vec<_> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..16)
            .map(|n| {
                let scripts = &scripts;
                let executor = &executor;
                scope.spawn(move || {
                    let results: Vec<_> = (0..5).map(|round| echo(scripts, n * 100 + round)).collect();
                    assert!(executor.worker_pids().len() <= 2);
                    results
                })
            })
            .collect();
        calls.into_iter().map(|call| call.join().unwrap()).collect()
    });
    for (n, results) in results.into_iter().enumerate() {
        for (round, result) in results.into_iter().enumerate() {
            let n = (n * 100 + round) as u64;
            assert_eq!(result.unwrap(), json!({"n": n, "echoed": true}));
        }
    }
    assert_eq!(executor.worker_pids().len(), 2);
}

#[test]
fn workers_are_recycled_after_their_calls() {
    let (executor, scripts) = own_pool(SubprocessConfig {
        recycle_after_calls: Some(2),
        ..single_worker()
    });
    echo(&scripts, 1).unwrap();
    let first = executor.worker_pids();
    echo(&scripts, 2).unwrap();
    assert!(executor.worker_pids().is_empty(), "retired after its second call");
    echo(&scripts, 3).unwrap();
    assert_ne!(executor.worker_pids(), first);

    // A worker that has used half its CPU-time limit is retired before the limit can kill it.
    let (executor, scripts) = own_pool(SubprocessConfig {
        cpu_seconds: Some(2),
        ..single_worker()
    });
    // Short spins add at most 0.6 s of CPU each, so the worker passes half
    // its limit (and is retired) before it can reach the limit itself, however
    // busy the machine is: a slower share only takes more spins.
    let spin = with_timeout(&scripts, Duration::from_millis(600));
    let mut spins = 0;
    loop {
        let error = spin
            .call(&Plugin::from_file(plugin("loop_forever")), &request(json!({})), None)
            .unwrap_err();
        assert_eq!(error.kind, FailureKind::Deadline, "{error}");
        spins += 1;
        if executor.worker_pids().is_empty() {
            break;
        }
        assert!(
            spins < 60,
            "not retired after {spins} spins of 0.6 s with a 2 s CPU limit"
        );
    }
    assert!(
        spins >= 2,
        "retired after a second of CPU time, not before: {spins} spin(s)"
    );
    assert_eq!(echo(&scripts, 4).unwrap(), json!({"n": 4, "echoed": true}));
}

#[test]
fn workers_start_with_no_environment_no_extra_descriptors_and_resource_limits() {
    // A descriptor this process leaves open across exec, and an environment
    // variable: neither may reach a worker.
    let leaked = tempfile::tempfile().unwrap();
    assert_eq!(unsafe { libc::fcntl(leaked.as_raw_fd(), libc::F_SETFD, 0) }, 0);
    let leaked_target = std::fs::read_link(format!("/proc/self/fd/{}", leaked.as_raw_fd())).unwrap();
    unsafe { std::env::set_var("WASMFLOW_TEST_PARENT_SECRET", "hunter2") };

    let (executor, scripts) = own_pool(SubprocessConfig {
        pool_size: 2,
        warm: 2,
        // Room for a worker's ten memory slots of about 4 GiB each (see `SubprocessConfig::address_space`).
        address_space: Some(56 << 30),
        cpu_seconds: Some(1234),
        open_files: Some(100),
        ..subprocess_config()
    });
    // The limits leave the workers able to work.
    assert_eq!(echo(&scripts, 1).unwrap(), json!({"n": 1, "echoed": true}));
    let pids = executor.worker_pids();
    assert_eq!(pids.len(), 2);
    for pid in pids {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(
            environ.is_empty(),
            "worker {pid} has an environment: {}",
            text(&environ)
        );

        let fds: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let target = std::fs::read_link(entry.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                (entry.file_name().to_string_lossy().into_owned(), target)
            })
            .collect();
        for stdio in ["0", "1", "2"] {
            assert!(
                fds.iter()
                    .any(|(fd, target)| fd == stdio && target.starts_with("pipe:")),
                "worker {pid}: fd {stdio} is not a pipe: {fds:?}"
            );
        }
        // Only its own three pipes (the worker may duplicate them).
        let stdio: Vec<&String> = fds
            .iter()
            .filter(|(fd, _)| ["0", "1", "2"].contains(&fd.as_str()))
            .map(|(_, t)| t)
            .collect();
        assert!(
            fds.iter()
                .all(|(_, target)| !target.starts_with("pipe:") || stdio.contains(&target)),
            "worker {pid} holds another process's pipes: {fds:?}"
        );
        assert!(
            !fds.iter()
                .any(|(_, target)| *target == leaked_target.display().to_string()),
            "worker {pid} inherited {}: {fds:?}",
            leaked_target.display()
        );

        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let limit = |name: &str| -> Vec<String> {
            let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
            line[name.len()..]
                .split_whitespace()
                .take(2)
                .map(String::from)
                .collect()
        };
        assert_eq!(limit("Max address space"), ["60129542144", "60129542144"], "{limits}");
        assert_eq!(limit("Max cpu time"), ["1234", "1234"], "{limits}");
        assert_eq!(limit("Max open files"), ["100", "100"], "{limits}");
        assert_eq!(limit("Max core file size"), ["0", "0"], "{limits}");
    }
}

/// Every plugin of the suite, good and hostile, with the limits its test uses.
fn cases() -> Vec<(&'static str, Limits, Value)> {
    let quick = Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    vec![
        ("echo", Limits::default(), json!({"n": 1})),
        ("increment", Limits::default(), json!({"i": 41})),
        (
            "order_total",
            Limits::default(),
            json!({"items": [{"name": "a", "price": 2.5, "quantity": 4}]}),
        ),
        ("stdio_greet", Limits::default(), json!({"name": "Ada"})),
        ("read_passwd", Limits::default(), json!({})),
        ("read_env", Limits::default(), json!({})),
        ("open_socket", Limits::default(), json!({})),
        ("loop_forever", quick, json!({})),
        (
            "alloc_unbounded",
            Limits {
                memory: 32 << 20,
                ..quick
            },
            json!({}),
        ),
        ("recurse", quick, json!({})),
        ("trap", Limits::default(), json!({})),
        ("invalid_json", Limits::default(), json!({})),
        ("wrong_status", Limits::default(), json!({})),
        (
            "huge_response",
            Limits {
                response: 1 << 20,
                ..Limits::default()
            },
            json!({"size": 2 << 20}),
        ),
        ("export_nothing", Limits::default(), json!({})),
        ("print_garbage", Limits::default(), json!({"kept": 1})),
        ("fail", Limits::default(), json!({})),
        ("bpmn_error", Limits::default(), json!({})),
    ]
}

#[test]
fn every_plugin_gives_the_same_result_on_both_executors() {
    let in_process = scripts_on(ExecutorKind::InProcess);
    let subprocess = scripts_on(ExecutorKind::Subprocess);
    for (name, limits, data) in cases() {
        let plugin = Plugin::from_file(plugin(name));
        let request = request(data);
        let here = in_process.clone().with_limits(limits).call(&plugin, &request, None);
        let there = subprocess.clone().with_limits(limits).call(&plugin, &request, None);
        assert_eq!(here, there, "{name}");
    }
    // Bytes that are not a request, and an inline script, travel exactly too.
    for request in [&b"not json"[..], b"\xff\xfe", b" {\"abi\": 1}\n"] {
        let plugin = Plugin::from_file(plugin("echo"));
        assert_eq!(
            in_process.call(&plugin, request, None),
            subprocess.call(&plugin, request, None)
        );
    }
    let task = wasmflow::script::TaskInfo::default();
    let data = object(json!({"x": 20}));
    assert_eq!(
        in_process.evaluate(&task, "x * 2 + 2", &data),
        subprocess.evaluate(&task, "x * 2 + 2", &data)
    );
    assert_eq!(
        in_process.evaluate(&task, "x +", &data),
        subprocess.evaluate(&task, "x +", &data)
    );
    let missing = Plugin::from_file(plugin_dir().join("no_such_plugin.wasm"));
    assert_eq!(in_process.prepare(&missing), subprocess.prepare(&missing));
    assert_eq!(
        in_process.prepare(&Plugin::python()),
        subprocess.prepare(&Plugin::python())
    );
}

#[test]
fn run_gives_the_same_json_on_both_executors() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/order");
    let order = example.join("order.bpmn").display().to_string();
    let data = format!("@{}", example.join("order.json").display());
    let plugins = plugin_dir().display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", &order, "--plugins", &plugins, "--data", &data, "--json"];
        args.extend(extra);
        let (mut out, code) = cli_json(&args);
        // The instance id is new on every run.
        out.as_object_mut().unwrap().remove("id");
        (out, code)
    };
    let in_process = run(&[]);
    assert_eq!(in_process.0["status"], json!("completed"), "{}", in_process.0);
    assert_eq!(run(&["--executor", "subprocess", "--workers", "2"]), in_process);
}

#[test]
fn the_worker_command_is_hidden_and_answers_bad_lines_with_errors() {
    let help = cli(&["--help"]);
    assert!(!text(&help.stdout).contains("worker"), "{}", text(&help.stdout));

    use std::io::Write;
    let mut worker = std::process::Command::new(wasmflow_bin())
        .args(["worker", "--no-cache"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    worker
        .stdin
        .take()
        .unwrap()
        .write_all(b"garbage\n{\"id\": 3}\n")
        .unwrap();
    let output = worker.wait_with_output().unwrap();
    assert!(output.status.success());
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        (&lines[0]["id"], &lines[0]["error"]["kind"]),
        (&json!(null), &json!("worker"))
    );
    assert_eq!(
        (&lines[1]["id"], &lines[1]["error"]["kind"]),
        (&json!(3), &json!("worker"))
    );
}
