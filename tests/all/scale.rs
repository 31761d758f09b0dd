//! Size is no problem: a 100,000-task chain and a 100,000-iteration loop
//! parse and run in constant stack (SpiffWorkflow fails on a 500-task chain
//! and silently stops a loop after ~330 iterations).

use serde_json::json;
use wasmflow::engine::{EventKind, Status};
use wasmflow_tests::*;

#[test]
fn a_chain_of_100000_compiled_script_tasks_runs() {
    let xml = chain(100_000, r#"scriptFormat="wasm""#, "increment");
    let workflow = run_xml(&xml, json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(100_000));
    assert_eq!(workflow.tasks().count(), 100_002);
}

#[test]
fn a_gateway_loop_of_100000_iterations_runs() {
    let workflow = run_xml(&gateway_loop("increment", 100_000), json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(100_000));
}

/// `start → step → more? → (throw link back | end)`, the catch link leading
/// to `step` again: a loop made of link events rather than a flow back.
fn link_loop(limit: usize) -> String {
    format!(
        r#"{HEADER}
  <bpmn:process id="links" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:intermediateCatchEvent id="again_in"><bpmn:linkEventDefinition name="again" /></bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="step" scriptFormat="wasm"><bpmn:script>increment</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" default="done" />
    <bpmn:intermediateThrowEvent id="again_out"><bpmn:linkEventDefinition name="again" /></bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="step" />
    <bpmn:sequenceFlow id="f2" sourceRef="again_in" targetRef="step" />
    <bpmn:sequenceFlow id="f3" sourceRef="step" targetRef="more" />
    <bpmn:sequenceFlow id="back" sourceRef="more" targetRef="again_out"><bpmn:conditionExpression>i &lt; {limit}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

#[test]
fn a_loop_of_100000_link_jumps_runs() {
    let workflow = run_xml(&link_loop(100_000), json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(100_000));
    let jumps = workflow.tasks().filter(|t| t.spec == "again_out").count();
    assert_eq!(jumps, 99_999);
}

/// `start → fork`: one branch loops `step` (`increment`) through a gateway
/// until `i` reaches `limit`; the other waits at a conditional catch for
/// `i >= limit`, evaluated again after every iteration (each changes `i`).
fn watched_loop(limit: usize) -> String {
    format!(
        r#"{HEADER}
  <bpmn:process id="watched" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:parallelGateway id="fork" />
    <bpmn:intermediateCatchEvent id="reached"><bpmn:conditionalEventDefinition><bpmn:condition>i &gt;= {limit}</bpmn:condition></bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="back_in" />
    <bpmn:scriptTask id="step" scriptFormat="wasm"><bpmn:script>increment</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" default="done" />
    <bpmn:endEvent id="looped" />
    <bpmn:endEvent id="seen" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="reached" />
    <bpmn:sequenceFlow id="f3" sourceRef="reached" targetRef="seen" />
    <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="back_in" />
    <bpmn:sequenceFlow id="f5" sourceRef="back_in" targetRef="step" />
    <bpmn:sequenceFlow id="f6" sourceRef="step" targetRef="more" />
    <bpmn:sequenceFlow id="back" sourceRef="more" targetRef="back_in"><bpmn:conditionExpression>i &lt; {limit}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="looped" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

#[test]
fn a_condition_watching_a_loop_of_100000_iterations_fires_once_at_its_end() {
    let mut workflow = wasmflow::engine::Workflow::start(
        std::sync::Arc::new(wasmflow::bpmn::Library::new(vec![
            wasmflow::bpmn::parse_str(std::path::Path::new("watched.bpmn"), &watched_loop(100_000)).unwrap(),
        ])),
        None,
        object(json!({"i": 0})),
    )
    .unwrap();
    let mut met = Vec::new();
    let _ = workflow.run_observed(&scripts(), |w| -> Result<(), std::convert::Infallible> {
        met.extend((w.take_events().into_iter()).filter(|e| matches!(e.kind, EventKind::ConditionMet { .. })));
        Ok(())
    });
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(100_000));
    assert_eq!(met.len(), 1, "{met:?}");
}

#[test]
fn a_chain_of_inline_scripts_runs() {
    let xml = chain(2_000, "", "i = i + 1");
    let workflow = run_xml(&xml, json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(2_000));
}

/// [`gateway_loop`] with `step` compensable: its handler, `undo_step`
/// (`increment` too), is run for every pass by a compensation end event.
fn compensated_loop(limit: usize) -> String {
    let xml = gateway_loop("increment", limit);
    let step =
        r#"<bpmn:scriptTask id="step" scriptFormat="wasm"><bpmn:script>increment</bpmn:script></bpmn:scriptTask>"#;
    assert!(
        xml.contains(step) && xml.contains(r#"<bpmn:endEvent id="end" />"#),
        "{xml}"
    );
    xml.replace(
        step,
        &format!(
            r#"{step}
    <bpmn:boundaryEvent id="on_step" attachedToRef="step"><bpmn:compensateEventDefinition /></bpmn:boundaryEvent>
    <bpmn:scriptTask id="undo_step" scriptFormat="wasm" isForCompensation="true"><bpmn:script>increment</bpmn:script></bpmn:scriptTask>
    <bpmn:association id="to_undo" sourceRef="on_step" targetRef="undo_step" />"#
        ),
    )
    .replace(
        r#"<bpmn:endEvent id="end" />"#,
        r#"<bpmn:endEvent id="end"><bpmn:compensateEventDefinition /></bpmn:endEvent>"#,
    )
}

#[test]
fn a_loop_of_100000_compensable_passes_is_compensated_pass_by_pass() {
    let workflow = run_xml(&compensated_loop(100_000), json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(200_000), "every pass was undone once");
    assert_eq!(workflow.tasks().filter(|t| t.spec == "undo_step").count(), 100_000);
}
