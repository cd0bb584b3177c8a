//! The revocation mirror (issue 25): the stream of changes kept in memory,
//! so that a check can be answered without a round trip.

pub(crate) mod table;
