//! Timer start events through the command line: a deployed process starts
//! once per occurrence of its timer, by `tick` (on a virtual clock) or
//! `serve`; a process run directly waits at its timer start event, as
//! SpiffWorkflow runs it. Each occurrence starts exactly one instance, however
//! the scheduler is stopped.

use std::path::Path;

use serde_json::{Value, json};
use wasmflow_tests::{cli, cli_json, fixture, history_of, run_kept, serve, stop, text};

const T0: &str = "2027-03-01T08:00:00Z";

/// `T0` plus `minutes`, in RFC 3339.
fn at(minutes: i64) -> String {
    let t0: jiff::Timestamp = T0.parse().unwrap();
    (t0 + jiff::SignedDuration::from_mins(minutes)).to_string()
}

fn deploy(db: &Path, file: &Path, now: &str) -> Value {
    let (out, code) = cli_json(&[
        "deploy",
        file.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--now",
        now,
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    out
}

/// `tick --now NOW --json`: the instances it delivered (started or fired).
fn tick(db: &Path, now: &str) -> Vec<Value> {
    let (out, code) = cli_json(&["tick", "--db", db.to_str().unwrap(), "--now", now, "--json"]);
    assert_eq!(code, 0, "{out}");
    out["delivered"].as_array().unwrap().clone()
}

fn instances(db: &Path) -> Vec<Value> {
    let (listed, code) = cli_json(&["list", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{listed}");
    listed.as_array().unwrap().clone()
}

/// The schedule `list --deployments --json` shows for the newest version of `process`.
fn schedule(db: &Path, process: &str) -> Vec<Value> {
    let (listed, code) = cli_json(&["list", "--deployments", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{listed}");
    let newest = (listed.as_array().unwrap().iter())
        .filter(|d| d["process"] == process)
        .max_by_key(|d| d["version"].as_u64())
        .unwrap_or_else(|| panic!("{process} is not deployed: {listed}"));
    newest["timers"].as_array().unwrap().clone()
}

fn show(db: &Path, id: &str) -> Value {
    let (shown, code) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{shown}");
    shown
}

#[test]
fn a_deployed_cycle_starts_one_instance_per_occurrence_and_one_for_those_missed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cycle.db");
    let deployed = deploy(&db, &fixture("timer_start.bpmn"), T0);
    assert_eq!(
        deployed["deployed"][0]["timers"],
        json!([{"start": "every_hour", "due": at(60)}])
    );

    assert_eq!(tick(&db, &at(59)), Vec::<Value>::new(), "not due yet");
    assert!(instances(&db).is_empty());
    let started = tick(&db, &at(60));
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["status"], "completed", "{}", started[0]);
    assert_eq!(started[0]["process"], "hourly_report");
    assert_eq!(started[0]["data"], json!({"reported": true}));
    let fired = history_of(&show(&db, started[0]["id"].as_str().unwrap()), "timer_fired");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(
        (&fired[0]["spec"], &fired[0]["due"]),
        (&json!("every_hour"), &json!(at(60)))
    );
    assert_eq!(
        tick(&db, &at(60)),
        Vec::<Value>::new(),
        "that occurrence started its instance"
    );
    assert_eq!(
        schedule(&db, "hourly_report"),
        [json!({"start": "every_hour", "due": at(120), "fired": 1})]
    );

    // The scheduler was away for the occurrences at 2h to 5h: one instance
    // for all of them, and the next occurrence is the first after now.
    assert_eq!(tick(&db, &at(5 * 60 + 30)).len(), 1);
    assert_eq!(instances(&db).len(), 2);
    assert_eq!(
        schedule(&db, "hourly_report"),
        [json!({"start": "every_hour", "due": at(6 * 60), "fired": 2})]
    );
    let listed = cli(&["list", "--deployments", "--db", db.to_str().unwrap()]);
    let listed = text(&listed.stdout);
    assert!(
        listed.contains(&format!(
            "timer start event `every_hour` next starts an instance at {} (started 2 so far)",
            at(6 * 60)
        )),
        "{listed}"
    );

    // A new version's timers replace the schedule; deploying the same
    // diagrams again changes nothing.
    assert_eq!(
        deploy(&db, &fixture("timer_start.bpmn"), &at(600))["deployed"][0]["new"],
        false
    );
    assert_eq!(schedule(&db, "hourly_report")[0]["due"], at(6 * 60));
    let changed = dir.path().join("timer_start.bpmn");
    let xml = std::fs::read_to_string(fixture("timer_start.bpmn")).unwrap();
    std::fs::write(&changed, xml.replace("R/PT1H", "R2/PT30M")).unwrap();
    let redeployed = deploy(&db, &changed, &at(6 * 60));
    assert_eq!(redeployed["deployed"][0]["version"], 2);
    assert_eq!(
        schedule(&db, "hourly_report"),
        [json!({"start": "every_hour", "due": at(6 * 60 + 30), "fired": 0})]
    );
    assert_eq!(tick(&db, &at(6 * 60 + 30)).len(), 1);
    assert_eq!(tick(&db, &at(7 * 60)).len(), 1);
    assert_eq!(tick(&db, &at(9 * 60)), Vec::<Value>::new(), "R2: two in all");
    assert!(schedule(&db, "hourly_report").is_empty());
    assert_eq!(instances(&db).len(), 4);
}

#[test]
fn a_process_run_directly_waits_at_its_timer_start_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("direct.db");
    let started = run_kept(&db, "timer_start.bpmn", json!({"who": "ops"}), "in-process");
    assert_eq!(started["status"], "waiting", "{started}");
    let waiting = &started["waiting"][0];
    assert_eq!(
        (&waiting["spec"], &waiting["event"]),
        (&json!("every_hour"), &json!("timer"))
    );
    let due = waiting["due"].as_str().unwrap().to_string();
    let fired = tick(&db, &due);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["status"], "completed");
    assert_eq!(fired[0]["data"], json!({"who": "ops", "reported": true}));

    // Without a database, `--no-wait` stops there.
    let (out, code) = cli_json(&[
        "run",
        fixture("timer_start.bpmn").to_str().unwrap(),
        "--no-wait",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["status"], "waiting");
    assert_eq!(out["waiting"][0]["spec"], "every_hour");

    // A process with a none start too starts there when run, without waiting.
    let (out, code) = cli_json(&["run", fixture("timer_start_soon.bpmn").to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        (&out["status"], &out["data"]),
        (&json!("completed"), &json!({"warmed": true}))
    );
    let shortly: Vec<_> = (out["tasks"].as_array().unwrap().iter())
        .filter(|t| t["spec"] == "shortly")
        .collect();
    assert!(shortly.is_empty(), "{out}");
}

#[test]
fn a_timer_start_value_that_does_not_read_deploys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    let file = dir.path().join("bad_timer.bpmn");
    let xml = std::fs::read_to_string(fixture("timer_start.bpmn")).unwrap();
    std::fs::write(&file, xml.replace("R/PT1H", "every_so_often")).unwrap();
    let out = cli(&["deploy", file.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:8: timer start event `every_hour` of process `hourly_report`",
            file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("every_so_often"), "{stderr}");
    assert!(stderr.contains("nothing was deployed"), "{stderr}");
    let (listed, _) = cli_json(&["list", "--deployments", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(listed, json!([]));
}

#[test]
fn serve_starts_a_deployed_process_when_its_timer_start_event_falls_due() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    // By the clock: the timer falls due 0.3 s after the deployment.
    let (out, code) = cli_json(&[
        "deploy",
        fixture("timer_start_soon.bpmn").to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let server = serve(&db);
    // A generous bound on how long serve may take, never a measure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let listed = loop {
        let listed = instances(&db);
        if listed.len() == 1 && listed[0]["status"] == "completed" {
            break listed;
        }
        assert!(std::time::Instant::now() < deadline, "nothing started: {listed:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(schedule(&db, "warm_up").is_empty(), "a duration fires once");
    let (code, stdout) = stop(server);
    assert_eq!(code, Some(0));
    let id = listed[0]["id"].as_str().unwrap();
    assert!(
        stdout.contains(&format!(
            "timer start event `shortly` of process warm_up started instance {id}"
        )),
        "{stdout}"
    );
    assert_eq!(show(&db, id)["data"], json!({"warmed": true}));
}

#[test]
fn sigkilling_tick_at_twenty_points_starts_each_occurrence_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    deploy(&db, &fixture("timer_start.bpmn"), T0);
    // Each round: a `tick` killed at a pseudo-random point (before it
    // starts, mid-way, or after it is done), then a clean one at the same
    // virtual time, which finishes whatever the kill left.
    let mut seed: u64 = 0x71c4;
    for hour in 1..=20 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        // A whole `tick` here takes a few milliseconds.
        let after = std::time::Duration::from_micros((seed >> 33) % 10_000);
        let now = at(hour * 60);
        let mut killed = std::process::Command::new(wasmflow_tests::wasmflow_bin())
            .args(["tick", "--db", db.to_str().unwrap(), "--now", &now])
            .env("WASMFLOW_CACHE_DIR", wasmflow_tests::cache_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        killed.kill().unwrap();
        killed.wait().unwrap();
        tick(&db, &now);
        assert_eq!(instances(&db).len(), hour as usize, "after the tick at {now}");
    }
    for listed in instances(&db) {
        let shown = show(&db, listed["id"].as_str().unwrap());
        assert_eq!(shown["status"], "completed", "{shown}");
        assert_eq!(shown["data"], json!({"reported": true}));
    }
    assert_eq!(schedule(&db, "hourly_report")[0]["fired"], 20);
}
