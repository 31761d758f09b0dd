//! Per-call and per-task cost, measured in one run so the figures compare.
//!
//! Run with `cargo bench -p wasmflow-tests --bench throughput`. Each call gets a
//! fresh store and instance, as in production.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use wasmflow::bpmn::{self, Library, Script};
use wasmflow::engine::{Status, Workflow};
use wasmflow::executor::{InProcess, InProcessConfig};
use wasmflow::script::{ScriptEngine, TaskInfo};

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
