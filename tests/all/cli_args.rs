//! The command line's typed arguments: environment defaults, one spelling of
//! statuses and executors, sizes and durations checked as arguments, and logging.

use std::process::Command;

use serde_json::{Value, json};
use wasmflow_tests::*;

fn wasmflow(args: &[&str]) -> Command {
    let mut command = Command::new(wasmflow_bin());
    command
        .args(args)
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .env_remove("WASMFLOW_DB")
        .env_remove("RUST_LOG");
    command
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&output.stdout), text(&output.stderr)))
}

/// Starts `user_task.bpmn` kept in `db`; it waits for its user task.
fn waiting_instance(db: &str) -> String {
    let output = wasmflow(&[
        "run",
        &fixture("user_task.bpmn").display().to_string(),
        "--db",
        db,
        "--json",
    ])
    .output()
    .unwrap();
    let run = json_of(&output);
    assert_eq!(run["status"], json!("waiting"), "{run}");
    run["id"].as_str().expect("a kept instance has an id").to_string()
}

#[test]
fn wasmflow_db_names_the_database_and_db_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.db").display().to_string();
    let other = dir.path().join("other.db").display().to_string();
    let id = waiting_instance(&kept);

    let listed = json_of(
        &wasmflow(&["list", "--json"])
            .env("WASMFLOW_DB", &kept)
            .output()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], json!(id));

    let output = wasmflow(&["list", "--db", &other])
        .env("WASMFLOW_DB", &kept)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("no instances in"),
        "{}",
        text(&output.stdout)
    );
    assert!(text(&output.stdout).contains("other.db"), "{}", text(&output.stdout));
}

#[test]
fn list_status_is_spelled_as_json_spells_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kept.db").display().to_string();
    let id = waiting_instance(&db);

    let waiting = json_of(
        &wasmflow(&["list", "--db", &db, "--status", "waiting", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(waiting.as_array().unwrap().len(), 1, "{waiting}");
    assert_eq!(waiting[0]["id"], json!(id));
    assert_eq!(waiting[0]["status"], json!("waiting"));
    let completed = json_of(
        &wasmflow(&["list", "--db", &db, "--status", "completed", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(completed, json!([]));

    let output = wasmflow(&["list", "--db", &db, "--status", "Waiting"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("possible values: running, waiting, halted, completed, error"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_executor_is_refused_with_the_ones_that_exist() {
    let output = wasmflow(&[
        "run",
        &fixture("linear.bpmn").display().to_string(),
        "--executor",
        "thread",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("in-process") && stderr.contains("subprocess"),
        "{stderr}"
    );
}

#[test]
fn sizes_and_durations_are_refused_before_any_file_is_read() {
    for (flag, value, why) in [
        ("--memory", "lots", "not a size"),
        ("--max-response", "5GiB", "4GiB"),
        ("--timeout", "25h", "24h"),
        ("--compile-timeout", "soon", "soon"),
    ] {
        let output = wasmflow(&["run", "no-such-diagram.bpmn", flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains(why),
            "{flag} {value}: {stderr}"
        );
        assert!(
            !stderr.contains("no-such-diagram"),
            "the argument is checked first: {stderr}"
        );
    }
}

#[test]
fn every_malformed_limit_in_a_manifest_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("wasmflow.toml");
    std::fs::write(
        &manifest,
        "[plugins.python]\nlimits = { memory = \"many\", timeout = \"2 fortnights\" }\nexecutor = \"elsewhere\"\n",
    )
    .unwrap();
    let output = wasmflow(&[
        "run",
        &fixture("linear.bpmn").display().to_string(),
        "--manifest",
        &manifest.display().to_string(),
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("wasmflow.toml:2:21: limits.memory"), "{stderr}");
    assert!(stderr.contains("wasmflow.toml:2:39: limits.timeout"), "{stderr}");
    assert!(stderr.contains("wasmflow.toml:3:12: executor `elsewhere`"), "{stderr}");
}

#[test]
fn verbose_logs_on_stderr_and_rust_log_chooses_over_it() {
    let diagram = fixture("linear.bpmn").display().to_string();
    let run = |extra: &[&str], rust_log: Option<&str>| {
        let mut command = wasmflow(&["run", &diagram, "--data", r#"{"x": 1}"#]);
        command.args(extra);
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stderr)
    };
    const LINE: &str = "starting an executor";
    assert!(!run(&[], None).contains(LINE), "silent by default");
    let verbose = run(&["-v"], None);
    assert!(verbose.contains(LINE) && verbose.contains("DEBUG"), "{verbose}");
    assert!(run(&[], Some("wasmflow=debug")).contains(LINE));
    assert!(!run(&["-v"], Some("off")).contains(LINE), "RUST_LOG chooses over -v");
    let malformed = run(&[], Some("wasmflow=[["));
    assert!(
        malformed.contains("RUST_LOG=wasmflow=[[ is not a log filter"),
        "{malformed}"
    );
}
