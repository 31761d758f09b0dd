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
//!    Non-public ([`address`]): every block the IANA special-purpose address
//!    registries mark not globally reachable (loopback, private 10/8,
//!    172.16/12 and 192.168/16, shared 100.64/10, link-local, unspecified,
//!    broadcast, documentation, benchmarking, ORCHID, IPv6 unique-local, the
//!    reserved blocks), multicast, IPv6 site-local, and every IPv6 form that
//!    embeds an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo).
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

//!
//! # Modules
//!
//! [`wire`] the request and answer JSON; [`endpoint`] the `host:port` grammar
//! of grants, rules and URLs; [`address`] which addresses are public;
//! `policy` one hop against the grants; `resolve` name resolution; `transport`
//! one request to the checked addresses; [`redirect`] the next hop.

pub mod address;
pub mod endpoint;
mod policy;
pub mod redirect;
mod resolve;
mod transport;
pub mod wire;

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use ureq::http;

pub use address::non_public;
pub use endpoint::{Endpoint, Host};
pub use redirect::MAX_REDIRECTS;
pub use wire::{MAX_HEADERS, MAX_REQUEST, MAX_URL};

use super::{Check, Grants};
use resolve::time_left;
use wire::{Request, Response};

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
    .unwrap_or_else(|_| Err(Failure::error(PANICKED)));
    wire::answer(outcome)
}

/// The message of an exchange that panicked.
const PANICKED: &str = "http_request failed inside the host (a bug in wasmflow)";

/// A failed exchange: the message for the guest, and whether a grant refused it.
#[derive(Debug)]
struct Failure {
    message: String,
    denied: bool,
}

impl Failure {
    /// A failure no grant would lift (a bad request, a network error).
    fn error(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            denied: false,
        }
    }
}

/// The whole exchange: parse the request, then check, send and follow
/// redirects hop by hop. Tests call it directly, so that a panic fails them
/// rather than becoming an error answer.
fn exchange(
    plugin: &str,
    grants: &Grants,
    request: &[u8],
    timeout: Duration,
    max_body: usize,
    checks: &mut Vec<Check>,
) -> Result<Response, Failure> {
    let deadline = Instant::now().checked_add(timeout);
    let mut request = Request::parse(request, MAX_REQUEST)?;
    let mut previous: Option<url::Url> = None;
    for _ in 0..=MAX_REDIRECTS {
        let addrs = policy::check_hop(plugin, grants, &request.url, previous.as_ref(), deadline, checks)?;
        let remaining = time_left(deadline).ok_or_else(|| transport::timed_out(timeout))?;
        let failure = |e, url: &url::Url| transport::failure(e, url, timeout, max_body);
        let mut response = transport::send(&request, addrs, remaining).map_err(|e| failure(e, &request.url))?;
        let status = response.status().as_u16();
        if let Some(from) = redirect::follow(&mut request, status, response.headers().get(http::header::LOCATION))? {
            previous = Some(from);
            continue;
        }
        let body = transport::read_body(&mut response, max_body).map_err(|e| failure(e, &request.url))?;
        return Ok(Response::new(status, &request.url, response.headers(), body));
    }
    Err(Failure::error(format!(
        "{}: more than {MAX_REDIRECTS} redirects",
        request.written_url
    )))
}
