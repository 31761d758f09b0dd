//! Timers through the command line: kept instances wait for them, `tick`
//! fires what is due (by the clock, or by `--now`), and `run` without a
//! database waits for them in the process. No test sleeps on a timer longer
//! than a fraction of a second, and none depends on how long anything takes:
//! due times are read from the output and handed back through `--now`.

use std::path::Path;

use serde_json::{Value, json};
use wasmflow_tests::{cli, cli_json, fixture, history_of, run_kept, serve, states, stop, text, until_none_waits};

/// `tick [ID] --now NOW --json`: the instances delivered.
fn tick(db: &Path, id: Option<&str>, now: &str) -> Vec<Value> {
    let mut args = vec!["tick", "--db", db.to_str().unwrap(), "--now", now, "--json"];
    args.extend(id);
    let (out, code) = cli_json(&args);
    assert_eq!(code, 0, "{out}");
    out["delivered"].as_array().expect("a list of instances").clone()
}

/// The `due` of the waiting timer of element `spec`.
fn due_of(instance: &Value, spec: &str) -> String {
    let waiting = instance["waiting"].as_array().unwrap();
    let entry = waiting
        .iter()
        .find(|w| w["spec"] == spec)
        .unwrap_or_else(|| panic!("`{spec}` is not waiting: {instance}"));
    assert_eq!(entry["event"], "timer", "{entry}");
    entry["due"].as_str().unwrap().to_string()
}

/// An RFC 3339 time `ms` milliseconds from `at`.
fn shifted(at: &str, ms: i64) -> String {
    let at: jiff::Timestamp = at.parse().unwrap();
    (at + jiff::SignedDuration::from_millis(ms)).to_string()
}

#[test]
fn a_kept_instance_waits_for_its_timer_and_tick_fires_it_on_either_executor() {
    for executor in ["in-process", "subprocess"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("timers.db");
        let started = run_kept(&db, "timer_catch.bpmn", json!({"period": "PT1H"}), executor);
        assert_eq!(started["status"], "waiting", "{started}");
        let id = started["id"].as_str().unwrap();
        let due = due_of(&started, "cool_off");
        let waiting = &started["waiting"][0];
        assert_eq!(
            (&waiting["type"], &waiting["state"], &waiting["name"]),
            (
                &json!("intermediateCatchEvent"),
                &json!("WAITING"),
                &json!("Wait for the cooling-off period")
            )
        );

        // A millisecond early, nothing fires and nothing is loaded.
        assert_eq!(tick(&db, None, &shifted(&due, -1)), Vec::<Value>::new());
        let early = cli(&["tick", id, "--db", db.to_str().unwrap(), "--now", &shifted(&due, -1)]);
        assert!(
            text(&early.stdout).contains("no timer is due by"),
            "{}",
            text(&early.stdout)
        );
        assert!(text(&early.stdout).contains(&format!("its next timer falls due at {due}")));

        let delivered = tick(&db, None, &due);
        assert_eq!(delivered.len(), 1);
        let done = &delivered[0];
        assert_eq!(
            (done["id"].as_str(), done["status"].as_str()),
            (Some(id), Some("completed"))
        );
        assert_eq!(done["data"], json!({"period": "PT1H", "confirmed": true}));
        // Fired once: a second tick finds nothing.
        assert_eq!(tick(&db, None, &shifted(&due, 60_000)), Vec::<Value>::new());

        let (shown, _) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
        let fired = history_of(&shown, "timer_fired");
        assert_eq!(fired.len(), 1, "{shown}");
        assert_eq!((&fired[0]["spec"], &fired[0]["due"]), (&json!("cool_off"), &json!(due)));
    }
}

#[test]
fn tick_fires_only_the_instances_whose_timers_are_due() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("many.db");
    let instances: Vec<Value> = ["PT1M", "PT2H", "PT1H"]
        .iter()
        .map(|period| run_kept(&db, "timer_catch.bpmn", json!({"period": period}), "in-process"))
        .collect();
    let due: Vec<String> = instances.iter().map(|i| due_of(i, "cool_off")).collect();
    // By the third's due time, the first and the third are due: earliest first.
    let delivered = tick(&db, None, &due[2]);
    let ids: Vec<&Value> = delivered.iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, [&instances[0]["id"], &instances[2]["id"]]);
    let (waiting, _) = cli_json(&["list", "--db", db.to_str().unwrap(), "--status", "waiting", "--json"]);
    assert_eq!(waiting.as_array().unwrap().len(), 1);
    assert_eq!(waiting[0]["id"], instances[1]["id"]);
    // One instance by id, even with others due.
    let id = instances[1]["id"].as_str().unwrap();
    let delivered = tick(&db, Some(id), &shifted(&due[1], 1));
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["status"], "completed");
}

#[test]
fn a_reminder_cycle_fires_three_times_then_the_timeout_interrupts_the_user_task() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("approval.db");
    let started = run_kept(&db, "timer_boundary.bpmn", json!({"reminders": 0}), "in-process");
    let id = started["id"].as_str().unwrap();
    let timeout = due_of(&started, "expire");
    let mut instance = started.clone();
    for reminder in 1..=3 {
        let due = due_of(&instance, "remind");
        let delivered = tick(&db, Some(id), &due);
        instance = delivered[0].clone();
        assert_eq!(instance["status"], "waiting", "{instance}");
        assert_eq!(states(&instance, "nag"), vec!["COMPLETED"; reminder]);
        assert_eq!(states(&instance, "approve"), ["READY"]);
    }
    // The cycle is spent: only the task and its timeout wait.
    let waiting: Vec<&Value> = instance["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["spec"])
        .collect();
    assert_eq!(waiting, [&json!("approve"), &json!("expire")]);
    assert_eq!(due_of(&instance, "expire"), timeout);

    let delivered = tick(&db, Some(id), &timeout);
    let done = &delivered[0];
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(states(done, "approve"), ["CANCELLED"]);
    assert_eq!(states(done, "record"), Vec::<String>::new());
    assert_eq!(done["data"]["status"], "expired");
    // A cancelled task cannot be completed any more.
    let late = cli(&["complete", id, "approve", "--db", db.to_str().unwrap()]);
    assert_ne!(late.status.code(), Some(0));
}

#[test]
fn completing_the_task_in_time_disarms_its_timers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("approval.db");
    let started = run_kept(&db, "timer_boundary.bpmn", json!({"reminders": 0}), "in-process");
    let id = started["id"].as_str().unwrap();
    let timeout = due_of(&started, "expire");
    let (done, code) = cli_json(&["complete", id, "approve", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["data"]["status"], "approved");
    assert_eq!(states(&done, "expire"), ["CANCELLED"]);
    assert_eq!(tick(&db, None, &shifted(&timeout, 1)), Vec::<Value>::new());
}

#[test]
fn run_without_a_database_waits_for_a_timer_unless_told_not_to() {
    let diagram = fixture("timer_catch.bpmn");
    let (done, code) = cli_json(&[
        "run",
        diagram.to_str().unwrap(),
        "--data",
        r#"{"period": "PT0.2S"}"#,
        "--json",
    ]);
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["data"]["confirmed"], true);

    let (waiting, code) = cli_json(&[
        "run",
        diagram.to_str().unwrap(),
        "--data",
        r#"{"period": "P1D"}"#,
        "--no-wait",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(waiting["status"], "waiting");
    due_of(&waiting, "cool_off");
}

#[test]
fn a_timer_value_that_is_no_duration_fails_the_task_and_keeps_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    let (failed, code) = cli_json(&[
        "run",
        fixture("timer_catch.bpmn").to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--data",
        r#"{"period": "one hour"}"#,
        "--json",
    ]);
    assert_eq!(code, 1, "{failed}");
    let error = &failed["error"];
    assert_eq!(
        (&error["spec"], &error["reason"]),
        (&json!("cool_off"), &json!("invalid_timer"))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("timeDuration `one hour` is not an ISO 8601 duration such as PT1H"),
        "{error}"
    );
    // Fixed data, the task runs again and waits.
    let id = failed["id"].as_str().unwrap();
    let (retried, code) = cli_json(&[
        "retry",
        id,
        "cool_off",
        "--data",
        r#"{"period": "PT5M"}"#,
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{retried}");
    assert_eq!(retried["status"], "waiting");
}

#[test]
fn tick_says_what_is_wrong_with_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    run_kept(&db, "timer_catch.bpmn", json!({"period": "PT1H"}), "in-process");
    let bad_now = cli(&["tick", "--db", db.to_str().unwrap(), "--now", "tomorrow"]);
    assert_eq!(bad_now.status.code(), Some(2));
    assert!(
        text(&bad_now.stderr).contains("`tomorrow` is not an RFC 3339 time"),
        "{}",
        text(&bad_now.stderr)
    );
    let unknown = cli(&["tick", "no-such-id", "--db", db.to_str().unwrap()]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("no instance `no-such-id`"),
        "{}",
        text(&unknown.stderr)
    );
    let nothing = cli(&["tick", "--db", db.to_str().unwrap(), "--now", "2000-01-01T00:00:00Z"]);
    assert_eq!(nothing.status.code(), Some(0));
    assert_eq!(text(&nothing.stdout).trim(), "no timer is due by 2000-01-01T00:00:00Z");
}

#[test]
fn check_reports_a_timer_that_is_neither_iso_8601_nor_an_expression() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("bad_timer.bpmn");
    let xml = std::fs::read_to_string(fixture("timer_catch.bpmn"))
        .unwrap()
        .replace(">period<", ">in one (hour<");
    std::fs::write(&diagram, xml).unwrap();
    let output = cli(&["check", diagram.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("bad_timer.bpmn:8:1: cool_off: timeDuration `in one (hour` is neither ISO 8601 nor an expression that parses"),
        "{stderr}"
    );
    // The same for the timer of an event subprocess's start event.
    let xml = std::fs::read_to_string(fixture("timer_event_subprocess.bpmn"))
        .unwrap()
        .replace(">P1D<", ">in one (day<");
    std::fs::write(&diagram, xml).unwrap();
    let output = cli(&["check", diagram.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("too_long: timeDuration `in one (day` is neither ISO 8601 nor an expression that parses"),
        "{stderr}"
    );
}

#[test]
fn serve_fires_timers_as_they_fall_due_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    let first = run_kept(&db, "timer_catch.bpmn", json!({"period": "PT0.3S"}), "in-process");
    let server = serve(&db);
    // Armed while serve sleeps: it looks again and fires this one too.
    let second = run_kept(&db, "timer_catch.bpmn", json!({"period": "PT0.6S"}), "in-process");
    let listed = until_none_waits(&db);
    assert!(listed.iter().all(|i| i["status"] == "completed"), "{listed:?}");
    let (code, stdout) = stop(server);
    assert_eq!(code, Some(0), "{stdout}");
    for started in [&first, &second] {
        let id = started["id"].as_str().unwrap();
        assert!(stdout.contains(&format!("instance {id}: completed")), "{stdout}");
    }
}

#[test]
fn two_schedulers_on_one_database_never_fire_a_timer_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let ids: Vec<String> = (0..12)
        .map(|_| run_kept(&db, "timer_catch.bpmn", json!({"period": "PT0.5S"}), "in-process"))
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let servers = [serve(&db), serve(&db)];
    until_none_waits(&db);
    // A tick racing them finds nothing left to fire either.
    assert_eq!(
        tick(&db, None, &shifted(&jiff::Timestamp::now().to_string(), 1)),
        Vec::<Value>::new()
    );
    let mut fired_by = String::new();
    for server in servers {
        let (code, stdout) = stop(server);
        assert_eq!(code, Some(0));
        fired_by.push_str(&stdout);
    }
    for id in &ids {
        assert_eq!(fired_by.matches(id.as_str()).count(), 1, "{id}: {fired_by}");
        let (shown, _) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
        assert_eq!(history_of(&shown, "timer_fired").len(), 1, "{shown}");
    }
}

#[test]
fn after_an_event_based_gateway_the_timer_due_first_wins() {
    for (remind_after, give_up_after, outcome, cancelled) in [
        ("PT5M", "PT1H", "reminded", "deadline"),
        ("PT3H", "PT1H", "gave up", "reminder"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("race.db");
        let data = json!({"remind_after": remind_after, "give_up_after": give_up_after});
        let started = run_kept(&db, "timer_race.bpmn", data, "in-process");
        assert_eq!(states(&started, "which_first"), ["WAITING"]);
        let (first, second) = (due_of(&started, "reminder"), due_of(&started, "deadline"));
        // By the later due time both are due; only the earlier one fires.
        let latest = [first, second]
            .map(|due| due.parse::<jiff::Timestamp>().unwrap())
            .into_iter()
            .max();
        let delivered = tick(&db, None, &latest.unwrap().to_string());
        let done = &delivered[0];
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["data"]["outcome"], outcome);
        assert_eq!(states(done, cancelled), ["CANCELLED"]);
        assert_eq!(states(done, "which_first"), ["COMPLETED"]);
    }
}

#[test]
fn sigkilling_serve_at_twenty_points_loses_no_timer_and_fires_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let ids: Vec<String> = (0..24)
        .map(|i| {
            let period = format!("PT0.{:03}S", 50 + 37 * i);
            run_kept(&db, "timer_catch.bpmn", json!({"period": period}), "in-process")
        })
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    // Kill points spread over the first second of each serve's life, in a
    // fixed pseudo-random order: before start-up ends, between instances,
    // in the middle of a step.
    let mut seed: u64 = 0x5eed;
    for _ in 0..20 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = std::time::Duration::from_millis(20 + (seed >> 33) % 400);
        let mut server = serve(&db);
        std::thread::sleep(after);
        server.kill().unwrap();
        server.wait().unwrap();
    }
    // Whatever the kills left, one clean scheduler finishes.
    let server = serve(&db);
    let listed = until_none_waits(&db);
    let (code, _) = stop(server);
    assert_eq!(code, Some(0));
    assert_eq!(listed.len(), ids.len());
    for id in &ids {
        let (shown, _) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
        assert_eq!(shown["status"], "completed", "{shown}");
        assert_eq!(shown["data"]["confirmed"], true);
        assert_eq!(history_of(&shown, "timer_fired").len(), 1, "{id}: {shown}");
    }
}

#[test]
fn a_timer_event_subprocess_interrupts_a_process_that_waits_too_long() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("review.db");
    let started = run_kept(&db, "timer_event_subprocess.bpmn", json!({"draft": 1}), "subprocess");
    let due = due_of(&started, "escalate");
    assert_eq!(states(&started, "review_draft"), ["READY"]);
    let delivered = tick(&db, None, &due);
    let done = &delivered[0];
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["data"], json!({"draft": 1, "escalated": true}));
    assert_eq!(states(done, "review_draft"), ["CANCELLED"]);
    assert_eq!(states(done, "note"), ["COMPLETED"]);
}

#[test]
fn complete_waits_while_a_scheduler_holds_the_lock_so_no_run_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locked.db");
    let started = run_kept(&db, "user_task.bpmn", json!({}), "in-process");
    let id = started["id"].as_str().unwrap();
    // What a scheduler holds while it fires timers and saves instances.
    let mut name = db.as_os_str().to_owned();
    name.push("-scheduler.lock");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(std::path::PathBuf::from(name))
        .unwrap();
    lock.lock().unwrap();
    let mut completing = std::process::Command::new(wasmflow_tests::wasmflow_bin())
        .args(["complete", id, "approve", "--db", db.to_str().unwrap(), "--json"])
        .env("WASMFLOW_CACHE_DIR", wasmflow_tests::cache_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The kernel lists it as waiting for the lock: a barrier, not a guess
    // at how long its start-up takes. Until the lock goes it cannot go on.
    let waiter = format!(" {} ", completing.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .any(|l| l.contains("->") && l.contains(&waiter))
    {
        assert!(
            completing.try_wait().unwrap().is_none(),
            "complete ran beside the scheduler"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "complete never asked for the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        completing.try_wait().unwrap().is_none(),
        "complete ran beside the scheduler"
    );
    lock.unlock().unwrap();
    let output = completing.wait_with_output().unwrap();
    assert!(output.status.success());
    let done: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(states(&done, "approve"), ["COMPLETED"], "{done}");
}
