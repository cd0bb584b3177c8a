//! PASERK k4 interop with Python's `pyseto`, both ways, through
//! `tests/interop/pyseto_peer.py` (JSON lines over stdin and stdout; byte strings
//! as hex): `k4.local`, `k4.public` and `k4.secret` strings and their
//! `lid`/`pid`/`sid` ids, keys wrapped with a local key (`pie`) or a password
//! (`pw`, at small Argon2 costs), and local keys sealed to a public key
//! (`k4.seal`). A wrong wrapping key, password or recipient is refused on both
//! sides.
//!
//! Without `python3` or the `pyseto` module each test prints a `SKIPPED interop
//! with pyseto: ...` line to stderr and passes, unless `VAULTTOKEN_REQUIRE_INTEROP=1`
//! is set, which CI does: then a missing peer fails the test.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use common::pyseto::{ask, assert_refused, ok};
use common::{hex, unhex};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::{Value, json};
use vaulttoken::error::{PaserkError, PaserkType};
use vaulttoken::paserk::{KeyId, PasswordLimits, PasswordParams};
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey, error::KeyError};

/// Local keys: the official v4 vectors' key (its base64url has a `-`) and all
/// 0xff (its base64url has `_`), fixed so that a failure reproduces.
const LOCAL_KEYS_HEX: [&str; 2] = [
    "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];
/// Ed25519 seeds: the official v4 vectors' seed, and another.
const SEEDS_HEX: [&str; 2] = [
    "b4cbfb43df4ce210727d953e4a713307fa19bb7d9f85041438d9e11b942a3774",
    "0707070707070707070707070707070707070707070707070707070707070707",
];
/// The key that wraps keys in `k4.*-wrap.pie`, and a different one.
const WRAPPING_KEY_HEX: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const WRONG_WRAPPING_KEY_HEX: &str =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbec0";
/// Non-ASCII, so that the password's bytes (not some re-encoding) are what count.
const PASSWORD: &[u8] = "correct horse battery stäple".as_bytes();
const WRONG_PASSWORD: &[u8] = "correct horse battery staple".as_bytes();
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

fn local_keys() -> Vec<LocalKey> {
    LOCAL_KEYS_HEX
        .iter()
        .map(|key| LocalKey::from_hex(key).unwrap())
        .collect()
}

fn secret_keys() -> Vec<SecretKey> {
    SEEDS_HEX
        .iter()
        .map(|seed| SecretKey::from_seed(&unhex(seed)).unwrap())
        .collect()
}

fn wrapping_key() -> LocalKey {
    LocalKey::from_hex(WRAPPING_KEY_HEX).unwrap()
}

fn seed_hex(secret: &SecretKey) -> String {
    hex(secret.expose_seed().unwrap().as_bytes())
}

/// Seed ‖ public key, as hex: what the peer answers as the `key` of a secret key.
fn keypair_hex(secret: &SecretKey) -> String {
    hex(secret.expose_secret_bytes().unwrap().as_bytes())
}

fn local_paserk(key: &LocalKey) -> String {
    key.to_paserk().unwrap().as_str().to_owned()
}

fn secret_paserk(key: &SecretKey) -> String {
    key.to_paserk().unwrap().as_str().to_owned()
}

/// Asserts that `paserk` is of type `kind` and that the peer's id for it is the
/// id vaulttoken computes, both from the key and from the string.
fn assert_same_id(paserk: &str, peer_id: &str, ours: &KeyId, kind: PaserkType) {
    assert_eq!(peer_id, ours.as_str(), "id of {paserk}");
    assert_eq!(&KeyId::of_paserk(paserk).unwrap(), ours);
    let parsed = KeyId::parse(peer_id).unwrap();
    assert_eq!(parsed.kind(), kind);
    assert_eq!(&parsed, ours);
}

#[test]
fn plain_paserks_from_pyseto_load_in_vaulttoken_with_the_same_ids() {
    let (locals, secrets) = (local_keys(), secret_keys());
    let mut requests = Vec::new();
    for key in LOCAL_KEYS_HEX {
        requests.push(json!({"op": "paserk_local", "key": key}));
    }
    for secret in &secrets {
        requests.push(json!({"op": "paserk_public", "public_key": secret.public_key().to_hex()}));
        requests.push(json!({"op": "paserk_secret", "seed": seed_hex(secret)}));
    }
    let Some(answers) = ask(&requests) else {
        return;
    };
    let (local_answers, asymmetric_answers) = answers.split_at(locals.len());

    for (key, answer) in locals.iter().zip(local_answers) {
        let paserk = ok(answer, "paserk");
        assert!(paserk.starts_with("k4.local."), "{paserk}");
        assert_eq!(&LocalKey::from_paserk(paserk).unwrap(), key);
        assert_eq!(paserk, local_paserk(key));
        let lid = key.paserk_id().unwrap();
        assert_same_id(paserk, ok(answer, "id"), &lid, PaserkType::Lid);
    }
    for (secret, pair) in secrets.iter().zip(asymmetric_answers.chunks(2)) {
        let public = secret.public_key();
        let public_paserk = ok(&pair[0], "paserk");
        assert!(public_paserk.starts_with("k4.public."), "{public_paserk}");
        assert_eq!(PublicKey::from_paserk(public_paserk).unwrap(), public);
        assert_eq!(public_paserk, public.to_paserk());
        let pid = public.paserk_id().unwrap();
        assert_same_id(public_paserk, ok(&pair[0], "id"), &pid, PaserkType::Pid);

        let secret_text = ok(&pair[1], "paserk");
        assert!(secret_text.starts_with("k4.secret."), "{secret_text}");
        assert_eq!(&SecretKey::from_paserk(secret_text).unwrap(), secret);
        assert_eq!(secret_text, secret_paserk(secret));
        let sid = secret.paserk_id().unwrap();
        assert_same_id(secret_text, ok(&pair[1], "id"), &sid, PaserkType::Sid);
        // pyseto's "peer id" of a secret key is its public key's pid.
        assert_eq!(ok(&pair[1], "public_id"), pid.as_str());
    }
}

#[test]
fn plain_paserks_from_vaulttoken_load_in_pyseto_with_the_same_ids() {
    let (locals, secrets) = (local_keys(), secret_keys());
    let mut expected = Vec::new();
    for key in &locals {
        let bytes = hex(key.expose_secret_bytes().unwrap().as_bytes());
        expected.push((local_paserk(key), bytes, key.paserk_id().unwrap()));
    }
    for secret in &secrets {
        let public = secret.public_key();
        expected.push((
            public.to_paserk(),
            public.to_hex(),
            public.paserk_id().unwrap(),
        ));
        expected.push((
            secret_paserk(secret),
            keypair_hex(secret),
            secret.paserk_id().unwrap(),
        ));
    }
    let requests: Vec<Value> = expected
        .iter()
        .map(|(paserk, _, _)| json!({"op": "paserk_read", "paserk": paserk}))
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    for ((paserk, key, id), answer) in expected.iter().zip(&answers) {
        assert_eq!(ok(answer, "key"), key, "{paserk}");
        assert_eq!(ok(answer, "paserk"), paserk);
        assert_eq!(ok(answer, "id"), id.as_str(), "id of {paserk}");
    }
}

#[test]
fn keys_wrapped_by_pyseto_unwrap_in_vaulttoken() {
    let (locals, secrets) = (local_keys(), secret_keys());
    let wrap = |paserk: String| json!({"op": "paserk_wrap", "paserk": paserk, "wrapping_key": WRAPPING_KEY_HEX});
    let mut requests: Vec<Value> = locals.iter().map(|key| wrap(local_paserk(key))).collect();
    requests.extend(secrets.iter().map(|key| wrap(secret_paserk(key))));
    let Some(answers) = ask(&requests) else {
        return;
    };
    let (local_answers, secret_answers) = answers.split_at(locals.len());
    let (wrapping, wrong) = (
        wrapping_key(),
        LocalKey::from_hex(WRONG_WRAPPING_KEY_HEX).unwrap(),
    );

    for (key, answer) in locals.iter().zip(local_answers) {
        let wrapped = ok(answer, "paserk");
        assert_eq!(PaserkType::of(wrapped).unwrap(), PaserkType::LocalWrapPie);
        assert_eq!(
            &LocalKey::from_paserk_wrapped(wrapped, &wrapping).unwrap(),
            key
        );
        assert!(matches!(
            LocalKey::from_paserk_wrapped(wrapped, &wrong),
            Err(Error::Verification)
        ));
    }
    for (key, answer) in secrets.iter().zip(secret_answers) {
        let wrapped = ok(answer, "paserk");
        assert_eq!(PaserkType::of(wrapped).unwrap(), PaserkType::SecretWrapPie);
        assert_eq!(
            &SecretKey::from_paserk_wrapped(wrapped, &wrapping).unwrap(),
            key
        );
        assert!(matches!(
            SecretKey::from_paserk_wrapped(wrapped, &wrong),
            Err(Error::Verification)
        ));
    }
}

#[test]
fn keys_wrapped_by_vaulttoken_unwrap_in_pyseto() {
    let (locals, secrets) = (local_keys(), secret_keys());
    let wrapping = wrapping_key();
    let mut expected = Vec::new();
    for key in &locals {
        let bytes = hex(key.expose_secret_bytes().unwrap().as_bytes());
        let wrapped = key.to_paserk_wrapped(&wrapping).unwrap();
        expected.push((wrapped, local_paserk(key), bytes));
    }
    for key in &secrets {
        let wrapped = key.to_paserk_wrapped(&wrapping).unwrap();
        expected.push((wrapped, secret_paserk(key), keypair_hex(key)));
    }
    let unwrap = |wrapped: &str, wrapping_key: &str| json!({"op": "paserk_unwrap", "paserk": wrapped, "wrapping_key": wrapping_key});
    let mut requests = Vec::new();
    for (wrapped, _, _) in &expected {
        requests.push(unwrap(wrapped, WRAPPING_KEY_HEX));
        requests.push(unwrap(wrapped, WRONG_WRAPPING_KEY_HEX));
    }
    let Some(answers) = ask(&requests) else {
        return;
    };
    for ((wrapped, plain, key), pair) in expected.iter().zip(answers.chunks(2)) {
        assert_eq!(ok(&pair[0], "key"), key, "{wrapped}");
        assert_eq!(ok(&pair[0], "paserk"), plain);
        assert_refused(&pair[1], "DecryptError");
    }
}

/// pyseto takes Argon2 memory in KiB and writes it in bytes, as PASERK says; the
/// limits prove which number vaulttoken read: a limit one KiB below 8 MiB
/// refuses the string, and one lane refuses its two.
#[test]
fn keys_password_wrapped_by_pyseto_unwrap_in_vaulttoken() {
    let (local, secret) = (local_keys().remove(0), secret_keys().remove(0));
    let wrap = |paserk: String| {
        json!({
            "op": "paserk_password_wrap",
            "paserk": paserk,
            "password": hex(PASSWORD),
            "memory_kib": 8 * 1024,
            "time_cost": 2,
            "parallelism": 2,
        })
    };
    let requests = [wrap(local_paserk(&local)), wrap(secret_paserk(&secret))];
    let Some(answers) = ask(&requests) else {
        return;
    };
    let limits = PasswordLimits::default();
    let (local_wrapped, secret_wrapped) = (ok(&answers[0], "paserk"), ok(&answers[1], "paserk"));
    assert_eq!(PaserkType::of(local_wrapped).unwrap(), PaserkType::LocalPw);
    assert_eq!(
        PaserkType::of(secret_wrapped).unwrap(),
        PaserkType::SecretPw
    );

    assert_eq!(
        LocalKey::from_paserk_password(local_wrapped, PASSWORD, &limits).unwrap(),
        local
    );
    assert_eq!(
        SecretKey::from_paserk_password(secret_wrapped, PASSWORD, &limits).unwrap(),
        secret
    );
    assert!(matches!(
        LocalKey::from_paserk_password(local_wrapped, WRONG_PASSWORD, &limits),
        Err(Error::Verification)
    ));
    assert!(matches!(
        SecretKey::from_paserk_password(secret_wrapped, WRONG_PASSWORD, &limits),
        Err(Error::Verification)
    ));

    let just_below = limits.max_memory_bytes(8 * MIB - KIB);
    assert!(matches!(
        LocalKey::from_paserk_password(local_wrapped, PASSWORD, &just_below),
        Err(Error::Paserk(PaserkError::PasswordCostTooHigh {
            parameter: "memory_bytes",
            ..
        }))
    ));
    let exactly = limits.max_memory_bytes(8 * MIB).max_iterations(2);
    assert_eq!(
        LocalKey::from_paserk_password(local_wrapped, PASSWORD, &exactly).unwrap(),
        local
    );
    for (tight, parameter) in [
        (limits.max_iterations(1), "iterations"),
        (limits.max_parallelism(1), "parallelism"),
    ] {
        assert!(
            matches!(
                SecretKey::from_paserk_password(secret_wrapped, PASSWORD, &tight),
                Err(Error::Paserk(PaserkError::PasswordCostTooHigh { parameter: p, .. }))
                    if p == parameter
            ),
            "{parameter}"
        );
    }
}

#[test]
fn keys_password_wrapped_by_vaulttoken_unwrap_in_pyseto() {
    let (local, secret) = (local_keys().remove(0), secret_keys().remove(0));
    let params = PasswordParams::new(16 * MIB, 1, 1).unwrap();
    let local_wrapped = local.to_paserk_password(PASSWORD, &params).unwrap();
    let secret_wrapped = secret.to_paserk_password(PASSWORD, &params).unwrap();
    let unwrap = |wrapped: &str, password: &[u8]| json!({"op": "paserk_password_unwrap", "paserk": wrapped, "password": hex(password)});
    let requests = [
        unwrap(&local_wrapped, PASSWORD),
        unwrap(&secret_wrapped, PASSWORD),
        unwrap(&local_wrapped, WRONG_PASSWORD),
        unwrap(&secret_wrapped, WRONG_PASSWORD),
    ];
    let Some(answers) = ask(&requests) else {
        return;
    };
    assert_eq!(
        ok(&answers[0], "key"),
        hex(local.expose_secret_bytes().unwrap().as_bytes())
    );
    assert_eq!(ok(&answers[0], "paserk"), local_paserk(&local));
    assert_eq!(ok(&answers[1], "key"), keypair_hex(&secret));
    assert_eq!(ok(&answers[1], "paserk"), secret_paserk(&secret));
    assert_refused(&answers[2], "DecryptError");
    assert_refused(&answers[3], "DecryptError");
}

/// pyseto seals to, and unseals with, X25519 keys; the peer maps the recipient's
/// Ed25519 keys to them (see `pyseto_seal_uses_the_ed25519_key_as_if_it_were_x25519`).
#[test]
fn local_keys_sealed_by_pyseto_unseal_in_vaulttoken() {
    let (locals, secrets) = (local_keys(), secret_keys());
    let recipient = &secrets[0];
    let requests: Vec<Value> = locals
        .iter()
        .map(|key| {
            json!({
                "op": "paserk_seal",
                "paserk": local_paserk(key),
                "public_key": recipient.public_key().to_hex(),
                "key_form": "x25519",
            })
        })
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    for (key, answer) in locals.iter().zip(&answers) {
        let sealed = ok(answer, "paserk");
        assert_eq!(PaserkType::of(sealed).unwrap(), PaserkType::Seal);
        assert_eq!(
            &LocalKey::from_paserk_sealed(sealed, recipient).unwrap(),
            key
        );
        assert!(matches!(
            LocalKey::from_paserk_sealed(sealed, &secrets[1]),
            Err(Error::Verification)
        ));
    }
}

#[test]
fn local_keys_sealed_by_vaulttoken_unseal_in_pyseto() {
    let (locals, secrets) = (local_keys(), secret_keys());
    let recipient = &secrets[0];
    let unseal = |sealed: &str, secret: &SecretKey| {
        json!({
            "op": "paserk_unseal",
            "paserk": sealed,
            "seed": seed_hex(secret),
            "key_form": "x25519",
        })
    };
    let mut requests = Vec::new();
    for key in &locals {
        let sealed = key.to_paserk_sealed(&recipient.public_key()).unwrap();
        requests.push(unseal(&sealed, recipient));
        requests.push(unseal(&sealed, &secrets[1]));
    }
    let Some(answers) = ask(&requests) else {
        return;
    };
    for (key, pair) in locals.iter().zip(answers.chunks(2)) {
        assert_eq!(
            ok(&pair[0], "key"),
            hex(key.expose_secret_bytes().unwrap().as_bytes())
        );
        assert_eq!(ok(&pair[0], "paserk"), local_paserk(key));
        assert_refused(&pair[1], "DecryptError");
    }
}

/// A disagreement: PASERK's `k4.seal` seals to the recipient's Ed25519 public
/// key, mapped to X25519 inside the operation (the official vectors give Ed25519
/// keys). pyseto 1.10.0 instead reads the PEM key's raw bytes as an X25519 key:
/// handed the Ed25519 key pair itself it raises nothing, but seals to an X25519
/// key nobody holds (the Edwards `y` read as a Montgomery `u`) and unseals with
/// the seed as the X25519 scalar. Its strings then fail to open in vaulttoken,
/// and vaulttoken's in pyseto; only the X25519 forms (the tests above) interoperate.
#[test]
fn pyseto_seal_uses_the_ed25519_key_as_if_it_were_x25519() {
    let (local, recipient) = (local_keys().remove(0), secret_keys().remove(0));
    let sealed = local.to_paserk_sealed(&recipient.public_key()).unwrap();
    let requests = [
        json!({
            "op": "paserk_seal",
            "paserk": local_paserk(&local),
            "public_key": recipient.public_key().to_hex(),
            "key_form": "ed25519",
        }),
        json!({
            "op": "paserk_unseal",
            "paserk": sealed,
            "seed": seed_hex(&recipient),
            "key_form": "ed25519",
        }),
    ];
    let Some(answers) = ask(&requests) else {
        return;
    };
    let theirs = ok(&answers[0], "paserk");
    assert_eq!(PaserkType::of(theirs).unwrap(), PaserkType::Seal);
    assert!(matches!(
        LocalKey::from_paserk_sealed(theirs, &recipient),
        Err(Error::Verification)
    ));
    assert_refused(&answers[1], "DecryptError");
}

/// A disagreement: pyseto 1.10.0 loads plain PASERKs that vaulttoken refuses,
/// because it checks neither length, canonical base64url, weak public keys nor
/// that a `k4.secret`'s public half belongs to its seed (it keeps the seed and
/// derives a new public half, so the same string gets a different `sid` on each
/// side). Each string below is refused by vaulttoken with the exact reason.
#[test]
fn pyseto_loads_plain_paserks_that_vaulttoken_refuses() {
    let other = secret_keys().remove(1);
    let mut pair = *secret_keys()[0].expose_secret_bytes().unwrap().as_bytes();
    pair[32..].copy_from_slice(other.public_key().as_bytes());
    let mismatched = format!("k4.secret.{}", Base64UrlUnpadded::encode_string(&pair));
    let zeros = "A".repeat(43);
    let short = format!("k4.local.{}", "A".repeat(22));
    let non_canonical = format!("k4.local.{}B", &zeros[..42]);
    let padded = format!("k4.local.{zeros}=");
    let weak = format!("k4.public.{zeros}");
    let cases = [&short, &non_canonical, &padded, &weak, &mismatched];
    let requests: Vec<Value> = cases
        .iter()
        .map(|paserk| json!({"op": "paserk_read", "paserk": paserk}))
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    for (paserk, answer) in cases.iter().zip(&answers) {
        assert_eq!(answer["ok"], true, "pyseto now refuses {paserk}: {answer}");
    }
    // pyseto re-derives the public half: its sid is not the sid of the string.
    assert_ne!(ok(&answers[4], "paserk"), mismatched);
    assert_ne!(
        ok(&answers[4], "id"),
        KeyId::of_paserk(&mismatched).unwrap().as_str()
    );

    assert!(matches!(
        LocalKey::from_paserk(&short),
        Err(Error::Paserk(PaserkError::Length {
            expected: 43,
            found: 22
        }))
    ));
    assert!(matches!(
        LocalKey::from_paserk(&non_canonical),
        Err(Error::Paserk(PaserkError::Encoding))
    ));
    assert!(matches!(
        LocalKey::from_paserk(&padded),
        Err(Error::Paserk(PaserkError::Length {
            expected: 43,
            found: 44
        }))
    ));
    assert!(matches!(
        PublicKey::from_paserk(&weak),
        Err(Error::InvalidKey(KeyError::WeakPublicKey))
    ));
    assert!(matches!(
        SecretKey::from_paserk(&mismatched),
        Err(Error::InvalidKey(KeyError::KeyPairMismatch))
    ));
}
