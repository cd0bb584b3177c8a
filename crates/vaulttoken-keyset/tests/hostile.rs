//! A key-set server that fails or misbehaves: down (stale keys, then
//! unavailable), a document of another issuer or purpose, oversized and
//! never-ending answers, redirects and error statuses; and URLs refused at
//! build.

#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/issuer.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod issuer;
#[path = "support/keyserver.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod keyserver;

use std::time::{Duration, Instant};

use vaulttoken::Error;
use vaulttoken::keyring::{KeySet, LocalKeyRing, MAX_KEY_SET_LEN};
use vaulttoken_keyset::{BuildError, FetchError, RemoteKeySet};

use self::issuer::{ISSUER, Issuer, bounded};
use self::keyserver::{KeyServer, Mode};

#[tokio::test]
async fn a_server_down_gets_stale_keys_served_up_to_the_bound_then_keys_unavailable() {
    bounded(async {
        let issuer = Issuer::new();
        let mut server = KeyServer::start(issuer.document(1)).await;
        let built = Instant::now();
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .max_stale(Duration::from_secs(1))
            .min_lookup_interval(Duration::from_millis(200))
            .build()
            .await
            .unwrap();
        let service = keys.service();
        let token = issuer.token();
        server.stop().await;
        let fetches_when_stopped = keys.counts().fetches;

        // Cache time (1 s) plus the stale bound (1 s): served until then.
        let mut last_accepted = built;
        let refused = loop {
            match service.decode_async(&token).await {
                Ok(_) => last_accepted = Instant::now(),
                Err(error) => break error,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let refused_at = built.elapsed();
        assert!(matches!(refused, Error::KeysUnavailable), "{refused:?}");
        assert_eq!(refused.kind(), vaulttoken::error::ErrorKind::Unavailable);
        assert!(last_accepted.duration_since(built) > Duration::from_millis(1500));
        assert!(refused_at >= Duration::from_secs(2), "{refused_at:?}");
        assert!(refused_at < Duration::from_secs(3), "{refused_at:?}");
        // Every path refuses alike.
        assert!(matches!(
            service.decode(&token),
            Err(Error::KeysUnavailable)
        ));
        // Meanwhile the refresher retried once per minimum interval (200 ms),
        // not in a loop: about 2 s / 200 ms attempts.
        let attempts = keys.counts().fetches - fetches_when_stopped;
        assert!((1..=14).contains(&attempts), "{attempts} attempts");
        assert_eq!(keys.counts().failures, attempts);

        // Back: the next refresh vouches for the keys again.
        server.restart().await;
        let back = loop {
            if service.decode_async(&token).await.is_ok() {
                break true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(back);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_kid_while_the_server_is_down_is_unavailable_not_invalid() {
    bounded(async {
        let issuer = Issuer::new();
        let mut server = KeyServer::start(issuer.document(300)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(Duration::from_secs(5))
            .build()
            .await
            .unwrap();
        let service = keys.service();
        server.stop().await;
        let urgent = issuer.announce();
        issuer.promote(&urgent);
        let token = issuer.token();
        assert!(matches!(
            service.decode_async(&token).await,
            Err(Error::KeysUnavailable)
        ));
        // Rate-limited: the last lookup failed, so still unavailable, at once.
        assert!(matches!(
            service.decode_async(&token).await,
            Err(Error::KeysUnavailable)
        ));
        assert_eq!(keys.counts().fetches, 2);
        assert_eq!(keys.counts().failures, 1);
    })
    .await;
}

/// Follows `server` with an accelerated lookup interval.
async fn follow(server: &KeyServer) -> RemoteKeySet {
    RemoteKeySet::builder(server.url())
        .issuer(ISSUER)
        .min_lookup_interval(Duration::from_millis(100))
        .fetch_timeout(Duration::from_millis(800))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_refused_document_keeps_the_previous_keys() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let keys = follow(&server).await;
        let service = keys.service();
        let old_token = issuer.token();
        let urgent = issuer.announce();
        issuer.promote(&urgent);
        let new_token = issuer.token();

        let local = LocalKeyRing::new(time::Duration::hours(1)).unwrap();
        local
            .add(vaulttoken::LocalKey::generate().unwrap())
            .unwrap();
        let local = KeySet::of_ring(ISSUER, time::Duration::minutes(5), &local)
            .unwrap()
            .to_json();
        let refusals = [
            (
                issuer.document_as("https://evil.test", 300),
                "another issuer",
            ),
            (local, "not a public one"),
            ("{\"version\":2}".to_owned(), "`version`"),
            ("\u{0}\u{fffe}".to_owned(), "(document)"),
        ];
        for (count, (document, why)) in refusals.into_iter().enumerate() {
            server.publish(document);
            tokio::time::sleep(Duration::from_millis(150)).await;
            // The unknown kid's fetch brings the refused document: the new
            // key stays unknown, the old one keeps verifying.
            assert!(matches!(
                service.decode_async(&new_token).await,
                Err(Error::KeysUnavailable)
            ));
            service.decode_async(&old_token).await.unwrap();
            assert_eq!(keys.ring().len(), 1);
            assert_eq!(keys.counts().failures, count as u64 + 1, "{why}");
        }
        assert_eq!(keys.counts().failures, 4);
        // The right document again: the new key is learnt.
        server.publish(issuer.document(300));
        tokio::time::sleep(Duration::from_millis(150)).await;
        service.decode_async(&new_token).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn oversized_and_never_ending_answers_are_abandoned() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        for declared in [true, false] {
            server.set_mode(Mode::Oversized { declared });
            // An announced length over the limit is refused before any body
            // byte is awaited (the server sends none): not a timeout.
            let refused = RemoteKeySet::builder(server.url())
                .issuer(ISSUER)
                .fetch_timeout(Duration::from_secs(5))
                .build()
                .await
                .unwrap_err();
            assert!(
                matches!(
                    refused,
                    BuildError::FirstFetch(FetchError::TooLarge {
                        max: MAX_KEY_SET_LEN
                    })
                ),
                "{refused:?}"
            );
        }
        server.set_mode(Mode::NeverEnding);
        let started = Instant::now();
        let refused = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .fetch_timeout(Duration::from_millis(500))
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(refused, BuildError::FirstFetch(FetchError::TimedOut(_))),
            "{refused:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));

        // A follower whose server turns hostile keeps its keys.
        server.set_mode(Mode::Serve);
        let keys = follow(&server).await;
        let service = keys.service();
        let token = issuer.token();
        let urgent = issuer.announce();
        issuer.promote(&urgent);
        for mode in [Mode::Oversized { declared: false }, Mode::NeverEnding] {
            server.set_mode(mode);
            tokio::time::sleep(Duration::from_millis(150)).await;
            let started = Instant::now();
            assert!(matches!(
                service.decode_async(&issuer.token()).await,
                Err(Error::KeysUnavailable)
            ));
            assert!(started.elapsed() < Duration::from_millis(1500));
            service.decode_async(&token).await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_document_of_exactly_the_limit_is_read_announced_or_not() {
    bounded(async {
        let issuer = Issuer::new();
        let document = issuer.document(300);
        let padded = format!("{document}{}", " ".repeat(MAX_KEY_SET_LEN - document.len()));
        assert_eq!(padded.len(), MAX_KEY_SET_LEN);
        let server = KeyServer::start(padded).await;
        for mode in [Mode::Serve, Mode::ServeWithoutLength] {
            server.set_mode(mode.clone());
            let keys = RemoteKeySet::builder(server.url())
                .issuer(ISSUER)
                .build()
                .await
                .unwrap_or_else(|error| panic!("{mode:?}: {error:?}"));
            keys.service().decode_async(&issuer.token()).await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn redirects_and_error_statuses_are_refused() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let elsewhere = KeyServer::start(issuer.document(300)).await;
        server.set_mode(Mode::Redirect(elsewhere.url()));
        let refused = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(refused, BuildError::FirstFetch(FetchError::Status(307))),
            "{refused:?}"
        );
        assert_eq!(elsewhere.requests(), 0);
        for status in [404, 500, 503] {
            server.set_mode(Mode::Status(status));
            let refused = RemoteKeySet::builder(server.url())
                .issuer(ISSUER)
                .build()
                .await
                .unwrap_err();
            assert!(
                matches!(refused, BuildError::FirstFetch(FetchError::Status(s)) if s == status),
                "{refused:?}"
            );
        }
        // A 304 to a request that named no tag is no answer either.
        server.set_mode(Mode::Status(304));
        let refused = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(
            refused,
            BuildError::FirstFetch(FetchError::Status(304))
        ));
    })
    .await;
}

#[tokio::test]
async fn insecure_urls_and_incomplete_settings_are_refused_before_any_request() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let port = server.url().rsplit_once(':').unwrap().1.to_owned();
        for (url, expected) in [
            (format!("http://auth.test:{port}"), "InsecureUrl"),
            (format!("http://192.0.2.1:{port}"), "InsecureUrl"),
            (format!("ftp://127.0.0.1:{port}"), "InvalidUrl"),
            (
                format!("http://user:pw@127.0.0.1:{port}"),
                "CredentialsInUrl",
            ),
        ] {
            let refused = RemoteKeySet::builder(url.clone())
                .issuer(ISSUER)
                .build()
                .await
                .unwrap_err();
            assert_eq!(format!("{refused:?}"), expected, "{url}");
        }
        let no_issuer = RemoteKeySet::builder(server.url()).build().await;
        assert!(matches!(no_issuer, Err(BuildError::NoIssuer)));
        assert_eq!(server.requests(), 0);
    })
    .await;
}

#[tokio::test]
async fn debug_names_the_source_and_no_key() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let keys = follow(&server).await;
        let shown = format!("{keys:?}");
        assert!(shown.contains(&server.url()), "{shown}");
        assert!(shown.contains(ISSUER), "{shown}");
        assert!(shown.contains("keys: 1"), "{shown}");
        assert!(!shown.contains("k4."), "{shown}");
        let service = format!("{:?}", keys.service());
        assert!(service.contains("RemoteKeySet"), "{service}");
        assert!(!service.contains("k4.public"), "{service}");
    })
    .await;
}
