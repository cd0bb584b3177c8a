//! JSON equality for round trips, shared by the targets that include it with
//! `#[path = "common/json.rs"] mod json;`.
//!
//! `serde_json` without its `float_roundtrip` feature may read a float a few units
//! in the last place off, so a number written out and read back drifted (found
//! by this fuzzer: `184467440737036854775808` read as `1.8446744073703686e23`,
//! then as `1.844674407370369e23`; inputs in `fuzz/regressions/claims_parse/`).
//! vaulttoken now enables the feature, so floats must round-trip exactly:
//! [`MAX_ULPS`] is 0, and the tolerance stays only as a knob for investigation.

use serde_json::{Map, Value};

/// How many units in the last place a float may move in one write-and-read.
pub const MAX_ULPS: u64 = 0;

/// Whether `a` and `b` are equal, allowing floats to differ by [`MAX_ULPS`].
pub fn approx_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => floats_close(x, y),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| approx_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => maps_approx_eq(x, y),
        _ => a == b,
    }
}

/// Whether two objects have the same keys with [`approx_eq`] values.
pub fn maps_approx_eq(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(key, x)| b.get(key).is_some_and(|y| approx_eq(x, y)))
}

fn floats_close(x: f64, y: f64) -> bool {
    if x == y {
        return true;
    }
    // Finite floats of one sign are ordered like their bit patterns.
    if !x.is_finite() || !y.is_finite() || x.is_sign_negative() != y.is_sign_negative() {
        return false;
    }
    x.to_bits().abs_diff(y.to_bits()) <= MAX_ULPS
}
