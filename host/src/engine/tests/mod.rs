//! The engine against a fake executor: no wasm, so joins, gateways, catches,
//! scopes, waits, retries and halts are checked in milliseconds.
//!
//! The fake answers each compiled plugin (named after the task that runs it)
//! with a scripted function of the request, and stands in for the built-in
//! interpreter with a tiny language: an expression `NAME` is the value of
//! `NAME` in the data (`not NAME` its negation; `fail...` an error); an
//! inline script `NAME = JSON` sets `NAME`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::{Status, TaskState, Workflow, truthy};
use crate::bpmn::{Library, parse_str};
use crate::executor::{Call, Executor, Reply};
use crate::script::{Catalog, FailureKind, Limits, PYTHON, Plugin, ScriptEngine, ScriptError};

/// What a fake plugin answers to a request: an ABI response, or a failure.
type Answerer = Box<dyn Fn(&Value) -> Result<Value, ScriptError> + Send + Sync>;

/// An executor that runs no wasm: it answers from a table.
#[derive(Default)]
struct Fake {
    plugins: HashMap<String, Answerer>,
    /// The tasks whose plugins were called (element ids), in call order.
    calls: Mutex<Vec<String>>,
}

impl Executor for Fake {
    fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError> {
        let request: Value = serde_json::from_slice(call.request).expect("requests are JSON");
        let response = if call.plugin.name == PYTHON {
            interpret(&request)
        } else {
            let task = request["task"]["spec"].as_str().unwrap_or_default().to_string();
            self.calls.lock().unwrap().push(task);
            (self.plugins[&call.plugin.name])(&request)?
        };
        Ok(Reply {
            response: serde_json::to_vec(&response).unwrap(),
            log: String::new(),
            checks: Vec::new(),
        })
    }

    fn prepare(&self, _: &Plugin, _: Limits) -> Result<(), ScriptError> {
        Ok(())
    }
}

/// The stand-in for the built-in interpreter (see the module documentation).
fn interpret(request: &Value) -> Value {
    let source = request["source"].as_str().unwrap_or_default().trim();
    let data = &request["data"];
    match request["call"].as_str() {
        Some("expression") if source.starts_with("fail") => {
            json!({"status": "error", "message": "the expression cannot be evaluated"})
        }
        Some("expression") => {
            let value = match source.strip_prefix("not ") {
                Some(name) => json!(!truthy(&data[name])),
                None => data[source].clone(),
            };
            json!({"status": "ok", "result": value})
        }
        _ => {
            let (name, value) = source.split_once('=').expect("fake scripts are `NAME = JSON`");
            let mut data = data.as_object().cloned().unwrap_or_default();
            data.insert(name.trim().into(), serde_json::from_str(value.trim()).unwrap());
            json!({"status": "ok", "data": data})
        }
    }
}

/// Answers `ok` with the request's data (or a service's params) and `set` merged in.
fn sets(set: Value) -> Answerer {
    Box::new(move |request| {
        let mut data = request["data"].as_object().cloned().unwrap_or_default();
        data.extend(set.as_object().unwrap().clone());
        match request["call"].as_str() {
            Some("service") => Ok(json!({"status": "ok", "result": set})),
            _ => Ok(json!({"status": "ok", "data": data})),
        }
    })
}

/// Answers with `response` whatever is asked.
fn answers(response: Value) -> Answerer {
    Box::new(move |_| Ok(response.clone()))
}

/// Answers `first` to the first call and `sets(then)` to every later one;
/// the later calls' data is recorded in `seen`.
fn first_then(first: Result<Value, ScriptError>, then: Value, seen: Arc<Mutex<Vec<Value>>>) -> Answerer {
    let count = AtomicUsize::new(0);
    let rest = sets(then);
    Box::new(move |request| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            return first.clone();
        }
        seen.lock().unwrap().push(request["data"].clone());
        rest(request)
    })
}

/// A diagram of the processes in `body`, with the error definitions every test may use.
fn library(body: &str) -> Arc<Library> {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
{body}
  <bpmn:error id="declined" name="Declined" errorCode="declined">
    <bpmn:extensionElements><spiffworkflow:variableName>why</spiffworkflow:variableName></bpmn:extensionElements>
  </bpmn:error>
  <bpmn:error id="other_error" errorCode="other" />
</bpmn:definitions>"#
    );
    let diagram = parse_str(Path::new("test.bpmn"), &xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    Arc::new(Library::new(vec![diagram]))
}

/// A script task running the plugin named after it.
fn work(id: &str) -> String {
    format!(r#"<bpmn:scriptTask id="{id}" scriptFormat="wasm"><bpmn:script>{id}</bpmn:script></bpmn:scriptTask>"#)
}

/// Sequence flows `from → to` (ids `from_to`), one per pair.
fn flows(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(from, to)| format!(r#"<bpmn:sequenceFlow id="{from}_{to}" sourceRef="{from}" targetRef="{to}" />"#))
        .collect()
}

/// A conditional sequence flow `from → to` (id `from_to`).
fn when(from: &str, to: &str, condition: &str) -> String {
    format!(
        r#"<bpmn:sequenceFlow id="{from}_{to}" sourceRef="{from}" targetRef="{to}"><bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"#
    )
}

/// The process `id`, executable, with `elements` inside.
fn process(id: &str, elements: &[&str]) -> String {
    format!(
        r#"<bpmn:process id="{id}" isExecutable="true">{}</bpmn:process>"#,
        elements.concat()
    )
}

/// A fake-backed script engine with these plugins, running up to `concurrency` calls at once.
fn engine(plugins: Vec<(&str, Answerer)>, concurrency: usize) -> (ScriptEngine, Arc<Fake>) {
    let mut catalog = Catalog::new("plugins");
    let mut fake = Fake::default();
    for (name, answer) in plugins {
        catalog.entry_mut(name).module = Some(format!("{name}.wasm").into());
        fake.plugins.insert(name.to_string(), answer);
    }
    let fake = Arc::new(fake);
    let scripts = ScriptEngine::with_catalog(fake.clone(), catalog).with_concurrency(concurrency);
    (scripts, fake)
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// Starts the library's process with `data` and runs it.
fn run(library: &Arc<Library>, data: Value, scripts: &ScriptEngine) -> Workflow {
    let mut workflow = Workflow::start(library.clone(), None, object(data)).unwrap();
    workflow.run(scripts);
    workflow
}

fn states_of(workflow: &Workflow, spec: &str) -> Vec<TaskState> {
    workflow.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

fn calls(fake: &Fake) -> Vec<String> {
    fake.calls.lock().unwrap().clone()
}

fn id_of(workflow: &Workflow, spec: &str) -> usize {
    workflow.tasks().find(|t| t.spec == spec).unwrap().id
}

#[test]
fn a_parallel_join_merges_its_branches_in_branch_order_on_either_strategy() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" /><bpmn:endEvent id="end" />"#,
            &work("a"),
            &work("b"),
            &work("after"),
            &flows(&[
                ("start", "fork"),
                ("fork", "a"),
                ("fork", "b"),
                ("a", "join"),
                ("b", "join"),
                ("join", "after"),
                ("after", "end"),
            ]),
        ],
    ));
    for concurrency in [1, 4] {
        let (scripts, fake) = engine(
            vec![
                ("a", sets(json!({"who": "a", "a": 1}))),
                ("b", sets(json!({"who": "b", "b": 2}))),
                ("after", sets(json!({"after": true}))),
            ],
            concurrency,
        );
        let workflow = run(&library, json!({"n": 0}), &scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        // Branch `b` comes second in the document, so its `who` wins, whichever finished last.
        assert_eq!(
            Value::Object(workflow.data().clone()),
            json!({"n": 0, "who": "b", "a": 1, "b": 2, "after": true})
        );
        assert_eq!(states_of(&workflow, "join"), [TaskState::Completed; 2]);
        let mut called = calls(&fake);
        assert_eq!(
            called.pop().as_deref(),
            Some("after"),
            "the join fires after both branches"
        );
        called.sort();
        assert_eq!(called, ["a", "b"]);
    }
}

#[test]
fn an_inclusive_gateway_takes_the_true_flows_and_joins_only_those() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:inclusiveGateway id="fork" /><bpmn:inclusiveGateway id="join" /><bpmn:endEvent id="end" />"#,
            &work("a"),
            &work("b"),
            &work("c"),
            &flows(&[
                ("start", "fork"),
                ("a", "join"),
                ("b", "join"),
                ("c", "join"),
                ("join", "end"),
            ]),
            &when("fork", "a", "go_a"),
            &when("fork", "b", "go_b"),
            &when("fork", "c", "go_c"),
        ],
    ));
    let (scripts, fake) = engine(
        vec![
            ("a", sets(json!({"a": 1}))),
            ("b", sets(json!({"b": 1}))),
            ("c", sets(json!({"c": 1}))),
        ],
        1,
    );
    let workflow = run(&library, json!({"go_a": true, "go_b": false, "go_c": true}), &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["a", "c"]);
    assert_eq!(workflow.data().get("a"), Some(&json!(1)));
    assert_eq!(workflow.data().get("b"), None);
    assert_eq!(workflow.data().get("c"), Some(&json!(1)));
    // One join task per arriving token; the join fired once, with both.
    assert_eq!(states_of(&workflow, "join"), [TaskState::Completed; 2]);
    assert_eq!(states_of(&workflow, "end"), [TaskState::Completed]);
}

#[test]
fn an_exclusive_gateway_takes_the_first_true_flow_else_its_default_else_fails() {
    let gateway = |default: bool| {
        library(&process(
            "p",
            &[
                &format!(
                    r#"<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="choose" {} /><bpmn:endEvent id="end" />"#,
                    if default { r#"default="choose_other""# } else { "" }
                ),
                &work("left"),
                &work("right"),
                &work("other"),
                &flows(&[("start", "choose"), ("left", "end"), ("right", "end"), ("other", "end")]),
                &when("choose", "left", "go_left"),
                &when("choose", "right", "go_right"),
                &if default {
                    flows(&[("choose", "other")])
                } else {
                    String::new()
                },
            ],
        ))
    };
    let with_default = gateway(true);
    for (data, expected) in [
        (json!({"go_left": true, "go_right": true}), "left"),
        (json!({"go_left": false, "go_right": true}), "right"),
        (json!({"go_left": false, "go_right": false}), "other"),
    ] {
        let plugins = ["left", "right", "other"].map(|p| (p, sets(json!({"took": p}))));
        let (scripts, fake) = engine(plugins.into(), 1);
        let workflow = run(&with_default, data.clone(), &scripts);
        assert_eq!(workflow.status(), Status::Completed, "{data}: {:?}", workflow.error());
        assert_eq!(calls(&fake), [expected], "{data}");
        assert_eq!(workflow.data()["took"], json!(expected));
    }
    let plugins = ["left", "right", "other"].map(|p| (p, sets(json!({}))));
    let (scripts, fake) = engine(plugins.into(), 1);
    let workflow = run(&gateway(false), json!({"go_left": false, "go_right": false}), &scripts);
    assert_eq!(workflow.status(), Status::Error);
    let error = workflow.error().unwrap();
    assert_eq!((error.reason.as_str(), error.spec.as_str()), ("no_way_out", "choose"));
    assert!(calls(&fake).is_empty());
}

/// `work` with a catch-all boundary (first in the document) and one for `declined`.
fn boundaries() -> Arc<Library> {
    library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:endEvent id="end_declined" /><bpmn:endEvent id="end_any" />"#,
            &work("work"),
            r#"<bpmn:boundaryEvent id="on_any" attachedToRef="work"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>"#,
            r#"<bpmn:boundaryEvent id="on_declined" attachedToRef="work"><bpmn:errorEventDefinition errorRef="declined" /></bpmn:boundaryEvent>"#,
            &work("handle_declined"),
            &work("handle_any"),
            &flows(&[
                ("start", "work"),
                ("work", "end"),
                ("on_declined", "handle_declined"),
                ("handle_declined", "end_declined"),
                ("on_any", "handle_any"),
                ("handle_any", "end_any"),
            ]),
        ],
    ))
}

#[test]
fn a_boundary_naming_the_code_wins_over_an_earlier_catch_all() {
    for concurrency in [1, 4] {
        let (scripts, fake) = engine(
            vec![
                (
                    "work",
                    answers(json!({"status": "bpmn_error", "code": "declined", "payload": {"limit": 5}})),
                ),
                ("handle_declined", sets(json!({"handled": "declined"}))),
                ("handle_any", sets(json!({"handled": "any"}))),
            ],
            concurrency,
        );
        let workflow = run(&boundaries(), json!({"amount": 9}), &scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(calls(&fake), ["work", "handle_declined"]);
        assert_eq!(states_of(&workflow, "work"), [TaskState::Cancelled]);
        assert_eq!(states_of(&workflow, "on_any"), []);
        // The payload lands under the error's `spiffworkflow:variableName`, beside the activity's data.
        assert_eq!(
            Value::Object(workflow.data().clone()),
            json!({"amount": 9, "why": {"limit": 5}, "handled": "declined"})
        );
    }
}

#[test]
fn a_catch_all_boundary_catches_other_codes_with_the_payload_under_the_default_name() {
    let (scripts, fake) = engine(
        vec![
            (
                "work",
                answers(json!({"status": "bpmn_error", "code": "other", "payload": 7})),
            ),
            ("handle_declined", sets(json!({"handled": "declined"}))),
            ("handle_any", sets(json!({"handled": "any"}))),
        ],
        1,
    );
    let workflow = run(&boundaries(), json!({}), &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["work", "handle_any"]);
    assert_eq!(workflow.data()["spiff__on_any_payload"], json!(7));
    assert_eq!(workflow.data()["handled"], json!("any"));
}

#[test]
fn an_uncaught_bpmn_error_fails_the_task_with_its_code_name_and_payload() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            &work("work"),
            &flows(&[("start", "work"), ("work", "end")]),
        ],
    ));
    let (scripts, _) = engine(
        vec![(
            "work",
            answers(json!({"status": "bpmn_error", "code": "declined", "name": "No", "payload": [1]})),
        )],
        1,
    );
    let workflow = run(&library, json!({"amount": 9}), &scripts);
    assert_eq!(workflow.status(), Status::Error);
    assert_eq!(states_of(&workflow, "work"), [TaskState::Error]);
    // The saved and printed form of the failure.
    assert_eq!(
        serde_json::to_value(workflow.error().unwrap()).unwrap(),
        json!({
            "task": 1, "spec": "work", "type": "scriptTask", "process": "p",
            "location": workflow.error().unwrap().location,
            "plugin": "work", "reason": "bpmn_error",
            "message": "BPMN error `declined` (No) was thrown and nothing catches it",
            "code": "declined", "error_name": "No", "payload": [1],
        })
    );
    // The task keeps the data it was reached with, for a retry.
    assert_eq!(workflow.task_data(1), Some(&object(json!({"amount": 9}))));
}

#[test]
fn the_innermost_catch_wins_and_an_unmatched_error_goes_out_one_scope() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:endEvent id="end_outer" />"#,
            r#"<bpmn:subProcess id="sub"><bpmn:startEvent id="s_start" /><bpmn:endEvent id="s_end" /><bpmn:endEvent id="s_end_inner" />"#,
            &work("work"),
            r#"<bpmn:boundaryEvent id="inner" attachedToRef="work"><bpmn:errorEventDefinition errorRef="declined" /></bpmn:boundaryEvent>"#,
            &work("handle_inner"),
            &flows(&[
                ("s_start", "work"),
                ("work", "s_end"),
                ("inner", "handle_inner"),
                ("handle_inner", "s_end_inner"),
            ]),
            "</bpmn:subProcess>",
            r#"<bpmn:boundaryEvent id="outer" attachedToRef="sub"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>"#,
            &work("handle_outer"),
            &work("after"),
            &flows(&[
                ("start", "sub"),
                ("sub", "after"),
                ("after", "end"),
                ("outer", "handle_outer"),
                ("handle_outer", "end_outer"),
            ]),
        ],
    ));
    for (code, expected) in [
        ("declined", ["work", "handle_inner", "after"]),
        ("other", ["work", "handle_outer", ""]),
    ] {
        let (scripts, fake) = engine(
            vec![
                ("work", answers(json!({"status": "bpmn_error", "code": code}))),
                ("handle_inner", sets(json!({"handled": "inner"}))),
                ("handle_outer", sets(json!({"handled": "outer"}))),
                ("after", sets(json!({"after": true}))),
            ],
            1,
        );
        let workflow = run(&library, json!({}), &scripts);
        assert_eq!(workflow.status(), Status::Completed, "{code}: {:?}", workflow.error());
        let expected: Vec<&str> = expected.into_iter().filter(|c| !c.is_empty()).collect();
        assert_eq!(calls(&fake), expected, "{code}");
        let sub = if code == "declined" {
            TaskState::Completed
        } else {
            TaskState::Cancelled
        };
        assert_eq!(states_of(&workflow, "sub"), [sub], "{code}");
        assert_eq!(states_of(&workflow, "work"), [TaskState::Cancelled], "{code}");
    }
}

#[test]
fn an_event_subprocess_catches_an_error_of_its_scope_and_ends_it() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="fork" /><bpmn:endEvent id="end" /><bpmn:userTask id="wait" />"#,
            &work("work"),
            &flows(&[
                ("start", "fork"),
                ("fork", "work"),
                ("fork", "wait"),
                ("work", "end"),
                ("wait", "end"),
            ]),
            r#"<bpmn:subProcess id="handler" triggeredByEvent="true"><bpmn:startEvent id="h_start"><bpmn:errorEventDefinition errorRef="declined" /></bpmn:startEvent><bpmn:endEvent id="h_end" />"#,
            &work("handle"),
            &flows(&[("h_start", "handle"), ("handle", "h_end")]),
            "</bpmn:subProcess>",
        ],
    ));
    let (scripts, fake) = engine(
        vec![
            (
                "work",
                answers(json!({"status": "bpmn_error", "code": "declined", "payload": "p"})),
            ),
            ("handle", sets(json!({"handled": true}))),
        ],
        1,
    );
    let workflow = run(&library, json!({"x": 1}), &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["work", "handle"]);
    assert_eq!(states_of(&workflow, "wait"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "work"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "handler"), [TaskState::Completed]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"x": 1, "why": "p", "handled": true})
    );
}

#[test]
fn a_terminate_end_event_cancels_the_other_tokens_and_completes_the_instance() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:parallelGateway id="fork" /><bpmn:userTask id="wait" /><bpmn:endEvent id="end" />"#,
            r#"<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition /></bpmn:endEvent>"#,
            &work("work"),
            &flows(&[
                ("start", "fork"),
                ("fork", "wait"),
                ("fork", "work"),
                ("work", "stop"),
                ("wait", "end"),
            ]),
        ],
    ));
    let (scripts, _) = engine(vec![("work", sets(json!({"done": true})))], 1);
    let workflow = run(&library, json!({}), &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(states_of(&workflow, "wait"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "end"), []);
    assert_eq!(workflow.data()["done"], json!(true));
    assert_eq!(workflow.waiting_tasks().count(), 0);
}

#[test]
fn a_terminate_end_event_in_a_subprocess_ends_only_the_subprocess() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:userTask id="outside" /><bpmn:parallelGateway id="split" /><bpmn:endEvent id="end" />"#,
            r#"<bpmn:subProcess id="sub"><bpmn:startEvent id="s1" /><bpmn:parallelGateway id="fork" /><bpmn:userTask id="inside" />"#,
            r#"<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition /></bpmn:endEvent><bpmn:endEvent id="e1" />"#,
            &work("work"),
            &flows(&[
                ("s1", "fork"),
                ("fork", "inside"),
                ("fork", "work"),
                ("work", "stop"),
                ("inside", "e1"),
            ]),
            "</bpmn:subProcess>",
            &work("after"),
            &flows(&[
                ("start", "split"),
                ("split", "sub"),
                ("split", "outside"),
                ("sub", "after"),
                ("after", "end"),
                ("outside", "end"),
            ]),
        ],
    ));
    let (scripts, _) = engine(
        vec![
            ("work", sets(json!({"done": true}))),
            ("after", sets(json!({"after": true}))),
        ],
        1,
    );
    let workflow = run(&library, json!({}), &scripts);
    // The subprocess ended (its user task cancelled) and the process went on
    // after it; the process's own user task still waits.
    assert_eq!(workflow.status(), Status::Waiting, "{:?}", workflow.error());
    assert_eq!(states_of(&workflow, "inside"), [TaskState::Cancelled]);
    assert_eq!(states_of(&workflow, "sub"), [TaskState::Completed]);
    assert_eq!(states_of(&workflow, "after"), [TaskState::Completed]);
    assert_eq!(states_of(&workflow, "outside"), [TaskState::Ready]);
}

#[test]
fn subprocesses_and_call_activities_hand_their_data_back_to_their_task() {
    let library = library(&format!(
        "{}{}",
        process(
            "parent",
            &[
                r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:callActivity id="call" calledElement="child" />"#,
                r#"<bpmn:subProcess id="sub"><bpmn:startEvent id="s_start" /><bpmn:endEvent id="s_end" />"#,
                &work("inside"),
                &flows(&[("s_start", "inside"), ("inside", "s_end")]),
                "</bpmn:subProcess>",
                &work("last"),
                &flows(&[("start", "sub"), ("sub", "call"), ("call", "last"), ("last", "end")]),
            ],
        ),
        r#"<bpmn:process id="child"><bpmn:startEvent id="c_start" /><bpmn:endEvent id="c_end" /><bpmn:scriptTask id="called" scriptFormat="wasm"><bpmn:script>called</bpmn:script></bpmn:scriptTask><bpmn:sequenceFlow id="c1" sourceRef="c_start" targetRef="called" /><bpmn:sequenceFlow id="c2" sourceRef="called" targetRef="c_end" /></bpmn:process>"#,
    ));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_by_last = seen.clone();
    let last: Answerer = Box::new(move |request| {
        seen_by_last.lock().unwrap().push(request["data"].clone());
        Ok(json!({"status": "ok", "data": request["data"]}))
    });
    let (scripts, fake) = engine(
        vec![
            ("inside", sets(json!({"inside": 1, "nested": {"a": 1}}))),
            ("called", sets(json!({"called": 2, "nested": {"b": 2}}))),
            ("last", last),
        ],
        1,
    );
    let workflow = run(&library, json!({"start": 0}), &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["inside", "called", "last"]);
    let expected = json!({"start": 0, "inside": 1, "called": 2, "nested": {"a": 1, "b": 2}});
    assert_eq!(seen.lock().unwrap().as_slice(), [expected.clone()]);
    assert_eq!(Value::Object(workflow.data().clone()), expected);
    assert_eq!(workflow.scope_count(), 3);
    assert_eq!(states_of(&workflow, "sub"), [TaskState::Completed]);
    assert_eq!(states_of(&workflow, "call"), [TaskState::Completed]);
}

#[test]
fn a_user_task_waits_until_completed_from_outside() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:userTask id="approve" /><bpmn:endEvent id="end" />"#,
            &work("ship"),
            &flows(&[("start", "approve"), ("approve", "ship"), ("ship", "end")]),
        ],
    ));
    let (scripts, fake) = engine(vec![("ship", sets(json!({"shipped": true})))], 1);
    let mut workflow = run(&library, json!({"order": 7}), &scripts);
    assert_eq!(workflow.status(), Status::Waiting);
    assert!(calls(&fake).is_empty());
    let waiting: Vec<_> = workflow.waiting_tasks().map(|t| (t.spec, t.state)).collect();
    assert_eq!(waiting, [("approve".to_string(), TaskState::Ready)]);
    let approve = id_of(&workflow, "approve");
    assert!(workflow.complete_task(id_of(&workflow, "start"), Map::new()).is_err());
    workflow
        .complete_task(approve, object(json!({"approved": true})))
        .unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["ship"]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"order": 7, "approved": true, "shipped": true})
    );
}

/// What the later calls of a fake plugin saw.
type Seen = Arc<Mutex<Vec<Value>>>;

/// Runs `start → work → end` on `{"x": 1}`, `work` answering `first` once,
/// then setting `{"ok": true}`.
fn interrupted_once(
    first: Result<Value, ScriptError>,
    concurrency: usize,
) -> (Workflow, ScriptEngine, Arc<Fake>, Seen) {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            &work("work"),
            &flows(&[("start", "work"), ("work", "end")]),
        ],
    ));
    let seen = Seen::default();
    let (scripts, fake) = engine(
        vec![("work", first_then(first, json!({"ok": true}), seen.clone()))],
        concurrency,
    );
    let workflow = run(&library, json!({"x": 1}), &scripts);
    (workflow, scripts, fake, seen)
}

#[test]
fn a_failed_task_runs_again_on_retry_with_the_patched_data() {
    for concurrency in [1, 4] {
        let trap = Err(ScriptError::new("work", FailureKind::Trap, "unreachable"));
        let (mut workflow, scripts, fake, seen) = interrupted_once(trap, concurrency);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!((error.reason.as_str(), error.plugin.as_deref()), ("trap", Some("work")));
        let work = id_of(&workflow, "work");
        assert_eq!(workflow.task(work).unwrap().state, TaskState::Error);
        assert!(workflow.retry_task(id_of(&workflow, "start"), None).is_err());
        workflow.retry_task(work, Some(object(json!({"fixed": true})))).unwrap();
        assert_eq!(workflow.run(&scripts), Status::Completed, "{:?}", workflow.error());
        assert!(workflow.error().is_none());
        assert_eq!(calls(&fake), ["work", "work"]);
        assert_eq!(seen.lock().unwrap().as_slice(), [json!({"x": 1, "fixed": true})]);
        assert_eq!(
            Value::Object(workflow.data().clone()),
            json!({"x": 1, "fixed": true, "ok": true})
        );
    }
}

#[test]
fn a_halt_is_not_a_failure_and_the_task_runs_again_on_resume() {
    for concurrency in [1, 4] {
        let halt = Ok(json!({"status": "halt", "message": "check the address"}));
        let (mut workflow, scripts, fake, seen) = interrupted_once(halt, concurrency);
        assert_eq!(workflow.status(), Status::Halted);
        assert!(workflow.error().is_none());
        let halt = workflow.halt().unwrap().clone();
        assert_eq!(
            (halt.spec.as_str(), halt.message.as_str()),
            ("work", "check the address")
        );
        assert_eq!(workflow.task(halt.task).unwrap().state, TaskState::Waiting);
        // A halted instance does not run on by itself.
        assert_eq!(workflow.run(&scripts), Status::Halted);
        workflow
            .resume_halted(Some(object(json!({"address": "fixed"}))))
            .unwrap();
        assert!(workflow.resume_halted(None).is_err(), "no longer halted");
        assert_eq!(workflow.run(&scripts), Status::Completed, "{:?}", workflow.error());
        assert_eq!(calls(&fake), ["work", "work"]);
        assert_eq!(seen.lock().unwrap().as_slice(), [json!({"x": 1, "address": "fixed"})]);
    }
}

#[test]
fn a_halted_call_keeps_its_tasks_input_and_the_hooks_run_again_on_resume() {
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />"#,
            r#"<bpmn:scriptTask id="work" scriptFormat="wasm"><bpmn:extensionElements><spiffworkflow:preScript>pre = 1</spiffworkflow:preScript><spiffworkflow:postScript>post = 2</spiffworkflow:postScript></bpmn:extensionElements><bpmn:script>work</bpmn:script></bpmn:scriptTask>"#,
            &flows(&[("start", "work"), ("work", "end")]),
        ],
    ));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let halt = Ok(json!({"status": "halt", "message": "wait"}));
    let (scripts, _) = engine(vec![("work", first_then(halt, json!({"ran": true}), seen.clone()))], 1);
    let mut workflow = run(&library, json!({"x": 1}), &scripts);
    assert_eq!(workflow.status(), Status::Halted);
    let work = id_of(&workflow, "work");
    // Halted in the call, after the pre-script: the task keeps its input, not the pre-script's output.
    assert_eq!(workflow.task_data(work), Some(&object(json!({"x": 1}))));
    workflow.resume_halted(None).unwrap();
    assert_eq!(workflow.run(&scripts), Status::Completed, "{:?}", workflow.error());
    assert_eq!(seen.lock().unwrap().as_slice(), [json!({"x": 1, "pre": 1})]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"x": 1, "pre": 1, "ran": true, "post": 2})
    );
}

#[test]
fn a_service_task_puts_the_result_under_its_variable_and_its_bpmn_error_is_caught() {
    let service = |id: &str| {
        format!(
            r#"<bpmn:serviceTask id="{id}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="{id}" resultVariable="result"><spiffworkflow:parameters><spiffworkflow:parameter id="amount" type="int" value="amount" /></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>"#
        )
    };
    let library = library(&process(
        "p",
        &[
            r#"<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:endEvent id="end_caught" />"#,
            &service("price"),
            &service("charge"),
            r#"<bpmn:boundaryEvent id="on_declined" attachedToRef="charge"><bpmn:errorEventDefinition errorRef="declined" /></bpmn:boundaryEvent>"#,
            &flows(&[
                ("start", "price"),
                ("price", "charge"),
                ("charge", "end"),
                ("on_declined", "end_caught"),
            ]),
        ],
    ));
    let params = Arc::new(Mutex::new(Vec::new()));
    let seen = params.clone();
    let price: Answerer = Box::new(move |request| {
        seen.lock().unwrap().push(request["params"].clone());
        Ok(json!({"status": "ok", "result": {"total": 10}}))
    });
    let (scripts, fake) = engine(
        vec![
            ("price", price),
            (
                "charge",
                answers(json!({"status": "bpmn_error", "code": "declined", "payload": "no funds"})),
            ),
        ],
        1,
    );
    let workflow = run(&library, json!({"amount": 3}), &scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(calls(&fake), ["price", "charge"]);
    assert_eq!(params.lock().unwrap().as_slice(), [json!({"amount": 3})]);
    assert_eq!(states_of(&workflow, "end_caught"), [TaskState::Completed]);
    assert_eq!(
        Value::Object(workflow.data().clone()),
        json!({"amount": 3, "result": {"total": 10}, "why": "no funds"})
    );
}

mod conditions;
mod escalations;
mod messages;
mod timers;
