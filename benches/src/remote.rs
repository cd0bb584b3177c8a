//! The fixture of the `remote_keys` bench and of the `remote-*` callgrind
//! operations: one `v4.public` token with a known `kid`, decoded by
//! `decode_async` through the same key ring twice: by a service with the
//! ring alone, and by the service of a real `RemoteKeySet` following that
//! ring (whose staleness check, `RemoteKeys::vouch`, every decode runs
//! first). The key set is served once from a loopback port and the
//! follower's refresher never runs during the timed loop (its runtime is
//! idle), so the loop times the hit path and nothing else.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::keyring::{KeySet, SigningKeyRing};
use vaulttoken::service::VerifiedToken;
use vaulttoken::{Claims, PublicService, SecretKey};
use vaulttoken_keyset::RemoteKeySet;

use crate::extractor::ready;

/// The issuer the key set names.
const ISSUER: &str = "https://auth.example.com";

/// The token, the two services, and what keeps the follower alive.
pub struct Fixture {
    /// A token whose `kid` the ring holds.
    pub token: String,
    ring_alone: PublicService,
    following: PublicService,
    _keys: RemoteKeySet,
    _runtime: tokio::runtime::Runtime,
}

/// Serves `document` to one request on a loopback port; returns its URL.
fn serve_once(document: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/keys", listener.local_addr().expect("bound"));
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the follower's request");
        let _ = stream.read(&mut [0; 4096]);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            document.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(document.as_bytes());
    });
    url
}

impl Fixture {
    /// A fixed key and token (fixed times, as in the other fixtures), its
    /// key set served once, and the follower built from it.
    ///
    /// # Panics
    ///
    /// If the fixture cannot be built or the token does not verify.
    #[must_use]
    pub fn new() -> Self {
        let lifetime = Duration::days(365 * 20);
        let signing = Arc::new(SigningKeyRing::new(lifetime).expect("a ring"));
        let id = signing
            .add(SecretKey::from_seed_array(&crate::ED25519_SEED))
            .expect("a key");
        signing.promote(&id).expect("active");
        let document = KeySet::of_ring(ISSUER, Duration::days(1), &*signing)
            .expect("a key set")
            .to_json();
        let at = |unix| OffsetDateTime::from_unix_timestamp(unix).expect("in range");
        let claims = Claims::builder()
            .subject("alice@example.com")
            .issuer(ISSUER)
            .issued_at(at(1_704_067_200)) // 2024-01-01
            .expires_at(at(2_177_452_800)) // 2039-01-01
            .build()
            .expect("claims");
        let token = PublicService::from_ring(signing)
            .build()
            .encode(&claims)
            .expect("a token");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let keys = runtime
            .block_on(
                RemoteKeySet::builder(serve_once(document))
                    .issuer(ISSUER)
                    .max_token_lifetime(core::time::Duration::from_secs(
                        lifetime.whole_seconds().unsigned_abs(),
                    ))
                    .build(),
            )
            .expect("the key set");
        let fixture = Self {
            token,
            ring_alone: PublicService::from_ring(keys.ring()).build(),
            following: keys.service(),
            _keys: keys,
            _runtime: runtime,
        };
        assert_eq!(
            fixture.ring_alone().claims(),
            fixture.following().claims(),
            "both paths verify the token alike"
        );
        fixture
    }

    /// `decode_async` by the service with the ring alone.
    ///
    /// # Panics
    ///
    /// If the token does not verify.
    #[must_use]
    pub fn ring_alone(&self) -> VerifiedToken {
        ready(self.ring_alone.decode_async(black_box(&self.token))).expect("valid")
    }

    /// `decode_async` by the service following the remote key set.
    ///
    /// # Panics
    ///
    /// If the token does not verify.
    #[must_use]
    pub fn following(&self) -> VerifiedToken {
        ready(self.following.decode_async(black_box(&self.token))).expect("valid")
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
