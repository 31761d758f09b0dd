//! Helpers for wasmflow's end-to-end tests: where the built binary, plugins
//! and fixtures are, a shared script engine, and BPMN generators.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};
use wasmflow::bpmn::{self, Library};
use wasmflow::engine::Workflow;
use wasmflow::executor::{Executor, InProcess, InProcessConfig, Subprocess, SubprocessConfig};
use wasmflow::script::{Limits, ScriptEngine};

/// `target/<profile>`, found from the running test binary (`target/<profile>/deps/…`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf()
}

/// The built `wasmflow` binary.
pub fn wasmflow_bin() -> PathBuf {
    let bin = profile_dir().join(format!("wasmflow{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// The directory of every built plugin (`target/guests/plugins`, filled by the host's build).
pub fn plugin_dir() -> PathBuf {
    let dir = profile_dir().parent().unwrap().join("guests/plugins");
    assert!(
        dir.join("echo.wasm").is_file(),
        "{} has no plugins: the host's build script builds them",
        dir.display()
    );
    dir
}

/// A plugin file by name.
pub fn plugin(name: &str) -> PathBuf {
    plugin_dir().join(format!("{name}.wasm"))
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A compiled-module cache for the tests, inside the target directory.
pub fn cache_dir() -> PathBuf {
    profile_dir().parent().unwrap().join("wasmflow-test-cache")
}

fn executor() -> Arc<InProcess> {
    static EXECUTOR: OnceLock<Arc<InProcess>> = OnceLock::new();
    EXECUTOR
        .get_or_init(|| {
            let config = InProcessConfig {
                cache_dir: Some(cache_dir()),
                max_memory: 256 << 20,
                ..InProcessConfig::default()
            };
            Arc::new(InProcess::new(config).expect("the engine starts"))
        })
        .clone()
}

/// A script engine on one executor shared by the whole test binary, with the built plugins.
pub fn scripts() -> ScriptEngine {
    ScriptEngine::new(executor(), plugin_dir())
}

/// Where a test's plugin calls run (see [`for_each_executor!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// `wasmflow::executor::InProcess`.
    InProcess,
    /// `wasmflow::executor::Subprocess`, with workers from the built `wasmflow` binary.
    Subprocess,
}

/// The settings of the tests' subprocess executor: the built binary's workers,
/// the tests' cache, and the same memory ceiling as the in-process executor.
pub fn subprocess_config() -> SubprocessConfig {
    SubprocessConfig {
        program: wasmflow_bin(),
        cache_dir: Some(cache_dir()),
        max_memory: 256 << 20,
        pool_size: 4,
        ..SubprocessConfig::default()
    }
}

fn subprocess_executor() -> Arc<Subprocess> {
    static EXECUTOR: OnceLock<Arc<Subprocess>> = OnceLock::new();
    EXECUTOR
        .get_or_init(|| Arc::new(Subprocess::new(subprocess_config()).expect("the workers start")))
        .clone()
}

/// A script engine on the given kind of executor (one per kind, shared by the test binary).
pub fn scripts_on(kind: ExecutorKind) -> ScriptEngine {
    let executor: Arc<dyn Executor> = match kind {
        ExecutorKind::InProcess => executor(),
        ExecutorKind::Subprocess => subprocess_executor(),
    };
    ScriptEngine::new(executor, plugin_dir())
}

/// Runs each test once per executor: `mod in_process` and `mod subprocess`
/// get a `#[test]` each, calling the body with that executor's script engine.
///
/// ```ignore
/// for_each_executor! {
///     #[test]
///     fn echo_runs(scripts: &ScriptEngine) {
///         let workflow = run_xml(&plugin_task("echo"), json!({}), scripts);
///         assert_eq!(workflow.status(), Status::Completed);
///     }
/// }
/// ```
#[macro_export]
macro_rules! for_each_executor {
    ($(
        #[test]
        $(#[$meta:meta])*
        fn $name:ident($scripts:ident: &ScriptEngine) $body:block
    )*) => {
        $(
            fn $name($scripts: &$crate::__ScriptEngine) $body
        )*
        mod in_process {
            $(
                #[test]
                $(#[$meta])*
                fn $name() {
                    super::$name(&$crate::scripts_on($crate::ExecutorKind::InProcess))
                }
            )*
        }
        mod subprocess {
            $(
                #[test]
                $(#[$meta])*
                fn $name() {
                    super::$name(&$crate::scripts_on($crate::ExecutorKind::Subprocess))
                }
            )*
        }
    };
}

#[doc(hidden)]
pub use wasmflow::script::ScriptEngine as __ScriptEngine;

/// The same with other limits.
pub fn scripts_with(limits: Limits) -> ScriptEngine {
    scripts().with_limits(limits)
}

/// A JSON object from a `json!` value.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// Parses files into a library, panicking with the diagnostics if any.
pub fn library(files: &[PathBuf]) -> Arc<Library> {
    let diagrams = files
        .iter()
        .map(|f| bpmn::parse_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    Arc::new(Library::new(diagrams))
}

/// Starts and runs the default process of fixture files with `data`.
pub fn run_fixture(names: &[&str], data: Value) -> Workflow {
    let files: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    let mut workflow = Workflow::start(library(&files), None, object(data)).expect("the process starts");
    workflow.run(&scripts());
    workflow
}

/// Starts and runs the default process of fixture files with `data` on `scripts`.
pub fn run_fixture_with(names: &[&str], data: Value, scripts: &ScriptEngine) -> Workflow {
    let files: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    let mut workflow = Workflow::start(library(&files), None, object(data)).expect("the process starts");
    workflow.run(scripts);
    workflow
}

/// Parses BPMN text, starts its default process and runs it.
pub fn run_xml(xml: &str, data: Value, scripts: &ScriptEngine) -> Workflow {
    let diagram = bpmn::parse_str(Path::new("generated.bpmn"), xml).unwrap_or_else(|e| panic!("{e}"));
    let mut workflow =
        Workflow::start(Arc::new(Library::new(vec![diagram])), None, object(data)).expect("the process starts");
    workflow.run(scripts);
    workflow
}

/// Runs the `wasmflow` binary with the tests' cache directory.
pub fn cli(args: &[&str]) -> Output {
    Command::new(wasmflow_bin())
        .args(args)
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .output()
        .expect("wasmflow runs")
}

/// Runs `wasmflow` and parses its stdout as one JSON object; returns it with the exit code.
pub fn cli_json(args: &[&str]) -> (Value, i32) {
    let output = cli(args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (value, output.status.code().expect("wasmflow exits normally"))
}

/// `run FIXTURE --db DB --json --data DATA --executor EXECUTOR`, which
/// must succeed: the instance object.
pub fn run_kept(db: &Path, name: &str, data: Value, executor: &str) -> Value {
    let (instance, code) = cli_json(&[
        "run",
        fixture(name).to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--data",
        &data.to_string(),
        "--executor",
        executor,
        "--json",
    ]);
    assert_eq!(code, 0, "{instance}");
    instance
}

/// The states of the tasks of element `spec` in an instance object, in task order.
pub fn states(instance: &Value, spec: &str) -> Vec<String> {
    (instance["tasks"].as_array().unwrap().iter())
        .filter(|t| t["spec"] == spec)
        .map(|t| t["state"].as_str().unwrap().to_string())
        .collect()
}

/// Text of a process output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The opening of a generated BPMN file.
pub const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="generated" targetNamespace="http://wasmflow.dev/tests">"#;

/// A process `start → task → end` where the task is the given XML element
/// with id `task` (e.g. a script task naming a plugin).
pub fn single_task(task_xml: &str) -> String {
    format!(
        r#"{HEADER}
  <bpmn:process id="single" isExecutable="true">
    <bpmn:startEvent id="start" />
    {task_xml}
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// A script task with id `task` running a compiled plugin.
pub fn plugin_task(plugin: &str) -> String {
    single_task(&format!(
        r#"<bpmn:scriptTask id="task" name="Run {plugin}" scriptFormat="wasm"><bpmn:script>{plugin}</bpmn:script></bpmn:scriptTask>"#
    ))
}

/// A script task with id `task` running inline Python-dialect source.
pub fn inline_task(source: &str) -> String {
    single_task(&format!(
        r#"<bpmn:scriptTask id="task"><bpmn:script><![CDATA[{source}]]></bpmn:script></bpmn:scriptTask>"#
    ))
}

/// A chain `start → s0 → s1 → … → end` of `n` script tasks, each the given script element body.
pub fn chain(n: usize, script_task_attrs: &str, script: &str) -> String {
    chain_of(n, |i| {
        format!(
            r#"<bpmn:scriptTask id="s{i}" {script_task_attrs}><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>"#
        )
    })
}

/// A chain `start → s0 → … → end` of `n` abstract tasks (`bpmn:task`): steps
/// that call no plugin, so that what is measured is the engine and the store.
pub fn task_chain(n: usize) -> String {
    chain_of(n, |i| format!(r#"<bpmn:task id="s{i}" />"#))
}

/// A chain `start → s0 → … → end` whose `n` elements `element(i)` makes, each
/// with the id `s{i}`.
pub fn chain_of(n: usize, element: impl Fn(usize) -> String) -> String {
    let mut xml = String::with_capacity(n * 200);
    xml.push_str(HEADER);
    xml.push_str("\n  <bpmn:process id=\"chain\" isExecutable=\"true\">\n    <bpmn:startEvent id=\"start\" />\n");
    for i in 0..n {
        xml.push_str("    ");
        xml.push_str(&element(i));
        xml.push('\n');
    }
    xml.push_str("    <bpmn:endEvent id=\"end\" />\n");
    let mut previous = "start".to_string();
    for i in 0..n {
        xml.push_str(&format!(
            "    <bpmn:sequenceFlow id=\"f{i}\" sourceRef=\"{previous}\" targetRef=\"s{i}\" />\n"
        ));
        previous = format!("s{i}");
    }
    xml.push_str(&format!("    <bpmn:sequenceFlow id=\"f_end\" sourceRef=\"{previous}\" targetRef=\"end\" />\n  </bpmn:process>\n</bpmn:definitions>\n"));
    xml
}

/// A loop: a script task increments `i` (with the given plugin) and an
/// exclusive gateway goes back while `i < limit`.
pub fn gateway_loop(plugin: &str, limit: usize) -> String {
    format!(
        r#"{HEADER}
  <bpmn:process id="loop" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:exclusiveGateway id="merge" />
    <bpmn:scriptTask id="step" scriptFormat="wasm"><bpmn:script>{plugin}</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="again" default="done" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge" />
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="step" />
    <bpmn:sequenceFlow id="f3" sourceRef="step" targetRef="again" />
    <bpmn:sequenceFlow id="back" sourceRef="again" targetRef="merge"><bpmn:conditionExpression>i &lt; {limit}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="again" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
    )
}

/// Calls of the `gate` plugin that the test controls: a call creates
/// `NAME.entered` in this directory (and holds it open while it waits), then
/// waits until the test opens it (`NAME.open`). Tests use it to know that a
/// call is running, which process runs it, and to choose when each call ends,
/// instead of guessing with sleeps.
pub struct Gates {
    dir: tempfile::TempDir,
}

/// How long a test waits for a call to reach its gate before it fails.
const GATE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

impl Gates {
    /// A fresh, empty gate directory.
    pub fn new() -> Self {
        Gates {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The directory: grant it read-write to the `gate` plugin as its own
    /// path (an absolute grant), so host and plugin name a gate alike.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `path` parameter of the gate `name`.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Grants the gate directory to the `gate` plugin of `catalog`.
    pub fn grant(&self, catalog: &mut wasmflow::script::Catalog) {
        let dir = self.dir().display().to_string();
        catalog
            .entry_mut("gate")
            .grants
            .allow_dir(&dir, self.dir(), true)
            .expect("the gate directory can be granted");
    }

    /// Whether a call has reached the gate `name`.
    pub fn entered(&self, name: &str) -> bool {
        self.dir.path().join(format!("{name}.entered")).exists()
    }

    /// Blocks until a call has reached the gate `name` (fails the test if none
    /// does in two minutes: the call never started).
    pub fn wait_entered(&self, name: &str) {
        let until = std::time::Instant::now() + GATE_PATIENCE;
        while !self.entered(name) {
            assert!(std::time::Instant::now() < until, "no call reached the gate `{name}`");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Lets the calls at gate `name` (and any later one) go on.
    pub fn open(&self, name: &str) {
        std::fs::write(self.dir.path().join(format!("{name}.open")), "").expect("the gate opens");
    }

    /// The processes that hold the gate `name`'s `.entered` file open: the
    /// process running the call that waits there.
    pub fn holders(&self, name: &str) -> Vec<u32> {
        let entered = self.dir.path().join(format!("{name}.entered"));
        let mut holders = Vec::new();
        for process in std::fs::read_dir("/proc").expect("/proc lists processes").flatten() {
            let Some(pid) = process.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            // Other users' processes and processes that just ended cannot be read.
            let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
                continue;
            };
            if fds
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == entered))
            {
                holders.push(pid);
            }
        }
        holders
    }
}

impl Default for Gates {
    fn default() -> Self {
        Gates::new()
    }
}

/// The parent of a process, from `/proc/PID/stat`.
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `PID (COMMAND) STATE PPID …`: the command may hold spaces and parentheses.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// A process `start → task → end` where the task is a service task calling
/// the `gate` plugin, its gate's path in the variable `gate_path`.
pub fn gate_service_task() -> String {
    single_task(
        r#"<bpmn:serviceTask id="task"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="gate" resultVariable="passed"><spiffworkflow:parameters><spiffworkflow:parameter id="path" type="str" value="gate_path" /></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>"#,
    )
    .replacen(
        "<bpmn:definitions ",
        r#"<bpmn:definitions xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" "#,
        1,
    )
}

/// `wasmflow serve --db DB` as a child process, its output piped.
pub fn serve(db: &Path) -> std::process::Child {
    std::process::Command::new(wasmflow_bin())
        .args(["serve", "--db", db.to_str().unwrap()])
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts")
}

/// Waits until no instance of `db` is waiting or running (a generous
/// bound, never a measure of anything): the instances' statuses.
pub fn until_none_waits(db: &Path) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (listed, _) = cli_json(&["list", "--db", db.to_str().unwrap(), "--json"]);
        let listed = listed.as_array().unwrap().clone();
        // `running` too: a timer that just fired is saved so before its run ends.
        if listed
            .iter()
            .all(|i| i["status"] != "waiting" && i["status"] != "running")
        {
            return listed;
        }
        assert!(std::time::Instant::now() < deadline, "still waiting: {listed:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Stops `serve` with SIGTERM: its exit code and stdout.
pub fn stop(child: std::process::Child) -> (Option<i32>, String) {
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    (output.status.code(), text(&output.stdout))
}

/// The events named `event` in the history of an instance object (`show --json`).
pub fn history_of(instance: &Value, event: &str) -> Vec<Value> {
    (instance["history"]
        .as_array()
        .expect("an instance object with its history")
        .iter())
    .filter(|e| e["event"] == event)
    .cloned()
    .collect()
}
