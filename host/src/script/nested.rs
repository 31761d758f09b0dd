//! `call_service` from inside a plugin: the host side of a nested service call.
//!
//! Executors hand each `call_service` request to the [`ServiceRunner`] of
//! their call, which is a [`Runner`] here. The grant check, the nesting bound,
//! the routing of the callee to the executor its entry names, and the meaning
//! of the answer live here, so both executors (and the worker processes, which
//! pass their plugins' requests back to the parent) behave the same.

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Response, ScriptEngine};
use crate::call::{MAX_DEPTH, Nested, ServiceCall, ServiceRunner};
use crate::capability::{Capability, Check};
use crate::executor::Executor;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NestedRequest {
    operation: String,
    #[serde(default)]
    params: Map<String, Value>,
}

/// Runs the `call_service` requests of one call: the engine that made the
/// call, and the executor the calling plugin runs on.
pub(super) struct Runner {
    /// The engine of the calling plugin's call (its catalog and executors).
    pub engine: ScriptEngine,
    /// Where the calling plugin runs: a callee routed to the same executor runs
    /// on what the caller was admitted with; a callee elsewhere is an outermost call there.
    pub executor: Arc<dyn Executor>,
}

impl ServiceRunner for Runner {
    fn call_service(&self, call: ServiceCall<'_>) -> Nested {
        let ServiceCall {
            caller,
            grants,
            task,
            depth,
            deadline,
            request,
        } = call;
        let error = |message: String, denied: bool, checks: Vec<Check>| Nested {
            answer: serde_json::to_vec(&json!({"status": "error", "message": message, "denied": denied}))
                .expect("JSON serializes"),
            log: String::new(),
            checks,
        };
        // The request's size was checked against the caller's request limit by
        // the executor that read it out of the sandbox.
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
            audit: None,
            depth: depth + 1,
            collected: Some(collected.clone()),
            concurrency: 1,
            deadline: Some(deadline),
            caller_executor: Some(self.executor.clone()),
            ..self.engine.clone()
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
                log: prefixed(&operation, &failure.log),
                ..Nested::error(&failure.to_string())
            },
        };
        checks.extend(std::mem::take(
            &mut *collected.lock().unwrap_or_else(|e| e.into_inner()),
        ));
        Nested { checks, ..answer }
    }
}
/// A checked response as the JSON the calling plugin receives.
fn answer_of(response: Response) -> Vec<u8> {
    let value = match response {
        Response::Ok { result, .. } => json!({"status": "ok", "result": result.unwrap_or(Value::Null)}),
        Response::BpmnError { code, name, payload } => {
            json!({"status": "bpmn_error", "code": code, "name": name, "payload": payload})
        }
        Response::Escalation { code, name, payload } => {
            json!({"status": "escalation", "code": code, "name": name, "payload": payload})
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
