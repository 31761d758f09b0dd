//! BPMN errors end to end: thrown by plugins (`bpmn_error` answers) and by
//! error end events, caught by boundary events and event subprocesses, walked
//! out through subprocesses and call activities, and reported when uncaught.

use serde_json::{Value, json};
use wasmflow::engine::{EventKind, Status, TaskState, Workflow};
use wasmflow_tests::*;

fn states_of(workflow: &Workflow, spec: &str) -> Vec<TaskState> {
    workflow.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

fn charge(code: &str, name: Value, payload: Value) -> Value {
    json!({"error_code": code, "error_name": name, "payload": payload})
}

for_each_executor! {
    #[test]
    fn caught_by_the_boundary_naming_its_code_before_a_catch_all(scripts: &ScriptEngine) {
        let payload = json!({"reason": "card declined", "retry": false});
        let data = charge("card_declined", json!("Card declined"), payload.clone());
        let workflow = run_fixture_with(&["error_boundary.bpmn"], data, scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["handled"], json!("declined"));
        // The error's variableName holds the payload.
        assert_eq!(workflow.data()["decline_info"], payload);
        assert!(!workflow.data().contains_key("charged"));
        assert_eq!(states_of(&workflow, "charge"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "on_declined"), [TaskState::Completed]);
        assert_eq!(states_of(&workflow, "handle_declined"), [TaskState::Completed]);
        assert!(states_of(&workflow, "on_any").is_empty());
        assert!(states_of(&workflow, "charged_ok").is_empty());
    }

    #[test]
    fn caught_by_a_catch_all_with_the_payload_under_the_default_name(scripts: &ScriptEngine) {
        let data = charge("gateway_timeout", Value::Null, json!(["retry later"]));
        let workflow = run_fixture_with(&["error_boundary.bpmn"], data, scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["handled"], json!("other"));
        assert_eq!(workflow.data()["spiff__on_any_payload"], json!(["retry later"]));
        assert!(!workflow.data().contains_key("decline_info"));
        assert_eq!(states_of(&workflow, "charge"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "on_any"), [TaskState::Completed]);
        assert!(states_of(&workflow, "on_declined").is_empty());
    }

    #[test]
    fn without_a_payload_a_named_variable_is_null_and_the_default_is_not_set(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["error_boundary.bpmn"], charge("card_declined", Value::Null, Value::Null), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["decline_info"], Value::Null);
        assert!(workflow.data().contains_key("decline_info"));

        let workflow = run_fixture_with(&["error_boundary.bpmn"], charge("other", Value::Null, Value::Null), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["handled"], json!("other"));
        assert!(!workflow.data().contains_key("spiff__on_any_payload"), "{:?}", workflow.data());
    }

    #[test]
    fn uncaught_the_task_errors_and_the_run_reports_code_name_and_payload(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["error_uncaught.bpmn"], json!({"sku": "A-1"}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.kind.as_str(), error.reason.as_str(), error.plugin.as_deref()),
            ("reserve", "serviceTask", "bpmn_error", Some("raise"))
        );
        assert_eq!(error.code.as_deref(), Some("out_of_stock"));
        assert_eq!(error.error_name.as_deref(), Some("Out of stock"));
        assert_eq!(error.payload, Some(json!({"sku": "A-1", "missing": 3})));
        assert!(error.message.contains("`out_of_stock` (Out of stock)"), "{}", error.message);
        assert!(error.location.ends_with("error_uncaught.bpmn:6:5"), "{}", error.location);
        assert_eq!(states_of(&workflow, "reserve"), [TaskState::Error]);
        assert!(states_of(&workflow, "on_declined").is_empty());
        // The task keeps its data for a retry.
        assert_eq!(workflow.task_data(error.task).unwrap()["prepared"], json!(true));
    }

    #[test]
    fn thrown_by_an_error_end_event_inside_a_subprocess(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["error_subprocess.bpmn"], json!({"mode": "end_event"}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["recovered"], json!(true));
        // The error's payloadExpression, evaluated on the end event's data;
        // no variableName: the default name of the catching boundary event.
        assert_eq!(
            workflow.data()["spiff__on_missing_payload"],
            json!({"from": "end event", "step": "read"})
        );
        // The boundary path carries the subprocess's data, not what was made inside it.
        assert!(!workflow.data().contains_key("step"));
        assert_eq!(states_of(&workflow, "throw_missing"), [TaskState::Completed]);
        assert_eq!(states_of(&workflow, "import"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "review"), [TaskState::Cancelled]);
        assert!(states_of(&workflow, "raise_missing").is_empty());
        assert!(states_of(&workflow, "end").is_empty());
        assert_eq!(states_of(&workflow, "end_recovered"), [TaskState::Completed]);
        assert_eq!(workflow.waiting_tasks().count(), 0);
    }

    #[test]
    fn thrown_by_a_plugin_inside_a_subprocess(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["error_subprocess.bpmn"], json!({"mode": "plugin"}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(
            workflow.data()["spiff__on_missing_payload"],
            json!({"from": "plugin", "step": "read"})
        );
        assert_eq!(states_of(&workflow, "raise_missing"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "import"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "review"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "recover"), [TaskState::Completed]);
    }

    #[test]
    fn thrown_through_a_call_activity_to_its_boundary_event(scripts: &ScriptEngine) {
        let files = ["error_call_parent.bpmn", "error_call_child.bpmn"];
        let workflow = run_fixture_with(&files, json!({"child_code": "child_failed"}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["outcome"], json!("child failed: no courier"));
        assert_eq!(workflow.data()["child_error"], json!({"why": "no courier"}));
        assert_eq!(states_of(&workflow, "child_work"), [TaskState::Completed]);
        assert_eq!(states_of(&workflow, "child_ship"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "call_child"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "after_error"), [TaskState::Completed]);
        assert!(states_of(&workflow, "after_call").is_empty());

        // Another code passes the call activity by and stops the instance in the child.
        let workflow = run_fixture_with(&files, json!({"child_code": "lost"}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.process.as_str(), error.code.as_deref()),
            ("child_ship", "error_child", Some("lost"))
        );
        assert_eq!(error.error_name, None);
        assert_eq!(states_of(&workflow, "child_ship"), [TaskState::Error]);
        assert_eq!(states_of(&workflow, "call_child"), [TaskState::Started]);
    }

    #[test]
    fn caught_by_an_event_subprocess_that_interrupts_its_scope(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["error_event_subprocess.bpmn"], json!({"code": "boom"}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["handled_by"], json!("on_boom"));
        assert_eq!(workflow.data()["where"], json!("explode"));
        assert_eq!(workflow.data()["boom_info"], json!({"at": "explode"}));
        // Everything else in the process was cancelled, the inside of `work` too.
        assert_eq!(states_of(&workflow, "approve"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "work"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "explode"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "on_boom"), [TaskState::Completed]);
        assert_eq!(states_of(&workflow, "boom_start"), [TaskState::Completed]);
        assert!(states_of(&workflow, "fallback").is_empty());
        assert!(states_of(&workflow, "join").is_empty());
        assert_eq!(workflow.waiting_tasks().count(), 0);

        let workflow = run_fixture_with(&["error_event_subprocess.bpmn"], json!({"code": "fizzle"}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["handled_by"], json!("fallback"));
        assert_eq!(workflow.data()["spiff__fallback_start_payload"], json!({"at": "explode"}));
        assert!(states_of(&workflow, "on_boom").is_empty());
    }

    #[test]
    fn ordinary_plugin_failures_are_not_caught_by_error_boundaries(scripts: &ScriptEngine) {
        // `add` without its `b` parameter answers `error`, not `bpmn_error`.
        let xml = format!(
            r#"{SPIFF_HEADER}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="add">
          <spiffworkflow:parameters><spiffworkflow:parameter id="a" type="int" value="1" /></spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="catch_all" attachedToRef="task"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>
    <bpmn:endEvent id="end" />
    <bpmn:endEvent id="caught" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="catch_all" targetRef="caught" />
  </bpmn:process>
</bpmn:definitions>"#
        );
        let workflow = run_xml(&xml, json!({}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!((error.spec.as_str(), error.reason.as_str()), ("task", "plugin_error"));
        assert!(error.message.contains("no parameter `b`"), "{}", error.message);
        assert_eq!(error.code, None);
        assert!(states_of(&workflow, "catch_all").is_empty());
    }

    #[test]
    fn an_uncaught_error_end_event_stops_the_instance_with_its_error(scripts: &ScriptEngine) {
        let xml = format!(
            r#"{SPIFF_HEADER}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start" />
      <bpmn:endEvent id="fail_here"><bpmn:errorEventDefinition errorRef="e" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="fail_here" />
    </bpmn:subProcess>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end" />
  </bpmn:process>
  <bpmn:error id="e" name="Rejected" errorCode="rejected">
    <bpmn:extensionElements><spiffworkflow:payloadExpression>{{"n": n + 1}}</spiffworkflow:payloadExpression></bpmn:extensionElements>
  </bpmn:error>
</bpmn:definitions>"#
        );
        let workflow = run_xml(&xml, json!({"n": 41}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.kind.as_str(), error.reason.as_str(), error.plugin.as_deref()),
            ("fail_here", "endEvent", "bpmn_error", None)
        );
        assert_eq!(
            (error.code.as_deref(), error.error_name.as_deref(), error.payload.clone()),
            (Some("rejected"), Some("Rejected"), Some(json!({"n": 42})))
        );
        assert!(error.message.contains("`rejected` (Rejected)"), "{}", error.message);
        assert_eq!(states_of(&workflow, "fail_here"), [TaskState::Error]);
    }
}

/// The opening of a generated file with the SpiffWorkflow namespace.
const SPIFF_HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="generated" targetNamespace="http://wasmflow.dev/tests">"#;

#[test]
fn catching_is_reported_as_lifecycle_events() {
    let files = [fixture("error_boundary.bpmn")];
    let data = charge("card_declined", Value::Null, json!(1));
    let mut workflow = Workflow::start(library(&files), None, object(data)).unwrap();
    let mut events = Vec::new();
    workflow
        .run_observed(&scripts(), |w| {
            events.extend(w.take_events().into_iter().map(|e| e.kind));
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(workflow.status(), Status::Completed);
    let charge = workflow.tasks().find(|t| t.spec == "charge").unwrap().id;
    let boundary = workflow.tasks().find(|t| t.spec == "on_declined").unwrap().id;
    let cancelled = events
        .iter()
        .position(|e| {
            *e == EventKind::TaskCancelled {
                task: charge,
                spec: "charge".into(),
            }
        })
        .expect("the interrupted task is reported cancelled");
    let caught = events
        .iter()
        .position(|e| {
            *e == EventKind::ErrorCaught {
                task: boundary,
                spec: "on_declined".into(),
                code: Some("card_declined".into()),
                thrown_by: charge,
            }
        })
        .expect("the catch is reported");
    assert!(cancelled < caught, "{events:?}");
    assert!(
        !events.iter().any(|e| matches!(e, EventKind::TaskError { .. })),
        "{events:?}"
    );
}

#[test]
fn the_cli_reports_an_uncaught_error_with_code_name_and_payload() {
    let file = fixture("error_uncaught.bpmn").display().to_string();
    let plugins = plugin_dir().display().to_string();
    let args = ["run", &file, "--plugins", &plugins, "--data", r#"{"sku": "B-2"}"#];
    let (out, code) = cli_json(&[&args[..], &["--json"]].concat());
    assert_eq!((code, out["status"].clone()), (1, json!("error")));
    let error = &out["error"];
    assert_eq!(
        (
            &error["spec"],
            &error["reason"],
            &error["code"],
            &error["error_name"],
            &error["payload"]
        ),
        (
            &json!("reserve"),
            &json!("bpmn_error"),
            &json!("out_of_stock"),
            &json!("Out of stock"),
            &json!({"sku": "B-2", "missing": 3})
        )
    );
    let reserve = out["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["spec"] == "reserve")
        .unwrap();
    assert_eq!(reserve["state"], json!("ERROR"));

    let output = cli(&args);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    for expected in [
        "serviceTask `reserve` (Reserve stock) failed in plugin `raise`",
        "BPMN error code: out_of_stock",
        "BPMN error name: Out of stock",
        "BPMN error payload: {",
        r#""sku":"B-2""#,
        r#""missing":3"#,
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
}
