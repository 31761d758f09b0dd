//! Conditional events on the fake executor: catches, boundary events and
//! event subprocesses that fire when the data they watch comes to satisfy
//! their condition, changed by another branch, a completed task or nothing
//! at all (true from the start).

use super::*;
use crate::engine::EventKind;

fn condition(expression: &str) -> String {
    format!(
        r#"<bpmn:conditionalEventDefinition><bpmn:condition>{expression}</bpmn:condition></bpmn:conditionalEventDefinition>"#
    )
}

fn catch(id: &str, expression: &str) -> String {
    format!(
        r#"<bpmn:intermediateCatchEvent id="{id}">{}</bpmn:intermediateCatchEvent>"#,
        condition(expression)
    )
}

fn boundary(id: &str, on: &str, interrupting: bool, expression: &str) -> String {
    format!(
        r#"<bpmn:boundaryEvent id="{id}" attachedToRef="{on}" cancelActivity="{interrupting}">{}</bpmn:boundaryEvent>"#,
        condition(expression)
    )
}

/// Answers like [`sets`], recording the data of each request in `seen`.
fn recording(set: Value, seen: Arc<Mutex<Vec<Value>>>) -> Answerer {
    let answer = sets(set);
    Box::new(move |request| {
        seen.lock().unwrap().push(request["data"].clone());
        answer(request)
    })
}

fn met(workflow: &mut Workflow) -> Vec<String> {
    (workflow.take_events().into_iter())
        .filter_map(|e| match e.kind {
            EventKind::ConditionMet { spec, .. } => Some(spec),
            _ => None,
        })
        .collect()
}

/// Runs `workflow`, gathering the ids of the conditional events that fired.
fn run_met(workflow: &mut Workflow, scripts: &ScriptEngine) -> Vec<String> {
    let mut seen = Vec::new();
    let _ = workflow.run_observed(scripts, |w| -> Result<(), std::convert::Infallible> {
        seen.extend(met(w));
        Ok(())
    });
    seen.extend(met(workflow));
    seen
}

#[test]
fn a_conditional_catch_passes_at_once_when_its_condition_holds_and_waits_while_it_does_not() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            &catch("wait", "ready"),
            &work("after"),
            &flows(&[("start", "wait"), ("wait", "after"), ("after", "end")]),
        ],
    ));
    let (scripts, fake) = engine(vec![("after", sets(json!({"after": true})))], 1);
    let mut ready = Workflow::start(library.clone(), None, object(json!({"ready": true}))).unwrap();
    assert_eq!(run_met(&mut ready, &scripts), ["wait"]);
    assert_eq!(ready.status(), Status::Completed, "{:?}", ready.error());
    assert_eq!(calls(&fake), ["after"]);

    let mut not_yet = Workflow::start(library, None, object(json!({"ready": false}))).unwrap();
    assert!(run_met(&mut not_yet, &scripts).is_empty());
    assert_eq!(not_yet.status(), Status::Waiting);
    let waiting: Vec<_> = not_yet.waiting().collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        (waiting[0].task.spec.as_str(), waiting[0].event),
        ("wait", Some("condition"))
    );
    // Evaluated again with nothing changed, it still waits.
    assert!(not_yet.recheck_conditions());
    not_yet.run(&scripts);
    assert_eq!(not_yet.status(), Status::Waiting);
    assert_eq!(calls(&fake), ["after"]);
}

#[test]
fn a_catch_fires_when_a_parallel_branch_sets_what_it_watches_on_either_strategy() {
    for concurrency in [1, 4] {
        let library = library(&process(
            "p",
            &[
                r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
                r#"<bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />"#,
                &catch("wait", "ready"),
                &work("after"),
                &work("prepare"),
                &flows(&[
                    ("start", "fork"),
                    ("fork", "wait"),
                    ("wait", "after"),
                    ("after", "join"),
                    ("fork", "prepare"),
                    ("prepare", "join"),
                    ("join", "end"),
                ]),
            ],
        ));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (scripts, fake) = engine(
            vec![
                ("after", recording(json!({"after": true}), seen.clone())),
                ("prepare", sets(json!({"ready": true, "prepared": 1}))),
            ],
            concurrency,
        );
        let mut workflow = Workflow::start(library, None, object(json!({"ready": false}))).unwrap();
        assert_eq!(run_met(&mut workflow, &scripts), ["wait"], "concurrency {concurrency}");
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(calls(&fake), ["prepare", "after"]);
        // The catch's path goes on with what it watched.
        let seen = seen.lock().unwrap();
        assert_eq!((&seen[0]["ready"], &seen[0]["prepared"]), (&json!(true), &json!(1)));
    }
}

#[test]
fn a_user_task_completed_beside_a_waiting_catch_wakes_it_after_a_snapshot() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end1" /><bpmn:endEvent id="end2" />"#,
            r#"<bpmn:parallelGateway id="fork" /><bpmn:userTask id="ask" />"#,
            &catch("wait", "ready"),
            &flows(&[
                ("start", "fork"),
                ("fork", "wait"),
                ("wait", "end1"),
                ("fork", "ask"),
                ("ask", "end2"),
            ]),
        ],
    ));
    let (scripts, _) = engine(vec![], 1);
    let workflow = run(&library, json!({}), &scripts);
    assert_eq!(workflow.status(), Status::Waiting);
    let text = serde_json::to_string(&workflow.snapshot()).unwrap();
    assert!(text.contains("\"watches\""), "{text}");
    let mut restored = Workflow::restore(library.clone(), serde_json::from_str(&text).unwrap()).unwrap();
    restored
        .complete_task(id_of(&restored, "ask"), object(json!({"ready": "yes"})))
        .unwrap();
    assert_eq!(run_met(&mut restored, &scripts), ["wait"]);
    assert_eq!(restored.status(), Status::Completed, "{:?}", restored.error());
    assert_eq!(states_of(&restored, "wait"), [TaskState::Completed]);

    // A watched condition naming a task that is not a conditional event's is refused.
    let mut bad = workflow.snapshot();
    bad.instance.watches[0].task = id_of(&workflow, "ask");
    assert!(Workflow::restore(library, bad).is_err());
}

/// `start → fork`, then `review` (a user task with `on_review` on it, whose
/// path runs `on_<id>`) `→ approve → end1`, and `branch` (tasks run in a
/// chain) `→ end2`.
fn beside_review(on_review: &str, on_id: &str, branch: &[&str]) -> Arc<Library> {
    let mut pairs: Vec<(String, String)> = vec![
        ("start".into(), "fork".into()),
        ("fork".into(), "review".into()),
        ("review".into(), "approve".into()),
        ("approve".into(), "end1".into()),
        (on_id.into(), format!("on_{on_id}")),
        (format!("on_{on_id}"), "end3".into()),
    ];
    let mut previous = "fork".to_string();
    for task in branch {
        pairs.push((previous.clone(), task.to_string()));
        previous = task.to_string();
    }
    pairs.push((previous, "end2".into()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut elements = vec![
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end1" /><bpmn:endEvent id="end2" /><bpmn:endEvent id="end3" />"#.to_string(),
        r#"<bpmn:parallelGateway id="fork" /><bpmn:userTask id="review" />"#.to_string(),
        work("approve"),
        work(&format!("on_{on_id}")),
        on_review.to_string(),
        flows(&pairs),
    ];
    elements.extend(branch.iter().map(|t| work(t)));
    let elements: Vec<&str> = elements.iter().map(String::as_str).collect();
    library(&process("p", &elements))
}

#[test]
fn an_interrupting_conditional_boundary_cancels_its_activity_when_a_branch_sets_its_condition() {
    for concurrency in [1, 4] {
        let library = beside_review(
            &boundary("withdrawn", "review", true, "withdrawn"),
            "withdrawn",
            &["decide"],
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (scripts, fake) = engine(
            vec![
                ("approve", sets(json!({"approved": true}))),
                ("decide", sets(json!({"withdrawn": true}))),
                ("on_withdrawn", recording(json!({"noted": true}), seen.clone())),
            ],
            concurrency,
        );
        let mut workflow = Workflow::start(library, None, object(json!({"withdrawn": false}))).unwrap();
        assert_eq!(run_met(&mut workflow, &scripts), ["withdrawn"]);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(calls(&fake), ["decide", "on_withdrawn"], "concurrency {concurrency}");
        assert_eq!(states_of(&workflow, "review"), [TaskState::Cancelled]);
        assert_eq!(seen.lock().unwrap()[0]["withdrawn"], true);
    }
}

#[test]
fn a_non_interrupting_boundary_fires_each_time_its_condition_becomes_true() {
    let library = beside_review(
        &boundary("urgent", "review", false, "urgent"),
        "urgent",
        &["up", "noise", "down", "up_again"],
    );
    let (scripts, fake) = engine(
        vec![
            ("approve", sets(json!({"approved": true}))),
            ("up", sets(json!({"urgent": true}))),
            // Still true: no new firing.
            ("noise", sets(json!({"urgent": 2}))),
            ("down", sets(json!({"urgent": false}))),
            ("up_again", sets(json!({"urgent": true}))),
            ("on_urgent", sets(json!({"told": true}))),
        ],
        1,
    );
    let mut workflow = Workflow::start(library, None, Map::new()).unwrap();
    assert_eq!(run_met(&mut workflow, &scripts), ["urgent", "urgent"]);
    assert_eq!(workflow.status(), Status::Waiting, "{:?}", workflow.error());
    let urgent = calls(&fake).iter().filter(|c| *c == "on_urgent").count();
    assert_eq!(urgent, 2, "{:?}", calls(&fake));
    // The review goes on, and once it completes its boundary event goes.
    workflow.complete_task(id_of(&workflow, "review"), Map::new()).unwrap();
    workflow.run(&scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    let boundary_states = states_of(&workflow, "urgent");
    assert_eq!(
        boundary_states.iter().filter(|s| **s == TaskState::Cancelled).count(),
        1
    );
}

fn with_event_subprocess(interrupting: bool) -> Arc<Library> {
    library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:userTask id="ask" />"#,
            &work("mark"),
            &flows(&[("start", "mark"), ("mark", "ask"), ("ask", "end")]),
            &format!(
                r#"<bpmn:subProcess id="overdue" triggeredByEvent="true"><bpmn:startEvent id="overdue_start" isInterrupting="{interrupting}">{}</bpmn:startEvent>{}<bpmn:endEvent id="overdue_end" />{}</bpmn:subProcess>"#,
                condition("overdue"),
                work("chase"),
                flows(&[("overdue_start", "chase"), ("chase", "overdue_end")])
            ),
        ],
    ))
}

#[test]
fn a_conditional_event_subprocess_interrupts_its_scope_or_runs_beside_it() {
    let plugins = || {
        engine(
            vec![
                ("mark", sets(json!({"overdue": true}))),
                ("chase", sets(json!({"chased": true}))),
            ],
            1,
        )
    };
    let (scripts, fake) = plugins();
    let mut stopping = Workflow::start(with_event_subprocess(true), None, Map::new()).unwrap();
    assert_eq!(run_met(&mut stopping, &scripts), ["overdue"]);
    assert_eq!(stopping.status(), Status::Completed, "{:?}", stopping.error());
    assert_eq!(calls(&fake), ["mark", "chase"]);
    assert_eq!(states_of(&stopping, "ask"), [TaskState::Cancelled]);
    assert_eq!(stopping.data()["chased"], true);

    let (scripts, fake) = plugins();
    let mut beside = Workflow::start(with_event_subprocess(false), None, Map::new()).unwrap();
    assert_eq!(run_met(&mut beside, &scripts), ["overdue"]);
    assert_eq!(beside.status(), Status::Waiting, "{:?}", beside.error());
    assert_eq!(calls(&fake), ["mark", "chase"]);
    beside.complete_task(id_of(&beside, "ask"), Map::new()).unwrap();
    beside.run(&scripts);
    assert_eq!(beside.status(), Status::Completed, "{:?}", beside.error());
}

#[test]
fn a_condition_that_cannot_be_evaluated_stops_the_instance_at_its_event_until_retried() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            &catch("wait", "failing"),
            &flows(&[("start", "wait"), ("wait", "end")]),
        ],
    ));
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run(&library, json!({}), &scripts);
    assert_eq!(workflow.status(), Status::Error);
    let error = workflow.error().unwrap();
    assert_eq!(error.spec, "wait");
    assert!(error.message.contains("condition `failing`"), "{}", error.message);
    // Retried, it is evaluated again (and fails again: the fake always does).
    workflow.retry_task(id_of(&workflow, "wait"), None).unwrap();
    workflow.run(&scripts);
    assert_eq!(workflow.status(), Status::Error);
    assert_eq!(workflow.error().unwrap().spec, "wait");
}

#[test]
fn a_process_with_a_conditional_start_waits_there_until_it_holds() {
    let library = library(&process(
        "p",
        &[
            &format!(r#"<bpmn:startEvent id="start">{}</bpmn:startEvent>"#, condition("go")),
            &work("after"),
            r#"<bpmn:endEvent id="end" />"#,
            &flows(&[("start", "after"), ("after", "end")]),
        ],
    ));
    let (scripts, fake) = engine(vec![("after", sets(json!({"after": true})))], 1);
    let waiting = run(&library, json!({"go": false}), &scripts);
    assert_eq!(waiting.status(), Status::Waiting);
    assert!(calls(&fake).is_empty());
    let going = run(&library, json!({"go": true}), &scripts);
    assert_eq!(going.status(), Status::Completed, "{:?}", going.error());
    assert_eq!(calls(&fake), ["after"]);
}
