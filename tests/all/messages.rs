//! Messages through the command line: kept instances wait for them with the
//! correlation values their data gives, `message` delivers one to the catch
//! it correlates with (found through the store's index) and runs that
//! instance on, and a message nothing waits for is refused with what does.

use std::path::Path;

use serde_json::{Value, json};
use wasmflow_tests::{cli, cli_json, fixture, history_of, run_kept, serve, states, stop, text, until_none_waits};

/// `message NAME ARGS... --db DB`, as run.
fn message(db: &Path, name: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["message", name, "--db", db.to_str().unwrap()];
    all.extend(args);
    cli(&all)
}

/// `message ... --json`: the instances delivered.
fn delivered(db: &Path, name: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["message", name, "--db", db.to_str().unwrap(), "--json"];
    all.extend(args);
    let (out, code) = cli_json(&all);
    assert_eq!(code, 0, "{out}");
    out["delivered"].as_array().expect("a list of instances").clone()
}

fn show(db: &Path, id: &str) -> Value {
    let (instance, code) = cli_json(&["show", id, "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{instance}");
    instance
}

fn id(instance: &Value) -> &str {
    instance["id"].as_str().unwrap()
}

#[test]
fn two_instances_wait_for_one_message_name_and_each_takes_only_its_own_on_either_executor() {
    for executor in ["in-process", "subprocess"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("orders.db");
        let first = run_kept(&db, "message_payment.bpmn", json!({"order_id": 7}), executor);
        let second = run_kept(&db, "message_payment.bpmn", json!({"order_id": "8"}), executor);
        let entry = (first["waiting"].as_array().unwrap().iter())
            .find(|w| w["event"] == "message")
            .unwrap_or_else(|| panic!("no message waiter: {first}"));
        assert_eq!(
            (
                &entry["spec"],
                &entry["name"],
                &entry["task_name"],
                &entry["correlation"]
            ),
            (
                &json!("payment_received"),
                &json!("Payment"),
                &json!("Payment received"),
                &json!({"order_id": "7"})
            ),
            "{entry}"
        );

        let got = delivered(
            &db,
            "Payment",
            &[
                "--correlate",
                "order_id=8",
                "--data",
                r#"{"amount": 30}"#,
                "--executor",
                executor,
            ],
        );
        assert_eq!(got.len(), 1);
        assert_eq!(id(&got[0]), id(&second));
        assert_eq!(got[0]["status"], "completed", "{}", got[0]);
        assert_eq!(got[0]["data"]["outcome"], "shipped for 30");
        assert_eq!(got[0]["data"]["payment"], json!({"amount": 30}));
        assert_eq!(states(&got[0], "too_late"), ["CANCELLED"]);

        let untouched = show(&db, id(&first));
        assert_eq!(untouched["status"], "waiting");
        // A number in the data correlates with its text.
        let got = delivered(
            &db,
            "Payment",
            &["--correlate", "order_id=7", "--data", r#"{"amount": 5}"#],
        );
        assert_eq!(
            (id(&got[0]), &got[0]["data"]["outcome"]),
            (id(&first), &json!("shipped for 5"))
        );
    }
}

#[test]
fn a_message_nothing_correlates_with_is_refused_with_what_waits_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orders.db");
    let first = run_kept(&db, "message_payment.bpmn", json!({"order_id": 7}), "in-process");
    run_kept(&db, "message_payment.bpmn", json!({"order_id": 8}), "in-process");

    let refused = message(&db, "Payment", &["--correlate", "order_id=99"]);
    assert_ne!(refused.status.code(), Some(0));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("nothing was delivered"), "{stderr}");
    assert!(
        stderr.contains("order_id=7") && stderr.contains("order_id=8"),
        "{stderr}"
    );
    assert!(stderr.contains(id(&first)), "{stderr}");
    assert!(text(&refused.stdout).is_empty());

    let refused = message(&db, "Paymnet", &[]);
    let stderr = text(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        stderr.contains("no waiting instance waits for message `Paymnet`") && stderr.contains("`Payment`"),
        "{stderr}"
    );

    // Named by --instance, the refusal says what that instance waits for.
    let refused = message(&db, "Payment", &["--instance", id(&first), "--correlate", "order_id=8"]);
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("it waits for `Payment` with order_id=7"), "{stderr}");

    // A payload that does not parse is refused before anything is looked at.
    let refused = message(&db, "Payment", &["--correlate", "order_id=7", "--data", "{nope"]);
    assert!(
        text(&refused.stderr).contains("--data is not valid JSON"),
        "{}",
        text(&refused.stderr)
    );
    let refused = message(&db, "Payment", &["--correlate", "order_id"]);
    assert!(
        text(&refused.stderr).contains("is not KEY=VALUE"),
        "{}",
        text(&refused.stderr)
    );

    let after = show(&db, id(&first));
    assert_eq!(after["status"], "waiting");
    assert_eq!(after["waiting"], first["waiting"], "nothing changed");
}

#[test]
fn the_timer_wins_when_the_message_is_late_and_then_the_message_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orders.db");
    let order = run_kept(&db, "message_payment.bpmn", json!({"order_id": 1}), "in-process");
    let due = (order["waiting"].as_array().unwrap().iter())
        .find(|w| w["event"] == "timer")
        .map(|w| w["due"].as_str().unwrap().to_string())
        .unwrap();
    let (ticked, code) = cli_json(&["tick", "--db", db.to_str().unwrap(), "--now", &due, "--json"]);
    assert_eq!(code, 0, "{ticked}");
    assert_eq!(ticked["delivered"][0]["data"]["outcome"], "cancelled");
    assert_eq!(states(&ticked["delivered"][0], "payment_received"), ["CANCELLED"]);
    let late = message(&db, "Payment", &["--correlate", "order_id=1"]);
    assert_ne!(late.status.code(), Some(0));
    assert!(text(&late.stderr).contains("no waiting instance waits for message `Payment`"));
}

#[test]
fn boundary_messages_interrupt_or_not_a_waiting_user_task_and_a_receive_task_waits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("review.db");
    let started = run_kept(&db, "message_boundary.bpmn", json!({"nudges": 0}), "in-process");
    let mut events: Vec<(String, String)> = (started["waiting"].as_array().unwrap().iter())
        .map(|w| {
            (
                w["spec"].as_str().unwrap().into(),
                w["event"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("approve".to_string(), String::new()),
            ("nudged".into(), "message".into()),
            ("withdrawn".into(), "message".into())
        ]
    );
    for _ in 0..2 {
        let got = delivered(&db, "nudge", &["--instance", id(&started)]);
        assert_eq!(got[0]["status"], "waiting");
    }
    let got = delivered(&db, "withdraw", &[]);
    assert_eq!(states(&got[0], "approve"), ["CANCELLED"]);
    assert_eq!(states(&got[0], "count_nudge"), ["COMPLETED", "COMPLETED"]);
    // The waiter goes with its task; each nudge was a token of its own.
    assert_eq!(states(&got[0], "nudged"), ["CANCELLED", "COMPLETED", "COMPLETED"]);
    let receipt = (got[0]["waiting"].as_array().unwrap().iter())
        .find(|w| w["spec"] == "await_receipt")
        .unwrap_or_else(|| panic!("{}", got[0]));
    assert_eq!(
        (&receipt["type"], &receipt["name"]),
        (&json!("receiveTask"), &json!("receipt"))
    );
    let refused = message(&db, "nudge", &[]);
    assert!(text(&refused.stderr).contains("`receipt`"), "{}", text(&refused.stderr));
    let got = delivered(&db, "receipt", &["--data", r#"{"signed": true}"#]);
    assert_eq!(got[0]["status"], "completed");
    assert_eq!(got[0]["data"]["signed"], true);
}

#[test]
fn a_signal_wakes_every_instance_waiting_for_it_and_a_second_one_reaches_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("standby.db");
    let mut started: Vec<String> = (0..5)
        .map(|n| {
            let instance = run_kept(&db, "signal_wait.bpmn", json!({"n": n}), "in-process");
            let entry = &instance["waiting"][0];
            assert_eq!(
                (&entry["event"], &entry["name"]),
                (&json!("signal"), &json!("release")),
                "{entry}"
            );
            id(&instance).to_string()
        })
        .collect();
    // Another process waiting for something else is not woken.
    let other = run_kept(&db, "message_payment.bpmn", json!({"order_id": 1}), "in-process");

    let (out, code) = cli_json(&[
        "signal",
        "release",
        "--db",
        db.to_str().unwrap(),
        "--data",
        r#""maintenance over""#,
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let woken = out["delivered"].as_array().unwrap();
    let mut ids: Vec<String> = woken.iter().map(|w| id(w).to_string()).collect();
    ids.sort();
    started.sort();
    assert_eq!(ids, started);
    for instance in woken {
        assert_eq!(instance["status"], "completed", "{instance}");
        assert_eq!(instance["data"]["done"], "released: maintenance over");
    }
    assert_eq!(show(&db, id(&other))["status"], "waiting");

    let again = cli(&["signal", "release", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(again.status.code(), Some(0));
    let out: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(out, json!({"delivered": []}));
    let stderr = text(&again.stderr);
    assert!(stderr.contains("signal `release` reached no instance"), "{stderr}");
}

#[test]
fn sigkilling_message_at_twenty_points_loses_no_message_and_delivers_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let ids: Vec<String> = (0..20)
        .map(|n| {
            id(&run_kept(
                &db,
                "message_payment.bpmn",
                json!({"order_id": n}),
                "in-process",
            ))
            .to_string()
        })
        .collect();
    // Each order's payment is sent once and the sender killed at a point
    // spread over the command's life (a fixed pseudo-random order): before
    // the store is open, while the delivery is saved, while the instance
    // runs on, after it is done.
    let mut seed: u64 = 0x3e55a9e;
    for n in 0..ids.len() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = std::time::Duration::from_millis(5 + (seed >> 33) % 250);
        let mut sender = std::process::Command::new(wasmflow_tests::wasmflow_bin())
            .args(["message", "Payment", "--db", db.to_str().unwrap()])
            .args([
                "--correlate",
                &format!("order_id={n}"),
                "--data",
                &format!(r#"{{"amount": {n}}}"#),
            ])
            .env("WASMFLOW_CACHE_DIR", wasmflow_tests::cache_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("message starts");
        std::thread::sleep(after);
        let _ = sender.kill();
        sender.wait().unwrap();
    }
    // The senders do not know whether their message arrived: each sends it
    // again, unkilled. A message already delivered is refused (nothing waits
    // for it any more), never delivered a second time.
    for n in 0..ids.len() {
        let again = message(
            &db,
            "Payment",
            &[
                "--correlate",
                &format!("order_id={n}"),
                "--data",
                &format!(r#"{{"amount": {n}}}"#),
            ],
        );
        let refused = text(&again.stderr);
        assert!(
            again.status.success() || refused.contains("nothing was delivered"),
            "{refused}"
        );
    }
    // What a killed sender left running runs on at the next scheduler pass.
    let (_, code) = cli_json(&["tick", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    for (n, id) in ids.iter().enumerate() {
        let shown = show(&db, id);
        assert_eq!(shown["status"], "completed", "{shown}");
        assert_eq!(shown["data"]["payment"], json!({"amount": n}), "{shown}");
        assert_eq!(history_of(&shown, "message_received").len(), 1, "{id}: {shown}");
    }
}

#[test]
fn check_accepts_the_message_fixtures_and_reports_a_correlation_expression_that_does_not_parse() {
    for name in ["message_payment.bpmn", "message_boundary.bpmn", "signal_wait.bpmn"] {
        let output = cli(&["check", fixture(name).to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", text(&output.stderr));
    }
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("bad_path.bpmn");
    let xml = std::fs::read_to_string(fixture("message_payment.bpmn"))
        .unwrap()
        .replace("<bpmn:messagePath>order_id<", "<bpmn:messagePath>order[<");
    std::fs::write(&diagram, xml).unwrap();
    let output = cli(&["check", diagram.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr
            .contains("payment_received: the messagePath of correlation property `order_id` (`order[`) does not parse"),
        "{stderr}"
    );
}

/// `run FILE --process PROCESS --db DB --json` with `data`.
/// `run FIXTURE --process PROCESS --db DB --data DATA --json`, which must
/// succeed: the instance object and stderr.
fn run_process_of(fixture_name: &str, db: &Path, process: &str, data: Value) -> (Value, String) {
    let output = cli(&[
        "run",
        fixture(fixture_name).to_str().unwrap(),
        "--process",
        process,
        "--db",
        db.to_str().unwrap(),
        "--data",
        &data.to_string(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    (serde_json::from_slice(&output.stdout).unwrap(), text(&output.stderr))
}

#[test]
fn thrown_messages_reach_other_instances_and_their_replies_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exchange.db");
    let (warehouse, _) = run_process_of("message_exchange.bpmn", &db, "warehouse", json!({}));
    assert_eq!(warehouse["waiting"][0]["name"], "order");
    // The shop's order leaves it (nothing in the shop takes it), reaches the
    // warehouse, whose confirmation comes back to the shop, correlated by
    // the order number.
    let (shop, _) = run_process_of(
        "message_exchange.bpmn",
        &db,
        "shop",
        json!({"order_id": 5, "item": "pen"}),
    );
    let shop = show(&db, id(&shop));
    assert_eq!(shop["status"], "completed", "{shop}");
    assert_eq!(shop["data"]["confirmation"], json!({"order_id": 5, "picked": "pen"}));
    let warehouse = show(&db, id(&warehouse));
    assert_eq!(warehouse["status"], "completed", "{warehouse}");
    assert_eq!(warehouse["data"]["order"], json!({"order_id": 5, "item": "pen"}));
    let sent = |instance: &Value, event: &str| {
        (instance["history"].as_array().unwrap().iter())
            .filter(|e| e["event"] == event)
            .count()
    };
    assert_eq!((sent(&shop, "message_sent"), sent(&shop, "message_received")), (1, 1));
    assert_eq!(
        (sent(&warehouse, "message_sent"), sent(&warehouse, "message_received")),
        (1, 1)
    );

    // With no warehouse waiting, the order reaches nobody: said, and recorded.
    let (lonely, stderr) = run_process_of(
        "message_exchange.bpmn",
        &db,
        "shop",
        json!({"order_id": 6, "item": "ink"}),
    );
    assert!(stderr.contains("message `order` thrown by instance"), "{stderr}");
    let lonely = show(&db, id(&lonely));
    assert_eq!(lonely["status"], "waiting");
    let undelivered: Vec<&Value> = (lonely["history"].as_array().unwrap().iter())
        .filter(|e| e["event"] == "message_undelivered")
        .collect();
    assert_eq!(undelivered.len(), 1, "{lonely}");
    assert_eq!(undelivered[0]["correlation"], json!({"order_id": "6"}));
}

#[test]
fn a_thrown_signal_reaches_the_instances_waiting_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("signals.db");
    let waiting: Vec<String> = (0..3)
        .map(|n| id(&run_kept(&db, "signal_wait.bpmn", json!({"n": n}), "in-process")).to_string())
        .collect();
    let thrower = dir.path().join("release.bpmn");
    let xml = format!(
        r#"{}<bpmn:process id="release_all" isExecutable="true"><bpmn:startEvent id="s" />
<bpmn:endEvent id="e"><bpmn:signalEventDefinition signalRef="release" /></bpmn:endEvent>
<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" /></bpmn:process>
<bpmn:signal id="release" name="release"><bpmn:extensionElements>
<spiffworkflow:payloadExpression>why</spiffworkflow:payloadExpression></bpmn:extensionElements></bpmn:signal></bpmn:definitions>"#,
        wasmflow_tests::HEADER.replace(
            "<bpmn:definitions ",
            r#"<bpmn:definitions xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" "#
        )
    );
    std::fs::write(&thrower, xml).unwrap();
    let (out, code) = cli_json(&[
        "run",
        thrower.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--data",
        r#"{"why": "all clear"}"#,
        "--json",
    ]);
    assert_eq!((code, &out["status"]), (0, &json!("completed")), "{out}");
    for id in &waiting {
        let shown = show(&db, id);
        assert_eq!(shown["status"], "completed", "{shown}");
        assert_eq!(shown["data"]["done"], "released: all clear");
    }
}

#[test]
fn deployed_processes_start_by_their_message_or_signal_and_a_new_version_serves_new_instances() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deployed.db");
    let diagram = dir.path().join("intake.bpmn");
    std::fs::copy(fixture("message_start.bpmn"), &diagram).unwrap();
    let (db_arg, file) = (db.to_str().unwrap(), diagram.to_str().unwrap());

    // Run directly, a process started only by a message says how to start it.
    let direct = cli(&["run", file, "--process", "intake"]);
    assert_ne!(direct.status.code(), Some(0));
    let stderr = text(&direct.stderr);
    assert!(
        stderr.contains("process `intake` starts only by message `new_order`: deploy it"),
        "{stderr}"
    );

    let deployed = cli(&["deploy", file, "--db", db_arg]);
    let stdout = text(&deployed.stdout);
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    assert!(
        stdout.contains("process intake: version 1 deployed; started by message `new_order`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("process audit: version 1 deployed; started by signal `audit_now`"),
        "{stdout}"
    );
    let (again, code) = cli_json(&["deploy", file, "--db", db_arg, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        again["deployed"][0],
        json!({"process": "intake", "version": 1, "new": false, "timers": []})
    );

    let got = delivered(&db, "new_order", &["--data", r#"{"order_id": 3}"#]);
    assert_eq!(
        (&got[0]["status"], &got[0]["data"]["registered"]),
        (&json!("completed"), &json!("order 3"))
    );

    // A second version: new instances use it.
    let changed = std::fs::read_to_string(&diagram)
        .unwrap()
        .replace("\"order %s\"", "\"order no. %s\"");
    std::fs::write(&diagram, changed).unwrap();
    let (redeployed, _) = cli_json(&["deploy", file, "--db", db_arg, "--json"]);
    assert_eq!(
        redeployed["deployed"][0],
        json!({"process": "intake", "version": 2, "new": true, "timers": []})
    );
    let got = delivered(&db, "new_order", &["--data", r#"{"order_id": 4}"#]);
    assert_eq!(got[0]["data"]["registered"], "order no. 4");

    let (listed, _) = cli_json(&["list", "--deployments", "--db", db_arg, "--json"]);
    let versions: Vec<(String, u64)> = (listed.as_array().unwrap().iter())
        .map(|d| {
            (
                d["process"].as_str().unwrap().to_string(),
                d["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("audit".into(), 1),
            ("audit".into(), 2),
            ("intake".into(), 1),
            ("intake".into(), 2)
        ]
    );

    let (out, code) = cli_json(&["signal", "audit_now", "--db", db_arg, "--json"]);
    assert_eq!(code, 0, "{out}");
    let started = out["delivered"].as_array().unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["data"]["audited"], true);
}

#[test]
fn sigkilling_serve_while_it_routes_messages_loses_none_and_delivers_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let start = |process: &str, data: Value| -> String {
        let (out, _) = run_process_of("message_relay.bpmn", &db, process, data);
        assert_eq!(out["status"], "waiting", "{out}");
        out["id"].as_str().unwrap().to_string()
    };
    // Each pair: a receiver waiting for parcel i, and a sender whose timer
    // falls due within the first second of the kills, after which serve
    // routes its parcel to the receiver and the receipt back.
    let mut pairs = Vec::new();
    for i in 0..16 {
        let receiver = start("relay_receiver", json!({"parcel_id": i}));
        let period = format!("PT0.{:03}S", 40 + 53 * i);
        let sender = start("relay_sender", json!({"parcel_id": i, "period": period}));
        pairs.push((i, sender, receiver));
    }
    let mut seed: u64 = 0xfeed;
    for _ in 0..20 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = std::time::Duration::from_millis(10 + (seed >> 33) % 300);
        let mut server = serve(&db);
        std::thread::sleep(after);
        server.kill().unwrap();
        server.wait().unwrap();
    }
    let server = serve(&db);
    until_none_waits(&db);
    let (code, _) = stop(server);
    assert_eq!(code, Some(0));
    let received = |shown: &Value| -> Vec<Value> {
        (history_of(shown, "message_received").iter())
            .map(|e| e["name"].clone())
            .collect()
    };
    for (i, sender, receiver) in &pairs {
        let taken = show(&db, receiver);
        assert_eq!(taken["status"], "completed", "{taken}");
        assert_eq!(taken["data"]["signed"], format!("parcel {i}"));
        assert_eq!(received(&taken), ["parcel"], "exactly one parcel: {taken}");
        let sent = show(&db, sender);
        assert_eq!(sent["status"], "completed", "{sent}");
        assert_eq!(
            sent["data"]["receipt"],
            json!({"parcel_id": i, "signed": format!("parcel {i}")})
        );
        assert_eq!(received(&sent), ["receipt"], "exactly one receipt: {sent}");
        assert_eq!(history_of(&sent, "message_undelivered"), Vec::<Value>::new(), "{sent}");
    }
}

#[test]
fn a_camunda_8_catch_waits_for_its_correlation_key_and_one_it_cannot_compute_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("zeebe.db");
    let started = run_kept(&db, "zeebe_payment.bpmn", json!({"order": {"id": "A-7"}}), "in-process");
    assert_eq!(started["status"], "waiting", "{started}");
    let waiting = &started["waiting"][0];
    assert_eq!(
        (&waiting["name"], &waiting["correlation"]),
        (&json!("payment"), &json!({"correlationKey": "A-7"}))
    );

    let wrong = message(&db, "payment", &["--correlation-key", "A-8"]);
    assert_ne!(wrong.status.code(), Some(0));
    let stderr = text(&wrong.stderr);
    assert!(stderr.contains("waits for correlationKey=A-7"), "{stderr}");
    let got = delivered(
        &db,
        "payment",
        &["--correlation-key", "A-7", "--data", r#"{"amount": 12}"#],
    );
    assert_eq!(
        (&got[0]["status"], &got[0]["data"]["amount"]),
        (&json!("completed"), &json!(12))
    );

    // With no order in the data there is no key to wait for: the catch
    // fails (Camunda raises an incident), rather than taking any payment.
    let (failed, code) = cli_json(&[
        "run",
        fixture("zeebe_payment.bpmn").to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!((code, &failed["status"]), (1, &json!("error")), "{failed}");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(message.contains("the correlation value `correlationKey`"), "{message}");

    // FEEL beyond a path is refused where it is written.
    let file = dir.path().join("feel.bpmn");
    let xml = std::fs::read_to_string(fixture("zeebe_payment.bpmn")).unwrap();
    std::fs::write(
        &file,
        xml.replace("=order.id", "=order.id + &quot;-&quot; + string(attempt)"),
    )
    .unwrap();
    let out = cli(&["check", file.to_str().unwrap()]);
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(
        said.contains(":16:7: payment_message: zeebe:subscription correlationKey `=order.id + \"-\" + string(attempt)`: only a variable"),
        "{said}"
    );
}
