//! Escalations through the command line, on both executors: a catch beside
//! the activity that escalates, and the history that records them.

use serde_json::json;
use wasmflow_tests::{cli_json, history_of, run_kept, states};

#[test]
fn a_big_order_escalates_beside_the_packing_and_a_small_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("escalations.db");
    for executor in ["in-process", "subprocess"] {
        let big = run_kept(&db, "escalation_review.bpmn", json!({"quantity": 500}), executor);
        assert_eq!(big["status"], "completed", "{big}");
        assert_eq!(big["data"]["boxed"], 500, "the packing went on");
        assert_eq!(big["data"]["manager_note"], "order of 500: more than 100");
        assert_eq!(states(&big, "pack"), ["COMPLETED"]);
        assert_eq!(states(&big, "manager_told"), ["COMPLETED"]);
        let (shown, _) = cli_json(&[
            "show",
            big["id"].as_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ]);
        let caught = history_of(&shown, "escalation_caught");
        assert_eq!(caught.len(), 1, "{shown}");
        assert_eq!(
            (&caught[0]["spec"], &caught[0]["code"], &caught[0]["interrupting"]),
            (&json!("manager_told"), &json!("big_order"), &json!(false))
        );

        let small = run_kept(&db, "escalation_review.bpmn", json!({"quantity": 5}), executor);
        assert_eq!(small["status"], "completed", "{small}");
        assert!(states(&small, "manager_told").is_empty(), "{small}");
        assert_eq!(small["data"].get("manager_note"), None);
    }
}
