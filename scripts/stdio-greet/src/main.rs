//! `stdio_greet.wasm`: a wasmflow plugin written without the SDK.
//!
//! It uses the second carrier of the guest ABI (version 1): a WASI command that reads one
//! request on stdin and writes one response on stdout. As a script task it sets data
//! `greeting` to `"Hello, {name}!"` from data `name`; a missing or non-string `name`, another
//! ABI version or another call kind is an `error` response.

use std::io::{Read, Write};

use serde_json::{Value, json};

fn respond(request: &[u8]) -> Value {
    let request: Value = match serde_json::from_slice(request) {
        Ok(v) => v,
        Err(e) => return error(format!("invalid request: not JSON: {e}")),
    };
    match request.get("abi").and_then(Value::as_u64) {
        Some(1) => {}
        Some(n) => return error(format!("plugin built for wasmflow ABI 1 got a request for ABI {n}")),
        None => return error("invalid request: no numeric `abi` field".into()),
    }
    match request.get("call").and_then(Value::as_str) {
        Some("script") => {}
        Some(other) => {
            return error(format!(
                "stdio_greet is a script plugin and cannot answer a `{other}` call"
            ));
        }
        None => return error("invalid request: no `call` field".into()),
    }
    let mut data = match request.get("data") {
        Some(Value::Object(data)) => data.clone(),
        None => Default::default(),
        Some(_) => return error("invalid request: `data` must be an object".into()),
    };
    let name = match data.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return error("task data key `name` must be a string".into()),
        None => return error("task data has no key `name`".into()),
    };
    data.insert("greeting".into(), json!(format!("Hello, {name}!")));
    json!({"status": "ok", "data": data})
}

fn error(message: String) -> Value {
    json!({"status": "error", "message": message})
}

fn main() {
    let mut input = Vec::new();
    let response = match std::io::stdin().read_to_end(&mut input) {
        Ok(_) => respond(&input),
        Err(e) => error(format!("cannot read the request from stdin: {e}")),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &response).expect("stdout is writable");
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .expect("stdout is writable");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets() {
        let out = respond(br#"{"abi":1,"call":"script","data":{"name":"Ada","n":1}}"#);
        assert_eq!(
            out,
            json!({"status": "ok", "data": {"name": "Ada", "n": 1, "greeting": "Hello, Ada!"}})
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            respond(br#"{"abi":1,"call":"script","data":{}}"#)["message"],
            "task data has no key `name`"
        );
        assert_eq!(
            respond(br#"{"abi":2,"call":"script"}"#)["message"],
            "plugin built for wasmflow ABI 1 got a request for ABI 2"
        );
        assert_eq!(respond(b"nope")["status"], "error");
        assert_eq!(respond(br#"{"abi":1,"call":"service"}"#)["status"], "error");
    }
}
