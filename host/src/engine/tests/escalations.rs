//! Escalations on the fake executor: caught by boundary events and event
//! subprocesses, interrupting or not, from a subprocess or a called process;
//! uncaught, recorded while the process goes on.

use super::*;
use crate::engine::EventKind;

/// Root escalations: `late` (code `late`, payload under `lateness`) and `any_escalation` (no code).
const ESCALATIONS: &str = r#"<bpmn:escalation id="late" name="Late" escalationCode="late">
    <bpmn:extensionElements>
      <spiffworkflow:variableName>lateness</spiffworkflow:variableName>
      <spiffworkflow:payloadExpression>report</spiffworkflow:payloadExpression>
    </bpmn:extensionElements>
  </bpmn:escalation>
  <bpmn:escalation id="other" escalationCode="other" />"#;

fn throw(id: &str, escalation: &str) -> String {
    format!(
        r#"<bpmn:intermediateThrowEvent id="{id}"><bpmn:escalationEventDefinition escalationRef="{escalation}" /></bpmn:intermediateThrowEvent>"#
    )
}

fn catch_on(id: &str, on: &str, interrupting: bool, escalation: Option<&str>) -> String {
    let reference = escalation
        .map(|e| format!(r#" escalationRef="{e}""#))
        .unwrap_or_default();
    format!(
        r#"<bpmn:boundaryEvent id="{id}" attachedToRef="{on}" cancelActivity="{interrupting}"><bpmn:escalationEventDefinition{reference} /></bpmn:boundaryEvent>"#
    )
}

/// `start → sub [s1 → before → raise(late) → after → e1] → end`, with
/// `boundaries` on `sub`, each boundary's path running `on_<id>` and ending.
fn raising(boundaries: &[String], boundary_ids: &[&str]) -> Arc<Library> {
    let mut elements = vec![
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#.to_string(),
        r#"<bpmn:subProcess id="sub"><bpmn:startEvent id="s1" /><bpmn:endEvent id="e1" />"#.to_string(),
        work("before"),
        throw("raise", "late"),
        work("after"),
        flows(&[
            ("s1", "before"),
            ("before", "raise"),
            ("raise", "after"),
            ("after", "e1"),
        ]),
        "</bpmn:subProcess>".to_string(),
        flows(&[("start", "sub"), ("sub", "end")]),
    ];
    elements.extend(boundaries.iter().cloned());
    for id in boundary_ids {
        elements.push(work(&format!("on_{id}")));
        elements.push(format!(r#"<bpmn:endEvent id="{id}_end" />"#));
        elements.push(flows(&[
            (id, &format!("on_{id}")),
            (&format!("on_{id}"), &format!("{id}_end")),
        ]));
    }
    let elements: Vec<&str> = elements.iter().map(String::as_str).collect();
    library(&format!("{}{ESCALATIONS}", process("p", &elements)))
}

fn plugins() -> (ScriptEngine, Arc<Fake>) {
    engine(
        vec![
            ("before", sets(json!({"report": {"by": 3}}))),
            ("after", sets(json!({"after": true}))),
            ("on_noted", sets(json!({"noted": true}))),
            ("on_stopped", sets(json!({"stopped": true}))),
            ("on_anything", sets(json!({"anything": true}))),
        ],
        1,
    )
}

fn escalation_events(workflow: &mut Workflow) -> Vec<EventKind> {
    (workflow.take_events().into_iter())
        .map(|e| e.kind)
        .filter(|k| {
            matches!(
                k,
                EventKind::EscalationCaught { .. } | EventKind::EscalationUncaught { .. }
            )
        })
        .collect()
}

fn run_observed(library: &Arc<Library>, scripts: &ScriptEngine) -> (Workflow, Vec<EventKind>) {
    let mut workflow = Workflow::start(library.clone(), None, Map::new()).unwrap();
    let mut seen = Vec::new();
    let _ = workflow.run_observed(scripts, |w| -> Result<(), std::convert::Infallible> {
        seen.extend(escalation_events(w));
        Ok(())
    });
    (workflow, seen)
}

#[test]
fn a_non_interrupting_boundary_runs_beside_the_subprocess_which_goes_on() {
    let library = raising(&[catch_on("noted", "sub", false, Some("late"))], &["noted"]);
    let (scripts, fake) = plugins();
    let (workflow, seen) = run_observed(&library, &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["before", "after", "on_noted"].map(String::from).to_vec());
    assert_eq!(states_of(&workflow, "sub"), [TaskState::Completed]);
    assert_eq!(states_of(&workflow, "raise"), [TaskState::Completed]);
    // The catch path has the payload, under the escalation's variable.
    let data = Value::Object(workflow.data().clone());
    assert_eq!(data["noted"], true);
    assert_eq!(data["lateness"], json!({"by": 3}));
    assert_eq!(data["after"], true);
    assert!(
        matches!(&seen[..], [EventKind::EscalationCaught { spec, code: Some(code), interrupting: false, .. }] if spec == "noted" && code == "late"),
        "{seen:?}"
    );
}

#[test]
fn an_interrupting_boundary_cancels_the_subprocess_and_a_named_catch_beats_a_catch_all() {
    let library = raising(
        &[
            catch_on("anything", "sub", true, None),
            catch_on("stopped", "sub", true, Some("late")),
        ],
        &["anything", "stopped"],
    );
    let (scripts, fake) = plugins();
    let (workflow, seen) = run_observed(&library, &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["before", "on_stopped"].map(String::from).to_vec());
    assert_eq!(states_of(&workflow, "sub"), [TaskState::Cancelled]);
    assert!(
        states_of(&workflow, "after").is_empty(),
        "the subprocess went no further"
    );
    assert!(
        states_of(&workflow, "end").is_empty(),
        "the path went the boundary's way"
    );
    assert!(
        matches!(&seen[..], [EventKind::EscalationCaught { spec, interrupting: true, .. }] if spec == "stopped"),
        "{seen:?}"
    );
}

#[test]
fn an_uncaught_escalation_is_recorded_and_the_process_goes_on() {
    // `other` catches a different code only.
    let library = raising(&[catch_on("noted", "sub", false, Some("other"))], &["noted"]);
    let (scripts, fake) = plugins();
    let (workflow, seen) = run_observed(&library, &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["before", "after"].map(String::from).to_vec());
    assert!(
        matches!(&seen[..], [EventKind::EscalationUncaught { spec, code: Some(code), payload: Some(payload), .. }]
            if spec == "raise" && code == "late" && payload == &json!({"by": 3})),
        "{seen:?}"
    );
}

#[test]
fn an_escalation_from_a_called_process_is_caught_beside_the_call_activity_while_the_child_goes_on() {
    let library = library(&format!(
        "{}{}{ESCALATIONS}",
        process(
            "parent",
            &[
                r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
                r#"<bpmn:callActivity id="call" calledElement="child" />"#,
                &catch_on("noted", "call", false, Some("late")),
                &work("on_noted"),
                r#"<bpmn:endEvent id="noted_end" />"#,
                &flows(&[
                    ("start", "call"),
                    ("call", "end"),
                    ("noted", "on_noted"),
                    ("on_noted", "noted_end")
                ]),
            ],
        ),
        process(
            "child",
            &[
                r#"<bpmn:startEvent id="cs" /><bpmn:endEvent id="ce" />"#,
                &work("before"),
                r#"<bpmn:endEvent id="raise_end"><bpmn:escalationEventDefinition escalationRef="late" /></bpmn:endEvent>"#,
                r#"<bpmn:parallelGateway id="fork" />"#,
                r#"<bpmn:userTask id="review" />"#,
                &flows(&[
                    ("cs", "before"),
                    ("before", "fork"),
                    ("fork", "raise_end"),
                    ("fork", "review"),
                    ("review", "ce")
                ]),
            ],
        ),
    ));
    let (scripts, fake) = plugins();
    let mut workflow = Workflow::start(library, Some("parent"), Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Waiting);
    // The parent's catch path ran; the child waits for its review.
    assert_eq!(calls(&fake), ["before", "on_noted"].map(String::from).to_vec());
    assert_eq!(states_of(&workflow, "noted_end"), [TaskState::Completed]);
    assert_eq!(states_of(&workflow, "raise_end"), [TaskState::Completed]);
    assert_eq!(states_of(&workflow, "call"), [TaskState::Started]);
    workflow.complete_task(id_of(&workflow, "review"), Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(workflow.data()["noted"], true);
}

#[test]
fn a_non_interrupting_escalation_event_subprocess_runs_beside_its_scope() {
    let library = library(&format!(
        "{}{ESCALATIONS}",
        process(
            "p",
            &[
                r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
                &work("before"),
                &throw("raise", "late"),
                &work("after"),
                &flows(&[
                    ("start", "before"),
                    ("before", "raise"),
                    ("raise", "after"),
                    ("after", "end")
                ]),
                r#"<bpmn:subProcess id="handler" triggeredByEvent="true">
                   <bpmn:startEvent id="hs" isInterrupting="false"><bpmn:escalationEventDefinition /></bpmn:startEvent>"#,
                &work("on_noted"),
                r#"<bpmn:endEvent id="he" />"#,
                &flows(&[("hs", "on_noted"), ("on_noted", "he")]),
                "</bpmn:subProcess>",
            ],
        )
    ));
    let (scripts, fake) = plugins();
    let (workflow, _) = run_observed(&library, &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    let mut ran = calls(&fake);
    ran.sort();
    assert_eq!(ran, ["after", "before", "on_noted"].map(String::from).to_vec());
    assert_eq!(states_of(&workflow, "handler"), [TaskState::Completed]);
    let data = Value::Object(workflow.data().clone());
    assert_eq!((&data["after"], &data["noted"]), (&json!(true), &json!(true)));
}
