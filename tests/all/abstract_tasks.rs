//! Abstract tasks (plain `bpmn:task`): they pass through by default, as BPMN,
//! Camunda and Zeebe run them; a run may make them wait to be completed, as
//! SpiffWorkflow does, with `--abstract-tasks wait` or the manifest's
//! `[run] abstract_tasks = "wait"`.

use serde_json::json;
use wasmflow::engine::{AbstractTasks, Status, Workflow};
use wasmflow_tests::*;

fn review() -> String {
    format!(
        r#"{HEADER}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:task id="review" name="Review the contract" />
    <bpmn:scriptTask id="file"><bpmn:script>filed = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="file" />
    <bpmn:sequenceFlow id="f3" sourceRef="file" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

#[test]
fn an_abstract_task_passes_through_unless_the_instance_makes_it_wait() {
    let scripts = scripts();
    let w = run_xml(&review(), json!({}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());

    let diagram = wasmflow::bpmn::parse_str(std::path::Path::new("review.bpmn"), &review()).unwrap();
    let library = std::sync::Arc::new(wasmflow::bpmn::Library::new(vec![diagram]));
    let mut w = Workflow::start(library.clone(), None, object(json!({}))).unwrap();
    w.set_abstract_tasks(AbstractTasks::Wait);
    assert_eq!(w.run(&scripts), Status::Waiting);
    let waiting: Vec<_> = w.waiting_tasks().collect();
    assert_eq!(
        (waiting.len(), waiting[0].spec.as_str(), waiting[0].kind),
        (1, "review", "task")
    );
    // The choice is kept with the instance.
    let text = serde_json::to_string(&w.snapshot()).unwrap();
    let mut w = Workflow::restore(library, serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(w.abstract_tasks(), AbstractTasks::Wait);
    w.complete_task(waiting[0].id, object(json!({"verdict": "fine"})))
        .unwrap();
    assert_eq!(w.run(&scripts), Status::Completed, "{:?}", w.error());
    assert_eq!(
        (&w.data()["verdict"], &w.data()["filed"]),
        (&json!("fine"), &json!(true))
    );
}

#[test]
fn the_cli_makes_abstract_tasks_wait_by_flag_or_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("review.bpmn");
    std::fs::write(&file, review()).unwrap();
    let db = dir.path().join("db");
    let (out, code) = cli_json(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!((code, &out["status"]), (0, &json!("completed")), "{out}");

    let (out, code) = cli_json(&[
        "run",
        file.to_str().unwrap(),
        "--abstract-tasks",
        "wait",
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!((code, &out["status"]), (0, &json!("waiting")), "{out}");
    assert_eq!(out["waiting"][0]["spec"], "review");
    let id = out["id"].as_str().unwrap();
    let (out, code) = cli_json(&["complete", id, "review", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!((code, &out["status"]), (0, &json!("completed")), "{out}");

    // The manifest next to the diagram says so too; the flag wins over it.
    std::fs::write(dir.path().join("wasmflow.toml"), "[run]\nabstract_tasks = \"wait\"\n").unwrap();
    let (out, _) = cli_json(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(out["status"], "waiting", "{out}");
    let (out, _) = cli_json(&["run", file.to_str().unwrap(), "--abstract-tasks", "pass", "--json"]);
    assert_eq!(out["status"], "completed", "{out}");

    std::fs::write(
        dir.path().join("wasmflow.toml"),
        "[run]\nabstract_tasks = \"sometimes\"\n",
    )
    .unwrap();
    let out = cli(&["run", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("wasmflow.toml:2:18: [run] abstract_tasks: `sometimes` is not a way for abstract tasks to run"),
        "{stderr}"
    );
    let out = cli(&["run", file.to_str().unwrap(), "--abstract-tasks", "later"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`later` is not a way for abstract tasks to run"));
}
