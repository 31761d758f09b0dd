//! A collaboration's pools run as one instance: a message one pool sends
//! reaches a catch of another, and a pool that starts by a message starts
//! when it comes, inside the same instance.

use serde_json::{Value, json};
use wasmflow_tests::{cli, cli_json, fixture, states, text};

fn run_json(args: &[&str]) -> Value {
    let (out, code) = cli_json(args);
    assert_eq!(code, 0, "{out}");
    out
}

#[test]
fn a_quote_goes_from_one_pool_to_the_other_and_back_in_one_instance_on_either_executor() {
    let file = fixture("collaboration_quote.bpmn");
    for executor in ["in-process", "subprocess"] {
        for (budget, accepted) in [(50, true), (20, false)] {
            let data = json!({"item": "bolt", "quantity": 10, "budget": budget}).to_string();
            let out = run_json(&[
                "run",
                file.to_str().unwrap(),
                "--data",
                &data,
                "--executor",
                executor,
                "--json",
            ]);
            assert_eq!(
                (&out["status"], &out["process"]),
                (&json!("completed"), &json!("quoting")),
                "{out}"
            );
            // Each pool's data ends in the instance's: the customer's decision,
            // the supplier's request and total.
            assert_eq!(out["data"]["accepted"], accepted, "{out}");
            assert_eq!(out["data"]["quote"], json!({"total": 30}));
            assert_eq!(out["data"]["request"], json!({"item": "bolt", "quantity": 10}));
            assert_eq!(states(&out, "customer_pool"), ["COMPLETED"]);
            // The supplier's pool waited to be started, ran once, and stopped waiting with the instance.
            assert_eq!(states(&out, "supplier_pool"), ["CANCELLED", "COMPLETED"]);
            assert_eq!(states(&out, "price"), ["COMPLETED"]);
            assert!(states(&out, "bank_pool").is_empty(), "a black box is not run: {out}");
        }
    }
}

#[test]
fn a_kept_collaboration_waits_in_one_pool_and_runs_on_in_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("collab.db");
    // The supplier reviews the request by hand before answering.
    let file = dir.path().join("reviewed.bpmn");
    let xml = std::fs::read_to_string(fixture("collaboration_quote.bpmn"))
        .unwrap()
        .replace(
            r#"<bpmn:sequenceFlow id="s1" sourceRef="request_received" targetRef="price" />"#,
            r#"<bpmn:userTask id="review" name="Review the request" />
    <bpmn:sequenceFlow id="s0" sourceRef="request_received" targetRef="review" />
    <bpmn:sequenceFlow id="s1" sourceRef="review" targetRef="price" />"#,
        );
    std::fs::write(&file, xml).unwrap();
    let (file, db_arg) = (file.to_str().unwrap(), db.to_str().unwrap());
    let data = json!({"item": "nut", "quantity": 2, "budget": 100}).to_string();
    let started = run_json(&["run", file, "--db", db_arg, "--data", &data, "--json"]);
    assert_eq!(started["status"], "waiting", "{started}");
    let waiting: Vec<&Value> = started["waiting"].as_array().unwrap().iter().collect();
    let specs: Vec<&str> = waiting.iter().map(|w| w["spec"].as_str().unwrap()).collect();
    assert_eq!(specs, ["supplier_pool", "quote_received", "review"], "{started}");
    let id = started["id"].as_str().unwrap();

    // Loaded again from the store, it goes on where it stood.
    let done = run_json(&["complete", id, "review", "--db", db_arg, "--json"]);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["data"]["quote"], json!({"total": 80}));
    assert_eq!(done["data"]["accepted"], true);
}

#[test]
fn one_pool_run_alone_says_its_message_reached_no_catch() {
    let out = cli(&[
        "run",
        fixture("collaboration_quote.bpmn").to_str().unwrap(),
        "--process",
        "customer",
        "--data",
        r#"{"item": "bolt", "quantity": 1, "budget": 5}"#,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: message `quote_request` reached no catch: nothing in this instance waits for it"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("message `quote`"), "it waits for the answer");
}

#[test]
fn a_pool_naming_a_missing_process_and_two_collaborations_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(fixture("collaboration_quote.bpmn")).unwrap();
    let bad = dir.path().join("bad.bpmn");
    std::fs::write(&bad, xml.replace(r#"processRef="supplier""#, r#"processRef="suplier""#)).unwrap();
    let out = cli(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout) + &text(&out.stderr);
    assert!(
        stdout.contains(&format!(
            "{}:8:5: supplier_pool: participant `supplier_pool` names process `suplier` (processRef), which this file does not define",
            bad.display()
        )),
        "{stdout}"
    );

    // A second collaboration of the same pools: `run` asks which.
    let two = dir.path().join("two.bpmn");
    let second = r#"<bpmn:collaboration id="requoting">
    <bpmn:participant id="again_customer" processRef="customer" />
    <bpmn:participant id="again_supplier" processRef="supplier" />
  </bpmn:collaboration>
  <bpmn:process id="customer""#;
    std::fs::write(&two, xml.replacen(r#"<bpmn:process id="customer""#, second, 1)).unwrap();
    let out = cli(&["run", two.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("has 2 collaborations whose pools could start; choose one with --process: quoting, requoting"),
        "{stderr}"
    );
    let chosen = run_json(&[
        "run",
        two.to_str().unwrap(),
        "--process",
        "requoting",
        "--data",
        r#"{"item": "bolt", "quantity": 1, "budget": 5}"#,
        "--json",
    ]);
    assert_eq!(
        (&chosen["status"], &chosen["process"]),
        (&json!("completed"), &json!("requoting"))
    );
}
