//! Which HTTP targets webhooks may reach.
//!
//! A webhook URL is chosen by a user but requested by the server, so without a
//! guard anyone who can create a webhook can make the server call its own
//! admin ports, the cloud metadata service or the office network (server-side
//! request forgery). Targets are checked twice: the URL when it is saved and
//! again before each delivery, and every address DNS returns at connection
//! time ([`GuardedResolver`]), because a name that resolved to a public
//! address yesterday may resolve to `127.0.0.1` today (DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use url::{Host, Url};

/// Longer URLs are refused: no real webhook endpoint needs more, and the URL
/// is stored and shown in logs.
pub const MAX_URL_LENGTH: usize = 2048;

/// What an operator sets to let webhooks reach internal addresses anyway
/// (a receiver on the same host during development, a sidecar, …).
const ALLOW_HINT: &str =
    "private and loopback targets are refused unless PURPLE_CROSS_ALLOW_PRIVATE_TARGETS allows them";

/// Why `ip` must not be requested on a user's behalf, or `None` when it is an
/// ordinary public address. The reason completes "`<ip>` is …".
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        _ if ip.is_unspecified() => "an unspecified address",
        // Some systems route 0.x.x.x to the local host.
        (0, _, _) => "a \"this network\" address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => {
            "the cloud metadata address (link-local), which can hand out the server's credentials"
        }
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a carrier-grade NAT (shared) address",
        (192, 0, 0) => "an IETF protocol assignment address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // An IPv6 address that carries an IPv4 one reaches that IPv4 host, so it
    // is exactly as dangerous: `::ffff:127.0.0.1` is the loopback.
    if let Some(v4) = embedded_ipv4(ip) {
        return forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    let reason = match first {
        0xff00..=0xffff => "a multicast address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xfc00..=0xfdff => "a unique-local (private) address",
        0x2001 if ip.segments()[1] == 0x0db8 => "a documentation address",
        // Only 2000::/3 is allocated as global unicast; everything else
        // (discard-only 100::/64, local NAT64 64:ff9b:1::/48, …) is not a
        // place a webhook can legitimately live.
        0x2000..=0x3fff => return None,
        _ => "a reserved address",
    };
    Some(reason)
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms
/// that are translated to IPv4 on the wire: IPv4-mapped `::ffff:a.b.c.d`,
/// the deprecated IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and
/// 6to4 `2002:aabb:ccdd::`.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// An address range such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The range's first address (host bits are always zero).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// How many leading bits every address in the range shares.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the range. IPv4 ranges never contain IPv6
    /// addresses and vice versa; [`TargetPolicy::check_ip`] handles
    /// IPv4-mapped addresses itself.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == net,
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == net,
            _ => false,
        }
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    // checked_shl: a shift by the full width (prefix 0) overflows.
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(ip) & mask)
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(ip) & mask)
}

impl FromStr for Cidr {
    type Err = String;

    /// Parses `addr/prefix`, or a bare address meaning that one host. Host bits
    /// set below the prefix (`10.1.2.3/8`) are cleared rather than refused:
    /// the operator's intent is plain.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an IP address or a CIDR range such as 10.0.0.0/8");
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8::from_str` would also take "+8".
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a prefix length above {max}"))?,
            Some(_) => return Err(bad()),
        };
        let network = match addr {
            IpAddr::V4(v4) => IpAddr::V4(mask_v4(v4, prefix)),
            IpAddr::V6(v6) => IpAddr::V6(mask_v6(v6, prefix)),
        };
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The operator's rules for webhook targets.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Ranges that may be reached even though they are internal.
    pub allow: Vec<Cidr>,
    /// Refuse plain `http://` targets.
    pub require_https: bool,
    /// This service's own address: its request inspector (`/inspector/…` on
    /// exactly this address) may be a target although it is local.
    pub inspector: Option<std::net::SocketAddr>,
}

impl TargetPolicy {
    /// A policy from a comma-separated list of CIDRs or addresses, as given in
    /// `PURPLE_CROSS_ALLOW_PRIVATE_TARGETS`. An empty list allows nothing
    /// internal.
    pub fn from_allowlist(csv: &str) -> Result<Self, String> {
        let allow = csv
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<_, _>>()?;
        Ok(TargetPolicy { allow, require_https: false, inspector: None })
    }

    /// Whether the server may connect to `ip`; the error says why not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        match self.refusal(ip) {
            None => Ok(()),
            Some(reason) => Err(format!("{ip} is {reason}; {ALLOW_HINT}")),
        }
    }

    /// The reason `ip` is refused under this policy, if it is.
    fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let reason = forbidden_reason(ip)?;
        // An allowlisted IPv4 range also covers the IPv6 spellings of those
        // addresses, since they are judged as IPv4 too.
        let as_v4 = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let allowed = self.allow.iter().any(|cidr| cidr.contains(ip) || as_v4.is_some_and(|v4| cidr.contains(v4)));
        (!allowed).then_some(reason)
    }

    /// Whether `url` is this service's own request inspector.
    pub fn is_inspector(&self, url: &Url) -> bool {
        let Some(own) = self.inspector else { return false };
        let ip_matches = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4) == own.ip(),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6) == own.ip(),
            _ => false,
        };
        ip_matches && url.port_or_known_default() == Some(own.port()) && url.path().starts_with("/inspector/")
    }

    /// Parses and checks a webhook URL. Names are accepted here (except
    /// `localhost`), because what they resolve to can change: the resolver
    /// checks their addresses at delivery time.
    pub fn check_url(&self, raw: &str) -> Result<Url, String> {
        if raw.len() > MAX_URL_LENGTH {
            return Err(format!("the URL is longer than {MAX_URL_LENGTH} characters"));
        }
        // The WHATWG parser normalises every IPv4 spelling (`2130706433`,
        // `0x7f.1`, `017700000001`) to a dotted quad, so tricks that slip past
        // a naive string check arrive here as plain IPv4 hosts.
        let url = Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if !self.require_https => {}
            "http" => return Err("the URL must use https".into()),
            other => return Err(format!("the URL must use http or https, not {other}")),
        }
        // The parser forgives `http:///path` and `http:\\host` (it reads the
        // first path segment as the host): refuse what a person did not mean.
        let after_scheme = raw.trim().split_once(':').map(|(_, rest)| rest).unwrap_or_default();
        let authority = after_scheme.strip_prefix("//").unwrap_or_default();
        if authority.is_empty() || authority.starts_with(['/', '\\', '?', '#']) {
            return Err("the URL has no host; write it as https://host/path".into());
        }
        if url.port() == Some(0) {
            return Err("port 0 cannot be connected to".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL must not contain a username or password; send credentials in a header instead".into());
        }
        if self.is_inspector(&url) {
            return Ok(url);
        }
        match url.host() {
            None => return Err("the URL has no host".into()),
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4))?,
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6))?,
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                // RFC 6761: localhost names always mean this machine, and
                // resolvers may answer them without asking DNS. Treat them
                // as the loopback address they are.
                let is_localhost = name == "localhost" || name.ends_with(".localhost");
                if is_localhost && self.refusal(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_some() {
                    return Err(format!("{name} is a localhost name, which always means this machine; {ALLOW_HINT}"));
                }
            }
        }
        Ok(url)
    }
}

/// A DNS resolver for the delivery HTTP client that refuses names resolving to
/// internal addresses. Checking at connection time is what defeats DNS
/// rebinding: the addresses checked are the very ones connected to.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<TargetPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
            // Refuse the whole name if any address is internal, rather than
            // filtering: a name mixing public and internal addresses is
            // either misconfigured or an attack, and silently picking some
            // addresses would make deliveries flaky instead of clearly failing.
            for addr in &addrs {
                if let Some(reason) = policy.refusal(addr.ip()) {
                    return Err(
                        format!("ssrf: {host} resolves to {}, which is {reason}; {ALLOW_HINT}", addr.ip()).into()
                    );
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn refused(policy: &TargetPolicy, url: &str) -> String {
        match policy.check_url(url) {
            Ok(u) => panic!("{url} should be refused, got {u}"),
            Err(reason) => reason,
        }
    }

    #[test]
    fn internal_ipv4_addresses_are_forbidden() {
        for (addr, word) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("192.0.0.170", "IETF"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            let reason = forbidden_reason(ip(addr)).unwrap_or_else(|| panic!("{addr} allowed"));
            assert!(reason.contains(word), "{addr}: {reason}");
        }
    }

    #[test]
    fn internal_ipv6_addresses_are_forbidden() {
        for (addr, word) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("fc00::1", "unique-local"),
            ("fd00::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("100::1", "reserved"),
            ("64:ff9b:1::1", "reserved"),
            // Embedded IPv4 is judged as IPv4.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::10.0.0.1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:c0a8:0101::1", "private"),
        ] {
            let reason = forbidden_reason(ip(addr)).unwrap_or_else(|| panic!("{addr} allowed"));
            assert!(reason.contains(word), "{addr}: {reason}");
        }
    }

    #[test]
    fn public_addresses_are_fine() {
        for addr in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "198.17.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:830::200e",
            "::ffff:93.184.216.34",
            "64:ff9b::8.8.8.8",
            "2002:5db8:d822::1",
        ] {
            assert_eq!(forbidden_reason(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.255.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("::ffff:10.0.0.1")), "families never mix");

        let host: Cidr = "127.0.0.1".parse().unwrap();
        assert_eq!(host.prefix_len(), 32);
        assert!(host.contains(ip("127.0.0.1")));
        assert!(!host.contains(ip("127.0.0.2")));

        let v6: Cidr = "::1/128".parse().unwrap();
        assert!(v6.contains(ip("::1")));
        assert!(!v6.contains(ip("::2")));
        let v6host: Cidr = "fd00::1".parse().unwrap();
        assert_eq!(v6host.prefix_len(), 128);
        let ula: Cidr = "fc00::/7".parse().unwrap();
        assert!(ula.contains(ip("fdff::1")));
        assert!(!ula.contains(ip("fe00::1")));

        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));

        let sloppy: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(sloppy.network(), ip("10.0.0.0"));
    }

    #[test]
    fn bad_cidrs_are_refused_by_name() {
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/+8", "foo", "10.0.0.0/8/8"] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn only_the_own_inspector_is_allowed_among_local_targets() {
        let p = TargetPolicy { inspector: Some("127.0.0.1:3000".parse().unwrap()), ..TargetPolicy::default() };
        assert!(p.check_url("http://127.0.0.1:3000/inspector/demo").is_ok());
        for refused in [
            "http://127.0.0.1:3000/api/v1/webhooks",
            "http://127.0.0.1:3001/inspector/demo",
            "http://127.0.0.2:3000/inspector/demo",
            "http://localhost:3000/inspector/demo",
            "http://127.0.0.1:3000/inspectorx",
        ] {
            assert!(p.check_url(refused).is_err(), "{refused}");
        }
        assert!(TargetPolicy::default().check_url("http://127.0.0.1:3000/inspector/demo").is_err());
    }

    #[test]
    fn allowlists_are_comma_separated_and_tolerant() {
        assert!(TargetPolicy::from_allowlist("").unwrap().allow.is_empty());
        assert!(TargetPolicy::from_allowlist("  ").unwrap().allow.is_empty());
        let p = TargetPolicy::from_allowlist(" 127.0.0.0/8 ,::1/128,, 192.168.1.5 ").unwrap();
        assert_eq!(
            p.allow.iter().map(Cidr::to_string).collect::<Vec<_>>(),
            ["127.0.0.0/8", "::1/128", "192.168.1.5/32"]
        );
        let err = TargetPolicy::from_allowlist("10.0.0.0/8, 300.1.1.1").unwrap_err();
        assert!(err.contains("300.1.1.1"), "{err}");
    }

    #[test]
    fn internal_urls_are_refused() {
        let p = TargetPolicy::default();
        for url in [
            "http://127.0.0.1",
            "http://[::1]",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1",
            "http://2130706433",
            "http://0x7f.1",
            "http://017700000001",
            "http://127.1",
            "http://[::ffff:127.0.0.1]",
            "http://[::ffff:7f00:1]",
            "http://100.64.0.1",
            "http://[fd00::1]",
            "http://0.0.0.0:8080",
        ] {
            let reason = refused(&p, url);
            assert!(reason.contains("address"), "{url}: {reason}");
            assert!(reason.contains("PURPLE_CROSS_ALLOW_PRIVATE_TARGETS"), "{url}: {reason}");
        }
        assert_eq!(
            refused(&p, "http://127.0.0.1"),
            "127.0.0.1 is a loopback address; private and loopback targets are refused \
             unless PURPLE_CROSS_ALLOW_PRIVATE_TARGETS allows them"
        );
        assert!(refused(&p, "http://169.254.169.254").contains("cloud metadata"));
    }

    #[test]
    fn localhost_names_are_refused() {
        let p = TargetPolicy::default();
        for url in ["http://localhost:8080", "http://LOCALHOST/", "http://localhost./", "https://api.localhost/hook"] {
            assert!(refused(&p, url).contains("localhost"), "{url}");
        }
        // Only the name itself, not names that merely contain it.
        assert!(p.check_url("https://localhost.example.com/").is_ok());
        assert!(p.check_url("https://mylocalhost/").is_ok());
    }

    #[test]
    fn malformed_or_unsafe_urls_are_refused() {
        let p = TargetPolicy::default();
        assert!(refused(&p, "ftp://example.com").contains("http or https"));
        assert!(refused(&p, "file:///etc/passwd").contains("http or https"));
        assert!(refused(&p, "http://user:pw@example.com").contains("username or password"));
        assert!(refused(&p, "http://user@example.com").contains("username or password"));
        assert!(refused(&p, "not a url").contains("not a valid URL"));
        assert!(refused(&p, "http://").contains("not a valid URL"));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(refused(&p, &long).contains("longer than 2048"));
    }

    #[test]
    fn public_urls_are_accepted() {
        let p = TargetPolicy::default();
        let u = p.check_url("https://example.com/hook").unwrap();
        assert_eq!(u.as_str(), "https://example.com/hook");
        assert!(p.check_url("http://93.184.216.34/").is_ok());
        assert!(p.check_url("https://[2606:4700:4700::1111]:8443/x").is_ok());
        assert!(p.check_url("https://internal.example/").is_ok(), "names are checked at delivery");
    }

    #[test]
    fn the_allowlist_opens_only_what_it_names() {
        let p = TargetPolicy::from_allowlist("127.0.0.0/8").unwrap();
        assert!(p.check_url("http://127.0.0.1:9000").is_ok());
        assert!(p.check_url("http://[::ffff:127.0.0.1]:9000").is_ok());
        assert!(p.check_url("http://localhost:9000").is_ok());
        assert!(refused(&p, "http://10.0.0.1").contains("private"));
        assert!(refused(&p, "http://[::1]").contains("loopback"));
        assert!(p.check_ip(ip("127.8.9.10")).is_ok());
        assert!(p.check_ip(ip("8.8.8.8")).is_ok());
    }

    #[test]
    fn require_https_refuses_plain_http() {
        let p = TargetPolicy { require_https: true, ..TargetPolicy::default() };
        assert!(refused(&p, "http://example.com/").contains("https"));
        assert!(p.check_url("https://example.com/").is_ok());
    }

    #[test]
    fn urls_without_a_host_or_with_port_0_are_refused() {
        let p = TargetPolicy::default();
        for raw in ["http:///path", "https:///", "http:\\\\example.com/", "https:example.com"] {
            let reason = refused(&p, raw);
            assert!(reason.contains("no host") || reason.contains("empty host"), "{raw}: {reason}");
        }
        assert!(refused(&p, "https://example.com:0/").contains("port 0"));
        assert!(p.check_url(" https://example.com:8443/hook ").is_ok());
    }

    async fn resolve(policy: TargetPolicy, name: &str) -> Result<Vec<SocketAddr>, String> {
        let resolver = GuardedResolver::new(Arc::new(policy));
        match resolver.resolve(name.parse().unwrap()).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        let err = resolve(TargetPolicy::default(), "localhost").await.unwrap_err();
        assert!(err.starts_with("ssrf: localhost resolves to "), "{err}");
        assert!(err.contains("loopback"), "{err}");
    }

    #[tokio::test]
    async fn the_resolver_lets_allowlisted_addresses_through() {
        let policy = TargetPolicy::from_allowlist("127.0.0.0/8, ::1/128").unwrap();
        let addrs = resolve(policy, "localhost").await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
