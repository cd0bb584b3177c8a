//! PASERK k4 interop with the `pasetors` crate (a dev-dependency, with its
//! `paserk` feature), both ways. pasetors 0.8 implements the plain types
//! (`k4.local`, `k4.public`, `k4.secret`) and the ids (`k4.lid`, `k4.pid`,
//! `k4.sid`), but no wrapping (`pie`, `pw`) and no `k4.seal`, so those are
//! covered against pyseto (`tests/interop_paserk_python.rs`) only.
//!
//! Strings either library writes must load in the other as the same key, read
//! back identically, and give the same id; strings of another type or version,
//! non-canonical base64url and a `k4.secret` with a foreign public half are
//! refused by both.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use common::unhex;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use pasetors::errors::Error as PasetorsError;
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey, SymmetricKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken as PasetorsUntrusted;
use pasetors::version4::{LocalToken, PublicToken, V4};
use vaulttoken::error::{PaserkError, PaserkType};
use vaulttoken::paserk::KeyId;
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey, error::KeyError, v4};

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
const MESSAGE: &[u8] = br#"{"sub":"user-42"}"#;

/// vaulttoken's local keys, and pasetors' view of each.
fn local_keys() -> Vec<(LocalKey, SymmetricKey<V4>)> {
    LOCAL_KEYS_HEX
        .iter()
        .map(|hex| {
            let ours = LocalKey::from_hex(hex).unwrap();
            let bytes = ours.expose_secret_bytes().unwrap();
            let theirs = SymmetricKey::<V4>::from(bytes.as_bytes()).unwrap();
            (ours, theirs)
        })
        .collect()
}

/// vaulttoken's secret keys, and pasetors' view of each (seed ‖ public key).
fn secret_keys() -> Vec<(SecretKey, AsymmetricSecretKey<V4>)> {
    SEEDS_HEX
        .iter()
        .map(|hex| {
            let ours = SecretKey::from_seed(&unhex(hex)).unwrap();
            let bytes = ours.expose_secret_bytes().unwrap();
            let theirs = AsymmetricSecretKey::<V4>::from(bytes.as_bytes()).unwrap();
            (ours, theirs)
        })
        .collect()
}

fn their_public(secret: &AsymmetricSecretKey<V4>) -> AsymmetricPublicKey<V4> {
    AsymmetricPublicKey::<V4>::try_from(secret).unwrap()
}

/// pasetors' PASERK string for `value` (a key or an id).
fn paserk_of(value: &dyn FormatAsPaserk) -> String {
    let mut out = String::new();
    value.fmt(&mut out).unwrap();
    out
}

#[test]
fn local_paserks_from_pasetors_load_in_vaulttoken() {
    for (ours, theirs) in local_keys() {
        let text = paserk_of(&theirs);
        assert!(text.starts_with("k4.local."), "{text}");
        assert_eq!(text, ours.to_paserk().unwrap().as_str());
        let loaded = LocalKey::from_paserk(&text).unwrap();
        assert_eq!(loaded, ours);
        // The loaded key opens what pasetors' key sealed.
        let token = LocalToken::encrypt(&theirs, MESSAGE, None, None).unwrap();
        assert_eq!(
            v4::local::decrypt(&loaded, &token, None, b"").unwrap(),
            MESSAGE
        );
    }
}

#[test]
fn local_paserks_from_vaulttoken_load_in_pasetors() {
    for (ours, theirs) in local_keys() {
        let text = ours.to_paserk().unwrap();
        let loaded = SymmetricKey::<V4>::try_from(text.as_str()).unwrap();
        assert_eq!(loaded.as_bytes(), theirs.as_bytes());
        assert_eq!(paserk_of(&loaded), text.as_str());
        let token = v4::local::encrypt(&ours, MESSAGE, b"", b"").unwrap();
        let untrusted = PasetorsUntrusted::<pasetors::Local, V4>::try_from(&token).unwrap();
        let trusted = LocalToken::decrypt(&loaded, &untrusted, None, None).unwrap();
        assert_eq!(trusted.payload().as_bytes(), MESSAGE);
    }
}

#[test]
fn public_and_secret_paserks_from_pasetors_load_in_vaulttoken() {
    for (ours, theirs) in secret_keys() {
        let secret_text = paserk_of(&theirs);
        assert!(secret_text.starts_with("k4.secret."), "{secret_text}");
        assert_eq!(secret_text, ours.to_paserk().unwrap().as_str());
        let loaded = SecretKey::from_paserk(&secret_text).unwrap();
        assert_eq!(loaded, ours);

        let public_text = paserk_of(&their_public(&theirs));
        assert!(public_text.starts_with("k4.public."), "{public_text}");
        assert_eq!(public_text, ours.public_key().to_paserk());
        let public = PublicKey::from_paserk(&public_text).unwrap();
        assert_eq!(public, ours.public_key());

        // Ed25519 is deterministic: the loaded key signs exactly as pasetors does,
        // and the loaded public key verifies it.
        let token = PublicToken::sign(&theirs, MESSAGE, None, None).unwrap();
        assert_eq!(v4::public::sign(&loaded, MESSAGE, b"", b"").unwrap(), token);
        assert_eq!(
            v4::public::verify(&public, &token, None, b"").unwrap(),
            MESSAGE
        );
    }
}

#[test]
fn public_and_secret_paserks_from_vaulttoken_load_in_pasetors() {
    for (ours, theirs) in secret_keys() {
        let secret_text = ours.to_paserk().unwrap();
        let loaded = AsymmetricSecretKey::<V4>::try_from(secret_text.as_str()).unwrap();
        assert_eq!(loaded.as_bytes(), theirs.as_bytes());
        assert_eq!(paserk_of(&loaded), secret_text.as_str());

        let public_text = ours.public_key().to_paserk();
        let public = AsymmetricPublicKey::<V4>::try_from(public_text.as_str()).unwrap();
        assert_eq!(public.as_bytes(), ours.public_key().as_bytes());
        assert_eq!(paserk_of(&public), public_text);

        let token = PublicToken::sign(&loaded, MESSAGE, None, None).unwrap();
        assert_eq!(token, v4::public::sign(&ours, MESSAGE, b"", b"").unwrap());
        let untrusted = PasetorsUntrusted::<pasetors::Public, V4>::try_from(&token).unwrap();
        let trusted = PublicToken::verify(&public, &untrusted, None, None).unwrap();
        assert_eq!(trusted.payload().as_bytes(), MESSAGE);
    }
}

/// Asserts that pasetors' `id` and vaulttoken's `ours` are the same id of type
/// `kind`, for the key whose PASERK string is `paserk`, and that each library
/// parses the other's id text.
fn assert_same_id(theirs: &Id, ours: &KeyId, kind: PaserkType, paserk: &str) {
    let their_text = paserk_of(theirs);
    assert_eq!(their_text, ours.as_str(), "id of {paserk}");
    assert_eq!(&KeyId::of_paserk(paserk).unwrap(), ours);
    let parsed = KeyId::parse(&their_text).unwrap();
    assert_eq!(parsed.kind(), kind);
    assert_eq!(&parsed, ours);
    assert_eq!(&Id::try_from(ours.as_str()).unwrap(), theirs);
}

#[test]
fn lid_pid_and_sid_agree_between_pasetors_and_vaulttoken() {
    for (ours, theirs) in local_keys() {
        let paserk = paserk_of(&theirs);
        let lid = ours.paserk_id().unwrap();
        assert_same_id(&Id::from(&theirs), &lid, PaserkType::Lid, &paserk);
    }
    for (ours, theirs) in secret_keys() {
        let paserk = paserk_of(&theirs);
        let sid = ours.paserk_id().unwrap();
        assert_same_id(&Id::from(&theirs), &sid, PaserkType::Sid, &paserk);

        let their_public = their_public(&theirs);
        let paserk = paserk_of(&their_public);
        let pid = ours.public_key().paserk_id().unwrap();
        assert_same_id(&Id::from(&their_public), &pid, PaserkType::Pid, &paserk);
    }
}

/// The same 32 bytes as a `k4.local` and as a `k4.public` key have different
/// ids, in both libraries alike: the id hashes the header with the data.
#[test]
fn lid_and_pid_of_the_same_bytes_differ_in_both_libraries() {
    let (secret, _) = secret_keys().remove(0);
    let public = secret.public_key();
    let as_local = LocalKey::from_bytes(public.as_bytes()).unwrap();
    let their_local = SymmetricKey::<V4>::from(public.as_bytes()).unwrap();
    let their_public = AsymmetricPublicKey::<V4>::from(public.as_bytes()).unwrap();

    let (lid, pid) = (as_local.paserk_id().unwrap(), public.paserk_id().unwrap());
    let (their_lid, their_pid) = (
        paserk_of(&Id::from(&their_local)),
        paserk_of(&Id::from(&their_public)),
    );
    assert_eq!(lid.as_str(), their_lid);
    assert_eq!(pid.as_str(), their_pid);
    assert_ne!(
        lid.as_str()["k4.lid.".len()..],
        pid.as_str()["k4.pid.".len()..]
    );
    assert_ne!(Id::from(&their_local), Id::from(&their_public));
}

/// One string of each other type or version: each library's loader must refuse
/// it (pasetors with its single `PaserkParsing`, vaulttoken with the reason).
#[test]
fn both_libraries_refuse_strings_of_another_type_or_version() {
    let (local, their_local) = local_keys().remove(0);
    let (_, their_secret) = secret_keys().remove(0);
    let local_text = paserk_of(&their_local);
    let secret_text = paserk_of(&their_secret);
    let public_text = paserk_of(&their_public(&their_secret));
    let lid = local.paserk_id().unwrap();
    let wrapped = local.to_paserk_wrapped(&local).unwrap();
    let k3 = local_text.replacen("k4.", "k3.", 1);

    let wrong_type = |result: Result<(), Error>, expected: PaserkType, found: PaserkType| {
        assert!(
            matches!(
                result,
                Err(Error::Paserk(PaserkError::WrongType { expected: e, found: f }))
                    if e == expected && f == found
            ),
            "{expected} <- {found}: {result:?}"
        );
    };
    for (text, found) in [
        (&public_text, PaserkType::Public),
        (&secret_text, PaserkType::Secret),
        (&lid.as_str().to_owned(), PaserkType::Lid),
        (&wrapped, PaserkType::LocalWrapPie),
    ] {
        assert_eq!(
            SymmetricKey::<V4>::try_from(text.as_str()).err(),
            Some(PasetorsError::PaserkParsing),
            "{text}"
        );
        wrong_type(
            LocalKey::from_paserk(text).map(drop),
            PaserkType::Local,
            found,
        );
    }
    for (text, found) in [
        (&local_text, PaserkType::Local),
        (&public_text, PaserkType::Public),
    ] {
        assert_eq!(
            AsymmetricSecretKey::<V4>::try_from(text.as_str()).err(),
            Some(PasetorsError::PaserkParsing),
            "{text}"
        );
        wrong_type(
            SecretKey::from_paserk(text).map(drop),
            PaserkType::Secret,
            found,
        );
    }
    assert_eq!(
        AsymmetricPublicKey::<V4>::try_from(secret_text.as_str()).err(),
        Some(PasetorsError::PaserkParsing)
    );
    wrong_type(
        PublicKey::from_paserk(&secret_text).map(drop),
        PaserkType::Public,
        PaserkType::Secret,
    );

    assert_eq!(
        SymmetricKey::<V4>::try_from(k3.as_str()).err(),
        Some(PasetorsError::PaserkParsing)
    );
    assert!(matches!(
        LocalKey::from_paserk(&k3),
        Err(Error::Paserk(PaserkError::UnsupportedVersion))
    ));
    // An id is not a key, and a key is not an id.
    assert_eq!(
        Id::try_from(local_text.as_str()).err(),
        Some(PasetorsError::PaserkParsing)
    );
    assert!(matches!(
        KeyId::parse(&local_text),
        Err(Error::Paserk(PaserkError::WrongType { .. }))
    ));
}

#[test]
fn both_libraries_refuse_malformed_plain_paserks() {
    let (local, _) = local_keys().remove(0);
    let text = local.to_paserk().unwrap();
    let text = text.as_str();
    let zeros = "A".repeat(43);
    let length = |found| PaserkError::Length {
        expected: 43,
        found,
    };
    // pasetors reports bad base64url as `Base64` and a wrong decoded length as
    // `PaserkParsing`; vaulttoken checks the length first.
    let cases = [
        // Non-zero trailing bits: 43 characters carry 258 bits for 256.
        (
            format!("k4.local.{}B", &zeros[..42]),
            PasetorsError::Base64,
            PaserkError::Encoding,
        ),
        (
            format!("k4.local.{}+", &zeros[..42]),
            PasetorsError::Base64,
            PaserkError::Encoding,
        ),
        (format!("{text}="), PasetorsError::Base64, length(44)),
        (
            text[..text.len() - 1].to_owned(),
            PasetorsError::Base64,
            length(42),
        ),
        (
            format!("k4.local.{}", &zeros[..22]),
            PasetorsError::PaserkParsing,
            length(22),
        ),
        (
            format!("{text}AAAA"),
            PasetorsError::PaserkParsing,
            length(47),
        ),
    ];
    for (case, theirs, ours) in cases {
        assert_eq!(
            SymmetricKey::<V4>::try_from(case.as_str()).err(),
            Some(theirs),
            "{case}"
        );
        let err = LocalKey::from_paserk(&case).unwrap_err();
        assert!(
            matches!(err, Error::Paserk(found) if found == ours),
            "{case}: {err:?}"
        );
    }
}

#[test]
fn both_libraries_refuse_a_secret_paserk_with_a_foreign_public_half() {
    let keys = secret_keys();
    let mut pair = *keys[0].0.expose_secret_bytes().unwrap().as_bytes();
    pair[32..].copy_from_slice(keys[1].0.public_key().as_bytes());
    let mismatched = format!("k4.secret.{}", Base64UrlUnpadded::encode_string(&pair));
    assert_eq!(
        AsymmetricSecretKey::<V4>::try_from(mismatched.as_str()).err(),
        Some(PasetorsError::Key)
    );
    assert!(matches!(
        SecretKey::from_paserk(&mismatched),
        Err(Error::InvalidKey(KeyError::KeyPairMismatch))
    ));
}

/// A disagreement, vaulttoken being the stricter: pasetors loads the all-zero
/// `k4.public` key (a point of small order, under which forged signatures can
/// verify), and parses as an id any 44 characters after a `k4.lid.`,
/// `k4.pid.` or `k4.sid.` header, base64url or not. vaulttoken refuses both.
#[test]
fn pasetors_loads_a_weak_public_key_and_a_non_base64url_id_that_vaulttoken_refuses() {
    let weak = format!("k4.public.{}", "A".repeat(43));
    assert!(AsymmetricPublicKey::<V4>::try_from(weak.as_str()).is_ok());
    assert!(matches!(
        PublicKey::from_paserk(&weak),
        Err(Error::InvalidKey(KeyError::WeakPublicKey))
    ));
    // Both compute the same id for it: ids hash the string, not the key.
    let their_pid = paserk_of(&Id::from(
        &AsymmetricPublicKey::<V4>::try_from(weak.as_str()).unwrap(),
    ));
    assert_eq!(KeyId::of_paserk(&weak).unwrap().as_str(), their_pid);

    let not_base64 = format!("k4.lid.{}", "!".repeat(44));
    assert!(Id::try_from(not_base64.as_str()).is_ok());
    assert!(matches!(
        KeyId::parse(&not_base64),
        Err(Error::Paserk(PaserkError::Encoding))
    ));
}
