//! Arbitrary text through every PASERK loader, and keys made from the input
//! bytes through every PASERK writer and back.
//!
//! Loaders: `PaserkType::of`, `KeyId::parse`, `KeyId::of_paserk`, `from_paserk`
//! for all three key types, `from_paserk_wrapped` under a fixed wrapping key,
//! `from_paserk_password` with a fixed password and tight Argon2 limits (so a
//! string carrying huge costs is refused before any work, and one within them
//! stays fast), and `from_paserk_sealed` to a fixed secret key. Nothing may
//! panic; at most the loaders of one type accept a string, and the plain types
//! only in canonical form.
//!
//! Round trip: bytes 0-31 (zero-padded) are a local key, and bytes 32-63 the seed
//! of a secret key. The local key is written as plain, id and wrapped PASERK,
//! read back to the same key, and refused by the other loaders. The slow part
//! (the secret and public keys, which need curve arithmetic, and password
//! wrapping and sealing, which need Argon2 and X25519) runs when byte 0 is a
//! multiple of 8, and for every key a loader accepted, so that most executions
//! are spent on the parsers.
//!
//! The seeds in `fuzz/seeds/paserk_parse/` were made with the fixed keys and
//! password below, so they reach the authentication checks.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vaulttoken::error::PaserkType;
use vaulttoken::paserk::{KeyId, PasswordLimits, PasswordParams};
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey};

/// The wrapping key of the `*-wrap.pie` seeds.
const WRAPPING_KEY: [u8; 32] = [
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
];
/// The seed of the secret key the `seal` seeds are sealed to.
const SEAL_SEED: [u8; 32] = [
    0xb4, 0xcb, 0xfb, 0x43, 0xdf, 0x4c, 0xe2, 0x10, 0x72, 0x7d, 0x95, 0x3e, 0x4a, 0x71, 0x33, 0x07,
    0xfa, 0x19, 0xbb, 0x7d, 0x9f, 0x85, 0x04, 0x14, 0x38, 0xd9, 0xe1, 0x1b, 0x94, 0x2a, 0x37, 0x74,
];
/// The password of the `*-pw` seeds (made with 64 KiB, 1 iteration, 1 lane).
const PASSWORD: &[u8] = b"fuzz-password";

struct Fixed {
    wrapping: LocalKey,
    other_wrapping: LocalKey,
    seal_secret: SecretKey,
    seal_public: PublicKey,
    /// Tight: Argon2 at these costs takes well under a millisecond.
    limits: PasswordLimits,
    /// The cheapest valid costs, for the round trip.
    params: PasswordParams,
}

static FIXED: LazyLock<Fixed> = LazyLock::new(|| {
    let seal_secret = SecretKey::from_seed(&SEAL_SEED).expect("32-byte seed");
    Fixed {
        wrapping: LocalKey::from_bytes(&WRAPPING_KEY).expect("32-byte key"),
        other_wrapping: LocalKey::from_bytes(&[0x55; 32]).expect("32-byte key"),
        seal_public: seal_secret.public_key(),
        seal_secret,
        limits: PasswordLimits::default()
            .max_memory_bytes(64 * 1024)
            .max_iterations(1)
            .max_parallelism(1),
        params: PasswordParams::new(8 * 1024, 1, 1).expect("minimal Argon2 costs"),
    }
});

fuzz_target!(|data: &[u8]| {
    let fixed = &*FIXED;
    load_everything(&String::from_utf8_lossy(data), fixed);
    let thorough = data.first().is_some_and(|byte| byte % 8 == 0);
    round_trip(data, fixed, thorough);
});

fn load_everything(text: &str, fixed: &Fixed) {
    let kind = PaserkType::of(text);
    match &kind {
        Ok(kind) => {
            assert!(text.starts_with(kind.header()));
            assert_eq!(format!("{kind}."), kind.header());
        }
        Err(error) => {
            let _ = format!("{error} {error:?}");
        }
    }
    let kind = kind.ok();

    let local = LocalKey::from_paserk(text);
    let public = PublicKey::from_paserk(text);
    let secret = SecretKey::from_paserk(text);
    let id = KeyId::parse(text);
    let id_of = KeyId::of_paserk(text);
    let local_wrapped = LocalKey::from_paserk_wrapped(text, &fixed.wrapping);
    let secret_wrapped = SecretKey::from_paserk_wrapped(text, &fixed.wrapping);
    let local_pw = LocalKey::from_paserk_password(text, PASSWORD, &fixed.limits);
    let secret_pw = SecretKey::from_paserk_password(text, PASSWORD, &fixed.limits);
    let sealed = LocalKey::from_paserk_sealed(text, &fixed.seal_secret);

    let accepted = [
        (local.is_ok(), PaserkType::Local),
        (public.is_ok(), PaserkType::Public),
        (secret.is_ok(), PaserkType::Secret),
        (local_wrapped.is_ok(), PaserkType::LocalWrapPie),
        (secret_wrapped.is_ok(), PaserkType::SecretWrapPie),
        (local_pw.is_ok(), PaserkType::LocalPw),
        (secret_pw.is_ok(), PaserkType::SecretPw),
        (sealed.is_ok(), PaserkType::Seal),
    ];
    for (ok, expected) in accepted {
        if ok {
            assert_eq!(
                kind,
                Some(expected),
                "a {expected} loader accepted {text:?}"
            );
        }
    }
    for error in [
        local.as_ref().err(),
        local_wrapped.as_ref().err(),
        local_pw.as_ref().err(),
        sealed.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .chain(
        [
            secret.as_ref().err(),
            secret_wrapped.as_ref().err(),
            secret_pw.as_ref().err(),
        ]
        .into_iter()
        .flatten(),
    )
    .chain(public.as_ref().err())
    .chain(id.as_ref().err())
    .chain(id_of.as_ref().err())
    {
        let _ = format!("{error} {error:?}");
    }

    // Plain keys are accepted only in canonical form, and carry their id.
    if let Ok(key) = &local {
        let written = key.to_paserk().expect("persistent key");
        assert_eq!(written.as_str(), text);
        let id_of = id_of.as_ref().expect("a loadable key has an id");
        assert_eq!(*id_of, key.paserk_id().expect("persistent key"));
        check_local(key, fixed, true);
    }
    if let Ok(key) = &public {
        assert_eq!(key.to_paserk(), text);
        assert_eq!(
            *id_of.as_ref().expect("a loadable key has an id"),
            key.paserk_id().expect("public keys always have an id")
        );
    }
    if let Ok(key) = &secret {
        let written = key.to_paserk().expect("persistent key");
        assert_eq!(written.as_str(), text);
        assert_eq!(
            *id_of.as_ref().expect("a loadable key has an id"),
            key.paserk_id().expect("persistent key")
        );
        check_secret(key, fixed, true);
    }
    if let Ok(id_of) = &id_of {
        let expected = match kind {
            Some(PaserkType::Local) => PaserkType::Lid,
            Some(PaserkType::Public) => PaserkType::Pid,
            Some(PaserkType::Secret) => PaserkType::Sid,
            other => panic!("KeyId::of_paserk accepted a {other:?}"),
        };
        assert_eq!(id_of.kind(), expected);
        assert_eq!(
            KeyId::parse(id_of.as_str()).expect("ids parse"),
            id_of.clone()
        );
    }

    // Ids are taken as written.
    if let Ok(id) = &id {
        assert!(matches!(
            kind,
            Some(PaserkType::Lid | PaserkType::Pid | PaserkType::Sid)
        ));
        assert_eq!(Some(id.kind()), kind);
        assert_eq!(id.as_str(), text);
        assert_eq!(id.to_string(), text);
        assert_eq!(text.parse::<KeyId>().expect("FromStr agrees"), *id);
    }

    // Wrapped keys unwrap to keys that wrap again.
    if let Ok(key) = &local_wrapped {
        check_local(key, fixed, true);
    }
    if let Ok(key) = &secret_wrapped {
        check_secret(key, fixed, true);
    }
    if let Ok(key) = &local_pw {
        check_local(key, fixed, true);
    }
    if let Ok(key) = &secret_pw {
        check_secret(key, fixed, true);
    }
    if let Ok(key) = &sealed {
        check_local(key, fixed, true);
    }
}

fn round_trip(data: &[u8], fixed: &Fixed, thorough: bool) {
    let mut local_bytes = [0u8; 32];
    let mut seed = [0u8; 32];
    for (i, byte) in data.iter().take(64).enumerate() {
        if i < 32 {
            local_bytes[i] = *byte;
        } else {
            seed[i - 32] = *byte;
        }
    }
    let local = LocalKey::from_bytes(&local_bytes).expect("32-byte key");
    check_local(&local, fixed, thorough);
    if !thorough {
        return;
    }
    let secret = SecretKey::from_seed(&seed).expect("32-byte seed");
    check_secret(&secret, fixed, thorough);
    // Not every 32 bytes are a public key; those that are round-trip too.
    if let Ok(public) = PublicKey::from_bytes(&local_bytes) {
        check_public(&public);
    }
}

fn check_local(key: &LocalKey, fixed: &Fixed, thorough: bool) {
    let plain = key.to_paserk().expect("persistent key");
    assert_eq!(PaserkType::of(plain.as_str()).ok(), Some(PaserkType::Local));
    assert!(LocalKey::from_paserk(plain.as_str()).expect("reloads") == *key);
    assert!(PublicKey::from_paserk(plain.as_str()).is_err());
    assert!(SecretKey::from_paserk(plain.as_str()).is_err());
    let id = key.paserk_id().expect("persistent key");
    assert_eq!(id.kind(), PaserkType::Lid);
    assert_eq!(KeyId::of_paserk(plain.as_str()).expect("has an id"), id);
    assert_eq!(KeyId::parse(id.as_str()).expect("ids parse"), id);
    assert!(LocalKey::from_paserk(id.as_str()).is_err());

    let wrapped = key.to_paserk_wrapped(&fixed.wrapping).expect("wraps");
    assert_eq!(
        PaserkType::of(&wrapped).ok(),
        Some(PaserkType::LocalWrapPie)
    );
    assert!(LocalKey::from_paserk_wrapped(&wrapped, &fixed.wrapping).expect("unwraps") == *key);
    assert!(matches!(
        LocalKey::from_paserk_wrapped(&wrapped, &fixed.other_wrapping),
        Err(Error::Verification)
    ));
    assert!(SecretKey::from_paserk_wrapped(&wrapped, &fixed.wrapping).is_err());
    assert!(LocalKey::from_paserk(&wrapped).is_err());
    assert!(KeyId::of_paserk(&wrapped).is_err());
    if !thorough {
        return;
    }

    let password = key
        .to_paserk_password(PASSWORD, &fixed.params)
        .expect("wraps");
    assert_eq!(PaserkType::of(&password).ok(), Some(PaserkType::LocalPw));
    assert!(
        LocalKey::from_paserk_password(&password, PASSWORD, &fixed.limits).expect("unwraps")
            == *key
    );
    assert!(matches!(
        LocalKey::from_paserk_password(&password, b"not the password", &fixed.limits),
        Err(Error::Verification)
    ));
    assert!(SecretKey::from_paserk_password(&password, PASSWORD, &fixed.limits).is_err());

    let sealed = key.to_paserk_sealed(&fixed.seal_public).expect("seals");
    assert_eq!(PaserkType::of(&sealed).ok(), Some(PaserkType::Seal));
    assert!(LocalKey::from_paserk_sealed(&sealed, &fixed.seal_secret).expect("unseals") == *key);
    assert!(LocalKey::from_paserk_wrapped(&sealed, &fixed.wrapping).is_err());
}

fn check_secret(key: &SecretKey, fixed: &Fixed, thorough: bool) {
    let plain = key.to_paserk().expect("persistent key");
    assert_eq!(
        PaserkType::of(plain.as_str()).ok(),
        Some(PaserkType::Secret)
    );
    assert!(SecretKey::from_paserk(plain.as_str()).expect("reloads") == *key);
    assert!(LocalKey::from_paserk(plain.as_str()).is_err());
    let id = key.paserk_id().expect("persistent key");
    assert_eq!(id.kind(), PaserkType::Sid);
    assert_eq!(KeyId::of_paserk(plain.as_str()).expect("has an id"), id);
    assert_eq!(KeyId::parse(id.as_str()).expect("ids parse"), id);
    check_public(&key.public_key());

    let wrapped = key.to_paserk_wrapped(&fixed.wrapping).expect("wraps");
    assert_eq!(
        PaserkType::of(&wrapped).ok(),
        Some(PaserkType::SecretWrapPie)
    );
    assert!(SecretKey::from_paserk_wrapped(&wrapped, &fixed.wrapping).expect("unwraps") == *key);
    assert!(matches!(
        SecretKey::from_paserk_wrapped(&wrapped, &fixed.other_wrapping),
        Err(Error::Verification)
    ));
    assert!(LocalKey::from_paserk_wrapped(&wrapped, &fixed.wrapping).is_err());
    if !thorough {
        return;
    }

    let password = key
        .to_paserk_password(PASSWORD, &fixed.params)
        .expect("wraps");
    assert_eq!(PaserkType::of(&password).ok(), Some(PaserkType::SecretPw));
    assert!(
        SecretKey::from_paserk_password(&password, PASSWORD, &fixed.limits).expect("unwraps")
            == *key
    );
    assert!(LocalKey::from_paserk_password(&password, PASSWORD, &fixed.limits).is_err());
}

fn check_public(key: &PublicKey) {
    let plain = key.to_paserk();
    assert_eq!(PaserkType::of(&plain).ok(), Some(PaserkType::Public));
    assert_eq!(PublicKey::from_paserk(&plain).expect("reloads"), *key);
    assert!(SecretKey::from_paserk(&plain).is_err());
    let id = key.paserk_id().expect("public keys always have an id");
    assert_eq!(id.kind(), PaserkType::Pid);
    assert_eq!(KeyId::of_paserk(&plain).expect("has an id"), id);
    assert_eq!(KeyId::parse(id.as_str()).expect("ids parse"), id);
}
