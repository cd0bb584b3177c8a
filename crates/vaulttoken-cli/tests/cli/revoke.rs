//! `revoke`, `revoke-family`, `revoke-subject` against a real `redis-server`
//! on loopback, then checked through the library: a service with that
//! `RedisStore` denies the token. Without redis-server each test says so and
//! passes, unless `VAULTTOKEN_REQUIRE_REDIS=1`.

use std::sync::Arc;

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::Denial;
use vaulttoken::service::VerifiedToken;
use vaulttoken::store::{NewFamily, TokenStore as _};
use vaulttoken::{Error, LocalKey, LocalService};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

use crate::support::{
    Dir, Secrets, encrypt, local_key_file, run, secret_key_files, sign, stderr, stdout, vaulttoken,
};

/// Decodes `token` with a service that checks the store at `url`.
fn decode_with_store(key: &LocalKey, url: &str, token: &str) -> Result<VerifiedToken, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = RedisStore::connect(url, StoreOptions::default())
            .await
            .unwrap();
        let key = LocalKey::from_bytes(key.expose_secret_bytes().unwrap().as_bytes()).unwrap();
        let service = LocalService::builder(key)
            .rules(vaulttoken::rules::RuleSet::default().accept_any_audience())
            .store(Arc::new(store))
            .build();
        service.decode_async(token).await
    })
}

/// Creates a live refresh family in the store, through the library.
fn create_family(url: &str, subject: &str, id: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = RedisStore::connect(url, StoreOptions::default())
            .await
            .unwrap();
        let now = SystemClock.now();
        let family = NewFamily::new(subject, id, now, now + vaulttoken::time::Duration::days(1));
        store.create_family(&family).await.unwrap();
    });
}

/// Uses a new Redis once, as a service does before it issues tokens: the
/// store's state (its epoch) begins then, and it refuses tokens issued before.
fn first_use(url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(RedisStore::connect(url, StoreOptions::default()))
        .unwrap();
}

fn denied(result: Result<VerifiedToken, Error>, denial: Denial) {
    assert!(
        matches!(&result, Err(Error::Denied(found)) if *found == denial),
        "expected {denial:?}: {result:?}"
    );
}

#[test]
fn revoke_jti_is_seen_by_the_library_and_by_verify() {
    if !redis_available("revoke_jti_is_seen_by_the_library_and_by_verify") {
        return;
    }
    let server = RedisServer::start();
    first_use(&server.url());
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let token = encrypt(
        &key_file,
        &["--sub", "alice", "--jti", "j-7", "--exp", "10m"],
    );
    let other = encrypt(
        &key_file,
        &["--sub", "alice", "--jti", "j-8", "--exp", "10m"],
    );
    assert!(decode_with_store(&key, &server.url(), &token).is_ok());
    let decrypt = |token: &str, code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--redis"])
                .arg(server.url())
                .arg("--key-file")
                .arg(&key_file)
                .arg(token),
            code,
        )
    };
    decrypt(&token, 0);

    let output = run(
        vaulttoken()
            .args([
                "revoke", "j-7", "--sub", "alice", "--until", "15m", "--redis",
            ])
            .arg(server.url()),
        0,
    );
    assert!(stdout(&output).contains("revoked jti j-7"));
    denied(
        decode_with_store(&key, &server.url(), &token),
        Denial::Revoked,
    );
    assert!(decode_with_store(&key, &server.url(), &other).is_ok());
    let output = decrypt(&token, 4);
    assert!(stderr(&output).contains("revoked"), "{}", stderr(&output));
    decrypt(&other, 0);

    // REDIS_URL, as the server reads it, without --redis.
    let from_env = |url: &str, code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--key-file"])
                .arg(&key_file)
                .arg(&token)
                .env("REDIS_URL", url),
            code,
        )
    };
    let output = from_env(&server.url(), 4);
    assert!(stderr(&output).contains("revoked"), "{}", stderr(&output));
    // Set but empty: no store, as for the server.
    from_env("", 0);
}

#[test]
fn revoke_a_token_file_reads_its_jti_sub_and_exp_after_verifying_it() {
    if !redis_available("revoke_a_token_file_reads_its_jti_sub_and_exp_after_verifying_it") {
        return;
    }
    let server = RedisServer::start();
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &["--sub", "bob", "--jti", "t-1"]);
    let token_file = dir.write("stolen.txt", &token);
    // REDIS_URL from the environment.
    let output = run(
        vaulttoken()
            .args(["--json", "revoke", "--token"])
            .arg(&token_file)
            .arg("--key-file")
            .arg(&key_file)
            .env("REDIS_URL", server.url()),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["jti"], "t-1");
    assert_eq!(report["sub"], "bob");
    denied(
        decode_with_store(&key, &server.url(), &token),
        Denial::Revoked,
    );

    // A token from another key is not revoked: it does not verify.
    let (other, other_file) = local_key_file(&dir, "other");
    let forged = dir.write(
        "forged.txt",
        &encrypt(&other_file, &["--sub", "bob", "--jti", "t-2"]),
    );
    let output = run(
        vaulttoken()
            .args(["revoke", "--token"])
            .arg(&forged)
            .arg("--key-file")
            .arg(&key_file)
            .arg("--redis")
            .arg(server.url()),
        1,
    );
    Secrets::default()
        .local(&key)
        .local(&other)
        .assert_absent(&output);
    // A token without a jti cannot be revoked alone.
    let anonymous = dir.write("anon.txt", &encrypt(&key_file, &["--sub", "bob"]));
    run(
        vaulttoken()
            .args(["revoke", "--token"])
            .arg(&anonymous)
            .arg("--key-file")
            .arg(&key_file)
            .arg("--redis")
            .arg(server.url()),
        64,
    );
}

#[test]
fn revoke_family_and_revoke_subject_are_seen_by_the_library() {
    if !redis_available("revoke_family_and_revoke_subject_are_seen_by_the_library") {
        return;
    }
    let server = RedisServer::start();
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    create_family(&server.url(), "carol", "fam-9");
    let family_token = encrypt(
        &key_file,
        &["--sub", "carol", "--jti", "f-1", "--claim", "fam=fam-9"],
    );
    assert!(decode_with_store(&key, &server.url(), &family_token).is_ok());
    run(
        vaulttoken()
            .args(["revoke-family", "fam-9", "--sub", "carol", "--redis"])
            .arg(server.url()),
        0,
    );
    denied(
        decode_with_store(&key, &server.url(), &family_token),
        Denial::FamilyRevoked,
    );

    let laptop = encrypt(&key_file, &["--sub", "dave", "--jti", "d-1"]);
    let phone = encrypt(&key_file, &["--sub", "dave", "--jti", "d-2"]);
    let erin = encrypt(&key_file, &["--sub", "erin", "--jti", "e-1"]);
    run(
        vaulttoken()
            .args([
                "revoke-subject",
                "dave",
                "--before",
                "now",
                "--until",
                "2h",
                "--redis",
            ])
            .arg(server.url()),
        0,
    );
    // A cutoff in the past leaves today's tokens alone.
    let output = run(
        vaulttoken()
            .args([
                "--json",
                "revoke-subject",
                "erin",
                "--before",
                "2000-01-01T00:00:00Z",
                "--redis",
            ])
            .arg(server.url()),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["before"], "2000-01-01T00:00:00Z");
    assert_eq!(report["until"], "9999-12-31T23:59:59Z");
    denied(
        decode_with_store(&key, &server.url(), &laptop),
        Denial::IssuedBeforeCutoff,
    );
    denied(
        decode_with_store(&key, &server.url(), &phone),
        Denial::IssuedBeforeCutoff,
    );
    assert!(decode_with_store(&key, &server.url(), &erin).is_ok());
}

#[test]
fn revocations_must_name_their_subject_or_say_there_is_none() {
    if !redis_available("revocations_must_name_their_subject_or_say_there_is_none") {
        return;
    }
    let server = RedisServer::start();
    run(
        vaulttoken()
            .args(["revoke", "j", "--until", "1h", "--redis"])
            .arg(server.url()),
        64,
    );
    run(
        vaulttoken()
            .args(["revoke-family", "f", "--redis"])
            .arg(server.url()),
        64,
    );
    run(
        vaulttoken()
            .args([
                "revoke", "j", "--until", "1h", "--sub", "a", "--no-sub", "--redis",
            ])
            .arg(server.url()),
        64,
    );
    // Tokens without a subject.
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &["--jti", "nobody-1"]);
    run(
        vaulttoken()
            .args(["revoke", "nobody-1", "--no-sub", "--until", "1h", "--redis"])
            .arg(server.url()),
        0,
    );
    denied(
        decode_with_store(&key, &server.url(), &token),
        Denial::Revoked,
    );
    run(
        vaulttoken()
            .args(["revoke", "x", "--sub", "a", "--until", "someday", "--redis"])
            .arg(server.url()),
        64,
    );
}

#[test]
fn an_unreachable_store_exits_5() {
    // A loopback port with nothing listening (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    for args in [
        vec!["revoke", "j", "--sub", "a", "--until", "1h"],
        vec!["revoke-family", "f", "--no-sub"],
        vec!["revoke-subject", "a", "--before", "now"],
    ] {
        run(vaulttoken().args(&args).arg("--redis").arg(&url), 5);
    }
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &["--jti", "x"]);
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .arg("--redis")
            .arg(&url)
            .arg(&token),
        5,
    );
    // decrypt and verify read REDIS_URL as the server does: the store is
    // asked, and cannot answer.
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .arg(&token)
            .env("REDIS_URL", &url),
        5,
    );
    let (_, signing, public) = secret_key_files(&dir, "s");
    run(
        vaulttoken()
            .args(["verify", "--any-audience", "--key-file"])
            .arg(&public)
            .arg(sign(&signing, &["--jti", "y"]))
            .env("REDIS_URL", &url),
        5,
    );
    // An empty --redis (`--redis "$REDIS_URL"`, the variable unset) is
    // refused, not read as "no store".
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--redis", "", "--key-file"])
            .arg(&key_file)
            .arg(&token),
        64,
    );
    // The key is loaded first: a missing key is reported as such (66).
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(dir.path("missing.key"))
            .arg("--redis")
            .arg(&url)
            .arg(&token),
        66,
    );
    // A URL that is not one is a usage error.
    run(
        vaulttoken().args(["revoke-family", "f", "--no-sub", "--redis", "not a url"]),
        64,
    );
    // No store named at all.
    run(vaulttoken().args(["revoke-family", "f", "--no-sub"]), 64);
}
