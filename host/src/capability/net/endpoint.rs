//! The endpoint grammar: `host:port`, as grants (`allow_net`), `--deny-net`
//! rules, URLs and resolved addresses name a place to connect to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

/// A host and a port. Written `name:port` (case-insensitive, a trailing dot
/// ignored), `1.2.3.4:port` or `[v6]:port`; always with a port, never 0.
/// Two endpoints are equal when they name the same place: an IPv4-mapped IPv6
/// address equals its IPv4 address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Endpoint {
    /// The host: a name or an address.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

/// The host part of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A lower-case name without a trailing dot (resolved only when granted).
    Name(String),
    /// An address, as written.
    Ip(IpAddr),
}

impl Endpoint {
    /// The endpoint a URL connects to (its default port if it names none);
    /// `None` for a URL without a usable host.
    pub(super) fn of_url(url: &Url) -> Option<Endpoint> {
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

    /// A resolved address as an endpoint (an IPv4-mapped address as IPv4).
    pub(super) fn of_addr(addr: SocketAddr) -> Endpoint {
        Endpoint {
            host: Host::Ip(addr.ip().to_canonical()),
            port: addr.port(),
        }
    }

    /// Parses `host:port`; `None` if it is not one.
    fn parse(written: &str) -> Option<Endpoint> {
        let (host, port) = written.trim().rsplit_once(':')?;
        let host = host.trim();
        let host = match host.strip_prefix('[') {
            Some(v6) => Host::Ip(IpAddr::V6(v6.strip_suffix(']')?.parse().ok()?)),
            None => match host.parse::<Ipv4Addr>() {
                Ok(v4) => Host::Ip(IpAddr::V4(v4)),
                Err(_) => Host::Name(normal_name(host)?),
            },
        };
        let port = port.parse().ok().filter(|&port: &u16| port != 0)?;
        Some(Endpoint { host, port })
    }
}

impl FromStr for Endpoint {
    type Err = String;

    /// The one validator of `allow_net` entries and `--deny-net` rules, so
    /// that a typo is refused when it is written, not ignored when matched.
    fn from_str(written: &str) -> Result<Endpoint, String> {
        Endpoint::parse(written).ok_or_else(|| {
            format!("`{written}` is not host:port (e.g. api.example.com:443, 127.0.0.1:8080 or [::1]:8080)")
        })
    }
}

impl PartialEq for Endpoint {
    fn eq(&self, other: &Endpoint) -> bool {
        self.port == other.port
            && match (&self.host, &other.host) {
                (Host::Name(a), Host::Name(b)) => a == b,
                (Host::Ip(a), Host::Ip(b)) => a.to_canonical() == b.to_canonical(),
                _ => false,
            }
    }
}

impl Eq for Endpoint {}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Name(name) => write!(f, "{name}:{}", self.port),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}:{}", self.port),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
        }
    }
}

impl TryFrom<String> for Endpoint {
    type Error = String;

    fn try_from(written: String) -> Result<Endpoint, String> {
        written.parse()
    }
}

impl From<Endpoint> for String {
    fn from(endpoint: Endpoint) -> String {
        endpoint.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_in_one_normal_form() {
        let e = |s: &str| s.parse::<Endpoint>().unwrap().to_string();
        assert_eq!(e("Example.COM.:443"), "example.com:443");
        assert_eq!(e(" host :80"), "host:80");
        assert_eq!(e("a_b:1"), "a_b:1");
        assert_eq!(e("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(e("[0:0::1]:80"), "[::1]:80");
        assert_eq!(e("[::ffff:127.0.0.1]:80"), "[::ffff:127.0.0.1]:80");
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
            "[::1:80",
            "ho/st:80",
        ] {
            let error = bad.parse::<Endpoint>().unwrap_err();
            assert_eq!(
                error,
                format!("`{bad}` is not host:port (e.g. api.example.com:443, 127.0.0.1:8080 or [::1]:8080)")
            );
        }
    }

    #[test]
    fn equal_endpoints_name_the_same_place() {
        let e = |s: &str| s.parse::<Endpoint>().unwrap();
        assert_eq!(e("LOCALHOST:8080"), e("localhost.:8080"));
        assert_eq!(e("[::ffff:127.0.0.1]:9000"), e("127.0.0.1:9000"));
        assert_ne!(e("127.0.0.1:9000"), e("127.0.0.1:9001"));
        assert_ne!(e("localhost:80"), e("127.0.0.1:80"));
        let url = |s: &str| Endpoint::of_url(&Url::parse(s).unwrap()).unwrap();
        // The URL parser normalises other spellings of an IPv4 address.
        assert_eq!(url("http://2130706433:9000"), e("127.0.0.1:9000"));
        assert_eq!(url("http://0x7f.1:9000"), e("127.0.0.1:9000"));
        assert_eq!(url("http://[::ffff:127.0.0.1]:9000"), e("127.0.0.1:9000"));
        assert_eq!(url("http://LOCALHOST:8080/x"), e("localhost:8080"));
        // Default ports.
        assert_eq!(url("http://a.example/").port, 80);
        assert_eq!(url("https://a.example/").port, 443);
    }

    #[test]
    fn endpoints_travel_as_their_text() {
        let endpoint: Endpoint = "Example.com:443".parse().unwrap();
        assert_eq!(serde_json::to_string(&endpoint).unwrap(), r#""example.com:443""#);
        assert_eq!(
            serde_json::from_str::<Endpoint>(r#""example.com:443""#).unwrap(),
            endpoint
        );
        assert!(serde_json::from_str::<Endpoint>(r#""no-port""#).is_err());
    }
}
