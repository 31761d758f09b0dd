//! `http_request(url, method="GET", headers={}, body=None)`: an HTTP request
//! through the host, allowed only to the `host:port` pairs in the plugin's
//! network grant (`allow_net` for the `python` plugin in `wasmflow.toml`, or
//! `--allow-net python=HOST:PORT`).
//!
//! It returns a dict `{"status": 200, "url": "…", "headers": {…}, "body": "…"}`
//! for every answer the server gives, 404 and 500 included: `headers` has
//! lower-case names, and `body` is text (bytes that are not UTF-8 are replaced
//! by U+FFFD; decode JSON with `json.decode(r["body"])`). A `body` argument that
//! is a string is sent as it is; any other value is sent as JSON, with
//! `content-type: application/json` unless `headers` says otherwise. A denied
//! request, an unreachable server, a timeout or a body over the limit fail the
//! script with the host's message (which names the grant to add).
//!
//! ```python
//! r = http_request("http://127.0.0.1:8080/price?product=a")
//! if r["status"] == 200:
//!     price = json.decode(r["body"])["price"]
//! ```

use serde_json::{Map, Value as Json, json};
use starlark::environment::GlobalsBuilder;
use starlark::starlark_module;
use starlark::values::none::NoneOr;
use starlark::values::{Heap, Value};
use wasmflow_guest::http;

#[starlark_module]
pub(crate) fn http_builtins(builder: &mut GlobalsBuilder) {
    /// `http_request(url, method="GET", headers={}, body=None)`: sends an HTTP
    /// request through the host (only to granted `host:port` pairs) and returns
    /// `{"status", "url", "headers", "body"}`.
    fn http_request<'v>(
        #[starlark(require = pos)] url: &str,
        #[starlark(default = "GET")] method: &str,
        #[starlark(default = NoneOr::None)] headers: NoneOr<Value<'v>>,
        #[starlark(default = NoneOr::None)] body: NoneOr<Value<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        let mut request = http::Request::new(method, url);
        if let Some(headers) = headers.into_option() {
            let Json::Object(headers) = headers.to_json_value()? else {
                anyhow::bail!(
                    "http_request: `headers` must be a dict of strings, not {}",
                    headers.get_type()
                );
            };
            for (name, value) in headers {
                let Json::String(value) = value else {
                    anyhow::bail!("http_request: the header `{name}` must be a string, not {value}");
                };
                request = request.header(name.to_ascii_lowercase(), value);
            }
        }
        if let Some(body) = body.into_option() {
            request = match body.unpack_str() {
                Some(text) => request.body(text),
                None => {
                    let json = serde_json::to_vec(&body.to_json_value()?)?;
                    if !request.headers.contains_key("content-type") {
                        request = request.header("content-type", "application/json");
                    }
                    request.body(json)
                }
            };
        }
        let response = request.send().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(heap.alloc(to_dict(response)))
    }
}

/// The response as the script sees it.
fn to_dict(response: http::Response) -> Json {
    let headers: Map<String, Json> = response
        .headers
        .into_iter()
        .map(|(k, v)| (k, Json::String(v)))
        .collect();
    json!({
        "status": response.status,
        "url": response.url,
        "headers": headers,
        "body": String::from_utf8_lossy(&response.body),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasmflow_guest::testing;

    use crate::run_script;

    fn script(source: &str) -> serde_json::Value {
        serde_json::to_value(run_script(source, serde_json::Map::new())).unwrap()
    }

    #[test]
    fn requests_and_responses() {
        testing::on_http_request(|request| {
            assert_eq!(request["method"], "POST");
            assert_eq!(request["url"], "http://127.0.0.1:8080/orders");
            assert_eq!(
                request["headers"],
                json!({"content-type": "application/json", "x-id": "7"})
            );
            assert_eq!(request["body"], r#"{"n":[1,2]}"#);
            json!({"status": "ok", "response": {"status": 201, "url": request["url"],
                   "headers": {"content-type": "application/json"}, "body": "{\"id\": 7}"}})
        });
        let out = script(
            "r = http_request('http://127.0.0.1:8080/orders', method='POST', headers={'X-Id': '7'}, body={'n': [1, 2]})\nid = json.decode(r['body'])['id']\n",
        );
        assert_eq!(out["status"], "ok", "{out}");
        assert_eq!(out["data"]["id"], 7);
        assert_eq!(out["data"]["r"]["status"], 201);
        assert_eq!(out["data"]["r"]["headers"]["content-type"], "application/json");
    }

    #[test]
    fn a_denial_fails_the_script_with_the_hosts_message() {
        testing::on_http_request(|_| {
            json!({"status": "error", "denied": true,
                   "message": "denied: plugin `python` tried to reach http://127.0.0.2:1/: grant it"})
        });
        let out = script("a = 1\nr = http_request('http://127.0.0.2:1/')\n");
        assert_eq!(out["status"], "error");
        assert_eq!(out["line"], 2);
        assert!(
            out["message"]
                .as_str()
                .unwrap()
                .contains("plugin `python` tried to reach"),
            "{out}"
        );
        let out = script("r = http_request('http://h:1/', headers={'a': 1})\n");
        assert!(out["message"].as_str().unwrap().contains("must be a string"), "{out}");
    }
}
