//! `network.wasm`: an example service plugin that calls an HTTP service through
//! the host's network capability (`wasmflow_guest::http`).
//!
//! Operations:
//!
//! * `fetch_json`: params `url` (required), `method` (default `GET`), `body`
//!   (optional, any JSON value, sent as JSON). The result is the response body
//!   parsed as JSON. A non-2xx status throws the BPMN error `http_error` with the
//!   payload `{"status": …, "url": …, "body": "…"}`, so a boundary event can
//!   catch it. A denied request (the URL's `host:port`, a redirect or an address
//!   the name resolves to is not in the plugin's `allow_net`) fails the task
//!   with the host's message, which names the grant to add.
//! * `fetch_text`: params `url`; the result is `{"status": …, "body": "…"}`,
//!   whatever the status.
//!
//! It can reach only what the manifest grants, e.g.
//!
//! ```toml
//! [plugins.network]
//! module = "network.wasm"
//! services = ["fetch_json", "fetch_text"]
//! allow_net = ["127.0.0.1:8080"]
//! ```

use serde_json::{Value, json};
use wasmflow_guest::http::{self, Request};
use wasmflow_guest::{Context, Error, Result};

/// The service entry point: dispatches on the operation.
pub fn service(ctx: &Context) -> Result<Value> {
    match ctx.operation() {
        Some("fetch_json") => fetch_json(ctx),
        Some("fetch_text") => fetch_text(ctx),
        other => Err(Error::msg(format!(
            "the network plugin has the operations `fetch_json` and `fetch_text`, not {other:?}"
        ))),
    }
}

fn fetch_json(ctx: &Context) -> Result<Value> {
    let url: String = ctx.param("url")?;
    let method: Option<String> = ctx.param("method")?;
    let body: Option<Value> = ctx.param("body")?;
    let mut request = Request::new(method.as_deref().unwrap_or("GET"), &url).header("accept", "application/json");
    if let Some(body) = body {
        request = request.json(&body)?;
    }
    let response = request.send()?;
    wasmflow_guest::info!("{} {url}: HTTP {}", method.as_deref().unwrap_or("GET"), response.status);
    if !response.is_success() {
        let body: String = String::from_utf8_lossy(&response.body).chars().take(1000).collect();
        return Err(Error::bpmn_error(
            "http_error",
            json!({"status": response.status, "url": response.url, "body": body}),
        )
        .with_name(format!("HTTP {}", response.status)));
    }
    response.json()
}

fn fetch_text(ctx: &Context) -> Result<Value> {
    let url: String = ctx.param("url")?;
    let response = http::get(&url)?;
    Ok(json!({"status": response.status, "body": String::from_utf8_lossy(&response.body)}))
}

wasmflow_guest::export!(service: service);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmflow_guest::{Call, testing};

    fn call(operation: &str, params: Value) -> Result<Value> {
        let request = wasmflow_guest::Request::new(Call::Service)
            .with_operation(operation)
            .with_params(params);
        service(&Context::new(request))
    }

    #[test]
    fn fetches_json() {
        testing::on_http_request(|request| {
            assert_eq!(request["url"], "http://127.0.0.1:8080/price");
            assert_eq!(request["headers"]["accept"], "application/json");
            json!({"status": "ok", "response": {"status": 200, "url": request["url"], "headers": {},
                   "body": "{\"price\": 15.0}"}})
        });
        let value = call("fetch_json", json!({"url": "http://127.0.0.1:8080/price"})).unwrap();
        assert_eq!(value, json!({"price": 15.0}));
    }

    #[test]
    fn error_statuses_are_bpmn_errors_and_denials_plain_errors() {
        testing::on_http_request(
            |request| json!({"status": "ok", "response": {"status": 404, "url": request["url"], "headers": {}, "body": "no"}}),
        );
        let error = call("fetch_json", json!({"url": "http://127.0.0.1:8080/x"})).unwrap_err();
        assert_eq!(error.code(), Some("http_error"));
        assert_eq!(error.payload().unwrap()["status"], 404);

        testing::on_http_request(|_| json!({"status": "error", "denied": true, "message": "denied: plugin `network`"}));
        let error = call("fetch_json", json!({"url": "http://127.0.0.2:8080/x"})).unwrap_err();
        assert_eq!(error.code(), None);
        assert_eq!(error.to_string(), "denied: plugin `network`");
        assert!(call("nope", json!({})).is_err());
    }
}
