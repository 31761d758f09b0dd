//! The worker protocol: one JSON object per line, each way.
//!
//! Parent → worker, a call or a prepare, with an id the reply repeats:
//! ```json
//! {"id": 7, "call": {"plugin": {"name": "echo", "source": {"file": "/plugins/echo.wasm"}},
//!                    "request": {"abi": 1, "call": "script", "...": "..."},
//!                    "limits": {"memory": 67108864, "timeout": 10000, "response": 16777216},
//!                    "grants": {}}}
//! {"id": 8, "prepare": {"plugin": {"name": "python", "source": {"builtin": "python"}}}}
//! ```
//! Worker → parent:
//! ```json
//! {"id": 7, "ok": {"response": "{\"status\":\"ok\",\"data\":{}}", "log": "..."}}
//! {"id": 7, "error": {"plugin": "echo", "kind": "trap", "message": "..."}}
//! ```
//! While call 7 runs, its plugin's `call_service` requests come back to the
//! parent, which runs each where the callee's entry says and answers:
//! ```json
//! {"id": 7, "service": {"request": "{\"operation\":\"price\"}", "remaining_ms": 9500}}
//! {"id": 7, "service_answer": {"answer": "{\"status\":\"ok\",\"result\":3}", "log": "..."}}
//! ```
//! The request is embedded as a raw JSON value (no second encoding) when it is
//! one compact JSON value; other bytes travel as `request_text` (UTF-8) or
//! `request_hex`. The response travels as a JSON string, or `response_hex` when
//! it is not UTF-8, so the parent sees the plugin's bytes exactly and judges
//! them exactly as the in-process executor's caller would.

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::call::{Call, Limits, Nested, Plugin, PluginSource, Reply};
use crate::call::{FailureKind, ScriptError};
use crate::capability::{Check, Grants};

/// The plugin name used in errors about lines that name no plugin.
pub const NO_PLUGIN: &str = "worker";

/// A line from the parent.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestLine<'a> {
    /// Repeated in the reply, so a reply can never be taken for another call's.
    pub id: u64,
    /// Run a plugin.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallBody<'a>>,
    /// Load (compile, cache, link) a plugin without running it.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub prepare: Option<PrepareBody<'a>>,
}

/// The parent's answer to a `call_service` request of the running call.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceAnswerLine {
    /// The running call's id.
    pub id: u64,
    /// The answer.
    pub service_answer: WireNested,
}

/// A nested call's answer as it travels.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireNested {
    /// The JSON answer for the calling plugin (always UTF-8: the host wrote it).
    pub answer: String,
    /// The called plugin's log.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// The checks made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

/// A `call_service` request of the running call, for the parent to run.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceBody {
    /// The request, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The request, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hex: Option<String>,
    /// How much of the calling plugin's time is left, in milliseconds.
    pub remaining_ms: u64,
}

/// A call: the plugin, the ABI request bytes, and the rules it runs under.
#[derive(Debug, Serialize, Deserialize)]
pub struct CallBody<'a> {
    /// Which plugin.
    #[serde(borrow)]
    pub plugin: WirePlugin<'a>,
    /// The request, when it is one compact JSON value.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub request: Option<&'a RawValue>,
    /// The request, when it is UTF-8 but not one compact JSON value.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub request_text: Option<Cow<'a, str>>,
    /// The request, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hex: Option<String>,
    /// Memory, time and response limits.
    pub limits: Limits,
    /// What the plugin may reach.
    #[serde(borrow)]
    pub grants: Cow<'a, Grants>,
    /// Whether the plugin may send `call_service` requests: the worker
    /// passes each back to the parent (a `service` line) and waits for its
    /// answer, so the parent routes every nested call by the callee's entry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub services: bool,
}

/// A prepare: load a plugin so that compile errors show (and warm the worker).
#[derive(Debug, Serialize, Deserialize)]
pub struct PrepareBody<'a> {
    /// Which plugin.
    #[serde(borrow)]
    pub plugin: WirePlugin<'a>,
    /// The limits its pre-initialization runs under (default: the defaults).
    #[serde(default)]
    pub limits: Limits,
}

/// A plugin as it travels: its name and where its module is.
#[derive(Debug, Serialize, Deserialize)]
pub struct WirePlugin<'a> {
    /// The name errors use.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Where the module comes from.
    #[serde(borrow)]
    pub source: WireSource<'a>,
    /// The SHA-256 the module must have, if pinned.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Cow<'a, str>>,
}

/// Where a plugin's module comes from: the worker's own built-in, or a file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireSource<'a> {
    /// A plugin built into the `wasmflow` binary (the worker has the same ones).
    Builtin(#[serde(borrow)] Cow<'a, str>),
    /// A `.wasm` file, as the parent named it (the worker runs in the parent's directory).
    File(#[serde(borrow)] Cow<'a, Path>),
}

/// A line from the worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReplyLine {
    /// The request's id; `null` when the request line could not be read.
    pub id: Option<u64>,
    /// Not the answer yet: the worker is loading (compiling) the plugin first,
    /// which may take longer than the call's own limit. At most once per call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loading: bool,
    /// Not the answer yet: the plugin is loaded and the call starts now. From
    /// here only the call's own limit applies (loading may not stretch it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub running: bool,
    /// The call ran to its end (or the prepare succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<OkBody>,
    /// The call failed the way the in-process executor fails it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ScriptError>,
    /// Not the answer yet: the plugin asks for a service; the parent answers
    /// with a `service_answer` line, then the call goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceBody>,
}

/// A call's raw response and log; empty for a prepare.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OkBody {
    /// The response bytes, when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The response bytes, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_hex: Option<String>,
    /// What the plugin logged or printed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// The capability checks made during the call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

impl<'a> WirePlugin<'a> {
    /// How the parent sends a plugin.
    pub fn of(plugin: &'a Plugin) -> WirePlugin<'a> {
        let source = match &plugin.source {
            PluginSource::Builtin { name, .. } => WireSource::Builtin(Cow::Borrowed(name)),
            PluginSource::File(path) => WireSource::File(Cow::Borrowed(path)),
        };
        WirePlugin {
            name: Cow::Borrowed(&plugin.name),
            source,
            sha256: plugin.sha256.as_deref().map(Cow::Borrowed),
        }
    }

    /// The plugin the worker runs; built-ins are the worker's own.
    pub fn to_plugin(&self) -> Result<Plugin, ScriptError> {
        let source = match &self.source {
            WireSource::File(path) => PluginSource::File(path.to_path_buf()),
            WireSource::Builtin(name) => match Plugin::python() {
                python if python.name == *name => python.source,
                _ => {
                    return Err(ScriptError::new(
                        self.name.as_ref(),
                        FailureKind::Load,
                        format!(
                            "this worker has no built-in plugin `{name}`: run workers from the same wasmflow binary as the parent"
                        ),
                    ));
                }
            },
        };
        Ok(Plugin {
            name: self.name.to_string(),
            source,
            sha256: self.sha256.as_ref().map(|s| s.to_string()),
        })
    }
}

/// The line (with its newline) that asks a worker to run `call`.
pub fn encode_call(id: u64, call: &Call<'_>) -> Vec<u8> {
    let mut body = CallBody {
        plugin: WirePlugin::of(call.plugin),
        request: None,
        request_text: None,
        request_hex: None,
        limits: call.limits,
        grants: Cow::Borrowed(call.grants),
        services: call.services.is_some(),
    };
    match compact_json(call.request) {
        Some(raw) => body.request = Some(raw),
        None => match std::str::from_utf8(call.request) {
            Ok(text) => body.request_text = Some(Cow::Borrowed(text)),
            Err(_) => body.request_hex = Some(hex(call.request)),
        },
    }
    line(&RequestLine {
        id,
        call: Some(body),
        prepare: None,
    })
}

/// The line (with its newline) that asks a worker to load `plugin`.
pub fn encode_prepare(id: u64, plugin: &Plugin, limits: Limits) -> Vec<u8> {
    line(&RequestLine {
        id,
        call: None,
        prepare: Some(PrepareBody {
            plugin: WirePlugin::of(plugin),
            limits,
        }),
    })
}

/// `bytes` as a raw JSON value, when embedding them verbatim keeps them exact
/// and on one line: one JSON value, no surrounding whitespace, no newline.
fn compact_json(bytes: &[u8]) -> Option<&RawValue> {
    if bytes.contains(&b'\n') {
        return None;
    }
    let raw: &RawValue = serde_json::from_slice(bytes).ok()?;
    (raw.get().len() == bytes.len()).then_some(raw)
}

impl CallBody<'_> {
    /// The request bytes exactly as the parent had them.
    pub fn request_bytes(&self) -> Result<Cow<'_, [u8]>, String> {
        match (&self.request, &self.request_text, &self.request_hex) {
            (Some(raw), None, None) => Ok(Cow::Borrowed(raw.get().as_bytes())),
            (None, Some(text), None) => Ok(Cow::Borrowed(text.as_bytes())),
            (None, None, Some(hex)) => unhex(hex).map(Cow::Owned),
            _ => Err("a call needs exactly one of `request`, `request_text` and `request_hex`".into()),
        }
    }
}

/// The reply line (with its newline) for a call's outcome.
pub fn encode_outcome(id: Option<u64>, outcome: Result<Reply, ScriptError>) -> Vec<u8> {
    let reply = match outcome {
        Ok(Reply { response, log, checks }) => {
            let mut ok = OkBody {
                log,
                checks,
                ..OkBody::default()
            };
            match String::from_utf8(response) {
                Ok(text) => ok.response = Some(text),
                Err(bytes) => ok.response_hex = Some(hex(bytes.as_bytes())),
            }
            ReplyLine {
                id,
                loading: false,
                running: false,
                ok: Some(ok),
                error: None,
                service: None,
            }
        }
        Err(error) => ReplyLine {
            id,
            loading: false,
            running: false,
            ok: None,
            error: Some(error),
            service: None,
        },
    };
    line(&reply)
}

/// The reply line (with its newline) for a successful prepare.
pub fn encode_prepared(id: u64) -> Vec<u8> {
    line(&ReplyLine {
        id: Some(id),
        loading: false,
        running: false,
        ok: Some(OkBody::default()),
        error: None,
        service: None,
    })
}

/// The notice line (with its newline) that the worker is loading the plugin of call `id`.
pub fn encode_loading(id: u64) -> Vec<u8> {
    line(&ReplyLine {
        id: Some(id),
        loading: true,
        running: false,
        ok: None,
        error: None,
        service: None,
    })
}

/// The notice line (with its newline) that call `id`'s plugin is loaded and the call starts.
pub fn encode_running(id: u64) -> Vec<u8> {
    line(&ReplyLine {
        id: Some(id),
        loading: false,
        running: true,
        ok: None,
        error: None,
        service: None,
    })
}

/// The line (with its newline) by which the worker asks the parent to run a
/// `call_service` request of call `id`.
pub fn encode_service(id: u64, request: &[u8], remaining_ms: u64) -> Vec<u8> {
    let (request, request_hex) = match std::str::from_utf8(request) {
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(hex(request))),
    };
    line(&ReplyLine {
        id: Some(id),
        loading: false,
        running: false,
        ok: None,
        error: None,
        service: Some(ServiceBody {
            request,
            request_hex,
            remaining_ms,
        }),
    })
}

/// The line (with its newline) that answers call `id`'s `call_service` request.
pub fn encode_service_answer(id: u64, nested: Nested) -> Vec<u8> {
    line(&ServiceAnswerLine {
        id,
        service_answer: WireNested {
            answer: String::from_utf8_lossy(&nested.answer).into_owned(),
            log: nested.log,
            checks: nested.checks,
        },
    })
}

/// Reads the parent's answer to a `call_service` request of call `id`.
pub fn decode_service_answer(line: &[u8], id: u64) -> Result<Nested, String> {
    let line: ServiceAnswerLine = serde_json::from_slice(line).map_err(|e| format!("{e}: {}", preview(line)))?;
    if line.id != id {
        return Err(format!("the answer is for call {}, not {id}", line.id));
    }
    Ok(Nested {
        answer: line.service_answer.answer.into_bytes(),
        log: line.service_answer.log,
        checks: line.service_answer.checks,
    })
}

/// What a worker answered, once its line is understood.
#[derive(Debug)]
pub enum Answer {
    /// Not yet: the worker is loading the plugin (see [`ReplyLine::loading`]).
    Loading,
    /// Not yet: the plugin is loaded and the call is starting (see [`ReplyLine::running`]).
    Running,
    /// The call's raw reply (empty for a prepare).
    Ok(Reply),
    /// The call's failure, as the in-process executor reports it.
    Failed(ScriptError),
    /// Not yet: the running plugin asks for a service (its request, and the
    /// time its caller has left).
    Service(Vec<u8>, std::time::Duration),
}

/// Reads the worker's reply to request `id`; `Err` says why it is not one.
pub fn decode_reply(line: &[u8], id: u64) -> Result<Answer, String> {
    let reply: ReplyLine = serde_json::from_slice(line).map_err(|e| format!("{e}"))?;
    if reply.id != Some(id) {
        return Err(match (reply.id, reply.error) {
            (None, Some(error)) => format!("the worker could not read the request: {}", error.message),
            (other, _) => format!("the reply is for request {other:?}, not {id}"),
        });
    }
    if let Some(service) = reply.service {
        let request = match (service.request, service.request_hex) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(hex)) => unhex(&hex)?,
            _ => return Err("a service request needs exactly one of `request` and `request_hex`".into()),
        };
        return Ok(Answer::Service(
            request,
            std::time::Duration::from_millis(service.remaining_ms),
        ));
    }
    match (reply.ok, reply.error) {
        (None, None) if reply.loading => Ok(Answer::Loading),
        (None, None) if reply.running => Ok(Answer::Running),
        (Some(ok), None) => {
            let response = match (ok.response, ok.response_hex) {
                (Some(text), None) => text.into_bytes(),
                (None, Some(hex)) => unhex(&hex)?,
                (None, None) => Vec::new(),
                (Some(_), Some(_)) => return Err("the reply has both `response` and `response_hex`".into()),
            };
            Ok(Answer::Ok(Reply {
                response,
                log: ok.log,
                checks: ok.checks,
            }))
        }
        (None, Some(error)) => Ok(Answer::Failed(error)),
        _ => Err("a reply needs exactly one of `ok` and `error`".into()),
    }
}

/// A value as one protocol line.
fn line<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("protocol lines always serialize");
    bytes.push(b'\n');
    bytes
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[(byte >> 4) as usize] as char);
        text.push(DIGITS[(byte & 15) as usize] as char);
    }
    text
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err("hex text of odd length".into());
    }
    bytes
        .chunks(2)
        .map(|pair| match (digit(pair[0]), digit(pair[1])) {
            (Some(high), Some(low)) => Ok(high << 4 | low),
            _ => Err("not hex text".to_string()),
        })
        .collect()
}

/// The start of some bytes, for error messages.
pub fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let text = text.trim_end();
    if bytes.len() > MAX {
        format!("{text:?}… ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(request: &[u8]) -> Vec<u8> {
        let plugin = Plugin::from_file("/plugins/echo.wasm");
        let grants = Grants::none();
        let call = Call {
            plugin: &plugin,
            request,
            limits: Limits::default(),
            grants: &grants,
            services: None,
            depth: 0,
            admitted: false,
        };
        let line = encode_call(3, &call);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let parsed: RequestLine = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed.id, 3);
        let body = parsed.call.unwrap();
        assert_eq!(body.plugin.to_plugin().unwrap(), plugin);
        body.request_bytes().unwrap().into_owned()
    }

    #[test]
    fn requests_travel_exactly() {
        for request in [
            &br#"{"abi":1,"data":{"s":"a\nb"}}"#[..],
            b" {\"abi\": 1}\n",
            b"{\"abi\":\n1}",
            b"not json",
            b"\xff\x00binary",
            b"",
        ] {
            assert_eq!(round_trip(request), request);
        }
    }

    #[test]
    fn responses_travel_exactly() {
        for response in [&b"{\"status\":\"ok\"}\n"[..], b"not json {", b"\xff\xfe", b""] {
            let reply = Reply {
                response: response.to_vec(),
                log: "logged\n".into(),
                checks: Vec::new(),
            };
            let line = encode_outcome(Some(9), Ok(reply));
            assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'));
            match decode_reply(&line, 9) {
                Ok(Answer::Ok(reply)) => {
                    assert_eq!((reply.response.as_slice(), reply.log.as_str()), (response, "logged\n"))
                }
                _ => panic!("not an ok reply"),
            }
        }
        let error = ScriptError::new("echo", FailureKind::Trap, "boom").with_log("before".into());
        match decode_reply(&encode_outcome(Some(1), Err(error.clone())), 1) {
            Ok(Answer::Failed(back)) => assert_eq!(back, error),
            _ => panic!("not an error reply"),
        }
        assert!(decode_reply(&encode_prepared(4), 5).unwrap_err().contains("not 5"));
        assert!(matches!(decode_reply(&encode_loading(6), 6), Ok(Answer::Loading)));
        assert!(matches!(decode_reply(&encode_running(6), 6), Ok(Answer::Running)));
        assert!(decode_reply(b"garbage", 1).is_err());
    }

    #[test]
    fn builtins_are_the_workers_own() {
        let python = Plugin::python();
        assert_eq!(WirePlugin::of(&python).to_plugin().unwrap(), python);
        let unknown = WirePlugin {
            name: "lua".into(),
            source: WireSource::Builtin("lua".into()),
            sha256: None,
        };
        assert_eq!(unknown.to_plugin().unwrap_err().kind, FailureKind::Load);
    }
}
