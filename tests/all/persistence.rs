//! Durable instances: snapshots round-trip at every step, the SQLite store
//! keeps instances across commands, and a damaged database is refused
//! without being touched.

use std::path::PathBuf;

use serde_json::{Value, json};
use wasmflow::engine::{RestoreError, Snapshot, Status, TaskState, Workflow};
use wasmflow_tests::*;

/// Every diagram shape the engine runs, with data that exercises it.
fn cases() -> Vec<(Vec<&'static str>, Value)> {
    vec![
        (vec!["linear.bpmn"], json!({"x": 1})),
        (vec!["exclusive.bpmn"], json!({"score": 70})),
        (vec!["parallel.bpmn"], json!({})),
        (vec!["inclusive.bpmn"], json!({"x": 50})),
        (vec!["subprocess.bpmn"], json!({"x": 5})),
        (vec!["call_parent.bpmn", "call_child.bpmn"], json!({})),
        (vec!["terminate.bpmn"], json!({})),
        (vec!["terminate_scopes.bpmn"], json!({})),
        (vec!["hotel_stay.bpmn"], json!({"undone": [], "cancel": true})),
        (vec!["loops.bpmn"], json!({"count": 0, "laps": [], "answer": "yes"})),
        (vec!["loop_fed_join.bpmn"], json!({"fixes": 0})),
        (vec!["data_objects.bpmn"], json!({"prices": [99, 2]})),
        (vec!["inclusive_behind.bpmn"], json!({})),
        (
            vec!["multi_instance.bpmn"],
            json!({"lines": [{"qty": 1, "price": 2}, {"qty": 3, "price": 4}], "stock": {"a": 9, "b": 1},
                   "checked": [], "low": 0, "approvers": ["x"], "parcels": ["p", "q"], "returns": [1]}),
        ),
        (
            vec!["multi_inspection.bpmn"],
            json!({"shipments": [{"id": "a", "crates": [{"kg": 3}]}, {"id": "b", "crates": [{"kg": 1}, {"kg": 2}]}]}),
        ),
        (vec!["implicit_split.bpmn"], json!({"priority": 9})),
        (vec!["no_way_out.bpmn"], json!({"size": 7})),
        (vec!["service_task.bpmn"], json!({"price": 5, "quantity": 2})),
        (
            vec!["error_boundary.bpmn"],
            json!({"error_code": "card_declined", "error_name": "Declined", "payload": {"a": 1}}),
        ),
        (
            vec!["error_boundary.bpmn"],
            json!({"error_code": "other", "error_name": null, "payload": [1]}),
        ),
        (vec!["error_uncaught.bpmn"], json!({"sku": "A-1"})),
        (vec!["error_subprocess.bpmn"], json!({"mode": "end_event"})),
        (vec!["error_subprocess.bpmn"], json!({"mode": "plugin"})),
        (
            vec!["error_call_parent.bpmn", "error_call_child.bpmn"],
            json!({"child_code": "child_failed"}),
        ),
        (vec!["error_event_subprocess.bpmn"], json!({"code": "boom"})),
        (
            vec!["booking_transaction.bpmn"],
            json!({"city": "Oslo", "card": "declined"}),
        ),
        (
            vec!["booking_transaction.bpmn"],
            json!({"city": "Oslo", "card": "valid"}),
        ),
    ]
}

#[test]
fn an_instance_saved_after_any_step_loads_and_finishes_like_an_uninterrupted_run() {
    for (files, data) in cases() {
        let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
        let library = library(&paths);
        let scripts = scripts();

        let mut snapshots = Vec::new();
        let mut reference = Workflow::start(library.clone(), None, object(data.clone())).unwrap();
        snapshots.push(serde_json::to_string(&reference.snapshot()).unwrap());
        let status = reference
            .run_observed(&scripts, |w| {
                snapshots.push(serde_json::to_string(&w.snapshot()).unwrap());
                Ok::<_, ()>(())
            })
            .unwrap();
        assert!(snapshots.len() > 2, "{files:?}");

        for (step, text) in snapshots.iter().enumerate() {
            let snapshot: Snapshot = serde_json::from_str(text).unwrap();
            let mut restored =
                Workflow::restore(library.clone(), snapshot).unwrap_or_else(|e| panic!("{files:?} step {step}: {e}"));
            // What was saved is what is loaded.
            assert_eq!(
                &serde_json::to_string(&restored.snapshot()).unwrap(),
                text,
                "{files:?} step {step}"
            );
            assert_eq!(
                restored.run(&scripts),
                status,
                "{files:?} step {step}: {:?}",
                restored.error()
            );
            assert_eq!(restored.data(), reference.data(), "{files:?} step {step}");
            // Sorted: with calls on a pool, tasks of parallel branches may be
            // created in another order (their ids differ), not in another state.
            let states = |w: &Workflow| {
                let mut states = w.tasks().map(|t| (t.spec, t.state)).collect::<Vec<_>>();
                states.sort_by(|a, b| (&a.0, a.1 as u8).cmp(&(&b.0, b.1 as u8)));
                states
            };
            assert_eq!(states(&restored), states(&reference), "{files:?} step {step}");
        }
    }
}

#[test]
fn a_waiting_instance_round_trips_and_completes_after_loading() {
    let mut workflow = run_fixture(&["user_task.bpmn"], json!({"order": 1}));
    assert_eq!(workflow.status(), Status::Waiting);
    let text = serde_json::to_string(&workflow.snapshot()).unwrap();
    let mut loaded = Workflow::restore(
        library(&[fixture("user_task.bpmn")]),
        serde_json::from_str(&text).unwrap(),
    )
    .unwrap();
    for (task, data) in [("approve", json!({"approved": false})), ("ship", json!({}))] {
        let id = loaded.waiting_tasks().find(|t| t.spec == task).unwrap().id;
        loaded.complete_task(id, object(data)).unwrap();
        loaded.run(&scripts());
    }
    assert_eq!(loaded.status(), Status::Completed);
    assert_eq!(loaded.data()["status"], json!("rejected"));
    // The original is untouched by what happened to its copy.
    assert_eq!(workflow.run(&scripts()), Status::Waiting);
}

#[test]
fn another_format_version_is_a_clear_error() {
    let workflow = run_fixture(&["linear.bpmn"], json!({"x": 1}));
    let mut snapshot = workflow.snapshot();
    snapshot.instance.format = 99;
    let error = Workflow::restore(library(&[fixture("linear.bpmn")]), snapshot)
        .err()
        .unwrap();
    assert_eq!(error, RestoreError::Format { found: 99 });
    assert!(
        error.to_string().contains("format 99") && error.to_string().contains("reads format 1"),
        "{error}"
    );
}

#[test]
fn a_completed_1000_task_instance_is_small() {
    let xml = chain(1_000, r#"scriptFormat="wasm""#, "increment");
    let workflow = run_xml(&xml, json!({"i": 0}), &scripts());
    assert_eq!(workflow.status(), Status::Completed);
    let size = serde_json::to_vec(&workflow.snapshot()).unwrap().len();
    assert!(size <= 100_000, "{size} bytes");
}

fn db_args(db: &std::path::Path) -> [String; 2] {
    ["--db".to_string(), db.display().to_string()]
}

#[test]
fn the_cli_keeps_instances_and_completes_user_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("instances.db");
    let [flag, path] = db_args(&db);
    let file = fixture("user_task.bpmn").display().to_string();

    let (out, code) = cli_json(&["run", &file, &flag, &path, "--data", r#"{"order": 9}"#, "--json"]);
    assert_eq!((code, out["status"].clone()), (0, json!("waiting")));
    let id = out["id"].as_str().unwrap().to_string();

    let (listed, _) = cli_json(&["list", &flag, &path, "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        (listed[0]["id"].as_str(), listed[0]["status"].clone()),
        (Some(id.as_str()), json!("waiting"))
    );

    // By BPMN element id, then by task id.
    let (out, code) = cli_json(&[
        "complete",
        &id,
        "approve",
        "--data",
        r#"{"approved": true}"#,
        &flag,
        &path,
        "--json",
    ]);
    assert_eq!(
        (code, out["status"].clone(), out["waiting"][0]["spec"].clone()),
        (0, json!("waiting"), json!("ship"))
    );
    let ship = out["waiting"][0]["id"].to_string();
    let (out, code) = cli_json(&["complete", &id, &ship, &flag, &path, "--json"]);
    assert_eq!(
        (code, out["status"].clone(), out["data"]["status"].clone()),
        (0, json!("completed"), json!("approved"))
    );

    let (shown, code) = cli_json(&["show", &id, &flag, &path, "--json"]);
    assert_eq!((code, shown["data"]["order"].clone()), (0, json!(9)));
    assert!(
        shown["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "COMPLETED"),
        "{shown}"
    );

    let (done, _) = cli_json(&["list", "--status", "completed", &flag, &path, "--json"]);
    assert_eq!(done.as_array().unwrap().len(), 1);
    let (waiting, _) = cli_json(&["list", "--status", "waiting", &flag, &path, "--json"]);
    assert_eq!(waiting, json!([]));

    // Completing what is not waiting, or an unknown instance, says so.
    let output = cli(&["complete", &id, "approve", &flag, &path]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no waiting task `approve`"),
        "{}",
        text(&output.stderr)
    );
    let output = cli(&["show", "no-such-id", &flag, &path]);
    assert!(
        text(&output.stderr).contains("no instance `no-such-id`"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn resume_runs_a_failed_instance_no_further_and_keeps_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let [flag, path] = db_args(&dir.path().join("i.db"));
    let file = fixture("no_way_out.bpmn").display().to_string();
    let (out, code) = cli_json(&["run", &file, &flag, &path, "--data", r#"{"size": 7}"#, "--json"]);
    assert_eq!((code, out["error"]["spec"].clone()), (1, json!("route")));
    let id = out["id"].as_str().unwrap();
    let (again, code) = cli_json(&["resume", id, &flag, &path, "--json"]);
    assert_eq!(
        (code, again["error"].clone(), again["tasks"].clone()),
        (1, out["error"].clone(), out["tasks"].clone())
    );
}

#[test]
fn a_damaged_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, just some text that is long enough").unwrap();

    // A real database, then the same cut in half.
    let good = dir.path().join("good.db");
    let [flag, path] = db_args(&good);
    for _ in 0..20 {
        let (_, code) = cli_json(&[
            "run",
            &fixture("parallel.bpmn").display().to_string(),
            &flag,
            &path,
            "--json",
        ]);
        assert_eq!(code, 0);
    }
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    for file in [&garbage, &truncated] {
        let before = std::fs::read(file).unwrap();
        let [flag, path] = db_args(file);
        for args in [vec!["list", &flag, &path], vec!["run", "x.bpmn", &flag, &path]] {
            let args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
            let output = if args[0] == "run" {
                let f = fixture("linear.bpmn").display().to_string();
                cli(&["run", &f, "--data", r#"{"x": 1}"#, &flag, &path])
            } else {
                cli(&args)
            };
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{file:?} {args:?}: {stderr}");
            assert!(
                stderr.contains("is not a usable wasmflow database") && stderr.contains(&path),
                "{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        assert_eq!(std::fs::read(file).unwrap(), before, "{file:?} was modified");
    }
}

#[test]
fn a_halted_instance_is_kept_and_resumes_with_amended_data() {
    // Through the library.
    let mut workflow = run_fixture(&["grades.bpmn"], json!({"student": "ada", "grade": 30}));
    assert_eq!(workflow.status(), Status::Halted);
    let halt = workflow.halt().unwrap().clone();
    assert_eq!(
        (halt.spec.as_str(), halt.message.as_str()),
        ("check_grade", "grade 30 for ada needs review")
    );
    assert_eq!(
        workflow.task(halt.task).unwrap().state,
        wasmflow::engine::TaskState::Waiting
    );
    assert_eq!(
        workflow.run(&scripts()),
        Status::Halted,
        "a halted instance does not run on by itself"
    );
    workflow.resume_halted(Some(object(json!({"grade": 75})))).unwrap();
    assert_eq!(workflow.run(&scripts()), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["recorded"], json!("ada: 75"));

    // Through the CLI and the store, the way an operator would.
    let dir = tempfile::tempdir().unwrap();
    let [flag, path] = db_args(&dir.path().join("grades.db"));
    let file = fixture("grades.bpmn").display().to_string();
    let (out, code) = cli_json(&[
        "run",
        &file,
        &flag,
        &path,
        "--data",
        r#"{"student": "bo", "grade": 10}"#,
        "--json",
    ]);
    assert_eq!(
        (code, out["status"].clone(), out["halt"]["message"].clone()),
        (0, json!("halted"), json!("grade 10 for bo needs review"))
    );
    let id = out["id"].as_str().unwrap();
    let (halted, _) = cli_json(&["list", "--status", "halted", &flag, &path, "--json"]);
    assert_eq!(halted[0]["id"].as_str(), Some(id));

    // Resuming without a fix halts again; with the amended grade it completes.
    let (again, _) = cli_json(&["resume", id, &flag, &path, "--json"]);
    assert_eq!(again["status"], json!("halted"));
    let (done, code) = cli_json(&["resume", id, "--data", r#"{"grade": 60}"#, &flag, &path, "--json"]);
    assert_eq!(
        (code, done["status"].clone(), done["data"]["recorded"].clone()),
        (0, json!("completed"), json!("bo: 60"))
    );
    assert_eq!(done["halt"], json!(null));

    let output = cli(&["resume", id, "--data", "{}", &flag, &path]);
    assert!(
        text(&output.stderr).contains("is not halted"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn an_instance_run_without_observing_steps_still_saves_whole() {
    // `run` drops per-step change records; a later save must still be complete.
    let dir = tempfile::tempdir().unwrap();
    let mut store = wasmflow::store::SqliteStore::open(&dir.path().join("s.db")).unwrap();
    let xml = std::fs::read_to_string(fixture("user_task.bpmn")).unwrap();
    let hash = store.add_diagram("user_task.bpmn", &xml).unwrap();
    let mut workflow =
        Workflow::start(library(&[fixture("user_task.bpmn")]), None, object(json!({"order": 2}))).unwrap();
    store.create(&mut workflow, std::slice::from_ref(&hash), None).unwrap();
    workflow.run(&scripts());
    let approve = workflow.waiting_tasks().next().unwrap().id;
    workflow
        .complete_task(approve, object(json!({"approved": true})))
        .unwrap();
    workflow.run(&scripts());
    store.save(&mut workflow).unwrap();
    let loaded = store.load(workflow.id()).unwrap();
    assert_eq!(
        serde_json::to_value(loaded.snapshot()).unwrap(),
        serde_json::to_value(workflow.snapshot()).unwrap()
    );
}

#[test]
fn restart_runs_again_from_any_task_with_the_data_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restart.db");
    let [flag, path] = db_args(&db);
    let file = fixture("linear.bpmn").display().to_string();
    let (out, code) = cli_json(&["run", &file, &flag, &path, "--data", r#"{"x": 1}"#, "--json"]);
    assert_eq!((code, &out["data"]["x"]), (0, &json!(2)), "{out}");
    let id = out["id"].as_str().unwrap().to_string();

    // From the completed `increment` task: it had x = 1, so x is 2 again.
    let (out, code) = cli_json(&["restart", &id, "increment", &flag, &path, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        (&out["status"], &out["data"]["x"]),
        (&json!("completed"), &json!(2)),
        "{out}"
    );
    // With amended data, from the task before it.
    let (out, code) = cli_json(&["restart", &id, "note", &flag, &path, "--data", r#"{"x": 40}"#, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["data"]["x"], json!(41), "{out}");
    assert_eq!(out["data"]["label"], "x is 41");

    // The history says what happened; the tasks run again are new tasks.
    let (shown, _) = cli_json(&["show", &id, &flag, &path, "--json"]);
    let restarts: Vec<&Value> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "instance_restarted")
        .collect();
    assert_eq!(restarts.len(), 2, "{shown}");
    assert_eq!(restarts[1]["spec"], "note");
    let increments = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["spec"] == "increment")
        .count();
    assert_eq!(increments, 3);

    // Unknown tasks and joins are refused clearly.
    let out = cli(&["restart", &id, "nowhere", &flag, &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no task `nowhere` ran in instance"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_halted_or_failed_instance_restarts_from_an_earlier_task() {
    let library = library(&[fixture("linear.bpmn")]);
    let scripts = scripts();
    // `x` missing: the increment fails.
    let mut workflow = Workflow::start(library, None, object(json!({}))).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Error);
    let note = workflow.tasks().find(|t| t.spec == "note").unwrap().id;
    let new = workflow.restart(note, object(json!({"x": 5}))).unwrap();
    assert!(new > note);
    assert_eq!(workflow.run(&scripts), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["x"], json!(6));
    assert!(workflow.error().is_none());
    // The failed task held a token: the restart cancelled it; it stays in the history.
    let states: Vec<_> = workflow
        .tasks()
        .filter(|t| t.spec == "increment")
        .map(|t| t.state)
        .collect();
    assert_eq!(states, [TaskState::Cancelled, TaskState::Completed]);
}

#[test]
fn a_user_task_with_a_variable_name_keeps_its_form_under_that_name() {
    for executor in ["in-process", "subprocess"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("forms.db");
        let started = run_kept(&db, "user_form.bpmn", json!({"city": "unchanged"}), executor);
        let id = started["id"].as_str().unwrap();
        let db = db.to_str().unwrap();
        let form = r#"{"city": "Oslo", "street": "Storgata 1"}"#;
        let (out, code) = cli_json(&["complete", id, "address", "--data", form, "--db", db, "--json"]);
        assert_eq!((code, &out["waiting"][0]["spec"]), (0, &json!("note")), "{out}");
        let (out, code) = cli_json(&[
            "complete",
            id,
            "note",
            "--data",
            r#"{"note": "ring twice"}"#,
            "--db",
            db,
            "--json",
        ]);
        assert_eq!((code, &out["status"]), (0, &json!("completed")), "{out}");
        let data = &out["data"];
        assert_eq!(data["shipping"], json!({"city": "Oslo", "street": "Storgata 1"}));
        assert_eq!(data["city"], json!("unchanged"), "the form did not merge into the data");
        assert_eq!(
            (&data["note"], &data["label"]),
            (&json!("ring twice"), &json!("Oslo: ring twice"))
        );
    }
}
