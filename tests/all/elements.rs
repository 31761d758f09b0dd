//! Each BPMN element this engine runs, end to end through the library, with
//! inline scripts and compiled plugins.

use serde_json::json;
use wasmflow::engine::{Status, TaskState};
use wasmflow_tests::*;

fn states_of(workflow: &wasmflow::engine::Workflow, spec: &str) -> Vec<TaskState> {
    workflow.tasks().filter(|t| t.spec == spec).map(|t| t.state).collect()
}

for_each_executor! {
    #[test]
    fn a_throw_link_goes_on_at_the_catch_link_of_its_name(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["link_jump.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["pages"], json!(["one", "two"]));
        let path: Vec<_> = workflow.tasks().map(|t| t.spec).collect();
        assert_eq!(path, ["start", "first_page", "to_page_two", "page_two_starts", "second_page", "end"]);
    }

    #[test]
    fn abstract_task_and_inline_script_run_in_order(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["linear.bpmn"], json!({"x": 41}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["x"], json!(42));
        assert_eq!(workflow.data()["label"], json!("x is 42"));
        let kinds: Vec<_> = workflow.tasks().map(|t| (t.spec, t.kind, t.state)).collect();
        assert_eq!(
            kinds,
            vec![
                ("start".into(), "startEvent", TaskState::Completed),
                ("note".into(), "task", TaskState::Completed),
                ("increment".into(), "scriptTask", TaskState::Completed),
                ("end".into(), "endEvent", TaskState::Completed),
            ]
        );
    }

    #[test]
    fn compiled_plugin_script_task(scripts: &ScriptEngine) {
        let xml = plugin_task("order_total");
        let data =
            json!({"items": [{"name": "a", "price": 2.5, "quantity": 4}, {"name": "b", "price": 0.1, "quantity": 3}]});
        let workflow = run_xml(&xml, data, scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["total"], json!(10.3));
        assert_eq!(workflow.data()["item_count"], json!(7));
    }

    #[test]
    fn stdio_carrier_plugin_without_the_sdk(scripts: &ScriptEngine) {
        let workflow = run_xml(&plugin_task("stdio_greet"), json!({"name": "Ada"}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["greeting"], json!("Hello, Ada!"));
    }

    #[test]
    fn user_and_manual_tasks_wait_and_complete_from_outside(scripts: &ScriptEngine) {
        let mut workflow = run_fixture_with(&["user_task.bpmn"], json!({"order": 7}), scripts);
        assert_eq!(workflow.status(), Status::Waiting);
        let waiting: Vec<_> = workflow.waiting_tasks().collect();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].spec.as_str(), waiting[0].kind, waiting[0].state),
            ("approve", "userTask", TaskState::Ready)
        );

        workflow
            .complete_task(waiting[0].id, object(json!({"approved": true})))
            .unwrap();
        assert_eq!(workflow.run(scripts), Status::Waiting);
        let ship: Vec<_> = workflow.waiting_tasks().collect();
        assert_eq!((ship[0].spec.as_str(), ship[0].kind), ("ship", "manualTask"));

        // A task that is not waiting cannot be completed.
        assert!(
            workflow
                .complete_task(waiting[0].id, Default::default())
                .unwrap_err()
                .contains("not a READY user or manual task")
        );

        workflow.complete_task(ship[0].id, Default::default()).unwrap();
        assert_eq!(workflow.run(scripts), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["status"], json!("approved"));
        assert_eq!(workflow.data()["order"], json!(7));
    }

    #[test]
    fn exclusive_gateway_takes_the_first_true_condition_else_the_default(scripts: &ScriptEngine) {
        for (score, grade) in [(95, "A"), (70, "C"), (10, "F")] {
            let workflow = run_fixture_with(&["exclusive.bpmn"], json!({ "score": score }), scripts);
            assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
            assert_eq!(workflow.data()["grade"], json!(grade), "score {score}");
            // Only the chosen branch ran.
            let ran: Vec<_> = ["excellent", "pass", "fail"]
                .into_iter()
                .filter(|s| !states_of(&workflow, s).is_empty())
                .collect();
            assert_eq!(ran.len(), 1);
        }
    }

    #[test]
    fn exclusive_gateway_without_a_way_out_is_an_error_naming_it(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["no_way_out.bpmn"], json!({"size": 7}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.kind.as_str(), error.reason.as_str()),
            ("route", "exclusiveGateway", "no_way_out")
        );
        assert!(
            error.message.contains("to_big") && error.message.contains("size > 10"),
            "{}",
            error.message
        );
        assert!(error.location.ends_with("no_way_out.bpmn:5:5"), "{}", error.location);
        assert_eq!(states_of(&workflow, "route"), vec![TaskState::Error]);
    }

    #[test]
    fn parallel_gateway_forks_and_joins_merging_in_completion_order(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["parallel.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["total"], json!(6));
        // a, b and c complete in that order; b's value of `shared` was merged last.
        assert_eq!(workflow.data()["shared"], json!("b"));
        // One task carries on from the join; the other two arrivals complete there.
        assert_eq!(states_of(&workflow, "join"), vec![TaskState::Completed; 3]);
        assert_eq!(states_of(&workflow, "sum").len(), 1);
    }

    #[test]
    fn inclusive_gateway_forks_to_every_true_branch_and_joins_those(scripts: &ScriptEngine) {
        let cases = [
            (5, vec!["small"]),
            (50, vec!["small", "medium"]),
            (500, vec!["small", "medium", "large"]),
            (-1, vec!["nothing"]),
        ];
        for (x, expected) in cases {
            let workflow = run_fixture_with(&["inclusive.bpmn"], json!({ "x": x }), scripts);
            assert_eq!(workflow.status(), Status::Completed, "x={x}: {:?}", workflow.error());
            let mut set: Vec<_> = ["small", "medium", "large", "nothing"]
                .into_iter()
                .filter(|k| workflow.data().contains_key(*k))
                .collect();
            set.sort();
            let mut expected = expected.clone();
            expected.sort();
            assert_eq!(set, expected, "x={x}");
            // The join fired once, after the longer `medium` branch too.
            assert_eq!(states_of(&workflow, "end").len(), 1, "x={x}");
        }
    }

    #[test]
    fn an_inclusive_join_does_not_wait_for_a_token_behind_one_that_arrived(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["inclusive_behind.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        // Fired with the booking and the first quote, then with the second quote alone.
        assert_eq!(states_of(&workflow, "after"), vec![TaskState::Completed; 2]);
        let joined: Vec<_> = workflow.tasks().filter(|t| t.spec == "join").collect();
        assert_eq!(joined.len(), 3);
    }

    #[test]
    fn embedded_subprocesses_nest_and_hand_their_data_back(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["subprocess.bpmn"], json!({"x": 5}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["inner"], json!(10));
        assert_eq!(workflow.data()["depth"], json!(2));
        assert_eq!(workflow.data()["after"], json!(11));
        assert_eq!(states_of(&workflow, "double"), vec![TaskState::Completed]);
        assert_eq!(states_of(&workflow, "nested_script"), vec![TaskState::Completed]);
    }

    #[test]
    fn call_activity_runs_a_process_from_another_file(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["call_parent.bpmn", "call_child.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["child_sum"], json!(6));
        assert_eq!(workflow.data()["doubled"], json!(12));
    }

    #[test]
    fn call_activity_to_a_process_not_loaded_is_an_error_naming_it(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["call_parent.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.reason.as_str()),
            ("call_child", "unknown_process")
        );
        assert!(error.message.contains("`child`"), "{}", error.message);
    }

    #[test]
    fn terminate_end_event_cancels_what_is_still_running(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["terminate.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["quick"], json!(true));
        assert_eq!(states_of(&workflow, "slow"), vec![TaskState::Cancelled]);
        assert!(states_of(&workflow, "slow_end").is_empty());
    }

    #[test]
    fn terminate_end_event_inside_a_scope_ends_that_scope_alone(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["terminate_scopes.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        // Each scope's other branch was cancelled, and the scope around went on.
        for cancelled in ["pick_by_hand", "call_courier"] {
            assert_eq!(states_of(&workflow, cancelled), vec![TaskState::Cancelled], "{cancelled}");
        }
        for never in ["pick_end", "desk_end", "refund"] {
            assert!(states_of(&workflow, never).is_empty(), "{never} ran");
        }
        for scope in ["pick", "pay", "ship", "courier_desk", "done"] {
            assert_eq!(states_of(&workflow, scope), vec![TaskState::Completed], "{scope}");
        }
        let data = workflow.data();
        assert_eq!(
            (&data["picked"], &data["charged"], &data["labelled"], &data["done"]),
            (&json!("fast"), &json!(true), &json!(true), &json!(true))
        );
        // Terminated, the transaction was not compensated.
        assert!(data.get("refunded").is_none(), "{data:?}");
    }

    #[test]
    fn a_parallel_join_a_loop_feeds_fires_once_no_more_tokens_can_arrive(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["loop_fed_join.bpmn"], json!({"fixes": 0}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        let data = workflow.data();
        assert_eq!((&data["a"], &data["b"], &data["fixes"]), (&json!(true), &json!(true), &json!(2)));
        // Fired with both branches first, then with the loop-back token alone, twice.
        assert_eq!(states_of(&workflow, "good_enough").len(), 3);
        let library = library(&[fixture("loop_fed_join.bpmn")]);
        let spec = library.process("loop_fed_join").unwrap();
        assert_eq!(spec.loop_fed_joins, [spec.node_index("join").unwrap()], "the fork is not fed by the loop");
    }

    #[test]
    fn activity_with_several_outgoing_flows_splits_by_bpmn_rules(scripts: &ScriptEngine) {
        // Unconditional flows always run; a conditional one when true; the default when none of the conditions is.
        let urgent = run_fixture_with(&["implicit_split.bpmn"], json!({"priority": 9}), scripts);
        assert_eq!(urgent.status(), Status::Completed, "{:?}", urgent.error());
        assert_eq!(
            (urgent.data()["route"].clone(), urgent.data()["audited"].clone()),
            (json!("urgent"), json!(true))
        );
        assert!(states_of(&urgent, "normal_path").is_empty());

        let normal = run_fixture_with(&["implicit_split.bpmn"], json!({"priority": 1}), scripts);
        assert_eq!(normal.data()["route"], json!("normal"));
        assert!(states_of(&normal, "urgent_path").is_empty());
        assert_eq!(states_of(&normal, "always"), vec![TaskState::Completed]);
    }

    #[test]
    fn modeler_files_load_and_run(scripts: &ScriptEngine) {
        let camunda = run_fixture_with(&["camunda.bpmn"], json!({"net": 100}), scripts);
        assert_eq!(camunda.status(), Status::Completed, "{:?}", camunda.error());
        assert_eq!(camunda.data()["gross"], json!(120.0));
        let large = run_fixture_with(&["camunda.bpmn"], json!({"net": 5000}), scripts);
        assert_eq!(large.status(), Status::Waiting);
        assert_eq!(large.waiting_tasks().next().unwrap().spec, "Activity_approve");

        let spiff = run_fixture_with(&["spiff.bpmn"], json!({}), scripts);
        assert_eq!(spiff.status(), Status::Waiting, "{:?}", spiff.error());
        let plain = run_fixture_with(&["default_namespace.bpmn"], json!({"x": 4}), scripts);
        assert_eq!(plain.data()["y"], json!(8));
    }

    #[test]
    fn script_errors_name_the_task_the_plugin_and_the_line_in_the_file(scripts: &ScriptEngine) {
        let workflow = run_fixture_with(&["linear.bpmn"], json!({}), scripts);
        assert_eq!(workflow.status(), Status::Error);
        let error = workflow.error().unwrap();
        assert_eq!(
            (error.spec.as_str(), error.plugin.as_deref(), error.reason.as_str()),
            ("increment", Some("python"), "plugin_error")
        );
        // `x = x + 1` is on line 7 of linear.bpmn.
        assert_eq!(error.line, Some(7), "{error:?}");
        assert!(error.message.contains('x'), "{}", error.message);
        assert_eq!(states_of(&workflow, "increment"), vec![TaskState::Error]);
    }

    #[test]
    fn functions_and_other_non_json_values_are_dropped_from_task_data(scripts: &ScriptEngine) {
        let xml = inline_task("def double(v):\n    return v * 2\nresult = double(x)\nr = range(3)");
        let workflow = run_xml(&xml, json!({"x": 21, "not-an-identifier": 1}), scripts);
        assert_eq!(workflow.status(), Status::Completed, "{:?}", workflow.error());
        assert_eq!(workflow.data()["result"], json!(42));
        assert!(!workflow.data().contains_key("double"));
        assert_eq!(workflow.data()["not-an-identifier"], json!(1));
    }
}
