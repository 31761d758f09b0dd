//! Killing `wasmflow` with SIGKILL at any moment loses no completed step:
//! resuming finishes with the same data as an uninterrupted run.

use std::process::{Command, Stdio};

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

/// A chain `start → s0 → … → end` of `n` `increment` script tasks with a
/// `gate` service task `gK` after every `every` of them, waiting at the gate
/// whose path is the variable `gate_K`. Answers the XML and the gates' names.
fn gated_chain(n: usize, every: usize) -> (String, Vec<String>) {
    let mut tasks = Vec::new();
    let mut gates = Vec::new();
    for i in 0..n {
        tasks.push((
            format!("s{i}"),
            r#"<bpmn:scriptTask id="ID" scriptFormat="wasm"><bpmn:script>increment</bpmn:script></bpmn:scriptTask>"#
                .to_string(),
        ));
        if (i + 1) % every == 0 && i + 1 < n {
            let k = gates.len();
            gates.push(format!("g{k}"));
            tasks.push((
                format!("g{k}"),
                format!(
                    r#"<bpmn:serviceTask id="ID"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="gate"><spiffworkflow:parameters><spiffworkflow:parameter id="path" type="str" value="gate_{k}" /><spiffworkflow:parameter id="value" type="int" value="1" /></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>"#
                ),
            ));
        }
    }
    let mut xml = HEADER.replace(
        "<bpmn:definitions ",
        r#"<bpmn:definitions xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" "#,
    );
    xml.push_str("\n  <bpmn:process id=\"chain\" isExecutable=\"true\">\n    <bpmn:startEvent id=\"start\" />\n");
    for (id, element) in &tasks {
        xml.push_str(&format!("    {}\n", element.replace("\"ID\"", &format!("\"{id}\""))));
    }
    xml.push_str("    <bpmn:endEvent id=\"end\" />\n");
    let mut previous = "start";
    for (i, (id, _)) in tasks.iter().enumerate() {
        xml.push_str(&format!(
            "    <bpmn:sequenceFlow id=\"f{i}\" sourceRef=\"{previous}\" targetRef=\"{id}\" />\n"
        ));
        previous = id;
    }
    xml.push_str(&format!(
        "    <bpmn:sequenceFlow id=\"f_end\" sourceRef=\"{previous}\" targetRef=\"end\" />\n  </bpmn:process>\n</bpmn:definitions>\n"
    ));
    (xml, gates)
}

/// `wasmflow resume ID` with the test's plugins, gate grant and database.
fn resume<'a>(id: &'a str, plugins: &'a str, grant: &'a str, db: &'a str) -> Vec<&'a str> {
    vec!["resume", id, "--plugins", plugins, "--allow-write", grant, "--db", db]
}

#[test]
fn sigkill_at_many_points_then_resume_gives_the_uninterrupted_result() {
    const N: usize = 2_000;
    const EVERY: usize = 250;
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("chain.bpmn");
    let (xml, names) = gated_chain(N, EVERY);
    std::fs::write(&diagram, xml).unwrap();
    let diagram = diagram.display().to_string();
    let plugins = plugin_dir().display().to_string();
    let db = dir.path().join("crash.db").display().to_string();
    let gates = Gates::new();
    let grant = format!("gate={}", gates.dir().display());
    let mut data = serde_json::Map::new();
    data.insert("i".into(), json!(0));
    for (k, name) in names.iter().enumerate() {
        data.insert(format!("gate_{k}"), json!(gates.path(name)));
    }
    let data = serde_json::Value::Object(data).to_string();

    // Uninterrupted, through open gates of a directory of its own (the gates'
    // paths are data: both runs name the same ones).
    let reference_gates = dir.path().join("open");
    std::fs::create_dir(&reference_gates).unwrap();
    let reference_data = data.replace(
        &gates.dir().display().to_string(),
        &reference_gates.display().to_string(),
    );
    for name in &names {
        std::fs::write(reference_gates.join(format!("{name}.open")), "").unwrap();
    }
    let (reference, code) = cli_json(&[
        "run",
        &diagram,
        "--plugins",
        &plugins,
        "--data",
        &reference_data,
        "--allow-write",
        &format!("gate={}", reference_gates.display()),
        "--json",
    ]);
    assert_eq!((code, reference["data"]["i"].clone()), (0, json!(N)), "{reference}");

    // Kill it while it waits at each gate in turn, resuming each time: the
    // steps before a gate are done, the gate's call is cut off.
    let mut child = run_in_background(&[
        "run",
        &diagram,
        "--plugins",
        &plugins,
        "--data",
        &data,
        "--allow-write",
        &grant,
        "--db",
        &db,
    ]);
    let mut id = None;
    let mut last = 0;
    for name in &names {
        gates.wait_entered(name);
        assert!(child.try_wait().unwrap().is_none(), "the run waits at {name}");
        child.kill().unwrap();
        child.wait().unwrap();
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
        gates.open(name);
        child = run_in_background(&resume(found, &plugins, &grant, &db));
    }
    child.wait().unwrap();

    let id = id.unwrap();
    let (resumed, code) = cli_json(&[&resume(&id, &plugins, &grant, &db)[..], &["--json"]].concat());
    assert_eq!(code, 0, "{resumed}");
    assert_eq!(resumed["status"], json!("completed"));
    let mut expected = reference["data"].clone();
    for (k, name) in names.iter().enumerate() {
        expected[format!("gate_{k}")] = json!(gates.path(name));
    }
    assert_eq!(resumed["data"], expected);
    assert_eq!(resumed["tasks"].as_array().unwrap().len(), N + names.len() + 2);
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
