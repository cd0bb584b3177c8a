//! Hostile PASERK strings against every loader: each gets a typed error, never a
//! panic. Wrong versions, wrong types, every truncation and extension of valid
//! strings, look-alike characters, whitespace and oversized input.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use vaulttoken::error::{PaserkError, PaserkType};
use vaulttoken::paserk::{KeyId, PasswordLimits, PasswordParams};
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey};

/// One valid string of every type, made with fixed keys.
struct Fixtures {
    wrapping: LocalKey,
    sealing: SecretKey,
    strings: Vec<(PaserkType, String)>,
}

fn fixtures() -> Fixtures {
    let local = LocalKey::from_bytes(&[7; 32]).unwrap();
    let secret = SecretKey::from_seed(&[8; 32]).unwrap();
    let wrapping = LocalKey::from_bytes(&[9; 32]).unwrap();
    let sealing = SecretKey::from_seed(&[10; 32]).unwrap();
    let cheap = PasswordParams::new(8 * 1024, 1, 1).unwrap();
    let strings = vec![
        (
            PaserkType::Local,
            local.to_paserk().unwrap().as_str().to_owned(),
        ),
        (PaserkType::Public, secret.public_key().to_paserk()),
        (
            PaserkType::Secret,
            secret.to_paserk().unwrap().as_str().to_owned(),
        ),
        (PaserkType::Lid, local.paserk_id().unwrap().to_string()),
        (
            PaserkType::Pid,
            secret.public_key().paserk_id().unwrap().to_string(),
        ),
        (PaserkType::Sid, secret.paserk_id().unwrap().to_string()),
        (
            PaserkType::LocalWrapPie,
            local.to_paserk_wrapped(&wrapping).unwrap(),
        ),
        (
            PaserkType::SecretWrapPie,
            secret.to_paserk_wrapped(&wrapping).unwrap(),
        ),
        (
            PaserkType::LocalPw,
            local.to_paserk_password(b"pw", &cheap).unwrap(),
        ),
        (
            PaserkType::SecretPw,
            secret.to_paserk_password(b"pw", &cheap).unwrap(),
        ),
        (
            PaserkType::Seal,
            local.to_paserk_sealed(&sealing.public_key()).unwrap(),
        ),
    ];
    Fixtures {
        wrapping,
        sealing,
        strings,
    }
}

/// A loader that only reports success or its error.
type Loader<'a> = Box<dyn Fn(&str) -> Result<(), Error> + 'a>;

/// Every loader, with the type it accepts.
fn loaders(f: &Fixtures) -> Vec<(PaserkType, Loader<'_>)> {
    let limits = PasswordLimits::default();
    vec![
        (
            PaserkType::Local,
            Box::new(|t| LocalKey::from_paserk(t).map(drop)),
        ),
        (
            PaserkType::Public,
            Box::new(|t| PublicKey::from_paserk(t).map(drop)),
        ),
        (
            PaserkType::Secret,
            Box::new(|t| SecretKey::from_paserk(t).map(drop)),
        ),
        (PaserkType::Lid, Box::new(|t| KeyId::parse(t).map(drop))),
        (
            PaserkType::LocalWrapPie,
            Box::new(|t| LocalKey::from_paserk_wrapped(t, &f.wrapping).map(drop)),
        ),
        (
            PaserkType::SecretWrapPie,
            Box::new(|t| SecretKey::from_paserk_wrapped(t, &f.wrapping).map(drop)),
        ),
        (
            PaserkType::LocalPw,
            Box::new(move |t| LocalKey::from_paserk_password(t, b"pw", &limits).map(drop)),
        ),
        (
            PaserkType::SecretPw,
            Box::new(move |t| SecretKey::from_paserk_password(t, b"pw", &limits).map(drop)),
        ),
        (
            PaserkType::Seal,
            Box::new(|t| LocalKey::from_paserk_sealed(t, &f.sealing).map(drop)),
        ),
    ]
}

fn is_id(kind: PaserkType) -> bool {
    matches!(kind, PaserkType::Lid | PaserkType::Pid | PaserkType::Sid)
}

#[test]
fn every_loader_accepts_its_own_type() {
    let f = fixtures();
    for (accepts, load) in loaders(&f) {
        for (kind, text) in &f.strings {
            if *kind == accepts || (is_id(accepts) && is_id(*kind)) {
                assert!(load(text).is_ok(), "{accepts} refused its own {kind}");
            }
        }
    }
}

#[test]
fn no_loader_accepts_another_type() {
    let f = fixtures();
    for (accepts, load) in loaders(&f) {
        for (kind, text) in &f.strings {
            if *kind == accepts || (is_id(accepts) && is_id(*kind)) {
                continue;
            }
            let err = load(text).unwrap_err();
            assert!(
                matches!(err, Error::Paserk(PaserkError::WrongType { found, .. }) if found == *kind),
                "{accepts} given {kind}: {err:?}"
            );
        }
    }
}

#[test]
fn other_versions_and_non_paserk_text_are_named() {
    let f = fixtures();
    for (accepts, load) in loaders(&f) {
        for (_, text) in &f.strings {
            for version in ["k1.", "k2.", "k3.", "k5.", "k40."] {
                let other = text.replacen("k4.", version, 1);
                let err = load(&other).unwrap_err();
                assert!(
                    matches!(err, Error::Paserk(PaserkError::UnsupportedVersion)),
                    "{accepts} given {other}: {err:?}"
                );
            }
        }
        for junk in [
            "",
            ".",
            "k4",
            "k4.",
            "K4.local.AAAA",
            "v4.local.AAAA",
            "k4.unknown.AAAA",
        ] {
            let err = load(junk).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Paserk(PaserkError::NotPaserk | PaserkError::UnknownType)
                ),
                "{accepts} given {junk:?}: {err:?}"
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let f = fixtures();
    for (accepts, load) in loaders(&f) {
        let own = f
            .strings
            .iter()
            .filter(|(kind, _)| *kind == accepts || (is_id(accepts) && *kind == PaserkType::Lid));
        for (_, text) in own {
            let header = PaserkType::of(text).unwrap().header().len();
            for cut in header..text.len() {
                let err = load(&text[..cut]).unwrap_err();
                assert!(
                    matches!(err, Error::Paserk(PaserkError::Length { .. })),
                    "{accepts} cut at {cut}: {err:?}"
                );
            }
            for extra in ["A", "AA", "AAAA", "=", "==", " ", "\n", ".", ".AAAA"] {
                let err = load(&format!("{text}{extra}")).unwrap_err();
                assert!(
                    matches!(err, Error::Paserk(PaserkError::Length { .. })),
                    "{accepts} + {extra:?}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn characters_outside_strict_base64url_are_refused() {
    let f = fixtures();
    for (accepts, load) in loaders(&f) {
        let Some((_, text)) = f.strings.iter().find(|(kind, _)| *kind == accepts) else {
            continue;
        };
        let header = PaserkType::of(text).unwrap().header().len();
        // Same length, one character replaced: '+', '/', '=', space, and a
        // look-alike letter outside ASCII (two bytes, so the length changes).
        for bad in ['+', '/', '=', ' ', '\0'] {
            let mut chars: Vec<char> = text.chars().collect();
            chars[header + 3] = bad;
            let altered: String = chars.into_iter().collect();
            let err = load(&altered).unwrap_err();
            assert!(
                matches!(err, Error::Paserk(PaserkError::Encoding)),
                "{accepts} with {bad:?}: {err:?}"
            );
        }
        // The first data character replaced by a Cyrillic "А" (two bytes).
        let cyrillic = format!("{}А{}", &text[..header], &text[header + 1..]);
        let err = load(&cyrillic).unwrap_err();
        assert!(
            matches!(err, Error::Paserk(PaserkError::Length { .. })),
            "{accepts}: {err:?}"
        );
    }
}

#[test]
fn a_megabyte_of_data_is_refused_by_length_alone() {
    let f = fixtures();
    let huge = "A".repeat(1 << 20);
    for (accepts, load) in loaders(&f) {
        let text = format!("{}{huge}", accepts.header());
        let err = load(&text).unwrap_err();
        assert!(
            matches!(err, Error::Paserk(PaserkError::Length { found, .. }) if found == huge.len()),
            "{accepts}: {err:?}"
        );
    }
}

#[test]
fn a_service_never_writes_a_plaintext_key_into_a_footer() {
    use vaulttoken::footer::{Footer, FooterClaims};
    use vaulttoken::service::LocalService;
    use vaulttoken::{Claims, error::FooterError};

    let key = LocalKey::generate().unwrap();
    let leaked = key.to_paserk().unwrap();
    let service = LocalService::builder(key).build();
    let claims = Claims::builder().subject("u").build().unwrap();
    for footer in [
        FooterClaims::new().with_key_id(leaked.as_str()),
        FooterClaims::new().with_wrapped_key(leaked.as_str()),
    ] {
        let err = service
            .encode_with(&claims, &Footer::Claims(footer), b"")
            .unwrap_err();
        assert!(
            matches!(err, Error::Footer(FooterError::PlaintextKey { .. })),
            "{err:?}"
        );
    }
}
