//! Connecting: the version and eviction-policy check, bad URLs and options,
//! unreachable servers, and what `Debug` and errors never show.

use std::time::Duration;

use vaulttoken_redis::{
    ConnectError, EvictionPolicy, MINIMUM_VERSION, RedisStore, ServerVersion, StoreOptions,
};
use vaulttoken_test_redis::{RedisServer, redis_available};

const BOUND: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_version_and_noeviction_are_reported() {
    if !redis_available("the_server_version_and_noeviction_are_reported") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        let check = store.server_check();
        assert!(check.version >= MINIMUM_VERSION);
        let info = server.cli(&["INFO", "server"]);
        let reported = info
            .lines()
            .find_map(|line| line.trim().strip_prefix("redis_version:"))
            .expect("redis_version");
        assert_eq!(check.version.to_string(), reported);
        assert_eq!(check.eviction_policy, EvictionPolicy::NoEviction);
        assert!(!check.eviction_policy.may_evict());
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_server_is_reported_as_evicting() {
    if !redis_available("an_evicting_server_is_reported_as_evicting") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("an evicting server is usable, with a warning");
        assert_eq!(
            store.server_check().eviction_policy,
            EvictionPolicy::Evicts("allkeys-lru".into())
        );
        assert!(store.server_check().eviction_policy.may_evict());
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_config_get_is_unchecked() {
    if !redis_available("a_server_without_config_get_is_unchecked") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        // As on managed services, CONFIG is not available.
        let server = RedisServer::start_with(&["--rename-command", "CONFIG", ""]);
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        assert_eq!(
            store.server_check().eviction_policy,
            EvictionPolicy::Unchecked
        );
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unreachable_without_the_url() {
    tokio::time::timeout(BOUND, async {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("address")
            .port();
        let url = format!("redis://user:hunter2@127.0.0.1:{port}");
        let options = StoreOptions::default().connect_timeout(Duration::from_secs(1));
        let error = RedisStore::connect(&url, options)
            .await
            .expect_err("nothing listens");
        assert!(
            matches!(
                error,
                ConnectError::Unreachable { .. } | ConnectError::Timeout { .. }
            ),
            "{error:?}"
        );
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains(&port.to_string()), "{shown}");
        }
    })
    .await
    .expect("bounded in time");
}

#[tokio::test]
async fn bad_urls_and_options_are_refused_before_connecting() {
    let error = RedisStore::connect(
        "http://user:hunter2@example.invalid",
        StoreOptions::default(),
    )
    .await
    .expect_err("not a Redis URL");
    assert_eq!(error, ConnectError::InvalidUrl);
    assert!(!format!("{error} {error:?}").contains("hunter2"));

    let error = RedisStore::connect_cluster(["not a url"], StoreOptions::default())
        .await
        .expect_err("not a Redis URL");
    assert_eq!(error, ConnectError::InvalidUrl);
    let error = RedisStore::connect_cluster(Vec::<String>::new(), StoreOptions::default())
        .await
        .expect_err("no node");
    assert!(
        matches!(error, ConnectError::InvalidOptions { .. }),
        "{error:?}"
    );

    let braces = StoreOptions::default().prefix("app{1}");
    let error = RedisStore::connect("redis://127.0.0.1:1", braces.clone())
        .await
        .expect_err("braces in the prefix");
    assert!(
        matches!(error, ConnectError::InvalidOptions { .. }),
        "{error:?}"
    );
    let error = RedisStore::connect_cluster(["redis://127.0.0.1:1"], braces)
        .await
        .expect_err("braces in the prefix");
    assert!(
        matches!(error, ConnectError::InvalidOptions { .. }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_shows_the_setup_but_no_credentials() {
    if !redis_available("debug_shows_the_setup_but_no_credentials") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start_with(&["--requirepass", "hunter2"]);
        let url = format!("redis://:hunter2@127.0.0.1:{}", server.port());
        let store = RedisStore::connect(&url, StoreOptions::default().prefix("dbg"))
            .await
            .expect("connect with the password");
        let shown = format!("{store:?}");
        assert!(
            shown.contains("single server") && shown.contains("dbg"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(&server.port().to_string()), "{shown}");

        let wrong = format!("redis://:wrong@127.0.0.1:{}", server.port());
        let error = RedisStore::connect(&wrong, StoreOptions::default())
            .await
            .expect_err("wrong password");
        assert_eq!(
            error,
            ConnectError::Unreachable {
                reason: "authentication failed".into()
            }
        );
    })
    .await
    .expect("bounded in time");
}

#[test]
fn versions_before_6_2_are_too_old() {
    let error = ConnectError::ServerTooOld {
        found: ServerVersion::new(6, 0, 9),
    };
    assert!(error.to_string().contains("6.2.0"));
}
