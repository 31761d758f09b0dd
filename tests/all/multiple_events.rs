//! Events with several definitions: a multiple catch waits for the first
//! of its definitions, a parallel multiple one for all; as intermediate
//! catches, boundary events and event subprocess starts, saved and loaded
//! between the definitions that happen.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use wasmflow::bpmn::{Library, parse_str};
use wasmflow::engine::{Message, Outgoing, Signal, Status, TaskState, Workflow};
use wasmflow_tests::*;

/// A diagram whose process `p` holds `body`, with message `paid` and signal `cancel`.
fn diagram(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="multiple" targetNamespace="http://wasmflow.dev/tests">
  <message id="m_paid" name="paid" />
  <signal id="s_cancel" name="cancel" />
  <process id="p" isExecutable="true">
{body}
  </process>
</definitions>"#
    )
}

/// The two definitions every event here has: message `paid`, signal `cancel`.
const PAID_OR_CANCEL: &str =
    r#"<messageEventDefinition messageRef="m_paid" /><signalEventDefinition signalRef="s_cancel" />"#;

fn paid(payload: Value) -> Message {
    Message {
        name: "paid".into(),
        correlation: BTreeMap::new(),
        payload,
    }
}

fn cancel(payload: Value) -> Signal {
    Signal {
        name: "cancel".into(),
        payload,
    }
}

/// `w` saved and loaded again, checking that nothing changed on the way.
fn reloaded(w: &Workflow, xml: &str) -> Workflow {
    let text = serde_json::to_string(&w.snapshot()).unwrap();
    let library = Arc::new(Library::new(vec![
        parse_str(std::path::Path::new("m.bpmn"), xml).unwrap(),
    ]));
    let loaded = Workflow::restore(library, serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(serde_json::to_string(&loaded.snapshot()).unwrap(), text);
    loaded
}

fn states_of(w: &Workflow, spec: &str) -> Vec<TaskState> {
    w.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

/// `s → wait (paid or cancel) → after → e`, `wait` parallel or not.
fn catch_diagram(parallel: bool) -> String {
    diagram(&format!(
        r#"<startEvent id="s" />
<intermediateCatchEvent id="wait" parallelMultiple="{parallel}">{PAID_OR_CANCEL}</intermediateCatchEvent>
<scriptTask id="after"><script>after = True</script></scriptTask>
<endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="wait" />
<sequenceFlow id="f2" sourceRef="wait" targetRef="after" />
<sequenceFlow id="f3" sourceRef="after" targetRef="e" />"#
    ))
}

for_each_executor! {
    #[test]
    fn a_multiple_catch_goes_on_at_the_first_of_its_definitions(scripts: &ScriptEngine) {
        let xml = catch_diagram(false);
        let w = run_xml(&xml, json!({}), scripts);
        assert_eq!(w.status(), Status::Waiting, "{:?}", w.error());
        let mut w = reloaded(&w, &xml);
        assert_eq!(w.broadcast(&cancel(json!({"why": "late"}))).len(), 1);
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!((&w.data()["why"], &w.data()["after"]), (&json!("late"), &json!(true)));
        // The message's waiter went with the token: nothing waits for it now.
        assert_eq!(w.deliver(&paid(json!({"amount": 5}))).unwrap(), None);
        assert!(w.data().get("amount").is_none());
        assert_eq!(states_of(&w, "after"), [TaskState::Completed]);
    }

    #[test]
    fn a_timer_among_the_definitions_fires_by_the_instance_clock(scripts: &ScriptEngine) {
        let xml = diagram(
            r#"<startEvent id="s" />
<intermediateCatchEvent id="wait">
  <timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>
  <messageEventDefinition messageRef="m_paid" />
</intermediateCatchEvent>
<endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="wait" />
<sequenceFlow id="f2" sourceRef="wait" targetRef="e" />"#,
        );
        let w = run_xml(&xml, json!({}), scripts);
        let events: Vec<_> = w.waiting().filter_map(|e| e.event).collect();
        assert_eq!(events, ["timer", "message"]);
        let due = w.next_due().expect("the timer is armed");
        let mut w = reloaded(&w, &xml);
        w.set_now(Some(due));
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(w.next_due(), None);
        assert_eq!(w.deliver(&paid(json!({}))).unwrap(), None, "the message's waiter went");
    }

    #[test]
    fn a_parallel_multiple_catch_waits_for_all_of_its_definitions(scripts: &ScriptEngine) {
        let xml = catch_diagram(true);
        let mut w = run_xml(&xml, json!({}), scripts);
        assert!(w.deliver(&paid(json!({"amount": 5}))).unwrap().is_some());
        assert_eq!(w.run(scripts), Status::Waiting, "one of two happened");
        assert!(states_of(&w, "after").is_empty());
        // A second `paid` finds nothing: that definition has happened.
        assert_eq!(w.deliver(&paid(json!({"amount": 6}))).unwrap(), None);
        let mut w = reloaded(&w, &xml);
        assert_eq!(w.broadcast(&cancel(json!({"why": "done"}))).len(), 1);
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(
            (&w.data()["amount"], &w.data()["why"], &w.data()["after"]),
            (&json!(5), &json!("done"), &json!(true))
        );
    }

    #[test]
    fn multiple_boundary_events_interrupt_at_the_first_or_fire_once_all_happened(scripts: &ScriptEngine) {
        let xml = diagram(&format!(
            r#"<startEvent id="s" />
<userTask id="review" />
<boundaryEvent id="stop" attachedToRef="review">{PAID_OR_CANCEL}</boundaryEvent>
<boundaryEvent id="both" attachedToRef="review" cancelActivity="false" parallelMultiple="true">{PAID_OR_CANCEL}</boundaryEvent>
<scriptTask id="stopped"><script>stopped = True</script></scriptTask>
<scriptTask id="noted"><script>noted = True</script></scriptTask>
<endEvent id="e" />
<endEvent id="e2" />
<endEvent id="e3" />
<sequenceFlow id="f1" sourceRef="s" targetRef="review" />
<sequenceFlow id="f2" sourceRef="review" targetRef="e" />
<sequenceFlow id="f3" sourceRef="stop" targetRef="stopped" />
<sequenceFlow id="f4" sourceRef="stopped" targetRef="e2" />
<sequenceFlow id="f5" sourceRef="both" targetRef="noted" />
<sequenceFlow id="f6" sourceRef="noted" targetRef="e3" />"#
        ));
        // The message goes to the longest-waiting catch: `stop`'s, armed
        // first, which interrupts the review; `both` goes with it.
        let mut w = run_xml(&xml, json!({}), scripts);
        assert_eq!(w.status(), Status::Waiting);
        assert!(w.deliver(&paid(json!({"amount": 1}))).unwrap().is_some());
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(states_of(&w, "review"), [TaskState::Cancelled]);
        assert_eq!(w.data()["stopped"], json!(true));
        assert!(states_of(&w, "noted").is_empty());

        // Without `stop`, `both` waits for the message and the signal, then
        // runs its path once beside the review, which goes on.
        let xml = xml
            .replace(r#"<sequenceFlow id="f3" sourceRef="stop" targetRef="stopped" />"#, "")
            .replace(&format!(r#"<boundaryEvent id="stop" attachedToRef="review">{PAID_OR_CANCEL}</boundaryEvent>"#), "")
            .replace(r#"<sequenceFlow id="f4" sourceRef="stopped" targetRef="e2" />"#, "")
            .replace(r#"<scriptTask id="stopped"><script>stopped = True</script></scriptTask>"#, "")
            .replace(r#"<endEvent id="e2" />"#, "");
        let mut w = run_xml(&xml, json!({}), scripts);
        assert!(w.deliver(&paid(json!({"amount": 2}))).unwrap().is_some());
        assert_eq!(w.run(scripts), Status::Waiting);
        assert!(states_of(&w, "noted").is_empty(), "one of two happened");
        let mut w = reloaded(&w, &xml);
        assert_eq!(w.broadcast(&cancel(json!({"why": "both"}))).len(), 1);
        assert_eq!(w.run(scripts), Status::Waiting, "{:?}", w.error());
        assert_eq!(states_of(&w, "noted"), [TaskState::Completed]);
        // Fired once: its definitions are spent while the review runs.
        assert_eq!(w.deliver(&paid(json!({"amount": 3}))).unwrap(), None);
        assert!(w.broadcast(&cancel(json!({}))).is_empty());
        let review = w.waiting_tasks().find(|t| t.spec == "review").unwrap().id;
        w.complete_task(review, serde_json::Map::new()).unwrap();
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["noted"], json!(true));
    }

    #[test]
    fn a_parallel_multiple_start_brings_what_each_definition_brought(scripts: &ScriptEngine) {
        let xml = diagram(&format!(
            r#"<startEvent id="s" />
<userTask id="work" />
<endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="work" />
<sequenceFlow id="f2" sourceRef="work" targetRef="e" />
<subProcess id="settle" triggeredByEvent="true">
  <startEvent id="settle_start" parallelMultiple="true">{PAID_OR_CANCEL}</startEvent>
  <scriptTask id="settled"><script>settled = "%s: %d" % (why, amount)</script></scriptTask>
  <endEvent id="settle_end" />
  <sequenceFlow id="t1" sourceRef="settle_start" targetRef="settled" />
  <sequenceFlow id="t2" sourceRef="settled" targetRef="settle_end" />
</subProcess>"#
        ));
        let mut w = run_xml(&xml, json!({}), scripts);
        assert_eq!(w.status(), Status::Waiting);
        assert!(w.deliver(&paid(json!({"amount": 7}))).unwrap().is_some());
        assert_eq!(w.run(scripts), Status::Waiting);
        assert!(states_of(&w, "settled").is_empty());
        // What the message brought is saved with the instance.
        let mut w = reloaded(&w, &xml);
        assert_eq!(w.broadcast(&cancel(json!({"why": "refund"}))).len(), 1);
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(states_of(&w, "work"), [TaskState::Cancelled], "the start interrupts");
        assert_eq!(w.data()["settled"], json!("refund: 7"));
    }

    #[test]
    fn a_multiple_throw_sends_its_message_and_signal_then_escalates(scripts: &ScriptEngine) {
        let xml = diagram(
            r#"<startEvent id="s" />
<subProcess id="sub">
  <startEvent id="ss" />
  <intermediateThrowEvent id="tell">
    <escalationEventDefinition escalationRef="late" />
    <messageEventDefinition messageRef="m_paid" />
    <signalEventDefinition signalRef="s_cancel" />
  </intermediateThrowEvent>
  <scriptTask id="after_tell"><script>told = True</script></scriptTask>
  <endEvent id="se" />
  <sequenceFlow id="t1" sourceRef="ss" targetRef="tell" />
  <sequenceFlow id="t2" sourceRef="tell" targetRef="after_tell" />
  <sequenceFlow id="t3" sourceRef="after_tell" targetRef="se" />
</subProcess>
<boundaryEvent id="on_late" attachedToRef="sub"><escalationEventDefinition escalationRef="late" /></boundaryEvent>
<scriptTask id="noted"><script>noted = True</script></scriptTask>
<endEvent id="finish"><messageEventDefinition messageRef="m_paid" /><signalEventDefinition signalRef="s_cancel" /></endEvent>
<endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="sub" />
<sequenceFlow id="f2" sourceRef="sub" targetRef="e" />
<sequenceFlow id="f3" sourceRef="on_late" targetRef="noted" />
<sequenceFlow id="f4" sourceRef="noted" targetRef="finish" />"#,
        )
        .replace("</definitions>", r#"<escalation id="late" escalationCode="late" /></definitions>"#);
        let w = run_xml(&xml, json!({}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        // The escalation went last and interrupted: the message and signal were sent first.
        let thrown: Vec<String> = (w.outbox().iter())
            .map(|o| match o {
                Outgoing::Message(m) => format!("message {}", m.name),
                Outgoing::Signal { signal, .. } => format!("signal {}", signal.name),
            })
            .collect();
        assert_eq!(thrown, ["message paid", "signal cancel", "message paid", "signal cancel"]);
        assert_eq!(states_of(&w, "tell"), [TaskState::Completed]);
        assert_eq!(states_of(&w, "sub"), [TaskState::Cancelled]);
        assert!(states_of(&w, "after_tell").is_empty());
        assert_eq!((w.data().get("told"), &w.data()["noted"]), (None, &json!(true)));
        assert_eq!(states_of(&w, "finish"), [TaskState::Completed]);
    }
}

#[test]
fn check_reports_definitions_that_cannot_be_combined() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.bpmn");
    std::fs::write(
        &file,
        diagram(
            r#"<startEvent id="s" />
<intermediateCatchEvent id="twice"><messageEventDefinition messageRef="m_paid" /><messageEventDefinition messageRef="m_paid" /></intermediateCatchEvent>
<intermediateCatchEvent id="odd"><signalEventDefinition signalRef="s_cancel" /><linkEventDefinition name="x" /></intermediateCatchEvent>
<endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="twice" />
<sequenceFlow id="f2" sourceRef="twice" targetRef="odd" />
<sequenceFlow id="f3" sourceRef="odd" targetRef="e" />"#,
        ),
    )
    .unwrap();
    let out = cli(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        said.contains("twice: several event definitions") && said.contains("two messageEventDefinitions"),
        "{said}"
    );
    assert!(
        said.contains("odd: several event definitions") && said.contains("not a linkEventDefinition"),
        "{said}"
    );
}
