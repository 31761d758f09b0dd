//! HTTP requests from a plugin (`wasmflow.http_request`), allowed only to the
//! `host:port` pairs in the plugin's network grant.
//!
//! The host makes the request for the plugin: it checks the URL's `host:port`
//! against the grant (`allow_net = ["api.example.com:443"]` under
//! `[plugins.NAME]` in `wasmflow.toml`, or `--allow-net NAME=api.example.com:443`),
//! resolves the name and checks every address (a name that resolves to a
//! loopback or private address needs that address granted too, e.g.
//! `["localhost:8080", "127.0.0.1:8080"]`), follows redirects itself checking
//! each hop, and bounds the response's size and time. A refusal is an
//! [`Error`] whose message names the plugin, the URL and the grant to add; `?`
//! fails the task with it.
//!
//! An HTTP error status (404, 500) is not an error: check [`Response::status`]
//! or [`Response::error_for_status`].
//!
//! ```
//! use wasmflow_guest::{http, testing, Result};
//! use serde_json::{json, Value};
//! # testing::on_http_request(|request| {
//! #     assert_eq!(request["url"], "http://127.0.0.1:8080/products/a");
//! #     json!({"status": "ok", "response": {"status": 200, "url": request["url"],
//! #            "headers": {"content-type": "application/json"}, "body": "{\"price\": 15.0}"}})
//! # });
//!
//! let response = http::get("http://127.0.0.1:8080/products/a")?;
//! assert_eq!(response.status, 200);
//! let product: Value = response.json()?;
//! assert_eq!(product["price"], 15.0);
//! # Ok::<(), wasmflow_guest::Error>(())
//! ```
//!
//! # The host call underneath
//!
//! The plugin sends one JSON object,
//! `{"method": "POST", "url": "…", "headers": {"name": "value"}, "body": "text"}`
//! (`body_base64` instead of `body` for bytes that are not UTF-8), and the host
//! answers
//! `{"status": "ok", "response": {"status": 200, "url": "…", "headers": {…}, "body": "…"}}`
//! (again `body_base64` for a body that is not UTF-8) or
//! `{"status": "error", "message": "…", "denied": true|false}`. Header names in
//! the answer are lower case, and a repeated header's values are joined with
//! `", "`. Methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; `http` and
//! `https` URLs only.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::host::{HostFn, exchange};

/// An HTTP request to send with [`Request::send`] (or [`request`]).
///
/// ```
/// use wasmflow_guest::{http, testing};
/// use serde_json::json;
/// # testing::on_http_request(|request| {
/// #     assert_eq!(request["method"], "POST");
/// #     assert_eq!(request["headers"]["content-type"], "application/json");
/// #     assert_eq!(request["body"], r#"{"id":7}"#);
/// #     json!({"status": "ok", "response": {"status": 201, "url": request["url"], "headers": {}, "body": ""}})
/// # });
///
/// let response = http::Request::post("http://127.0.0.1:8080/orders")
///     .header("authorization", "Bearer token")
///     .json(&json!({"id": 7}))?
///     .send()?;
/// assert_eq!(response.status, 201);
/// # Ok::<(), wasmflow_guest::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The URL, `http://` or `https://`.
    pub url: String,
    /// Request headers, name → value.
    pub headers: BTreeMap<String, String>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A request with any method.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    /// Adds (or replaces) a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Sets the body to `value` as JSON, and `content-type: application/json`.
    pub fn json(self, value: &impl Serialize) -> Result<Request> {
        let body = serde_json::to_vec(value)?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sends the request through the host; see [`request`].
    pub fn send(self) -> Result<Response> {
        request(self)
    }

    /// The JSON the host receives.
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("method".into(), self.method.clone().into());
        object.insert("url".into(), self.url.clone().into());
        if !self.headers.is_empty() {
            let headers = self.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str())));
            object.insert("headers".into(), Value::Object(headers.collect()));
        }
        match self.body.as_deref().map(std::str::from_utf8) {
            None => {}
            Some(Ok(text)) => {
                object.insert("body".into(), text.into());
            }
            Some(Err(_)) => {
                let bytes = self.body.as_deref().unwrap_or_default();
                object.insert("body_base64".into(), base64::encode(bytes).into());
            }
        }
        Value::Object(object)
    }
}

/// An HTTP response: any status, 404 and 500 included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The URL that answered (after redirects).
    pub url: String,
    /// Response headers, lower-case name → value (repeated headers joined with `", "`).
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself if its status is 2xx, else an error naming the status and URL.
    ///
    /// ```
    /// use wasmflow_guest::{http, testing};
    /// use serde_json::json;
    /// testing::on_http_request(|request| {
    ///     json!({"status": "ok", "response": {"status": 404, "url": request["url"], "headers": {}, "body": "gone"}})
    /// });
    /// let response = http::get("http://127.0.0.1:8080/x")?;
    /// assert_eq!(response.text()?, "gone");
    /// let error = response.error_for_status().unwrap_err();
    /// assert_eq!(error.to_string(), "HTTP 404 from http://127.0.0.1:8080/x: gone");
    /// # Ok::<(), wasmflow_guest::Error>(())
    /// ```
    pub fn error_for_status(self) -> Result<Response> {
        if self.is_success() {
            return Ok(self);
        }
        let excerpt: String = String::from_utf8_lossy(&self.body).chars().take(200).collect();
        Err(Error::msg(format!("HTTP {} from {}: {excerpt}", self.status, self.url)))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::msg(format!("the response from {} is not UTF-8 text: {e}", self.url)))
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::msg(format!("the response from {} is not the expected JSON: {e}", self.url)))
    }
}

/// GETs `url`.
pub fn get(url: &str) -> Result<Response> {
    request(Request::get(url))
}

/// Sends `req` through the host and returns the response.
///
/// Fails with the host's message when the plugin's grant does not allow the
/// URL (or a redirect), when the request is malformed, when the server cannot
/// be reached, and when the response is larger or slower than the host's limits.
///
/// ```
/// use wasmflow_guest::{http, testing};
/// use serde_json::json;
/// testing::on_http_request(|_| json!({"status": "error", "denied": true,
///     "message": "denied: plugin `fetch` tried to reach http://10.0.0.1/: …"}));
/// let error = http::get("http://10.0.0.1/").unwrap_err();
/// assert!(error.to_string().starts_with("denied: plugin `fetch`"));
/// ```
pub fn request(req: Request) -> Result<Response> {
    let answer = exchange(HostFn::HttpRequest, &req.to_json())?;
    from_answer(answer)
}

/// Turns the host's answer into a [`Response`] or an [`Error`].
fn from_answer(answer: Value) -> Result<Response> {
    let unexpected = |answer: &Value| Error::msg(format!("http_request: unexpected answer from the host: {answer}"));
    match answer.get("status").and_then(Value::as_str) {
        Some("ok") => {}
        Some("error") => {
            let message = answer
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("http_request failed");
            return Err(Error::msg(message));
        }
        _ => return Err(unexpected(&answer)),
    }
    let Some(response) = answer.get("response").and_then(Value::as_object) else {
        return Err(unexpected(&answer));
    };
    let Some(status) = response
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
    else {
        return Err(unexpected(&answer));
    };
    let headers = match response.get("headers") {
        Some(Value::Object(headers)) => headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let body = match (response.get("body"), response.get("body_base64")) {
        (Some(Value::String(text)), _) => text.clone().into_bytes(),
        (_, Some(Value::String(encoded))) => {
            base64::decode(encoded).ok_or_else(|| Error::msg("http_request: the host's `body_base64` is not base64"))?
        }
        _ => Vec::new(),
    };
    let url = response
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Response {
        status,
        url,
        headers,
        body,
    })
}

/// Standard base64 with padding: the few lines this needs, rather than a
/// dependency in every plugin.
mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(super) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
        let text = text.trim_end_matches('=').as_bytes();
        if text.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        for chunk in text.chunks(4) {
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                let v = ALPHABET.iter().position(|&a| a == c)? as u32;
                n |= v << (18 - 6 * i);
            }
            out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn round_trips() {
            for (raw, encoded) in [
                (&b""[..], ""),
                (b"f", "Zg=="),
                (b"fo", "Zm8="),
                (b"foo", "Zm9v"),
                (b"foob", "Zm9vYg=="),
                (&[0, 159, 146, 150, 255], "AJ+Slv8="),
            ] {
                assert_eq!(super::encode(raw), encoded);
                assert_eq!(super::decode(encoded).as_deref(), Some(raw));
            }
            assert_eq!(super::decode("Zg"), Some(b"f".to_vec()));
            assert_eq!(super::decode("Z"), None);
            assert_eq!(super::decode("Zm9v!"), None);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing;

    #[test]
    fn requests_and_answers_travel_as_documented() {
        testing::on_http_request(|request| {
            assert_eq!(
                request,
                &json!({"method": "PUT", "url": "http://h:1/", "headers": {"a": "b"}, "body_base64": "AP8="})
            );
            json!({"status": "ok", "response": {"status": 500, "url": "http://h:1/",
                   "headers": {"X-A": "1"}, "body_base64": "AP8="}})
        });
        let response = Request::new("PUT", "http://h:1/")
            .header("a", "b")
            .body(vec![0, 255])
            .send()
            .unwrap();
        assert_eq!(response.status, 500);
        assert_eq!(response.body, [0, 255]);
        assert_eq!(response.header("x-a"), Some("1"));
        assert!(response.text().is_err());
        assert!(!response.is_success());

        testing::on_http_request(|_| json!({"status": "maybe"}));
        assert!(
            get("http://h:1/")
                .unwrap_err()
                .to_string()
                .contains("unexpected answer")
        );
        testing::on_http_request(|_| json!({"status": "error", "message": "refused", "denied": false}));
        assert_eq!(get("http://h:1/").unwrap_err().to_string(), "refused");
    }
}
