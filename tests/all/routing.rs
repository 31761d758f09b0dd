//! Every plugin call runs on the executor its manifest entry names, nested
//! `call_service` calls included, in both directions; and nested calls that
//! cross executors are admitted without deadlock when every reservation or
//! worker is taken.
//!
//! Each executor is wrapped in a recorder that notes the plugins it was asked
//! to run: a callee shows up only in the recorder of the executor that ran it.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wasmflow::bpmn::Script;
use wasmflow::executor::{Call, Executor, InProcess, InProcessConfig, Kind, Reply, Subprocess};
use wasmflow::script::{Catalog, Limits, Plugin, ScriptEngine, ScriptError, TaskInfo};
use wasmflow_tests::*;

/// An executor that notes each plugin it runs, then runs it on `inner`.
struct Recorder {
    inner: Arc<dyn Executor>,
    ran: Mutex<Vec<String>>,
}

impl Recorder {
    fn new(inner: Arc<dyn Executor>) -> Arc<Recorder> {
        Arc::new(Recorder {
            inner,
            ran: Mutex::new(Vec::new()),
        })
    }

    fn ran(&self) -> Vec<String> {
        self.ran.lock().unwrap().clone()
    }
}

impl Executor for Recorder {
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError> {
        self.ran.lock().unwrap().push(call.plugin.name.clone());
        self.inner.call(call)
    }

    fn prepare(&self, plugin: &Plugin, limits: Limits) -> Result<(), ScriptError> {
        self.inner.prepare(plugin, limits)
    }
}

/// The in-process and subprocess executors of the test binary, each recorded.
fn recorders() -> (Arc<Recorder>, Arc<Recorder>) {
    (
        Recorder::new(scripts_on(ExecutorKind::InProcess).executor().clone()),
        Recorder::new(scripts_on(ExecutorKind::Subprocess).executor().clone()),
    )
}

/// An engine whose default executor is `main`, with `other` for entries that
/// name `other_kind`, and a catalog where `call_any` may call
/// `lookup_product_info`; `setup` places the two entries.
fn engine(
    main: Arc<dyn Executor>,
    other_kind: Kind,
    other: Arc<dyn Executor>,
    setup: impl FnOnce(&mut Catalog),
) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    catalog
        .entry_mut("call_any")
        .grants
        .allow_service("lookup_product_info")
        .unwrap();
    catalog.entry_mut("lookup_product_info");
    setup(&mut catalog);
    ScriptEngine::with_catalog(main, catalog).with_executor_for(other_kind, other)
}

/// Runs `call_any` as a script calling `lookup_product_info` for product_a.
fn call_lookup(engine: &ScriptEngine) -> Value {
    let data = object(json!({"operation": "lookup_product_info", "params": {"product_name": "product_a"}}));
    let script = Script::Plugin {
        name: "call_any".into(),
    };
    let outcome = engine
        .run_script(&TaskInfo::default(), &script, &data)
        .unwrap_or_else(|e| panic!("{e}"));
    outcome.value.done().expect("the script is done")["result"]["product_price"].clone()
}

#[test]
fn a_service_on_the_subprocess_executor_called_from_an_in_process_caller_runs_in_a_worker() {
    let (in_process, subprocess) = recorders();
    let engine = engine(in_process.clone(), Kind::Subprocess, subprocess.clone(), |c| {
        c.entry_mut("lookup_product_info").executor = Some(Kind::Subprocess);
    });
    assert_eq!(call_lookup(&engine), json!(15.0));
    assert_eq!(in_process.ran(), ["call_any"], "the caller runs in-process");
    assert_eq!(
        subprocess.ran(),
        ["lookup_product_info"],
        "the callee runs where its entry says"
    );
}

#[test]
fn a_service_on_the_in_process_executor_called_from_a_worker_runs_in_this_process() {
    let (in_process, subprocess) = recorders();
    let engine = engine(in_process.clone(), Kind::Subprocess, subprocess.clone(), |c| {
        c.entry_mut("call_any").executor = Some(Kind::Subprocess);
        c.entry_mut("lookup_product_info").executor = Some(Kind::InProcess);
    });
    assert_eq!(call_lookup(&engine), json!(15.0));
    assert_eq!(subprocess.ran(), ["call_any"], "the caller runs in a worker");
    assert_eq!(
        in_process.ran(),
        ["lookup_product_info"],
        "the callee comes back to this process, where its entry says it runs"
    );
}

#[test]
fn a_nested_call_on_a_full_worker_pool_gets_a_worker_past_the_pool_size() {
    // One worker, held by the caller: the nested call must not wait for it.
    let config = wasmflow::executor::SubprocessConfig {
        pool_size: 1,
        warm: 0,
        ..subprocess_config()
    };
    let subprocess = Recorder::new(Arc::new(Subprocess::new(config).expect("the workers start")));
    let in_process = Recorder::new(scripts_on(ExecutorKind::InProcess).executor().clone());
    let engine = engine(subprocess.clone(), Kind::InProcess, in_process.clone(), |_| {});
    assert_eq!(call_lookup(&engine), json!(15.0));
    assert_eq!(subprocess.ran(), ["call_any", "lookup_product_info"]);
    assert!(in_process.ran().is_empty());
}

#[test]
fn a_nested_call_from_a_worker_is_admitted_in_process_while_every_reservation_is_held() {
    // One reservation, held by the in-process caller `call_any`, whose callee
    // `relay` runs in a worker and calls `lookup_product_info` back in this
    // process: that call must not wait for the reservation its chain holds.
    let config = InProcessConfig {
        cache_dir: Some(cache_dir()),
        max_memory: 256 << 20,
        max_concurrent_calls: 1,
        ..InProcessConfig::default()
    };
    let in_process = Recorder::new(Arc::new(InProcess::new(config).expect("the engine starts")));
    let subprocess = Recorder::new(scripts_on(ExecutorKind::Subprocess).executor().clone());
    let engine = engine(in_process.clone(), Kind::Subprocess, subprocess.clone(), |c| {
        c.entry_mut("call_any").grants.allow_service("relay").unwrap();
        let relay = c.entry_mut("relay");
        relay.executor = Some(Kind::Subprocess);
        relay.grants.allow_service("lookup_product_info").unwrap();
    });
    let data = object(json!({"operation": "relay", "params": {
        "operation": "lookup_product_info", "params": {"product_name": "product_a"}}}));
    let script = Script::Plugin {
        name: "call_any".into(),
    };
    let outcome = engine
        .run_script(&TaskInfo::default(), &script, &data)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcome.value.done().expect("the script is done")["result"]["product_price"],
        json!(15.0)
    );
    assert_eq!(in_process.ran(), ["call_any", "lookup_product_info"]);
    assert_eq!(subprocess.ran(), ["relay"]);
}
