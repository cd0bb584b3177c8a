//! Claims into types of yours: serde does the work, and a refusal names the
//! field that does not fit and what is wrong with it, never its value (a
//! token's claims may hold anything, and errors end up in logs).

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::{Error as PathError, Segment};

use crate::error::{Error, Mismatch, PayloadError};

/// The longest field path an error repeats, in characters: a map key comes
/// from the token, so its length is the token's to choose.
const MAX_FIELD_CHARS: usize = 128;

/// `value` as a `T`; `name` is the claim it came from, if one.
pub(super) fn from_value<T: DeserializeOwned>(
    value: &Value,
    name: Option<&str>,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|error| mismatch(&error, name))
}

/// A payload's JSON as a `T`.
pub(super) fn from_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Error> {
    let mut json = serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(&mut json).map_err(|error| mismatch(&error, None))
}

fn mismatch(error: &PathError<serde_json::Error>, name: Option<&str>) -> Error {
    // serde's messages start with what went wrong; what follows may quote
    // the value ("invalid type: string \"…\""), so only the start is read,
    // and a field name only from "missing field `name`", where it is the
    // type's own name for the field.
    let message = error.inner().to_string();
    let (problem, named) = if let Some(rest) = message.strip_prefix("missing field `") {
        (Mismatch::Missing, rest.split('`').next())
    } else if message.starts_with("unknown field") {
        // The path ends at the unknown key already.
        (Mismatch::Unknown, None)
    } else if message.starts_with("invalid type") {
        (Mismatch::WrongType, None)
    } else if message.starts_with("invalid value")
        || message.starts_with("unknown variant")
        || message.starts_with("invalid length")
    {
        (Mismatch::InvalidValue, None)
    } else {
        (Mismatch::Other, None)
    };
    let mut field = String::new();
    if let Some(name) = name {
        push_name(&mut field, name);
    }
    for segment in error.path().iter() {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } => push_name(&mut field, key),
            Segment::Enum { variant } => push_name(&mut field, variant),
            Segment::Unknown => push_name(&mut field, "?"),
        }
    }
    if let Some(named) = named {
        push_name(&mut field, named);
    }
    PayloadError::CustomType {
        field: printable(&field),
        problem,
    }
    .into()
}

/// Appends one name to a dotted path.
fn push_name(field: &mut String, part: &str) {
    if !field.is_empty() {
        field.push('.');
    }
    field.push_str(part);
}

/// At most [`MAX_FIELD_CHARS`] characters, with control characters shown as
/// `?`, so a path cannot break a log line.
fn printable(field: &str) -> String {
    field
        .chars()
        .take(MAX_FIELD_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn refusal<T: DeserializeOwned + core::fmt::Debug>(value: &Value) -> (String, Mismatch) {
        match from_value::<T>(value, None) {
            Err(Error::Payload(PayloadError::CustomType { field, problem })) => (field, problem),
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "read by serde only")]
    struct Session {
        role: String,
        tenant: u32,
        address: Option<Address>,
        scopes: Option<Vec<Scope>>,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "read by serde only")]
    struct Address {
        city: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Scope {
        Read,
        Write,
    }

    #[test]
    fn each_problem_names_its_field_and_never_the_value() {
        let cases = [
            (json!({"tenant": 7}), "role", Mismatch::Missing),
            (
                json!({"role": "a", "tenant": "SECRET"}),
                "tenant",
                Mismatch::WrongType,
            ),
            (
                json!({"role": "a", "tenant": -1}),
                "tenant",
                Mismatch::InvalidValue,
            ),
            (
                json!({"role": "a", "tenant": 1, "SECRET": 1}),
                "SECRET",
                Mismatch::Unknown,
            ),
            (
                json!({"role": "a", "tenant": 1, "address": {"city": 5}}),
                "address.city",
                Mismatch::WrongType,
            ),
            (
                json!({"role": "a", "tenant": 1, "address": {}}),
                "address.city",
                Mismatch::Missing,
            ),
            (
                json!({"role": "a", "tenant": 1, "scopes": ["read", "SECRET"]}),
                "scopes[1]",
                Mismatch::InvalidValue,
            ),
        ];
        for (value, field, problem) in cases {
            assert_eq!(
                refusal::<Session>(&value),
                (field.to_owned(), problem),
                "{value}"
            );
            let text = from_value::<Session>(&value, None).unwrap_err().to_string();
            assert!(text.contains(&format!("`{field}`")), "{text}");
            if field != "SECRET" {
                assert!(!text.contains("SECRET"), "{text}");
            }
        }
    }

    #[test]
    fn a_whole_that_does_not_fit_has_no_field() {
        assert_eq!(
            refusal::<Session>(&json!("SECRET")),
            (String::new(), Mismatch::WrongType)
        );
        assert_eq!(
            from_value::<Session>(&json!("SECRET"), None)
                .unwrap_err()
                .to_string(),
            "invalid claims: claims do not match the requested type: the claims as a whole do not fit"
        );
    }

    #[test]
    fn a_single_claim_is_named_by_its_name() {
        let refused = from_value::<Address>(&json!({"city": [1]}), Some("home"));
        assert!(matches!(
            refused,
            Err(Error::Payload(PayloadError::CustomType { ref field, problem: Mismatch::WrongType }))
                if field == "home.city"
        ));
    }

    #[test]
    fn a_payload_names_its_field_too() {
        let refused = from_payload::<Session>(br#"{"role":"a","tenant":"SECRET"}"#);
        let text = refused.unwrap_err().to_string();
        assert!(
            text.contains("`tenant` has the wrong type") && !text.contains("SECRET"),
            "{text}"
        );
    }

    #[test]
    fn long_and_control_character_names_are_cut_and_masked() {
        let key = format!("a\u{1b}[31m{}", "x".repeat(500));
        let value = json!({"role": "a", "tenant": 1, key: 1});
        let (field, problem) = refusal::<Session>(&value);
        assert_eq!(problem, Mismatch::Unknown);
        assert_eq!(field.chars().count(), MAX_FIELD_CHARS);
        assert!(field.starts_with("a?[31m"));
    }

    #[test]
    fn other_refusals_are_other() {
        #[derive(Debug)]
        struct Picky;
        impl<'de> Deserialize<'de> for Picky {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                Err(serde::de::Error::custom("no SECRET here"))
            }
        }
        let (field, problem) = refusal::<Picky>(&json!(1));
        assert_eq!((field.as_str(), problem), ("", Mismatch::Other));
    }
}
