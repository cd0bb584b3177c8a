//! The server on a real three-primary Redis Cluster (`redis-cli --cluster
//! create`), as processes: two instances share tokens, refresh races,
//! revocations, rotations and rate limits through `REDIS_CLUSTER_URLS`; a
//! lost primary fails only the subjects it serves, with nothing called valid
//! wrongly, and its restart from its append-only file brings everything
//! back; a single-server `REDIS_URL` at a cluster node is refused at start
//! with the setting to use instead, and cluster URLs at a plain server too.
//!
//! Without `redis-server` the tests print `SKIPPED` and pass, unless
//! `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use process::{ServerProcess, post};
use redis_support::RedisCluster;
use serde_json::{Value, json};
use server::{ADMIN, KeyFilePath};

const BINARY: &str = env!("CARGO_BIN_EXE_vaulttoken-server");

/// The server run with `settings` until it exits (at most 30 s); its exit
/// code and stderr.
fn run_to_exit(settings: &[(&str, &str)]) -> (Option<i32>, String) {
    let file = KeyFilePath::new();
    let mut all = vec![("VAULTTOKEN_LISTEN", "127.0.0.1:0")];
    all.extend_from_slice(settings);
    let mut child = Command::new(BINARY)
        .env_clear()
        .envs(server::vars(&file, &all))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not exit: it started on a cluster node's URL");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_single_server_url_at_a_cluster_node_is_refused_naming_the_cluster_setting() {
    if !redis_support::redis_available("a_single_server_url_at_a_cluster_node_is_refused") {
        return;
    }
    let cluster = redis_support::RedisCluster::start();
    let url = cluster.urls()[0].clone();
    let (code, stderr) = run_to_exit(&[("REDIS_URL", &url)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(stderr.contains("Redis Cluster node"), "{stderr}");
    assert!(stderr.contains("REDIS_CLUSTER_URLS"), "{stderr}");
    assert!(!stderr.contains(&url), "the URL is never echoed: {stderr}");
    // Nothing was written to the cluster: the refusal comes first.
    for node in &cluster.nodes {
        assert_eq!(node.command(&["DBSIZE"]).as_deref(), Some(":0"));
    }
}

/// A server on `cluster` polling the shared ring every second, with
/// `extra` settings; only the first of a fleet may create the key ring.
fn start(cluster: &RedisCluster, create: bool, extra: &[(&str, &str)]) -> ServerProcess {
    let urls = cluster.urls().join(",");
    let mut settings = vec![
        (
            "VAULTTOKEN_KEYRING_CREATE",
            if create { "true" } else { "false" },
        ),
        ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
        ("REDIS_CLUSTER_URLS", urls.as_str()),
    ];
    settings.extend_from_slice(extra);
    ServerProcess::start_with(&settings)
}

fn issue(server: &ServerProcess, subject: &str) -> Value {
    let (status, body) = post(server, "/token", &json!({"subject": subject}));
    assert_eq!(status, 200, "{body}");
    body
}

/// `active` of a token on `server` (the status must be 200).
fn active(server: &ServerProcess, token: &Value) -> bool {
    let (status, body) = post(server, "/token/introspect", &json!({"token": token}));
    assert_eq!(status, 200, "{body}");
    body["active"].as_bool().unwrap()
}

/// The `{s:…}` hash tags of the subject keys each node holds.
fn subject_tags(cluster: &RedisCluster) -> Vec<BTreeSet<String>> {
    cluster
        .nodes
        .iter()
        .map(|node| {
            node.cli(&["--scan", "--pattern", "vaulttoken:{s:*"])
                .lines()
                .filter_map(|key| key.split_once('{')?.1.split_once('}'))
                .map(|(tag, _)| tag.to_owned())
                .collect()
        })
        .collect()
}

/// Issues a pair for each subject on `server`, one after the other, and
/// finds the node that holds each subject's keys (the node where its new
/// hash tag appeared).
fn issue_and_locate(
    server: &ServerProcess,
    cluster: &RedisCluster,
    subjects: &[&str],
) -> Vec<(String, usize, Value)> {
    let mut known: BTreeSet<String> = subject_tags(cluster).into_iter().flatten().collect();
    subjects
        .iter()
        .map(|subject| {
            let pair = issue(server, subject);
            let tags = subject_tags(cluster);
            let (node, tag) = tags
                .iter()
                .enumerate()
                .find_map(|(node, tags)| {
                    tags.iter()
                        .find(|tag| !known.contains(*tag))
                        .map(|tag| (node, tag.clone()))
                })
                .expect("the subject's keys appeared on a node");
            known.insert(tag);
            ((*subject).to_owned(), node, pair)
        })
        .collect()
}

fn rotate(server: &ServerProcess) -> (u16, Value) {
    let bearer = format!("Bearer {ADMIN}");
    let now = json!({"immediately": true});
    server.request(
        "POST",
        "/keys/rotate",
        &[("Authorization", &bearer)],
        Some(&now),
    )
}

#[test]
fn two_instances_on_a_cluster_share_tokens_a_refresh_race_revocations_and_rotations() {
    if !redis_support::redis_available("two_instances_on_a_cluster_share_tokens") {
        return;
    }
    let cluster = RedisCluster::start();
    let a = start(&cluster, true, &[]);
    // B has no key file and may not create one: its keys come from the cluster.
    let b = start(&cluster, false, &[]);
    assert_eq!(
        a.request("GET", "/keys", &[], None).1,
        b.request("GET", "/keys", &[], None).1
    );

    // Issued on A, valid on B, for subjects on every primary.
    let subjects = [
        "ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ivy",
    ];
    let located = issue_and_locate(&a, &cluster, &subjects);
    let nodes: BTreeSet<usize> = located.iter().map(|(_, node, _)| *node).collect();
    assert!(nodes.len() >= 2, "the subjects spread over the primaries");
    for (_, _, pair) in &located {
        assert!(active(&b, &pair["access_token"]));
    }

    // A refresh race over both instances: exactly one winner.
    let pair = issue(&a, "racer");
    let token = pair["refresh_token"].clone();
    let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..16)
            .map(|index| {
                let server = if index % 2 == 0 { &a } else { &b };
                let token = token.clone();
                scope
                    .spawn(move || post(server, "/token/refresh", &json!({"refresh_token": token})))
            })
            .collect();
        racers
            .into_iter()
            .map(|racer| racer.join().unwrap())
            .collect()
    });
    let winners = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    for (status, body) in &outcomes {
        assert!(
            *status == 200 || (*status == 400 && body["error"] == "invalid_grant"),
            "{status} {body}"
        );
    }

    // A revocation on B holds on A.
    let pair = issue(&a, "bob");
    let (status, _) = post(&b, "/token/revoke", &json!({"token": pair["access_token"]}));
    assert_eq!(status, 200);
    assert!(!active(&a, &pair["access_token"]));

    // A rotation on A reaches B by the poll, and B verifies A's new tokens.
    let (status, rotated) = rotate(&a);
    assert_eq!(status, 200, "{rotated}");
    let new_kid = rotated["active"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while server::active_kid(&b.request("GET", "/keys", &[], None).1) != Some(new_kid.as_str()) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B never took up the rotation"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let fresh = issue(&a, "carol");
    assert!(active(&b, &fresh["access_token"]));
    // The ring is one key, on one primary.
    assert!(cluster.node_holding("vaulttoken:server:keys").is_some());
}

#[test]
fn instances_with_a_revocation_mirror_on_a_cluster_see_revocations_within_its_bound() {
    if !redis_support::redis_available("instances_with_a_revocation_mirror_on_a_cluster") {
        return;
    }
    const BOUND: Duration = Duration::from_millis(500);
    let cluster = RedisCluster::start();
    let mirror = [("VAULTTOKEN_MIRROR_MAX_STALENESS_MS", "500")];
    let a = start(&cluster, true, &mirror);
    let b = start(&cluster, false, &mirror);
    let subjects = ["ann", "ben", "cat", "dan", "eve", "fay"];
    let located = issue_and_locate(&a, &cluster, &subjects);
    let nodes: BTreeSet<usize> = located.iter().map(|(_, node, _)| *node).collect();
    assert!(nodes.len() >= 2, "the subjects spread over the primaries");
    for (_, _, pair) in &located {
        assert!(active(&b, &pair["access_token"]));
        let (status, _) = post(&a, "/token/revoke", &json!({"token": pair["access_token"]}));
        assert_eq!(status, 200);
        let revoked = Instant::now();
        while active(&b, &pair["access_token"]) {
            assert!(revoked.elapsed() < BOUND, "B still active past the bound");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert!(a.log().contains("with a revocation mirror"), "{}", a.log());
}

#[test]
fn rate_limits_on_a_cluster_are_counted_across_instances() {
    if !redis_support::redis_available("rate_limits_on_a_cluster") {
        return;
    }
    let cluster = RedisCluster::start();
    let limits = [
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "0"),
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "3"),
        ("VAULTTOKEN_RATE_LIMIT_WINDOW_SECS", "3600"),
    ];
    let a = start(&cluster, true, &limits);
    let b = start(&cluster, false, &limits);
    for server in [&a, &b, &a] {
        issue(server, "limited");
    }
    for server in [&b, &a] {
        let (status, body) = post(server, "/token", &json!({"subject": "limited"}));
        assert_eq!(status, 429, "{body}");
    }
    // One counter key, on one primary.
    assert!(
        cluster
            .node_holding("vaulttoken:server:rl:client:web:*")
            .is_some()
    );
}

/// A request's answer and how long it took.
fn timed(call: impl FnOnce() -> (u16, Value)) -> ((u16, Value), Duration) {
    let started = Instant::now();
    let answer = call();
    (answer, started.elapsed())
}

#[test]
fn a_lost_primary_fails_only_its_subjects_and_its_restart_from_aof_brings_them_back() {
    if !redis_support::redis_available("a_lost_primary_fails_only_its_subjects") {
        return;
    }
    let mut cluster = RedisCluster::start_durable();
    // Rate limits off: their counters sit on one primary, and a request
    // counted there would answer 503 whatever its subject (they fail closed).
    // The first start writes 16384 epoch markers, each fsync'd: give it
    // time on a loaded machine.
    let settings = [
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "0"),
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "0"),
        ("VAULTTOKEN_REDIS_CONNECT_TIMEOUT_MS", "60000"),
    ];
    let a = start(&cluster, true, &settings);
    let b = start(&cluster, false, &settings);
    let subjects = [
        "ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ivy",
    ];
    let located = issue_and_locate(&a, &cluster, &subjects);
    // The primary of the first subject goes; at least one subject is elsewhere.
    let lost = located[0].1;
    assert!(located.iter().any(|(_, node, _)| *node != lost));
    let on_lost = |node: &usize| *node == lost;

    // Per subject: a live access token, a revoked one, and a refresh token
    // already rotated once (spent: presenting it again is reuse, which
    // revokes the family).
    struct Case {
        subject: String,
        node: usize,
        live: Value,
        revoked: Value,
        spent_refresh: Value,
    }
    let cases: Vec<Case> = located
        .into_iter()
        .map(|(subject, node, pair)| {
            let other = issue(&a, &subject);
            let (status, _) = post(
                &b,
                "/token/revoke",
                &json!({"token": other["access_token"]}),
            );
            assert_eq!(status, 200);
            let (status, rotated) = post(
                &b,
                "/token/refresh",
                &json!({"refresh_token": pair["refresh_token"]}),
            );
            assert_eq!(status, 200, "{rotated}");
            Case {
                subject,
                node,
                live: rotated["access_token"].clone(),
                revoked: other["access_token"].clone(),
                spent_refresh: pair["refresh_token"].clone(),
            }
        })
        .collect();

    cluster.nodes[lost].kill();
    let mut slowest = Duration::ZERO;
    for case in &cases {
        for server in [&a, &b] {
            let checks = [json!({"token": case.live}), json!({"token": case.revoked})];
            for body in checks {
                let ((status, answer), took) = timed(|| post(server, "/token/introspect", &body));
                slowest = slowest.max(took);
                if on_lost(&case.node) {
                    assert_eq!(status, 503, "{}: {answer}", case.subject);
                    assert_eq!(answer["error"], "temporarily_unavailable");
                } else {
                    assert_eq!(status, 200, "{}: {answer}", case.subject);
                    assert_eq!(answer["active"], body["token"] == case.live);
                }
            }
            // New tokens: only for the subjects of the primaries still up.
            let ((status, answer), took) =
                timed(|| post(server, "/token", &json!({"subject": case.subject})));
            slowest = slowest.max(took);
            let expected = if on_lost(&case.node) { 503 } else { 200 };
            assert_eq!(status, expected, "{}: {answer}", case.subject);
        }
    }
    // A spent refresh token is never taken for a live one: reuse (which
    // revokes its family) where its primary is up, nothing decided where not.
    for case in &cases {
        let ((status, answer), took) = timed(|| {
            post(
                &a,
                "/token/refresh",
                &json!({"refresh_token": case.spent_refresh}),
            )
        });
        slowest = slowest.max(took);
        if on_lost(&case.node) {
            assert_eq!(status, 503, "{}: {answer}", case.subject);
        } else {
            assert_eq!(status, 400, "{}: {answer}", case.subject);
            assert_eq!(answer["error"], "invalid_grant");
            assert!(!active(&b, &case.live), "{}", case.subject);
        }
    }
    eprintln!("slowest answer with one primary down: {slowest:?}");
    assert!(slowest < Duration::from_secs(3), "{slowest:?}");

    // The primary comes back from its append-only file.
    cluster.restart_node_from_disk(lost);
    let back = Instant::now();
    let first_lost = cases.iter().find(|case| on_lost(&case.node)).unwrap();
    for server in [&a, &b] {
        loop {
            let (status, _) = post(
                server,
                "/token/introspect",
                &json!({"token": first_lost.live}),
            );
            if status == 200 {
                break;
            }
            assert_eq!(status, 503);
            assert!(back.elapsed() < Duration::from_secs(20), "no recovery");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!(
        "both instances answer for the restarted primary's subjects {:?} after the cluster is ok again",
        back.elapsed()
    );
    // Everything as before the loss: nothing was decided for the restarted
    // primary's subjects meanwhile, so their live tokens are live, their
    // revoked ones revoked, and their spent refresh tokens still spent.
    for case in &cases {
        for server in [&a, &b] {
            assert_eq!(
                active(server, &case.live),
                on_lost(&case.node),
                "{}",
                case.subject
            );
            assert!(!active(server, &case.revoked), "{}", case.subject);
        }
        if on_lost(&case.node) {
            let (status, answer) = post(
                &b,
                "/token/refresh",
                &json!({"refresh_token": case.spent_refresh}),
            );
            assert_eq!((status, &answer["error"]), (400, &json!("invalid_grant")));
            assert!(!active(&a, &case.live), "{}", case.subject);
        }
    }
    // Fresh pairs work for every subject again.
    for case in &cases {
        issue(&b, &case.subject);
    }
}

#[test]
fn cluster_urls_at_a_plain_server_are_refused_naming_the_single_server_setting() {
    if !redis_support::redis_available("cluster_urls_at_a_plain_server_are_refused") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let (code, stderr) = run_to_exit(&[("REDIS_CLUSTER_URLS", &url)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("REDIS_CLUSTER_URLS: Redis unreachable"),
        "{stderr}"
    );
    assert!(stderr.contains("set REDIS_URL instead"), "{stderr}");
    assert!(!stderr.contains(&url), "the URL is never echoed: {stderr}");
}
