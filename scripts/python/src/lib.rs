//! `python.wasm`: wasmflow's built-in interpreter for inline scripts and expressions.
//!
//! The language is [Starlark](https://github.com/bazelbuild/starlark/blob/master/spec.md), the
//! deterministic Python dialect, as implemented by the `starlark` crate, with top-level `if` and
//! `for`, f-strings (`f"{name}"`), keyword-only arguments and type annotations enabled. It has no
//! file, network or clock access of its own.
//!
//! * `call: "script"`: `source` is a program. Every task data key that is a valid identifier
//!   becomes a global variable (JSON → Starlark); after the program runs, every global whose
//!   value converts to JSON is in the task's new data (so `x = x + 1` updates `x`, new variables
//!   are added, functions and other non-JSON values are dropped), and the data keys that are not
//!   identifiers pass through unchanged.
//! * `call: "expression"`: `source` is an expression evaluated with the data as globals; its
//!   value is the result.
//! * Syntax and runtime errors answer `{"status":"error","message":…,"line":N}`, `N` being the
//!   1-based line in `source`.
//! * `print(…)` writes to stderr (the task log).
//! * `http_request(url, method="GET", headers={}, body=None)` makes an HTTP request through the
//!   host, to granted `host:port` pairs only (see `http.rs`).
//!
//! Source text indented as a whole (as it often is inside BPMN XML) is dedented first; that
//! keeps line numbers.
//!
//! The module exports `wizer-initialize`, which warms every lazy structure of the interpreter up
//! so that a pre-initialized snapshot starts each call warm, leaving no state a script can see.

mod builtins;
mod http;

use std::sync::LazyLock;

use serde_json::{Map, Value};
use starlark::environment::{Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::syntax::{AstModule, Dialect, DialectTypes};
use wasmflow_guest::{Call, Request, Response};

/// The builtins every script sees: the standard library plus the extensions below (no
/// `breakpoint`, no debugging internals).
static GLOBALS: LazyLock<Globals> = LazyLock::new(|| {
    use LibraryExtension::*;
    GlobalsBuilder::extended_by(&[
        StructType,
        RecordType,
        EnumType,
        NamespaceType,
        Map,
        Filter,
        Partial,
        Print,
        Pprint,
        Pstr,
        Prepr,
        Json,
        Typing,
        SetType,
    ])
    .with(builtins::python_builtins)
    .with(http::http_builtins)
    .build()
});

/// The language: standard Starlark plus top-level statements, f-strings, keyword-only
/// arguments and (checked) type annotations.
fn dialect() -> Dialect {
    Dialect {
        enable_top_level_stmt: true,
        enable_f_strings: true,
        enable_keyword_only_arguments: true,
        enable_types: DialectTypes::Enable,
        ..Dialect::Standard
    }
}

/// Answer one request (the plugin's `handler`).
pub fn handle(request: Request) -> Response {
    let Some(source) = request.source.as_deref() else {
        return Response::error(format!("the python plugin needs the {} text in `source`", request.call));
    };
    // `wasmflow check` asks whether source parses, without running it.
    if request.config.get("check") == Some(&Value::Bool(true)) {
        return check_syntax(source);
    }
    let services: Vec<String> = match request.config.get("services") {
        Some(Value::Array(names)) => names.iter().filter_map(|n| n.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    match request.call {
        Call::Script => run_script_with(source, request.data, &services),
        Call::Expression => eval_expression_with(source, &request.data, &services),
        Call::Service => {
            Response::error("the python plugin runs scripts and expressions; it has no service operations")
        }
    }
}

wasmflow_guest::export!(handler: handle);

/// Parse `source` without running it: `ok` with a null result, or the syntax error and its line.
pub fn check_syntax(source: &str) -> Response {
    match AstModule::parse("check", dedent(source), &dialect()) {
        Ok(_) => Response::Result(Value::Null),
        Err(e) => error_response(e, source),
    }
}

/// Run a script with `data` as its globals; answer the new data.
pub fn run_script(source: &str, data: Map<String, Value>) -> Response {
    run_script_with(source, data, &[])
}

/// Run a script with `data` as its globals and each of `services` callable as
/// a function of its name; answer the new data.
pub fn run_script_with(source: &str, data: Map<String, Value>, services: &[String]) -> Response {
    let ast = match AstModule::parse("script", dedent(source), &dialect()) {
        Ok(ast) => ast,
        Err(e) => return error_response(e, source),
    };
    Module::with_temp_heap(|module| {
        bind_data(&module, &data);
        let mut eval = Evaluator::new(&module);
        // A data key of the same name wins over the service function.
        let services: Vec<String> = services.iter().filter(|s| !data.contains_key(*s)).cloned().collect();
        if let Err(message) = bind_services(&mut eval, &services) {
            return Response::error(message);
        }
        if let Err(e) = eval.eval_module(ast, &GLOBALS) {
            return error_response(e, source);
        }
        drop(eval);
        let mut out = data;
        for name in module.names() {
            let name = name.as_str();
            if services.iter().any(|s| s == name) {
                continue;
            }
            let Some(value) = module.get(name) else {
                continue;
            };
            match value.to_json_value() {
                Ok(json) => {
                    out.insert(name.to_owned(), json);
                }
                Err(_) => {
                    // Functions, structs with functions, dicts with non-string keys...: not
                    // task data. A data key rebound to such a value leaves the data.
                    out.remove(name);
                }
            }
        }
        Response::Data(out)
    })
}

/// Evaluate an expression with `data` as its globals; answer its value.
pub fn eval_expression(source: &str, data: &Map<String, Value>) -> Response {
    eval_expression_with(source, data, &[])
}

/// Evaluate an expression with `data` as its globals and each of `services`
/// callable as a function of its name; answer its value.
pub fn eval_expression_with(source: &str, data: &Map<String, Value>, services: &[String]) -> Response {
    if source.trim().is_empty() {
        return Response::error("the expression is empty");
    }
    let ast = match AstModule::parse("expression", dedent(source), &dialect()) {
        Ok(ast) => ast,
        Err(e) => return error_response(e, source),
    };
    Module::with_temp_heap(|module| {
        bind_data(&module, data);
        let mut eval = Evaluator::new(&module);
        let services: Vec<String> = services.iter().filter(|s| !data.contains_key(*s)).cloned().collect();
        if let Err(message) = bind_services(&mut eval, &services) {
            return Response::error(message);
        }
        match eval.eval_module(ast, &GLOBALS) {
            Ok(value) => match value.to_json_value() {
                Ok(json) => Response::Result(json),
                Err(e) => Response::error(format!(
                    "the expression's value ({}) does not convert to JSON: {e}",
                    value.get_type()
                )),
            },
            Err(e) => error_response(e, source),
        }
    })
}

/// Define each granted service as a function of its own name (when the name
/// is an identifier), forwarding keyword arguments to `call_service`.
fn bind_services(eval: &mut Evaluator<'_, '_, '_>, services: &[String]) -> Result<(), String> {
    let prelude: String = services
        .iter()
        .filter(|name| is_identifier(name))
        .map(|name| format!("def {name}(**params):\n    return call_service(\"{name}\", **params)\n"))
        .collect();
    if prelude.is_empty() {
        return Ok(());
    }
    let ast = AstModule::parse("services", prelude, &dialect()).map_err(|e| format!("{e:#}"))?;
    eval.eval_module(ast, &GLOBALS).map(|_| ()).map_err(|e| format!("{e:#}"))
}

/// Make every data key that is an identifier a global of `module`.
fn bind_data(module: &Module<'_>, data: &Map<String, Value>) {
    let heap = module.heap();
    for (key, value) in data {
        if is_identifier(key) {
            module.set(key, heap.alloc(value));
        }
    }
}

/// Starlark's message (no colours, no source excerpt) and the 1-based line of `source` it
/// points at; or the `halt` the script asked for.
fn error_response(e: starlark::Error, source: &str) -> Response {
    if let Some(response) = builtins::take_pending() {
        return response;
    }
    let message = format!("{:#}", e.without_diagnostic());
    match e.span() {
        Some(span) => {
            // An error at the very end ("unexpected new line" after `c = (` on the last line)
            // points past the final newline: report the last line instead.
            let last_line = source.lines().count().max(1);
            let line = (span.resolve_span().begin.line + 1).min(last_line);
            Response::error_at(message, u32::try_from(line).unwrap_or(u32::MAX))
        }
        None => Response::error(message),
    }
}

/// Whether a data key can be a Starlark variable name: ASCII letters, digits and `_`, not
/// starting with a digit, not a keyword.
pub fn is_identifier(key: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
        "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "load", "nonlocal", "not", "or",
        "pass", "raise", "return", "try", "while", "with", "yield",
    ];
    let mut chars = key.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !KEYWORDS.contains(&key)
}

/// Remove the indentation common to all non-blank lines (scripts embedded in BPMN XML are
/// often indented as a whole). Lines are kept, so error line numbers still match the source.
pub fn dedent(source: &str) -> String {
    let indent = source
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    if indent == 0 {
        return source.to_owned();
    }
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        // Blank lines may be shorter than the indent; non-blank ones all start with it.
        let cut = line
            .char_indices()
            .take_while(|&(i, c)| i < indent && (c == ' ' || c == '\t'))
            .count();
        out.push_str(&line[cut..]);
    }
    out
}

/// Touch every lazily initialised structure once: the globals, the parser, the evaluator, the
/// JSON conversions both ways and the error paths. Leaves nothing a later call can see (every
/// module lives on a temporary heap).
pub fn warm_up() {
    LazyLock::force(&GLOBALS);
    let data: Map<String, Value> = serde_json::from_str(WARM_UP_DATA).expect("warm-up data is JSON");
    let _ = run_script(WARM_UP_SCRIPT, data.clone());
    let _ = eval_expression("x > 0 and name == 'warm' or len(items) == 0", &data);
    let _ = eval_expression("{'k': [x, f, None, True]}", &data);
    let _ = eval_expression("shout", &data);
    let _ = run_script("y = 1\nz = (\n", data.clone());
    let _ = run_script("y = 1\nz = y // 0\n", data.clone());
    let _ = run_script("y = undefined_name + 1\n", data.clone());
    let _ = run_script("fail('warm')\n", data.clone());
    let _ = run_script("def g():\n    return {1: 2}\nh = g()\n", data);
}

/// Data for [`WARM_UP_SCRIPT`].
const WARM_UP_DATA: &str = r#"{"x": 1, "f": 2.5, "name": "warm", "flag": true, "none": null,
    "items": [{"name": "a", "price": 1.5, "quantity": 2}], "user-id": "k",
    "nested": {"a": [1, 2, {"b": null}]}}"#;

/// A program using the common features, run once by [`warm_up`].
const WARM_UP_SCRIPT: &str = r#"
x = x + 1
f = f * 2 - 0.5
total = 0
for item in items:
    if item["quantity"] > 1:
        total += item["price"] * item["quantity"]
    elif item["name"] == "":
        pass
    else:
        total -= 1
def shout(s, *, times = 1):
    return (s.upper() + "!") * times
greeting = shout(name, times = 2) + " " + f"{name}" + " %s %d" % ("a", 3)
words = sorted([w.strip() for w in "b, a , c".split(",")])
counts = {w: len(w) for w in words}
merged = dict(counts, extra = [1, 2, 3][1:])
flags = [flag and not none, x in [1, 2], "a" in counts, type(x) == "int"]
s = struct(a = 1, b = "two")
encoded = json.encode({"a": [1, 2.0, None, True]})
decoded = json.decode(encoded)
n = max(1, 2, 3) + min([4, 5]) + abs(-1) + int("7") + int(float("2.5")) + len(nested["a"]) + round(f) + sum([1, 2])
rounded = round(f * 1.1, 2)
r = list(range(3)) + list(reversed([1, 2]))
z = str(1.5) + repr("q") + ",".join(["a", "b"]) + "x".join(["1", "2"]).replace("x", "-")
fs = [v for v in filter(lambda v: v > 1, map(lambda v: v * 2, [0, 1, 2]))]
"#;

/// Pre-initialization hook for wasmtime-wizer: runs [`warm_up`].
#[cfg(target_arch = "wasm32")]
#[unsafe(export_name = "wizer-initialize")]
pub extern "C" fn wizer_initialize() {
    warm_up();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn script(source: &str, d: Value) -> Value {
        serde_json::to_value(run_script(source, data(d))).unwrap()
    }

    fn expr(source: &str, d: Value) -> Value {
        serde_json::to_value(eval_expression(source, &data(d))).unwrap()
    }

    #[test]
    fn increments() {
        assert_eq!(
            script("x = x + 1", json!({"x": 1})),
            json!({"status": "ok", "data": {"x": 2}})
        );
    }

    #[test]
    fn top_level_if_and_for() {
        let out = script(
            "total = 0\nfor i in items:\n    total += i\nif total > 5:\n    big = True\nelse:\n    big = False\n",
            json!({"items": [1, 2, 3]}),
        );
        assert_eq!(
            out,
            json!({"status": "ok", "data": {"items": [1, 2, 3], "total": 6, "big": true, "i": 3}})
        );
    }

    #[test]
    fn functions_are_dropped() {
        let out = script(
            "def double(v):\n    return v * 2\ny = double(x)\nf = lambda: 1\n",
            json!({"x": 4}),
        );
        assert_eq!(out, json!({"status": "ok", "data": {"x": 4, "y": 8}}));
        // A data key rebound to a function leaves the data.
        let out = script("def x():\n    pass\n", json!({"x": 4, "k": 1}));
        assert_eq!(out, json!({"status": "ok", "data": {"k": 1}}));
    }

    #[test]
    fn non_identifier_keys_pass_through() {
        let out = script(
            "a = 1",
            json!({"user-id": 7, "2nd": "x", "for": [1], "": null, "ok_key": {"n": 1.5}}),
        );
        assert_eq!(
            out,
            json!({"status": "ok", "data": {
                "user-id": 7, "2nd": "x", "for": [1], "": null, "ok_key": {"n": 1.5}, "a": 1
            }})
        );
    }

    #[test]
    fn json_values_round_trip() {
        let d = json!({"s": "é", "f": 2.5, "i": -3, "big": 12345678901234567890u64,
                       "b": false, "n": null, "l": [1, [2], {"k": "v"}], "o": {"x": {}}});
        let out = script("pass", d.clone());
        assert_eq!(out, json!({"status": "ok", "data": d}));
        let out = script("l.append(4)\no['y'] = None\ns += '!'", d.clone());
        assert_eq!(out["data"]["l"], json!([1, [2], {"k": "v"}, 4]));
        assert_eq!(out["data"]["o"], json!({"x": {}, "y": null}));
        assert_eq!(out["data"]["s"], json!("é!"));
    }

    #[test]
    fn expressions() {
        assert_eq!(
            expr("x > 2 and name == 'a'", json!({"x": 3, "name": "a"})),
            json!({"status": "ok", "result": true})
        );
        assert_eq!(
            expr("[v * 2 for v in xs]", json!({"xs": [1, 2]})),
            json!({"status": "ok", "result": [2, 4]})
        );
        assert_eq!(
            expr("\n    total >= 100\n", json!({"total": 150.5})),
            json!({"status": "ok", "result": true})
        );
        assert_eq!(
            expr("  ", json!({})),
            json!({"status": "error", "message": "the expression is empty"})
        );
        let out = expr("len", json!({}));
        assert_eq!(out["status"], "error");
        assert!(out["message"].as_str().unwrap().contains("does not convert to JSON"));
    }

    #[test]
    fn syntax_error_line() {
        let out = script("a = 1\nb = 2\nc = (\n", json!({}));
        assert_eq!(out["status"], "error");
        assert_eq!(out["line"], 3, "{out}");
        let message = out["message"].as_str().unwrap();
        assert!(!message.contains('\u{1b}'), "{message:?}");
        assert!(!message.is_empty());
        assert_eq!(out["message"], "Parse error: unexpected new line, expected expression");

        let out = script("a = 1\nb = 2\nc = = 3\nd = 4\n", json!({}));
        assert_eq!(out["status"], "error");
        assert_eq!(out["line"], 3, "{out}");
        let out = script("x = 1\nif x:\ny = 2\n", json!({}));
        assert_eq!(out["line"], 3, "{out}");
    }

    #[test]
    fn runtime_error_line() {
        let out = script("a = 1\nb = a + missing\nc = 3\n", json!({}));
        assert_eq!(out["status"], "error");
        assert_eq!(out["line"], 2, "{out}");
        let message = out["message"].as_str().unwrap();
        assert!(message.contains("missing"), "{message:?}");
        assert!(!message.contains('\u{1b}'), "{message:?}");

        let out = script("a = 1\nb = a // 0\n", json!({}));
        assert_eq!(out["line"], 2, "{out}");
        let out = script("a = 'x'\nb = 2\nfail('stop here')\n", json!({}));
        assert_eq!(out["line"], 3, "{out}");
        assert!(out["message"].as_str().unwrap().contains("stop here"), "{out}");
    }

    #[test]
    fn indented_source_is_dedented() {
        let out = script("\n    x = x + 1\n    if x > 1:\n        y = 1\n", json!({"x": 1}));
        assert_eq!(out, json!({"status": "ok", "data": {"x": 2, "y": 1}}));
        let out = script("\n    a = 1\n    b = a + missing\n", json!({}));
        assert_eq!(out["line"], 3, "{out}");
    }

    #[test]
    fn handler_dispatch() {
        let r = handle(Request::new(Call::Expression).with_source("1 + 1"));
        assert_eq!(r, Response::Result(json!(2)));
        let r = handle(Request::new(Call::Script));
        assert_eq!(
            r,
            Response::error("the python plugin needs the script text in `source`")
        );
        let r = handle(Request::new(Call::Service).with_source("x"));
        assert!(matches!(r, Response::Error { .. }));
    }

    #[test]
    fn f_strings_and_extensions() {
        let out = script(
            "greeting = f\"Hello, {name}!\"\ns = json.encode({'a': 1})\nt = struct(k = 1)\n",
            json!({"name": "Ada"}),
        );
        assert_eq!(out["data"]["greeting"], "Hello, Ada!");
        assert_eq!(out["data"]["s"], r#"{"a":1}"#);
        assert_eq!(out["data"]["t"], json!({"k": 1}));
    }

    #[test]
    fn warm_up_script_runs() {
        let d: Value = serde_json::from_str(WARM_UP_DATA).unwrap();
        let out = script(WARM_UP_SCRIPT, d);
        assert_eq!(out["status"], "ok", "{out}");
        assert_eq!(out["data"]["greeting"], "WARM!WARM! warm a 3");
        assert!(out["data"].get("shout").is_none());
    }

    #[test]
    fn error_messages() {
        for (src, d) in [
            ("a = 1\nb = a + missing\n", json!({})),
            ("a = 1\nb = a // 0\n", json!({})),
            ("a = (\n", json!({})),
            ("x = x + 'a'\n", json!({"x": 1})),
            ("fail('stop')\n", json!({})),
            ("def f(n):\n    return n[3]\n\ny = f(l)\n", json!({"l": [1]})),
        ] {
            let out = script(src, d);
            eprintln!("{src:?} -> {out}");
            assert_eq!(out["status"], "error");
            assert!(out["line"].is_u64());
        }
    }

    #[test]
    fn warm_up_leaves_nothing_behind() {
        warm_up();
        let out = script("pass", json!({}));
        assert_eq!(out, json!({"status": "ok", "data": {}}));
        let out = expr("x", json!({}));
        assert_eq!(out["status"], "error");
    }

    #[test]
    fn check_mode_parses_without_running() {
        let check = |src: &str| {
            let request = Request::new(Call::Script)
                .with_source(src)
                .with_config(json!({"check": true}));
            serde_json::to_value(handle(request)).unwrap()
        };
        // Runs nothing: an undefined name is fine, a syntax error is not.
        assert_eq!(check("y = undefined_name + 1"), json!({"status": "ok", "result": null}));
        assert_eq!(check("a = 1\nb = (\nc = 2")["line"], 3);
    }

    #[test]
    fn python_round_and_sum() {
        let out = script(
            "a = round(2.5)\nb = round(3.5)\nc = round(2.675, 2)\nd = round(7)\ne = round(1234, -2)\nf = sum([1, 2, 3])\ng = sum([0.5, 0.25], 1)\nh = round(-0.5)\ni = round(12.1, 0)",
            json!({}),
        );
        assert_eq!(
            out["data"],
            json!({"a": 2, "b": 4, "c": 2.67, "d": 7, "e": 1200, "f": 6, "g": 1.75, "h": 0, "i": 12.0}),
            "{out}"
        );
        let out = script("x = sum(['a'])", json!({}));
        assert_eq!(out["status"], "error");
    }

    #[test]
    fn halt_stops_the_script_with_its_message() {
        let out = script(
            "if grade < 50:\n    halt('grade %d needs review' % grade)\nok = True",
            json!({"grade": 30}),
        );
        assert_eq!(out, json!({"status": "halt", "message": "grade 30 needs review"}));
        let out = script(
            "if grade < 50:\n    halt('grade %d needs review' % grade)\nok = True",
            json!({"grade": 70}),
        );
        assert_eq!(out["data"]["ok"], json!(true));
        // A later ordinary error is not taken for a halt.
        let out = script("x = missing", json!({}));
        assert_eq!(out["status"], "error");
    }

    #[test]
    fn bpmn_error_and_escalate_stop_the_script_with_their_event() {
        let out = script(
            "if stock < 1:\n    bpmn_error('out_of_stock', name='Out of stock', payload={'item': item})\nok = True",
            json!({"stock": 0, "item": "bolt"}),
        );
        assert_eq!(
            out,
            json!({"status": "bpmn_error", "code": "out_of_stock", "name": "Out of stock", "payload": {"item": "bolt"}})
        );
        let out = script("escalate('late', payload=3)", json!({}));
        assert_eq!(out, json!({"status": "escalation", "code": "late", "payload": 3}));
        let out = script("escalate('late')\nx = 1", json!({}));
        assert_eq!(out, json!({"status": "escalation", "code": "late"}));
        let out = script("bpmn_error('x', payload=lambda: 1)", json!({}));
        assert_eq!(out["status"], "error", "{out}");
    }

    #[test]
    fn identifiers() {
        for ok in ["x", "_x", "a1", "order_total", "True"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "for", "lambda", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
