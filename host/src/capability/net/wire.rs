//! The wire format of `http_request`: the request JSON a plugin sends, checked
//! into a [`Request`], and the answer JSON it receives (see [`super`] for both).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::json;
use ureq::http;
use url::Url;

use super::Failure;
use super::endpoint::Endpoint;

/// The largest request JSON this module reads, in bytes: the most any request
/// limit can name. The call's own limit (`Limits::request`, `--max-request`) is
/// applied before, where the request is copied out of the plugin's memory.
pub const MAX_REQUEST: usize = crate::call::MAX_SIZE as usize;
/// The longest URL, in bytes.
pub const MAX_URL: usize = 8 << 10;
/// The most request headers.
pub const MAX_HEADERS: usize = 64;

/// The methods a plugin may use.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Headers that describe the connection or the message framing: the host sets them.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The request JSON as a plugin writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpRequest {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

/// A well-formed request, as the next hop will send it (redirects rewrite it).
#[derive(Debug)]
pub(super) struct Request {
    /// The URL as the plugin wrote it, for messages about the whole exchange.
    pub written_url: String,
    pub method: http::Method,
    pub url: Url,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// Checks a plugin's request JSON of at most `max_request` bytes.
    pub(super) fn parse(bytes: &[u8], max_request: usize) -> Result<Request, Failure> {
        if bytes.len() > max_request {
            return Err(Failure::error(format!(
                "the http_request request is {} bytes, more than the limit of {max_request}",
                bytes.len()
            )));
        }
        let request: HttpRequest =
            serde_json::from_slice(bytes).map_err(|e| Failure::error(format!("invalid http_request request: {e}")))?;
        let method = parse_method(request.method.as_deref().unwrap_or("GET"))?;
        let headers = parse_headers(&request.headers)?;
        let body = match (request.body, request.body_base64) {
            (Some(_), Some(_)) => return Err(Failure::error("give `body` or `body_base64`, not both")),
            (Some(text), None) => Some(text.into_bytes()),
            (None, Some(b64)) => Some(
                BASE64
                    .decode(b64.trim())
                    .map_err(|e| Failure::error(format!("`body_base64` is not base64: {e}")))?,
            ),
            (None, None) => None,
        };
        let url = parse_url(&request.url)?;
        Ok(Request {
            written_url: request.url,
            method,
            url,
            headers,
            body,
        })
    }
}

fn parse_method(method: &str) -> Result<http::Method, Failure> {
    let upper = method.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(Failure::error(format!(
            "unsupported HTTP method `{}`: use one of {}",
            method.chars().take(32).collect::<String>(),
            METHODS.join(", ")
        )));
    }
    http::Method::from_bytes(upper.as_bytes()).map_err(|e| Failure::error(e.to_string()))
}

fn parse_headers(headers: &BTreeMap<String, String>) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, Failure> {
    if headers.len() > MAX_HEADERS {
        return Err(Failure::error(format!(
            "{} request headers, more than the limit of {MAX_HEADERS}",
            headers.len()
        )));
    }
    let mut parsed = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let shown = || name.chars().take(64).collect::<String>();
        let header = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Failure::error(format!("`{}` is not a valid header name", shown())))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(Failure::error(format!(
                "the header `{header}` is set by the host, not by plugins"
            )));
        }
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| Failure::error(format!("the value of header `{}` is not a valid header value", shown())))?;
        parsed.push((header, value));
    }
    Ok(parsed)
}

/// Checks a URL a plugin sent or a server redirected to: http or https, no
/// credentials, a usable host, at most [`MAX_URL`] bytes.
pub(super) fn parse_url(text: &str) -> Result<Url, Failure> {
    if text.len() > MAX_URL {
        return Err(Failure::error(format!(
            "the URL is {} bytes, more than the limit of {MAX_URL}",
            text.len()
        )));
    }
    let shown = || text.chars().take(200).collect::<String>();
    let url = Url::parse(text).map_err(|e| Failure::error(format!("`{}` is not a URL: {e}", shown())))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::error(format!(
            "`{}`: only http and https URLs are supported, not `{}`",
            shown(),
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Failure::error(format!(
            "`{}`: credentials in the URL are not supported; send an `authorization` header",
            shown()
        )));
    }
    if Endpoint::of_url(&url).is_none() {
        return Err(Failure::error(format!("`{}` has no usable host", shown())));
    }
    Ok(url)
}

/// The response a plugin receives.
#[derive(Debug, Serialize)]
pub(super) struct Response {
    status: u16,
    url: String,
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl Response {
    /// The final hop's response: header names lower case, a repeated header's
    /// values joined with `", "`, a body that is not UTF-8 in base64.
    pub(super) fn new(status: u16, url: &Url, headers: &http::HeaderMap, body: Vec<u8>) -> Response {
        let mut joined: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            joined
                .entry(name.as_str().to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let (body, body_base64) = match String::from_utf8(body) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(BASE64.encode(e.as_bytes()))),
        };
        Response {
            status,
            url: url.to_string(),
            headers: joined,
            body,
            body_base64,
        }
    }
}

/// The answer JSON for an exchange's outcome.
pub(super) fn answer(outcome: Result<Response, Failure>) -> Vec<u8> {
    let answer = match outcome {
        Ok(response) => json!({"status": "ok", "response": response}),
        Err(Failure { message, denied }) => json!({"status": "error", "message": message, "denied": denied}),
    };
    serde_json::to_vec(&answer)
        .unwrap_or_else(|_| br#"{"status":"error","message":"cannot encode the answer","denied":false}"#.to_vec())
}
