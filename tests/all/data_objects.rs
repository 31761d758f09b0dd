//! Data objects: values a process holds beside its tokens, written and read
//! by tasks through data associations, seen by sequence flow conditions,
//! kept with the instance and shown as `data_objects`.

use serde_json::json;
use wasmflow::engine::Status;
use wasmflow_tests::*;

for_each_executor! {
    #[test]
    fn tasks_share_a_data_object_that_gateways_see(scripts: &ScriptEngine) {
        let w = run_fixture_with(&["data_objects.bpmn"], json!({"prices": [50, 70]}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert_eq!(w.data_objects()["total"], json!(110), "written, then updated by the discount");
        assert_eq!(w.data()["discounted"], json!(true), "the gateway read the data object");
        assert_eq!(w.data()["invoice"], json!("to pay: 110"), "read from inside the subprocess");
        assert!(w.data().get("total").is_none(), "a data object does not travel with the token");

        let w = run_fixture_with(&["data_objects.bpmn"], json!({"prices": [5, 7]}), scripts);
        assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
        assert!(w.data().get("discounted").is_none());
        assert_eq!(w.data()["invoice"], json!("to pay: 12"));
    }
}

/// `add → (a, b) → join → end` where `a` and `b` read data object `d` and
/// `add` writes it (or not, when `write` is false).
fn fork(write: &str) -> String {
    format!(
        r#"{HEADER}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:dataObject id="d" />
    <bpmn:dataObjectReference id="d_ref" dataObjectRef="d" />
    <bpmn:startEvent id="start" />
    <bpmn:scriptTask id="add"><bpmn:dataOutputAssociation><bpmn:targetRef>d_ref</bpmn:targetRef></bpmn:dataOutputAssociation><bpmn:script>{write}</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="split" />
    <bpmn:scriptTask id="a"><bpmn:dataInputAssociation><bpmn:sourceRef>d_ref</bpmn:sourceRef></bpmn:dataInputAssociation><bpmn:script>ya = d + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="b"><bpmn:dataInputAssociation><bpmn:sourceRef>d</bpmn:sourceRef></bpmn:dataInputAssociation><bpmn:script>yb = d + 2</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="join" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="add" />
    <bpmn:sequenceFlow id="f2" sourceRef="add" targetRef="split" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="a" />
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="b" />
    <bpmn:sequenceFlow id="f5" sourceRef="a" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="b" targetRef="join" />
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

#[test]
fn parallel_readers_on_the_pool_each_get_the_value() {
    let scripts = scripts().with_concurrency(4);
    let w = run_xml(&fork("d = 10"), json!({}), &scripts);
    assert_eq!(w.status(), Status::Completed, "{:?}", w.error());
    assert_eq!((&w.data()["ya"], &w.data()["yb"]), (&json!(11), &json!(12)));
    assert!(w.data().get("d").is_none());
}

#[test]
fn reading_an_unwritten_data_object_or_writing_a_missing_variable_fails_clearly() {
    let scripts = scripts();
    let w = run_xml(&fork("x = 1"), json!({}), &scripts);
    assert_eq!(w.status(), Status::Error);
    let error = w.error().unwrap();
    assert_eq!(error.spec, "add");
    assert!(
        error
            .message
            .contains("the task writes data object `d` (a dataOutputAssociation) but its data has no `d`"),
        "{}",
        error.message
    );

    let reads_first = fork("d = 1").replace(
        "<bpmn:dataOutputAssociation><bpmn:targetRef>d_ref</bpmn:targetRef></bpmn:dataOutputAssociation>",
        "",
    );
    let w = run_xml(&reads_first, json!({}), &scripts);
    assert_eq!(w.status(), Status::Error);
    let error = w.error().unwrap();
    assert!(["a", "b"].contains(&error.spec.as_str()), "{error:?}");
    assert!(
        error.message.contains("data object `d` has no value yet"),
        "{}",
        error.message
    );
}

#[test]
fn the_cli_shows_data_objects_and_keeps_them_with_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = fixture("data_objects.bpmn");
    let (out, code) = cli_json(&[
        "run",
        file.to_str().unwrap(),
        "--data",
        r#"{"prices": [100, 1]}"#,
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!((code, &out["data_objects"]), (0, &json!({"total": 91})), "{out}");
    let id = out["id"].as_str().unwrap();
    let (shown, _) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(shown["data_objects"], json!({"total": 91}));

    let bad = dir.path().join("bad_data.bpmn");
    std::fs::write(
        &bad,
        fork("d = 1").replace(
            "<bpmn:sourceRef>d</bpmn:sourceRef>",
            "<bpmn:sourceRef>nowhere</bpmn:sourceRef>",
        ),
    )
    .unwrap();
    let out = cli(&["check", bad.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("b: dataInputAssociation names `nowhere`, which is no dataObjectReference or dataObject"),
        "{text}"
    );
}
