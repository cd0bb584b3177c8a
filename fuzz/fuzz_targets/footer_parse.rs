//! Arbitrary bytes as a footer, read in every `FooterMode` and through the
//! `UntrustedFooter` accessors. Nothing may panic, the modes must agree with each
//! other, and the claims parser (the hand-written shape scanner in `src/json.rs`,
//! then the strict JSON parser) must agree with an independent oracle built on
//! `serde_json`: a footer is accepted as claims exactly when it is a JSON object
//! with unique keys, within the length, depth and key-count limits, whose `kid`
//! and `wpk` are strings if present.
//!
//! Input: byte 0 picks the mode to report first (only the order changes), byte 1
//! picks small limits (bits 0-1 depth, 2-4 key count, 5-7 length), and the rest
//! is the footer. Missing header bytes count as zero.

#![no_main]

#[path = "common/json.rs"]
mod json;

use std::collections::HashSet;
use std::fmt;

use libfuzzer_sys::fuzz_target;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use vaulttoken::footer::{Footer, FooterClaims, FooterLimits, FooterMode, UntrustedFooter};
use vaulttoken::{Error, LocalKey, danger, error::FooterError, v4};

const DEPTHS: [usize; 4] = [0, 1, 2, 3];
const KEYS: [usize; 8] = [0, 1, 2, 3, 4, 8, 64, 512];
const LENGTHS: [usize; 8] = [0, 4, 16, 64, 256, 1024, 4096, 8192];
const MODES: [FooterMode; 3] = [FooterMode::Auto, FooterMode::Claims, FooterMode::Text];

struct Limits {
    max_len: usize,
    max_depth: usize,
    max_keys: usize,
}

impl Limits {
    fn from_selector(selector: u8) -> Self {
        let selector = usize::from(selector);
        Self {
            max_depth: DEPTHS[selector & 0b11],
            max_keys: KEYS[(selector >> 2) & 0b111],
            max_len: LENGTHS[(selector >> 5) & 0b111],
        }
    }

    fn footer_limits(&self) -> FooterLimits {
        FooterLimits::default()
            .max_len(self.max_len)
            .max_depth(self.max_depth)
            .max_keys(self.max_keys)
    }
}

fuzz_target!(|data: &[u8]| {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let first_mode = usize::from(byte(0)) % MODES.len();
    let limits = Limits::from_selector(byte(1));
    let footer_limits = limits.footer_limits();
    let bytes = data.get(2..).unwrap_or(&[]);
    let too_long = bytes.len() > limits.max_len;
    let oracle = Oracle::judge(bytes);
    let looks_like_json = bytes.trim_ascii_start().first() == Some(&b'{');

    let mut results = Vec::with_capacity(MODES.len());
    for i in 0..MODES.len() {
        let mode = MODES[(first_mode + i) % MODES.len()];
        results.push((mode, Footer::parse(bytes, mode, &footer_limits)));
    }
    let result_of = |mode: FooterMode| {
        &results
            .iter()
            .find(|(m, _)| *m == mode)
            .expect("every mode ran")
            .1
    };

    for (mode, result) in &results {
        if let Err(error) = result {
            let _ = format!("{error} {error:?}");
        }
        if too_long {
            assert!(
                matches!(result, Err(Error::Footer(FooterError::TooLong { max_len })) if *max_len == limits.max_len),
                "{mode:?}: a footer over the length limit must be TooLong, got {result:?}"
            );
            continue;
        }
        if bytes.is_empty() {
            assert!(
                matches!(result, Ok(Footer::None)),
                "{mode:?}: an empty footer is no footer, got {result:?}"
            );
            continue;
        }
        let as_claims = match mode {
            FooterMode::Claims => true,
            FooterMode::Text => false,
            _ => looks_like_json,
        };
        if as_claims {
            check_claims(bytes, &limits, &oracle, result);
        } else {
            match (core::str::from_utf8(bytes), result) {
                (Ok(text), Ok(Footer::Text(parsed))) => assert_eq!(text, parsed),
                (Ok(text), Err(Error::Footer(refused))) if is_key_policy(refused) => {
                    assert!(names_a_paserk(text), "{refused:?} for {text:?}");
                }
                (Err(_), Err(Error::Footer(FooterError::NotUtf8))) => {}
                (utf8, result) => {
                    panic!("{mode:?} as text: UTF-8 {:?} but {result:?}", utf8.is_ok())
                }
            }
        }
    }

    // Auto agrees with whichever explicit mode it chose.
    if !too_long && !bytes.is_empty() {
        let chosen = if looks_like_json {
            FooterMode::Claims
        } else {
            FooterMode::Text
        };
        assert_eq!(
            result_of(FooterMode::Auto).as_ref().ok(),
            result_of(chosen).as_ref().ok(),
            "auto disagrees with {chosen:?}"
        );
    }

    check_untrusted(
        bytes,
        &limits,
        &footer_limits,
        result_of(FooterMode::Claims),
    );

    // What parses as claims writes back out and parses to the same claims.
    if let Ok(footer @ Footer::Claims(claims)) = result_of(FooterMode::Claims) {
        let written = footer.to_bytes();
        // Re-encoding can lengthen a footer (`1e2` becomes `100.0`), but never
        // deepens it or adds keys.
        let relaxed = footer_limits.max_len(usize::MAX);
        let again = Footer::parse(&written, FooterMode::Claims, &relaxed)
            .expect("written claims parse again");
        let Footer::Claims(again) = again else {
            panic!("written claims parse as {again:?}");
        };
        // Floats may move in the last place (see common/json.rs).
        assert_eq!(again.key_id(), claims.key_id());
        assert_eq!(again.wrapped_key(), claims.wrapped_key());
        let written: Value = serde_json::from_slice(&written).expect("written claims are JSON");
        let original: Value = serde_json::from_slice(bytes).expect("accepted claims are JSON");
        assert!(
            json::approx_eq(&written, &original),
            "claims changed on a round trip: {original} became {written}"
        );
        check_claims_content(&again, written.as_object().expect("an object"));
    }
});

/// What `serde_json`, independently of the crate, says about a would-be claims
/// footer.
enum Oracle {
    /// Not JSON at all (syntax, UTF-8, or `serde_json`'s own nesting limit).
    NotJson,
    /// JSON, but not an object, or with a duplicate key somewhere.
    NotUniqueObject,
    /// A JSON object with unique keys at every depth.
    Object { shape: Shape, value: Value },
}

impl Oracle {
    fn judge(bytes: &[u8]) -> Self {
        let Ok(shape) = serde_json::from_slice::<Shape>(bytes) else {
            return Self::NotJson;
        };
        if !shape.is_object || shape.duplicate {
            return Self::NotUniqueObject;
        }
        let value = serde_json::from_slice::<Value>(bytes).expect("serde_json agrees with itself");
        Self::Object { shape, value }
    }
}

fn check_claims(bytes: &[u8], limits: &Limits, oracle: &Oracle, result: &Result<Footer, Error>) {
    match (oracle, result) {
        (Oracle::Object { shape, value }, _)
            if shape.depth > limits.max_depth || shape.keys > limits.max_keys =>
        {
            assert!(
                matches!(
                    result,
                    Err(Error::Footer(
                        FooterError::TooDeep { .. } | FooterError::TooManyKeys { .. }
                    ))
                ),
                "depth {} keys {} over limits {}/{} but {result:?} for {value}",
                shape.depth,
                shape.keys,
                limits.max_depth,
                limits.max_keys,
            );
            // The scanner reports the limit it actually saw exceeded.
            if let Err(Error::Footer(FooterError::TooDeep { .. })) = result {
                assert!(
                    shape.depth > limits.max_depth,
                    "TooDeep at depth {}",
                    shape.depth
                );
            }
            if let Err(Error::Footer(FooterError::TooManyKeys { .. })) = result {
                assert!(
                    shape.keys > limits.max_keys,
                    "TooManyKeys with {} keys",
                    shape.keys
                );
            }
        }
        (Oracle::Object { value, .. }, _) => {
            let object = value.as_object().expect("the oracle saw an object");
            let reserved_ok = ["kid", "wpk"]
                .iter()
                .all(|name| object.get(*name).is_none_or(Value::is_string));
            if !reserved_ok {
                assert!(
                    matches!(result, Err(Error::Footer(FooterError::WrongType { .. }))),
                    "a non-string kid/wpk must be WrongType, got {result:?} for {value}"
                );
                return;
            }
            if let Err(Error::Footer(refused)) = result
                && is_key_policy(refused)
            {
                assert!(
                    strings_of(value).iter().any(|s| names_a_paserk(s)),
                    "{refused:?} for {value}"
                );
                return;
            }
            let Ok(Footer::Claims(claims)) = result else {
                panic!(
                    "serde_json accepts {value} within limits but the footer parser gave {result:?}"
                );
            };
            check_claims_content(claims, object);
        }
        (_, Ok(footer)) => panic!(
            "accepted as claims ({footer:?}) what serde_json refuses as a unique-key object: {:?}",
            String::from_utf8_lossy(bytes)
        ),
        (_, Err(_)) => {}
    }
}

/// The refusals of the footer key policy: no key in clear or under a password
/// anywhere, only ids in `kid`, only wrapped keys in `wpk`.
fn is_key_policy(error: &FooterError) -> bool {
    matches!(
        error,
        FooterError::PlaintextKey { .. }
            | FooterError::PasswordWrappedKey { .. }
            | FooterError::MisplacedPaserk { .. }
    )
}

/// Whether `text` holds a PASERK header, `k<digits>.<type>.`, anywhere.
fn names_a_paserk(text: &str) -> bool {
    text.match_indices('k').any(|(at, _)| {
        let rest = &text[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0
            && rest[digits..]
                .strip_prefix('.')
                .is_some_and(|tail| tail.contains('.'))
    })
}

/// Every object key and string value in `value`, at any depth.
fn strings_of(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(strings_of).collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(name, v)| std::iter::once(name.as_str()).chain(strings_of(v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn check_claims_content(claims: &FooterClaims, object: &serde_json::Map<String, Value>) {
    assert_eq!(claims.key_id(), object.get("kid").and_then(Value::as_str));
    assert_eq!(
        claims.wrapped_key(),
        object.get("wpk").and_then(Value::as_str)
    );
    for (name, value) in object {
        if name != "kid" && name != "wpk" {
            assert_eq!(claims.custom(name), Some(value), "custom claim {name:?}");
        }
    }
    assert_eq!(claims.custom("kid"), None);
    assert_eq!(claims.custom("wpk"), None);
}

/// The same bytes as an `UntrustedFooter`, the way a key provider sees them: read
/// from a token, before any verification.
fn check_untrusted(
    bytes: &[u8],
    limits: &Limits,
    footer_limits: &FooterLimits,
    claims_mode: &Result<Footer, Error>,
) {
    let key = LocalKey::from_bytes(&[0x42; 32]).expect("32-byte key");
    let token = danger::dangerous_encrypt_with_nonce(&key, b"", bytes, b"", &[7; 32])
        .expect("any footer encrypts");
    let parsed: v4::UntrustedToken<v4::Local> = token.parse().expect("a fresh token parses");
    assert_eq!(parsed.untrusted_footer(), bytes);
    let footer = UntrustedFooter::new(parsed.untrusted_footer()).with_limits(*footer_limits);
    assert_eq!(footer.as_untrusted_bytes(), bytes);

    let claims = footer.untrusted_claims();
    let key_id = footer.untrusted_key_id();
    if let Err(error) = &claims {
        let _ = format!("{error} {error:?}");
    }

    if bytes.len() > limits.max_len {
        assert!(matches!(
            claims,
            Err(Error::Footer(FooterError::TooLong { .. }))
        ));
        assert!(matches!(
            key_id,
            Err(Error::Footer(FooterError::TooLong { .. }))
        ));
        return;
    }
    if bytes.is_empty() {
        // No footer: not claims, and no key id.
        assert!(claims.is_err(), "an empty footer is not claims");
        assert_eq!(key_id.ok(), Some(None));
        return;
    }

    // Untrusted claims are exactly what Footer::parse in claims mode accepts.
    match (&claims, claims_mode) {
        (Ok(untrusted), Ok(Footer::Claims(trusted))) => {
            assert_eq!(untrusted.untrusted_key_id(), trusted.key_id());
            assert_eq!(untrusted.untrusted_wrapped_key(), trusted.wrapped_key());
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (claims, parsed) => panic!("untrusted_claims {claims:?} but Footer::parse {parsed:?}"),
    }

    // The key id: none for a text footer, else whatever the claims say.
    if bytes.trim_ascii_start().first() == Some(&b'{') {
        match (&claims, &key_id) {
            (Ok(claims), Ok(id)) => assert_eq!(claims.untrusted_key_id(), *id),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (claims, id) => panic!("untrusted_claims {claims:?} but untrusted_key_id {id:?}"),
        }
    } else {
        assert_eq!(key_id.ok(), Some(None), "a text footer has no key id");
    }
}

/// The nesting depth (a top-level object is 1), total key count and duplicate
/// keys of a JSON value, computed by `serde_json`'s parser.
struct Shape {
    is_object: bool,
    depth: usize,
    keys: usize,
    duplicate: bool,
}

impl Shape {
    const SCALAR: Self = Self {
        is_object: false,
        depth: 0,
        keys: 0,
        duplicate: false,
    };
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::SCALAR)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::SCALAR)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::SCALAR)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::SCALAR)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::SCALAR)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::SCALAR)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut shape = Shape {
            depth: 1,
            ..Shape::SCALAR
        };
        while let Some(item) = seq.next_element::<Shape>()? {
            shape.depth = shape.depth.max(item.depth + 1);
            shape.keys += item.keys;
            shape.duplicate |= item.duplicate;
        }
        Ok(shape)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut shape = Shape {
            is_object: true,
            depth: 1,
            ..Shape::SCALAR
        };
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            shape.duplicate |= !seen.insert(key);
            let value = map.next_value::<Shape>()?;
            shape.depth = shape.depth.max(value.depth + 1);
            shape.keys += 1 + value.keys;
            shape.duplicate |= value.duplicate;
        }
        Ok(shape)
    }
}
