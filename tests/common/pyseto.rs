//! Python's `pyseto`, through `tests/interop/pyseto_peer.py`.

use serde_json::Value;

use super::peer::Peer;

const PEER: Peer = Peer {
    name: "pyseto",
    program: "python3",
    script: "tests/interop/pyseto_peer.py",
    hello: "pyseto",
    error_field: "error_class",
};

/// See [`Peer::ask`].
pub(crate) fn ask(requests: &[Value]) -> Option<Vec<Value>> {
    PEER.ask(requests)
}

/// The string field `field` of a successful answer.
pub(crate) fn ok<'a>(answer: &'a Value, field: &str) -> &'a str {
    PEER.ok_str(answer, field)
}

/// Asserts that pyseto refused with the exception class `class`.
pub(crate) fn assert_refused(answer: &Value, class: &str) {
    PEER.assert_refused(answer, class);
}
