//! Strict JSON for payloads and footers.
//!
//! - [`parse_object`] refuses non-UTF-8 input, duplicate keys at any depth (the
//!   PASETO spec requires unique keys; serde_json alone keeps the last one) and a
//!   top level that is not an object.
//! - [`check_shape`] enforces nesting depth and key count by scanning the raw
//!   text, so hostile input is refused before a JSON parser allocates anything.

use core::fmt;
use std::borrow::Cow;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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
    let value = serde_json::from_str::<StrictValue>(text).map_err(|err| classify(&err))?;
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
    // mutants: equivalent because `&&` -> `||`: serde_json classifies only
    // `ErrorCode::Message` as data, and the strict visitors raise a message only
    // through `DUPLICATE_KEY`; no other category's text starts with it.
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

/// A reserved key's value, as [`parse_object_taking`] read it: a string
/// (borrowed from the input when it has no escapes) or any other JSON value.
pub(crate) enum Reserved<'a> {
    Text(Cow<'a, str>),
    Other,
}

/// An object read by [`parse_object_taking`]: the reserved keys' values, in the
/// order of the names asked for, and every other key.
pub(crate) struct Taken<'a, const N: usize> {
    pub(crate) reserved: [Option<Reserved<'a>>; N],
    pub(crate) rest: Map<String, Value>,
}

/// [`parse_object`] followed by taking the keys `names` out of the map, in one
/// pass: the values of `names` are read without being stored in the map (a
/// string is borrowed from the input where it can be), and every other key goes
/// into `rest`, read strictly. The errors, and which one is reported first, are
/// those of [`parse_object`] for every input: a key in `names` seen twice is a
/// duplicate like any other, and a value of `names` that is not a string is
/// still read to its end (strictly) and left for the caller to refuse.
pub(crate) fn parse_object_taking<'a, const N: usize>(
    bytes: &'a [u8],
    names: [&str; N],
) -> Result<Taken<'a, N>, JsonError> {
    let text = core::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // As `serde_json::from_str` does: the value, then nothing but whitespace.
    let taken = TakingSeed(names)
        .deserialize(&mut deserializer)
        .and_then(|taken| deserializer.end().map(|()| taken))
        .map_err(|err| classify(&err))?;
    taken.ok_or(JsonError::NotAnObject)
}

/// Reads the top level for [`parse_object_taking`]: `None` for valid JSON that
/// is not an object, which is still read strictly to its end first.
struct TakingSeed<'n, const N: usize>([&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for TakingSeed<'_, N> {
    type Value = Option<Taken<'de, N>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for TakingSeed<'_, N> {
    type Value = Option<Taken<'de, N>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        visit_strict_seq(seq).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut reserved = [const { None }; N];
        let mut rest = Map::new();
        while let Some(key) = access.next_key_seed(KeySeed(&self.0))? {
            // A key seen before is refused before its value is read, as the
            // strict visitor does.
            match key {
                Key::Reserved(index) => {
                    let slot = &mut reserved[index];
                    if slot.is_some() {
                        return Err(duplicate_key());
                    }
                    *slot = Some(access.next_value::<Reserved<'de>>()?);
                }
                Key::Other(name) => match rest.entry(name) {
                    serde_json::map::Entry::Occupied(_) => return Err(duplicate_key()),
                    serde_json::map::Entry::Vacant(slot) => {
                        let Strict(value) = access.next_value()?;
                        slot.insert(value);
                    }
                },
            }
        }
        Ok(Some(Taken { reserved, rest }))
    }
}

/// A top-level key for [`parse_object_taking`]: the index of a reserved name,
/// or any other key.
enum Key {
    Reserved(usize),
    Other(String),
}

struct KeySeed<'s, 'n, const N: usize>(&'s [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for KeySeed<'_, '_, N> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        // `deserialize_string`, as for the `String` keys of the strict visitor.
        deserializer.deserialize_string(self)
    }
}

impl<const N: usize> Visitor<'_> for KeySeed<'_, '_, N> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, name: &str) -> Result<Key, E> {
        Ok(match self.position(name) {
            Some(index) => Key::Reserved(index),
            None => Key::Other(name.to_owned()),
        })
    }

    fn visit_string<E>(self, name: String) -> Result<Key, E> {
        Ok(match self.position(&name) {
            Some(index) => Key::Reserved(index),
            None => Key::Other(name),
        })
    }
}

impl<const N: usize> KeySeed<'_, '_, N> {
    /// Which reserved name `name` is. Reserved names are short, so the bytes are
    /// compared inline: `==` on `str` calls `memcmp` for each candidate.
    fn position(&self, name: &str) -> Option<usize> {
        let name = name.as_bytes();
        self.0.iter().position(|reserved| {
            let reserved = reserved.as_bytes();
            reserved.len() == name.len() && reserved.iter().zip(name).all(|(a, b)| a == b)
        })
    }
}

impl<'de> Deserialize<'de> for Reserved<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReservedVisitor)
    }
}

/// Reads a reserved key's value: any JSON value, read as strictly as the
/// others, of which only a string is kept.
struct ReservedVisitor;

impl<'de> Visitor<'de> for ReservedVisitor {
    type Value = Reserved<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Reserved::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Reserved::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Reserved::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Reserved::Other)
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Reserved::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Reserved::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(Reserved::Text(Cow::Owned(text)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Reserved::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        visit_strict_seq(seq).map(|_| Reserved::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        visit_strict_map(map).map(|_| Reserved::Other)
    }
}

/// [`parse_object_taking`] against [`parse_object`] then `remove`.
#[cfg(test)]
mod taking_tests {
    use super::*;

    #[test]
    fn taking_agrees_with_parsing_then_removing() {
        let inputs: [&[u8]; 14] = [
            br#"{"kid":"k4.lid.x","a":[1,{"b":null}]}"#,
            br#"{"kid":1,"wpk":"w"}"#,
            br#"{"wpk":{"x":1,"x":2},"kid":1}"#,
            br#"{"kid":"a","kid":"b"}"#,
            br#"{"kid":"a","k\u0069d":"b"}"#,
            br#"{"a":1,"a":2,"kid":[}"#,
            br#"{"kid":"a\nb"}"#,
            br#"{"kid":"a"} x"#,
            b"[1,2]",
            b"\"kid\"",
            b"",
            b"{\"kid\":\"\xff\"}",
            br#"{"kid":"\u00e9","wpk":null}"#,
            br#"{}"#,
        ];
        for input in inputs {
            let old = parse_object(input).map(|mut map| {
                let taken = ["kid", "wpk"].map(|name| map.remove(name));
                (taken, map)
            });
            let new = parse_object_taking(input, ["kid", "wpk"]).map(|taken| {
                let values = taken.reserved.map(|value| {
                    value.map(|value| match value {
                        Reserved::Text(text) => Value::String(text.into_owned()),
                        Reserved::Other => Value::Null,
                    })
                });
                (values, taken.rest)
            });
            match (old, new) {
                (Ok((old_taken, old_rest)), Ok((new_taken, new_rest))) => {
                    assert_eq!(old_rest, new_rest);
                    for (old, new) in old_taken.iter().zip(&new_taken) {
                        match old {
                            Some(Value::String(_)) | None => assert_eq!(old, new),
                            Some(_) => assert_eq!(new, &Some(Value::Null)),
                        }
                    }
                }
                (old, new) => assert_eq!(old.err(), new.err(), "{input:?}"),
            }
        }
    }
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

    #[test]
    fn shape_depth_goes_back_down_after_a_close() {
        assert_eq!(check_shape(br#"{"a":{},"b":{}}"#, 2, 10), Ok(()));
        assert_eq!(check_shape(br#"{"a":[],"b":[1],"c":[]}"#, 2, 10), Ok(()));
        assert_eq!(check_shape(b"[[],[],[]]", 2, 10), Ok(()));
        assert_eq!(
            check_shape(br#"{"a":{},"b":{"c":{}}}"#, 2, 10),
            Err(ShapeError::TooDeep)
        );
    }

    #[test]
    fn shape_an_escaped_backslash_does_not_escape_the_closing_quote() {
        // `"\\"` holds one backslash; the quote after it ends the string, so
        // the brackets and colons that follow are counted.
        assert_eq!(
            check_shape(br#"{"a":"\\","b":{"c":1}}"#, 1, 10),
            Err(ShapeError::TooDeep)
        );
        assert_eq!(
            check_shape(br#"{"a":"\\","b":1,"c":2}"#, 5, 2),
            Err(ShapeError::TooManyKeys)
        );
        // An escaped quote, by contrast, does not end the string.
        assert_eq!(check_shape(br#"{"a":"\"{:","b":1}"#, 1, 2), Ok(()));
    }

    #[test]
    fn strict_value_says_what_it_expects_from_a_non_json_deserializer() {
        let bytes = serde::de::value::BytesDeserializer::<serde::de::value::Error>::new(b"x");
        let Err(err) = StrictValue::deserialize(bytes) else {
            panic!("bytes are not a JSON value");
        };
        assert!(err.to_string().contains("any JSON value"), "{err}");
    }
}
