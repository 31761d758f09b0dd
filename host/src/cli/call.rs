//! `wasmflow call`: one plugin, one request, its response on stdout (for plugin authors).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::FAILED;
use super::args::CallArgs;
use super::input::object_arg;
use crate::script::{PYTHON, Plugin, Response};

pub fn call(args: CallArgs) -> anyhow::Result<ExitCode> {
    let mut request = object_arg(&args.input, "--input")?;
    // Fill in what a quick experiment leaves out; what is given is sent as is.
    request.entry("abi").or_insert(json!(crate::script::abi::ABI_VERSION));
    request.entry("call").or_insert(json!("script"));
    request
        .entry("task")
        .or_insert(json!({"id": "0", "spec": "call", "process": "call", "instance": "call"}));
    request.entry("data").or_insert(json!({}));

    let plugin = if args.plugin.as_os_str() == PYTHON && !args.plugin.exists() {
        Plugin::python()
    } else {
        Plugin::from_file(&args.plugin)
    };
    let scripts = args.sandbox.script_engine(None)?;
    let bytes = serde_json::to_vec(&Value::Object(request))?;
    match scripts.call(&plugin, &bytes, None) {
        Ok(outcome) => {
            if !outcome.log.is_empty() {
                eprint!("{}", outcome.log);
            }
            let failed = !matches!(outcome.value, Response::Ok { .. });
            out!("{}", serde_json::to_string_pretty(&response_json(outcome.value))?);
            Ok(if failed {
                ExitCode::from(FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(error) => {
            if !error.log.is_empty() {
                eprint!("{}", error.log);
            }
            eprintln!("error: {error}");
            Ok(ExitCode::from(FAILED))
        }
    }
}

/// A response as the ABI writes it.
fn response_json(response: Response) -> Value {
    match response {
        Response::Ok { data: Some(data), .. } => json!({"status": "ok", "data": data}),
        Response::Ok { result, .. } => json!({"status": "ok", "result": result}),
        Response::BpmnError { code, name, payload } => {
            json!({"status": "bpmn_error", "code": code, "name": name, "payload": payload})
        }
        Response::Error { message, line } => json!({"status": "error", "message": message, "line": line}),
        Response::Escalation { code, name, payload } => {
            json!({"status": "escalation", "code": code, "name": name, "payload": payload})
        }
        Response::Halt { message } => json!({"status": "halt", "message": message}),
    }
}
