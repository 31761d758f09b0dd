//! The per-hop policy: one URL against a plugin's grants and `--deny-net`
//! rules, then the addresses its name resolves to against the address policy.
//! Every hop becomes one [`Check`].

use std::net::SocketAddr;
use std::time::Instant;

use url::Url;

use super::Failure;
use super::address::non_public;
use super::endpoint::{Endpoint, Host};
use super::resolve::resolve;
use super::transport::MAX_ADDRS;
use crate::capability::{Capability, Check, Grants};

/// An address left out of a hop, and why.
#[derive(Debug)]
struct Skipped {
    address: Endpoint,
    why: String,
    /// Only a `--deny-net` rule refused it (no grant would help).
    refused: bool,
}

/// Checks one hop against the grants and answers the addresses to connect to.
/// `previous` is the URL that redirected here, if any.
pub(super) fn check_hop(
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
    if let Some(rule) = denied_by(&endpoint, grants) {
        let why = format!("`{endpoint}`{redirected} is refused by `--deny-net {plugin}={rule}` for this run");
        return Err(refuse(checks, why));
    }
    let Some(grant) = granted_by(&endpoint, grants) else {
        let why = format!("`{endpoint}`{redirected} is not in its network grant");
        return Err(deny(checks, why, endpoint.to_string()));
    };
    let addrs = match &endpoint.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, endpoint.port)],
        Host::Name(name) => resolve(name, endpoint.port, deadline)?,
    };
    let (mut allowed, skipped) = screen(plugin, grants, addrs);
    let skipped_text = skipped
        .iter()
        .map(|s| format!("{} ({})", s.address, s.why))
        .collect::<Vec<_>>()
        .join(", ");
    if allowed.is_empty() {
        let why = format!("`{endpoint}`{redirected} is granted (`{grant}`) but resolves to {skipped_text}");
        return Err(match skipped.iter().find(|s| !s.refused) {
            Some(first) => deny(
                checks,
                format!("{why}: a name's non-public addresses must be granted too"),
                first.address.to_string(),
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

/// Splits a name's addresses into those it may connect to (public or granted,
/// and not refused by `--deny-net`) and those skipped.
fn screen(plugin: &str, grants: &Grants, addrs: Vec<SocketAddr>) -> (Vec<SocketAddr>, Vec<Skipped>) {
    let mut allowed = Vec::new();
    let mut skipped = Vec::new();
    for addr in addrs {
        let address = Endpoint::of_addr(addr);
        if let Some(rule) = denied_by(&address, grants) {
            let why = format!("refused by `--deny-net {plugin}={rule}`");
            skipped.push(Skipped {
                address,
                why,
                refused: true,
            });
            continue;
        }
        match non_public(addr.ip()) {
            Some(kind) if granted_by(&address, grants).is_none() => skipped.push(Skipped {
                address,
                why: format!("{kind}, not granted"),
                refused: false,
            }),
            _ => allowed.push(addr),
        }
    }
    (allowed, skipped)
}

/// The first grant that names `endpoint`.
fn granted_by<'g>(endpoint: &Endpoint, grants: &'g Grants) -> Option<&'g Endpoint> {
    grants.net.iter().find(|grant| *grant == endpoint)
}

/// The `--deny-net` rule that names `endpoint`, if any.
fn denied_by<'g>(endpoint: &Endpoint, grants: &'g Grants) -> Option<&'g Endpoint> {
    grants.denied_net().find(|rule| *rule == endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(net: &[&str]) -> Grants {
        let mut grants = Grants::none();
        for endpoint in net {
            grants.allow_net(endpoint).unwrap();
        }
        grants
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn skipped_text(skipped: &[Skipped]) -> Vec<String> {
        skipped.iter().map(|s| format!("{} ({})", s.address, s.why)).collect()
    }

    #[test]
    fn a_names_non_public_addresses_are_skipped_unless_granted() {
        let resolved = addrs(&[
            "[2001:2::1]:443",
            "[3fff::1]:443",
            "192.88.99.1:443",
            "93.184.216.34:443",
        ]);
        let (allowed, skipped) = screen("fetch", &grants(&["example.com:443"]), resolved.clone());
        assert_eq!(allowed, addrs(&["93.184.216.34:443"]));
        assert_eq!(
            skipped_text(&skipped),
            [
                "[2001:2::1]:443 (benchmarking, not granted)",
                "[3fff::1]:443 (documentation, not granted)",
                "192.88.99.1:443 (6to4 relay anycast (192.88.99.0/24), not granted)",
            ]
        );
        assert!(skipped.iter().all(|s| !s.refused));

        // Granting an address lets the name reach it.
        let granted = grants(&["example.com:443", "[2001:2::1]:443", "192.88.99.1:443"]);
        let (allowed, skipped) = screen("fetch", &granted, resolved);
        assert_eq!(
            allowed,
            addrs(&["[2001:2::1]:443", "192.88.99.1:443", "93.184.216.34:443"])
        );
        assert_eq!(skipped_text(&skipped), ["[3fff::1]:443 (documentation, not granted)"]);
    }

    #[test]
    fn orchid_addresses_are_skipped_unless_granted() {
        let resolved = addrs(&["[2001:10::1]:80", "[2001:20::1]:80"]);
        let (allowed, skipped) = screen("fetch", &grants(&["example.com:80"]), resolved);
        assert!(allowed.is_empty());
        assert_eq!(
            skipped_text(&skipped),
            [
                "[2001:10::1]:80 (ORCHID, not granted)",
                "[2001:20::1]:80 (ORCHIDv2, not granted)"
            ]
        );
    }

    #[test]
    fn deny_net_refuses_an_address_even_when_granted() {
        let mut g = grants(&["example.com:80", "127.0.0.1:80"]);
        g.denied
            .push(crate::capability::Denial::Net("127.0.0.1:80".parse().unwrap()));
        let (allowed, skipped) = screen("fetch", &g, addrs(&["[::ffff:127.0.0.1]:80", "8.8.8.8:80"]));
        assert_eq!(allowed, addrs(&["8.8.8.8:80"]));
        assert_eq!(
            skipped_text(&skipped),
            ["127.0.0.1:80 (refused by `--deny-net fetch=127.0.0.1:80`)"]
        );
        assert!(skipped[0].refused);
    }
}
