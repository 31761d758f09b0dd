//! Multi-instance activities: an activity runs once per element of a
//! collection, or as many times as its cardinality says, one after the other
//! or all at once; what the instances hand back is gathered in element
//! order; a completion condition stops them early; an interrupting catch on
//! the activity cancels every instance.

use serde_json::{Value, json};
use wasmflow::engine::{EventKind, Status, TaskState, TaskView, Workflow};
use wasmflow_tests::*;

fn packing() -> Value {
    json!({
        "lines": [{"qty": 2, "price": 5}, {"qty": 1, "price": 7}, {"qty": 3, "price": 1}],
        "stock": {"bolts": 40, "nuts": 3, "washers": 1},
        "checked": [], "low": 0,
        "approvers": ["ana", "ben", "cy"],
        "parcels": ["north", "south"],
        "returns": []
    })
}

fn tasks_of(w: &Workflow, spec: &str) -> Vec<TaskView> {
    w.tasks().filter(|t| t.spec == spec).collect()
}

/// The instance tasks of element `spec` (the activity's own task has no index).
fn instances_of(w: &Workflow, spec: &str) -> Vec<TaskView> {
    tasks_of(w, spec).into_iter().filter(|t| t.instance.is_some()).collect()
}

fn reload(w: &Workflow, files: &[&str]) -> Workflow {
    let text = serde_json::to_string(&w.snapshot()).unwrap();
    let paths: Vec<_> = files.iter().map(|f| fixture(f)).collect();
    Workflow::restore(library(&paths), serde_json::from_str(&text).unwrap()).unwrap()
}

fn shipments(damaged: bool) -> Value {
    json!({"shipments": [
        {"id": "a", "crates": [{"kg": 3}, {"kg": 4}]},
        {"id": "b", "crates": [{"kg": 10, "damaged": damaged}]},
        {"id": "c", "crates": [{"kg": 1}, {"kg": 1}, {"kg": 2}]}
    ]})
}

for_each_executor! {
    #[test]
    fn every_form_runs_and_gathers_in_element_order(scripts: &ScriptEngine) {
        let mut w = run_fixture_with(&["multi_instance.bpmn"], packing(), scripts);
        assert_eq!(w.status(), Status::Waiting, "{:?}", w.error());
        // One task for the activity and one per instance, each with its index.
        let priced = instances_of(&w, "price_lines");
        assert_eq!(priced.iter().map(|t| t.instance).collect::<Vec<_>>(), [Some(0), Some(1), Some(2)]);
        assert!(priced.iter().all(|t| t.state == TaskState::Completed));
        assert_eq!(tasks_of(&w, "price_lines").len(), 4);
        assert_eq!(instances_of(&w, "check_stock").len(), 3);

        // Three approvals wait, as instances 0, 1 and 2.
        let waiting: Vec<TaskView> = w.waiting_tasks().collect();
        assert_eq!(waiting.iter().map(|t| t.instance).collect::<Vec<_>>(), [Some(0), Some(1), Some(2)]);
        assert!(waiting.iter().all(|t| t.spec == "approve"));
        assert_eq!(w.task_data(waiting[2].id).unwrap()["seat"], json!(2), "the item of a cardinality is its index");
        assert_eq!(w.task_data(waiting[2].id).unwrap()["numberOfInstances"], json!(3));
        assert!(w.task_data(waiting[2].id).unwrap().get("lines").is_some(), "other data goes to every instance");

        // The last first: the results still come in element order.
        w.complete_task(waiting[2].id, object(json!({"verdict": "cy: yes"}))).unwrap();
        assert_eq!(w.run(scripts), Status::Waiting);
        let mut w = reload(&w, &["multi_instance.bpmn"]);
        w.complete_task(waiting[0].id, object(json!({"verdict": "ana: yes"}))).unwrap();
        assert_eq!(w.run(scripts), Status::Completed, "{:?}", w.error());

        let data = w.data();
        assert_eq!(data["totals"], json!([10, 7, 3]));
        assert_eq!(data["checked"], json!([40, 3, 1]), "each sequential instance saw what the one before merged");
        assert_eq!(data["low"], json!(2));
        assert_eq!(data["approvals"], json!(["ana: yes", "cy: yes"]), "two approvals were enough");
        assert_eq!(data["labels"], json!(["parcel 1 of 2: north", "parcel 2 of 2: south"]));
        assert_eq!(data["refunds"], json!([]), "an empty collection runs no instance");
        // The instance variables and what the instances kept for themselves stay with them.
        for local in ["line", "total", "seen", "on_hand", "seat", "verdict", "parcel", "tag", "loopCounter", "numberOfInstances"] {
            assert!(data.get(local).is_none(), "`{local}` leaked into {data:?}");
        }
        let approvals: Vec<TaskState> = instances_of(&w, "approve").iter().map(|t| t.state).collect();
        assert_eq!(approvals, [TaskState::Completed, TaskState::Cancelled, TaskState::Completed]);
        assert!(instances_of(&w, "refund").is_empty());
    }

    #[test]
    fn nested_instances_gather_per_shipment(scripts: &ScriptEngine) {
        let mut w = run_fixture_with(&["multi_inspection.bpmn"], shipments(false), scripts);
        assert_eq!(w.status(), Status::Waiting, "{:?}", w.error());
        let sign_offs: Vec<TaskView> = w.waiting_tasks().collect();
        assert_eq!(sign_offs.len(), 3, "one sign-off per shipment");
        assert_eq!(instances_of(&w, "weigh").len(), 6, "one weighing per crate");
        for (who, task) in ["carol", "bob", "ann"].iter().zip(sign_offs.iter().rev()) {
            w.complete_task(task.id, object(json!({"signed_by": who}))).unwrap();
            w.run(scripts);
        }
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        // Element order, whatever order the shipments were signed off in.
        let reports = &w.data()["reports"];
        assert_eq!(reports[0], json!({"id": "a", "kg": 7, "by": "ann"}));
        assert_eq!(reports[2], json!({"id": "c", "kg": 4, "by": "carol"}));
        assert_eq!(w.data()["total"], json!(21));
    }

    #[test]
    fn a_boundary_error_cancels_every_instance(scripts: &ScriptEngine) {
        let w = run_fixture_with(&["multi_inspection.bpmn"], shipments(true), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["rejected"], json!(true));
        assert!(w.data().get("reports").is_none());
        let inspections: Vec<TaskState> = tasks_of(&w, "inspect").iter().map(|t| t.state).collect();
        assert_eq!(inspections, [TaskState::Cancelled; 4], "the activity and its three instances");
        assert!(tasks_of(&w, "sign_off").iter().all(|t| t.state == TaskState::Cancelled));
        assert!(tasks_of(&w, "summary").is_empty());
    }
}

/// A process `start → task → end` around one multi-instance script task.
fn multi_task(characteristics: &str, extensions: &str, script: &str) -> String {
    single_task(&format!(
        r#"<bpmn:scriptTask id="task"><bpmn:extensionElements>{extensions}</bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics {characteristics}</bpmn:multiInstanceLoopCharacteristics><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>"#
    ))
    .replacen(
        "<bpmn:definitions ",
        r#"<bpmn:definitions xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" "#,
        1,
    )
}

#[test]
fn an_object_collection_gathers_by_key_and_one_variable_is_updated_in_place() {
    let scripts = scripts();
    let by_key = multi_task(
        r#">
        <bpmn:loopDataInputRef>prices</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>with_tax</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="price" /><bpmn:outputDataItem id="taxed" />"#,
        "",
        "taxed = price * 2",
    );
    let w = run_xml(&by_key, json!({"prices": {"a": 1, "b": 5}}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
    assert_eq!(w.data()["with_tax"], json!({"a": 2, "b": 10}));
    assert_eq!(w.data()["prices"], json!({"a": 1, "b": 5}));

    let in_place = multi_task(
        r#"isSequential="true">
        <bpmn:loopDataInputRef>names</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>names</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="name" /><bpmn:outputDataItem id="name" />"#,
        "",
        "name = name.upper()",
    );
    let w = run_xml(&in_place, json!({"names": ["ada", "bo"]}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
    assert_eq!(w.data()["names"], json!(["ADA", "BO"]));
}

#[test]
fn a_completion_condition_stops_sequential_instances_early() {
    let scripts = scripts();
    let xml = multi_task(
        r#"isSequential="true">
        <bpmn:loopDataInputRef>bids</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>seen</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="bid" /><bpmn:outputDataItem id="bid" />
        <bpmn:completionCondition>bid &gt;= 100 or numberOfCompletedInstances == numberOfInstances</bpmn:completionCondition>"#,
        "",
        "bid = bid + 0",
    );
    let w = run_xml(&xml, json!({"bids": [10, 120, 30, 400]}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
    assert_eq!(
        w.data()["seen"],
        json!([10, 120]),
        "no instance ran after the condition held"
    );
    assert_eq!(instances_of(&w, "task").len(), 2);
}

#[test]
fn scripts_run_once_around_the_instances_unless_on_instances() {
    let scripts = scripts();
    let around = multi_task(
        r#">
        <bpmn:loopDataInputRef>xs</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>ys</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="x" /><bpmn:outputDataItem id="y" />"#,
        "<spiffworkflow:preScript>xs = list(range(n))</spiffworkflow:preScript>\
         <spiffworkflow:postScript>total = sum(ys)</spiffworkflow:postScript>",
        "y = x * x",
    );
    let w = run_xml(&around, json!({"n": 4}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
    assert_eq!(w.data()["ys"], json!([0, 1, 4, 9]));
    assert_eq!(
        w.data()["total"],
        json!(14),
        "the post-script ran once, on what was gathered"
    );

    let on_instances = multi_task(
        r#"spiffworkflow:scriptsOnInstances="true">
        <bpmn:loopCardinality>3</bpmn:loopCardinality><bpmn:loopDataOutputRef>ys</bpmn:loopDataOutputRef>
        <bpmn:outputDataItem id="y" />"#,
        "<spiffworkflow:preScript>x = loopCounter * 10</spiffworkflow:preScript>\
         <spiffworkflow:postScript>y = y + 1</spiffworkflow:postScript>",
        "y = x",
    );
    let w = run_xml(&on_instances, json!({}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
    assert_eq!(w.data()["ys"], json!([1, 11, 21]));
}

#[test]
fn what_an_activity_cannot_make_instances_of_fails_it_with_a_clear_error() {
    let scripts = scripts();
    let cases = [
        (
            "<bpmn:loopDataInputRef>missing</bpmn:loopDataInputRef><bpmn:inputDataItem id=\"x\" />",
            json!({}),
            "loopDataInputRef `missing` is not in the task's data",
        ),
        (
            "<bpmn:loopDataInputRef>xs</bpmn:loopDataInputRef>",
            json!({"xs": 5}),
            "loopDataInputRef `xs` is a number, not a list or an object",
        ),
        (
            "<bpmn:loopCardinality>n / 2</bpmn:loopCardinality>",
            json!({"n": 3}),
            "loopCardinality (n / 2) is 1.5, not a whole number of instances",
        ),
        (
            "<bpmn:loopCardinality>n</bpmn:loopCardinality>",
            json!({"n": 2_000_000}),
            "more than the 1000000 one activity may make",
        ),
        (
            "<bpmn:loopCardinality>2</bpmn:loopCardinality><bpmn:loopDataOutputRef>ys</bpmn:loopDataOutputRef><bpmn:outputDataItem id=\"y\" />",
            json!({}),
            "ended without its outputDataItem `y`: set it in the instance, it is gathered into `ys`",
        ),
    ];
    for (characteristics, data, expected) in cases {
        let xml = multi_task(&format!(">{characteristics}"), "", "z = 1");
        let w = run_xml(&xml, data, &scripts);
        assert_eq!(w.status(), Status::Error, "{characteristics}");
        let error = w.error().unwrap();
        assert!(error.message.contains(expected), "{characteristics}: {}", error.message);
        assert_eq!(error.spec, "task");
    }
}

#[test]
fn a_parallel_multi_instance_of_10000_elements_completes_and_saves() {
    let scripts = scripts();
    let xml = multi_task(
        r#">
        <bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>sizes</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="item" /><bpmn:outputDataItem id="size" />"#,
        "",
        "size = len(item)",
    );
    let items: Vec<Value> = (0..10_000).map(|i| json!(format!("{i:0>1024}"))).collect();
    let mut w = Workflow::start(
        std::sync::Arc::new(wasmflow::bpmn::Library::new(vec![
            wasmflow::bpmn::parse_str(std::path::Path::new("big.bpmn"), &xml).unwrap(),
        ])),
        None,
        object(json!({ "items": items })),
    )
    .unwrap();
    let mut started = Vec::new();
    let status = w
        .run_observed(&scripts, |w| -> Result<(), std::convert::Infallible> {
            started.extend(w.take_events().into_iter().filter_map(|e| match e.kind {
                EventKind::InstancesStarted { instances, .. } => Some(instances),
                _ => None,
            }));
            Ok(())
        })
        .unwrap();
    assert_eq!(status, Status::Completed, "{:?}", w.error());
    assert_eq!(started, [10_000]);
    let sizes = w.data()["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 10_000);
    assert!(sizes.iter().all(|s| s == &json!(1024)));
    // A completed instance keeps no data: the saved instance holds the
    // collection and its results, not a copy per instance.
    let saved = serde_json::to_string(&w.snapshot()).unwrap().len();
    let data = serde_json::to_string(w.data()).unwrap().len();
    assert!(saved < data + 2_000_000, "saved {saved} bytes for {data} bytes of data");
}

#[test]
fn check_reports_a_multi_instance_without_instances_or_with_two_sources() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad_multi.bpmn");
    std::fs::write(
        &file,
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<process id="p" isExecutable="true">
<startEvent id="s"/>
<task id="none"><multiInstanceLoopCharacteristics/></task>
<task id="both"><multiInstanceLoopCharacteristics><loopCardinality>2</loopCardinality><loopDataInputRef>xs</loopDataInputRef></multiInstanceLoopCharacteristics></task>
<task id="twice"><standardLoopCharacteristics loopMaximum="2"/><multiInstanceLoopCharacteristics><loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics></task>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="none"/>
<sequenceFlow id="f2" sourceRef="none" targetRef="both"/>
<sequenceFlow id="f3" sourceRef="both" targetRef="twice"/>
<sequenceFlow id="f4" sourceRef="twice" targetRef="e"/>
</process>
</definitions>"#,
    )
    .unwrap();
    let out = cli(&["check", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("bad_multi.bpmn:4:") && text.contains("none: a multi-instance activity needs a loopCardinality"),
        "{text}"
    );
    assert!(
        text.contains("both: a multi-instance activity has a loopCardinality or a loopDataInputRef, not both"),
        "{text}"
    );
    assert!(
        text.contains("twice: an activity has one loop characteristics"),
        "{text}"
    );
}

#[test]
fn the_cli_runs_instances_and_completes_one_by_its_task_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = fixture("multi_instance.bpmn");
    let data = packing().to_string();
    let (out, code) = cli_json(&[
        "run",
        file.to_str().unwrap(),
        "--data",
        &data,
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!((code, &out["status"]), (0, &json!("waiting")), "{out}");
    let id = out["id"].as_str().unwrap();
    let waiting = out["waiting"].as_array().unwrap();
    assert_eq!(
        waiting.iter().map(|t| t["instance"].clone()).collect::<Vec<_>>(),
        [json!(0), json!(1), json!(2)]
    );
    // The element id names three tasks: the error lists them.
    let out = cli(&["complete", id, "approve", "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 tasks `approve` are waiting; give the task id"));
    for task in [&waiting[1], &waiting[0]] {
        let task = task["id"].to_string();
        let (out, code) = cli_json(&[
            "complete",
            id,
            &task,
            "--db",
            db.to_str().unwrap(),
            "--data",
            r#"{"verdict": "yes"}"#,
            "--json",
        ]);
        assert_eq!(code, 0, "{out}");
    }
    let (out, _) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(out["data"]["approvals"], json!(["yes", "yes"]));
    let history: Vec<&str> = out["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(
        history.contains(&"instances_started") && history.contains(&"instances_ended"),
        "{history:?}"
    );
}

#[test]
fn an_interrupting_message_on_the_activity_cancels_the_waiting_instances() {
    let scripts = scripts();
    let xml = format!(
        r#"{HEADER}
  <bpmn:message id="m_recall" name="recall" />
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="review"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
    <bpmn:boundaryEvent id="recalled" attachedToRef="review"><bpmn:messageEventDefinition messageRef="m_recall" /></bpmn:boundaryEvent>
    <bpmn:endEvent id="end" />
    <bpmn:endEvent id="end_recalled" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="recalled" targetRef="end_recalled" />
  </bpmn:process>
</bpmn:definitions>"#
    );
    let mut w = run_xml(&xml, json!({}), &scripts);
    assert_eq!(w.status(), Status::Waiting, "{:?}", w.error());
    let waits: Vec<_> = w.waiting().collect();
    let reviews: Vec<_> = waits.iter().filter(|t| t.task.instance.is_some()).collect();
    assert_eq!(reviews.len(), 3);
    assert_eq!(
        waits.iter().filter(|t| t.event == Some("message")).count(),
        1,
        "{waits:?}"
    );
    // One completed instance; then the message comes for the activity as a whole.
    w.complete_task(reviews[0].task.id, object(json!({}))).unwrap();
    assert_eq!(w.run(&scripts), Status::Waiting);
    let message = wasmflow::engine::Message {
        name: "recall".into(),
        correlation: Default::default(),
        payload: json!({}),
    };
    assert!(w.deliver(&message).unwrap().is_some(), "armed once, on the activity");
    assert_eq!(w.run(&scripts), Status::Completed, "{:?}", w.error());
    let states: Vec<TaskState> = tasks_of(&w, "review").iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Cancelled,
            TaskState::Completed,
            TaskState::Cancelled,
            TaskState::Cancelled
        ]
    );
    assert_eq!(tasks_of(&w, "end_recalled").len(), 1);
    assert!(tasks_of(&w, "end").is_empty());
}

#[test]
fn saving_every_step_of_a_parallel_multi_instance_stays_linear() {
    // What a store writes after each step: the instance record and the
    // tasks and scopes that changed. A step of one instance must not write
    // the activity (with its whole collection) or the list of all instances.
    let scripts = scripts();
    for sequential in ["false", "true"] {
        let xml = multi_task(
            &format!(
                r#"isSequential="{sequential}">
            <bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>sizes</bpmn:loopDataOutputRef>
            <bpmn:inputDataItem id="item" /><bpmn:outputDataItem id="size" />"#
            ),
            "",
            "size = len(item)",
        );
        let items: Vec<Value> = (0..2_000).map(|i| json!(format!("{i:0>1024}"))).collect();
        let data = json!({ "items": items });
        let data_bytes = data.to_string().len();
        let diagram = wasmflow::bpmn::parse_str(std::path::Path::new("saved.bpmn"), &xml).unwrap();
        let library = std::sync::Arc::new(wasmflow::bpmn::Library::new(vec![diagram]));
        let mut w = Workflow::start(library, None, object(data)).unwrap();
        let mut written = 0usize;
        let status = w
            .run_observed(&scripts, |w| -> Result<(), std::convert::Infallible> {
                let changes = w.take_changes();
                written += serde_json::to_string(&w.instance_record()).unwrap().len();
                for &task in &changes.tasks {
                    written += serde_json::to_string(&w.task_record(task)).unwrap().len();
                }
                for &scope in &changes.scopes {
                    written += serde_json::to_string(&w.scope_record(scope)).unwrap().len();
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(status, Status::Completed, "{:?}", w.error());
        assert_eq!(w.data()["sizes"].as_array().unwrap().len(), 2_000);
        assert!(
            written < 20 * data_bytes,
            "sequential={sequential}: {written} bytes written for {data_bytes} bytes of data"
        );
    }
}
