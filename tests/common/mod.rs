//! Helpers shared by the integration tests: hex for vectors and peers, and the
//! peer implementations that the interop tests run as separate processes. Each
//! test file is its own crate and uses only part of this module, so unused items
//! are expected here.
#![allow(dead_code, reason = "each test crate uses a different part")]

pub(crate) mod node;
pub(crate) mod peer;
pub(crate) mod pyseto;

/// Lowercase hex: how byte strings travel to and from the peers.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Decodes hex from a peer or a test vector; panics on anything malformed.
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .unwrap_or_else(|err| panic!("bad hex {text:?}: {err}"))
        })
        .collect()
}
