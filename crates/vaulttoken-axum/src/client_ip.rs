//! The client's IP address, for binding: the connection's peer address, and
//! `X-Forwarded-For` only when that peer is a proxy you trust.

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;

use crate::ConfigError;

/// The proxies whose `X-Forwarded-For` entries are believed, as CIDR ranges.
/// Empty by default: then the client is always the connection's peer.
///
/// The client IP of a request is:
///
/// 1. the peer address of the connection, from axum's
///    [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo) (serve with
///    `into_make_service_with_connect_info::<SocketAddr>()`); no `ConnectInfo`,
///    no client IP;
/// 2. if that peer is a trusted proxy, the `X-Forwarded-For` entries are read
///    right to left (the order proxies append them), skipping trusted proxies;
///    the first untrusted entry is the client. If every entry is trusted, the
///    leftmost is the client; with no entry, the peer is.
///
/// An entry with a port (`198.51.100.7:4711`, `[2001:db8::1]:4711`, as some
/// proxies write) is its IP address. Any other entry that is not an IP
/// address (`unknown`, an obfuscated name, a bracketed IPv6 address without
/// a port) ends the walk with no client IP: it fails closed rather than
/// guess.
/// A client can write whatever it likes on the left of the header, but it
/// never gets past the first address a trusted proxy appended. Raw
/// `X-Forwarded-For` from an untrusted peer is never read. IPv4-mapped IPv6
/// addresses count as the IPv4 address they map, on both sides.
///
/// # Examples
///
/// ```
/// use std::net::IpAddr;
/// use vaulttoken_axum::TrustedProxies;
///
/// let proxies = TrustedProxies::parse(["10.0.0.0/8", "2001:db8::/32"])?;
/// let headers = |xff: &str| {
///     let mut headers = http::HeaderMap::new();
///     headers.insert("x-forwarded-for", xff.parse().unwrap());
///     headers
/// };
/// let lb: IpAddr = "10.0.0.2".parse().unwrap();
/// let client: IpAddr = "198.51.100.7".parse().unwrap();
/// // Behind our load balancer: the address it appended.
/// let forged = headers("203.0.113.66, 198.51.100.7, 10.0.0.9");
/// assert_eq!(proxies.client_ip_from(lb, &forged), Some(client));
/// // Straight from the internet: the peer, whatever the header says.
/// assert_eq!(proxies.client_ip_from(client, &forged), Some(client));
/// # Ok::<(), vaulttoken_axum::ConfigError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.nets).finish()
    }
}

impl TrustedProxies {
    /// No trusted proxy: the client is always the connection's peer.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::TrustedProxies;
    ///
    /// assert!(TrustedProxies::none().is_empty());
    /// ```
    #[must_use]
    pub fn none() -> Self {
        // The default, by definition: the cargo-mutants mutant that returns
        // `Default::default()` here is this same function (equivalent).
        Self::default()
    }

    /// Parses CIDR ranges (`10.0.0.0/8`, `fd00::/8`) or single addresses
    /// (`192.0.2.1`, meaning `/32` or `/128`). Bits past the prefix are
    /// ignored (`10.1.2.3/8` is `10.0.0.0/8`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidProxy`] naming the position of the first entry
    /// that is not an address or CIDR range.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::{ConfigError, TrustedProxies};
    ///
    /// let proxies = TrustedProxies::parse(["10.1.2.3/8", "::1"])?;
    /// assert!(proxies.contains("10.200.0.1".parse().unwrap()));
    /// assert!(proxies.contains("::1".parse().unwrap()));
    /// assert!(!proxies.contains("11.0.0.1".parse().unwrap()));
    /// assert_eq!(TrustedProxies::parse(["10.0.0.0/8", "10.0.0.0/33"]), Err(ConfigError::InvalidProxy { index: 1 }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn parse<I>(ranges: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let nets = ranges
            .into_iter()
            .enumerate()
            .map(|(index, range)| {
                range
                    .as_ref()
                    .parse()
                    .map_err(|()| ConfigError::InvalidProxy { index })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether no proxy is trusted.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::TrustedProxies;
    ///
    /// assert!(!TrustedProxies::parse(["127.0.0.1"])?.is_empty());
    /// # Ok::<(), vaulttoken_axum::ConfigError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `addr` is in a trusted range.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::TrustedProxies;
    ///
    /// let proxies = TrustedProxies::parse(["192.0.2.0/24"])?;
    /// // An IPv4-mapped IPv6 address is its IPv4 address.
    /// assert!(proxies.contains("::ffff:192.0.2.9".parse().unwrap()));
    /// # Ok::<(), vaulttoken_axum::ConfigError>(())
    /// ```
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.nets.iter().any(|net| net.contains(addr))
    }

    /// The client IP of a request (see the [type documentation](Self)):
    /// `None` without [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo),
    /// or when a trusted proxy's entry cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use vaulttoken_axum::TrustedProxies;
    ///
    /// let proxies = TrustedProxies::none();
    /// let mut request = http::Request::new(());
    /// assert_eq!(proxies.client_ip(&request.clone().into_parts().0), None);
    /// let peer: SocketAddr = "192.0.2.4:50000".parse().unwrap();
    /// request.extensions_mut().insert(ConnectInfo(peer));
    /// assert_eq!(proxies.client_ip(&request.into_parts().0), Some(peer.ip()));
    /// ```
    #[must_use]
    pub fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        self.client_ip_from(peer.ip(), &parts.headers)
    }

    /// The client IP of a request that came from `peer` with `headers`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::TrustedProxies;
    ///
    /// let proxies = TrustedProxies::parse(["10.0.0.0/8"])?;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-forwarded-for", "198.51.100.7:4711".parse().unwrap());
    /// // An address with a port is that address.
    /// let lb = "10.0.0.1".parse().unwrap();
    /// assert_eq!(proxies.client_ip_from(lb, &headers), "198.51.100.7".parse().ok());
    /// headers.insert("x-forwarded-for", "unknown".parse().unwrap());
    /// // A trusted proxy wrote something that is not an address: no client IP.
    /// assert_eq!(proxies.client_ip_from(lb, &headers), None);
    /// # Ok::<(), vaulttoken_axum::ConfigError>(())
    /// ```
    #[must_use]
    pub fn client_ip_from(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return Some(client);
        }
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|value| value.as_bytes().rsplit(|&b| b == b','));
        for entry in entries {
            let text = core::str::from_utf8(entry).ok()?.trim_matches([' ', '\t']);
            client = entry_ip(text)?.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        Some(client)
    }
}

/// The IP address of an `X-Forwarded-For` entry: an address, or an address
/// with a port.
fn entry_ip(text: &str) -> Option<IpAddr> {
    match text.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => text.parse::<SocketAddr>().ok().map(|addr| addr.ip()),
    }
}

/// One CIDR range, its address masked to the prefix.
#[derive(Clone, Copy, PartialEq, Eq)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl fmt::Debug for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl IpNet {
    fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = addr.to_canonical();
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        (prefix <= max).then(|| Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    fn contains(self, addr: IpAddr) -> bool {
        match (self.addr, addr) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(addr, self.prefix) == self.addr
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| ())?;
                // Digits only: `u8::from_str` would also take a `+`.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(());
                }
                (addr, prefix.parse::<u8>().map_err(|_| ())?)
            }
            None => {
                let addr: IpAddr = text.parse().map_err(|_| ())?;
                let full: u8 = if addr.is_ipv4() { 32 } else { 128 };
                (addr, full)
            }
        };
        // A mapped IPv6 range like `::ffff:10.0.0.0/104` is the IPv4 range it maps.
        let prefix = match (addr, addr.to_canonical()) {
            (IpAddr::V6(_), IpAddr::V4(_)) => prefix.checked_sub(96).ok_or(())?,
            _ => prefix,
        };
        Self::new(addr, prefix).ok_or(())
    }
}

/// `addr` with the bits past `prefix` cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(["10.0.0.0/8", "192.0.2.1", "fd00::/8"]).unwrap()
    }

    #[test]
    fn ranges_parse_with_or_without_a_prefix() {
        let parsed =
            TrustedProxies::parse(["10.1.2.3/8", "192.0.2.1", "fd00::1/8", "::1", "0.0.0.0/0"])
                .unwrap();
        assert_eq!(
            format!("{parsed:?}"),
            "[10.0.0.0/8, 192.0.2.1/32, fd00::/8, ::1/128, 0.0.0.0/0]"
        );
        let mapped = TrustedProxies::parse(["::ffff:10.0.0.0/104", "::ffff:192.0.2.1"]).unwrap();
        assert_eq!(format!("{mapped:?}"), "[10.0.0.0/8, 192.0.2.1/32]");
    }

    #[test]
    fn invalid_ranges_are_refused_with_their_position() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0/8",
            "host",
            "10.0.0.0/8/8",
            "::ffff:10.0.0.0/8",
        ] {
            assert_eq!(
                TrustedProxies::parse(["::1", bad]),
                Err(ConfigError::InvalidProxy { index: 1 }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn membership_follows_the_prefix_and_family() {
        let proxies = proxies();
        assert!(proxies.contains(ip("10.255.255.255")));
        assert!(!proxies.contains(ip("11.0.0.0")));
        assert!(proxies.contains(ip("192.0.2.1")));
        assert!(!proxies.contains(ip("192.0.2.2")));
        assert!(proxies.contains(ip("fdff::1")));
        assert!(!proxies.contains(ip("fe00::1")));
        assert!(proxies.contains(ip("::ffff:10.0.0.1")));
        // Another family never matches, even with a zero prefix.
        let all_v4 = TrustedProxies::parse(["0.0.0.0/0"]).unwrap();
        assert!(all_v4.contains(ip("203.0.113.1")));
        assert!(!all_v4.contains(ip("2001:db8::1")));
        assert!(!TrustedProxies::none().contains(ip("127.0.0.1")));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_header_says() {
        let headers = xff(&["10.0.0.1"]);
        assert_eq!(
            proxies().client_ip_from(ip("203.0.113.9"), &headers),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            TrustedProxies::none().client_ip_from(ip("10.0.0.1"), &headers),
            Some(ip("10.0.0.1"))
        );
        // Even a header that is not an address list.
        let junk = xff(&["not an address"]);
        assert_eq!(
            proxies().client_ip_from(ip("203.0.113.9"), &junk),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_entry_from_the_right_is_the_client() {
        let peer = ip("10.0.0.2");
        let cases = [
            (&["198.51.100.7"][..], "198.51.100.7"),
            (&["203.0.113.66, 198.51.100.7"], "198.51.100.7"),
            (
                &["203.0.113.66, 198.51.100.7, 10.0.0.9, 192.0.2.1"],
                "198.51.100.7",
            ),
            (&[" 198.51.100.7 ,\t10.0.0.9 "], "198.51.100.7"),
            // Several headers are one list, in order.
            (&["203.0.113.66", "198.51.100.7, 10.0.0.9"], "198.51.100.7"),
            (&["198.51.100.7", "10.0.0.9"], "198.51.100.7"),
            // Every entry trusted: the leftmost.
            (&["10.0.0.8, 10.0.0.9"], "10.0.0.8"),
            // No header: the peer.
            (&[], "10.0.0.2"),
            (&["2001:db8::7, fd00::1"], "2001:db8::7"),
            (&["::ffff:198.51.100.7"], "198.51.100.7"),
        ];
        for (values, client) in cases {
            assert_eq!(
                proxies().client_ip_from(peer, &xff(values)),
                Some(ip(client)),
                "{values:?}"
            );
        }
    }

    #[test]
    fn an_unreadable_entry_a_trusted_proxy_passed_on_gives_no_client_ip() {
        let peer = ip("10.0.0.2");
        for values in [
            &["unknown"][..],
            &["198.51.100.7:"],
            &["198.51.100.7:65536"],
            &["2001:db8::1]:443"],
            &["198.51.100.7, "],
            &[""],
            &["[2001:db8::1]"],
            &["198.51.100.7, garbage, 10.0.0.9"],
        ] {
            assert_eq!(
                proxies().client_ip_from(peer, &xff(values)),
                None,
                "{values:?}"
            );
        }
        // Garbage left of the client is never read.
        assert_eq!(
            proxies().client_ip_from(peer, &xff(&["garbage, 198.51.100.7"])),
            Some(ip("198.51.100.7"))
        );
        let mut non_utf8 = HeaderMap::new();
        non_utf8.insert(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(proxies().client_ip_from(peer, &non_utf8), None);
    }

    #[test]
    fn an_entry_with_a_port_is_its_address() {
        let peer = ip("10.0.0.2");
        let cases = [
            (&["198.51.100.7:443"][..], "198.51.100.7"),
            (&["[2001:db8::1]:4711"], "2001:db8::1"),
            (&["[::ffff:198.51.100.7]:1"], "198.51.100.7"),
            // A trusted proxy with a port is still skipped.
            (&["198.51.100.7:1, 10.0.0.9:2"], "198.51.100.7"),
            (
                &["203.0.113.66, [2001:db8::1]:1, [fd00::1]:2"],
                "2001:db8::1",
            ),
        ];
        for (values, client) in cases {
            assert_eq!(
                proxies().client_ip_from(peer, &xff(values)),
                Some(ip(client)),
                "{values:?}"
            );
        }
    }

    #[test]
    fn a_mapped_peer_counts_as_its_ipv4_address() {
        let peer = ip("::ffff:10.0.0.2");
        let headers = xff(&["198.51.100.7"]);
        assert_eq!(
            proxies().client_ip_from(peer, &headers),
            Some(ip("198.51.100.7"))
        );
        let untrusted = ip("::ffff:203.0.113.9");
        assert_eq!(
            proxies().client_ip_from(untrusted, &headers),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn masks_clear_exactly_the_bits_past_the_prefix() {
        assert_eq!(mask(ip("255.255.255.255"), 0), ip("0.0.0.0"));
        assert_eq!(mask(ip("255.255.255.255"), 1), ip("128.0.0.0"));
        assert_eq!(mask(ip("255.255.255.255"), 32), ip("255.255.255.255"));
        assert_eq!(mask(ip("10.1.2.3"), 24), ip("10.1.2.0"));
        assert_eq!(mask(ip("ffff::ffff"), 0), ip("::"));
        assert_eq!(mask(ip("ffff::ffff"), 128), ip("ffff::ffff"));
        assert_eq!(mask(ip("2001:db8:ffff::"), 33), ip("2001:db8:8000::"));
    }
}
