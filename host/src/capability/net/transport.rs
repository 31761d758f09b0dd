//! Transport: one HTTP request to the addresses the policy checked, with no
//! second lookup, no proxy and no redirect followed by the client.

use std::net::SocketAddr;
use std::time::Duration;

use ureq::http;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use url::Url;

use super::Failure;
use super::wire::Request;

/// The most addresses tried for one name.
pub(super) const MAX_ADDRS: usize = 16;
/// The largest response header section, in bytes.
const MAX_RESPONSE_HEADERS: usize = 64 << 10;

/// A resolver that answers the addresses checked for this hop, whatever ureq
/// asks: so the client connects where the check looked (no DNS rebinding
/// between check and connect).
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

/// Sends `request` to the checked addresses within `remaining`; redirects are
/// answered, not followed.
pub(super) fn send(
    request: &Request,
    addrs: Vec<SocketAddr>,
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
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    match &request.body {
        Some(body) => agent.run(builder.body(body.as_slice())?),
        None => agent.run(builder.body(())?),
    }
}

/// Reads a response body of at most `max_body` bytes (more is an error).
pub(super) fn read_body(response: &mut http::Response<ureq::Body>, max_body: usize) -> Result<Vec<u8>, ureq::Error> {
    response.body_mut().with_config().limit(max_body as u64).read_to_vec()
}

/// A client error as the guest sees it.
pub(super) fn failure(error: ureq::Error, url: &Url, timeout: Duration, max_body: usize) -> Failure {
    match error {
        ureq::Error::Timeout(_) => timed_out(timeout),
        ureq::Error::BodyExceedsLimit(_) => Failure::error(format!(
            "the response from {url} is larger than the limit of {max_body} bytes"
        )),
        ureq::Error::Io(e) => Failure::error(format!("{url}: {e}")),
        other => Failure::error(format!("{url}: {other}")),
    }
}

/// The exchange ran out of time.
pub(super) fn timed_out(timeout: Duration) -> Failure {
    Failure::error(format!("the HTTP exchange took longer than {timeout:?}"))
}
