//! The address policy: which addresses are public, from the IANA IPv4 and
//! IPv6 Special-Purpose Address Registries.
//!
//! A name's addresses are reachable through the name's grant only when they
//! are public; any other address must be granted itself. [`SPECIAL`] lists the
//! registries' blocks (and a few the policy adds: multicast, deprecated
//! site-local, every IPv6 form that embeds an IPv4 address); the most specific
//! block containing an address decides, so a globally reachable assignment
//! inside a reserved block stays public.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;

/// Whether an address in a block may be reached through a granted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Not public: the address itself must be granted. The label says why.
    Refused(&'static str),
    /// Globally reachable, an exception inside a refused block.
    Public,
}

use Reach::{Public, Refused};

/// The special-purpose blocks, as the registries write them.
const SPECIAL: &[(&str, Reach)] = &[
    // IPv4 Special-Purpose Address Registry.
    ("0.0.0.0/8", Refused("unspecified (0.0.0.0/8)")),
    ("0.0.0.0/32", Refused("unspecified")),
    ("10.0.0.0/8", Refused("private")),
    ("100.64.0.0/10", Refused("shared (100.64.0.0/10)")),
    ("127.0.0.0/8", Refused("loopback")),
    ("169.254.0.0/16", Refused("link-local")),
    ("172.16.0.0/12", Refused("private")),
    ("192.0.0.0/24", Refused("reserved (192.0.0.0/24)")),
    ("192.0.0.9/32", Public),  // Port Control Protocol anycast
    ("192.0.0.10/32", Public), // TURN anycast
    ("192.0.2.0/24", Refused("documentation")),
    ("192.88.99.0/24", Refused("6to4 relay anycast (192.88.99.0/24)")),
    ("192.168.0.0/16", Refused("private")),
    ("198.18.0.0/15", Refused("benchmarking")),
    ("198.51.100.0/24", Refused("documentation")),
    ("203.0.113.0/24", Refused("documentation")),
    // Multicast (its own registry), then reserved, limited broadcast included.
    ("224.0.0.0/4", Refused("multicast")),
    ("240.0.0.0/4", Refused("reserved")),
    // IPv6 Special-Purpose Address Registry.
    ("::/128", Refused("unspecified")),
    ("::1/128", Refused("loopback")),
    ("::ffff:0:0/96", Refused("IPv4-mapped")),
    // Deprecated, not in the registry, but it embeds an IPv4 address.
    ("::/96", Refused("IPv4-compatible")),
    // Covers 64:ff9b::/96 (globally reachable, but it embeds an IPv4 address)
    // and the local-use 64:ff9b:1::/48.
    ("64:ff9b::/32", Refused("NAT64")),
    ("100::/64", Refused("discard")),
    ("100:0:0:1::/64", Refused("dummy (100:0:0:1::/64)")),
    ("2001::/23", Refused("reserved (2001::/23)")),
    // Teredo is not globally reachable as such, and it embeds an IPv4 address.
    ("2001::/32", Refused("Teredo")),
    ("2001:1::1/128", Public), // Port Control Protocol anycast
    ("2001:1::2/128", Public), // TURN anycast
    ("2001:1::3/128", Public), // DNS-SD service registration protocol anycast
    ("2001:2::/48", Refused("benchmarking")),
    ("2001:3::/32", Public),     // AMT
    ("2001:4:112::/48", Public), // AS112-v6
    ("2001:10::/28", Refused("ORCHID")),
    // The registry calls ORCHIDv2 globally reachable, but an ORCHID is an
    // identifier, not a locator (RFC 7343): nothing is served at one.
    ("2001:20::/28", Refused("ORCHIDv2")),
    ("2001:db8::/32", Refused("documentation")),
    ("2002::/16", Refused("6to4")),
    ("3fff::/20", Refused("documentation")),
    ("5f00::/16", Refused("segment routing (5f00::/16)")),
    ("fc00::/7", Refused("unique-local")),
    ("fe80::/10", Refused("link-local")),
    // Deprecated site-local, no longer in the registry.
    ("fec0::/10", Refused("site-local")),
    ("ff00::/8", Refused("multicast")),
];

/// [`SPECIAL`], parsed once.
static TABLE: LazyLock<Vec<(IpNet, Reach)>> = LazyLock::new(|| {
    SPECIAL
        .iter()
        .map(|&(block, reach)| (block.parse().expect("SPECIAL holds CIDR blocks"), reach))
        .collect()
});

/// Why an address is not public (`"loopback"`, `"private"`, …), or `None` for a
/// public address. Only public addresses are reachable through a granted name
/// without granting the address itself.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    let most_specific = TABLE
        .iter()
        .filter(|(block, _)| block.contains(&ip))
        .max_by_key(|(block, _)| block.prefix_len());
    match most_specific {
        Some((_, Refused(why))) => Some(why),
        Some((_, Public)) | None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<&'static str> {
        non_public(ip.parse().unwrap())
    }

    #[test]
    fn address_rules() {
        for (ip, expected) in [
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified (0.0.0.0/8)")),
            ("100.64.0.1", Some("shared (100.64.0.0/10)")),
            ("192.0.0.8", Some("reserved (192.0.0.0/24)")),
            ("192.0.2.1", Some("documentation")),
            ("198.19.255.1", Some("benchmarking")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("reserved")),
            ("172.32.0.1", None),
            ("172.15.0.1", None),
            ("198.20.0.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("::ffff:127.0.0.1", Some("IPv4-mapped")),
            ("::ffff:8.8.8.8", Some("IPv4-mapped")),
            ("::127.0.0.1", Some("IPv4-compatible")),
            ("64:ff9b::a00:1", Some("NAT64")),
            ("64:ff9b:1::1", Some("NAT64")),
            ("100::1", Some("discard")),
            ("2001:0:4136:e378::1", Some("Teredo")),
            ("2002:7f00:1::", Some("6to4")),
            ("fc00::1", Some("unique-local")),
            ("fd12:3456::1", Some("unique-local")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("2606:4700:4700::1111", None),
            ("2001:200::1", None),
        ] {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    /// Blocks the registries mark not globally reachable that hand-written
    /// rules used to miss.
    #[test]
    fn every_special_purpose_block_is_refused() {
        for (ip, expected) in [
            ("192.88.99.1", "6to4 relay anycast (192.88.99.0/24)"),
            ("2001:2::1", "benchmarking"),
            ("2001:2:0:ffff::1", "benchmarking"),
            ("2001:10::1", "ORCHID"),
            ("2001:1f:ffff::1", "ORCHID"),
            ("2001:20::1", "ORCHIDv2"),
            ("2001:2f:ffff::1", "ORCHIDv2"),
            ("3fff::1", "documentation"),
            ("3fff:fff::1", "documentation"),
            ("2001:5::1", "reserved (2001::/23)"),
            ("100:0:0:1::1", "dummy (100:0:0:1::/64)"),
            ("5f00::1", "segment routing (5f00::/16)"),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
        // Just outside them.
        for ip in ["192.88.100.1", "2001:200::1", "4000::1", "3fff:1000::1"] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    /// Globally reachable assignments inside refused blocks stay public.
    #[test]
    fn reachable_assignments_inside_reserved_blocks_are_public() {
        for ip in [
            "192.0.0.9",
            "192.0.0.10",
            "2001:1::1",
            "2001:1::3",
            "2001:3::1",
            "2001:4:112::1",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
        assert_eq!(kind("2001:1::4"), Some("reserved (2001::/23)"));
        assert_eq!(kind("2001:4:113::1"), Some("reserved (2001::/23)"));
    }
}
