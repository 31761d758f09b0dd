//! Concurrent execution: ready tasks on different branches run their plugin
//! calls at once on a bounded pool, results are taken in as they arrive, merges
//! stay deterministic, and many instances run at once from the library.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmflow::bpmn::Library;
use wasmflow::engine::{EventKind, Status, TaskState, Workflow};
use wasmflow::script::{FailureKind, Limits, ScriptEngine, TaskInfo};
use wasmflow_tests::*;

fn example() -> Arc<Library> {
    library(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/parallel-waits/parallel_waits.bpmn")])
}

fn waits(a: u64, b: u64, c: u64) -> Value {
    json!({"wait_a_ms": a, "wait_b_ms": b, "wait_c_ms": c})
}

/// Runs the parallel-waits example; answers the instance, its wall time and
/// the order its wait tasks completed in.
fn run_waits(scripts: &ScriptEngine, data: Value) -> (Workflow, Duration, Vec<String>) {
    let mut workflow = Workflow::start(example(), None, object(data)).unwrap();
    let mut completed = Vec::new();
    let started = Instant::now();
    workflow
        .run_observed(scripts, |w| {
            for event in w.take_events() {
                if let EventKind::TaskCompleted { spec, .. } = event.kind
                    && spec.starts_with("wait_")
                {
                    completed.push(spec);
                }
            }
            Ok::<_, ()>(())
        })
        .unwrap();
    (workflow, started.elapsed(), completed)
}

for_each_executor! {
    #[test]
    fn parallel_slow_calls_take_about_the_longest_not_the_sum(scripts: &ScriptEngine) {
        let data = waits(600, 200, 400);
        let (sequential, sequential_time, sequential_order) = run_waits(&scripts.clone().with_concurrency(1), data.clone());
        let (concurrent, concurrent_time, concurrent_order) = run_waits(&scripts.clone().with_concurrency(4), data);
        assert_eq!(concurrent.status(), Status::Completed, "{:?}", concurrent.error());
        // One after the other, in flow order; at once, in the order they finish.
        assert_eq!(sequential_order, ["wait_a", "wait_b", "wait_c"]);
        assert_eq!(concurrent_order, ["wait_b", "wait_c", "wait_a"]);
        assert!(
            concurrent_time < sequential_time,
            "at once ({concurrent_time:?}) is faster than one after the other ({sequential_time:?})"
        );
        // The same data either way: the join merges in flow order, not finishing order.
        assert_eq!(concurrent.data(), sequential.data());
        assert_eq!(concurrent.data()["last"], "c");
        assert_eq!(concurrent.data()["waited"], json!(1200));
    }

    #[test]
    fn merges_do_not_depend_on_which_branch_finishes_first(scripts: &ScriptEngine) {
        let reference = run_waits(&scripts.clone().with_concurrency(1), waits(10, 10, 10)).0;
        for (a, b, c) in [(300, 150, 10), (10, 150, 300), (150, 300, 10), (10, 10, 10)] {
            let (workflow, _, order) = run_waits(scripts, waits(a, b, c));
            assert_eq!(workflow.status(), Status::Completed);
            assert_eq!(workflow.data()["last"], reference.data()["last"], "finishing order {order:?}");
            assert_eq!(workflow.data()["a"], json!(a));
        }
    }

    #[test]
    fn a_running_call_is_started_while_other_branches_go_on(scripts: &ScriptEngine) {
        let mut workflow = Workflow::start(example(), None, object(waits(500, 10, 10))).unwrap();
        let mut seen_started_with_others_done = false;
        workflow
            .run_observed(scripts, |w| {
                let states: Vec<(String, TaskState)> = w.tasks().map(|t| (t.spec, t.state)).collect();
                let a_started = states.iter().any(|(s, st)| s == "wait_a" && *st == TaskState::Started);
                let b_done = states.iter().any(|(s, st)| s == "wait_b" && *st == TaskState::Completed);
                let c_done = states.iter().any(|(s, st)| s == "wait_c" && *st == TaskState::Completed);
                seen_started_with_others_done |= a_started && b_done && c_done;
                Ok::<_, ()>(())
            })
            .unwrap();
        assert!(seen_started_with_others_done, "wait_a was STARTED while wait_b and wait_c completed");
        assert_eq!(workflow.status(), Status::Completed);
    }

    #[test]
    fn sleeping_past_the_deadline_is_stopped(scripts: &ScriptEngine) {
        let limited = scripts.clone().with_limits(Limits { timeout: Duration::from_millis(300), ..Limits::default() });
        let started = Instant::now();
        let error = limited
            .call_service(&TaskInfo::default(), "wait", &object(json!({"ms": 60_000})))
            .unwrap_err();
        assert_eq!(error.kind, FailureKind::Deadline, "{error}");
        assert!(started.elapsed() < Duration::from_secs(30), "a sleeping plugin is stopped at its deadline");
    }
}

#[test]
fn a_failure_waits_for_the_calls_in_flight_and_loses_none() {
    // Branch b fails at once (no `wait_b_ms`) while a and c are still waiting.
    let scripts = scripts();
    let (workflow, _, completed) = run_waits(&scripts, json!({"wait_a_ms": 300, "wait_c_ms": 200}));
    assert_eq!(workflow.status(), Status::Error);
    assert_eq!(workflow.error().unwrap().spec, "wait_b");
    // The calls already running finished and were taken in.
    assert_eq!(completed, ["wait_c", "wait_a"]);
    let states: Vec<(String, TaskState)> = workflow.tasks().map(|t| (t.spec, t.state)).collect();
    assert!(states.contains(&("wait_b".into(), TaskState::Error)), "{states:?}");
    assert!(!states.iter().any(|(_, s)| *s == TaskState::Started), "{states:?}");
}

#[test]
fn a_thousand_instances_run_at_once_without_crossing_data() {
    let library = library(&[fixture("linear.bpmn")]);
    let scripts = scripts();
    let run = |x: i64, scripts: &ScriptEngine| {
        let mut workflow = Workflow::start(library.clone(), None, object(json!({"x": x, "n": x}))).unwrap();
        assert_eq!(workflow.run(scripts), Status::Completed, "{:?}", workflow.error());
        workflow.data().clone()
    };
    let results: Vec<(i64, serde_json::Map<String, Value>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|thread| {
                let scripts = scripts.clone();
                let run = &run;
                s.spawn(move || {
                    (0..125)
                        .map(|i| {
                            let x = (thread * 125 + i) as i64;
                            (x, run(x, &scripts))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.len(), 1000);
    let one_at_a_time = scripts.clone().with_concurrency(1);
    for (x, data) in results {
        assert_eq!(data["n"], json!(x), "instance {x} kept its own data");
        assert_eq!(data, run(x, &one_at_a_time), "instance {x} ended as it does alone");
    }
}

#[test]
fn the_cli_runs_the_example_with_a_pool_and_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/parallel-waits");
    for file in ["parallel_waits.bpmn", "wasmflow.toml", "waits.json"] {
        std::fs::copy(example.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::fs::copy(plugin("wait"), dir.path().join("plugins/wait.wasm")).unwrap();
    let diagram = dir.path().join("parallel_waits.bpmn").display().to_string();
    let data = format!("@{}", dir.path().join("waits.json").display());
    let (one, code) = cli_json(&["run", &diagram, "--data", &data, "--json", "--concurrency", "1"]);
    assert_eq!(code, 0, "{one}");
    let (pool, code) = cli_json(&["run", &diagram, "--data", &data, "--json"]);
    assert_eq!(code, 0, "{pool}");
    assert_eq!(one["data"], pool["data"]);
    assert_eq!(pool["data"]["last"], "c");
}
