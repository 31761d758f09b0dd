//! Compensation and transactions: handlers undo what completed, latest
//! first, each once; a cancel end event cancels its transaction; and a run
//! of handlers survives being saved mid-way.

use serde_json::json;
use wasmflow::engine::{EventKind, Status, TaskState, Workflow};
use wasmflow_tests::*;

/// `show` of kept instance `instance` (a `run --json` object), as JSON.
fn shown(db: &std::path::Path, instance: &serde_json::Value) -> serde_json::Value {
    let id = instance["id"].as_str().expect("an instance id");
    cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]).0
}

/// Each `compensation_started` in an instance's history: (handler, activity it undid).
fn handlers_started(shown: &serde_json::Value) -> Vec<(String, String)> {
    (history_of(shown, "compensation_started").iter())
        .map(|e| {
            (
                e["spec"].as_str().unwrap().into(),
                e["activity"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn a_declined_card_cancels_the_trip_and_refunds_the_bookings_latest_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("trips.db");
    for executor in ["in-process", "subprocess"] {
        let data = json!({"city": "Oslo", "card": "declined"});
        let cancelled = run_kept(&db, "booking_transaction.bpmn", data, executor);
        assert_eq!(cancelled["status"], "completed", "{cancelled}");
        assert_eq!(
            cancelled["data"]["refunds"],
            json!(["car in Oslo", "hotel in Oslo", "flight to Oslo"]),
            "each handler saw what its own booking completed with"
        );
        assert_eq!(
            cancelled["data"]["told"],
            "refunded: car in Oslo; hotel in Oslo; flight to Oslo"
        );
        assert_eq!(
            cancelled["data"].get("compensated"),
            None,
            "a handler's `compensated` goes with it"
        );
        assert_eq!(states(&cancelled, "trip"), ["CANCELLED"]);
        assert_eq!(states(&cancelled, "give_up"), ["COMPLETED"]);
        assert!(states(&cancelled, "confirm").is_empty(), "{cancelled}");
        for handler in ["refund_car", "refund_hotel", "refund_flight"] {
            assert_eq!(states(&cancelled, handler), ["COMPLETED"], "{handler}");
        }
        let shown = shown(&db, &cancelled);
        let thrown = history_of(&shown, "compensation_thrown");
        assert_eq!(
            (thrown.len(), &thrown[0]["spec"], &thrown[0]["handlers"]),
            (1, &json!("give_up"), &json!(3))
        );
        let started = handlers_started(&shown);
        let pairs = [
            ("refund_car", "book_car"),
            ("refund_hotel", "book_hotel"),
            ("refund_flight", "book_flight"),
        ];
        assert_eq!(started, pairs.map(|(h, a)| (h.to_string(), a.to_string())), "{shown}");
        let cancelled_events = history_of(&shown, "transaction_cancelled");
        assert_eq!(cancelled_events.len(), 1, "{shown}");
        assert_eq!(cancelled_events[0]["spec"], "trip");

        let booked = run_kept(
            &db,
            "booking_transaction.bpmn",
            json!({"city": "Rome", "card": "valid"}),
            executor,
        );
        assert_eq!(booked["status"], "completed", "{booked}");
        assert_eq!(booked["data"]["confirmed"], "flight, hotel, car");
        assert_eq!(booked["data"]["refunds"], json!([]));
        assert!(states(&booked, "refund_car").is_empty(), "{booked}");
        assert_eq!(states(&booked, "trip"), ["COMPLETED"]);
    }
}

#[test]
fn compensation_event_subprocesses_undo_a_subprocess_and_a_called_process_in_their_own_way() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stays.db");
    for executor in ["in-process", "subprocess"] {
        let cancelled = run_kept(&db, "hotel_stay.bpmn", json!({"undone": [], "cancel": true}), executor);
        assert_eq!(cancelled["status"], "completed", "{cancelled}");
        // Latest first: the parking, the stay (whose event subprocess tells
        // the hotel, then compensates what completed inside the stay), the deposit.
        assert_eq!(
            cancelled["data"]["undone"],
            json!([
                "spot P3",
                "told the hotel about room 12",
                "breakfast eggs",
                "room 12",
                "stay undone",
                "deposit 100"
            ]),
            "{cancelled}"
        );
        assert_eq!(cancelled["data"].get("compensated"), None, "{cancelled}");
        for ran in [
            "stay_undo",
            "free_parking",
            "cancel_room",
            "cancel_breakfast",
            "refund_deposit",
        ] {
            assert_eq!(states(&cancelled, ran), ["COMPLETED"], "{ran}");
        }
        let shown = shown(&db, &cancelled);
        let started = handlers_started(&shown);
        let pairs = [
            ("free_parking", "park"),
            ("stay_undo", "stay"),
            ("cancel_breakfast", "book_breakfast"),
            ("cancel_room", "book_room"),
            ("refund_deposit", "pay_deposit"),
        ];
        assert_eq!(started, pairs.map(|(h, a)| (h.to_string(), a.to_string())), "{shown}");
        let thrown: Vec<(String, u64)> = (history_of(&shown, "compensation_thrown").iter())
            .map(|e| (e["spec"].as_str().unwrap().into(), e["handlers"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            thrown,
            [("undo_all".to_string(), 3), ("undo_inside".to_string(), 2)],
            "{shown}"
        );

        // Not cancelled: the event subprocesses never run.
        let kept = run_kept(&db, "hotel_stay.bpmn", json!({"undone": [], "cancel": false}), executor);
        assert_eq!(kept["status"], "completed", "{kept}");
        assert_eq!(kept["data"]["undone"], json!([]));
        assert!(
            states(&kept, "stay_undo").is_empty() && states(&kept, "free_parking").is_empty(),
            "{kept}"
        );
    }
}

/// A diagram whose single process `p` holds `body`.
fn diagram(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="compensating" targetNamespace="http://wasmflow.dev/tests">
  <process id="p" isExecutable="true">
{body}
  </process>
</definitions>"#
    )
}

/// Script task `id` running `script`, with a compensation boundary event
/// whose handler `undo_{id}` appends `id:n` to `undone`, `n` being what
/// `id` completed with.
fn undoable(id: &str, script: &str) -> String {
    format!(
        r#"<scriptTask id="{id}"><script>{script}</script></scriptTask>
<boundaryEvent id="on_{id}" attachedToRef="{id}"><compensateEventDefinition /></boundaryEvent>
<scriptTask id="undo_{id}" isForCompensation="true"><script>undone = undone + ["{id}:" + str(compensated["n"])]</script></scriptTask>
<association id="as_{id}" sourceRef="on_{id}" targetRef="undo_{id}" />"#
    )
}

/// `flow("f1", "a", "b")`: a sequence flow.
fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}" />"#)
}

/// `s → sub (a → b) → c → throws → after → e`; `sub_handler` adds a handler
/// to `sub` itself.
fn booked_in_a_subprocess(throws: &str, sub_handler: bool) -> String {
    let own = if sub_handler {
        r#"<boundaryEvent id="on_sub" attachedToRef="sub"><compensateEventDefinition /></boundaryEvent>
<scriptTask id="undo_sub" isForCompensation="true"><script>undone = undone + ["sub:" + str(compensated["n"])]</script></scriptTask>
<association id="as_sub" sourceRef="undo_sub" targetRef="on_sub" />"#
    } else {
        ""
    };
    diagram(&format!(
        r#"<startEvent id="s" />
<subProcess id="sub">
  <startEvent id="ss" />
  {a}
  {b}
  <endEvent id="se" />
  {f1}{f2}{f3}
</subProcess>
{own}
{c}
{throws}
<scriptTask id="after"><script>count = len(undone)</script></scriptTask>
<endEvent id="e" />
{f4}{f5}{f6}"#,
        a = undoable("a", "n = n + 1"),
        b = undoable("b", "n = n + 1"),
        c = undoable("c", "n = n + 1"),
        f1 = flow("f1", "ss", "a"),
        f2 = flow("f2", "a", "b"),
        f3 = flow("f3", "b", "se"),
        f4 = flow("f4", "s", "sub"),
        f5 = flow("f5", "sub", "c"),
        f6 = flow("f6", "after", "e"),
    ))
}

fn states_of(w: &Workflow, spec: &str) -> Vec<TaskState> {
    w.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

for_each_executor! {
    #[test]
    fn a_throw_compensates_a_completed_subprocess_by_its_inner_handlers_latest_first(scripts: &ScriptEngine) {
        let all = format!(
            r#"<intermediateThrowEvent id="undo_all"><compensateEventDefinition /></intermediateThrowEvent>{}{}"#,
            flow("t1", "c", "undo_all"),
            flow("t2", "undo_all", "after"),
        );
        let w = run_xml(&booked_in_a_subprocess(&all, false), json!({"n": 0, "undone": []}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["undone"], json!(["c:3", "b:2", "a:1"]));
        assert_eq!(w.data()["count"], json!(3), "the throw goes on with what the handlers did");
        assert_eq!(w.data()["n"], json!(3));
        assert_eq!(w.data().get("compensated"), None);
        assert_eq!(states_of(&w, "undo_all"), [TaskState::Completed]);

        // A subprocess with a handler of its own is undone by that handler alone.
        let w = run_xml(&booked_in_a_subprocess(&all, true), json!({"n": 0, "undone": []}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["undone"], json!(["c:3", "sub:2"]));
        assert!(states_of(&w, "undo_a").is_empty() && states_of(&w, "undo_b").is_empty());
    }

    #[test]
    fn an_activity_ref_compensates_that_activity_alone_and_nothing_is_undone_twice(scripts: &ScriptEngine) {
        let throws = format!(
            r#"<intermediateThrowEvent id="throw_c"><compensateEventDefinition activityRef="c" /></intermediateThrowEvent>
<intermediateThrowEvent id="throw_c_again"><compensateEventDefinition activityRef="c" /></intermediateThrowEvent>
<scriptTask id="between"><script>first = list(undone)</script></scriptTask>
<intermediateThrowEvent id="undo_rest"><compensateEventDefinition /></intermediateThrowEvent>
{}{}{}{}{}"#,
            flow("t1", "c", "throw_c"),
            flow("t2", "throw_c", "throw_c_again"),
            flow("t3", "throw_c_again", "between"),
            flow("t4", "between", "undo_rest"),
            flow("t5", "undo_rest", "after"),
        );
        let xml = booked_in_a_subprocess(&throws, false);
        let w = run_xml(&xml, json!({"n": 0, "undone": []}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["first"], json!(["c:3"]), "only c, and once");
        assert_eq!(w.data()["undone"], json!(["c:3", "b:2", "a:1"]), "the rest, without c again");
        assert_eq!(states_of(&w, "undo_c"), [TaskState::Completed]);
    }

    #[test]
    fn each_pass_of_a_loop_is_compensated_with_what_it_completed_with(scripts: &ScriptEngine) {
        let xml = diagram(&format!(
            r#"<startEvent id="s" />
{tick}
<exclusiveGateway id="more" default="done" />
<endEvent id="undo_all"><compensateEventDefinition /></endEvent>
{f1}{f2}
<sequenceFlow id="again" sourceRef="more" targetRef="tick"><conditionExpression>n &lt; 4</conditionExpression></sequenceFlow>
{f3}"#,
            tick = undoable("tick", "n = n + 1"),
            f1 = flow("f1", "s", "tick"),
            f2 = flow("f2", "tick", "more"),
            f3 = flow("done", "more", "undo_all"),
        ));
        let w = run_xml(&xml, json!({"n": 0, "undone": []}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["undone"], json!(["tick:4", "tick:3", "tick:2", "tick:1"]));
        assert_eq!(states_of(&w, "undo_tick"), [TaskState::Completed; 4]);
    }

    #[test]
    fn a_cancel_end_event_cancels_the_rest_of_its_transaction_and_a_waiting_handler_survives_a_reload(
        scripts: &ScriptEngine
    ) {
        let xml = diagram(&format!(
            r#"<startEvent id="s" />
<transaction id="tx">
  <startEvent id="ts" />
  <parallelGateway id="fork" />
  <scriptTask id="reserve"><script>n = n + 1
reserved = True</script></scriptTask>
  <boundaryEvent id="on_reserve" attachedToRef="reserve"><compensateEventDefinition /></boundaryEvent>
  <userTask id="approve_refund" isForCompensation="true" />
  <association id="as1" sourceRef="on_reserve" targetRef="approve_refund" />
  <userTask id="wait_for_seat" />
  <endEvent id="give_up"><cancelEventDefinition /></endEvent>
  <endEvent id="te" />
  {t1}{t2}{t3}{t4}{t5}
</transaction>
<boundaryEvent id="cancelled" attachedToRef="tx"><cancelEventDefinition /></boundaryEvent>
<scriptTask id="after"><script>outcome = "cancelled, refund approved: " + str(approved)</script></scriptTask>
<endEvent id="e" />
<endEvent id="e2" />
{f1}{f2}{f3}{f4}"#,
            t1 = flow("t1", "ts", "fork"),
            t2 = flow("t2", "fork", "reserve"),
            t3 = flow("t3", "fork", "wait_for_seat"),
            t4 = flow("t4", "reserve", "give_up"),
            t5 = flow("t5", "wait_for_seat", "te"),
            f1 = flow("f1", "s", "tx"),
            f2 = flow("f2", "tx", "e2"),
            f3 = flow("f3", "cancelled", "after"),
            f4 = flow("f4", "after", "e"),
        ));
        let w = run_xml(&xml, json!({"n": 0}), scripts);
        assert_eq!(w.status(), Status::Waiting, "{:?}", w.error());
        assert_eq!(states_of(&w, "wait_for_seat"), [TaskState::Cancelled], "the rest of the transaction is cancelled");
        assert_eq!(states_of(&w, "give_up"), [TaskState::Started], "it waits for the handlers");
        let waiting: Vec<String> = w.waiting_tasks().map(|t| t.spec).collect();
        assert_eq!(waiting, ["approve_refund"]);
        let handler = w.waiting_tasks().next().unwrap().id;
        assert_eq!(w.task_data(handler).unwrap()["compensated"], json!({"n": 1, "reserved": true}));

        // Saved and loaded while the handler waits, the run goes on where it stood.
        let text = serde_json::to_string(&w.snapshot()).unwrap();
        let diagram = wasmflow::bpmn::parse_str(std::path::Path::new("tx.bpmn"), &xml).unwrap();
        let library = std::sync::Arc::new(wasmflow::bpmn::Library::new(vec![diagram]));
        let mut loaded = Workflow::restore(library, serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(serde_json::to_string(&loaded.snapshot()).unwrap(), text);
        loaded.complete_task(handler, object(json!({"approved": true}))).unwrap();
        let mut cancelled = Vec::new();
        let status = loaded.run_observed(scripts, |w| -> Result<(), std::convert::Infallible> {
            cancelled.extend(w.take_events().into_iter().filter_map(|e| match e.kind {
                EventKind::TransactionCancelled { spec, .. } => Some(spec),
                _ => None,
            }));
            Ok(())
        });
        assert_eq!(status, Ok(Status::Completed), "{:?}", loaded.error());
        assert_eq!(loaded.data()["outcome"], json!("cancelled, refund approved: True"));
        assert_eq!(loaded.data().get("compensated"), None);
        assert_eq!(states_of(&loaded, "tx"), [TaskState::Cancelled]);
        assert_eq!(states_of(&loaded, "give_up"), [TaskState::Completed]);
        assert!(states_of(&loaded, "e2").is_empty());
        // Nothing is kept for compensating once the instance is done.
        assert!(loaded.snapshot().tasks.iter().all(|t| t.compensable.is_none()));
        assert_eq!(cancelled, ["tx"]);
    }

    #[test]
    fn a_failing_handler_stops_the_run_where_it_stood_and_a_retry_goes_on(scripts: &ScriptEngine) {
        let all = format!(
            r#"<intermediateThrowEvent id="undo_all"><compensateEventDefinition /></intermediateThrowEvent>{}{}"#,
            flow("t1", "c", "undo_all"),
            flow("t2", "undo_all", "after"),
        );
        // b's handler needs `reason`, which nothing set.
        let xml = booked_in_a_subprocess(&all, false).replace(
            r#"undone + ["b:" + str(compensated["n"])]"#,
            r#"undone + ["b:" + reason]"#,
        );
        let mut w = run_xml(&xml, json!({"n": 0, "undone": []}), scripts);
        assert_eq!(w.status(), Status::Error);
        let error = w.error().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("undo_b") && error.contains("reason"), "{error}");
        assert_eq!(states_of(&w, "undo_c"), [TaskState::Completed]);
        assert_eq!(states_of(&w, "undo_b"), [TaskState::Error]);
        assert!(states_of(&w, "undo_a").is_empty(), "a is not undone before b is");
        let failed = w.tasks().find(|t| t.spec == "undo_b").unwrap().id;
        w.retry_task(failed, Some(object(json!({"reason": "late"})))).unwrap();
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["undone"], json!(["c:3", "b:late", "a:1"]));
    }

    #[test]
    fn a_completed_transaction_is_compensated_later_by_a_subprocess_handler(scripts: &ScriptEngine) {
        let xml = diagram(&format!(
            r#"<startEvent id="s" />
<transaction id="tx">
  <startEvent id="ts" />
  {book}
  <subProcess id="undo_book" isForCompensation="true">
    <startEvent id="us" />
    <scriptTask id="refund"><script>undone = undone + ["refund:" + str(compensated["n"])]</script></scriptTask>
    <endEvent id="ue" />
    {u1}{u2}
  </subProcess>
  <association id="as1" sourceRef="on_book" targetRef="undo_book" />
  <endEvent id="te" />
  {t1}{t2}
</transaction>
<intermediateThrowEvent id="undo_tx"><compensateEventDefinition activityRef="tx" /></intermediateThrowEvent>
<endEvent id="e" />
{f1}{f2}{f3}"#,
            book = r#"<scriptTask id="book"><script>n = n + 1</script></scriptTask>
  <boundaryEvent id="on_book" attachedToRef="book"><compensateEventDefinition /></boundaryEvent>"#,
            u1 = flow("u1", "us", "refund"),
            u2 = flow("u2", "refund", "ue"),
            t1 = flow("t1", "ts", "book"),
            t2 = flow("t2", "book", "te"),
            f1 = flow("f1", "s", "tx"),
            f2 = flow("f2", "tx", "undo_tx"),
            f3 = flow("f3", "undo_tx", "e"),
        ));
        let w = run_xml(&xml, json!({"n": 0, "undone": []}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(states_of(&w, "tx"), [TaskState::Completed]);
        assert_eq!(states_of(&w, "undo_book"), [TaskState::Completed]);
        assert_eq!(w.data()["undone"], json!(["refund:1"]));
        assert_eq!(w.data().get("compensated"), None);
    }
}

#[test]
fn a_boundary_event_without_handler_and_a_cancel_end_outside_a_transaction_run_nothing() {
    let file = fixture("malformed/compensation_problems.bpmn").display().to_string();
    let output = cli(&["run", &file]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{file}:6:5: undo_charge: compensation boundary event has no handler"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:7:5: give_up: a cancel end event cancels a transaction"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(!cli(&["check", &file]).status.success());
}
