//! A proxy in the environment (`HTTP_PROXY`, `ALL_PROXY`) is never offered a
//! plain-`http` fetch of a loopback key set: that exception to `https` holds
//! only because the bytes never leave the host. The environment is set on a
//! child process running this binary's loopback fetch, so no test's
//! environment changes under another.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/issuer.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod issuer;
#[path = "support/keyserver.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod keyserver;

use std::io::Read as _;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vaulttoken_keyset::RemoteKeySet;

use self::issuer::{ISSUER, Issuer, bounded};
use self::keyserver::KeyServer;

/// A fetch of a loopback key set, whatever the environment: it reaches the
/// key server and its key verifies.
#[tokio::test]
async fn a_loopback_key_set_is_fetched_from_the_key_server() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(60)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .build()
            .await
            .unwrap_or_else(|err| panic!("the fetch did not reach the key server: {err}"));
        keys.service().decode(&issuer.token()).unwrap();
        assert_eq!(server.requests(), 1);
    })
    .await;
}

/// An https fetch from a port where nothing answers TLS: it fails, whether
/// it is made directly or through a proxy.
#[tokio::test]
async fn an_https_fetch_of_a_dead_address_fails() {
    bounded(async {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/keys", closed.local_addr().unwrap());
        drop(closed);
        let built = RemoteKeySet::builder(url)
            .issuer(ISSUER)
            .fetch_timeout(Duration::from_secs(2))
            .build()
            .await;
        assert!(built.is_err());
    })
    .await;
}

/// Runs the test `name` of this binary in a child process whose
/// environment names a counting proxy for every scheme: whether the child
/// passed, its report, and how many connections the proxy was offered.
fn under_a_proxy(name: &str) -> (bool, String, usize) {
    // A "proxy" that counts the connections it is offered and answers none.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let offered = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&offered);
    std::thread::spawn(move || {
        for stream in proxy.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let names = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name])
        .envs(names.map(|name| (name, &proxy_url)))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child hangs"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut report = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    (status.success(), report, offered.load(Ordering::SeqCst))
}

#[test]
fn a_proxy_in_the_environment_is_not_offered_a_loopback_fetch() {
    let (passed, report, offered) =
        under_a_proxy("a_loopback_key_set_is_fetched_from_the_key_server");
    assert_eq!(offered, 0, "the proxy was offered the fetch: {report}");
    assert!(passed, "the loopback fetch failed under a proxy: {report}");
}

#[test]
fn an_https_fetch_goes_through_the_proxy_the_environment_names() {
    let (passed, report, offered) = under_a_proxy("an_https_fetch_of_a_dead_address_fails");
    assert!(passed, "{report}");
    assert!(
        offered >= 1,
        "the proxy was not offered the https fetch: {report}"
    );
}
