//! Size is no problem: a 100,000-task chain and a 100,000-iteration loop
//! parse and run in constant stack (SpiffWorkflow fails on a 500-task chain
//! and silently stops a loop after ~330 iterations).

use serde_json::json;
use wasmflow::engine::Status;
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

#[test]
fn a_chain_of_inline_scripts_runs() {
    let xml = chain(2_000, "", "i = i + 1");
    let workflow = run_xml(&xml, json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(2_000));
}
