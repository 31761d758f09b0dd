//! Timers on the fake executor, with the instance's clock fixed: catch
//! events, interrupting and non-interrupting boundary timers, expressions,
//! and timers kept through a snapshot.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::engine::{EventKind, StartTimer};

const T0: &str = "2027-01-01T09:00:00Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn later(minutes: i64) -> Timestamp {
    at(T0) + SignedDuration::from_mins(minutes)
}

/// A timer event definition with one value.
fn timer(kind: &str, value: &str) -> String {
    format!(r#"<bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>"#)
}

fn catch(id: &str, kind: &str, value: &str) -> String {
    format!(
        r#"<bpmn:intermediateCatchEvent id="{id}">{}</bpmn:intermediateCatchEvent>"#,
        timer(kind, value)
    )
}

fn boundary(id: &str, on: &str, interrupting: bool, kind: &str, value: &str) -> String {
    format!(
        r#"<bpmn:boundaryEvent id="{id}" attachedToRef="{on}" cancelActivity="{interrupting}">{}</bpmn:boundaryEvent>"#,
        timer(kind, value)
    )
}

/// Starts the library's process at T0 with `data` and runs it.
fn run_at(library: &Arc<Library>, data: Value, scripts: &ScriptEngine) -> Workflow {
    let mut workflow = Workflow::start(library.clone(), None, object(data)).unwrap();
    workflow.set_now(Some(at(T0)));
    workflow.run(scripts);
    workflow
}

/// Moves the instance's clock to `now` and runs it on.
fn tick(workflow: &mut Workflow, now: Timestamp, scripts: &ScriptEngine) -> Status {
    workflow.set_now(Some(now));
    workflow.run(scripts)
}

fn waiting(workflow: &Workflow) -> Vec<(String, Option<&'static str>, Option<Timestamp>)> {
    workflow.waiting().map(|w| (w.task.spec, w.event, w.due)).collect()
}

#[test]
fn a_catch_event_waits_until_its_timer_is_due_and_not_a_moment_before() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            &catch("wait", "timeDuration", "PT30M"),
            &work("after"),
            &flows(&[("start", "wait"), ("wait", "after"), ("after", "end")]),
        ],
    ));
    let (scripts, fake) = engine(vec![("after", sets(json!({"done": true})))], 1);
    let mut workflow = run_at(&library, json!({"n": 1}), &scripts);
    assert_eq!(workflow.status(), Status::Waiting);
    assert_eq!(waiting(&workflow), [("wait".into(), Some("timer"), Some(later(30)))]);
    assert_eq!(workflow.next_due(), Some(later(30)));
    let just_before = later(30) - SignedDuration::from_millis(1);
    assert_eq!(tick(&mut workflow, just_before, &scripts), Status::Waiting);
    assert!(calls(&fake).is_empty());
    assert!(
        workflow.complete_task(id_of(&workflow, "wait"), Map::new()).is_err(),
        "a timer is no user task"
    );
    workflow.set_now(Some(later(30)));
    let mut fired = Vec::new();
    let status = workflow.run_observed(&scripts, |w| {
        fired.extend(w.take_events().into_iter().filter_map(|e| match e.kind {
            EventKind::TimerFired { spec, due, .. } => Some((spec, due)),
            _ => None,
        }));
        Ok::<(), ()>(())
    });
    assert_eq!(status, Ok(Status::Completed));
    assert_eq!(fired, [("wait".to_string(), later(30))]);
    assert_eq!(calls(&fake), ["after"]);
    assert_eq!(Value::Object(workflow.data().clone()), json!({"n": 1, "done": true}));
    assert_eq!(workflow.next_due(), None);
}

#[test]
fn a_date_in_the_past_fires_at_once_and_an_expression_reads_the_data() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            &catch("past", "timeDate", "2020-01-01T00:00:00Z"),
            &catch("later", "timeDuration", "delay"),
            &flows(&[("start", "past"), ("past", "later"), ("later", "end")]),
        ],
    ));
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run_at(&library, json!({"delay": "PT2H"}), &scripts);
    assert_eq!(waiting(&workflow), [("later".into(), Some("timer"), Some(later(120)))]);
    assert_eq!(states_of(&workflow, "past"), [TaskState::Completed]);
    assert_eq!(tick(&mut workflow, later(120), &scripts), Status::Completed);

    // An expression whose value is no duration fails the task, saying what it got.
    let workflow = run_at(&library, json!({"delay": "soon"}), &scripts);
    assert_eq!(workflow.status(), Status::Error);
    let error = workflow.error().unwrap();
    assert_eq!((error.spec.as_str(), error.reason.as_str()), ("later", "invalid_timer"));
    assert!(
        error
            .message
            .contains("timeDuration `soon` is not an ISO 8601 duration"),
        "{}",
        error.message
    );
    assert!(error.message.contains("(the value of `delay`)"), "{}", error.message);
    let workflow = run_at(&library, json!({"delay": 5}), &scripts);
    let message = &workflow.error().unwrap().message;
    assert!(
        message.contains("evaluated to 5, not a string such as \"PT1H\""),
        "{message}"
    );
}

/// `start → approve (user task, with boundary timers) → end`; each
/// boundary event's path runs `on_<id>` and ends.
fn approval(boundaries: &[String]) -> Arc<Library> {
    let mut elements = vec![
        r#"<bpmn:startEvent id="start" /><bpmn:userTask id="approve" /><bpmn:endEvent id="end" />"#.to_string(),
        flows(&[("start", "approve"), ("approve", "end")]),
    ];
    for (i, b) in boundaries.iter().enumerate() {
        let id = b.split('"').nth(1).unwrap().to_string();
        elements.push(b.clone());
        elements.push(work(&format!("on_{id}")));
        elements.push(format!(r#"<bpmn:endEvent id="end{i}" />"#));
        elements.push(flows(&[
            (&id, &format!("on_{id}")),
            (&format!("on_{id}"), &format!("end{i}")),
        ]));
    }
    let elements: Vec<&str> = elements.iter().map(String::as_str).collect();
    library(&process("p", &elements))
}

#[test]
fn an_interrupting_boundary_timer_cancels_a_user_task_and_takes_its_path() {
    let library = approval(&[boundary("expire", "approve", true, "timeDuration", "PT1H")]);
    let (scripts, fake) = engine(vec![("on_expire", sets(json!({"expired": true})))], 1);
    let mut workflow = run_at(&library, json!({"order": 7}), &scripts);
    assert_eq!(
        waiting(&workflow),
        [
            ("approve".into(), None, None),
            ("expire".into(), Some("timer"), Some(later(60)))
        ]
    );
    assert_eq!(tick(&mut workflow, later(60), &scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "approve"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "end"), Vec::<TaskState>::new());
    assert_eq!(calls(&fake), ["on_expire"]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"order": 7, "expired": true})
    );

    // Completed in time, the task takes its own path and the timer goes.
    let mut workflow = run_at(&library, json!({"order": 8}), &scripts);
    workflow.complete_task(id_of(&workflow, "approve"), Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "expire"), [TaskState::Cancelled]);
    assert_eq!(workflow.next_due(), None);
    assert_eq!(tick(&mut workflow, later(120), &scripts), Status::Completed);
    assert_eq!(calls(&fake), ["on_expire"], "the cancelled timer never fires");
}

#[test]
fn a_non_interrupting_cycle_fires_three_times_while_the_task_waits() {
    let library = approval(&[
        boundary("remind", "approve", false, "timeCycle", "R3/PT10M"),
        boundary("expire", "approve", true, "timeDuration", "PT1H"),
    ]);
    let (scripts, fake) = engine(
        vec![
            ("on_remind", sets(json!({"reminded": true}))),
            ("on_expire", sets(json!({"expired": true}))),
        ],
        1,
    );
    let mut workflow = run_at(&library, json!({}), &scripts);
    for (fired, minutes) in [(1, 10), (2, 20), (3, 30)] {
        assert_eq!(tick(&mut workflow, later(minutes), &scripts), Status::Waiting);
        assert_eq!(calls(&fake).len(), fired, "at +{minutes} min");
        assert_eq!(
            workflow.waiting().next().unwrap().task.spec,
            "approve",
            "the task still waits"
        );
    }
    // Three repetitions, then the cycle is spent: its waiter completes.
    assert_eq!(
        waiting(&workflow),
        [
            ("approve".into(), None, None),
            ("expire".into(), Some("timer"), Some(later(60)))
        ]
    );
    assert_eq!(states_of(&workflow, "remind").last(), Some(&TaskState::Completed));
    assert_eq!(tick(&mut workflow, later(50), &scripts), Status::Waiting);
    assert_eq!(calls(&fake).len(), 3);
    workflow.complete_task(id_of(&workflow, "approve"), Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(calls(&fake), ["on_remind", "on_remind", "on_remind"]);
}

#[test]
fn a_cycle_missed_for_hours_fires_once_and_goes_on_from_now() {
    let library = approval(&[boundary("remind", "approve", false, "timeCycle", "R/PT10M")]);
    let (scripts, fake) = engine(vec![("on_remind", sets(json!({})))], 1);
    let mut workflow = run_at(&library, json!({}), &scripts);
    assert_eq!(tick(&mut workflow, later(185), &scripts), Status::Waiting);
    assert_eq!(calls(&fake).len(), 1);
    assert_eq!(workflow.next_due(), Some(later(190)));
}

#[test]
fn a_boundary_timer_on_a_subprocess_cancels_everything_inside() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:endEvent id="late" />"#,
            r#"<bpmn:subProcess id="sub"><bpmn:startEvent id="s1" /><bpmn:userTask id="inner" /><bpmn:endEvent id="e1" />"#,
            &flows(&[("s1", "inner"), ("inner", "e1")]),
            "</bpmn:subProcess>",
            &boundary("deadline", "sub", true, "timeDate", "2027-01-02T00:00:00Z"),
            &flows(&[("start", "sub"), ("sub", "end"), ("deadline", "late")]),
        ],
    ));
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run_at(&library, json!({}), &scripts);
    assert_eq!(workflow.next_due(), Some(at("2027-01-02T00:00:00Z")));
    assert_eq!(
        tick(&mut workflow, at("2027-01-03T00:00:00Z"), &scripts),
        Status::Completed
    );
    assert_eq!(states_of(&workflow, "inner"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "sub"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "late"), [TaskState::Completed]);
}

#[test]
fn a_script_task_with_a_boundary_timer_arms_it_on_either_strategy() {
    // The script task completes at once; its timer is armed and disarmed
    // whether the call runs here or on the pool.
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="fork" /><bpmn:endEvent id="end" /><bpmn:endEvent id="end2" /><bpmn:endEvent id="late" />"#,
            &work("a"),
            &work("b"),
            &boundary("slow", "a", true, "timeDuration", "PT1M"),
            &flows(&[
                ("start", "fork"),
                ("fork", "a"),
                ("fork", "b"),
                ("a", "end"),
                ("b", "end2"),
                ("slow", "late"),
            ]),
        ],
    ));
    for concurrency in [1, 4] {
        let (scripts, _) = engine(
            vec![("a", sets(json!({"a": 1}))), ("b", sets(json!({"b": 1})))],
            concurrency,
        );
        let workflow = run_at(&library, json!({}), &scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(states_of(&workflow, "slow"), [TaskState::Cancelled]);
        assert_eq!(workflow.next_due(), None);
    }
}

#[test]
fn armed_timers_survive_a_snapshot_and_fire_after_restore() {
    let library = approval(&[
        boundary("remind", "approve", false, "timeCycle", "R2/PT10M"),
        boundary("expire", "approve", true, "timeDuration", "PT1H"),
    ]);
    let (scripts, fake) = engine(
        vec![
            ("on_remind", sets(json!({}))),
            ("on_expire", sets(json!({"expired": true}))),
        ],
        1,
    );
    let mut workflow = run_at(&library, json!({}), &scripts);
    tick(&mut workflow, later(10), &scripts);
    let snapshot = workflow.snapshot();
    assert_eq!(snapshot.instance.timers.len(), 2);
    let json = serde_json::to_value(&snapshot.instance.timers).unwrap();
    assert_eq!(json[0]["due"], "2027-01-01T09:20:00Z");
    assert_eq!(
        (json[0]["cycle"].as_str(), json[0]["fired"].as_u64()),
        (Some("R2/PT10M"), Some(1))
    );
    let text = serde_json::to_string(&snapshot).unwrap();
    let mut restored = Workflow::restore(library.clone(), serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(restored.next_due(), Some(later(20)));
    assert_eq!(tick(&mut restored, later(60), &scripts), Status::Completed);
    assert_eq!(calls(&fake), ["on_remind", "on_remind", "on_expire"]);

    // A timer naming a task that is no timer event's is refused.
    let mut bad = workflow.snapshot();
    bad.instance.timers[0].task = id_of(&workflow, "approve");
    let error = Workflow::restore(library, bad).err().unwrap();
    assert!(error.to_string().contains("is not a timer event's task"), "{error}");
}

#[test]
fn after_an_event_based_gateway_the_first_timer_wins_and_the_others_are_cancelled() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:eventBasedGateway id="race" /><bpmn:endEvent id="end1" /><bpmn:endEvent id="end2" />"#,
            &catch("soon", "timeDuration", "first"),
            &catch("later", "timeDuration", "second"),
            &work("on_soon"),
            &work("on_later"),
            &flows(&[
                ("start", "race"),
                ("race", "soon"),
                ("race", "later"),
                ("soon", "on_soon"),
                ("on_soon", "end1"),
                ("later", "on_later"),
                ("on_later", "end2"),
            ]),
        ],
    ));
    for (first, second, winner, loser) in [("PT10M", "PT1H", "soon", "later"), ("PT2H", "PT1H", "later", "soon")] {
        let (scripts, fake) = engine(
            vec![
                ("on_soon", sets(json!({"won": "soon"}))),
                ("on_later", sets(json!({"won": "later"}))),
            ],
            1,
        );
        let mut workflow = run_at(&library, json!({"first": first, "second": second}), &scripts);
        let waiting: Vec<_> = waiting(&workflow)
            .into_iter()
            .map(|(spec, event, _)| (spec, event))
            .collect();
        assert_eq!(
            waiting,
            [
                ("race".to_string(), None),
                ("soon".to_string(), Some("timer")),
                ("later".to_string(), Some("timer"))
            ]
        );
        // Both are due by now: the earlier fires, and the other never does.
        assert_eq!(tick(&mut workflow, later(180), &scripts), Status::Completed);
        assert_eq!(calls(&fake), [format!("on_{winner}")]);
        assert_eq!(workflow.data()["won"], winner);
        assert_eq!(states_of(&workflow, winner), [TaskState::Completed]);
        assert_eq!(states_of(&workflow, loser), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "race"), [TaskState::Completed]);
    }
}

/// An event subprocess started by a timer: `<id>_start` (the timer) →
/// `on_<id>` (a plugin) → `<id>_end`.
fn timer_event_subprocess(id: &str, interrupting: bool, kind: &str, value: &str) -> String {
    format!(
        r#"<bpmn:subProcess id="{id}" triggeredByEvent="true"><bpmn:startEvent id="{id}_start" isInterrupting="{interrupting}">{}</bpmn:startEvent>{}<bpmn:endEvent id="{id}_end" />{}</bpmn:subProcess>"#,
        timer(kind, value),
        work(&format!("on_{id}")),
        flows(&[
            (&format!("{id}_start"), &format!("on_{id}")),
            (&format!("on_{id}"), &format!("{id}_end"))
        ]),
    )
}

#[test]
fn an_interrupting_timer_event_subprocess_cancels_the_process_and_runs_in_its_place() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:userTask id="approve" /><bpmn:endEvent id="end" />"#,
            &flows(&[("start", "approve"), ("approve", "end")]),
            &timer_event_subprocess("overdue", true, "timeDuration", "PT1H"),
        ],
    ));
    let (scripts, fake) = engine(vec![("on_overdue", sets(json!({"overdue": true})))], 1);
    let mut workflow = run_at(&library, json!({"order": 3}), &scripts);
    assert_eq!(
        waiting(&workflow),
        [
            ("approve".into(), None, None),
            ("overdue".into(), Some("timer"), Some(later(60)))
        ]
    );
    assert_eq!(tick(&mut workflow, later(60), &scripts), Status::Completed);
    assert_eq!(calls(&fake), ["on_overdue"]);
    assert_eq!(states_of(&workflow, "approve"), [TaskState::Cancelled]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"order": 3, "overdue": true})
    );

    // The process ends first: the event subprocess's timer goes with it.
    let mut workflow = run_at(&library, json!({}), &scripts);
    workflow.complete_task(id_of(&workflow, "approve"), Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "overdue"), [TaskState::Cancelled]);
    assert_eq!(workflow.next_due(), None);
}

#[test]
fn a_non_interrupting_timer_event_subprocess_in_a_subprocess_runs_beside_it_at_each_occurrence() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            r#"<bpmn:subProcess id="sub"><bpmn:startEvent id="s1" /><bpmn:userTask id="inner" /><bpmn:endEvent id="e1" />"#,
            &flows(&[("s1", "inner"), ("inner", "e1")]),
            &timer_event_subprocess("nudge", false, "timeCycle", "R/PT10M"),
            "</bpmn:subProcess>",
            &flows(&[("start", "sub"), ("sub", "end")]),
        ],
    ));
    let (scripts, fake) = engine(vec![("on_nudge", sets(json!({"nudged": true})))], 1);
    let mut workflow = run_at(&library, json!({}), &scripts);
    for (minutes, calls_so_far) in [(10, 1), (20, 2), (25, 2)] {
        assert_eq!(tick(&mut workflow, later(minutes), &scripts), Status::Waiting);
        assert_eq!(calls(&fake).len(), calls_so_far);
    }
    assert_eq!(states_of(&workflow, "inner"), [TaskState::Ready]);
    workflow.complete_task(id_of(&workflow, "inner"), Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    // Ended with its scope: the cycle is over.
    assert_eq!(workflow.next_due(), None);
    assert_eq!(states_of(&workflow, "nudge").first(), Some(&TaskState::Cancelled));
    assert_eq!(workflow.data()["nudged"], true);
}

/// A process that starts only by a timer, with `more` beside.
fn timer_started(kind: &str, value: &str, more: &str) -> Arc<Library> {
    library(&process(
        "p",
        &[
            &format!(r#"<bpmn:startEvent id="tick">{}</bpmn:startEvent>"#, timer(kind, value)),
            r#"<bpmn:endEvent id="end" />"#,
            more,
            &work("after"),
            &flows(&[("tick", "after"), ("after", "end")]),
        ],
    ))
}

#[test]
fn a_process_run_directly_waits_at_its_timer_start_event_as_spiffworkflow_does() {
    let library = timer_started("timeDuration", "PT5M", "");
    let (scripts, fake) = engine(vec![("after", sets(json!({"done": true})))], 1);
    let mut workflow = run_at(&library, json!({"n": 1}), &scripts);
    assert_eq!(workflow.status(), Status::Waiting);
    assert_eq!(waiting(&workflow), [("tick".into(), Some("timer"), Some(later(5)))]);
    assert_eq!(tick(&mut workflow, later(4), &scripts), Status::Waiting);
    assert!(calls(&fake).is_empty());
    assert_eq!(tick(&mut workflow, later(5), &scripts), Status::Completed);
    assert_eq!(Value::Object(workflow.data().clone()), json!({"n": 1, "done": true}));
}

#[test]
fn a_process_the_scheduler_starts_by_timer_begins_past_its_start_event() {
    let library = timer_started("timeCycle", "R/PT1H", "");
    let (scripts, fake) = engine(vec![("after", sets(json!({"done": true})))], 1);
    let mut workflow = Workflow::start_by_timer(library.clone(), "p", "tick", later(60)).unwrap();
    let fired: Vec<_> = (workflow.take_events().into_iter())
        .filter_map(|e| match e.kind {
            EventKind::TimerFired { spec, due, .. } => Some((spec, due)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fired,
        [("tick".to_string(), later(60))],
        "its history says why it started"
    );
    workflow.set_now(Some(later(60)));
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(calls(&fake).len(), 1);
    assert_eq!(
        workflow.next_due(),
        None,
        "the instance holds no timer: the schedule is the deployment's"
    );
    // Only a timer start event starts it so.
    let error = Workflow::start_by_timer(library, "p", "after", later(60))
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("has no timer start event `after`"),
        "{error}"
    );
}

#[test]
fn a_deployed_cycle_schedules_each_occurrence_once_and_passes_over_missed_ones() {
    let library = timer_started("timeCycle", "R3/PT1H", "");
    let (scripts, _) = engine(vec![], 1);
    let spec = library.process("p").unwrap();
    let [first] = StartTimer::of_process(spec, &scripts, at(T0))
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!((first.start.as_str(), first.due, first.fired), ("tick", later(60), 0));
    let second = first.after_firing(later(60)).unwrap();
    assert_eq!((second.due, second.fired), (later(120), 1));
    // The scheduler was down for hours: one instance for the missed
    // occurrence, and the next is the first after now.
    let third = second.after_firing(later(60 * 5 + 10)).unwrap();
    assert_eq!((third.due, third.fired), (later(60 * 6), 2));
    assert_eq!(third.after_firing(later(60 * 6)), None, "R3: three instances in all");

    // A date fires once; a duration counts from the deployment.
    for (kind, value, due) in [
        ("timeDate", "2027-01-01T10:30:00Z", later(90)),
        ("timeDuration", "PT10M", later(10)),
    ] {
        let library = timer_started(kind, value, "");
        let [timer] = StartTimer::of_process(library.process("p").unwrap(), &scripts, at(T0))
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(timer.due, due);
        assert_eq!(timer.after_firing(due), None);
    }
}

#[test]
fn a_deployed_timer_value_that_does_not_read_names_the_element_and_the_file() {
    // An expression: there is no data at deployment for it to read.
    let library = timer_started("timeDuration", "delay", "");
    let (scripts, _) = engine(vec![], 1);
    let error = StartTimer::of_process(library.process("p").unwrap(), &scripts, at(T0)).unwrap_err();
    assert!(error.contains("timer start event `tick` of process `p`"), "{error}");
    assert!(error.contains("delay"), "{error}");
}
