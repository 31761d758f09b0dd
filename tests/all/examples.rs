//! The shipped examples, end to end through the command line, each with its
//! manifest: order product (services from scripts and as service tasks), read
//! file (grant, missing file caught, grant withdrawn) and dangerous (every
//! attempt refused, audited, nothing changed outside the sandbox).

use std::path::Path;

use serde_json::{Value, json};
use wasmflow_tests::*;

/// A copy of `examples/NAME` in a temporary directory, with its plugins
/// (which run.sh would copy) in `plugins/`.
fn example(name: &str, plugins: &[&str]) -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&source, dir.path());
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    for plugin_name in plugins {
        std::fs::copy(
            plugin(plugin_name),
            dir.path().join(format!("plugins/{plugin_name}.wasm")),
        )
        .unwrap();
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            if entry.file_name() == "plugins" {
                continue;
            }
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

fn run(args: &[&str]) -> (Value, i32) {
    let mut all = vec!["run", "--json", "--cache-dir"];
    let cache = cache_dir().display().to_string();
    all.push(&cache);
    all.extend_from_slice(args);
    cli_json(&all)
}

#[test]
fn order_product_runs_with_services_from_scripts_and_as_service_tasks() {
    let dir = example("order-product", &["lookup_product_info", "lookup_shipping_cost"]);
    let data = path(dir.path(), "order.json");
    for diagram in ["order_product.bpmn", "order_product_service_tasks.bpmn"] {
        let (out, code) = run(&[&path(dir.path(), diagram), "--data", &format!("@{data}")]);
        assert_eq!((code, &out["status"]), (0, &json!("completed")), "{diagram}: {out}");
        assert_eq!(out["data"]["order_total"], json!(75.0), "{diagram}: {out}");
        assert_eq!(out["data"]["product_info"]["product_price"], json!(25.0), "{diagram}");
        assert_eq!(out["data"]["shipping_cost"], json!(25.0), "{diagram}");
    }
    // Without the manifest's grant to the interpreter, the script's call is refused
    // (a service not granted is not even defined as a function of its name).
    let manifest = dir.path().join("wasmflow.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace(", \"lookup_shipping_cost\"]", "]")).unwrap();
    let (out, code) = run(&[&path(dir.path(), "order_product.bpmn"), "--data", &format!("@{data}")]);
    assert_eq!(code, 1, "{out}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("plugin `python` tried to call the service lookup_shipping_cost"),
        "{message}"
    );
    assert!(
        message.contains("allow_services = [\"lookup_shipping_cost\"]"),
        "{message}"
    );
    // Called by its name without the grant, the name is undefined: the error says which grant defines it.
    let without = text.replace(
        "allow_services = [\"lookup_product_info\", \"lookup_shipping_cost\"]",
        "",
    );
    std::fs::write(&manifest, without).unwrap();
    let (out, code) = run(&[&path(dir.path(), "order_product.bpmn"), "--data", &format!("@{data}")]);
    assert_eq!(code, 1, "{out}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`lookup_product_info` is a service: let inline scripts call it with `allow_services = [\"lookup_product_info\"]`"),
        "{message}"
    );
}

#[test]
fn read_file_reads_catches_a_missing_file_and_is_refused_without_its_grant() {
    let dir = example("read-file", &["read_file"]);
    let diagram = path(dir.path(), "read_file.bpmn");
    let audit = path(dir.path(), "audit.jsonl");

    let (out, code) = run(&[
        &diagram,
        "--data",
        r#"{"filename": "/data/letter.txt"}"#,
        "--audit",
        &audit,
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["data"]["message"], "read 39 characters from /data/letter.txt");

    let (out, code) = run(&[
        &diagram,
        "--data",
        r#"{"filename": "/data/invoice.txt"}"#,
        "--audit",
        &audit,
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["data"]["message"], "there is no file /data/invoice.txt", "{out}");
    assert_eq!(out["data"]["missing"], json!({"filename": "/data/invoice.txt"}));

    let denied = format!("read_file={}", path(dir.path(), "data"));
    let (out, code) = run(&[
        &diagram,
        "--data",
        r#"{"filename": "/data/letter.txt"}"#,
        "--deny-read",
        &denied,
        "--audit",
        &audit,
    ]);
    assert_eq!(code, 1, "{out}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("plugin `read_file` tried to read /data/letter.txt: no grant covers it"),
        "{message}"
    );
    assert!(
        message.contains("--deny-read"),
        "the denial says what withdrew the grant: {message}"
    );

    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<(bool, &str)> = lines
        .iter()
        .map(|l| (l["allowed"].as_bool().unwrap(), l["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (true, "/data/letter.txt"),
            (true, "/data/invoice.txt"),
            (false, "/data/letter.txt")
        ],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["plugin"], "read_file");
    assert_eq!(lines[0]["spec"], "read");
    assert_eq!(lines[0]["capability"], "read");
}

#[test]
fn the_dangerous_plugin_is_refused_everything_and_changes_nothing() {
    let dir = example("dangerous", &["dangerous"]);
    let marker = dir.path().join("outside/escaped.txt");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    let victim = dir.path().join("outside/victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    let data = json!({
        "paths": ["/data/allowed.txt", "/data/../../etc/passwd", "/data/passwd", "/proc/1/environ", victim.display().to_string()],
        "urls": ["http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data/"],
        "marker": marker.display().to_string(),
        "fail": false,
    });
    let audit = path(dir.path(), "audit.jsonl");
    for executor in ["in-process", "subprocess"] {
        let (out, code) = run(&[
            &path(dir.path(), "dangerous.bpmn"),
            "--data",
            &data.to_string(),
            "--audit",
            &audit,
            "--executor",
            executor,
        ]);
        assert_eq!(code, 0, "{executor}: {out}");
        let attempts = out["data"]["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 10, "{attempts:?}");
        for attempt in attempts {
            let allowed = attempt["what"] == "read /data/allowed.txt";
            assert_eq!(attempt["refused"], json!(!allowed), "{executor}: {attempt}");
        }
        assert_eq!(out["data"]["escaped"], json!(1), "only the granted file was read");
    }
    assert!(!marker.exists(), "nothing was written outside the sandbox");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let audit = std::fs::read_to_string(&audit).unwrap();
    for target in [
        "/etc/passwd",
        "/data/passwd",
        "/proc/1/environ",
        "escaped.txt",
        "169.254.169.254",
    ] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(target) && l.contains("\"allowed\":false")),
            "{target} denied in the audit:\n{audit}"
        );
    }
    // The task fails with the list when asked to, and the run reports every denial.
    let mut failing = data.clone();
    failing["fail"] = json!(true);
    let (out, code) = run(&[&path(dir.path(), "dangerous.bpmn"), "--data", &failing.to_string()]);
    assert_eq!(code, 1, "{out}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("plugin `dangerous` tried to read /etc/passwd"),
        "{message}"
    );
    assert!(
        message.contains("it resolves outside /data, to /etc/passwd"),
        "{message}"
    );
}

#[test]
fn check_reports_manifest_problems_with_file_and_line() {
    let dir = example("read-file", &["read_file"]);
    let manifest = dir.path().join("wasmflow.toml");
    std::fs::write(
        &manifest,
        "[plugins.read_file]\nmodule = \"plugins/read_file.wasm\"\nallow_raed = [\"./data\"]\n",
    )
    .unwrap();
    let out = cli(&["check", &path(dir.path(), "read_file.bpmn")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:3:1:", manifest.display())), "{stderr}");
    assert!(stderr.contains("allow_raed"), "{stderr}");

    std::fs::write(
        &manifest,
        "[plugins.read_file]\nmodule = \"plugins/read_file.wasm\"\nsha256 = \"".to_string()
            + &"ab".repeat(32)
            + "\"\nservices = [\"read_file\"]\n",
    )
    .unwrap();
    let (out, code) = run(&[
        &path(dir.path(), "read_file.bpmn"),
        "--data",
        r#"{"filename": "/data/letter.txt"}"#,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out["error"]["message"].as_str().unwrap().contains("refusing to run it"),
        "{out}"
    );
}

#[test]
fn payment_timeout_run_sh_ships_the_paid_order_and_serve_cancels_the_late_one() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/payment-timeout/run.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .env("WASMFLOW", wasmflow_bin())
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .output()
        .expect("bash runs");
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("message `payment` with order_id=1001"), "{stdout}");
    assert!(stdout.contains("outcome: shipped INV-1001, paid 42.5"), "{stdout}");
    assert!(
        stdout.contains("outcome: cancelled INV-1002: not paid within PT1S"),
        "{stdout}"
    );
    assert!(stdout.contains("serve stopped"), "{stdout}");
    assert!(
        stderr.contains("no waiting instance waits for message `payment`"),
        "the late payment is refused, not lost: {stderr}"
    );
}
