//! `wasmflow run`: start a process and run it until it ends, waits or fails.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::args::RunArgs;
use super::input::{load, object_arg};
use super::{BAD_INPUT, FAILED};
use crate::engine::{Status, Workflow};

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Usage errors first: they are cheaper to fix than anything a run finds.
    args.sandbox.limits()?;
    let data = match &args.data {
        Some(text) => object_arg(text, "--data")?,
        None => Default::default(),
    };
    let library = match load(&args.files) {
        Ok(library) => library,
        Err(problems) => {
            if args.json {
                let diagnostics: Vec<Value> = problems.iter().map(|p| json!({"file": p.file, "line": p.position.line, "column": p.position.column, "element": p.element, "message": p.message})).collect();
                let message = format!(
                    "{} problem(s) in the diagrams: run `wasmflow check` for the list",
                    problems.len()
                );
                print_json(
                    &json!({"status": "error", "data": {}, "error": {"reason": "invalid_diagram", "message": message, "diagnostics": diagnostics}, "tasks": []}),
                );
            } else {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                eprintln!("error: {} problem(s) in the diagrams; nothing was run", problems.len());
            }
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let scripts = args.sandbox.script_engine()?;
    let mut workflow = Workflow::start(library, args.process.as_deref(), data)?;
    let status = workflow.run(&scripts);

    if args.json {
        let tasks: Vec<_> = workflow.tasks().collect();
        let waiting: Vec<_> = workflow.waiting_tasks().collect();
        print_json(&json!({
            "id": workflow.id(),
            "status": status,
            "data": workflow.data(),
            "error": workflow.error(),
            "waiting": waiting,
            "tasks": tasks,
        }));
    } else {
        match status {
            Status::Completed => println!("completed ({} tasks)", workflow.tasks().count()),
            Status::Waiting => {
                println!("waiting for:");
                for task in workflow.waiting_tasks() {
                    println!(
                        "  task {} {} `{}`{}",
                        task.id,
                        task.kind,
                        task.spec,
                        task.name.map(|n| format!(" ({n})")).unwrap_or_default()
                    );
                }
            }
            Status::Error | Status::Running => {}
        }
        if let Some(error) = workflow.error() {
            eprintln!("error: {error}");
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
    Ok(if status == Status::Error {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string(value).expect("JSON values serialize"));
}
