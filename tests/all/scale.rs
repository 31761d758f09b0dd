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

#[test]
fn a_chain_of_inline_scripts_runs() {
    let xml = chain(2_000, "", "i = i + 1");
    let workflow = run_xml(&xml, json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["i"], json!(2_000));
}
