//! [`Plugin`]: the entry point a plugin exports, and the request → response logic around it.

use serde_json::{Value, json};

use crate::abi::{ABI_VERSION, Call, Request, Response};
use crate::context::Context;
use crate::error::Result;

/// A plugin's entry point: what [`export!`](crate::export) exports.
///
/// [`handle`](Plugin::handle) is the whole request → response logic the exported
/// `wasmflow_run` runs. It is an ordinary function, so a plugin can be tested natively by
/// handing it request JSON:
///
/// ```
/// use wasmflow_guest::{Context, Plugin, Response, Result};
///
/// fn greet(ctx: &mut Context) -> Result<()> {
///     let name: String = ctx.get("name")?;
///     ctx.set("greeting", format!("Hello, {name}!"))
/// }
///
/// let response = Plugin::Script(greet).handle(
///     br#"{"abi":1,"call":"script","data":{"name":"Ada"}}"#,
/// );
/// assert_eq!(response.to_json(), r#"{"status":"ok","data":{"greeting":"Hello, Ada!","name":"Ada"}}"#);
/// ```
#[derive(Clone, Copy)]
pub enum Plugin {
    /// A script task: changes the task data in place. Answers `script` calls with
    /// `{"status":"ok","data":…}`, the context's data when the function returns `Ok`.
    Script(fn(&mut Context) -> Result<()>),
    /// A service task operation: answers `service` calls with `{"status":"ok","result":…}`.
    Service(fn(&Context) -> Result<Value>),
    /// An expression evaluator: answers `expression` calls with `{"status":"ok","result":…}`.
    Expression(fn(&Context) -> Result<Value>),
    /// Full control: every call kind, answered by the function itself (the ABI version has
    /// been checked).
    Handler(fn(Request) -> Response),
}

impl Plugin {
    /// Which call kind the plugin answers (`None` for a handler, which answers them all).
    ///
    /// ```
    /// use wasmflow_guest::{Call, Context, Plugin, Result};
    /// fn f(_: &mut Context) -> Result<()> { Ok(()) }
    /// assert_eq!(Plugin::Script(f).call(), Some(Call::Script));
    /// ```
    pub fn call(&self) -> Option<Call> {
        match self {
            Plugin::Script(_) => Some(Call::Script),
            Plugin::Service(_) => Some(Call::Service),
            Plugin::Expression(_) => Some(Call::Expression),
            Plugin::Handler(_) => None,
        }
    }

    /// Answer one request given as JSON bytes.
    ///
    /// Invalid JSON, a request for another ABI version than 1 and a call kind the plugin does
    /// not export are answered with an `error` response without running the plugin's function.
    /// Nothing else is caught: a panic in the function is a trap the host reports.
    ///
    /// ```
    /// use wasmflow_guest::{Context, Plugin, Response, Result};
    /// fn f(_: &mut Context) -> Result<()> { Ok(()) }
    ///
    /// let r = Plugin::Script(f).handle(br#"{"abi":2,"call":"script"}"#);
    /// assert_eq!(r, Response::error("plugin built for wasmflow ABI 1 got a request for ABI 2"));
    /// ```
    pub fn handle(&self, request: &[u8]) -> Response {
        match parse_request(request) {
            Ok(request) => self.run(request),
            Err(response) => response,
        }
    }

    /// Answer one parsed request (its `abi` is checked again here).
    ///
    /// ```
    /// use wasmflow_guest::{Call, Context, Plugin, Request, Response, Result};
    /// use serde_json::{json, Value};
    /// fn answer(_: &Context) -> Result<Value> { Ok(json!(42)) }
    ///
    /// let r = Plugin::Service(answer).run(Request::new(Call::Service));
    /// assert_eq!(r, Response::Result(json!(42)));
    /// let r = Plugin::Service(answer).run(Request::new(Call::Script));
    /// assert_eq!(r.to_json(), r#"{"status":"error","message":"this plugin exports a service function and cannot answer a `script` call"}"#);
    /// ```
    pub fn run(&self, request: Request) -> Response {
        if request.abi != ABI_VERSION {
            return abi_mismatch(u64::from(request.abi));
        }
        match (self, request.call) {
            (Plugin::Handler(f), _) => f(request),
            (Plugin::Script(f), Call::Script) => {
                let mut ctx = Context::new(request);
                match f(&mut ctx) {
                    Ok(()) => Response::Data(ctx.into_data()),
                    Err(e) => e.into(),
                }
            }
            (Plugin::Service(f), Call::Service) | (Plugin::Expression(f), Call::Expression) => {
                match f(&Context::new(request)) {
                    Ok(value) => Response::Result(value),
                    Err(e) => e.into(),
                }
            }
            (plugin, asked) => Response::error(format!(
                "this plugin exports a {} function and cannot answer a `{asked}` call",
                plugin.call().map_or("handler", Call::as_str),
            )),
        }
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.call() {
            Some(call) => write!(f, "Plugin::{call}"),
            None => f.write_str("Plugin::handler"),
        }
    }
}

fn abi_mismatch(abi: u64) -> Response {
    Response::error(format!(
        "plugin built for wasmflow ABI {ABI_VERSION} got a request for ABI {abi}"
    ))
}

/// Parse request bytes, checking the ABI version before the rest of the shape (a later ABI may
/// change the shape).
fn parse_request(bytes: &[u8]) -> std::result::Result<Request, Response> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Response::error(format!("invalid request: not JSON: {e}")))?;
    let Value::Object(obj) = &value else {
        return Err(Response::error("invalid request: expected a JSON object"));
    };
    match obj.get("abi") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(ABI_VERSION)) => {}
        Some(Value::Number(n)) => {
            return Err(match n.as_u64() {
                Some(abi) => abi_mismatch(abi),
                None => Response::error(format!(
                    "plugin built for wasmflow ABI {ABI_VERSION} got a request for ABI {n}"
                )),
            });
        }
        Some(other) => {
            return Err(Response::error(format!(
                "invalid request: `abi` must be a number, got {}",
                json!(other)
            )));
        }
        None => return Err(Response::error("invalid request: no `abi` field")),
    }
    serde_json::from_value(value).map_err(|e| Response::error(format!("invalid request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use serde_json::json;

    fn script_double(ctx: &mut Context) -> Result<()> {
        let x: i64 = ctx.get("x")?;
        ctx.set("x", x * 2)
    }

    fn service_add(ctx: &Context) -> Result<Value> {
        let a: f64 = ctx.param("a")?;
        let b: f64 = ctx.param("b")?;
        Ok(json!(a + b))
    }

    fn script_bpmn(_: &mut Context) -> Result<()> {
        Err(Error::bpmn_error("payment_failed", json!({"reason": "card declined"})))
    }

    fn script_fail(_: &mut Context) -> Result<()> {
        Err(Error::msg_at("nope", 7))
    }

    fn handler_echo(req: Request) -> Response {
        Response::Result(json!({"call": req.call, "source": req.source}))
    }

    fn handle_json(plugin: Plugin, req: Value) -> Value {
        let bytes = serde_json::to_vec(&req).unwrap();
        serde_json::from_str(&plugin.handle(&bytes).to_json()).unwrap()
    }

    #[test]
    fn parses_a_full_request() {
        let req: Request = serde_json::from_value(json!({
            "abi": 1,
            "call": "service",
            "task": {"id": "t1", "spec": "Activity_1", "name": "Look up",
                     "process": "order_product", "instance": "i1"},
            "data": {"a": 1},
            "source": "ignored",
            "operation": "lookup_product_info",
            "params": {"product_name": "product_a"},
            "config": {"k": "v"}
        }))
        .unwrap();
        assert_eq!(req.call, Call::Service);
        assert_eq!(req.task.id, "t1");
        assert_eq!(req.task.name.as_deref(), Some("Look up"));
        assert_eq!(req.task.process, "order_product");
        assert_eq!(req.data["a"], 1);
        assert_eq!(req.operation.as_deref(), Some("lookup_product_info"));
        assert_eq!(req.params["product_name"], "product_a");
        assert_eq!(req.config["k"], "v");
    }

    #[test]
    fn parses_a_minimal_request() {
        let req: Request = serde_json::from_str(r#"{"abi":1,"call":"script"}"#).unwrap();
        assert_eq!(req.call, Call::Script);
        assert!(req.data.is_empty() && req.params.is_empty());
        assert!(req.source.is_none() && req.operation.is_none() && req.task.name.is_none());
        assert!(req.config.is_null());
        // and it round-trips
        let again: Request = serde_json::from_str(&req.to_json()).unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn response_shapes() {
        let data = json!({"x": 1}).as_object().unwrap().clone();
        assert_eq!(Response::Data(data).to_json(), r#"{"status":"ok","data":{"x":1}}"#);
        assert_eq!(
            Response::Result(Value::Null).to_json(),
            r#"{"status":"ok","result":null}"#
        );
        assert_eq!(
            Response::from(Error::bpmn("c")).to_json(),
            r#"{"status":"bpmn_error","code":"c"}"#
        );
        assert_eq!(
            Response::from(Error::bpmn("c").with_name("N").with_payload("p")).to_json(),
            r#"{"status":"bpmn_error","code":"c","name":"N","payload":"p"}"#
        );
        assert_eq!(
            Response::from(Error::bpmn("c").with_payload(Value::Null)).to_json(),
            r#"{"status":"bpmn_error","code":"c"}"#
        );
        assert_eq!(Response::error("m").to_json(), r#"{"status":"error","message":"m"}"#);
        assert_eq!(
            Response::error_at("m", 3).to_json(),
            r#"{"status":"error","message":"m","line":3}"#
        );
    }

    #[test]
    fn responses_round_trip() {
        for r in [
            Response::Data(json!({"a": [1, 2]}).as_object().unwrap().clone()),
            Response::Result(json!(null)),
            Response::Result(json!({"data": 1})),
            Response::from(Error::bpmn_error("c", json!({"r": 1})).with_name("n")),
            Response::error_at("m", 9),
            Response::error("m"),
        ] {
            let back: Response = serde_json::from_str(&r.to_json()).unwrap();
            assert_eq!(back, r);
        }
        for bad in [
            r#"{"status":"maybe"}"#,
            r#"{"status":"ok"}"#,
            r#"{"status":"ok","data":[]}"#,
            r#"{"status":"error"}"#,
            r#"{"status":"bpmn_error"}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<Response>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runs_a_script() {
        let out = handle_json(
            Plugin::Script(script_double),
            json!({"abi": 1, "call": "script", "data": {"x": 21, "keep": "me"}}),
        );
        assert_eq!(out, json!({"status": "ok", "data": {"x": 42, "keep": "me"}}));
    }

    #[test]
    fn script_errors_name_the_key() {
        let out = handle_json(
            Plugin::Script(script_double),
            json!({"abi": 1, "call": "script", "data": {}}),
        );
        assert_eq!(out, json!({"status": "error", "message": "task data has no key `x`"}));
    }

    #[test]
    fn runs_a_service() {
        let out = handle_json(
            Plugin::Service(service_add),
            json!({"abi": 1, "call": "service", "operation": "add", "params": {"a": 1, "b": 2.5}}),
        );
        assert_eq!(out, json!({"status": "ok", "result": 3.5}));
    }

    #[test]
    fn runs_an_expression() {
        fn positive(ctx: &Context) -> Result<Value> {
            Ok(json!(ctx.get::<f64>("x")? > 0.0))
        }
        let out = handle_json(
            Plugin::Expression(positive),
            json!({"abi": 1, "call": "expression", "data": {"x": 3}}),
        );
        assert_eq!(out, json!({"status": "ok", "result": true}));
    }

    #[test]
    fn bpmn_and_plain_errors() {
        let req = json!({"abi": 1, "call": "script"});
        assert_eq!(
            handle_json(Plugin::Script(script_bpmn), req.clone()),
            json!({"status": "bpmn_error", "code": "payment_failed",
                   "payload": {"reason": "card declined"}})
        );
        assert_eq!(
            handle_json(Plugin::Script(script_fail), req),
            json!({"status": "error", "message": "nope", "line": 7})
        );
    }

    #[test]
    fn rejects_other_abi_versions() {
        for abi in [0, 2, 99] {
            let out = handle_json(
                Plugin::Script(script_double),
                json!({"abi": abi, "call": "script", "data": {"x": 1}}),
            );
            assert_eq!(
                out,
                json!({"status": "error",
                       "message": format!("plugin built for wasmflow ABI 1 got a request for ABI {abi}")})
            );
        }
        // A later ABI may have a different shape: the version is checked first.
        let out = handle_json(
            Plugin::Handler(handler_echo),
            json!({"abi": 2, "call": "something-new"}),
        );
        assert_eq!(
            out["message"],
            "plugin built for wasmflow ABI 1 got a request for ABI 2"
        );
        let r = Plugin::Handler(handler_echo).run(Request {
            abi: 3,
            ..Request::new(Call::Script)
        });
        assert_eq!(
            r,
            Response::error("plugin built for wasmflow ABI 1 got a request for ABI 3")
        );
    }

    #[test]
    fn rejects_invalid_requests() {
        let p = Plugin::Script(script_double);
        for (input, expect) in [
            (&b"this is not json"[..], "invalid request: not JSON"),
            (b"", "invalid request: not JSON"),
            (b"[1,2]", "invalid request: expected a JSON object"),
            (br#"{"call":"script"}"#, "invalid request: no `abi` field"),
            (
                br#"{"abi":"1","call":"script"}"#,
                "invalid request: `abi` must be a number",
            ),
            (br#"{"abi":1}"#, "invalid request: missing field `call`"),
            (
                br#"{"abi":1,"call":"gateway"}"#,
                "invalid request: unknown variant `gateway`",
            ),
            (
                br#"{"abi":1,"call":"script","data":[]}"#,
                "invalid request: invalid type",
            ),
        ] {
            let Response::Error { message, line } = p.handle(input) else {
                panic!("{input:?} was accepted");
            };
            assert!(message.starts_with(expect), "{message:?} vs {expect:?}");
            assert_eq!(line, None);
        }
    }

    #[test]
    fn rejects_calls_the_plugin_does_not_export() {
        let out = handle_json(
            Plugin::Script(script_double),
            json!({"abi": 1, "call": "service", "data": {"x": 1}}),
        );
        assert_eq!(
            out["message"],
            "this plugin exports a script function and cannot answer a `service` call"
        );
        let out = handle_json(Plugin::Service(service_add), json!({"abi": 1, "call": "expression"}));
        assert_eq!(
            out["message"],
            "this plugin exports a service function and cannot answer a `expression` call"
        );
    }

    #[test]
    fn handlers_see_every_call() {
        for call in ["script", "service", "expression"] {
            let out = handle_json(
                Plugin::Handler(handler_echo),
                json!({"abi": 1, "call": call, "source": "1 + 1"}),
            );
            assert_eq!(
                out,
                json!({"status": "ok", "result": {"call": call, "source": "1 + 1"}})
            );
        }
    }

    #[test]
    fn run_glue_round_trips_through_memory() {
        // The exported functions as the host uses them: alloc, write, run, read.
        let req = br#"{"abi":1,"call":"script","data":{"x":2}}"#;
        let buf = crate::__private::alloc_buffer(req.len());
        assert!(!buf.is_null());
        unsafe { std::ptr::copy_nonoverlapping(req.as_ptr(), buf, req.len()) };
        let out = unsafe { crate::__private::run_buffer(buf, req.len(), Plugin::Script(script_double)) };
        assert_eq!(out, br#"{"status":"ok","data":{"x":4}}"#);
        // Zero-length requests do not allocate and are answered with an error.
        let buf = crate::__private::alloc_buffer(0);
        let out = unsafe { crate::__private::run_buffer(buf, 0, Plugin::Script(script_double)) };
        assert!(out.starts_with(br#"{"status":"error","message":"invalid request"#));
    }
}
