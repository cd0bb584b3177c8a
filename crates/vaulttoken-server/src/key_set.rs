//! The key set `GET /keys` publishes (`docs/KEYSET.md`): built from the
//! access ring in force, with its strong `ETag`.
//!
//! A `v4.public` ring gives a `public` set (each key's `k4.public`), a
//! `v4.local` ring a `local` one (ids only: no key of theirs leaves the
//! server).

use blake2::Blake2b;
use blake2::digest::Digest as _;
use blake2::digest::consts::U16;
use time::{Duration, OffsetDateTime};
use vaulttoken::Error;
use vaulttoken::keyring::{KeySet, PublishedKey, PublishedStatus};
use vaulttoken::paserk::KeyId;

use crate::access::AccessKeys;

/// The key set of `access`, published by `issuer`, which readers may cache
/// for `cache_seconds`.
///
/// # Errors
///
/// [`Error::KeySet`] for an issuer or a cache time the document cannot
/// hold (both are checked at start), or a ring of more keys than a set
/// holds.
pub(crate) fn key_set(
    access: &AccessKeys,
    issuer: &str,
    cache_seconds: u32,
) -> Result<KeySet, Error> {
    let cache_time = Duration::seconds(i64::from(cache_seconds));
    let set = match access {
        AccessKeys::Public { ring, .. } => KeySet::of_ring(issuer, cache_time, ring),
        AccessKeys::Local { ring, .. } => KeySet::of_ring(issuer, cache_time, ring),
    }?;
    match access.pending_promotion() {
        Some((kid, at)) => announced(&set, &kid, at),
        None => Ok(set),
    }
}

/// `set` with the announced key `kid` as `next` with its `signs_from`: the
/// ring knows a key is next, the document in force when it signs.
fn announced(set: &KeySet, kid: &KeyId, at: OffsetDateTime) -> Result<KeySet, Error> {
    let keys = set
        .keys()
        .iter()
        .map(|key| {
            // The announced key is the ring's one `next` key (one rotation
            // is announced at a time, read from the same snapshot).
            if key.kid() != kid {
                return Ok(key.clone());
            }
            let status = PublishedStatus::Next {
                signs_from: Some(at),
            };
            match key.public_key() {
                Some(public) => PublishedKey::public(*public, status),
                None => Ok(PublishedKey::id_only(kid.clone(), status)),
            }
        })
        .collect::<Result<Vec<_>, Error>>()?;
    KeySet::new(set.issuer(), set.purpose(), set.cache_time(), keys)
}

/// The published document and its strong `ETag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    /// The JSON document.
    pub(crate) body: String,
    /// `"` + the hex BLAKE2b-128 of `body` + `"`: the same for the same
    /// bytes, on every instance.
    pub(crate) etag: String,
}

impl Published {
    /// `set` as served.
    pub(crate) fn of(set: &KeySet) -> Self {
        let body = set.to_json();
        let digest = Blake2b::<U16>::digest(body.as_bytes());
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Self {
            etag: format!("\"{hex}\""),
            body,
        }
    }

    /// Whether an `If-None-Match` value names this document: `*`, or a
    /// list holding its `ETag` (a weak `W/` form matches too, RFC 9110
    /// §13.1.2 compares weakly).
    pub(crate) fn matches(&self, if_none_match: &str) -> bool {
        if_none_match
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vaulttoken::keyring::{KeySetPurpose, PublishedStatus};
    use vaulttoken::store::MemoryStore;

    use super::*;
    use crate::config::AccessPurpose;

    fn access(purpose: AccessPurpose) -> AccessKeys {
        AccessKeys::generate(purpose, Duration::minutes(15), Arc::new(MemoryStore::new())).unwrap()
    }

    #[test]
    fn a_public_ring_gives_a_public_set_with_its_active_key() {
        let keys = access(AccessPurpose::Public);
        let set = key_set(&keys, "https://auth.example", 300).unwrap();
        assert_eq!(set.issuer(), "https://auth.example");
        assert_eq!(set.purpose(), KeySetPurpose::Public);
        assert_eq!(set.cache_time(), Duration::seconds(300));
        let active = set.active().unwrap();
        assert_eq!(
            active.status(),
            PublishedStatus::Active { signs_from: None }
        );
        assert!(active.public_key().is_some());
        assert_eq!(keys.key_ids(), vec![active.kid().as_str().to_owned()]);
    }

    #[test]
    fn a_local_ring_gives_ids_only() {
        let keys = access(AccessPurpose::Local);
        let set = key_set(&keys, "https://auth.example", 0).unwrap();
        assert_eq!(set.purpose(), KeySetPurpose::Local);
        assert_eq!(set.cache_time(), Duration::ZERO);
        assert!(set.keys().iter().all(|key| key.public_key().is_none()));
        assert!(set.keys()[0].kid().as_str().starts_with("k4.lid."));
    }

    #[test]
    fn the_etag_is_the_quoted_hash_of_the_body_and_changes_with_it() {
        let keys = access(AccessPurpose::Public);
        let one = Published::of(&key_set(&keys, "https://a.example", 300).unwrap());
        let again = Published::of(&key_set(&keys, "https://a.example", 300).unwrap());
        assert_eq!(one, again);
        assert_eq!(one.etag.len(), 2 + 32);
        assert!(one.etag.starts_with('"') && one.etag.ends_with('"'));
        let expected: String = Blake2b::<U16>::digest(one.body.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(one.etag, format!("\"{expected}\""));
        let other = Published::of(&key_set(&keys, "https://b.example", 300).unwrap());
        assert_ne!(one.etag, other.etag);
    }

    #[test]
    fn if_none_match_names_the_tag_in_a_list_weakly_or_by_star() {
        let keys = access(AccessPurpose::Public);
        let published = Published::of(&key_set(&keys, "https://a.example", 300).unwrap());
        let tag = published.etag.clone();
        assert!(published.matches(&tag));
        assert!(published.matches(&format!("\"other\", {tag}")));
        assert!(published.matches(&format!("W/{tag}")));
        assert!(published.matches("*"));
        assert!(!published.matches("\"other\""));
        assert!(!published.matches(""));
        assert!(!published.matches(tag.trim_matches('"')));
    }
}
