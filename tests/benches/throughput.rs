//! Per-call and per-task cost, measured in one run so the figures compare.
//!
//! Run with `cargo bench -p wasmflow-tests --bench throughput` (add `-- steps`
//! for the `--db` section alone, `-- calls` for the per-call table alone,
//! `-- timers` for the timers section alone, `-- messages` for message delivery,
//! `-- multi` for multi-instance activities). Each call
//! gets a fresh store and instance, as
//! in production.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use wasmflow::bpmn::{self, Library, Script};
use wasmflow::engine::{Message, Snapshot, Status, Workflow};
use wasmflow::executor::{InProcess, InProcessConfig, Subprocess, SubprocessConfig};
use wasmflow::script::{ScriptEngine, TaskInfo};
use wasmflow::store::SqliteStore;

fn main() {
    let plugins = wasmflow_tests::plugin_dir();
    let executor = InProcess::new(InProcessConfig {
        cache_dir: Some(wasmflow_tests::cache_dir()),
        ..InProcessConfig::default()
    })
    .expect("the engine starts");
    let scripts = ScriptEngine::new(Arc::new(executor), plugins);
    let task = TaskInfo {
        id: "1".into(),
        spec: "bench".into(),
        name: None,
        process: "bench".into(),
        instance: "bench".into(),
    };
    let data: Map<String, Value> = json!({"i": 0, "x": 1}).as_object().unwrap().clone();
    // `cargo bench -p wasmflow-tests --bench throughput -- steps` runs only the
    // `--db` section, for quick comparisons while working on the store.
    // `-- timers`: the timers section alone.
    if std::env::args().skip(1).any(|arg| arg == "timers") {
        timers(&scripts);
        return;
    }
    if std::env::args().skip(1).any(|arg| arg == "messages") {
        messages(&scripts);
        return;
    }
    if std::env::args().skip(1).any(|arg| arg == "multi") {
        multi_instance(&scripts);
        return;
    }
    if std::env::args().skip(1).any(|arg| arg == "steps") {
        let compiled = Script::Plugin {
            name: "increment".into(),
        };
        scripts.prepare(&scripts.plugin_for(&compiled).unwrap()).unwrap();
        durable_steps(&scripts);
        return;
    }

    // First use compiles (or loads from the disk cache) and pre-initializes the interpreter.
    let start = Instant::now();
    scripts
        .prepare(
            &scripts
                .plugin_for(&Script::Inline {
                    source: String::new(),
                    line: 1,
                })
                .unwrap(),
        )
        .unwrap();
    let python_load = start.elapsed();
    let compiled = Script::Plugin {
        name: "increment".into(),
    };
    scripts.prepare(&scripts.plugin_for(&compiled).unwrap()).unwrap();

    let plugin = sample(5_000, || {
        scripts.run_script(&task, &compiled, &data).unwrap();
    });
    let inline_script = Script::Inline {
        source: "x = x + 1".into(),
        line: 1,
    };
    let inline = sample(2_000, || {
        scripts.run_script(&task, &inline_script, &data).unwrap();
    });
    let expression = sample(2_000, || {
        scripts.evaluate(&task, "x > 0", &data).unwrap();
    });

    println!("wasmflow throughput (in-process executor, fresh instance per call)");
    println!(
        "interpreter ready (load from cache or compile + pre-initialize): {:.1} ms",
        ms(python_load)
    );
    println!();
    println!("{:<40} {:>10} {:>10}", "per call", "p50 µs", "mean µs");
    for (name, stats) in [
        ("compiled plugin (increment)", &plugin),
        ("inline script `x = x + 1`", &inline),
        ("expression `x > 0`", &expression),
    ] {
        println!("{:<40} {:>10.1} {:>10.1}", name, stats.p50, stats.mean);
    }
    println!(
        "ratio inline script / compiled plugin (p50): {:.1}x",
        inline.p50 / plugin.p50
    );
    println!();
    // `-- calls`: the per-call table alone, e.g. to profile one call path.
    if std::env::args().skip(1).any(|arg| arg == "calls") {
        return;
    }

    executors(&plugin, &task, &data);
    println!();

    println!(
        "{:<40} {:>10} {:>10} {:>12}",
        "linear chain of compiled script tasks", "parse ms", "run ms", "µs per task"
    );
    let mut first_per_task = None;
    for n in [1_000, 10_000, 100_000] {
        let xml = wasmflow_tests::chain(n, r#"scriptFormat="wasm""#, "increment");
        let start = Instant::now();
        let diagram = bpmn::parse_str(Path::new("chain.bpmn"), &xml).unwrap();
        let parse = start.elapsed();
        let library = Arc::new(Library::new(vec![diagram]));
        let start = Instant::now();
        let mut workflow = Workflow::start(library, None, json!({"i": 0}).as_object().unwrap().clone()).unwrap();
        let status = workflow.run(&scripts);
        let run = start.elapsed();
        assert_eq!(status, Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["i"], json!(n));
        let per_task = run.as_secs_f64() * 1e6 / n as f64;
        let first = *first_per_task.get_or_insert(per_task);
        println!(
            "{:<40} {:>10.1} {:>10.1} {:>12.1}   ({:.2}x the 1,000-task cost per task)",
            format!("N = {n}"),
            ms(parse),
            ms(run),
            per_task,
            per_task / first
        );
    }
    println!();
    persistence(&scripts);
    println!();
    durable_steps(&scripts);
    println!();
    timers(&scripts);
    println!();
    messages(&scripts);
    println!();
    multi_instance(&scripts);
}

/// A parallel multi-instance script task over `items`, gathering `sizes`.
fn multi_instance_diagram() -> String {
    wasmflow_tests::single_task(
        r#"<bpmn:scriptTask id="task"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>sizes</bpmn:loopDataOutputRef><bpmn:inputDataItem id="item" /><bpmn:outputDataItem id="size" /></bpmn:multiInstanceLoopCharacteristics><bpmn:script>size = len(item)</bpmn:script></bpmn:scriptTask>"#,
    )
}

/// `n` elements of 1 KB each.
fn kilobyte_items(n: usize) -> Value {
    json!({ "items": (0..n).map(|i| format!("{i:0>1024}")).collect::<Vec<_>>() })
}

/// A parallel multi-instance over 1,000 and 10,000 elements of 1 KB, an
/// inline script per element: time in this process (the default task pool),
/// and the peak RSS of `wasmflow run --db` doing the same as a process of its own.
fn multi_instance(scripts: &ScriptEngine) {
    let xml = multi_instance_diagram();
    let library = Arc::new(Library::new(vec![
        bpmn::parse_str(Path::new("multi.bpmn"), &xml).unwrap(),
    ]));
    println!(
        "{:<44} {:>10} {:>14} {:>8}",
        "parallel multi-instance, 1 KB elements", "run ms", "µs per element", "ratio"
    );
    let mut first = None;
    for n in [1_000, 10_000] {
        let data = kilobyte_items(n).as_object().unwrap().clone();
        let mut workflow = Workflow::start(library.clone(), None, data).unwrap();
        let start = Instant::now();
        let status = workflow.run(scripts);
        let run = start.elapsed();
        assert_eq!(status, Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["sizes"].as_array().unwrap().len(), n);
        let per = run.as_secs_f64() * 1e6 / n as f64;
        let base = *first.get_or_insert(per);
        println!(
            "{:<44} {:>10.1} {:>14.1} {:>7.2}x",
            format!("N = {n}"),
            ms(run),
            per,
            per / base
        );
    }
    let bin = wasmflow_binary();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("multi.bpmn");
    std::fs::write(&file, &xml).unwrap();
    println!(
        "{:<44} {:>10} {:>14} {:>8}",
        "the same, `wasmflow run --db` as a process", "data MiB", "peak RSS MiB", "wall ms"
    );
    for n in [0, 1_000, 10_000] {
        let data_file = dir.path().join(format!("data-{n}.json"));
        let text = kilobyte_items(n).to_string();
        std::fs::write(&data_file, &text).unwrap();
        let db = dir.path().join(format!("db-{n}"));
        let start = Instant::now();
        let (code, peak) = run_measured(
            std::process::Command::new(&bin)
                .args(["run", file.to_str().unwrap(), "--db", db.to_str().unwrap()])
                .arg(format!("--data=@{}", data_file.display()))
                .env("WASMFLOW_CACHE_DIR", wasmflow_tests::cache_dir())
                .stdout(std::process::Stdio::null()),
        );
        let wall = start.elapsed();
        assert_eq!(code, 0, "wasmflow run over {n} elements failed");
        println!(
            "{:<44} {:>10.1} {:>14.1} {:>8.0}",
            format!("N = {n}"),
            text.len() as f64 / (1 << 20) as f64,
            peak as f64 / 1024.0,
            ms(wall)
        );
    }
}

/// Runs `command` to its end: its exit code and its peak RSS in KiB (from
/// `wait4`, this child alone).
fn run_measured(command: &mut std::process::Command) -> (i32, i64) {
    let child = command.spawn().expect("the command starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct wait4 fills; the child is ours and not yet reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 reaps the child");
    std::mem::forget(child);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

/// A process waiting for the `paid` message of its order, `start → paid → end`.
fn message_diagram() -> String {
    format!(
        r#"{}<bpmn:process id="pay" isExecutable="true"><bpmn:startEvent id="start" />
<bpmn:intermediateCatchEvent id="await_paid"><bpmn:messageEventDefinition messageRef="paid" /></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="await_paid" /><bpmn:sequenceFlow id="f2" sourceRef="await_paid" targetRef="end" /></bpmn:process>
<bpmn:message id="paid" name="paid" />
<bpmn:correlationProperty id="order"><bpmn:correlationPropertyRetrievalExpression messageRef="paid"><bpmn:messagePath>order</bpmn:messagePath></bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>
</bpmn:definitions>"#,
        wasmflow_tests::HEADER
    )
}

/// Message delivery: finding the catch a message correlates with costs the
/// same among 100,000 waiting instances as among ten (the store indexes
/// subscriptions by name and correlation value).
fn messages(scripts: &ScriptEngine) {
    let xml = message_diagram();
    let library = Arc::new(Library::new(vec![
        bpmn::parse_str(Path::new("pay.bpmn"), &xml).unwrap(),
    ]));
    println!("{:<48} {:>12}", "delivering one correlated message", "ms per message");
    let mut first = None;
    for waiting in [10, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("messages.db")).unwrap();
        let hash = store.add_diagram("pay.bpmn", &xml).unwrap();
        for order in 0..waiting {
            let data = json!({"order": order}).as_object().unwrap().clone();
            let mut workflow = Workflow::start(library.clone(), None, data).unwrap();
            store.create(&mut workflow, &[hash.clone()], None).unwrap();
            let status = workflow.run_observed(scripts, |w| store.save(w).map(drop)).unwrap();
            assert_eq!(status, Status::Waiting);
        }
        // Best of ten deliveries, each to another waiting order: what
        // `wasmflow message paid --correlate order=N` does after start-up.
        let mut best = f64::MAX;
        for order in 0..10 {
            let message = Message {
                name: "paid".into(),
                correlation: [("order".to_string(), order.to_string())].into(),
                payload: json!({"amount": 1}),
            };
            let start = Instant::now();
            let candidates = store.subscribers(&message).unwrap();
            assert_eq!(candidates.len(), 1);
            let mut workflow = store.load(&candidates[0]).unwrap();
            assert!(workflow.deliver(&message).unwrap().is_some());
            store.save(&mut workflow).unwrap();
            let status = workflow.run_observed(scripts, |w| store.save(w).map(drop)).unwrap();
            assert_eq!(status, Status::Completed);
            best = best.min(ms(start.elapsed()));
        }
        let base = *first.get_or_insert(best);
        println!(
            "{:<48} {:>12.2}   ({:.2}x the cost with 10 waiting)",
            format!("with {waiting} instances waiting"),
            best,
            best / base
        );
    }
}

/// A process waiting on one timer catch event, `start → wait → end`.
fn timer_diagram() -> String {
    format!(
        r#"{}<bpmn:process id="wait" isExecutable="true"><bpmn:startEvent id="start" />
<bpmn:intermediateCatchEvent id="timer"><bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="timer" /><bpmn:sequenceFlow id="f2" sourceRef="timer" targetRef="end" /></bpmn:process></bpmn:definitions>"#,
        wasmflow_tests::HEADER
    )
}

/// `n` kept instances, each waiting for a timer due at `due`.
fn waiting_instances(
    store: &mut SqliteStore,
    library: &Arc<Library>,
    hash: &str,
    scripts: &ScriptEngine,
    n: usize,
    due: &str,
) {
    for _ in 0..n {
        let data = json!({"due": due}).as_object().unwrap().clone();
        let mut workflow = Workflow::start(library.clone(), None, data).unwrap();
        store.create(&mut workflow, &[hash.to_string()], None).unwrap();
        let status = workflow.run_observed(scripts, |w| store.save(w).map(drop)).unwrap();
        assert_eq!(status, Status::Waiting);
    }
}

/// What `wasmflow tick` does: fire what is due by `now` in every instance
/// the store's index names, saving each step. How many it ran.
fn tick(store: &mut SqliteStore, scripts: &ScriptEngine, now: jiff::Timestamp) -> usize {
    let due = store.due_instances(now).unwrap();
    for id in &due {
        let mut workflow = store.load(id).unwrap();
        workflow.set_now(Some(now));
        let status = workflow.run_observed(scripts, |w| store.save(w).map(drop)).unwrap();
        assert_eq!(status, Status::Completed);
    }
    due.len()
}

/// Timers: finding the due ones costs the same among 100,000 waiting
/// instances as among ten (the store indexes due times), and the rate at
/// which `tick` fires 100,000 due timers.
fn timers(scripts: &ScriptEngine) {
    let xml = timer_diagram();
    let library = Arc::new(Library::new(vec![
        bpmn::parse_str(Path::new("timer.bpmn"), &xml).unwrap(),
    ]));
    let now: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    println!("{:<48} {:>12}", "tick firing 10 due timers", "ms per tick");
    let mut first = None;
    for others in [10, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("timers.db")).unwrap();
        let hash = store.add_diagram("timer.bpmn", &xml).unwrap();
        waiting_instances(&mut store, &library, &hash, scripts, others, "2031-01-01T00:00:00Z");
        // Best of three rounds of ten due instances each.
        let mut best = f64::MAX;
        for _ in 0..3 {
            waiting_instances(&mut store, &library, &hash, scripts, 10, "2029-01-01T00:00:00Z");
            let start = Instant::now();
            assert_eq!(tick(&mut store, scripts, now), 10);
            best = best.min(ms(start.elapsed()));
        }
        let base = *first.get_or_insert(best);
        println!(
            "{:<48} {:>12.2}   ({:.2}x the cost with 10 waiting)",
            format!("with {others} other instances waiting"),
            best,
            best / base
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("due.db")).unwrap();
    let hash = store.add_diagram("timer.bpmn", &xml).unwrap();
    let n = 100_000;
    waiting_instances(&mut store, &library, &hash, scripts, n, "2029-01-01T00:00:00Z");
    let start = Instant::now();
    assert_eq!(tick(&mut store, scripts, now), n);
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "tick firing {n} due timers: {:.1} s, {:.0} timers per second",
        elapsed,
        n as f64 / elapsed
    );
}

/// What `--db` adds to every step: the same chains run in memory and saved
/// after every step through the SQLite store, as `wasmflow run --db` does.
fn durable_steps(scripts: &ScriptEngine) {
    println!(
        "{:<40} {:>12} {:>12} {:>14}",
        "chain of N = 10,000, µs per task", "in memory", "--db", "--db overhead"
    );
    for (name, xml) in [
        ("abstract tasks (no plugin)", wasmflow_tests::task_chain(10_000)),
        (
            "compiled script tasks (increment)",
            wasmflow_tests::chain(10_000, r#"scriptFormat="wasm""#, "increment"),
        ),
    ] {
        let diagram = bpmn::parse_str(Path::new("chain.bpmn"), &xml).unwrap();
        let library = Arc::new(Library::new(vec![diagram]));
        let start_data = json!({"i": 0}).as_object().unwrap().clone();
        // Best of three: one run is a few hundred milliseconds, long enough to be
        // steady, short enough that a burst of other work spoils only one of them.
        let mut memory = f64::MAX;
        let mut durable = f64::MAX;
        for _ in 0..3 {
            let mut workflow = Workflow::start(library.clone(), None, start_data.clone()).unwrap();
            let start = Instant::now();
            assert_eq!(workflow.run(scripts), Status::Completed);
            memory = memory.min(start.elapsed().as_secs_f64() * 1e6 / 10_000.0);

            let dir = tempfile::tempdir().unwrap();
            let mut store = SqliteStore::open(&dir.path().join("steps.db")).unwrap();
            let hash = store.add_diagram("chain.bpmn", &xml).unwrap();
            let mut workflow = Workflow::start(library.clone(), None, start_data.clone()).unwrap();
            store.create(&mut workflow, std::slice::from_ref(&hash), None).unwrap();
            let start = Instant::now();
            let status = workflow.run_observed(scripts, |workflow| store.save(workflow).map(drop));
            durable = durable.min(start.elapsed().as_secs_f64() * 1e6 / 10_000.0);
            assert_eq!(status.unwrap(), Status::Completed);
            assert_eq!(store.load(workflow.id()).unwrap().status(), Status::Completed);
        }
        println!(
            "{:<40} {:>12.1} {:>12.1} {:>14.1}",
            name,
            memory,
            durable,
            durable - memory
        );
    }
}

/// Saving and loading a finished 1,000-task instance: as one JSON snapshot,
/// and through the SQLite store (a whole instance written at once, and loaded).
fn persistence(scripts: &ScriptEngine) {
    let xml = wasmflow_tests::chain(1_000, r#"scriptFormat="wasm""#, "increment");
    let diagram = bpmn::parse_str(Path::new("chain.bpmn"), &xml).unwrap();
    let library = Arc::new(Library::new(vec![diagram]));
    let mut workflow = Workflow::start(library.clone(), None, json!({"i": 0}).as_object().unwrap().clone()).unwrap();
    assert_eq!(workflow.run(scripts), Status::Completed);

    let snapshot = workflow.snapshot();
    let bytes = serde_json::to_vec(&snapshot).unwrap();
    let save = sample(200, || {
        std::hint::black_box(serde_json::to_vec(&workflow.snapshot()).unwrap());
    });
    let load = sample(200, || {
        let snapshot: Snapshot = serde_json::from_slice(&bytes).unwrap();
        std::hint::black_box(Workflow::restore(library.clone(), snapshot).unwrap());
    });

    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("bench.db")).unwrap();
    let hash = store.add_diagram("chain.bpmn", &xml).unwrap();
    let ids = std::cell::RefCell::new(Vec::new());
    let store_save = sample(50, || {
        // A new id each time: the whole instance is written, not a delta.
        let mut record = snapshot.clone();
        record.instance.id = format!("bench-{}", ids.borrow().len());
        let mut fresh = Workflow::restore(library.clone(), record).unwrap();
        store.create(&mut fresh, std::slice::from_ref(&hash), None).unwrap();
        ids.borrow_mut().push(fresh.id().to_string());
    });
    let last = ids.borrow().last().unwrap().clone();
    let store_load = sample(50, || {
        std::hint::black_box(store.load(&last).unwrap());
    });

    println!(
        "{:<40} {:>10} {:>10}",
        "finished 1,000-task instance", "p50 ms", "mean ms"
    );
    for (name, stats) in [
        ("save: JSON snapshot", &save),
        ("load: JSON snapshot", &load),
        ("save: SQLite store, whole instance", &store_save),
        ("load: SQLite store (diagrams parsed once)", &store_load),
    ] {
        println!("{:<40} {:>10.2} {:>10.2}", name, stats.p50 / 1e3, stats.mean / 1e3);
    }
    println!("snapshot size: {:.1} KB", bytes.len() as f64 / 1e3);
}

/// The compiled plugin through persistent worker processes, and through a new
/// `wasmflow call` process per call (what "a process per script" costs), next
/// to the in-process figure.
fn executors(in_process: &Stats, task: &TaskInfo, data: &Map<String, Value>) {
    let bin = wasmflow_binary();
    let executor = Subprocess::new(SubprocessConfig {
        program: bin.clone(),
        cache_dir: Some(wasmflow_tests::cache_dir()),
        pool_size: 1,
        ..SubprocessConfig::default()
    })
    .expect("the workers start");
    let scripts = ScriptEngine::new(Arc::new(executor), wasmflow_tests::plugin_dir());
    let compiled = Script::Plugin {
        name: "increment".into(),
    };
    scripts.prepare(&scripts.plugin_for(&compiled).unwrap()).unwrap();
    let subprocess = sample(5_000, || {
        scripts.run_script(task, &compiled, data).unwrap();
    });

    let plugin = wasmflow_tests::plugin("increment").display().to_string();
    let input = serde_json::to_string(&json!({"data": data})).unwrap();
    let process_per_call = sample(50, || {
        let output = std::process::Command::new(&bin)
            .args(["call", &plugin, "--input", &input])
            .env("WASMFLOW_CACHE_DIR", wasmflow_tests::cache_dir())
            .output()
            .expect("wasmflow runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    });

    println!(
        "{:<40} {:>10} {:>10}",
        "compiled plugin (increment) per call", "p50 µs", "mean µs"
    );
    for (name, stats) in [
        ("in-process executor", in_process),
        ("subprocess executor (persistent workers)", &subprocess),
        ("a new `wasmflow call` process per call", &process_per_call),
    ] {
        println!("{:<40} {:>10.1} {:>10.1}", name, stats.p50, stats.mean);
    }
    println!(
        "subprocess overhead over in-process (p50): {:.1} µs per call",
        subprocess.p50 - in_process.p50
    );
    println!(
        "process per call / persistent workers (p50): {:.0}x",
        process_per_call.p50 / subprocess.p50
    );
}

/// The `wasmflow` binary of this profile, built if the bench's build did not build it.
fn wasmflow_binary() -> std::path::PathBuf {
    let bin = wasmflow_tests::profile_dir().join(format!("wasmflow{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "wasmflow", "--bin", "wasmflow"])
            .status()
            .expect("cargo runs");
        assert!(status.success() && bin.is_file(), "cannot build {}", bin.display());
    }
    bin
}

struct Stats {
    p50: f64,
    mean: f64,
}

/// Times `n` calls after a short warm-up; microseconds.
fn sample(n: usize, mut call: impl FnMut()) -> Stats {
    for _ in 0..n / 10 {
        call();
    }
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    Stats {
        p50: times[n / 2],
        mean: times.iter().sum::<f64>() / n as f64,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
