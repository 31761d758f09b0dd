//! The worker's side of the protocol: read request lines, run them on an
//! executor, write one reply line each.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use super::protocol::{self, NO_PLUGIN, RequestLine};
use crate::call::{FailureKind, ScriptError};
use crate::call::{Nested, Plugin, PluginSource, ServiceCall, ServiceRunner, TaskInfo};
use crate::executor::{Call, Executor, Services};

/// The worker's two pipes to the parent, shared with the service runner of
/// the call that runs (its `call_service` requests go to the parent).
struct Link {
    input: Mutex<Box<dyn BufRead + Send>>,
    output: Mutex<Box<dyn Write + Send>>,
}

impl Link {
    fn read_line(&self, line: &mut Vec<u8>) -> std::io::Result<usize> {
        self.input
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .read_until(b'\n', line)
    }

    fn write_line(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut output = self.output.lock().unwrap_or_else(|e| e.into_inner());
        output.write_all(bytes)?;
        output.flush()
    }
}

/// Serves requests from `input` until it ends, answering each on `output`.
///
/// Never fails on bad input: a line it cannot read gets an error line with a
/// `null` id. Returns only when `input` ends or `output` fails (the parent is gone).
pub fn serve(
    executor: &dyn Executor,
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> std::io::Result<()> {
    let link = Arc::new(Link {
        input: Mutex::new(Box::new(input)),
        output: Mutex::new(Box::new(output)),
    });
    let mut line = Vec::new();
    let mut loaded = HashSet::new();
    loop {
        line.clear();
        if link.read_line(&mut line)? == 0 {
            return Ok(());
        }
        // A panic in the runtime must cost one call, not the worker's protocol.
        let reply = catch_unwind(AssertUnwindSafe(|| answer(executor, &line, &mut loaded, &link)));
        let reply = reply.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let id = serde_json::from_slice::<RequestLine>(&line)
                .ok()
                .map(|request| request.id);
            let plugin = plugin_name(&line);
            Ok(protocol::encode_outcome(
                id,
                Err(ScriptError::new(
                    plugin,
                    FailureKind::Worker,
                    format!("the worker panicked while running this call: {message}"),
                )),
            ))
        });
        link.write_line(&reply?)?;
    }
}

/// Passes a call's `call_service` requests to the parent and waits for each answer.
struct ParentRunner {
    link: Arc<Link>,
    /// The running call's id.
    id: u64,
}

impl ServiceRunner for ParentRunner {
    fn call_service(&self, call: ServiceCall<'_>) -> Nested {
        let remaining = call.deadline.saturating_duration_since(Instant::now());
        let ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
        if let Err(error) = self
            .link
            .write_line(&protocol::encode_service(self.id, call.request, ms))
        {
            return Nested::error(&format!("call_service: cannot ask the parent process: {error}"));
        }
        let mut line = Vec::new();
        match self.link.read_line(&mut line) {
            Ok(0) => Nested::error("call_service: the parent process is gone"),
            Ok(_) => protocol::decode_service_answer(&line, self.id).unwrap_or_else(|problem| {
                Nested::error(&format!("call_service: the parent's answer is not one: {problem}"))
            }),
            Err(error) => Nested::error(&format!("call_service: cannot read the parent's answer: {error}")),
        }
    }
}

/// The reply line for one request line. Before a call that has to load its
/// plugin, tells the parent (which then allows time for compiling).
fn answer(
    executor: &dyn Executor,
    line: &[u8],
    loaded: &mut HashSet<PluginKey>,
    link: &Arc<Link>,
) -> std::io::Result<Vec<u8>> {
    let request: RequestLine = match serde_json::from_slice(line) {
        Ok(request) => request,
        Err(error) => return Ok(malformed(None, format!("{error}: {}", protocol::preview(line)))),
    };
    let id = request.id;
    Ok(match (request.call, request.prepare) {
        (Some(call), None) => {
            let plugin = match call.plugin.to_plugin() {
                Ok(plugin) => plugin,
                Err(error) => return Ok(protocol::encode_outcome(Some(id), Err(error))),
            };
            let request = match call.request_bytes() {
                Ok(request) => request,
                Err(problem) => {
                    let error =
                        ScriptError::new(&plugin.name, FailureKind::Worker, format!("malformed call: {problem}"));
                    return Ok(protocol::encode_outcome(Some(id), Err(error)));
                }
            };
            let key = PluginKey::of(&plugin);
            if !key.as_ref().is_some_and(|key| loaded.contains(key)) {
                // Load first, under the parent's loading allowance; then say the
                // call starts, so the call's own deadline covers all that follows
                // (a call that blocks is not granted the loading allowance too).
                link.write_line(&protocol::encode_loading(id))?;
                if let Err(error) = executor.prepare(&plugin, call.limits) {
                    return Ok(protocol::encode_outcome(Some(id), Err(error)));
                }
                loaded.extend(key.clone());
                link.write_line(&protocol::encode_running(id))?;
            }
            // The parent knows the task and the depth; here the call is outermost.
            let runner: Arc<dyn ServiceRunner> = Arc::new(ParentRunner { link: link.clone(), id });
            let task = TaskInfo::default();
            let outcome = executor.call(Call {
                plugin: &plugin,
                request: &request,
                limits: call.limits,
                grants: &call.grants,
                services: call.services.then_some(Services {
                    runner: &runner,
                    task: &task,
                    depth: 0,
                }),
                depth: 0,
                admitted: false,
            });
            protocol::encode_outcome(Some(id), outcome)
        }
        (None, Some(prepare)) => match prepare.plugin.to_plugin() {
            Ok(plugin) => match executor.prepare(&plugin, prepare.limits) {
                Ok(()) => {
                    loaded.extend(PluginKey::of(&plugin));
                    protocol::encode_prepared(id)
                }
                Err(error) => protocol::encode_outcome(Some(id), Err(error)),
            },
            Err(error) => protocol::encode_outcome(Some(id), Err(error)),
        },
        _ => malformed(Some(id), "a request needs exactly one of `call` and `prepare`".into()),
    })
}

/// A plugin version, as far as loading goes: a built-in by name, a file by path and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PluginKey {
    Builtin(&'static str),
    File(PathBuf, Option<SystemTime>, u64),
}

impl PluginKey {
    /// The key of a plugin's current version; `None` when its file cannot be read.
    fn of(plugin: &Plugin) -> Option<PluginKey> {
        match &plugin.source {
            PluginSource::Builtin { name, .. } => Some(PluginKey::Builtin(name)),
            PluginSource::File(path) => {
                let meta = std::fs::metadata(path).ok()?;
                Some(PluginKey::File(path.clone(), meta.modified().ok(), meta.len()))
            }
        }
    }
}

fn malformed(id: Option<u64>, problem: String) -> Vec<u8> {
    protocol::encode_outcome(
        id,
        Err(ScriptError::new(
            NO_PLUGIN,
            FailureKind::Worker,
            format!("the worker could not read a request line: {problem}"),
        )),
    )
}

/// The plugin a request line names, for errors; `worker` when it names none.
fn plugin_name(line: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
    ["call", "prepare"]
        .iter()
        .find_map(|kind| value[kind]["plugin"]["name"].as_str())
        .unwrap_or(NO_PLUGIN)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Reply;

    /// Echoes the request as the response, and fails for a plugin named `fail`.
    struct Mirror;

    impl Executor for Mirror {
        fn call(&self, call: Call<'_>) -> Result<Reply, ScriptError> {
            if call.plugin.name == "fail" {
                return Err(ScriptError::new("fail", FailureKind::Trap, "boom"));
            }
            Ok(Reply {
                response: call.request.to_vec(),
                log: "log".into(),
                checks: Vec::new(),
            })
        }
        fn prepare(&self, plugin: &Plugin, _limits: crate::call::Limits) -> Result<(), ScriptError> {
            match plugin.name.as_str() {
                "python" => panic!("prepare panicked"),
                _ => Ok(()),
            }
        }
    }

    /// A buffer the test reads after `serve` wrote it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(input: &str) -> Vec<serde_json::Value> {
        let output = Shared::default();
        serve(&Mirror, std::io::Cursor::new(input.as_bytes().to_vec()), output.clone()).unwrap();
        let output = output.0.lock().unwrap().clone();
        output
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn every_line_gets_one_answer_and_bad_lines_an_error() {
        let call = r#"{"id":1,"call":{"plugin":{"name":"echo","source":{"file":"echo.wasm"}},"request":{"a":1},"limits":{"memory":1,"timeout":1,"response":1},"grants":{}}}"#;
        let fail = call.replace("\"echo\"", "\"fail\"").replace("\"id\":1", "\"id\":2");
        let prepare = r#"{"id":3,"prepare":{"plugin":{"name":"python","source":{"builtin":"python"}}}}"#;
        let replies = lines(&format!("{call}\n{fail}\nnot json\n{{\"id\":4}}\n{prepare}\n"));
        // `echo.wasm` does not exist, so each call announces a load.
        let replies: Vec<_> = replies
            .into_iter()
            .filter(|r| r.get("loading").is_none() && r.get("running").is_none())
            .collect();
        assert_eq!(replies.len(), 5);
        assert_eq!(replies[0]["ok"]["response"], "{\"a\":1}");
        assert_eq!(replies[1]["error"]["kind"], "trap");
        assert_eq!(
            (replies[2]["id"].clone(), replies[2]["error"]["kind"].clone()),
            (serde_json::Value::Null, "worker".into())
        );
        assert_eq!(replies[3]["id"], 4);
        assert!(
            replies[4]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("prepare panicked")
        );
        assert_eq!(replies[4]["error"]["plugin"], "python");
    }
}
