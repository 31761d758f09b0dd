//! Killing `wasmflow` with SIGKILL at any moment loses no completed step:
//! resuming finishes with the same data as an uninterrupted run.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use wasmflow_tests::*;

fn run_in_background(args: &[&str]) -> std::process::Child {
    Command::new(wasmflow_bin())
        .args(args)
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wasmflow starts")
}

fn completed_tasks(db: &str, id: &str) -> usize {
    let (shown, code) = cli_json(&["show", id, "--db", db, "--json"]);
    assert_eq!(code, 0, "the saved instance loads: {shown}");
    shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "COMPLETED")
        .count()
}

#[test]
fn sigkill_at_many_points_then_resume_gives_the_uninterrupted_result() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("chain.bpmn");
    std::fs::write(&diagram, chain(N, r#"scriptFormat="wasm""#, "increment")).unwrap();
    let diagram = diagram.display().to_string();
    let plugins = plugin_dir().display().to_string();
    let db = dir.path().join("crash.db").display().to_string();

    let (reference, code) = cli_json(&[
        "run",
        &diagram,
        "--plugins",
        &plugins,
        "--data",
        r#"{"i": 0}"#,
        "--json",
    ]);
    assert_eq!((code, reference["data"]["i"].clone()), (0, json!(N)));

    // Start it, then kill it at growing delays, resuming each time.
    let mut child = run_in_background(&[
        "run",
        &diagram,
        "--plugins",
        &plugins,
        "--data",
        r#"{"i": 0}"#,
        "--db",
        &db,
    ]);
    // The kills below should land in the run, not in its start-up (parsing a
    // 10,000-task diagram takes a while on a busy machine): wait for the instance.
    let waited = std::time::Instant::now();
    while !std::path::Path::new(&db).exists()
        || cli_json(&["list", "--db", &db, "--json"])
            .0
            .as_array()
            .is_none_or(|a| a.is_empty())
    {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the run created no instance in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut id = None;
    let mut last = 0;
    let mut kills = 0;
    for delay_ms in [150u64, 40, 90, 10, 200, 60, 120, 30, 250, 80, 20, 170] {
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        if !finished {
            kills += 1;
        }
        let found = id.get_or_insert_with(|| {
            let (listed, _) = cli_json(&["list", "--db", &db, "--json"]);
            listed[0]["id"]
                .as_str()
                .expect("the instance was created before the first kill")
                .to_string()
        });
        let done = completed_tasks(&db, found);
        assert!(
            done >= last,
            "completed tasks went from {last} to {done}: a completed step was lost"
        );
        last = done;
        if finished {
            break;
        }
        child = run_in_background(&["resume", found, "--plugins", &plugins, "--db", &db]);
    }
    assert!(
        kills >= 3,
        "the run was killed mid-way only {kills} times: make the chain longer"
    );

    let id = id.unwrap();
    let (resumed, code) = cli_json(&["resume", &id, "--plugins", &plugins, "--db", &db, "--json"]);
    assert_eq!(code, 0, "{resumed}");
    assert_eq!(resumed["status"], json!("completed"));
    assert_eq!(resumed["data"], reference["data"]);
    assert_eq!(resumed["tasks"].as_array().unwrap().len(), N + 2);
}

#[test]
fn retry_reruns_a_failed_task_after_the_data_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retry.db").display().to_string();
    let file = fixture("linear.bpmn").display().to_string();
    // `x` is missing: the script fails on line 7.
    let (failed, code) = cli_json(&["run", &file, "--db", &db, "--json"]);
    assert_eq!((code, failed["error"]["spec"].clone()), (1, json!("increment")));
    let id = failed["id"].as_str().unwrap();

    let (retried, code) = cli_json(&[
        "retry",
        id,
        "increment",
        "--data",
        r#"{"x": 10}"#,
        "--db",
        &db,
        "--json",
    ]);
    assert_eq!(code, 0, "{retried}");
    assert_eq!(
        (
            retried["status"].clone(),
            retried["data"]["x"].clone(),
            retried["error"].clone()
        ),
        (json!("completed"), json!(11), json!(null))
    );

    let output = cli(&["retry", id, "increment", "--db", &db]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no task `increment` in ERROR"),
        "{}",
        text(&output.stderr)
    );
}
