//! The `wasmflow` command line, end to end: `run`, `call` and `check`.

use serde_json::json;
use wasmflow_tests::*;

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn run_json_reports_status_data_and_tasks() {
    let plugins = path(&plugin_dir());
    let order = path(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/order/order.bpmn"));
    let data = path(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/order/order.json"));
    let (out, code) = cli_json(&[
        "run",
        &order,
        "--plugins",
        &plugins,
        "--data",
        &format!("@{data}"),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["status"], json!("completed"));
    assert_eq!(out["error"], json!(null));
    assert_eq!(out["data"]["total"], json!(120.97));
    assert_eq!(out["data"]["discount"], json!(12.1));
    assert_eq!(out["data"]["amount_due"], json!(108.87));
    assert_eq!(out["data"]["summary"], json!(["2 x keyboard", "3 x cable"]));
    let tasks = out["tasks"].as_array().unwrap();
    assert!(tasks.iter().any(|t| t == &json!({"id": 1, "spec": "compute_total", "name": "Compute total", "type": "scriptTask", "state": "COMPLETED"})), "{tasks:?}");
    assert!(!tasks.iter().any(|t| t["spec"] == "no_discount"));
}

#[test]
fn run_without_json_prints_a_summary_and_the_data() {
    let output = cli(&["run", &path(&fixture("linear.bpmn")), "--data", r#"{"x": 1}"#]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("completed (4 tasks)"), "{stdout}");
    assert!(stdout.contains("\"x\": 2"), "{stdout}");
}

#[test]
fn a_waiting_run_exits_zero_and_lists_what_it_waits_for() {
    let (out, code) = cli_json(&["run", &path(&fixture("user_task.bpmn")), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out["status"], json!("waiting"));
    assert_eq!(
        out["waiting"],
        json!([{"id": 1, "spec": "approve", "name": "Approve the order", "type": "userTask", "state": "READY"}])
    );
}

#[test]
fn a_failed_run_exits_non_zero_and_names_task_plugin_and_cause() {
    let plugins = path(&plugin_dir());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trap.bpmn");
    std::fs::write(&file, plugin_task("trap")).unwrap();
    let (out, code) = cli_json(&["run", &path(&file), "--plugins", &plugins, "--json"]);
    assert_eq!(code, 1);
    assert_eq!(out["status"], json!("error"));
    assert_eq!(out["error"]["spec"], json!("task"));
    assert_eq!(out["error"]["plugin"], json!("trap"));
    assert_eq!(out["error"]["reason"], json!("trap"));

    let output = cli(&["run", &path(&file), "--plugins", &plugins]);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("scriptTask `task`") && stderr.contains("plugin `trap`") && stderr.contains("trap.bpmn:"),
        "{stderr}"
    );
}

#[test]
fn process_choice_and_files_given_together() {
    let two = path(&fixture("two_processes.bpmn"));
    let output = cli(&["run", &two]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--process") && stderr.contains("first") && stderr.contains("second"),
        "{stderr}"
    );

    let (out, code) = cli_json(&["run", &two, "--process", "second", "--json"]);
    assert_eq!((code, out["data"]["which"].clone()), (0, json!("second")));

    let output = cli(&["run", &two, "--process", "third"]);
    assert!(
        text(&output.stderr).contains("no process `third`"),
        "{}",
        text(&output.stderr)
    );

    // A process marked isExecutable="false" runs only when called (SpiffWorkflow refuses it too).
    let parent = path(&fixture("call_parent.bpmn"));
    let child = path(&fixture("call_child.bpmn"));
    let output = cli(&["run", &parent, &child, "--process", "child"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("process `child` is not executable (isExecutable=\"false\")"),
        "{}",
        text(&output.stderr)
    );

    // A call activity finds its process in another file given.
    let (out, code) = cli_json(&[
        "run",
        &path(&fixture("call_parent.bpmn")),
        &path(&fixture("call_child.bpmn")),
        "--json",
    ]);
    assert_eq!((code, out["data"]["doubled"].clone()), (0, json!(12)));
}

#[test]
fn bad_data_is_a_usage_error() {
    let output = cli(&["run", &path(&fixture("linear.bpmn")), "--data", "[1, 2]"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--data must be a JSON object"),
        "{}",
        text(&output.stderr)
    );
    let output = cli(&["run", &path(&fixture("linear.bpmn")), "--data", "@/no/such/file.json"]);
    assert!(
        text(&output.stderr).contains("/no/such/file.json"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn call_runs_one_plugin_once() {
    let output = cli(&["call", &path(&plugin("echo")), "--input", r#"{"data": {"a": 1}}"#]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response, json!({"status": "ok", "data": {"a": 1, "echoed": true}}));
    assert!(
        text(&output.stderr).contains("[info]"),
        "the plugin's log goes to stderr"
    );

    let output = cli(&[
        "call",
        &path(&plugin("stdio_greet")),
        "--input",
        r#"{"data": {"name": "Bo"}}"#,
    ]);
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response["data"]["greeting"], json!("Hello, Bo!"));

    let output = cli(&[
        "call",
        "python",
        "--input",
        r#"{"call": "expression", "source": "x * 2", "data": {"x": 21}}"#,
    ]);
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response, json!({"status": "ok", "result": 42}));

    // The SDK checks the ABI version and answers with an error the host reports.
    let output = cli(&["call", &path(&plugin("echo")), "--input", r#"{"abi": 2}"#]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout).contains("ABI 1 got a request for ABI 2"),
        "{}",
        text(&output.stdout)
    );

    let output = cli(&["call", &path(&plugin("fail"))]);
    assert_eq!(output.status.code(), Some(1));
    let output = cli(&["call", &path(&plugin("loop_forever")), "--timeout", "200ms"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("deadline exceeded"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn check_lists_processes_tasks_and_plugins() {
    let plugins = path(&plugin_dir());
    let order = path(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/order/order.bpmn"));
    let output = cli(&["check", &order, "--plugins", &plugins]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("process `order`"), "{stdout}");
    assert!(
        stdout.contains("scriptTask `compute_total`") && stdout.contains("[plugin order_total]"),
        "{stdout}"
    );
    assert!(stdout.contains("plugins needed: order_total, python"), "{stdout}");
}

#[test]
fn check_reports_every_problem_with_file_line_column_and_element() {
    let plugins = path(&plugin_dir());
    let file = fixture("malformed/check_problems.bpmn");
    let output = cli(&["check", &path(&file), "--plugins", &plugins]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let f = path(&file);
    assert!(
        stderr.contains(&format!("{f}:5:5: lua_task: unknown scriptFormat `lua`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:11:5: dead_end: ")) && stderr.contains("no way out"),
        "{stderr}"
    );

    let file = fixture("malformed/semantic_problems.bpmn");
    let f = path(&file);
    let output = cli(&["check", &f, "--plugins", &plugins]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{f}:7:1: bad_syntax: script does not parse")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:8:5: missing_plugin: plugin `no_such_plugin`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:9:5: call_nothing: calledElement `not_a_process`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:17:5: f7: condition does not parse")),
        "{stderr}"
    );
}

#[test]
fn a_malformed_grant_flag_shows_an_example_of_its_own_shape() {
    let diagram = path(&fixture("linear.bpmn"));
    let cases = [
        ("--allow-env", "API_KEY", "--allow-env NAME=VAR"),
        ("--allow-net", "127.0.0.1:8080", "--allow-net NAME=HOST:PORT"),
        ("--deny-env", "=API_KEY", "--deny-env NAME=VAR"),
        ("--deny-net", "api.example.com:443", "--deny-net NAME=HOST:PORT"),
        ("--allow-read", "./data", "--allow-read NAME=PATH"),
    ];
    for (flag, value, shape) in cases {
        let output = cli(&["run", &diagram, flag, value]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(shape), "{flag} {value}: {stderr}");
        assert!(stderr.contains(&format!("e.g. {flag} ")), "{flag} {value}: {stderr}");
        if flag.ends_with("-env") || flag.ends_with("-net") {
            assert!(!stderr.contains("./data"), "a directory example for {flag}: {stderr}");
        }
    }
}

#[test]
fn allow_env_of_an_unset_variable_warns_and_runs_on() {
    // Names no environment sets, removed from the child's besides.
    const UNSET: &str = "WASMFLOW_TEST_UNSET_VARIABLE";
    const SET: &str = "WASMFLOW_TEST_SET_VARIABLE";
    let run = |grant: &str| {
        std::process::Command::new(wasmflow_bin())
            .args(["run", &path(&fixture("linear.bpmn")), "--data", r#"{"x": 1}"#])
            .args(["--allow-env", grant])
            .env("WASMFLOW_CACHE_DIR", cache_dir())
            .env_remove(UNSET)
            .env(SET, "value")
            .output()
            .expect("wasmflow runs")
    };
    let output = run(&format!("env_var={UNSET}"));
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "the run goes on: {stderr}");
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(
        stderr.contains("plugin `env_var`") && stderr.contains(&format!("`{UNSET}` is not set")),
        "{stderr}"
    );

    let output = run(&format!("env_var={SET}"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("warning"), "{}", text(&output.stderr));
}

/// `wasmflow list | head`: a reader that has gone ends the command quietly,
/// whatever it prints (a summary, a table, JSON), with status 0.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pipe.db").display().to_string();
    let diagram = dir.path().join("chain.bpmn");
    std::fs::write(&diagram, task_chain(50)).unwrap();
    let diagram = diagram.display().to_string();
    let (started, code) = cli_json(&["run", &diagram, "--db", &db, "--json"]);
    assert_eq!(code, 0, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    for args in [
        vec!["run", diagram.as_str()],
        vec!["run", diagram.as_str(), "--json"],
        vec!["list", "--db", db.as_str()],
        vec!["show", id.as_str(), "--db", db.as_str()],
        vec!["show", id.as_str(), "--db", db.as_str(), "--json"],
    ] {
        // No reader at all: the first write fails with EPIPE, whenever it comes.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(wasmflow_bin())
            .args(&args)
            .env("WASMFLOW_CACHE_DIR", cache_dir())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// The built-in interpreter comes compiled with the binary: on a machine whose
/// cache is empty, the first run compiles nothing (a compile limit of 1 ms is
/// never reached) and leaves the module in the cache for the next process.
#[test]
fn a_first_run_with_an_empty_cache_compiles_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let linear = path(&fixture("linear.bpmn"));
    let output = std::process::Command::new(wasmflow_bin())
        .args([
            "run",
            &linear,
            "--data",
            r#"{"x": 1}"#,
            "--compile-timeout",
            "1ms",
            "--json",
        ])
        .env("WASMFLOW_CACHE_DIR", cache.path())
        .output()
        .expect("wasmflow runs");
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["status"], json!("completed"), "{out}");
    let cached: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".cwasm"))
        .collect();
    assert_eq!(
        cached.len(),
        1,
        "the interpreter is cached for the next run: {cached:?}"
    );

    // Without a cache at all, every run is a first run.
    let output = cli(&[
        "run",
        &linear,
        "--data",
        r#"{"x": 1}"#,
        "--no-cache",
        "--compile-timeout",
        "1ms",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// `check` parses each distinct source once; a broken one repeated on several
/// tasks is still reported at every task, each at its own line.
#[test]
fn check_reports_a_repeated_broken_script_at_each_task() {
    let xml = chain_of(40, |i| {
        let script = if i % 10 == 3 { "x = = 1" } else { "x = x + 1" };
        format!(r#"<bpmn:scriptTask id="s{i}"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>"#)
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("repeated.bpmn");
    std::fs::write(&file, &xml).unwrap();
    let f = path(&file);
    let output = cli(&["check", &f]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    for i in [3, 13, 23, 33] {
        let line = 1 + xml.lines().position(|l| l.contains(&format!(r#"id="s{i}""#))).unwrap();
        assert!(
            stderr.contains(&format!("{f}:{line}:1: s{i}: script does not parse")),
            "s{i} at line {line}: {stderr}"
        );
    }
    assert_eq!(stderr.matches("does not parse").count(), 4, "{stderr}");
}
