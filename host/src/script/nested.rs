//! `call_service` from inside a plugin: the host side of a nested service call.
//!
//! Executors call [`nested_service`] from their `wasmflow.call_service` host
//! function. The grant check, the nesting bound and the meaning of the answer
//! live here, so both executors (and the worker processes) behave the same.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Catalog, Response, ScriptEngine, TaskInfo};
use crate::capability::{Capability, Check, Grants};
use crate::executor::Executor;

/// How deep services may call services (a service that calls itself stops here).
pub const MAX_DEPTH: u32 = 8;

/// The largest `call_service` request a plugin may send.
const MAX_REQUEST: usize = 4 << 20;

/// What a nested call hands back to the calling plugin and to the host.
#[derive(Debug, Clone, Default)]
pub struct Nested {
    /// The JSON answer for the calling plugin: an ABI response
    /// (`ok`/`bpmn_error`/`error`/`halt`), with `"denied": true` on a refusal.
    pub answer: Vec<u8>,
    /// The called plugin's log, prefixed with the service name.
    pub log: String,
    /// The checks made: this call's own, then the called plugin's.
    pub checks: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NestedRequest {
    operation: String,
    #[serde(default)]
    params: Map<String, Value>,
}

/// Where a nested call runs: the executor, the run's catalog, the task, and
/// how deep the calling plugin already is.
#[derive(Clone, Copy)]
pub struct NestedContext<'a> {
    /// Runs the called plugin.
    pub executor: &'a Arc<dyn Executor>,
    /// Resolves the operation, with the called plugin's grants and limits.
    pub catalog: &'a Arc<Catalog>,
    /// The task the outermost call runs for.
    pub task: &'a TaskInfo,
    /// The calling plugin's depth (0 for a task's own call).
    pub depth: u32,
    /// When the calling plugin's own limit runs out: the nested call gets only
    /// what remains, so nesting cannot stretch a task's time limit.
    pub deadline: Instant,
}

/// Runs the `call_service` request `request` (`{"operation": "...", "params": {...}}`)
/// made by the plugin `caller`, which holds `grants`. `context` is `None` when
/// the plugin may call no service (the grant check then refuses every request).
pub fn nested_service(caller: &str, grants: &Grants, context: Option<NestedContext<'_>>, request: &[u8]) -> Nested {
    let error = |message: String, denied: bool, checks: Vec<Check>| Nested {
        answer: serde_json::to_vec(&json!({"status": "error", "message": message, "denied": denied}))
            .expect("JSON serializes"),
        log: String::new(),
        checks,
    };
    if request.len() > MAX_REQUEST {
        return error(
            format!(
                "call_service: the request is {} bytes; the limit is {MAX_REQUEST}",
                request.len()
            ),
            false,
            Vec::new(),
        );
    }
    let NestedRequest { operation, params } = match serde_json::from_slice(request) {
        Ok(request) => request,
        Err(e) => {
            return error(
                format!("call_service: the request must be {{\"operation\": \"NAME\", \"params\": {{...}}}}: {e}"),
                false,
                Vec::new(),
            );
        }
    };
    if !grants.allows_service(&operation) {
        let check = Check::denied(
            caller,
            Capability::Service,
            &operation,
            "its grant does not name this service",
            &operation,
        );
        return error(check.describe(), true, vec![check]);
    }
    let Some(NestedContext {
        executor,
        catalog,
        task,
        depth,
        deadline,
    }) = context
    else {
        return error(
            format!("call_service(\"{operation}\"): this call has no service context"),
            false,
            Vec::new(),
        );
    };
    if depth + 1 > MAX_DEPTH {
        return error(
            format!(
                "call_service(\"{operation}\"): services are nested {MAX_DEPTH} calls deep; the limit stops \
                 a service that (indirectly) calls itself"
            ),
            false,
            Vec::new(),
        );
    }
    let mut checks = vec![Check::allowed(
        caller,
        Capability::Service,
        &operation,
        format!("allow_services of [plugins.{caller}]"),
    )];
    let collected = Arc::new(Mutex::new(Vec::new()));
    let engine = ScriptEngine {
        executor: executor.clone(),
        catalog: catalog.clone(),
        audit: None,
        depth: depth + 1,
        collected: Some(collected.clone()),
        concurrency: 1,
        others: Vec::new(),
        deadline: Some(deadline),
    };
    let answer = match engine.service_response(task, &operation, &params) {
        Ok(named) => {
            let log = prefixed(&operation, &named.log);
            Nested {
                answer: answer_of(named.value),
                log,
                checks: Vec::new(),
            }
        }
        Err(failure) => Nested {
            answer: serde_json::to_vec(&json!({"status": "error", "message": failure.to_string(), "denied": false}))
                .expect("JSON serializes"),
            log: prefixed(&operation, &failure.log),
            checks: Vec::new(),
        },
    };
    checks.extend(std::mem::take(
        &mut *collected.lock().unwrap_or_else(|e| e.into_inner()),
    ));
    Nested { checks, ..answer }
}

/// A checked response as the JSON the calling plugin receives.
fn answer_of(response: Response) -> Vec<u8> {
    let value = match response {
        Response::Ok { result, .. } => json!({"status": "ok", "result": result.unwrap_or(Value::Null)}),
        Response::BpmnError { code, name, payload } => {
            json!({"status": "bpmn_error", "code": code, "name": name, "payload": payload})
        }
        Response::Halt { message } => json!({"status": "halt", "message": message}),
        Response::Error { message, .. } => json!({"status": "error", "message": message, "denied": false}),
    };
    serde_json::to_vec(&value).expect("JSON serializes")
}

fn prefixed(operation: &str, log: &str) -> String {
    log.lines()
        .map(|line| format!("[service {operation}] {line}\n"))
        .collect()
}
