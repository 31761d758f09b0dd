//! Conditional events through the command line, on both executors: a
//! boundary event that fires when a parallel branch changes the data it
//! watches, an event subprocess started beside the process by a condition,
//! and `tick` evaluating waiting conditions again.

use serde_json::{Value, json};
use wasmflow_tests::*;

const FIXTURE: &str = "condition_withdrawal.bpmn";

fn complete(db: &str, id: &str, task: &str, data: Value, executor: &str) -> Value {
    let (done, code) = cli_json(&[
        "complete",
        id,
        task,
        "--data",
        &data.to_string(),
        "--db",
        db,
        "--executor",
        executor,
        "--json",
    ]);
    assert_eq!(code, 0, "{done}");
    done
}

fn shown(db: &str, id: &str) -> Value {
    let (shown, code) = cli_json(&["show", id, "--db", db, "--json"]);
    assert_eq!(code, 0, "{shown}");
    shown
}

fn met(instance: &Value) -> Vec<Value> {
    history_of(instance, "condition_met")
        .into_iter()
        .map(|e| e["spec"].clone())
        .collect()
}

#[test]
fn a_withdrawal_on_the_applicants_branch_cancels_the_review_through_its_conditional_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("conditions.db");
    let db_arg = db.to_str().unwrap();
    for executor in ["in-process", "subprocess"] {
        let started = run_kept(&db, FIXTURE, json!({"amount": 5000}), executor);
        assert_eq!(started["status"], "waiting", "{started}");
        let id = started["id"].as_str().unwrap();
        // The boundary event and the event subprocess wait on their conditions.
        let mut conditions: Vec<&str> = (started["waiting"].as_array().unwrap().iter())
            .filter(|w| w["event"] == "condition")
            .map(|w| w["spec"].as_str().unwrap())
            .collect();
        conditions.sort();
        assert_eq!(conditions, ["second_opinion", "withdrawal"], "{started}");

        let done = complete(db_arg, id, "applicant", json!({"decision": "withdraw"}), executor);
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["data"]["outcome"], "withdrawn after withdraw");
        assert_eq!(states(&done, "review"), ["CANCELLED"]);
        assert!(states(&done, "decide").is_empty(), "{done}");
        assert!(states(&done, "ask_second").is_empty(), "5,000 is no large amount");
        assert_eq!(met(&shown(db_arg, id)), [json!("withdrawal")]);
    }
}

#[test]
fn a_large_amount_asks_for_a_second_opinion_beside_a_review_that_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("conditions.db");
    let db_arg = db.to_str().unwrap();
    for executor in ["in-process", "subprocess"] {
        let started = run_kept(&db, FIXTURE, json!({"amount": 20000}), executor);
        let id = started["id"].as_str().unwrap();
        let recorded = complete(db_arg, id, "applicant", json!({"decision": "stay"}), executor);
        assert_eq!(recorded["status"], "waiting", "{recorded}");
        assert_eq!(states(&recorded, "ask_second"), ["COMPLETED"]);
        assert_eq!(states(&recorded, "review"), ["READY"], "the review goes on");

        // Nothing the conditions watch changed: `tick` evaluates them again
        // and leaves the instance as it was.
        let (ticked, code) = cli_json(&["tick", "--db", db_arg, "--json"]);
        assert_eq!(code, 0, "{ticked}");
        assert!(!ticked.to_string().contains(id), "{ticked}");
        assert_eq!(shown(db_arg, id)["tasks"], recorded["tasks"]);

        let done = complete(db_arg, id, "review", json!({"approved": true}), executor);
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["data"]["outcome"], "approved");
        assert_eq!(done["data"]["second_opinion_for"], 20000);
        assert_eq!(states(&done, "withdrawal"), ["CANCELLED"], "its activity completed");
        assert_eq!(met(&shown(db_arg, id)), [json!("second_opinion")]);
    }
}

#[test]
fn check_reports_a_condition_that_does_not_parse_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad_condition.bpmn");
    let xml = std::fs::read_to_string(fixture(FIXTURE))
        .unwrap()
        .replace("withdrawn == True</bpmn:condition>", "withdrawn ==</bpmn:condition>");
    std::fs::write(&file, xml).unwrap();
    let out = cli(&["check", file.to_str().unwrap()]);
    let stderr = text(&out.stderr) + &text(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("bad_condition.bpmn:19") && stderr.contains("withdrawal") && stderr.contains("does not parse"),
        "{stderr}"
    );
}
