//! Strict JSON for payloads and footers.
//!
//! - [`parse_object`] refuses non-UTF-8 input, duplicate keys at any depth (the
//!   PASETO spec requires unique keys; serde_json alone keeps the last one) and a
//!   top level that is not an object.
//! - [`check_shape`] enforces nesting depth and key count by scanning the raw
//!   text, so hostile input is refused before a JSON parser allocates anything.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why bytes were refused as a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    NotUtf8,
    Syntax { line: usize, column: usize },
    DuplicateKey,
    NotAnObject,
}

/// Why raw JSON text was refused by [`check_shape`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShapeError {
    TooDeep,
    TooManyKeys,
}

const DUPLICATE_KEY: &str = "duplicate key";

/// Parses a UTF-8 JSON object, refusing duplicate keys at any depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    let text = core::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
    let value = serde_json::from_str::<StrictValue>(text).map_err(|err| {
        if err.is_data() && err.to_string().starts_with(DUPLICATE_KEY) {
            JsonError::DuplicateKey
        } else {
            JsonError::Syntax {
                line: err.line(),
                column: err.column(),
            }
        }
    })?;
    match value.0 {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Checks nesting depth (a top-level object is depth 1) and the total number of
/// object keys at every depth, without parsing. Characters inside strings,
/// escaped quotes included, are skipped.
pub(crate) fn check_shape(
    text: &[u8],
    max_depth: usize,
    max_keys: usize,
) -> Result<(), ShapeError> {
    let mut depth = 0usize;
    let mut keys = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(ShapeError::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' => {
                keys += 1;
                if keys > max_keys {
                    return Err(ShapeError::TooManyKeys);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A `serde_json::Value` whose objects never had a duplicate key.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictValue, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            // One search per key: `entry` finds the slot that `insert` fills.
            match map.entry(key) {
                serde_json::map::Entry::Occupied(_) => {
                    return Err(de::Error::custom(DUPLICATE_KEY));
                }
                serde_json::map::Entry::Vacant(slot) => {
                    let StrictValue(value) = access.next_value()?;
                    slot.insert(value);
                }
            }
        }
        Ok(StrictValue(Value::Object(map)))
    }
}

/// How [`parse_object`] reads a `serde_json` error: a duplicate key, or a syntax
/// error at its line and column. For parsers that run `serde_json` themselves
/// with the strict visitors below.
pub(crate) fn classify(err: &serde_json::Error) -> JsonError {
    if err.is_data() && err.to_string().starts_with(DUPLICATE_KEY) {
        JsonError::DuplicateKey
    } else {
        JsonError::Syntax {
            line: err.line(),
            column: err.column(),
        }
    }
}

/// The error a strict visitor returns for a key seen twice in one object, which
/// [`classify`] reads as [`JsonError::DuplicateKey`].
pub(crate) fn duplicate_key<E: de::Error>() -> E {
    E::custom(DUPLICATE_KEY)
}

/// A JSON value read as strictly as [`parse_object`] reads one (unique keys at
/// every depth), for parsers that read the top level themselves.
pub(crate) struct Strict(pub(crate) Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StrictValue::deserialize(deserializer).map(|StrictValue(value)| Self(value))
    }
}

/// An array, read strictly (as [`Strict`] reads one), for a visitor that was
/// handed it in place of the value it wanted.
pub(crate) fn visit_strict_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Value, A::Error> {
    StrictVisitor.visit_seq(seq).map(|StrictValue(value)| value)
}

/// An object, read strictly (as [`Strict`] reads one), for a visitor that was
/// handed it in place of the value it wanted.
pub(crate) fn visit_strict_map<'de, A: MapAccess<'de>>(map: A) -> Result<Value, A::Error> {
    StrictVisitor.visit_map(map).map(|StrictValue(value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_nested_object() {
        let map = parse_object(br#"{"a":1,"b":{"c":[true,null,"x",1.5]}}"#).unwrap();
        assert_eq!(map["b"]["c"][2], "x");
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        for text in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":1}}"#,
            br#"{"a":[{"x":1},{"y":1,"y":2}]}"#,
        ] {
            assert_eq!(parse_object(text), Err(JsonError::DuplicateKey));
        }
        // Same key at different depths is fine.
        assert!(parse_object(br#"{"a":{"a":1}}"#).is_ok());
    }

    #[test]
    fn a_duplicate_key_message_in_a_value_is_not_a_duplicate() {
        assert!(parse_object(br#"{"m":"duplicate key"}"#).is_ok());
    }

    #[test]
    fn refuses_non_objects_and_non_utf8() {
        assert_eq!(parse_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(b"\"s\""), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(b"\xff{}"), Err(JsonError::NotUtf8));
        assert!(matches!(parse_object(b""), Err(JsonError::Syntax { .. })));
        assert!(matches!(parse_object(b"{"), Err(JsonError::Syntax { .. })));
        assert!(matches!(
            parse_object(b"{} x"),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let text = format!("{{\"a\":{deep}}}");
        assert!(matches!(
            parse_object(text.as_bytes()),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn shape_counts_depth_from_one_at_the_top() {
        assert_eq!(check_shape(br#"{"a":1}"#, 1, 10), Ok(()));
        assert_eq!(
            check_shape(br#"{"a":{"b":1}}"#, 1, 10),
            Err(ShapeError::TooDeep)
        );
        assert_eq!(check_shape(br#"{"a":[1]}"#, 2, 10), Ok(()));
    }

    #[test]
    fn shape_ignores_brackets_and_colons_inside_strings() {
        let text = br#"{"a":"{[{[:::]}]}","b\"{":"\\"}"#;
        assert_eq!(check_shape(text, 1, 2), Ok(()));
    }

    #[test]
    fn shape_counts_keys_at_every_depth() {
        assert_eq!(check_shape(br#"{"a":{"b":1,"c":2}}"#, 5, 3), Ok(()));
        assert_eq!(
            check_shape(br#"{"a":{"b":1,"c":2}}"#, 5, 2),
            Err(ShapeError::TooManyKeys)
        );
    }
}
