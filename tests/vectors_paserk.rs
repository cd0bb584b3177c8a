//! Every case of the official PASERK k4 test vectors (`test-vectors/PASERK/`),
//! expect-fail cases included, through the public API. Each failing case is
//! matched to the specific error it must produce.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use common::unhex;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde::Deserialize;
use vaulttoken::error::PaserkError;
use vaulttoken::paserk::{KeyId, PasswordLimits};
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey, error::KeyError};

#[derive(Deserialize)]
struct VectorFile {
    tests: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Vector {
    name: String,
    expect_fail: bool,
    key: Option<String>,
    paserk: Option<String>,
    secret_key_seed: Option<String>,
    seed: Option<String>,
    public_key: Option<String>,
    unwrapped: Option<String>,
    wrapping_key: Option<String>,
    password: Option<String>,
    sealing_secret_key: Option<String>,
    sealing_public_key: Option<String>,
    unsealed: Option<String>,
}

fn load(file: &str) -> Vec<Vector> {
    let path = format!("{}/test-vectors/PASERK/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str::<VectorFile>(&text).unwrap().tests
}

/// Runs `check` on every case and returns (passing cases, failing cases) run.
fn run(file: &str, mut check: impl FnMut(&Vector)) -> (usize, usize) {
    let vectors = load(file);
    assert!(!vectors.is_empty(), "{file} has no cases");
    for v in &vectors {
        check(v);
    }
    let failing = vectors.iter().filter(|v| v.expect_fail).count();
    (vectors.len() - failing, failing)
}

fn is_unsupported_version(err: &Error) -> bool {
    matches!(err, Error::Paserk(PaserkError::UnsupportedVersion))
}

fn is_key_length(err: &Error) -> bool {
    matches!(err, Error::InvalidKey(KeyError::Length { .. }))
}

#[test]
fn k4_local() {
    let counts = run("k4.local.json", |v| {
        let paserk = v.paserk.as_deref().unwrap();
        if v.expect_fail {
            let err = LocalKey::from_paserk(paserk).unwrap_err();
            match v.name.as_str() {
                "k4.local-fail-1" => assert!(
                    matches!(
                        err,
                        Error::Paserk(PaserkError::Length {
                            expected: 43,
                            found: 42
                        })
                    ),
                    "{err:?}"
                ),
                "k4.local-fail-2" => assert!(is_unsupported_version(&err), "{err:?}"),
                other => panic!("unexpected failing case {other}"),
            }
            return;
        }
        let key = LocalKey::from_bytes(&unhex(v.key.as_deref().unwrap())).unwrap();
        assert_eq!(key.to_paserk().unwrap().as_str(), paserk, "{}", v.name);
        assert_eq!(LocalKey::from_paserk(paserk).unwrap(), key, "{}", v.name);
    });
    assert_eq!(counts, (3, 2));
}

#[test]
fn k4_public() {
    let mut loadable = 0;
    let counts = run("k4.public.json", |v| {
        let bytes = unhex(v.key.as_deref().unwrap());
        if v.expect_fail {
            // A 33-byte compressed P-384 key (a k3 public key) is no k4 key.
            assert!(v.paserk.is_none());
            assert!(is_key_length(&PublicKey::from_bytes(&bytes).unwrap_err()));
            return;
        }
        let paserk = v.paserk.as_deref().unwrap();
        match PublicKey::from_bytes(&bytes) {
            Ok(key) => {
                loadable += 1;
                assert_eq!(key.to_paserk(), paserk, "{}", v.name);
                assert_eq!(PublicKey::from_paserk(paserk).unwrap(), key, "{}", v.name);
            }
            Err(refused) => {
                // Deliberate: vaulttoken refuses keys that are unsafe to verify
                // with (the all-zero encoding is a point of order 4; the other
                // encodings are not points of the curve at all). The PASERK
                // still parses (header, length, encoding) and reaches the same
                // key check, and its text is exactly the header plus the key.
                assert!(
                    match v.name.as_str() {
                        "k4.public-1" =>
                            matches!(refused, Error::InvalidKey(KeyError::WeakPublicKey)),
                        _ => matches!(refused, Error::InvalidKey(KeyError::NotOnCurve)),
                    },
                    "{}: {refused:?}",
                    v.name
                );
                let via_paserk = PublicKey::from_paserk(paserk).unwrap_err();
                assert_eq!(via_paserk.to_string(), refused.to_string(), "{}", v.name);
                let text = format!("k4.public.{}", Base64UrlUnpadded::encode_string(&bytes));
                assert_eq!(text, paserk, "{}", v.name);
            }
        }
    });
    assert_eq!(counts, (3, 1));
    // None of the three vector keys is a safe Ed25519 key (the all-zero
    // encoding has order 4; the other two are not on the curve), so the
    // serialisation of real keys is checked with the public halves of the
    // k4.secret vectors as well.
    assert_eq!(
        loadable, 0,
        "a vector key loaded: check the expectations above"
    );
    for v in load("k4.secret.json").iter().filter(|v| !v.expect_fail) {
        let key = PublicKey::from_bytes(&unhex(v.public_key.as_deref().unwrap())).unwrap();
        let text = key.to_paserk();
        let expected = format!(
            "k4.public.{}",
            Base64UrlUnpadded::encode_string(key.as_bytes())
        );
        assert_eq!(text, expected);
        assert_eq!(PublicKey::from_paserk(&text).unwrap(), key);
    }
}

#[test]
fn k4_secret() {
    let counts = run("k4.secret.json", |v| {
        let bytes = unhex(v.key.as_deref().unwrap());
        if v.expect_fail {
            assert!(v.paserk.is_none());
            let err = SecretKey::from_bytes(&bytes).unwrap_err();
            assert!(is_key_length(&err), "{}: {err:?}", v.name);
            return;
        }
        let paserk = v.paserk.as_deref().unwrap();
        let key = SecretKey::from_bytes(&bytes).unwrap();
        let from_seed =
            SecretKey::from_seed(&unhex(v.secret_key_seed.as_deref().unwrap())).unwrap();
        assert_eq!(key, from_seed, "{}", v.name);
        assert_eq!(
            key.public_key().as_bytes().as_slice(),
            unhex(v.public_key.as_deref().unwrap()),
            "{}",
            v.name
        );
        assert_eq!(key.to_paserk().unwrap().as_str(), paserk, "{}", v.name);
        assert_eq!(SecretKey::from_paserk(paserk).unwrap(), key, "{}", v.name);
    });
    assert_eq!(counts, (3, 2));
}

#[test]
fn k4_lid() {
    let counts = run("k4.lid.json", |v| {
        let bytes = unhex(v.key.as_deref().unwrap());
        if v.expect_fail {
            assert!(is_key_length(&LocalKey::from_bytes(&bytes).unwrap_err()));
            return;
        }
        let expected = v.paserk.as_deref().unwrap();
        let id = LocalKey::from_bytes(&bytes).unwrap().paserk_id().unwrap();
        assert_eq!(id.as_str(), expected, "{}", v.name);
        assert_eq!(KeyId::parse(expected).unwrap(), id);
    });
    assert_eq!(counts, (3, 1));
}

#[test]
fn k4_pid() {
    let counts = run("k4.pid.json", |v| {
        let bytes = unhex(v.key.as_deref().unwrap());
        let text = format!("k4.public.{}", Base64UrlUnpadded::encode_string(&bytes));
        if v.expect_fail {
            // Too short (31 bytes) or a k3 key (33 bytes): no key, and no id.
            assert!(is_key_length(&PublicKey::from_bytes(&bytes).unwrap_err()));
            assert!(matches!(
                KeyId::of_paserk(&text),
                Err(Error::Paserk(PaserkError::Length { expected: 43, .. }))
            ));
            return;
        }
        let expected = v.paserk.as_deref().unwrap();
        // Ids are defined over the PASERK text, which exists even for the weak
        // all-zero key that `PublicKey` refuses to load.
        assert_eq!(
            KeyId::of_paserk(&text).unwrap().as_str(),
            expected,
            "{}",
            v.name
        );
        if let Ok(key) = PublicKey::from_bytes(&bytes) {
            assert_eq!(key.paserk_id().unwrap().as_str(), expected, "{}", v.name);
        }
    });
    assert_eq!(counts, (3, 2));
}

#[test]
fn k4_sid() {
    let counts = run("k4.sid.json", |v| {
        let bytes = unhex(v.key.as_deref().unwrap());
        if v.expect_fail {
            assert!(is_key_length(&SecretKey::from_bytes(&bytes).unwrap_err()));
            return;
        }
        let expected = v.paserk.as_deref().unwrap();
        let key = SecretKey::from_bytes(&bytes).unwrap();
        assert_eq!(
            key,
            SecretKey::from_seed(&unhex(v.seed.as_deref().unwrap())).unwrap()
        );
        assert_eq!(key.paserk_id().unwrap().as_str(), expected, "{}", v.name);
    });
    assert_eq!(counts, (3, 1));
}

#[test]
fn k4_local_wrap_pie() {
    let counts = run("k4.local-wrap.pie.json", |v| {
        let paserk = v.paserk.as_deref().unwrap();
        let wrapping = LocalKey::from_bytes(&unhex(v.wrapping_key.as_deref().unwrap())).unwrap();
        let result = LocalKey::from_paserk_wrapped(paserk, &wrapping);
        if v.expect_fail {
            let err = result.unwrap_err();
            match v.name.as_str() {
                "k4.local-wrap.pie-fail-1" => {
                    assert!(matches!(err, Error::Verification), "{err:?}")
                }
                "k4.local-wrap.pie-fail-2" => assert!(is_unsupported_version(&err)),
                other => panic!("unexpected failing case {other}"),
            }
            return;
        }
        let key = result.unwrap();
        assert_eq!(
            key.expose_secret_bytes().unwrap().as_bytes().as_slice(),
            unhex(v.unwrapped.as_deref().unwrap())
        );
        // Our own wrapping of the same key unwraps to it too.
        let again = key.to_paserk_wrapped(&wrapping).unwrap();
        assert_eq!(
            LocalKey::from_paserk_wrapped(&again, &wrapping).unwrap(),
            key
        );
    });
    assert_eq!(counts, (2, 2));
}

#[test]
fn k4_secret_wrap_pie() {
    let counts = run("k4.secret-wrap.pie.json", |v| {
        let paserk = v.paserk.as_deref().unwrap();
        let wrapping = LocalKey::from_bytes(&unhex(v.wrapping_key.as_deref().unwrap())).unwrap();
        let result = SecretKey::from_paserk_wrapped(paserk, &wrapping);
        if v.expect_fail {
            let err = result.unwrap_err();
            match v.name.as_str() {
                // The vector's alteration lands in the unused low bits of the last
                // base64url character, so strict decoding refuses it before the tag.
                "k4.secret-wrap.pie-fail-1" => {
                    assert!(
                        matches!(err, Error::Paserk(PaserkError::Encoding)),
                        "{err:?}"
                    );
                }
                "k4.secret-wrap.pie-fail-2" => assert!(is_unsupported_version(&err)),
                other => panic!("unexpected failing case {other}"),
            }
            return;
        }
        let key = result.unwrap();
        assert_eq!(
            key.expose_secret_bytes().unwrap().as_bytes().as_slice(),
            unhex(v.unwrapped.as_deref().unwrap())
        );
        let again = key.to_paserk_wrapped(&wrapping).unwrap();
        assert_eq!(
            SecretKey::from_paserk_wrapped(&again, &wrapping).unwrap(),
            key
        );
    });
    assert_eq!(counts, (2, 2));
}

/// The password-wrapping vectors use costs up to 256 MiB and 3 iterations, all
/// within the default limits.
fn password_case(
    v: &Vector,
    unwrap: impl Fn(&str, &[u8], &PasswordLimits) -> Result<Vec<u8>, Error>,
    prefix: &str,
) {
    let paserk = v.paserk.as_deref().unwrap();
    let password = v.password.as_deref().unwrap().as_bytes();
    let result = unwrap(paserk, password, &PasswordLimits::default());
    if v.expect_fail {
        let err = result.unwrap_err();
        let name = v.name.strip_prefix(prefix).unwrap();
        match name {
            // Wrong password, and an altered tag: both are just "invalid"...
            "-fail-1" => assert!(matches!(err, Error::Verification), "{err:?}"),
            // ...except that the secret-pw vector alters the unused low bits of
            // the last base64url character, which strict decoding refuses first.
            "-fail-2" if prefix == "k4.secret-pw" => {
                assert!(
                    matches!(err, Error::Paserk(PaserkError::Encoding)),
                    "{err:?}"
                );
            }
            "-fail-2" => assert!(matches!(err, Error::Verification), "{err:?}"),
            "-fail-3" => assert!(is_unsupported_version(&err), "{err:?}"),
            other => panic!("unexpected failing case {other}"),
        }
        return;
    }
    assert_eq!(
        result.unwrap(),
        unhex(v.unwrapped.as_deref().unwrap()),
        "{}",
        v.name
    );
}

#[test]
fn k4_local_pw() {
    let counts = run("k4.local-pw.json", |v| {
        password_case(
            v,
            |text, pw, limits| {
                let key = LocalKey::from_paserk_password(text, pw, limits)?;
                Ok(key.expose_secret_bytes()?.as_bytes().to_vec())
            },
            "k4.local-pw",
        );
    });
    assert_eq!(counts, (3, 3));
}

#[test]
fn k4_secret_pw() {
    let counts = run("k4.secret-pw.json", |v| {
        password_case(
            v,
            |text, pw, limits| {
                let key = SecretKey::from_paserk_password(text, pw, limits)?;
                Ok(key.expose_secret_bytes()?.as_bytes().to_vec())
            },
            "k4.secret-pw",
        );
    });
    assert_eq!(counts, (3, 3));
}

#[test]
fn k4_seal() {
    let counts = run("k4.seal.json", |v| {
        let paserk = v.paserk.as_deref().unwrap();
        let secret =
            SecretKey::from_bytes(&unhex(v.sealing_secret_key.as_deref().unwrap())).unwrap();
        assert_eq!(
            secret.public_key().as_bytes().as_slice(),
            unhex(v.sealing_public_key.as_deref().unwrap())
        );
        let result = LocalKey::from_paserk_sealed(paserk, &secret);
        if v.expect_fail {
            let err = result.unwrap_err();
            match v.name.as_str() {
                "k4.seal-fail-1" => assert!(matches!(err, Error::Verification), "{err:?}"),
                "k4.seal-fail-2" => assert!(is_unsupported_version(&err), "{err:?}"),
                other => panic!("unexpected failing case {other}"),
            }
            return;
        }
        let key = result.unwrap();
        assert_eq!(
            key.expose_secret_bytes().unwrap().as_bytes().as_slice(),
            unhex(v.unsealed.as_deref().unwrap())
        );
        let again = key.to_paserk_sealed(&secret.public_key()).unwrap();
        assert_eq!(LocalKey::from_paserk_sealed(&again, &secret).unwrap(), key);
    });
    assert_eq!(counts, (2, 2));
}
