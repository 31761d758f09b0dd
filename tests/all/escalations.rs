//! Escalations through the command line, on both executors: a catch beside
//! the activity that escalates, and the history that records them.

use serde_json::json;
use wasmflow::engine::{EventKind, Status, TaskState, Workflow};
use wasmflow_tests::*;

#[test]
fn a_big_order_escalates_beside_the_packing_and_a_small_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("escalations.db");
    for executor in ["in-process", "subprocess"] {
        let big = run_kept(&db, "escalation_review.bpmn", json!({"quantity": 500}), executor);
        assert_eq!(big["status"], "completed", "{big}");
        assert_eq!(big["data"]["boxed"], 500, "the packing went on");
        assert_eq!(big["data"]["manager_note"], "order of 500: more than 100");
        assert_eq!(states(&big, "pack"), ["COMPLETED"]);
        assert_eq!(states(&big, "manager_told"), ["COMPLETED"]);
        let (shown, _) = cli_json(&[
            "show",
            big["id"].as_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ]);
        let caught = history_of(&shown, "escalation_caught");
        assert_eq!(caught.len(), 1, "{shown}");
        assert_eq!(
            (&caught[0]["spec"], &caught[0]["code"], &caught[0]["interrupting"]),
            (&json!("manager_told"), &json!("big_order"), &json!(false))
        );

        let small = run_kept(&db, "escalation_review.bpmn", json!({"quantity": 5}), executor);
        assert_eq!(small["status"], "completed", "{small}");
        assert!(states(&small, "manager_told").is_empty(), "{small}");
        assert_eq!(small["data"].get("manager_note"), None);
    }
}

/// `start → check (the escalate plugin) → after → end`, with `boundary` on
/// `check` leading to `on_late → late_end`.
fn escalating(boundary: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="escalating" targetNamespace="http://wasmflow.dev/tests">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:scriptTask id="check" scriptFormat="wasm"><bpmn:script>escalate</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="after"><bpmn:script>after = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end" />
    {boundary}
    <bpmn:scriptTask id="on_late"><bpmn:script>told = lateness["days"]</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="late_end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="on_late" />
    <bpmn:sequenceFlow id="f5" sourceRef="on_late" targetRef="late_end" />
  </bpmn:process>
  <bpmn:escalation id="late_escalation" escalationCode="late">
    <bpmn:extensionElements><spiffworkflow:variableName>lateness</spiffworkflow:variableName></bpmn:extensionElements>
  </bpmn:escalation>
</bpmn:definitions>"#
    )
}

fn boundary(interrupting: bool) -> String {
    format!(
        r#"<bpmn:boundaryEvent id="late" attachedToRef="check" cancelActivity="{interrupting}"><bpmn:escalationEventDefinition escalationRef="late_escalation" /></bpmn:boundaryEvent>"#
    )
}

for_each_executor! {
    #[test]
    fn a_plugin_escalates_and_its_task_goes_on_unless_an_interrupting_catch_takes_over(scripts: &ScriptEngine) {
        let states_of = |w: &Workflow, spec: &str| -> Vec<TaskState> {
            w.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
        };
        // Non-interrupting: both paths run, the task with the data it had.
        let beside = run_xml(&escalating(&boundary(false)), json!({"n": 1}), scripts);
        assert_eq!(beside.status(), Status::Completed, "{:?}", beside.error());
        assert_eq!(beside.data()["told"], json!(3));
        assert_eq!(beside.data()["after"], json!(true));
        assert_eq!(states_of(&beside, "check"), [TaskState::Completed]);

        // Interrupting: the task is cancelled and the boundary's path runs instead.
        let instead = run_xml(&escalating(&boundary(true)), json!({"n": 1}), scripts);
        assert_eq!(instead.status(), Status::Completed, "{:?}", instead.error());
        assert_eq!(states_of(&instead, "check"), [TaskState::Cancelled]);
        assert_eq!(instead.data()["told"], json!(3));
        assert!(states_of(&instead, "after").is_empty());

        // Uncaught (an error catch-all catches no escalation): recorded, and the process goes on.
        let errors_only = r#"<bpmn:boundaryEvent id="late" attachedToRef="check"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>"#;
        let mut alone = Workflow::start(library_of(&escalating(errors_only)), None, object(json!({"n": 1}))).unwrap();
        let mut uncaught = Vec::new();
        let _ = alone.run_observed(scripts, |w| -> Result<(), std::convert::Infallible> {
            uncaught.extend(w.take_events().into_iter().filter_map(|e| match e.kind {
                EventKind::EscalationUncaught { code, payload, .. } => Some((code, payload)),
                _ => None,
            }));
            Ok(())
        });
        assert_eq!(alone.status(), Status::Completed, "{:?}", alone.error());
        assert_eq!(alone.data()["after"], json!(true));
        assert_eq!(uncaught, [(Some("late".to_string()), Some(json!({"days": 3})))]);
    }

    #[test]
    fn an_inline_script_escalates_or_throws_a_bpmn_error_with_its_payload(scripts: &ScriptEngine) {
        let states_of = |w: &Workflow, spec: &str| -> Vec<TaskState> {
            w.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
        };
        let escalates = "x = 1\nif n &gt; 2:\n    escalate(\"late\", name=\"Late\", payload={\"days\": n})";
        // Non-interrupting: the task goes on with the data it was reached with.
        let beside = run_xml(&inline(escalates, &boundary(false)), json!({"n": 7}), scripts);
        assert_eq!(beside.status(), Status::Completed, "{:?}", beside.error());
        assert_eq!(beside.data()["told"], json!(7), "the payload reached the catch");
        assert_eq!(beside.data()["after"], json!(true));
        assert_eq!(beside.data().get("x"), None, "what the escalating script set is dropped");
        // Below the threshold the script runs to its end and nothing is thrown.
        let quiet = run_xml(&inline(escalates, &boundary(true)), json!({"n": 1}), scripts);
        assert_eq!(quiet.status(), Status::Completed, "{:?}", quiet.error());
        assert_eq!((quiet.data()["x"].clone(), quiet.data().get("told")), (json!(1), None));
        // Interrupting: the task is cancelled and the boundary's path runs instead.
        let instead = run_xml(&inline(escalates, &boundary(true)), json!({"n": 9}), scripts);
        assert_eq!(states_of(&instead, "check"), [TaskState::Cancelled]);
        assert_eq!(instead.data()["told"], json!(9));
        assert!(states_of(&instead, "after").is_empty());

        // A BPMN error, caught by the error boundary that names its code.
        let throws = "bpmn_error(\"late\", payload={\"days\": n * 2})";
        let on_error = r#"<bpmn:boundaryEvent id="late" attachedToRef="check"><bpmn:errorEventDefinition errorRef="late_error" /></bpmn:boundaryEvent>"#;
        let caught = run_xml(&inline(throws, on_error), json!({"n": 4}), scripts);
        assert_eq!(caught.status(), Status::Completed, "{:?}", caught.error());
        assert_eq!(caught.data()["told"], json!(8));
        assert!(states_of(&caught, "after").is_empty());
        // Uncaught (only an escalation catch is there): the task fails with the code.
        let uncaught = run_xml(&inline(throws, &boundary(true)), json!({"n": 4}), scripts);
        assert_eq!(uncaught.status(), Status::Error);
        let error = uncaught.error().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("late") && error.contains("check"), "{error}");
    }
}

/// [`escalating`] with `check` an inline script, and a `late_error` error
/// beside the escalation.
fn inline(script: &str, boundary: &str) -> String {
    let plugin =
        r#"<bpmn:scriptTask id="check" scriptFormat="wasm"><bpmn:script>escalate</bpmn:script></bpmn:scriptTask>"#;
    let error = r#"<bpmn:error id="late_error" errorCode="late">
    <bpmn:extensionElements><spiffworkflow:variableName>lateness</spiffworkflow:variableName></bpmn:extensionElements>
  </bpmn:error>
</bpmn:definitions>"#;
    let xml = escalating(boundary);
    assert!(xml.contains(plugin));
    xml.replace(
        plugin,
        &format!(r#"<bpmn:scriptTask id="check"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>"#),
    )
    .replace("</bpmn:definitions>", error)
}

/// The library of one diagram's text.
fn library_of(xml: &str) -> std::sync::Arc<wasmflow::bpmn::Library> {
    let diagram = wasmflow::bpmn::parse_str(std::path::Path::new("escalating.bpmn"), xml).unwrap();
    std::sync::Arc::new(wasmflow::bpmn::Library::new(vec![diagram]))
}
