//! Redirects, followed by the host (never by the HTTP client) so that every
//! hop is checked: the next URL, and what of the request goes there.

use ureq::http;
use url::Url;

use super::Failure;
use super::endpoint::Endpoint;
use super::wire::{Request, parse_url};

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;

/// The only plugin headers that follow a redirect to another origin: the
/// CORS-safelisted ones, which describe the message and carry nothing secret.
/// Any other header may be a credential under a name of the service's own
/// (`x-api-key`), so it stays with the origin the plugin sent it to.
const CROSS_ORIGIN_HEADERS: &[&str] = &["accept", "accept-language", "content-language", "content-type"];

/// If a response with `status` and `location` is a redirect, turns `request`
/// into the next hop's request and answers the URL it came from; `None` for
/// a final response.
pub(super) fn follow(
    request: &mut Request,
    status: u16,
    location: Option<&http::HeaderValue>,
) -> Result<Option<Url>, Failure> {
    let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) else {
        return Ok(None);
    };
    let url = &request.url;
    let location = location
        .to_str()
        .map_err(|_| Failure::error(format!("{url} redirected to a location that is not text")))?;
    let next = url
        .join(location)
        .map_err(|e| Failure::error(format!("{url} redirected to `{location}`, not a URL: {e}")))
        .and_then(|next| parse_url(next.as_str()))?;
    // 303, and 301/302 after a POST, turn into a GET without a body (as browsers do).
    if status == 303 && request.method != http::Method::HEAD
        || matches!(status, 301 | 302) && request.method == http::Method::POST
    {
        request.method = http::Method::GET;
        request.body = None;
        request
            .headers
            .retain(|(name, _)| !name.as_str().starts_with("content-"));
    }
    if (url.scheme(), Endpoint::of_url(url)) != (next.scheme(), Endpoint::of_url(&next)) {
        request
            .headers
            .retain(|(name, _)| CROSS_ORIGIN_HEADERS.contains(&name.as_str()));
    }
    Ok(Some(std::mem::replace(&mut request.url, next)))
}
