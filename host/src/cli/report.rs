//! How an instance is shown: a summary for people, one JSON object for programs.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::FAILED;
use crate::engine::{Status, Workflow};

/// Prints an instance after a run (or for `show`), and returns the exit code
/// its status calls for: 0 completed or waiting, 1 error.
pub fn print(workflow: &Workflow, as_json: bool) -> ExitCode {
    let status = workflow.status();
    if as_json {
        print_json(&instance_json(workflow));
    } else {
        match status {
            Status::Completed => println!("completed ({} tasks)", workflow.tasks().count()),
            Status::Waiting => {
                println!("waiting for:");
                for task in workflow.waiting_tasks() {
                    let name = task.name.map(|n| format!(" ({n})")).unwrap_or_default();
                    println!("  task {} {} `{}`{name}", task.id, task.kind, task.spec);
                }
            }
            Status::Halted => {
                if let Some(halt) = workflow.halt() {
                    println!("halted at task {} `{}`: {}", halt.task, halt.spec, halt.message);
                    println!("resume with: wasmflow resume {} [--data JSON]", workflow.id());
                }
            }
            Status::Error | Status::Running => {}
        }
        if let Some(error) = workflow.error() {
            eprintln!("error: {error}");
            if error.reason == "bpmn_error" {
                eprintln!("BPMN error code: {}", error.code.as_deref().unwrap_or("(none)"));
                if let Some(name) = &error.error_name {
                    eprintln!("BPMN error name: {name}");
                }
                if let Some(payload) = &error.payload {
                    eprintln!(
                        "BPMN error payload: {}",
                        serde_json::to_string(payload).expect("JSON values serialize")
                    );
                }
            }
            if !error.log.is_empty() {
                eprintln!("plugin log:\n{}", error.log.trim_end());
            }
        } else {
            println!(
                "{}",
                serde_json::to_string_pretty(workflow.data()).expect("JSON data serializes")
            );
        }
    }
    if status == Status::Error {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `{"id", "status", "data", "error", "waiting", "tasks"}`.
pub fn instance_json(workflow: &Workflow) -> Value {
    let tasks: Vec<_> = workflow.tasks().collect();
    let waiting: Vec<_> = workflow.waiting_tasks().collect();
    json!({
        "id": workflow.id(),
        "status": workflow.status(),
        "data": workflow.data(),
        "error": workflow.error(),
        "halt": workflow.halt(),
        "waiting": waiting,
        "tasks": tasks,
    })
}

/// One JSON value on one line of stdout.
pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string(value).expect("JSON values serialize"));
}
