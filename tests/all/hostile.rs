//! Plugins that misbehave are contained: each fails its task with a clear
//! error naming the plugin, and the host goes on working afterwards.

use std::time::Duration;

use serde_json::json;
use wasmflow::engine::{Status, TaskFailure, Workflow};
use wasmflow::script::{Limits, ScriptEngine};
use wasmflow_tests::*;

/// Runs a one-task workflow with `plugin`, expects it to fail, and checks the
/// host still runs a well-behaved plugin afterwards.
fn contained(scripts: &ScriptEngine, plugin: &str, limits: Limits, data: serde_json::Value) -> TaskFailure {
    let limited = scripts.clone().with_limits(limits);
    let workflow = run_xml(&plugin_task(plugin), data, &limited);
    assert_eq!(
        workflow.status(),
        Status::Error,
        "{plugin} should fail, data: {:?}",
        workflow.data()
    );
    let error = workflow.error().unwrap().clone();
    assert_eq!(error.plugin.as_deref(), Some(plugin));
    assert_eq!(error.spec, "task");
    assert_still_healthy(scripts);
    error
}

fn assert_still_healthy(scripts: &ScriptEngine) {
    let workflow = run_xml(&plugin_task("echo"), json!({"n": 1}), scripts);
    assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
    assert_eq!(workflow.data()["echoed"], json!(true));
}

fn quick() -> Limits {
    Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

for_each_executor! {
    #[test]
    fn reading_etc_passwd_is_impossible(scripts: &ScriptEngine) {
        let error = contained(scripts, "read_passwd", Limits::default(), json!({}));
        assert_eq!(error.reason, "plugin_error");
        // WASI with no preopens has no path to resolve anything against.
        assert!(error.message.to_lowercase().contains("passwd"), "{}", error.message);
    }

    #[test]
    fn environment_variables_are_invisible(scripts: &ScriptEngine) {
        // The plugin reports every variable it can see instead of failing. The
        // host's own environment is far from empty (cargo sets dozens).
        assert!(std::env::vars().count() > 0);
        let workflow = run_xml(&plugin_task("read_env"), json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["env"], json!({}), "the plugin saw variables");
    }

    #[test]
    fn sockets_cannot_be_opened(scripts: &ScriptEngine) {
        let error = contained(scripts, "open_socket", Limits::default(), json!({}));
        assert_eq!(error.reason, "plugin_error");
        assert!(!error.message.is_empty());
    }

    #[test]
    fn an_endless_loop_hits_the_deadline(scripts: &ScriptEngine) {
        let error = contained(scripts, "loop_forever", quick(), json!({}));
        assert_eq!(error.reason, "deadline");
        assert!(
            error.message.contains("500ms") && error.message.contains("--timeout"),
            "{}",
            error.message
        );
    }

    #[test]
    fn unbounded_allocation_hits_the_memory_limit(scripts: &ScriptEngine) {
        let limits = Limits {
            memory: 32 << 20,
            ..quick()
        };
        let error = contained(scripts, "alloc_unbounded", limits, json!({}));
        assert_eq!(error.reason, "memory_limit");
        assert!(
            error.message.contains("32 MiB") && error.message.contains("--memory"),
            "{}",
            error.message
        );
    }

    #[test]
    fn unbounded_recursion_is_a_stack_overflow_trap(scripts: &ScriptEngine) {
        let error = contained(scripts, "recurse", quick(), json!({}));
        assert_eq!(error.reason, "trap");
        assert!(error.message.contains("stack overflow"), "{}", error.message);
    }

    #[test]
    fn a_trap_reports_the_wasm_backtrace_and_the_panic_message(scripts: &ScriptEngine) {
        let error = contained(scripts, "trap", Limits::default(), json!({}));
        assert_eq!(error.reason, "trap");
        assert!(error.message.contains("wasm backtrace"), "{}", error.message);
        assert!(error.log.contains("deliberate trap"), "log: {}", error.log);
    }

    #[test]
    fn invalid_json_is_an_invalid_response(scripts: &ScriptEngine) {
        let error = contained(scripts, "invalid_json", Limits::default(), json!({}));
        assert_eq!(error.reason, "invalid_response");
        assert!(error.message.contains("not json"), "{}", error.message);
    }

    #[test]
    fn an_unknown_status_is_named(scripts: &ScriptEngine) {
        let error = contained(scripts, "wrong_status", Limits::default(), json!({}));
        assert_eq!(error.reason, "wrong_status");
        assert!(error.message.contains("`maybe`"), "{}", error.message);
    }

    #[test]
    fn a_response_over_the_limit_is_refused(scripts: &ScriptEngine) {
        let limits = Limits {
            response: 1 << 20,
            ..Limits::default()
        };
        let error = contained(scripts, "huge_response", limits, json!({"size": 2 << 20}));
        assert_eq!(error.reason, "response_too_large");
        assert!(error.message.contains("1048576"), "{}", error.message);
    }

    #[test]
    fn a_module_that_exports_nothing_is_not_a_plugin(scripts: &ScriptEngine) {
        let error = contained(scripts, "export_nothing", Limits::default(), json!({}));
        assert_eq!(error.reason, "no_abi");
        assert!(
            error.message.contains("wasmflow_run") && error.message.contains("_start"),
            "{}",
            error.message
        );
    }

    #[test]
    fn garbage_on_stdout_and_stderr_is_bounded_and_harmless(scripts: &ScriptEngine) {
        let workflow = run_xml(&plugin_task("print_garbage"), json!({"kept": 1}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["kept"], json!(1));
        let log = &workflow.task(1).unwrap().log;
        assert!(log.len() < 200 << 10, "the log is bounded, got {} bytes", log.len());
        assert!(
            log.contains("more bytes of output dropped"),
            "the log says what it dropped"
        );
    }

    #[test]
    fn plugin_errors_and_bpmn_errors_fail_the_task_with_their_details(scripts: &ScriptEngine) {
        let error = contained(scripts, "fail", Limits::default(), json!({}));
        assert_eq!(
            (error.reason.as_str(), error.message.as_str(), error.line),
            ("plugin_error", "nope", Some(7))
        );
        let error = contained(scripts, "bpmn_error", Limits::default(), json!({}));
        assert_eq!(error.reason, "bpmn_error");
        assert_eq!(error.code.as_deref(), Some("payment_failed"));
        assert_eq!(error.payload, Some(json!({"reason": "card declined"})));
    }

    #[test]
    fn a_missing_plugin_is_named_with_where_it_was_looked_for(scripts: &ScriptEngine) {
        let error = contained(scripts, "no_such_plugin", Limits::default(), json!({}));
        assert_eq!(error.reason, "not_found");
        assert!(
            error.message.contains("no_such_plugin.wasm") && error.message.contains("--plugins"),
            "{}",
            error.message
        );
    }

    #[test]
    fn inline_starlark_that_runs_too_long_hits_the_deadline(scripts: &ScriptEngine) {
        let limited = scripts.clone().with_limits(quick());
        let workflow = run_xml(
            &inline_task("n = 0\nfor i in range(1000000000):\n    n = i % 7"),
            json!({}),
            &limited,
        );
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.reason.as_str(), error.plugin.as_deref()),
            ("deadline", Some("python"))
        );
        assert_still_healthy(scripts);
    }

    #[test]
    fn a_failure_in_one_instance_leaves_others_in_the_same_process_unaffected(scripts: &ScriptEngine) {
        let limited = scripts.clone().with_limits(quick());
        let good = wasmflow_tests::library(&[fixture("linear.bpmn")]);
        let mut first = Workflow::start(good.clone(), None, object(json!({"x": 1}))).unwrap();
        let bad = run_xml(&plugin_task("trap"), json!({}), &limited);
        assert_eq!(bad.status(), Status::Error);
        assert_eq!(first.run(&limited), Status::Completed);
        assert_eq!(first.data()["x"], json!(2));
    }
}
