//! Service tasks (SpiffWorkflow's `spiffworkflow:serviceTaskOperator`) and
//! pre-/post-scripts on activities, end to end.

use serde_json::json;
use wasmflow::engine::{Status, TaskState, Workflow};
use wasmflow_tests::*;

fn states_of(workflow: &Workflow, spec: &str) -> Vec<TaskState> {
    workflow.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

/// The opening of a generated file with the SpiffWorkflow namespace.
const SPIFF_HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="generated" targetNamespace="http://wasmflow.dev/tests">"#;

/// A process `start → task → end` where the task is `task_xml` (with id `task`);
/// the task's XML starts on line 5.
fn spiff_single(task_xml: &str) -> String {
    format!(
        r#"{SPIFF_HEADER}
  <bpmn:process id="single" isExecutable="true">
    <bpmn:startEvent id="start" />
{task_xml}
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

for_each_executor! {
    #[test]
    fn service_tasks_call_operations_with_parameters_from_data_and_hooks_run_in_order(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["service_task.bpmn"], json!({"price": 5, "quantity": 2}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        let data = workflow.data();
        // The pre-script ran before the parameters were evaluated: b = (2 + 1) * 2.
        assert_eq!(data["quantity"], json!(3));
        assert_eq!(data["priced"], json!({"sum": 11, "operation": "add"}));
        // The post-script ran on the result.
        assert_eq!(data["total"], json!(110));
        // No resultVariable: SpiffWorkflow's default name, `-` made `_`.
        assert_eq!(data["spiff__add_defaults_result"], json!({"sum": 111, "operation": "add"}));
        assert_eq!(
            data["trace"],
            json!([
                "script pre", "script", "script post",
                "sub pre", "sub", "sub post",
                "call pre", "child", "call post"
            ])
        );
        assert_eq!(states_of(&workflow, "price_order"), [TaskState::Completed]);
        let kinds: Vec<_> = workflow.tasks().filter(|t| t.spec == "add-defaults").map(|t| t.kind).collect();
        assert_eq!(kinds, ["serviceTask"]);
    }

    #[test]
    fn a_missing_operation_is_an_error_naming_the_operation_and_the_element(scripts: &ScriptEngine) {
        let xml = spiff_single(
            r#"    <bpmn:serviceTask id="task" name="Look up">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="no_such_operation" /></bpmn:extensionElements>
    </bpmn:serviceTask>"#,
        );
        let workflow = run_xml(&xml, json!({}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.kind.as_str(), error.reason.as_str()),
            ("task", "serviceTask", "not_found")
        );
        assert!(error.message.starts_with("operation `no_such_operation`: "), "{}", error.message);
        assert!(error.location.ends_with("generated.bpmn:5:5"), "{}", error.location);
        let shown = error.to_string();
        assert!(shown.contains("serviceTask `task` (Look up) failed"), "{shown}");
        assert_eq!(states_of(&workflow, "task"), [TaskState::Error]);
    }

    #[test]
    fn a_parameter_that_fails_to_evaluate_names_the_parameter_and_its_line(scripts: &ScriptEngine) {
        let xml = spiff_single(
            r#"    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="add">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="a" type="int" value="1" />
            <spiffworkflow:parameter id="b" type="int" value="not_in_data + 1" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>"#,
        );
        let workflow = run_xml(&xml, json!({}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert!(
            error.message.starts_with("parameter `b` (not_in_data + 1): ") && error.message.contains("not_in_data"),
            "{}",
            error.message
        );
        assert_eq!(error.line, Some(10));
    }

    #[test]
    fn a_failing_pre_script_fails_the_task_before_it_runs(scripts: &ScriptEngine) {
        let xml = spiff_single(
            r#"    <bpmn:scriptTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>ok = 1
boom = undefined_name</spiffworkflow:preScript>
      </bpmn:extensionElements>
      <bpmn:script>ran = True</bpmn:script>
    </bpmn:scriptTask>"#,
        );
        let workflow = run_xml(&xml, json!({"x": 1}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!((error.spec.as_str(), error.plugin.as_deref()), ("task", Some("python")));
        assert!(
            error.message.starts_with("pre-script: ") && error.message.contains("undefined_name"),
            "{}",
            error.message
        );
        // The line of the failing statement in the BPMN file.
        assert_eq!(error.line, Some(8));
        // The task keeps the data it was reached with: the pre-script's changes are not kept.
        assert_eq!(workflow.task_data(error.task).unwrap(), &object(json!({"x": 1})));
    }

    #[test]
    fn a_failing_post_script_fails_a_service_task_after_its_call(scripts: &ScriptEngine) {
        let xml = spiff_single(
            r#"    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="add" resultVariable="r">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="a" type="int" value="1" />
            <spiffworkflow:parameter id="b" type="int" value="2" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:postScript>total = r["sum"] + missing</spiffworkflow:postScript>
      </bpmn:extensionElements>
    </bpmn:serviceTask>"#,
        );
        let workflow = run_xml(&xml, json!({}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert!(
            error.message.starts_with("post-script: ") && error.message.contains("missing"),
            "{}",
            error.message
        );
        assert_eq!(error.line, Some(13));
        // The call's result was in the data the post-script saw.
        assert_eq!(workflow.task_data(error.task).unwrap()["r"]["sum"], json!(3));
    }

    #[test]
    fn a_user_task_runs_its_pre_script_when_reached_and_its_post_script_when_completed(scripts: &ScriptEngine) {
        let xml = spiff_single(
            r#"    <bpmn:userTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>form = {"default": n * 2}</spiffworkflow:preScript>
        <spiffworkflow:postScript>answer = chosen + form["default"]</spiffworkflow:postScript>
      </bpmn:extensionElements>
    </bpmn:userTask>"#,
        );
        let mut workflow = run_xml(&xml, json!({"n": 4}), scripts);
        assert_eq!(workflow.status(), Status::Waiting);
        let waiting: Vec<_> = workflow.waiting_tasks().collect();
        assert_eq!(waiting.len(), 1);
        assert_eq!(workflow.task_data(waiting[0].id).unwrap()["form"], json!({"default": 8}));
        workflow.complete_task(waiting[0].id, object(json!({"chosen": 100}))).unwrap();
        assert_eq!(workflow.run(scripts), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["answer"], json!(108));
    }
}

#[test]
fn check_lists_operations_and_checks_pre_and_post_scripts() {
    let plugins = plugin_dir().display().to_string();
    let file = fixture("service_task.bpmn").display().to_string();
    let (out, code) = cli_json(&["check", &file, "--plugins", &plugins, "--json"]);
    assert_eq!(code, 0, "{out}");
    let tasks = out["processes"][0]["tasks"].as_array().unwrap();
    let task = |id: &str| tasks.iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(task("price_order")["operation"], json!("add"));
    assert_eq!(task("price_order")["scripts"], json!(["preScript", "postScript"]));
    assert_eq!(task("script")["scripts"], json!(["preScript", "postScript"]));
    assert_eq!(task("call")["type"], json!("callActivity"));
    assert_eq!(out["processes"][0]["operations"], json!(["add"]));

    let output = cli(&["check", &file, "--plugins", &plugins]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("serviceTask `price_order` \"Price the order\"  [operation add]  [preScript]  [postScript]"),
        "{stdout}"
    );
    assert!(stdout.contains("operations called: add"), "{stdout}");

    // A pre-script or parameter that does not parse is reported at its line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bpmn");
    std::fs::write(
        &bad,
        spiff_single(
            r#"    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>x = (1 +</spiffworkflow:preScript>
        <spiffworkflow:serviceTaskOperator id="add">
          <spiffworkflow:parameters><spiffworkflow:parameter id="a" value="1 +" /></spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>"#,
        ),
    )
    .unwrap();
    let bad = bad.display().to_string();
    let output = cli(&["check", &bad, "--plugins", &plugins]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{bad}:7:1: task: preScript does not parse: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{bad}:9:1: task: parameter `a` does not parse: ")),
        "{stderr}"
    );
}

#[test]
fn malformed_service_tasks_are_parse_errors_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("malformed.bpmn");
    std::fs::write(
        &file,
        spiff_single(
            r#"    <bpmn:serviceTask id="task">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator resultVariable="r">
          <spiffworkflow:parameters><spiffworkflow:parameter value="1" /></spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="bare" />"#,
        ),
    )
    .unwrap();
    let error = wasmflow::bpmn::parse_file(&file).unwrap_err();
    let shown: Vec<String> = error.iter().map(ToString::to_string).collect();
    let f = file.display();
    assert_eq!(
        shown,
        [
            format!("{f}:7:9: task: `spiffworkflow:serviceTaskOperator` has no id: the id names the operation to call"),
            format!("{f}:8:37: task: `spiffworkflow:parameter` has no id: the id names the parameter"),
            format!(
                "{f}:12:5: bare: service task has no `spiffworkflow:serviceTaskOperator`: add one in its \
                 extensionElements naming the operation to call, e.g. \
                 <spiffworkflow:serviceTaskOperator id=\"lookup_product\"/>"
            ),
        ]
    );
    // The CLI runs nothing.
    let output = cli(&["run", &f.to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains(&format!("{f}:12:5: bare: service task has no")));
}
