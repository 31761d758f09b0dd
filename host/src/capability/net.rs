//! The network capability: `http_request`, checked against a plugin's `allow_net`.
//!
//! A plugin imports `wasmflow.http_request(ptr, len) -> i64` and passes one JSON
//! request; the host answers one JSON object (see [`crate::capability`] for how
//! the bytes travel). The guest SDK wraps this as `wasmflow_guest::http`, the
//! Python dialect as `http_request(url, method="GET", headers={}, body=None)`.
//!
//! # Request
//!
//! ```json
//! { "method": "POST",                       // optional, default "GET"
//!   "url": "http://127.0.0.1:8080/orders",  // http or https, no user:password@
//!   "headers": {"content-type": "application/json"},   // optional, name → value
//!   "body": "{\"id\": 1}" }                 // optional: UTF-8 text, or
//!                                           // "body_base64": "…" for any bytes
//! ```
//!
//! Methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. At most
//! [`MAX_HEADERS`] headers; the framing headers (`content-length`,
//! `transfer-encoding`, `connection`, …) are the host's to set. Unknown fields are
//! refused, so a typo does not silently send a different request.
//!
//! # Answer
//!
//! ```json
//! { "status": "ok",
//!   "response": { "status": 404,
//!                 "url": "http://127.0.0.1:8080/orders/1",  // after redirects
//!                 "headers": {"content-type": "text/plain"},
//!                 "body": "not found" } }
//! { "status": "error", "message": "denied: plugin `fetch` tried to reach …", "denied": true }
//! ```
//!
//! An HTTP error status (404, 500) is a successful exchange. A body that is valid
//! UTF-8 travels as text in `body`; any other body as standard base64 (with
//! padding) in `body_base64` instead. Header names are lower case; a repeated
//! header's values are joined with `", "`. `denied` is true when the grant
//! refused the request (the message then names the plugin, the URL and the
//! grant to add) and false for every other failure (bad request, connection
//! refused, timeout, body over the limit).
//!
//! # The rules
//!
//! Each request and each redirect hop (followed by the host, never by the HTTP
//! client, at most [`MAX_REDIRECTS`]) is checked, and every check is recorded:
//!
//! 1. The URL's `host:port` must be granted, written as in the URL: a name
//!    (`api.example.com:443`, case-insensitive), an IPv4 address
//!    (`127.0.0.1:8080`) or a bracketed IPv6 address (`[::1]:8080`). A URL
//!    without a port means 80 for `http` and 443 for `https`; a grant always has
//!    a port. The name is not resolved (no DNS query leaves) unless granted.
//! 2. The name is then resolved (within the time left), and every address it
//!    resolves to must be public, or be granted itself as `address:port`.
//!    Non-public: loopback, private (10/8, 172.16/12, 192.168/16), shared
//!    (100.64/10), link-local, unspecified, broadcast, multicast, documentation
//!    and reserved ranges, IPv6 unique-local and site-local, and every IPv6 form
//!    that embeds an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo).
//!    Addresses that fail are skipped; if none is left, the request is denied
//!    and the denial names the address to grant.
//! 3. An endpoint refused for the run (`--deny-net NAME=HOST:PORT`, kept in
//!    [`Grants::denied`]) is refused whatever grants it, whether it is the
//!    URL's `host:port` or an address the name resolves to.
//! 4. The connection goes to the checked addresses only: the HTTP client's name
//!    resolution is replaced by the list checked here (no second lookup, so no
//!    DNS rebinding between check and connect), and proxies from the
//!    environment are ignored.
//! 5. A redirect to another origin (scheme, host or port) carries only the
//!    CORS-safelisted headers (`accept`, `accept-language`, `content-language`,
//!    `content-type`) and those the host sets; the others (`authorization`,
//!    `cookie`, an `x-api-key`, …) stay with the origin the plugin sent them to.
//!    A 303, or a 301/302 after a POST, turns into a GET without body.
//!
//! So a service on this machine reached by name needs two grants, the name and
//! its address: `allow_net = ["localhost:8080", "127.0.0.1:8080"]` (`localhost`
//! also resolves to `::1`; without `[::1]:8080` that address is skipped). A
//! literal address needs one grant (`127.0.0.1:8080`).
//!
//! # Bounds
//!
//! The request JSON is at most [`MAX_REQUEST`] bytes and its URL
//! [`MAX_URL`] bytes; the response headers at most 64 KiB, the body at most
//! `max_body` bytes (more is an error, not a truncation); the whole exchange,
//! name resolution and redirects included, at most `timeout`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::json;
use ureq::http;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use url::Url;

use super::{Capability, Check, Grants};

/// The largest request JSON this module reads, in bytes: the most any request
/// limit can name. The call's own limit (`Limits::request`) is applied before.
pub const MAX_REQUEST: usize = crate::call::MAX_SIZE as usize;
/// The longest URL, in bytes.
pub const MAX_URL: usize = 8 << 10;
/// The most request headers.
pub const MAX_HEADERS: usize = 64;
/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;
/// The most addresses tried for one name.
const MAX_ADDRS: usize = 16;
/// The largest response header section, in bytes.
const MAX_RESPONSE_HEADERS: usize = 64 << 10;

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

/// The only plugin headers that follow a redirect to another origin: the
/// CORS-safelisted ones, which describe the message and carry nothing secret.
/// Any other header may be a credential under a name of the service's own
/// (`x-api-key`), so it stays with the origin the plugin sent it to.
const CROSS_ORIGIN_HEADERS: &[&str] = &["accept", "accept-language", "content-language", "content-type"];

/// Performs one HTTP request for a plugin, if its grants allow it, and answers
/// the JSON the guest receives. Every check (each redirect hop) is pushed to `checks`.
/// `timeout` bounds the whole exchange, `max_body` the response body.
pub fn http_request(
    plugin: &str,
    grants: &Grants,
    request: &[u8],
    timeout: Duration,
    max_body: usize,
    checks: &mut Vec<Check>,
) -> Vec<u8> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        exchange(plugin, grants, request, timeout, max_body, checks)
    }))
    .unwrap_or_else(|_| {
        Err(Failure::error(
            "http_request failed inside the host (a bug in wasmflow)",
        ))
    });
    let answer = match outcome {
        Ok(response) => json!({"status": "ok", "response": response}),
        Err(Failure { message, denied }) => json!({"status": "error", "message": message, "denied": denied}),
    };
    serde_json::to_vec(&answer)
        .unwrap_or_else(|_| br#"{"status":"error","message":"cannot encode the answer","denied":false}"#.to_vec())
}

/// Checks that `grant` is a well-formed `allow_net` entry (`host:port`), for the
/// manifest and the command line to refuse a typo up front.
pub fn validate_grant(grant: &str) -> Result<(), String> {
    Endpoint::parse(grant).map(|_| ()).ok_or_else(|| {
        format!(
            "`{grant}` is not a network grant: write `host:port`, e.g. `api.example.com:443`, `127.0.0.1:8080` or `[::1]:8080`"
        )
    })
}

/// Why an address is not public (`"loopback"`, `"private"`, …), or `None` for a
/// public address. Only public addresses are reachable through a granted name
/// without granting the address itself.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        (0, ..) => "unspecified (0.0.0.0/8)",
        (127, ..) => "loopback",
        (10, ..) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (100, 64..=127, _) => "shared (100.64.0.0/10)",
        (169, 254, _) => "link-local",
        (192, 0, 0) => "reserved (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        [0, 0, 0, 0, 0, 0xffff, ..] => "IPv4-mapped",
        [0, 0, 0, 0, 0, 0, ..] => "IPv4-compatible",
        [0x64, 0xff9b, ..] => "NAT64",
        [0x0100, 0, 0, 0, ..] => "discard",
        [0x2001, 0, ..] => "Teredo",
        [0x2001, 0x0db8, ..] => "documentation",
        [0x2002, ..] => "6to4",
        _ if s[0] & 0xfe00 == 0xfc00 => "unique-local",
        _ if s[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if s[0] & 0xffc0 == 0xfec0 => "site-local",
        _ if s[0] & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    })
}

/// A failed exchange: the message for the guest, and whether a grant refused it.
#[derive(Debug)]
struct Failure {
    message: String,
    denied: bool,
}

impl Failure {
    fn error(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            denied: false,
        }
    }
}

/// The request a plugin sends.
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

/// The response a plugin receives.
#[derive(Debug, Serialize)]
struct HttpResponse {
    status: u16,
    url: String,
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

/// A host and port, from a grant, a URL or a resolved address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: Host,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A lower-case name without a trailing dot.
    Name(String),
    Ip(IpAddr),
}

impl Endpoint {
    /// Parses a grant: `name:port`, `1.2.3.4:port` or `[v6]:port`.
    fn parse(grant: &str) -> Option<Endpoint> {
        let grant = grant.trim();
        let (host, port) = if let Some(rest) = grant.strip_prefix('[') {
            let (v6, port) = rest.split_once("]:")?;
            (Host::Ip(IpAddr::V6(v6.parse().ok()?)), port)
        } else {
            let (host, port) = grant.rsplit_once(':')?;
            let host = match host.parse::<Ipv4Addr>() {
                Ok(v4) => Host::Ip(IpAddr::V4(v4)),
                Err(_) => Host::Name(normal_name(host)?),
            };
            (host, port)
        };
        let port = port.parse().ok().filter(|&p: &u16| p != 0)?;
        Some(Endpoint { host, port })
    }

    fn of_url(url: &Url) -> Option<Endpoint> {
        let host = match url.host()? {
            url::Host::Domain(name) => Host::Name(normal_name(name)?),
            url::Host::Ipv4(v4) => Host::Ip(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Host::Ip(IpAddr::V6(v6)),
        };
        Some(Endpoint {
            host,
            port: url.port_or_known_default()?,
        })
    }

    fn of_addr(addr: SocketAddr) -> Endpoint {
        Endpoint {
            host: Host::Ip(addr.ip().to_canonical()),
            port: addr.port(),
        }
    }

    /// The first grant that names this endpoint.
    fn granted_by<'g>(&self, grants: &'g Grants) -> Option<&'g str> {
        grants
            .net
            .iter()
            .find(|grant| Endpoint::parse(grant).is_some_and(|g| g.same(self)))
            .map(String::as_str)
    }

    /// The `--deny-net` rule that names this endpoint, if any.
    fn denied_by<'g>(&self, grants: &'g Grants) -> Option<&'g str> {
        grants
            .denied_net()
            .find(|rule| Endpoint::parse(rule).is_some_and(|r| r.same(self)))
    }

    fn same(&self, other: &Endpoint) -> bool {
        self.port == other.port
            && match (&self.host, &other.host) {
                (Host::Name(a), Host::Name(b)) => a == b,
                (Host::Ip(a), Host::Ip(b)) => a.to_canonical() == b.to_canonical(),
                _ => false,
            }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Host::Name(name) => write!(f, "{name}:{}", self.port),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}:{}", self.port),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
        }
    }
}

/// A host name as compared: lower case, no trailing dot; `None` if it cannot be one.
fn normal_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    valid.then_some(name)
}

/// The whole exchange: parse, then check, send and follow redirects hop by hop.
fn exchange(
    plugin: &str,
    grants: &Grants,
    request: &[u8],
    timeout: Duration,
    max_body: usize,
    checks: &mut Vec<Check>,
) -> Result<HttpResponse, Failure> {
    let deadline = Instant::now().checked_add(timeout);
    if request.len() > MAX_REQUEST {
        return Err(Failure::error(format!(
            "the http_request request is {} bytes, more than the limit of {MAX_REQUEST}",
            request.len()
        )));
    }
    let request: HttpRequest =
        serde_json::from_slice(request).map_err(|e| Failure::error(format!("invalid http_request request: {e}")))?;
    let mut method = parse_method(request.method.as_deref().unwrap_or("GET"))?;
    let mut headers = parse_headers(&request.headers)?;
    let mut body = match (request.body, request.body_base64) {
        (Some(_), Some(_)) => return Err(Failure::error("give `body` or `body_base64`, not both")),
        (Some(text), None) => Some(text.into_bytes()),
        (None, Some(b64)) => Some(
            BASE64
                .decode(b64.trim())
                .map_err(|e| Failure::error(format!("`body_base64` is not base64: {e}")))?,
        ),
        (None, None) => None,
    };
    let mut url = parse_url(&request.url)?;
    let mut previous: Option<Url> = None;
    for _ in 0..=MAX_REDIRECTS {
        let addrs = check_hop(plugin, grants, &url, previous.as_ref(), deadline, checks)?;
        let remaining = time_left(deadline).ok_or_else(|| timed_out(timeout))?;
        let mut response = send(&url, addrs, &method, &headers, body.as_deref(), remaining)
            .map_err(|e| failure(e, &url, timeout, max_body))?;
        let status = response.status().as_u16();
        let location = response.headers().get(http::header::LOCATION).cloned();
        if let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) {
            let location = location
                .to_str()
                .map_err(|_| Failure::error(format!("{url} redirected to a location that is not text")))?;
            let next = url
                .join(location)
                .map_err(|e| Failure::error(format!("{url} redirected to `{location}`, not a URL: {e}")))
                .and_then(|next| parse_url(next.as_str()))?;
            // 303, and 301/302 after a POST, turn into a GET without a body (as browsers do).
            if status == 303 && method != http::Method::HEAD
                || matches!(status, 301 | 302) && method == http::Method::POST
            {
                method = http::Method::GET;
                body = None;
                headers.retain(|(name, _)| !name.as_str().starts_with("content-"));
            }
            if (url.scheme(), Endpoint::of_url(&url)) != (next.scheme(), Endpoint::of_url(&next)) {
                headers.retain(|(name, _)| CROSS_ORIGIN_HEADERS.contains(&name.as_str()));
            }
            previous = Some(std::mem::replace(&mut url, next));
            continue;
        }
        let mut response_headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            response_headers
                .entry(name.as_str().to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let bytes = response
            .body_mut()
            .with_config()
            .limit(max_body as u64)
            .read_to_vec()
            .map_err(|e| failure(e, &url, timeout, max_body))?;
        let (body, body_base64) = match String::from_utf8(bytes) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(BASE64.encode(e.as_bytes()))),
        };
        return Ok(HttpResponse {
            status,
            url: url.to_string(),
            headers: response_headers,
            body,
            body_base64,
        });
    }
    Err(Failure::error(format!(
        "{}: more than {MAX_REDIRECTS} redirects",
        request.url
    )))
}

fn parse_method(method: &str) -> Result<http::Method, Failure> {
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
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

fn parse_url(text: &str) -> Result<Url, Failure> {
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

/// Checks one hop against the grants and answers the addresses to connect to.
fn check_hop(
    plugin: &str,
    grants: &Grants,
    url: &Url,
    previous: Option<&Url>,
    deadline: Option<Instant>,
    checks: &mut Vec<Check>,
) -> Result<Vec<SocketAddr>, Failure> {
    // parse_url made sure there is one.
    let endpoint = Endpoint::of_url(url).ok_or_else(|| Failure::error(format!("{url} has no usable host")))?;
    let target = url.to_string();
    let redirected = previous.map(|p| format!(" (a redirect from {p})")).unwrap_or_default();
    let deny = |checks: &mut Vec<Check>, why: String, remedy: String| {
        let check = Check::denied(plugin, Capability::Net, &target, why, remedy);
        let message = check.describe();
        checks.push(check);
        Failure { message, denied: true }
    };
    // An explicit `--deny-net` wins over any grant; granting does not help then.
    let refuse = |checks: &mut Vec<Check>, why: String| {
        let check = Check::refused(plugin, Capability::Net, target.clone(), why);
        let message = check.describe();
        checks.push(check);
        Failure { message, denied: true }
    };
    if let Some(rule) = endpoint.denied_by(grants) {
        let why = format!("`{endpoint}`{redirected} is refused by `--deny-net {plugin}={rule}` for this run");
        return Err(refuse(checks, why));
    }
    let Some(grant) = endpoint.granted_by(grants) else {
        let why = format!("`{endpoint}`{redirected} is not in its network grant");
        return Err(deny(checks, why, endpoint.to_string()));
    };
    let addrs = match &endpoint.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, endpoint.port)],
        Host::Name(name) => resolve(name, endpoint.port, deadline)?,
    };
    let mut allowed = Vec::new();
    // Skipped addresses, why, and whether only a `--deny-net` refused them.
    let mut skipped: Vec<(Endpoint, String, bool)> = Vec::new();
    for addr in addrs {
        let address = Endpoint::of_addr(addr);
        if let Some(rule) = address.denied_by(grants) {
            skipped.push((address, format!("refused by `--deny-net {plugin}={rule}`"), true));
            continue;
        }
        match non_public(addr.ip()) {
            Some(kind) if address.granted_by(grants).is_none() => {
                skipped.push((address, format!("{kind}, not granted"), false));
            }
            _ => allowed.push(addr),
        }
    }
    let skipped_text = skipped
        .iter()
        .map(|(address, why, _)| format!("{address} ({why})"))
        .collect::<Vec<_>>()
        .join(", ");
    if allowed.is_empty() {
        let why = format!("`{endpoint}`{redirected} is granted (`{grant}`) but resolves to {skipped_text}");
        return Err(match skipped.iter().find(|(_, _, explicit)| !explicit) {
            Some((first, _, _)) => deny(
                checks,
                format!("{why}: a name's non-public addresses must be granted too"),
                first.to_string(),
            ),
            None if skipped.is_empty() => Failure::error(format!("`{endpoint}` resolves to no address")),
            None => refuse(checks, why),
        });
    }
    allowed.truncate(MAX_ADDRS);
    let mut detail = format!("granted by `{grant}`");
    if matches!(endpoint.host, Host::Name(_)) {
        let to = allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        detail.push_str(&format!("; connecting to {to}"));
        if !skipped.is_empty() {
            detail.push_str(&format!("; skipped {skipped_text}"));
        }
    }
    checks.push(Check::allowed(plugin, Capability::Net, target, detail));
    Ok(allowed)
}

/// Resolves `name` with the system resolver, giving up at the deadline (the
/// lookup thread is then left to finish on its own).
fn resolve(name: &str, port: u16, deadline: Option<Instant>) -> Result<Vec<SocketAddr>, Failure> {
    let cannot = |why: String| Failure::error(format!("cannot resolve `{name}`: {why}"));
    let remaining = time_left(deadline).ok_or_else(|| cannot("no time left".into()))?;
    let (tx, rx) = mpsc::sync_channel(1);
    let query = (name.to_owned(), port);
    std::thread::Builder::new()
        .name("wasmflow-resolve".into())
        .spawn(move || {
            let result = query.to_socket_addrs().map(|addrs| addrs.take(64).collect::<Vec<_>>());
            let _ = tx.send(result);
        })
        .map_err(|e| cannot(format!("cannot start the lookup: {e}")))?;
    match rx.recv_timeout(remaining) {
        Ok(Ok(addrs)) if addrs.is_empty() => Err(cannot("no address".into())),
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(cannot(e.to_string())),
        Err(_) => Err(cannot(format!("no answer within {remaining:?}"))),
    }
}

fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(Duration::from_secs(u64::from(u32::MAX))),
        Some(deadline) => deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()),
    }
}

fn timed_out(timeout: Duration) -> Failure {
    Failure::error(format!("the HTTP exchange took longer than {timeout:?}"))
}

/// A resolver that answers the addresses checked for this hop, whatever ureq asks.
#[derive(Debug)]
struct Checked {
    addrs: Vec<SocketAddr>,
}

impl Resolver for Checked {
    fn resolve(
        &self,
        _uri: &http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        for addr in self.addrs.iter().take(MAX_ADDRS) {
            out.push(*addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// Sends one request to the checked addresses; redirects are not followed.
fn send(
    url: &Url,
    addrs: Vec<SocketAddr>,
    method: &http::Method,
    headers: &[(http::HeaderName, http::HeaderValue)],
    body: Option<&[u8]>,
    remaining: Duration,
) -> Result<http::Response<ureq::Body>, ureq::Error> {
    let config = ureq::Agent::config_builder()
        .proxy(None)
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(remaining))
        .max_response_header_size(MAX_RESPONSE_HEADERS)
        .max_idle_connections(0)
        .user_agent("wasmflow")
        .build();
    let agent = ureq::Agent::with_parts(config, DefaultConnector::new(), Checked { addrs });
    let mut builder = http::Request::builder().method(method.clone()).uri(url.as_str());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    match body {
        Some(body) => agent.run(builder.body(body)?),
        None => agent.run(builder.body(())?),
    }
}

/// A client error as the guest sees it.
fn failure(error: ureq::Error, url: &Url, timeout: Duration, max_body: usize) -> Failure {
    match error {
        ureq::Error::Timeout(_) => timed_out(timeout),
        ureq::Error::BodyExceedsLimit(_) => Failure::error(format!(
            "the response from {url} is larger than the limit of {max_body} bytes"
        )),
        ureq::Error::Io(e) => Failure::error(format!("{url}: {e}")),
        other => Failure::error(format!("{url}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn grants(net: &[&str]) -> Grants {
        Grants {
            net: net.iter().map(|s| s.to_string()).collect(),
            ..Grants::none()
        }
    }

    fn call(net: &[&str], request: &[u8]) -> (Value, Vec<Check>) {
        let mut checks = Vec::new();
        let answer = http_request(
            "fetch",
            &grants(net),
            request,
            Duration::from_secs(5),
            1 << 20,
            &mut checks,
        );
        (serde_json::from_slice(&answer).expect("the answer is JSON"), checks)
    }

    #[test]
    fn address_rules() {
        for (ip, kind) in [
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("100.64.0.1", Some("shared (100.64.0.0/10)")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("reserved")),
            ("172.32.0.1", None),
            ("172.15.0.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("::ffff:127.0.0.1", Some("IPv4-mapped")),
            ("::ffff:8.8.8.8", Some("IPv4-mapped")),
            ("::127.0.0.1", Some("IPv4-compatible")),
            ("64:ff9b::a00:1", Some("NAT64")),
            ("2002:7f00:1::", Some("6to4")),
            ("fc00::1", Some("unique-local")),
            ("fd12:3456::1", Some("unique-local")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("2606:4700:4700::1111", None),
        ] {
            assert_eq!(non_public(ip.parse().unwrap()), kind, "{ip}");
        }
    }

    #[test]
    fn grants_parse_and_match() {
        let e = |s: &str| Endpoint::parse(s);
        assert_eq!(e("Example.COM.:443").unwrap().to_string(), "example.com:443");
        assert_eq!(e("127.0.0.1:8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(e("[0:0::1]:80").unwrap().to_string(), "[::1]:80");
        for bad in [
            "",
            "host",
            "host:",
            ":80",
            "host:0",
            "host:65536",
            "[::1]",
            "::1:80",
            "a b:80",
            "h:80x",
            "[x]:1",
        ] {
            assert!(e(bad).is_none(), "{bad}");
            assert!(validate_grant(bad).is_err(), "{bad}");
        }
        let g = grants(&["localhost:8080", "127.0.0.1:9000", "[::1]:7000"]);
        let url = |s: &str| Endpoint::of_url(&Url::parse(s).unwrap()).unwrap();
        assert_eq!(url("http://LOCALHOST:8080/x").granted_by(&g), Some("localhost:8080"));
        assert_eq!(url("http://localhost./").granted_by(&g), None);
        assert_eq!(url("http://127.0.0.1:9000").granted_by(&g), Some("127.0.0.1:9000"));
        // The URL parser normalises other spellings of an IPv4 address.
        assert_eq!(url("http://2130706433:9000").granted_by(&g), Some("127.0.0.1:9000"));
        assert_eq!(url("http://0x7f.1:9000").granted_by(&g), Some("127.0.0.1:9000"));
        assert_eq!(url("http://[::1]:7000").granted_by(&g), Some("[::1]:7000"));
        assert_eq!(
            url("http://[::ffff:127.0.0.1]:9000").granted_by(&g),
            Some("127.0.0.1:9000")
        );
        assert_eq!(url("http://127.0.0.1:9001").granted_by(&g), None);
        // Default ports.
        assert_eq!(url("http://a.example/").port, 80);
        assert_eq!(url("https://a.example/").port, 443);
    }

    #[test]
    fn ungranted_hosts_are_denied_without_a_lookup() {
        let (answer, checks) = call(&["127.0.0.1:1"], br#"{"url":"http://no-such-host.invalid:81/x"}"#);
        assert_eq!(answer["status"], "error");
        assert_eq!(answer["denied"], true);
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains("plugin `fetch`"), "{message}");
        assert!(message.contains("http://no-such-host.invalid:81/x"), "{message}");
        assert!(
            message.contains("--allow-net fetch=no-such-host.invalid:81"),
            "{message}"
        );
        assert!(
            message.contains(r#"allow_net = ["no-such-host.invalid:81"]"#),
            "{message}"
        );
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].allowed);
    }

    #[test]
    fn a_name_resolving_to_loopback_needs_the_address_granted() {
        let (answer, checks) = call(&["localhost:9"], br#"{"url":"http://localhost:9/"}"#);
        assert_eq!(answer["denied"], true, "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains("loopback"), "{message}");
        assert!(
            message.contains("--allow-net fetch=127.0.0.1:9") || message.contains("--allow-net fetch=[::1]:9"),
            "{message}"
        );
        assert!(!checks[0].allowed);
    }

    #[test]
    fn deny_net_wins_over_grants() {
        let mut g = grants(&["localhost:9", "127.0.0.1:9", "[::1]:9"]);
        g.denied = vec!["LOCALHOST:9 (--deny-net)".into()];
        let mut checks = Vec::new();
        let answer = http_request(
            "fetch",
            &g,
            br#"{"url":"http://localhost:9/"}"#,
            Duration::from_secs(5),
            64,
            &mut checks,
        );
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["denied"], true, "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("--deny-net fetch=LOCALHOST:9"),
            "{answer}"
        );
        // Every address the name resolves to refused: refused, with no grant to suggest.
        g.denied = vec!["127.0.0.1:9 (--deny-net)".into(), "[0::1]:9 (--deny-net)".into()];
        let answer = http_request(
            "fetch",
            &g,
            br#"{"url":"http://localhost:9/"}"#,
            Duration::from_secs(5),
            64,
            &mut checks,
        );
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("refused by `--deny-net fetch=127.0.0.1:9`"),
            "{message}"
        );
        assert!(!message.contains("to allow it"), "{message}");
        let answer = http_request(
            "fetch",
            &g,
            br#"{"url":"http://127.0.0.1:9/"}"#,
            Duration::from_secs(5),
            64,
            &mut checks,
        );
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["denied"], true, "{answer}");
        assert_eq!(checks.iter().filter(|c| c.allowed).count(), 0);
    }

    #[test]
    fn malformed_requests_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"null",
            b"[]",
            b"{}",
            br#"{"url":1}"#,
            br#"{"url":"nope"}"#,
            br#"{"url":"ftp://127.0.0.1:21/"}"#,
            br#"{"url":"file:///etc/passwd"}"#,
            br#"{"url":"http://user:pw@127.0.0.1:1/"}"#,
            br#"{"url":"http://127.0.0.1:1/","method":"CONNECT"}"#,
            br#"{"url":"http://127.0.0.1:1/","method":"G ET"}"#,
            br#"{"url":"http://127.0.0.1:1/","headers":{"bad name":"x"}}"#,
            br#"{"url":"http://127.0.0.1:1/","headers":{"x":"a\nb"}}"#,
            br#"{"url":"http://127.0.0.1:1/","headers":{"content-length":"5"}}"#,
            br#"{"url":"http://127.0.0.1:1/","body":"a","body_base64":"YQ=="}"#,
            br#"{"url":"http://127.0.0.1:1/","body_base64":"***"}"#,
            br#"{"url":"http://127.0.0.1:1/","extra":true}"#,
            br#"{"url":"http://[::1"}"#,
            br#"{"url":"http://:80/"}"#,
        ];
        for case in cases {
            let (answer, checks) = call(&["127.0.0.1:1"], case);
            assert_eq!(answer["status"], "error", "{}", String::from_utf8_lossy(case));
            assert_eq!(answer["denied"], false, "{answer}");
            assert!(checks.is_empty(), "{}", String::from_utf8_lossy(case));
        }
        let long = format!(r#"{{"url":"http://127.0.0.1:1/{}"}}"#, "a".repeat(MAX_URL));
        assert_eq!(call(&[], long.as_bytes()).0["status"], "error");
        let many: BTreeMap<String, String> = (0..=MAX_HEADERS).map(|i| (format!("h{i}"), "v".into())).collect();
        let request = serde_json::to_vec(&json!({"url": "http://127.0.0.1:1/", "headers": many})).unwrap();
        assert!(
            call(&["127.0.0.1:1"], &request).0["message"]
                .as_str()
                .unwrap()
                .contains("headers")
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(call(&[], deep.as_bytes()).0["status"], "error");
    }

    #[test]
    fn fuzzish_inputs_never_panic() {
        // A small deterministic generator: mutations of valid requests.
        let seeds: &[&[u8]] = &[
            br#"{"method":"POST","url":"http://127.0.0.1:1/a?b#c","headers":{"accept":"*/*"},"body":"x"}"#,
            br#"{"url":"https://[::1]:1/","body_base64":"AAEC"}"#,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let seed = seeds[(next() % seeds.len() as u64) as usize];
            let mut bytes = seed.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => {
                        const BYTES: &[u8] = b"{}[]\":\\/@%\x00\xff";
                        bytes.insert(at, BYTES[(next() % BYTES.len() as u64) as usize]);
                    }
                }
            }
            let mut checks = Vec::new();
            let answer = http_request(
                "fuzz",
                // Only loopback endpoints: a mutation never reaches anything else.
                &grants(&["127.0.0.1:1", "[::1]:1"]),
                &bytes,
                Duration::from_millis(200),
                16,
                &mut checks,
            );
            let answer: Value = serde_json::from_slice(&answer).expect("JSON");
            assert!(matches!(answer["status"].as_str(), Some("ok" | "error")), "{answer}");
        }
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1 for these tests, stopped when dropped.
    struct Server {
        port: u16,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Server {
        fn start() -> Server {
            use std::sync::atomic::Ordering;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let port = listener.local_addr().unwrap().port();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            let thread = std::thread::spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let flag = flag.clone();
                            std::thread::spawn(move || serve(stream, port, &flag));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
            Server {
                port,
                stop,
                thread: Some(thread),
            }
        }

        fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}{path}", self.port)
        }

        fn grant(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn serve(mut stream: std::net::TcpStream, port: u16, stop: &std::sync::atomic::AtomicBool) {
        use std::io::{Read, Write};
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0usize);
        while buf.len() < head_end + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end..head_end + length].to_vec();
        let mut words = head.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let reply = |status: &str, headers: &str, body: &[u8]| {
            let mut out = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(body);
            out
        };
        let out = match path {
            "/json" => reply("200 OK", "content-type: application/json\r\n", br#"{"hello":"world"}"#),
            "/echo" => {
                let auth = head
                    .lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
                let text = format!("{method} {} auth={auth}", String::from_utf8_lossy(&body));
                reply("200 OK", "x-multi: a\r\nx-multi: b\r\n", text.as_bytes())
            }
            "/missing" => reply("404 Not Found", "", b"no such thing"),
            "/binary" => reply("200 OK", "", &[0, 159, 146, 150, 255]),
            "/big" => reply("200 OK", "", &vec![b'x'; 4096]),
            "/slow" => {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            }
            "/loop" => reply("302 Found", "location: /loop\r\n", b""),
            "/to-echo" => reply("307 Temporary Redirect", "location: /echo\r\n", b""),
            "/see-other" => reply("303 See Other", "location: /echo\r\n", b""),
            "/elsewhere" => reply("302 Found", &format!("location: http://127.0.0.2:{port}/json\r\n"), b""),
            "/to-localhost" => reply("302 Found", &format!("location: http://localhost:{port}/json\r\n"), b""),
            _ => reply("500 Internal Server Error", "", b"unknown path"),
        };
        let _ = stream.write_all(&out);
    }

    fn live(net: &[&str], request: Value, timeout: Duration, max_body: usize) -> (Value, Vec<Check>) {
        let mut checks = Vec::new();
        let bytes = serde_json::to_vec(&request).unwrap();
        let answer = http_request("fetch", &grants(net), &bytes, timeout, max_body, &mut checks);
        (serde_json::from_slice(&answer).unwrap(), checks)
    }

    #[test]
    fn granted_requests_go_through() {
        let server = Server::start();
        let g = [server.grant()];
        let g: Vec<&str> = g.iter().map(String::as_str).collect();
        let second = Duration::from_secs(5);
        let (answer, checks) = live(&g, json!({"url": server.url("/json")}), second, 1 << 20);
        assert_eq!(answer["status"], "ok", "{answer}");
        assert_eq!(answer["response"]["status"], 200);
        assert_eq!(answer["response"]["body"], r#"{"hello":"world"}"#);
        assert_eq!(answer["response"]["headers"]["content-type"], "application/json");
        assert_eq!(checks.len(), 1);
        assert!(
            checks[0].allowed && checks[0].detail.contains(&server.grant()),
            "{checks:?}"
        );

        // Error statuses are answers; repeated headers are joined.
        let (answer, _) = live(&g, json!({"url": server.url("/missing")}), second, 1 << 20);
        assert_eq!(answer["response"]["status"], 404, "{answer}");
        assert_eq!(answer["response"]["body"], "no such thing");
        let request = json!({"method": "post", "url": server.url("/echo"), "body": "hi",
                             "headers": {"Authorization": "secret"}});
        let (answer, _) = live(&g, request, second, 1 << 20);
        assert_eq!(answer["response"]["body"], "POST hi auth=true", "{answer}");
        assert_eq!(answer["response"]["headers"]["x-multi"], "a, b");

        // Bytes that are not UTF-8 travel as base64, both ways.
        let (answer, _) = live(&g, json!({"url": server.url("/binary")}), second, 1 << 20);
        assert_eq!(answer["response"]["body_base64"], "AJ+Slv8=", "{answer}");
        assert!(answer["response"].get("body").is_none());
        let request = json!({"method": "PUT", "url": server.url("/echo"), "body_base64": "aGk="});
        assert_eq!(
            live(&g, request, second, 1 << 20).0["response"]["body"],
            "PUT hi auth=false"
        );

        // Redirects on the same granted endpoint are followed, each hop checked.
        let request = json!({"method": "POST", "url": server.url("/to-echo"), "body": "again"});
        let (answer, checks) = live(&g, request, second, 1 << 20);
        assert_eq!(answer["response"]["body"], "POST again auth=false", "{answer}");
        assert_eq!(answer["response"]["url"], server.url("/echo"));
        assert_eq!(checks.len(), 2);
        let request = json!({"method": "POST", "url": server.url("/see-other"), "body": "dropped"});
        assert_eq!(
            live(&g, request, second, 1 << 20).0["response"]["body"],
            "GET  auth=false"
        );
    }

    #[test]
    fn denials_and_limits() {
        let server = Server::start();
        let grant = server.grant();
        let g = [grant.as_str()];
        let second = Duration::from_secs(5);

        // Another port, another host.
        let other_port = format!("http://127.0.0.1:{}/json", server.port.wrapping_add(1).max(1));
        let (answer, _) = live(&g, json!({"url": other_port}), second, 1 << 20);
        assert_eq!(answer["denied"], true, "{answer}");
        let (answer, _) = live(
            &g,
            json!({"url": format!("http://127.0.0.2:{}/json", server.port)}),
            second,
            1 << 20,
        );
        assert_eq!(answer["denied"], true, "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains(&format!("--allow-net fetch=127.0.0.2:{}", server.port))
        );

        // A redirect to an ungranted host: the first hop is allowed, the second denied.
        let (answer, checks) = live(&g, json!({"url": server.url("/elsewhere")}), second, 1 << 20);
        assert_eq!(answer["denied"], true, "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("a redirect from") && message.contains("127.0.0.2"),
            "{message}"
        );
        assert_eq!(checks.iter().map(|c| c.allowed).collect::<Vec<_>>(), [true, false]);

        // A granted name resolving to an ungranted loopback address; granting it allows it.
        let by_name = format!("localhost:{}", server.port);
        let (answer, _) = live(
            &[&grant, &by_name],
            json!({"url": server.url("/to-localhost")}),
            second,
            1 << 20,
        );
        assert_eq!(answer["status"], "ok", "{answer}");
        let (answer, _) = live(
            &[&by_name],
            json!({"url": format!("http://{by_name}/json")}),
            second,
            1 << 20,
        );
        assert_eq!(answer["denied"], true, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("loopback"), "{answer}");

        // Limits: body size, redirects, time.
        let (answer, _) = live(&g, json!({"url": server.url("/big")}), second, 1000);
        assert_eq!(answer["denied"], false, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("limit of 1000 bytes"),
            "{answer}"
        );
        let (answer, checks) = live(&g, json!({"url": server.url("/loop")}), second, 1 << 20);
        assert!(
            answer["message"].as_str().unwrap().contains("more than 10 redirects"),
            "{answer}"
        );
        assert_eq!(checks.len(), MAX_REDIRECTS + 1);
        let started = Instant::now();
        let (answer, _) = live(
            &g,
            json!({"url": server.url("/slow")}),
            Duration::from_millis(300),
            1 << 20,
        );
        assert!(
            answer["message"].as_str().unwrap().contains("longer than 300ms"),
            "{answer}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    }
}
