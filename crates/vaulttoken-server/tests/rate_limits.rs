//! Per-IP rate limits of the `vaulttoken-server` binary behind a trusted
//! proxy, over real loopback connections, with the memory limiter and with
//! the Redis one (a real `redis-server`): an `X-Forwarded-For` entry that is
//! not an address is counted by the peer, never by nothing, and IPv6 clients
//! are counted per network prefix (/64 by default), not per address.
//!
//! The test's own loopback connection is the trusted proxy
//! (`VAULTTOKEN_TRUSTED_PROXIES=127.0.0.1`); the clients behind it are what
//! it writes in `X-Forwarded-For`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

use vaulttoken_test_redis as redis_support;

use serde_json::json;
use server::{CLIENT, SECRET};

use process::ServerProcess;

/// The per-IP limit of the servers here (the per-client limit is off).
const PER_IP: usize = 3;

/// A `vaulttoken-server` process that trusts its loopback peers as proxies.
struct Process(ServerProcess);

impl Process {
    /// Started with `extra` variables on top of the limits, and listening.
    fn start(extra: &[(&str, &str)]) -> Self {
        let per_ip = PER_IP.to_string();
        let mut vars = vec![
            ("VAULTTOKEN_TRUSTED_PROXIES", "127.0.0.1"),
            ("VAULTTOKEN_RATE_LIMIT_PER_IP", per_ip.as_str()),
            ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "0"),
            ("VAULTTOKEN_RATE_LIMIT_WINDOW_SECS", "3600"),
        ];
        vars.extend_from_slice(extra);
        Self(ServerProcess::start_with(&vars))
    }

    /// The status of `POST /token/introspect` sent through the proxy with
    /// this `X-Forwarded-For`.
    fn introspect_via(&self, forwarded_for: &str) -> u16 {
        self.introspect_with_secret_via(SECRET, forwarded_for)
    }

    /// The same with this client secret.
    fn introspect_with_secret_via(&self, secret: &str, forwarded_for: &str) -> u16 {
        let body = json!({"client_id": CLIENT, "client_secret": secret, "token": "x"});
        let headers = [("X-Forwarded-For", forwarded_for)];
        self.0
            .request("POST", "/token/introspect", &headers, Some(&body))
            .0
    }

    /// The statuses of the requests from each of `clients`, in order.
    fn statuses<'a>(&self, clients: impl IntoIterator<Item = &'a str>) -> Vec<u16> {
        clients
            .into_iter()
            .map(|client| self.introspect_via(client))
            .collect()
    }
}

/// `PER_IP` answers 200, then 429.
fn limit_then_refused(extra_refused: usize) -> Vec<u16> {
    let mut expected = vec![200; PER_IP];
    expected.extend(vec![429; extra_refused]);
    expected
}

/// What a trusted proxy wrote that is not a plain address: an address with
/// a port counts as that address; anything else counts as the proxy itself
/// (the peer), so those clients share the proxy's budget and are never
/// unlimited.
fn unreadable_entries_are_counted_never_skipped(server: &Process) {
    // `ip:port` is its IP: one budget with the bare address, apart from
    // the proxy's.
    let with_port = ["198.51.100.7:4711", "198.51.100.7:1", "198.51.100.7"];
    assert_eq!(
        server.statuses(with_port),
        vec![200; PER_IP],
        "{with_port:?}"
    );
    assert_eq!(server.introspect_via("198.51.100.7:4712"), 429);
    let bracketed = [
        "[2001:db8:aa::1]:4711",
        "[2001:db8:aa::1]:1",
        "2001:db8:aa::1",
    ];
    assert_eq!(
        server.statuses(bracketed),
        vec![200; PER_IP],
        "{bracketed:?}"
    );
    assert_eq!(server.introspect_via("[2001:db8:aa::1]:4712"), 429);

    // `unknown`, garbage, a malformed entry: the peer's one budget.
    let unreadable = [
        "unknown",
        "garbage",
        "198.51.100.8, unknown",
        "999.1.1.1",
        "[2001:db8:aa::1]",
    ];
    assert_eq!(
        server.statuses(unreadable),
        limit_then_refused(unreadable.len() - PER_IP),
        "{unreadable:?}"
    );
    // The peer itself (an empty header walks to it) shares that budget...
    assert_eq!(server.introspect_via("127.0.0.1"), 429);
    // ...and the clients the proxy names keep their own.
    assert_eq!(server.introspect_via("198.51.100.8"), 200);
}

/// IPv6 clients behind the proxy: every address of a /64 shares one budget;
/// another /64 has its own; IPv4 (mapped or not) is counted per address.
fn ipv6_clients_are_counted_per_64(server: &Process) {
    let one_64 = [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
        "2001:db8:1:2:abcd::7",
    ];
    assert_eq!(server.statuses(one_64), limit_then_refused(1), "{one_64:?}");
    assert_eq!(server.introspect_via("2001:db8:1:3::1"), 200);
    assert_eq!(server.introspect_via("2001:db8:1:1:ffff::1"), 200);
    // A failed secret costs its /64 one more request.
    let wrong = "wrong-secret-0123456789";
    assert_eq!(
        server.introspect_with_secret_via(wrong, "2001:db8:1:4::1"),
        401
    );
    assert_eq!(server.introspect_via("2001:db8:1:4::2"), 200);
    assert_eq!(server.introspect_via("2001:db8:1:4::3"), 429);
    // IPv4 is counted per address, a mapped one as its IPv4 address.
    let v4 = ["192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1"];
    assert_eq!(server.statuses(v4), vec![200; PER_IP], "{v4:?}");
    assert_eq!(server.introspect_via("::ffff:192.0.2.1"), 429);
    assert_eq!(server.introspect_via("192.0.2.2"), 200);
}

/// The per-client limit of [`a_request_is_counted_once_up_to_its_first_refusal`].
const PER_CLIENT: usize = 4;

/// A request is counted against its IP, then its client, up to the first
/// count that refuses: a body that does not parse counts against the IP
/// alone, and a request its IP refuses costs its client nothing (with
/// Redis, both counts are one script). Each refusal is reported by the kind
/// of key that refused.
fn a_request_is_counted_once_up_to_its_first_refusal(server: &Process) {
    let not_an_object = json!(["client_id", CLIENT]);
    let from_a = [("X-Forwarded-For", "198.51.100.1")];
    for _ in 0..PER_IP {
        let (status, _) =
            server
                .0
                .request("POST", "/token/introspect", &from_a, Some(&not_an_object));
        assert_eq!(status, 400);
    }
    // The IP is spent by the bodies that did not parse: its next requests
    // are refused before their client is counted.
    assert_eq!(server.introspect_via("198.51.100.1"), 429);
    assert_eq!(server.introspect_via("198.51.100.1"), 429);
    let others: Vec<String> = (2..=PER_CLIENT + 1)
        .map(|n| format!("198.51.100.{n}"))
        .collect();
    assert_eq!(
        server.statuses(others.iter().map(String::as_str)),
        vec![200; PER_CLIENT]
    );
    // The client is spent now, from a fresh IP too.
    assert_eq!(server.introspect_via("198.51.100.99"), 429);
    let metrics = server.0.raw_request("GET", "/metrics", &[]).body;
    for (key, refused) in [("ip", 2), ("client", 1)] {
        let line = format!(
            "vaulttoken_rate_limit_refusals_total{{key=\"{key}\",reason=\"limited\"}} {refused}"
        );
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
}

/// A server with the Redis limiter, and its Redis; `None` (skipped) without
/// `redis-server`.
fn over_redis(test: &str, extra: &[(&str, &str)]) -> Option<(Process, redis_support::RedisServer)> {
    if !redis_support::redis_available(test) {
        return None;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let mut vars = vec![("REDIS_URL", url.as_str())];
    vars.extend_from_slice(extra);
    Some((Process::start(&vars), redis))
}

#[test]
fn in_memory_an_unreadable_forwarded_entry_is_counted_by_the_peer() {
    unreadable_entries_are_counted_never_skipped(&Process::start(&[]));
}

#[test]
fn in_redis_an_unreadable_forwarded_entry_is_counted_by_the_peer() {
    if let Some((server, _redis)) = over_redis("in_redis_an_unreadable_forwarded_entry", &[]) {
        unreadable_entries_are_counted_never_skipped(&server);
    }
}

#[test]
fn in_memory_ipv6_clients_are_counted_per_64() {
    ipv6_clients_are_counted_per_64(&Process::start(&[]));
}

#[test]
fn in_redis_ipv6_clients_are_counted_per_64() {
    if let Some((server, _redis)) = over_redis("in_redis_ipv6_clients_are_counted_per_64", &[]) {
        ipv6_clients_are_counted_per_64(&server);
    }
}

/// `VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX` sets the network an IPv6 client is
/// counted by, with either limiter.
#[test]
fn the_ipv6_prefix_is_a_setting() {
    let check = |server: &Process| {
        // /56: the /64s of one /56 share a budget.
        let one_56 = [
            "2001:db8:5:100::1",
            "2001:db8:5:1ff::1",
            "2001:db8:5:1ab:1::1",
            "2001:db8:5:100::2",
        ];
        assert_eq!(server.statuses(one_56), limit_then_refused(1), "{one_56:?}");
        assert_eq!(server.introspect_via("2001:db8:5:200::1"), 200);
    };
    let prefix_56 = [("VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX", "56")];
    check(&Process::start(&prefix_56));
    if let Some((server, _redis)) = over_redis("the_ipv6_prefix_is_a_setting", &prefix_56) {
        check(&server);
    }
    // /128: every address its own budget.
    let server = Process::start(&[("VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX", "128")]);
    let addresses: Vec<String> = (1..=PER_IP + 2)
        .map(|n| format!("2001:db8:6::{n}"))
        .collect();
    assert_eq!(
        server.statuses(addresses.iter().map(String::as_str)),
        vec![200; PER_IP + 2]
    );
}

#[test]
fn in_memory_a_request_is_counted_once_up_to_its_first_refusal() {
    let per_client = PER_CLIENT.to_string();
    let server = Process::start(&[("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", &per_client)]);
    a_request_is_counted_once_up_to_its_first_refusal(&server);
}

#[test]
fn in_redis_a_request_is_counted_once_up_to_its_first_refusal() {
    let per_client = PER_CLIENT.to_string();
    let limits = [("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", per_client.as_str())];
    if let Some((server, _redis)) = over_redis("in_redis_a_request_is_counted_once", &limits) {
        a_request_is_counted_once_up_to_its_first_refusal(&server);
    }
}
