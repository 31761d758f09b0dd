//! Messages on the fake executor: catch events, receive tasks, boundary
//! events, event-based gateways, event subprocesses, correlation, throws
//! within the instance, the outbox, and subscriptions kept through a snapshot.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::engine::{EventKind, Message, Outgoing, Signal};

/// The root elements every test here uses: a `payment` message whose
/// `order_id` property is read from the payload's `order_id`, and a `ping`
/// message with none.
const MESSAGES: &str = r#"
  <bpmn:message id="payment" name="Payment" />
  <bpmn:message id="ping" name="ping" />
  <bpmn:correlationProperty id="order_id" name="Order">
    <bpmn:correlationPropertyRetrievalExpression messageRef="payment">
      <bpmn:messagePath>order_id</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>"#;

fn messages_library(elements: &[&str]) -> Arc<Library> {
    library(&format!("{}{MESSAGES}", process("p", elements)))
}

fn catch(id: &str, message: &str, extensions: &str) -> String {
    format!(
        r#"<bpmn:intermediateCatchEvent id="{id}"><bpmn:messageEventDefinition messageRef="{message}">{extensions}</bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>"#
    )
}

fn variable(name: &str) -> String {
    format!(
        "<bpmn:extensionElements><spiffworkflow:messageVariable>{name}</spiffworkflow:messageVariable></bpmn:extensionElements>"
    )
}

fn message(name: &str, correlation: &[(&str, &str)], payload: Value) -> Message {
    Message {
        name: name.into(),
        correlation: correlation
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        payload,
    }
}

fn waiting_for(workflow: &Workflow) -> Vec<(String, Option<&'static str>, Option<String>, BTreeMap<String, String>)> {
    workflow
        .waiting()
        .map(|w| (w.task.spec, w.event, w.task.name, w.correlation))
        .collect()
}

#[test]
fn a_catch_event_waits_for_its_message_and_merges_the_payload() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
        &catch("wait", "ping", ""),
        &flows(&[("start", "wait"), ("wait", "end")]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run(&library, json!({"n": 1}), &scripts);
    assert_eq!(workflow.status(), Status::Waiting);
    assert_eq!(
        waiting_for(&workflow),
        [("wait".into(), Some("message"), Some("ping".into()), BTreeMap::new())]
    );
    assert_eq!(workflow.deliver(&message("pong", &[], json!({}))), Ok(None));
    assert_eq!(workflow.status(), Status::Waiting);
    let wait = id_of(&workflow, "wait");
    assert_eq!(workflow.deliver(&message("ping", &[], json!({"m": 2}))), Ok(Some(wait)));
    let events = workflow.take_events();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(Value::Object(workflow.data().clone()), json!({"n": 1, "m": 2}));
    assert!(
        events.iter().any(
            |e| matches!(&e.kind, EventKind::MessageReceived { spec, name, .. } if spec == "wait" && name == "ping")
        )
    );
}

#[test]
fn a_catch_waits_for_the_correlation_values_its_data_gives_and_no_other() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
        &catch("paid", "payment", &variable("receipt")),
        &flows(&[("start", "paid"), ("paid", "end")]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run(&library, json!({"order_id": 7}), &scripts);
    let correlation: BTreeMap<String, String> = [("order_id".to_string(), "7".to_string())].into();
    assert_eq!(
        waiting_for(&workflow),
        [("paid".into(), Some("message"), Some("Payment".into()), correlation)]
    );
    assert_eq!(
        workflow.deliver(&message("Payment", &[("order_id", "8")], json!(1))),
        Ok(None)
    );
    assert_eq!(
        workflow.deliver(&message("Payment", &[], json!(1))),
        Ok(None),
        "a value it waits for is missing"
    );
    let paid = id_of(&workflow, "paid");
    let delivered = workflow.deliver(&message("Payment", &[("order_id", "7")], json!(12.5)));
    assert_eq!(delivered, Ok(Some(paid)));
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"order_id": 7, "receipt": 12.5})
    );

    // Without an order_id in its data, the catch takes any value.
    let mut open = run(&library, json!({}), &scripts);
    assert_eq!(waiting_for(&open)[0].3, BTreeMap::new());
    let delivered = open.deliver(&message("Payment", &[("order_id", "99")], json!("x")));
    assert!(delivered.unwrap().is_some());
}

#[test]
fn a_payload_that_is_no_object_needs_a_message_variable() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
        &catch("wait", "ping", ""),
        &flows(&[("start", "wait"), ("wait", "end")]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run(&library, json!({}), &scripts);
    let refused = workflow.deliver(&message("ping", &[], json!([1, 2]))).unwrap_err();
    assert!(refused.0.contains("messageVariable"), "{refused}");
    assert_eq!(workflow.status(), Status::Waiting);
    assert_eq!(waiting_for(&workflow).len(), 1, "the catch still waits");
}

#[test]
fn a_receive_task_waits_for_its_message() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
        r#"<bpmn:receiveTask id="receive" name="Get it" messageRef="ping" />"#,
        &flows(&[("start", "receive"), ("receive", "end")]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run(&library, json!({}), &scripts);
    let waiting = workflow.waiting().next().unwrap();
    assert_eq!(
        (waiting.task.kind, waiting.event, waiting.task_name.as_deref()),
        ("receiveTask", Some("message"), Some("Get it"))
    );
    workflow
        .deliver(&message("ping", &[], json!({"got": true})))
        .unwrap()
        .unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(workflow.data()["got"], json!(true));
}

fn boundary_library(interrupting: bool) -> Arc<Library> {
    messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:endEvent id="cancelled_end" />"#,
        r#"<bpmn:userTask id="review" />"#,
        &format!(
            r#"<bpmn:boundaryEvent id="cancel" attachedToRef="review" cancelActivity="{interrupting}"><bpmn:messageEventDefinition messageRef="ping" /></bpmn:boundaryEvent>"#
        ),
        &work("note"),
        &flows(&[
            ("start", "review"),
            ("review", "end"),
            ("cancel", "note"),
            ("note", "cancelled_end"),
        ]),
    ])
}

#[test]
fn an_interrupting_message_boundary_event_cancels_a_waiting_user_task() {
    let library = boundary_library(true);
    let (scripts, fake) = engine(vec![("note", sets(json!({"noted": true})))], 1);
    let mut workflow = run(&library, json!({"a": 1}), &scripts);
    let mut waiting: Vec<_> = waiting_for(&workflow).into_iter().map(|w| (w.0, w.1)).collect();
    waiting.sort();
    assert_eq!(waiting, [("cancel".into(), Some("message")), ("review".into(), None)]);
    workflow
        .deliver(&message("ping", &[], json!({"why": "late"})))
        .unwrap()
        .unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "review"), [TaskState::Cancelled]);
    assert_eq!(calls(&fake), ["note"]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"a": 1, "why": "late", "noted": true})
    );
}

#[test]
fn a_non_interrupting_message_boundary_event_fires_at_each_message_while_the_task_waits() {
    let library = boundary_library(false);
    let (scripts, fake) = engine(vec![("note", sets(json!({"noted": true})))], 1);
    let mut workflow = run(&library, json!({}), &scripts);
    for n in 0..3 {
        workflow
            .deliver(&message("ping", &[], json!({"n": n})))
            .unwrap()
            .unwrap();
        assert_eq!(workflow.run(&scripts), Status::Waiting);
    }
    assert_eq!(calls(&fake), ["note", "note", "note"]);
    let review = id_of(&workflow, "review");
    workflow.complete_task(review, Map::new()).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(workflow.subscriptions().count(), 0, "the boundary goes with its task");
    assert_eq!(workflow.deliver(&message("ping", &[], json!({}))), Ok(None));
}

fn race_library() -> Arc<Library> {
    messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:eventBasedGateway id="race" /><bpmn:endEvent id="paid_end" /><bpmn:endEvent id="late_end" />"#,
        &catch("paid", "ping", ""),
        r#"<bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#,
        &flows(&[
            ("start", "race"),
            ("race", "paid"),
            ("race", "timeout"),
            ("paid", "paid_end"),
            ("timeout", "late_end"),
        ]),
    ])
}

#[test]
fn at_an_event_based_gateway_a_message_beats_the_timer() {
    let library = race_library();
    let (scripts, _) = engine(vec![], 1);
    let t0: Timestamp = "2027-01-01T09:00:00Z".parse().unwrap();
    let mut workflow = Workflow::start(library.clone(), None, Map::new()).unwrap();
    workflow.set_now(Some(t0));
    workflow.run(&scripts);
    workflow
        .deliver(&message("ping", &[], json!({"in_time": true})))
        .unwrap()
        .unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "timeout"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "paid_end"), [TaskState::Completed]);
    assert_eq!(workflow.next_due(), None);
    assert_eq!(workflow.data()["in_time"], json!(true));

    // And the timer beats a message that comes too late.
    let mut workflow = Workflow::start(library.clone(), None, Map::new()).unwrap();
    workflow.set_now(Some(t0));
    workflow.run(&scripts);
    workflow.set_now(Some(t0 + SignedDuration::from_hours(1)));
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "paid"), [TaskState::Cancelled]);
    assert_eq!(workflow.deliver(&message("ping", &[], json!({}))), Ok(None));
}

#[test]
fn a_message_starts_an_interrupting_event_subprocess_with_the_payload() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:userTask id="review" /><bpmn:endEvent id="end" />"#,
        &flows(&[("start", "review"), ("review", "end")]),
        &format!(
            r#"<bpmn:subProcess id="on_cancel" triggeredByEvent="true">
                 <bpmn:startEvent id="cancel_start"><bpmn:messageEventDefinition messageRef="ping" /></bpmn:startEvent>
                 {}{}<bpmn:endEvent id="cancel_end" />{}
               </bpmn:subProcess>"#,
            work("note"),
            "",
            flows(&[("cancel_start", "note"), ("note", "cancel_end")])
        ),
    ]);
    let (scripts, fake) = engine(vec![("note", sets(json!({"noted": true})))], 1);
    let mut workflow = run(&library, json!({"a": 1}), &scripts);
    assert!(
        waiting_for(&workflow)
            .iter()
            .any(|w| w.0 == "on_cancel" && w.1 == Some("message"))
    );
    workflow
        .deliver(&message("ping", &[], json!({"reason": "asked"})))
        .unwrap()
        .unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(states_of(&workflow, "review"), [TaskState::Cancelled]);
    assert_eq!(calls(&fake), ["note"]);
    assert_eq!(workflow.data()["reason"], json!("asked"));
}

#[test]
fn a_throw_reaches_the_catch_of_its_own_instance_with_its_payload_and_correlation() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="split" /><bpmn:parallelGateway id="join" /><bpmn:endEvent id="end" />"#,
        &catch("paid", "payment", &variable("receipt")),
        r#"<bpmn:intermediateThrowEvent id="pay"><bpmn:messageEventDefinition messageRef="payment"><bpmn:extensionElements><spiffworkflow:messagePayload>invoice</spiffworkflow:messagePayload></bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateThrowEvent>"#,
        &flows(&[
            ("start", "split"),
            ("split", "paid"),
            ("split", "pay"),
            ("paid", "join"),
            ("pay", "join"),
            ("join", "end"),
        ]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let workflow = run(
        &library,
        json!({"order_id": 3, "invoice": {"order_id": 3, "sum": 10}}),
        &scripts,
    );
    assert_eq!(workflow.status(), Status::Completed);
    assert_eq!(workflow.data()["receipt"], json!({"order_id": 3, "sum": 10}));

    // A throw whose correlation does not match leaves through the outbox.
    let data = json!({"order_id": 3, "invoice": {"order_id": 4}});
    let mut workflow = Workflow::start(library.clone(), None, object(data)).unwrap();
    let mut events = Vec::new();
    let status = workflow.run_observed(&scripts, |w| {
        events.extend(w.take_events());
        Ok::<_, std::convert::Infallible>(())
    });
    assert_eq!(status, Ok(Status::Waiting));
    let sent = events.into_iter().find_map(|e| match e.kind {
        EventKind::MessageSent { name, received_by, .. } => Some((name, received_by)),
        _ => None,
    });
    assert_eq!(sent, Some(("Payment".into(), None)));
    let expected = message("Payment", &[("order_id", "4")], json!({"order_id": 4}));
    assert_eq!(workflow.take_outbox(), [Outgoing::Message(expected)]);
    assert!(workflow.take_outbox().is_empty());
}

#[test]
fn subscriptions_and_the_outbox_survive_a_snapshot() {
    let library = messages_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
        r#"<bpmn:sendTask id="send" messageRef="ping" />"#,
        &catch("paid", "payment", ""),
        &flows(&[("start", "send"), ("send", "paid"), ("paid", "end")]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let workflow = run(&library, json!({"order_id": "A-1"}), &scripts);
    let snapshot = workflow.snapshot();
    assert_eq!(snapshot.instance.subscriptions.len(), 1);
    assert_eq!(snapshot.instance.outbox.len(), 1);
    let text = serde_json::to_string(&snapshot).unwrap();
    let mut restored = Workflow::restore(library.clone(), serde_json::from_str(&text).unwrap()).unwrap();
    let Outgoing::Message(sent) = &restored.take_outbox()[0] else {
        panic!("a send task sends a message");
    };
    assert_eq!(sent.payload, json!({"order_id": "A-1"}));
    restored
        .deliver(&message("Payment", &[("order_id", "A-1")], json!({})))
        .unwrap()
        .unwrap();
    assert_eq!(restored.run(&scripts), Status::Completed);

    let mut bad = workflow.snapshot();
    bad.instance.subscriptions[0].task = 0;
    assert!(
        Workflow::restore(library, bad).is_err(),
        "a subscription must name a catch's task"
    );
}

const SIGNALS: &str = r#"
  <bpmn:signal id="stop" name="stop">
    <bpmn:extensionElements><spiffworkflow:variableName>why</spiffworkflow:variableName></bpmn:extensionElements>
  </bpmn:signal>
  <bpmn:signal id="go" name="go">
    <bpmn:extensionElements><spiffworkflow:payloadExpression>plan</spiffworkflow:payloadExpression></bpmn:extensionElements>
  </bpmn:signal>"#;

fn signal_catch(id: &str, signal: &str) -> String {
    format!(
        r#"<bpmn:intermediateCatchEvent id="{id}"><bpmn:signalEventDefinition signalRef="{signal}" /></bpmn:intermediateCatchEvent>"#
    )
}

fn signals_library(elements: &[&str]) -> Arc<Library> {
    library(&format!("{}{SIGNALS}", process("p", elements)))
}

#[test]
fn a_signal_reaches_every_catch_waiting_for_it_with_its_payload_under_the_variable() {
    let library = signals_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="split" /><bpmn:parallelGateway id="join" /><bpmn:endEvent id="end" />"#,
        &signal_catch("a", "stop"),
        &signal_catch("b", "stop"),
        &signal_catch("other", "go"),
        &flows(&[
            ("start", "split"),
            ("split", "a"),
            ("split", "b"),
            ("split", "other"),
            ("a", "join"),
            ("b", "join"),
            ("other", "join"),
            ("join", "end"),
        ]),
    ]);
    let (scripts, _) = engine(vec![], 1);
    let mut workflow = run(&library, json!({}), &scripts);
    let waiting: Vec<_> = workflow
        .waiting()
        .filter(|w| w.event == Some("signal"))
        .map(|w| w.task.spec)
        .collect();
    assert_eq!(waiting, ["a", "b", "other"]);
    let triggered = workflow.broadcast(&Signal {
        name: "stop".into(),
        payload: json!("maintenance"),
    });
    assert_eq!(triggered, [id_of(&workflow, "a"), id_of(&workflow, "b")]);
    assert_eq!(workflow.run(&scripts), Status::Waiting);
    assert!(
        workflow.deliver(&message("stop", &[], json!({}))).unwrap().is_none(),
        "a signal is no message"
    );
    assert!(
        workflow
            .broadcast(&Signal {
                name: "stop".into(),
                payload: Value::Null
            })
            .is_empty()
    );
    workflow.broadcast(&Signal {
        name: "go".into(),
        payload: json!({"later": 1}),
    });
    assert_eq!(workflow.run(&scripts), Status::Completed);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"why": "maintenance", "later": 1})
    );
}

#[test]
fn a_thrown_signal_wakes_its_own_catches_a_boundary_and_a_non_interrupting_event_subprocess() {
    let library = signals_library(&[
        r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="split" /><bpmn:endEvent id="end" /><bpmn:endEvent id="stopped" /><bpmn:userTask id="review" />"#,
        r#"<bpmn:boundaryEvent id="halt" attachedToRef="review"><bpmn:signalEventDefinition signalRef="stop" /></bpmn:boundaryEvent>"#,
        r#"<bpmn:intermediateThrowEvent id="say_stop"><bpmn:signalEventDefinition signalRef="stop" /></bpmn:intermediateThrowEvent>"#,
        r#"<bpmn:endEvent id="go_end"><bpmn:signalEventDefinition signalRef="go" /></bpmn:endEvent>"#,
        &format!(
            r#"<bpmn:subProcess id="on_go" triggeredByEvent="true">
                 <bpmn:startEvent id="go_start" isInterrupting="false"><bpmn:signalEventDefinition signalRef="go" /></bpmn:startEvent>
                 {}<bpmn:endEvent id="go_done" />{}
               </bpmn:subProcess>"#,
            work("note"),
            flows(&[("go_start", "note"), ("note", "go_done")])
        ),
        &flows(&[
            ("start", "split"),
            ("split", "review"),
            ("split", "say_stop"),
            ("review", "end"),
            ("halt", "stopped"),
            ("say_stop", "go_end"),
        ]),
    ]);
    let (scripts, fake) = engine(vec![("note", sets(json!({"noted": true})))], 1);
    let data = json!({"plan": {"step": 2}});
    let mut workflow = Workflow::start(library.clone(), None, object(data)).unwrap();
    let mut events = Vec::new();
    let status = workflow.run_observed(&scripts, |w| {
        events.extend(w.take_events());
        Ok::<_, std::convert::Infallible>(())
    });
    assert_eq!(status, Ok(Status::Completed));
    assert_eq!(states_of(&workflow, "review"), [TaskState::Cancelled]);
    assert_eq!(
        calls(&fake),
        ["note"],
        "the end event's signal started the event subprocess"
    );
    let sent: Vec<_> = (events.iter())
        .filter_map(|e| match &e.kind {
            EventKind::SignalSent { spec, received_by, .. } => Some((spec.clone(), received_by.len())),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [("say_stop".to_string(), 1), ("go_end".to_string(), 1)]);
    let outbox: Vec<_> = (workflow.take_outbox().into_iter())
        .map(|o| match o {
            Outgoing::Signal { signal, .. } => (signal.name, signal.payload),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        outbox,
        [
            ("stop".to_string(), Value::Null),
            ("go".to_string(), json!({"step": 2}))
        ]
    );
}
