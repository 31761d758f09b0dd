//! Batches: `wasmflow run DIAGRAM --objects FILE.jsonl`, one instance per line.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wasmflow_tests::*;

/// Line i: every 100th has no grade (the script fails), every other 10th a
/// failing grade (it halts), the rest complete.
fn objects(n: usize) -> String {
    (1..=n)
        .map(|i| match i {
            i if i % 100 == 0 => json!({"student": format!("s{i}")}),
            i if i % 10 == 0 => json!({"student": format!("s{i}"), "grade": 10}),
            i => json!({"student": format!("s{i}"), "grade": 50 + (i * 37) % 50}),
        })
        .map(|v| v.to_string() + "\n")
        .collect()
}

/// [`objects`] for `grades_gated.bpmn`: line `gated` waits at the gate `path`.
fn gated_objects(n: usize, gated: usize, path: &str) -> String {
    objects(n)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut object: Value = serde_json::from_str(line).unwrap();
            object["gate"] = if i + 1 == gated { json!(path) } else { Value::Null };
            object.to_string() + "\n"
        })
        .collect()
}

fn events_of(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_batch_of_1000_objects_with_halts_and_failures_is_interrupted_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.jsonl");
    let gates = Gates::new();
    std::fs::write(&file, gated_objects(1000, 500, &gates.path("line500"))).unwrap();
    let grant = format!("gate={}", gates.dir().display());
    let plugins = plugin_dir().display().to_string();
    let (file, db, events) = (
        file.display().to_string(),
        dir.path().join("b.db").display().to_string(),
        dir.path().join("events.jsonl"),
    );
    let diagram = fixture("grades_gated.bpmn").display().to_string();
    let args = [
        "run",
        &diagram,
        "--objects",
        &file,
        "--db",
        &db,
        "--events",
        &events.display().to_string(),
        "--json",
        "--jobs",
        "4",
        "--plugins",
        &plugins,
        "--allow-write",
        &grant,
    ];

    // Interrupt the first run half-way: while line 500 waits at its gate.
    let mut child = Command::new(wasmflow_bin())
        .args(args)
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    gates.wait_entered("line500");
    assert!(child.try_wait().unwrap().is_none(), "the batch waits for line 500");
    child.kill().unwrap();
    child.wait().unwrap();
    let (before, _) = cli_json(&["list", "--db", &db, "--json"]);
    let started = before.as_array().unwrap().len();
    // Lines are taken in order by four workers: when line 500 runs, each
    // line before it was taken, and all but the (at most three) ones other
    // workers took just before were created.
    assert!(
        started >= 500 - 3,
        "line 500 ran, so all but three of the lines before it started: {started}"
    );
    gates.open("line500");

    // The same command goes on with what is not done.
    let (summary, code) = cli_json(&args);
    assert_eq!(code, 1, "some instances failed: {summary}");
    assert_eq!(
        (
            summary["total"].clone(),
            summary["completed"].clone(),
            summary["halted"].clone(),
            summary["error"].clone(),
            summary["waiting"].clone()
        ),
        (json!(1000), json!(900), json!(90), json!(10), json!(0)),
        "{summary}"
    );
    // Four lines run at once: every line started before the kill was done,
    // but for the ones in flight (at most four), which this run continued.
    let already_done = summary["already_done"].as_u64().unwrap() as usize;
    assert!(
        already_done < started && already_done + 4 >= started,
        "{started} started, {already_done} done (line 500 was not): {summary}"
    );
    let not_completed = summary["not_completed"].as_array().unwrap();
    assert_eq!(not_completed.len(), 100);
    assert_eq!(not_completed[0]["line"], json!(10));
    assert_eq!(not_completed[0]["status"], json!("halted"));

    // One instance per line, however often it was interrupted.
    let (all, _) = cli_json(&["list", "--db", &db, "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 1000);

    // A third run has nothing left to do.
    let (again, _) = cli_json(&args);
    assert_eq!(
        (again["already_done"].clone(), again["completed"].clone()),
        (json!(1000), json!(900))
    );
    assert_eq!(
        cli_json(&["list", "--db", &db, "--json"]).0.as_array().unwrap().len(),
        1000
    );

    // Lifecycle events were appended as JSON lines and kept with each instance.
    let events = events_of(&events);
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert!(
        count("instance_started") >= 1000 - started.min(1000) && count("instance_completed") >= 1,
        "{}",
        events.len()
    );
    assert!(
        count("instance_halted") >= 1
            && count("instance_error") >= 1
            && count("task_error") >= 1
            && count("task_completed") >= 1
    );
    let failed = not_completed.iter().find(|i| i["status"] == "error").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (shown, _) = cli_json(&["show", &failed, "--db", &db, "--json"]);
    let history: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(history.first(), Some(&"instance_started"));
    assert_eq!(&history[history.len() - 2..], &["task_error", "instance_error"]);
}

#[test]
fn stop_on_error_and_stop_on_halt_end_the_batch_there() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.jsonl");
    std::fs::write(&file, objects(120)).unwrap();
    let (file, diagram) = (file.display().to_string(), fixture("grades.bpmn").display().to_string());

    // One at a time, the batch stops exactly at the line.
    let (summary, code) = cli_json(&[
        "run",
        &diagram,
        "--objects",
        &file,
        "--stop-on-halt",
        "--json",
        "--jobs",
        "1",
    ]);
    assert_eq!(
        (
            code,
            summary["stopped_at"].clone(),
            summary["completed"].clone(),
            summary["halted"].clone()
        ),
        (0, json!(10), json!(9), json!(1))
    );
    let (summary, code) = cli_json(&[
        "run",
        &diagram,
        "--objects",
        &file,
        "--stop-on-error",
        "--json",
        "--jobs",
        "1",
    ]);
    assert_eq!(
        (
            code,
            summary["stopped_at"].clone(),
            summary["error"].clone(),
            summary["halted"].clone()
        ),
        (1, json!(100), json!(1), json!(9))
    );
    // Several at once, it stops taking new lines there; the ones in flight finish.
    let (summary, code) = cli_json(&[
        "run",
        &diagram,
        "--objects",
        &file,
        "--stop-on-halt",
        "--json",
        "--jobs",
        "4",
    ]);
    assert_eq!((code, &summary["stopped_at"]), (0, &json!(10)), "{summary}");
    let ran = ["completed", "halted", "error"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap())
        .sum::<u64>();
    // Lines 1-10 ran; the others in flight when line 10 halted (and whatever
    // their jobs took while it ran) finished; the rest of the 120 did not start.
    assert!(
        (10..=40).contains(&ran),
        "lines 1-10 ran, then the batch stopped: {summary}"
    );
}

#[test]
fn a_bad_objects_line_is_reported_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.jsonl");
    std::fs::write(&file, "{\"grade\": 70, \"student\": \"a\"}\n\n[1, 2]\n").unwrap();
    let db = dir.path().join("b.db").display().to_string();
    let output = cli(&[
        "run",
        &fixture("grades.bpmn").display().to_string(),
        "--objects",
        &file.display().to_string(),
        "--db",
        &db,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("objects.jsonl:3: each line must be a JSON object"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(cli_json(&["list", "--db", &db, "--json"]).0, json!([]));
}

#[test]
fn two_processes_write_one_database_at_once() {
    // Each step commits a transaction: the writers' steps interleave, and one
    // waits for the other instead of failing with "database is locked".
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db").display().to_string();
    let diagram = fixture("grades.bpmn").display().to_string();
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let file = dir.path().join(format!("{name}.jsonl"));
            let lines: String = (0..150)
                .map(|i| json!({"student": format!("{name}{i}"), "grade": 70}).to_string() + "\n")
                .collect();
            std::fs::write(&file, lines).unwrap();
            Command::new(wasmflow_bin())
                .args([
                    "run",
                    &diagram,
                    "--objects",
                    &file.display().to_string(),
                    "--db",
                    &db,
                    "--json",
                ])
                .env("WASMFLOW_CACHE_DIR", cache_dir())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(summary["completed"], json!(150), "{summary}");
    }
    let (all, _) = cli_json(&["list", "--status", "completed", "--db", &db, "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 300);
}
