//! The worker's side of the protocol: read request lines, run them on an
//! executor, write one reply line each.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::SystemTime;

use super::protocol::{self, NO_PLUGIN, RequestLine};
use crate::executor::{Call, Executor, Services};
use crate::script::{FailureKind, Plugin, PluginSource, ScriptError};

/// Serves requests from `input` until it ends, answering each on `output`.
///
/// Never fails on bad input: a line it cannot read gets an error line with a
/// `null` id. Returns only when `input` ends or `output` fails (the parent is gone).
pub fn serve(executor: &dyn Executor, mut input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut loaded = HashSet::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        // A panic in the runtime must cost one call, not the worker's protocol.
        let reply = catch_unwind(AssertUnwindSafe(|| answer(executor, &line, &mut loaded, &mut output)));
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
        output.write_all(&reply?)?;
        output.flush()?;
    }
}

/// The reply line for one request line. Before a call that has to load its
/// plugin, tells the parent (which then allows time for compiling).
fn answer(
    executor: &dyn Executor,
    line: &[u8],
    loaded: &mut HashSet<PluginKey>,
    output: &mut impl Write,
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
                output.write_all(&protocol::encode_loading(id))?;
                output.flush()?;
                if let Err(error) = executor.prepare(&plugin, call.limits) {
                    return Ok(protocol::encode_outcome(Some(id), Err(error)));
                }
                loaded.extend(key.clone());
                output.write_all(&protocol::encode_running(id))?;
                output.flush()?;
            }
            let services = call.services.as_ref().map(|s| {
                (
                    std::sync::Arc::new(s.catalog.clone().into_owned()),
                    s.task.clone().into_owned(),
                    s.depth,
                )
            });
            let outcome = executor.call(Call {
                plugin: &plugin,
                request: &request,
                limits: call.limits,
                grants: &call.grants,
                services: services.as_ref().map(|(catalog, task, depth)| Services {
                    catalog,
                    task,
                    depth: *depth,
                }),
                depth: services.as_ref().map_or(0, |(_, _, depth)| *depth),
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
    use crate::script::Plugin;

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
        fn prepare(&self, plugin: &Plugin, _limits: crate::script::Limits) -> Result<(), ScriptError> {
            match plugin.name.as_str() {
                "python" => panic!("prepare panicked"),
                _ => Ok(()),
            }
        }
    }

    fn lines(input: &str) -> Vec<serde_json::Value> {
        let mut output = Vec::new();
        serve(&Mirror, input.as_bytes(), &mut output).unwrap();
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
