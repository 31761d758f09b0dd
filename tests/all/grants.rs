//! Capability grants, on both executors: each kind allowed and denied, path
//! escapes, read-only directories, environment variables, service calls,
//! module pins and `on_error`, and every denial naming the plugin, what it
//! tried and the grant that would allow it.

// ScriptError is large on purpose (plugin, message, log); tests pass it around freely.
#![allow(clippy::result_large_err)]
use std::path::Path;

use serde_json::{Value, json};
use wasmflow::capability::{Capability, Check};
use wasmflow::engine::Status;
use wasmflow::script::{Answer, Catalog, FailureKind, ScriptEngine, ScriptError, TaskInfo};
use wasmflow_tests::*;

/// An engine on `scripts`' executor whose catalog `setup` fills.
fn engine(scripts: &ScriptEngine, setup: impl FnOnce(&mut Catalog)) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    setup(&mut catalog);
    ScriptEngine::with_catalog(scripts.executor().clone(), catalog)
}

fn service(engine: &ScriptEngine, operation: &str, params: Value) -> Result<Value, ScriptError> {
    engine
        .call_service(&TaskInfo::default(), operation, &object(params))
        .map(|outcome| outcome.value.done().expect("the service answers with a value"))
}

/// A directory with `data/note.txt`, a symlink `data/passwd` to /etc/passwd,
/// and a sibling `secret.txt` outside `data`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/note.txt"), "hello grants\n").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "top secret\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("data/passwd")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("data/secret")).unwrap();
    dir
}

fn grant_read(catalog: &mut Catalog, plugin: &str, base: &Path, write: bool) {
    catalog
        .entry_mut(plugin)
        .grants
        .allow_dir("./data", base, write)
        .unwrap();
}

/// Asserts a failure is a denial that names the plugin, the target and a grant to add.
fn assert_denied(error: &ScriptError, plugin: &str, target: &str, grant: &str) {
    let message = &error.message;
    assert!(message.contains(&format!("plugin `{plugin}` tried to")), "{message}");
    assert!(message.contains(target), "{message}");
    assert!(message.contains(grant), "{message}");
    assert!(
        error.log.contains("[denied]"),
        "the log records the denial: {}",
        error.log
    );
}

for_each_executor! {
    #[test]
    fn reading_needs_a_grant(scripts: &ScriptEngine) {
        let dir = workspace();
        let ungranted = engine(scripts, |_| {});
        let error = service(&ungranted, "read_file", json!({"filename": "/data/note.txt"})).unwrap_err();
        assert_eq!(error.kind, FailureKind::PluginError);
        assert_denied(&error, "read_file", "/data/note.txt", "--allow-read read_file=/data");

        let granted = engine(scripts, |c| grant_read(c, "read_file", dir.path(), false));
        let value = service(&granted, "read_file", json!({"filename": "/data/note.txt"})).unwrap();
        assert_eq!(value["content"], "hello grants\n");
        // A relative path resolves from `/`, so `data/...` is the same file.
        let value = service(&granted, "read_file", json!({"filename": "data/note.txt"})).unwrap();
        assert_eq!(value["content"], "hello grants\n");
        // Another plugin does not inherit the grant.
        let error = service(&granted, "write_file", json!({"filename": "/data/x", "content": "x"})).unwrap_err();
        assert_denied(&error, "write_file", "/data/x", "allow_write");
    }

    #[test]
    fn paths_cannot_escape_a_grant(scripts: &ScriptEngine) {
        let dir = workspace();
        let granted = engine(scripts, |c| grant_read(c, "read_file", dir.path(), false));
        for (path, why) in [
            ("/data/../secret.txt", "climbs out of /data"),
            ("data/../../etc/passwd", "climbs out of /data"),
            ("/etc/passwd", "no grant covers it"),
            ("/data/passwd", "resolves outside /data"),
            ("/data/secret", "resolves outside /data"),
        ] {
            let error = service(&granted, "read_file", json!({"filename": path})).unwrap_err();
            assert_eq!(error.kind, FailureKind::PluginError, "{path}: {error}");
            assert!(error.message.contains(why), "{path}: {}", error.message);
            assert!(!error.message.contains("top secret") && !error.message.contains("root:"), "{path} leaked");
        }
    }

    #[test]
    fn a_read_only_grant_refuses_writes(scripts: &ScriptEngine) {
        let dir = workspace();
        let read_only = engine(scripts, |c| grant_read(c, "write_file", dir.path(), false));
        let error = service(&read_only, "write_file", json!({"filename": "/data/note.txt", "content": "changed"})).unwrap_err();
        assert_denied(&error, "write_file", "/data/note.txt", "allow_write = [\"/data\"]");
        let error = service(&read_only, "write_file", json!({"filename": "/data/new.txt", "content": "new"})).unwrap_err();
        assert!(error.message.contains("granted read-only"), "{}", error.message);
        assert_eq!(std::fs::read_to_string(dir.path().join("data/note.txt")).unwrap(), "hello grants\n");
        assert!(!dir.path().join("data/new.txt").exists());

        let writable = engine(scripts, |c| grant_read(c, "write_file", dir.path(), true));
        assert_eq!(service(&writable, "write_file", json!({"filename": "/data/new.txt", "content": "new"})).unwrap(), json!(3));
        assert_eq!(std::fs::read_to_string(dir.path().join("data/new.txt")).unwrap(), "new");
        // Writable, but still not outside the grant.
        let error = service(&writable, "write_file", json!({"filename": "/data/../escaped.txt", "content": "x"})).unwrap_err();
        assert!(error.message.contains("climbs out"), "{}", error.message);
        assert!(!dir.path().join("escaped.txt").exists());
    }

    #[test]
    fn a_deny_overrides_an_allow(scripts: &ScriptEngine) {
        let dir = workspace();
        let denied = engine(scripts, |c| {
            grant_read(c, "read_file", dir.path(), false);
            c.entry_mut("read_file").grants.deny_dir("data/sub", dir.path(), false).unwrap();
        });
        let error = service(&denied, "read_file", json!({"filename": "/data/note.txt"})).unwrap_err();
        assert!(error.message.contains("no grant covers it"), "{}", error.message);
    }

    #[test]
    fn environment_variables_are_granted_by_name(scripts: &ScriptEngine) {
        let path = std::env::var("PATH").expect("the test environment has PATH");
        let engine = engine(scripts, |c| c.entry_mut("env_var").grants.allow_env("PATH").unwrap());
        assert_eq!(service(&engine, "env_var", json!({"name": "PATH"})).unwrap(), json!(path));
        assert_eq!(service(&engine, "env_var", json!({"name": "HOME"})).unwrap(), Value::Null);
        let ungranted = self::engine(scripts, |_| {});
        assert_eq!(service(&ungranted, "env_var", json!({"name": "PATH"})).unwrap(), Value::Null);
    }

    #[test]
    fn a_plugin_calls_only_the_services_it_was_granted(scripts: &ScriptEngine) {
        let granted = engine(scripts, |c| {
            let grants = &mut c.entry_mut("order_quote").grants;
            grants.allow_service("lookup_product_info").unwrap();
            grants.allow_service("lookup_shipping_cost").unwrap();
        });
        let data = json!({"product_name": "product_c", "product_quantity": 2, "shipping_method": "overnight"});
        let workflow = run_xml(&plugin_task("order_quote"), data.clone(), &granted);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["order_total"], json!(75.0));
        assert_eq!(workflow.data()["product_info"]["product_weight"], json!(2.5));

        let partly = engine(scripts, |c| c.entry_mut("order_quote").grants.allow_service("lookup_product_info").unwrap());
        let workflow = run_xml(&plugin_task("order_quote"), data, &partly);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert!(error.message.contains("plugin `order_quote` tried to call the service lookup_shipping_cost"), "{}", error.message);
        assert!(error.message.contains("allow_services = [\"lookup_shipping_cost\"]"), "{}", error.message);
    }

    #[test]
    fn a_called_service_runs_with_its_own_grants(scripts: &ScriptEngine) {
        let dir = workspace();
        let engine = engine(scripts, |c| {
            c.entry_mut("call_any").grants.allow_service("read_file").unwrap();
            grant_read(c, "read_file", dir.path(), false);
        });
        let data = json!({"operation": "read_file", "params": {"filename": "/data/note.txt"}});
        let workflow = run_xml(&plugin_task("call_any"), data, &engine);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["result"]["content"], "hello grants\n");
        // The callee's BPMN error comes back through the caller as the same BPMN error.
        let data = json!({"operation": "read_file", "params": {"filename": "/data/missing.txt"}});
        let workflow = run_xml(&plugin_task("call_any"), data, &engine);
        let error = workflow.error().expect("uncaught BPMN error");
        assert_eq!(error.code.as_deref(), Some("file_not_found"));
        assert_eq!(error.payload, Some(json!({"filename": "/data/missing.txt"})));
        // The caller itself still cannot read the directory.
        let workflow = run_xml(&plugin_task("read_passwd"), json!({}), &engine);
        assert!(workflow.error().unwrap().message.contains("no grant covers it"));
    }

    #[test]
    fn inline_scripts_call_granted_services(scripts: &ScriptEngine) {
        let engine = engine(scripts, |c| {
            let grants = &mut c.entry_mut("python").grants;
            grants.allow_service("lookup_product_info").unwrap();
        });
        let source = "info = lookup_product_info(product_name=product_name)\nsame = call_service('lookup_product_info', product_name='product_a')\ntotal = info['product_price'] * 2";
        let workflow = run_xml(&inline_task(source), json!({"product_name": "product_b"}), &engine);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["total"], json!(30.0));
        assert_eq!(workflow.data()["same"]["product_name"], "product_a");
        assert!(workflow.data().get("lookup_product_info").is_none(), "service functions are not data");
        // A BPMN error thrown by the service is thrown from the script task.
        let workflow = run_xml(&inline_task("info = lookup_product_info(product_name='nope')"), json!({}), &engine);
        assert_eq!(workflow.error().unwrap().code.as_deref(), Some("unknown_product"));
        // Not granted: a clear denial.
        let workflow = run_xml(&inline_task("x = call_service('lookup_shipping_cost', shipping_method='standard')"), json!({}), &engine);
        let error = workflow.error().unwrap();
        assert!(error.message.contains("plugin `python` tried to call the service lookup_shipping_cost"), "{}", error.message);
    }

    #[test]
    fn a_pinned_module_must_match(scripts: &ScriptEngine) {
        let wasm = std::fs::read(plugin("lookup_product_info")).unwrap();
        let right = sha256_hex(&wasm);
        let pinned = |sha: &str| {
            let sha = sha.to_string();
            engine(scripts, move |c| {
                let entry = c.entry_mut("lookup_product_info");
                entry.module = Some(plugin("lookup_product_info"));
                entry.sha256 = Some(sha);
            })
        };
        let value = service(&pinned(&right), "lookup_product_info", json!({"product_name": "product_a"})).unwrap();
        assert_eq!(value["product_price"], json!(15.0));
        let wrong = "0".repeat(64);
        let error = service(&pinned(&wrong), "lookup_product_info", json!({"product_name": "product_a"})).unwrap_err();
        assert_eq!(error.kind, FailureKind::Load);
        assert!(error.message.contains("refusing to run it") && error.message.contains(&right), "{}", error.message);
    }

    #[test]
    fn on_error_turns_a_failure_into_a_bpmn_error(scripts: &ScriptEngine) {
        let engine = engine(scripts, |c| c.entry_mut("lookup_shipping_cost").on_error = Some("shipping_unavailable".into()));
        let params = object(json!({"shipping_method": "by pigeon"}));
        let answer = engine.call_service(&TaskInfo::default(), "lookup_shipping_cost", &params).unwrap().value;
        let Answer::BpmnError(error) = answer else { panic!("not a BPMN error: {answer:?}") };
        assert_eq!(error.code, "shipping_unavailable");
        assert!(error.payload.unwrap()["message"].as_str().unwrap().contains("by pigeon"));
        // A success is untouched.
        assert_eq!(service(&engine, "lookup_shipping_cost", json!({"shipping_method": "standard"})).unwrap(), json!(5.0));
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .expect("sha256sum runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn denials_say_what_would_allow_them() {
    let check = Check::denied("reader", Capability::Read, "/etc/passwd", "no grant covers it", "/etc");
    assert_eq!(
        check.describe(),
        "denied: plugin `reader` tried to read /etc/passwd: no grant covers it; to allow it, grant \
         `allow_read = [\"/etc\"]` under [plugins.reader] in wasmflow.toml, or `--allow-read reader=/etc` for one run"
    );
}

/// Counts the calls it forwards, to see which executor a call went to.
struct Counting {
    inner: std::sync::Arc<dyn wasmflow::executor::Executor>,
    calls: std::sync::atomic::AtomicUsize,
}

impl wasmflow::executor::Executor for Counting {
    fn call(&self, call: wasmflow::executor::Call<'_>) -> Result<wasmflow::executor::Reply, ScriptError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.call(call)
    }
    fn prepare(&self, plugin: &wasmflow::script::Plugin, limits: wasmflow::script::Limits) -> Result<(), ScriptError> {
        self.inner.prepare(plugin, limits)
    }
}

#[test]
fn a_manifest_entry_chooses_its_executor() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use wasmflow::executor::Kind;

    let default = Arc::new(Counting {
        inner: scripts_on(ExecutorKind::InProcess).executor().clone(),
        calls: Default::default(),
    });
    let workers = Arc::new(Counting {
        inner: scripts_on(ExecutorKind::Subprocess).executor().clone(),
        calls: Default::default(),
    });
    let mut catalog = Catalog::new(plugin_dir());
    catalog.entry_mut("lookup_product_info").executor = Some(Kind::Subprocess);
    let engine =
        ScriptEngine::with_catalog(default.clone(), catalog).with_executor_for(Kind::Subprocess, workers.clone());
    let value = service(&engine, "lookup_product_info", json!({"product_name": "product_a"})).unwrap();
    assert_eq!(value["product_price"], json!(15.0));
    assert_eq!(
        service(&engine, "lookup_shipping_cost", json!({"shipping_method": "standard"})).unwrap(),
        json!(5.0)
    );
    assert_eq!(
        workers.calls.load(Ordering::SeqCst),
        1,
        "the entry's calls go to the workers"
    );
    assert_eq!(default.calls.load(Ordering::SeqCst), 1, "the others stay in process");
}

/// Runs `wasmflow run DIAGRAM --data DATA --json` with the manifest `manifest`
/// next to the diagram, whose one call waits at the gate `call` of `gates`;
/// answers which process ran the call (the `wasmflow` process itself, or one
/// of its workers) and the run's JSON output.
fn run_at_gate(dir: &Path, gates: &Gates, manifest: &str, diagram: &str) -> (bool, Value) {
    std::fs::write(dir.join("wasmflow.toml"), manifest).unwrap();
    let diagram_file = dir.join("d.bpmn");
    std::fs::write(&diagram_file, diagram).unwrap();
    let data = json!({ "gate_path": gates.path("call") }).to_string();
    let child = std::process::Command::new(wasmflow_bin())
        .args(["run", &diagram_file.display().to_string(), "--data", &data, "--json"])
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    gates.wait_entered("call");
    let holders = gates.holders("call");
    let [holder] = holders[..] else {
        panic!("one process runs the call, not {holders:?}")
    };
    // Read while the call waits: the worker may end with the run.
    let parent = parent_pid(holder);
    gates.open("call");
    let output = child.wait_with_output().unwrap();
    let out: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output.stderr)));
    assert_eq!(output.status.code(), Some(0), "{out}");
    let in_a_worker = if holder == pid {
        false
    } else {
        assert_eq!(parent, Some(pid), "the call runs in wasmflow or one of its workers");
        true
    };
    (in_a_worker, out)
}

/// A directory with `plugins/gate.wasm`.
fn gate_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::fs::copy(plugin("gate"), dir.path().join("plugins/gate.wasm")).unwrap();
    dir
}

/// A manifest entry for the `gate` plugin (`executor` is its executor line,
/// if any) granting it `gates`, and the interpreter allowed to call it.
fn gate_entry(executor: &str, gates: &Gates) -> String {
    format!(
        "[plugins.gate]\nmodule = \"plugins/gate.wasm\"\n{executor}allow_write = [\"{}\"]\n\n[plugins.python]\nallow_services = [\"gate\"]\n",
        gates.dir().display()
    )
}

/// Asserts that the call in `diagram` runs in a worker when the gate's entry
/// names the subprocess executor, and in the `wasmflow` process without.
fn assert_gate_runs_where_its_entry_says(dir: &Path, diagram: &str, how: &str) {
    // The process holding the gate's file open is the one running the call.
    let gates = Gates::new();
    let (in_a_worker, out) = run_at_gate(dir, &gates, &gate_entry("executor = \"subprocess\"\n", &gates), diagram);
    assert!(
        in_a_worker,
        "{how} of a plugin whose entry names the subprocess executor runs in a worker"
    );
    assert_eq!(out["data"]["passed"], json!(gates.path("call")));
    let gates = Gates::new();
    let (in_a_worker, _) = run_at_gate(dir, &gates, &gate_entry("", &gates), diagram);
    assert!(!in_a_worker, "{how} of a plugin without an executor runs in process");
}

#[test]
fn the_cli_runs_a_nested_call_on_the_executor_the_callee_entry_names() {
    let dir = gate_workspace();
    let nested = inline_task("passed = gate(path=gate_path)");
    assert_gate_runs_where_its_entry_says(dir.path(), &nested, "a nested call");
}

#[test]
fn the_cli_runs_a_plugin_on_the_executor_its_manifest_entry_names() {
    let dir = gate_workspace();
    assert_gate_runs_where_its_entry_says(dir.path(), &gate_service_task(), "a service task");

    std::fs::write(
        dir.path().join("wasmflow.toml"),
        "[plugins.python]\nexecutor = \"elsewhere\"\n",
    )
    .unwrap();
    let out = cli(&["run", &dir.path().join("d.bpmn").display().to_string()]);
    assert!(
        text(&out.stderr).contains("wasmflow.toml:2:12: executor `elsewhere`"),
        "{}",
        text(&out.stderr)
    );
}
