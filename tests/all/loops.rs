//! Standard loops: an activity runs pass after pass on the data the last
//! pass ended with, until its condition holds or its maximum is reached;
//! tested before, it may run no pass at all.

use serde_json::json;
use wasmflow::engine::{EventKind, Status, TaskState, Workflow};
use wasmflow::script::ScriptEngine;
use wasmflow_tests::*;

fn states_of(w: &Workflow, spec: &str) -> Vec<TaskState> {
    w.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

/// Completes the waiting `ask` with `answer`, runs, and returns the status.
fn answer(w: &mut Workflow, with: &str, scripts: &ScriptEngine) -> Status {
    let ask = w.waiting_tasks().find(|t| t.spec == "ask").expect("`ask` waits").id;
    w.complete_task(ask, object(json!({ "answer": with }))).unwrap();
    w.run(scripts)
}

for_each_executor! {
    #[test]
    fn loops_run_until_their_condition_holds_or_their_maximum_and_a_tested_one_may_not_run(scripts: &ScriptEngine) {
        let mut w = run_fixture_with(&["loops.bpmn"], json!({"count": 0, "laps": [], "answer": "no"}), scripts);
        assert_eq!(w.status(), Status::Waiting, "{:?}", w.error());
        // One task per looping activity, whatever its passes.
        assert_eq!(states_of(&w, "count_up"), [TaskState::Completed]);
        assert_eq!(states_of(&w, "never"), [TaskState::Completed]);
        assert_eq!(states_of(&w, "lap").len(), 2, "the subprocess ran its maximum, twice");
        let ask = w.waiting_tasks().find(|t| t.spec == "ask").unwrap().id;
        assert_eq!(w.task_data(ask).unwrap()["count"], json!(3));
        assert_eq!(w.task_data(ask).unwrap()["laps"], json!([0, 1]));
        assert!(w.task_data(ask).unwrap().get("never").is_none(), "tested before, it ran no pass");

        // The question is asked until the answer is yes, as the same task.
        assert_eq!(answer(&mut w, "no", scripts), Status::Waiting);
        let text = serde_json::to_string(&w.snapshot()).unwrap();
        let mut w = Workflow::restore(library(&[fixture("loops.bpmn")]), serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(w.waiting_tasks().find(|t| t.spec == "ask").unwrap().id, ask);
        assert_eq!(answer(&mut w, "yes", scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["answer"], json!("yes"));
        assert_eq!(states_of(&w, "given_up"), [TaskState::Cancelled]);
    }

    #[test]
    fn a_boundary_event_stays_armed_across_passes_and_interrupts_the_loop(scripts: &ScriptEngine) {
        let mut w = run_fixture_with(&["loops.bpmn"], json!({"count": 5, "laps": [], "answer": "no"}), scripts);
        assert_eq!(answer(&mut w, "no", scripts), Status::Waiting);
        assert_eq!(answer(&mut w, "maybe", scripts), Status::Waiting);
        let message = wasmflow::engine::Message {
            name: "give up".into(),
            correlation: Default::default(),
            payload: json!({}),
        };
        assert!(w.deliver(&message).unwrap().is_some(), "armed once, still armed after two passes");
        let mut passes = Vec::new();
        let status = w
            .run_observed(scripts, |w| -> Result<(), std::convert::Infallible> {
                passes.extend(w.take_events().into_iter().filter(|e| matches!(e.kind, EventKind::LoopPassed { .. })));
                Ok(())
            })
            .unwrap();
        assert_eq!(status, Status::Completed, "{:?}", w.error());
        assert_eq!(states_of(&w, "ask"), [TaskState::Cancelled]);
        assert_eq!(states_of(&w, "gave_up"), [TaskState::Completed]);
        // count started at 5: one pass of count_up, as it is tested after.
        assert_eq!(w.data()["count"], json!(6));
    }

    #[test]
    fn a_loop_maximum_of_10000_passes_runs_them_all_in_one_task(scripts: &ScriptEngine) {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://wasmflow.dev/tests">
  <process id="p" isExecutable="true">
    <startEvent id="s" />
    <scriptTask id="tick"><standardLoopCharacteristics loopMaximum="10000" /><script>n = n + 1</script></scriptTask>
    <endEvent id="e" />
    <sequenceFlow id="f1" sourceRef="s" targetRef="tick" />
    <sequenceFlow id="f2" sourceRef="tick" targetRef="e" />
  </process>
</definitions>"#
        );
        let w = run_xml(&xml, json!({"n": 0}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["n"], json!(10000));
        assert_eq!(w.tasks().count(), 3);
    }
}

#[test]
fn the_cli_runs_a_loop_and_check_reports_one_that_never_ends() {
    let (out, code) = cli_json(&[
        "run",
        fixture("loops.bpmn").to_str().unwrap(),
        "--data",
        r#"{"count": 1, "laps": [], "answer": "yes"}"#,
        "--json",
    ]);
    assert_eq!((code, &out["status"]), (0, &json!("waiting")), "{out}");
    assert_eq!(out["waiting"][0]["spec"], "ask");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("endless.bpmn");
    std::fs::write(
        &file,
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<process id="p" isExecutable="true">
<startEvent id="s"/>
<task id="forever"><standardLoopCharacteristics/></task>
<task id="odd"><standardLoopCharacteristics loopMaximum="many"/></task>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="forever"/>
<sequenceFlow id="f2" sourceRef="forever" targetRef="odd"/>
<sequenceFlow id="f3" sourceRef="odd" targetRef="e"/>
</process>
</definitions>"#,
    )
    .unwrap();
    let out = cli(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(
        said.contains("forever: a standard loop needs a loopCondition or a loopMaximum"),
        "{said}"
    );
    assert!(
        said.contains("odd: loopMaximum `many` is not a whole number of passes"),
        "{said}"
    );
}
