//! Concurrent execution: ready tasks on different branches run their plugin
//! calls at once on a bounded pool, results are taken in as they arrive, merges
//! stay deterministic, and many instances run at once from the library.

use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmflow::bpmn::Library;
use wasmflow::engine::{EventKind, Status, TaskState, Workflow};
use wasmflow::script::{Catalog, FailureKind, Limits, ScriptEngine, TaskInfo};
use wasmflow_tests::*;

/// Three calls on parallel branches, each waiting at a gate the test opens.
fn gated_example() -> Arc<Library> {
    library(&[fixture("parallel_gates.bpmn")])
}

/// An engine on `scripts`' executor, the gates granted to the `gate` plugin,
/// running up to `concurrency` calls at once.
fn gated(scripts: &ScriptEngine, gates: &Gates, concurrency: usize) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    gates.grant(&mut catalog);
    ScriptEngine::with_catalog(scripts.executor().clone(), catalog)
        .with_limits(Limits {
            timeout: Duration::from_secs(120),
            ..Limits::default()
        })
        .with_concurrency(concurrency)
}

/// The data naming each branch's gate.
fn gate_paths(gates: &Gates, branches: &[&str]) -> Value {
    Value::Object(
        branches
            .iter()
            .map(|b| (format!("gate_{b}"), json!(gates.path(b))))
            .collect(),
    )
}

/// What the engine reported, as the driver of the gates sees it.
#[derive(Debug, PartialEq)]
enum Seen {
    Completed(String),
    Failed(String),
}

/// One run of the gated example.
struct Run {
    workflow: Workflow,
    /// Its gate tasks, in the order they completed.
    completed: Vec<String>,
    /// Whether `gate_a` was seen STARTED while `gate_b` and `gate_c` were COMPLETED.
    a_ran_on_while_the_others_ended: bool,
}

/// Runs the gated example with `data` while `drive` (on a thread of its own,
/// told what the engine reports) opens the gates.
fn run_gates(scripts: &ScriptEngine, gates: &Gates, data: Value, drive: impl FnOnce(&Receiver<Seen>) + Send) -> Run {
    // Each run holds three calls at once; the tests' subprocess pool has four
    // workers, so two runs at once could each hold two and wait for ever.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut workflow = Workflow::start(gated_example(), None, object(data)).unwrap();
    let (seen, reports) = channel();
    let mut completed = Vec::new();
    let mut a_ran_on_while_the_others_ended = false;
    std::thread::scope(|s| {
        s.spawn(move || {
            // Whatever happens to the driver, the calls end and the run returns.
            let _open_all = OpenAll(gates);
            drive(&reports);
        });
        let report = |seen: &Sender<Seen>, kind| {
            // The driver may be gone once it has seen all it waits for.
            let _ = seen.send(kind);
        };
        workflow
            .run_observed(scripts, |w| {
                for event in w.take_events() {
                    match event.kind {
                        EventKind::TaskCompleted { spec, .. } if spec.starts_with("gate_") => {
                            completed.push(spec.clone());
                            report(&seen, Seen::Completed(spec));
                        }
                        EventKind::TaskError { spec, .. } => report(&seen, Seen::Failed(spec)),
                        _ => {}
                    }
                }
                let state = |spec: &str| w.tasks().find(|t| t.spec == spec).map(|t| t.state);
                a_ran_on_while_the_others_ended |= state("gate_a") == Some(TaskState::Started)
                    && state("gate_b") == Some(TaskState::Completed)
                    && state("gate_c") == Some(TaskState::Completed);
                Ok::<_, ()>(())
            })
            .unwrap();
        drop(seen);
    });
    Run {
        workflow,
        completed,
        a_ran_on_while_the_others_ended,
    }
}

/// Opens every gate of the example when dropped.
struct OpenAll<'a>(&'a Gates);

impl Drop for OpenAll<'_> {
    fn drop(&mut self) {
        for branch in ["a", "b", "c"] {
            self.0.open(branch);
        }
    }
}

/// The next thing the engine reports (fails the test if it reports nothing for two minutes).
fn next(reports: &Receiver<Seen>) -> Seen {
    reports
        .recv_timeout(Duration::from_secs(120))
        .expect("the engine reports on")
}

/// Waits until every call is at its gate (so they run at once), then opens
/// the gates one by one in `order`, each after the engine took in the one before.
fn release_in_order(gates: &Gates, reports: &Receiver<Seen>, order: &[&str]) {
    for branch in order {
        gates.wait_entered(branch);
    }
    for branch in order {
        gates.open(branch);
        assert_eq!(next(reports), Seen::Completed(format!("gate_{branch}")));
    }
}

for_each_executor! {
    #[test]
    fn parallel_calls_run_at_once_and_are_taken_in_as_they_end(scripts: &ScriptEngine) {
        // One after the other: in flow order (every gate open from the start).
        let open = Gates::new();
        for branch in ["a", "b", "c"] {
            open.open(branch);
        }
        let sequential = run_gates(&gated(scripts, &open, 1), &open, gate_paths(&open, &["a", "b", "c"]), |_| {});
        assert_eq!(sequential.workflow.status(), Status::Completed, "{:?}", sequential.workflow.error());
        assert_eq!(sequential.completed, ["gate_a", "gate_b", "gate_c"]);

        // At once: all three reach their gates before any opens, and they are
        // taken in in the order they end.
        let gates = Gates::new();
        let concurrent = run_gates(&gated(scripts, &gates, 4), &gates, gate_paths(&gates, &["a", "b", "c"]), |reports| {
            release_in_order(&gates, reports, &["b", "c", "a"])
        });
        assert_eq!(concurrent.workflow.status(), Status::Completed, "{:?}", concurrent.workflow.error());
        assert_eq!(concurrent.completed, ["gate_b", "gate_c", "gate_a"]);
        // The same data either way: the join merges in flow order, not finishing order.
        assert_eq!(concurrent.workflow.data()["last"], "c");
        assert_eq!(sequential.workflow.data()["last"], "c");
        for branch in ["a", "b", "c"] {
            assert_eq!(concurrent.workflow.data()[branch], json!(gates.path(branch)));
        }
    }

    #[test]
    fn merges_do_not_depend_on_which_branch_finishes_first(scripts: &ScriptEngine) {
        let orders = [["a", "b", "c"], ["a", "c", "b"], ["b", "a", "c"], ["b", "c", "a"], ["c", "a", "b"], ["c", "b", "a"]];
        for order in orders {
            let gates = Gates::new();
            let run = run_gates(&gated(scripts, &gates, 4), &gates, gate_paths(&gates, &["a", "b", "c"]), |reports| {
                release_in_order(&gates, reports, &order)
            });
            assert_eq!(run.workflow.status(), Status::Completed, "{:?}", run.workflow.error());
            let ended: Vec<String> = order.iter().map(|b| format!("gate_{b}")).collect();
            assert_eq!(run.completed, ended);
            assert_eq!(run.workflow.data()["last"], "c", "finishing order {order:?}");
            assert_eq!(run.workflow.data()["a"], json!(gates.path("a")));
        }
    }

    #[test]
    fn a_running_call_is_started_while_other_branches_go_on(scripts: &ScriptEngine) {
        let gates = Gates::new();
        let run = run_gates(&gated(scripts, &gates, 4), &gates, gate_paths(&gates, &["a", "b", "c"]), |reports| {
            release_in_order(&gates, reports, &["b", "c", "a"])
        });
        assert!(run.a_ran_on_while_the_others_ended, "gate_a was STARTED while gate_b and gate_c completed");
        assert_eq!(run.workflow.status(), Status::Completed);
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
    // Branch b fails at once (its gate's path is missing) while a and c wait at
    // their gates; they are opened only once the engine has seen the failure.
    let gates = Gates::new();
    let run = run_gates(
        &gated(&scripts(), &gates, 4),
        &gates,
        gate_paths(&gates, &["a", "c"]),
        |reports| {
            gates.wait_entered("a");
            gates.wait_entered("c");
            assert_eq!(next(reports), Seen::Failed("gate_b".into()));
            release_in_order(&gates, reports, &["c", "a"]);
        },
    );
    let workflow = run.workflow;
    assert_eq!(workflow.status(), Status::Error);
    assert_eq!(workflow.error().unwrap().spec, "gate_b");
    // The calls already running finished and were taken in.
    assert_eq!(run.completed, ["gate_c", "gate_a"]);
    let states: Vec<(String, TaskState)> = workflow.tasks().map(|t| (t.spec, t.state)).collect();
    assert!(states.contains(&("gate_b".into(), TaskState::Error)), "{states:?}");
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

#[test]
fn parallel_instances_run_at_once_and_gather_in_element_order() {
    let gates = Gates::new();
    let scripts = gated(&scripts(), &gates, 4);
    let xml = gate_service_task().replace(
        r#"<bpmn:serviceTask id="task">"#,
        r#"<bpmn:serviceTask id="task"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>gates</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>passes</bpmn:loopDataOutputRef><bpmn:inputDataItem id="gate_path" /><bpmn:outputDataItem id="passed" /></bpmn:multiInstanceLoopCharacteristics>"#,
    );
    let paths: Vec<String> = ["a", "b", "c"].iter().map(|g| gates.path(g)).collect();
    let workflow = std::thread::scope(|s| {
        s.spawn(|| {
            let _open_all = OpenAll(&gates);
            // All three instances are at their gates before any opens: they
            // run at once. Then the last ends first.
            for gate in ["a", "b", "c"] {
                gates.wait_entered(gate);
            }
            for gate in ["c", "b", "a"] {
                gates.open(gate);
            }
        });
        run_xml(&xml, json!({ "gates": paths }), &scripts)
    });
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(
        workflow.data()["passes"],
        json!(paths),
        "element order, not completion order"
    );
}
