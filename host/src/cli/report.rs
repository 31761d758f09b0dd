//! How an instance is shown: a summary for people, one JSON object for programs.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use super::FAILED;
use crate::engine::{Event, Halt, Status, TaskFailure, Waiting, Workflow};

/// Prints an instance after a run (or for `show`), and returns the exit code
/// its status calls for: 0 completed or waiting, 1 error.
pub fn print(workflow: &Workflow, as_json: bool) -> ExitCode {
    let status = workflow.status();
    if as_json {
        print_json(&instance_json(workflow));
    } else {
        match status {
            Status::Completed => out!("completed ({} tasks)", workflow.tasks().count()),
            Status::Waiting => {
                out!("waiting for:");
                for waiting in workflow.waiting() {
                    let task = waiting.task;
                    // A message or signal catch's own name is `task_name`.
                    let own = match waiting.event {
                        Some("message" | "signal") => waiting.task_name.clone(),
                        _ => task.name.clone(),
                    };
                    let mut name = own.map(|n| format!(" ({n})")).unwrap_or_default();
                    if let Some(index) = task.instance {
                        name.push_str(&format!(" instance {index}"));
                    }
                    let what = match (waiting.event, waiting.due) {
                        (_, Some(due)) => format!(": timer due {due}"),
                        (Some(event), None) => {
                            let values: Vec<String> =
                                waiting.correlation.iter().map(|(k, v)| format!("{k}={v}")).collect();
                            let with = if values.is_empty() {
                                String::new()
                            } else {
                                format!(" with {}", values.join(", "))
                            };
                            format!(": {event} `{}`{with}", task.name.as_deref().unwrap_or_default())
                        }
                        (None, None) => String::new(),
                    };
                    out!("  task {} {} `{}`{name}{what}", task.id, task.kind, task.spec);
                }
            }
            Status::Halted => {
                if let Some(halt) = workflow.halt() {
                    out!("halted at task {} `{}`: {}", halt.task, halt.spec, halt.message);
                    out!("resume with: wasmflow resume {} [--data JSON]", workflow.id());
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
            out!(
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

/// `{"id", "process", "status", "data", "error", "waiting", "tasks"}`.
pub fn instance_json(workflow: &Workflow) -> InstanceJson<'_> {
    InstanceJson {
        data: workflow.data(),
        data_objects: workflow.data_objects(),
        error: workflow.error(),
        halt: workflow.halt(),
        history: None,
        id: workflow.id(),
        process: workflow.process(),
        status: workflow.status(),
        tasks: Tasks(workflow),
        waiting: workflow.waiting().collect(),
    }
}

/// The object `run --json` and `show --json` print. Written field by field as
/// it is printed: a 100,000-task instance never exists as a JSON tree in
/// memory. Fields in alphabetical order, as the output has always had them.
#[derive(Serialize)]
pub struct InstanceJson<'a> {
    data: &'a serde_json::Map<String, Value>,
    /// The values of the process's data objects.
    data_objects: &'a serde_json::Map<String, Value>,
    error: Option<&'a TaskFailure>,
    halt: Option<&'a Halt>,
    /// `show` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<&'a [Event]>,
    id: &'a str,
    /// The process it is an instance of.
    process: &'a str,
    status: Status,
    tasks: Tasks<'a>,
    waiting: Vec<Waiting>,
}

/// Every task of an instance, serialized one by one.
struct Tasks<'a>(&'a Workflow);

impl Serialize for Tasks<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.tasks())
    }
}

/// One JSON value on one line of stdout.
pub fn print_json(value: &impl Serialize) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        // The reader has gone (`| head`): end quietly, as `out!` does.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            std::process::exit(1)
        }
    }
}

/// `{"delivered": [...]}` on one line of stdout, written an instance at a
/// time: `tick` may run 100,000 instances, and none is held for the output.
pub struct DeliveredJson {
    out: std::io::BufWriter<std::io::Stdout>,
    first: bool,
}

impl DeliveredJson {
    /// Opens the object.
    pub fn start() -> DeliveredJson {
        let mut list = DeliveredJson {
            out: std::io::BufWriter::new(std::io::stdout()),
            first: true,
        };
        list.write(|out| out.write_all(b"{\"delivered\":["));
        list
    }

    /// Adds one instance object.
    pub fn push(&mut self, value: &impl Serialize) {
        let first = std::mem::replace(&mut self.first, false);
        self.write(|out| {
            if !first {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)
        });
    }

    /// Closes the object and the line.
    pub fn finish(mut self) {
        self.write(|out| {
            out.write_all(b"]}\n")?;
            out.flush()
        });
    }

    fn write(&mut self, write: impl FnOnce(&mut std::io::BufWriter<std::io::Stdout>) -> std::io::Result<()>) {
        match write(&mut self.out) {
            Ok(()) => {}
            // The reader has gone (`| head`): end quietly, as `out!` does.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => {
                eprintln!("error: cannot write the output: {e}");
                std::process::exit(1)
            }
        }
    }
}
