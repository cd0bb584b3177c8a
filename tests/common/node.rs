//! Node's `paseto` 4.x, through `tests/interop/paseto_peer.mjs`.

use serde_json::Value;

use super::peer::Peer;

const PEER: Peer = Peer {
    name: "node paseto",
    program: "node",
    script: "tests/interop/paseto_peer.mjs",
    hello: "paseto",
    error_field: "error_code",
};

/// See [`Peer::ask`].
pub(crate) fn ask(requests: &[Value]) -> Option<Vec<Value>> {
    PEER.ask(requests)
}

/// The field `field` of a successful answer.
pub(crate) fn ok<'a>(answer: &'a Value, field: &str) -> &'a Value {
    PEER.ok(answer, field)
}

/// The string field `field` of a successful answer.
pub(crate) fn ok_str<'a>(answer: &'a Value, field: &str) -> &'a str {
    PEER.ok_str(answer, field)
}

/// Asserts that paseto refused with the stable error code `code`.
pub(crate) fn assert_refused(answer: &Value, code: &str) {
    PEER.assert_refused(answer, code);
}
