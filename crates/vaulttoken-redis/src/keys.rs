//! Where each entry lives: `<prefix>:{<subject tag>}:<kind>:<name>`.
//!
//! Every key of one subject carries the same hash tag, so a subject's entries
//! share one Redis Cluster slot and one script can read or change them all.
//! The tag is `s:` and the base64url BLAKE2b-128 of the subject, so keys never
//! show who a subject is; tokens without a subject share the tag `anon`.
//!
//! Each of the 16384 cluster slots has its own epoch marker,
//! `<prefix>:{<slot tag>}:epoch`, where the slot tag is a short string that
//! hashes to that slot: a script reads the marker of its subject's slot
//! with the subject's keys (see `scripts.rs`).

use std::collections::HashMap;
use std::sync::LazyLock;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use blake2::Blake2b;
use blake2::digest::Digest;
use blake2::digest::consts::U16;
use redis::cluster_routing::Slot;

/// The tag of every entry of a token without a subject.
const ANONYMOUS_TAG: &str = "anon";

/// The keys of one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyLayout {
    prefix: String,
    /// Whether the keys are a cluster's: its change streams are one per
    /// slot, a single server's is one.
    cluster: bool,
}

/// The keys of one subject: all in one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectKeys<'a> {
    layout: &'a KeyLayout,
    /// `<prefix>:{<tag>}:`, which every key of the subject starts with.
    base: String,
    /// The epoch marker of the subject's slot.
    epoch: String,
    /// The tag of that marker, which also names a cluster slot's change
    /// stream: the stream's name is made only for a write
    /// ([`SubjectKeys::change_feed`]), a check needs none.
    slot: &'static str,
}

/// How many hash slots a Redis Cluster has.
pub(crate) const SLOTS: u16 = 16384;

/// How many tags (`e0`…`ezzzz`) the slot table may try: far more than it
/// needs (every slot has one within the first 200,000), so that building it
/// is bounded whatever happens.
const TAG_CANDIDATES: usize = 36 * 36 * 36 * 36;

/// For every slot, the first tag (`e` and a base-36 count) that hashes to
/// it, found once. Slots are Redis's own (`Slot::for_key` of the `redis`
/// crate, CRC16-XMODEM modulo 16384).
static SLOT_TAGS: LazyLock<HashMap<Slot, String>> = LazyLock::new(|| {
    let mut tags = HashMap::with_capacity(usize::from(SLOTS));
    for count in 0..TAG_CANDIDATES {
        if tags.len() == usize::from(SLOTS) {
            break;
        }
        let tag = format!("e{}", base36(count));
        tags.entry(Slot::for_key(&tag)).or_insert(tag);
    }
    tags
});

/// The number of every [`Slot`], which `redis` does not expose (`Slot` is
/// Redis's own slot function, kept rather than a copy of CRC16 here).
static SLOT_NUMBERS: LazyLock<HashMap<Slot, u16>> = LazyLock::new(|| {
    (0..SLOTS)
        .filter_map(|number| Slot::new(number).map(|slot| (slot, number)))
        .collect()
});

fn base36(mut n: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The hash tag of `subject`'s keys: `s:` and its hash, or the anonymous
/// tag.
fn subject_tag(subject: Option<&str>) -> String {
    match subject {
        Some(name) => format!("s:{}", subject_hash(name)),
        None => ANONYMOUS_TAG.to_owned(),
    }
}

/// The feed record of the change stream `changes`.
pub(crate) fn feed_of(changes: &str) -> String {
    format!("{changes}:feed")
}

/// The tag of the epoch marker of the slot `key` hashes to.
fn slot_tag(key: &str) -> &'static str {
    SLOT_TAGS
        .get(&Slot::for_key(key))
        .map_or("", String::as_str)
}

impl KeyLayout {
    /// The layout under `prefix` (checked by [`StoreOptions`](crate::StoreOptions)
    /// to hold no brace, so the subject's tag is the key's hash tag).
    pub(crate) fn new(prefix: &str, cluster: bool) -> Self {
        Self {
            prefix: prefix.to_owned(),
            cluster,
        }
    }

    /// The keys of `subject`, or of tokens without one.
    pub(crate) fn subject(&self, subject: Option<&str>) -> SubjectKeys<'_> {
        let base = format!("{}:{{{}}}:", self.prefix, subject_tag(subject));
        let slot = slot_tag(&base);
        let epoch = format!("{}:{{{slot}}}:epoch", self.prefix);
        SubjectKeys {
            layout: self,
            base,
            epoch,
            slot,
        }
    }

    /// The cluster slot of `subject`'s keys (a single server's keys are
    /// numbered by the same slots: each slot has its own epoch marker).
    pub(crate) fn slot_of(&self, subject: Option<&str>) -> u16 {
        SLOT_NUMBERS
            .get(&Slot::for_key(subject_tag(subject)))
            .copied()
            .unwrap_or_default()
    }

    /// The change stream and feed record of a cluster's `slot`.
    pub(crate) fn changes_of_slot(&self, slot: u16) -> (String, String) {
        let tag = Slot::new(slot)
            .and_then(|slot| SLOT_TAGS.get(&slot))
            .map_or("", String::as_str);
        let changes = self.changes_of_tag(tag);
        let feed = feed_of(&changes);
        (changes, feed)
    }

    /// A cluster's change stream of the slot whose epoch tag is `tag`.
    fn changes_of_tag(&self, tag: &str) -> String {
        format!("{}:{{{tag}}}:changes", self.prefix)
    }

    /// The slot of a cluster's change stream named `stream`, if it is one of
    /// this layout's.
    pub(crate) fn slot_of_stream(&self, stream: &[u8]) -> Option<u16> {
        let slot = *SLOT_NUMBERS.get(&Slot::for_key(stream))?;
        (self.changes_of_slot(slot).0.as_bytes() == stream).then_some(slot)
    }

    /// A single server's one change stream, `<prefix>:{changes}`.
    pub(crate) fn single_changes(&self) -> String {
        format!("{}:{{changes}}", self.prefix)
    }

    /// The epoch marker of every slot, in slot order.
    pub(crate) fn all_epochs(&self) -> Vec<String> {
        (0..SLOTS)
            .filter_map(|slot| self.epoch_of_slot(slot))
            .collect()
    }

    /// The epoch marker of `slot` (`None` past the last slot).
    pub(crate) fn epoch_of_slot(&self, slot: u16) -> Option<String> {
        let tag = SLOT_TAGS.get(&Slot::new(slot)?)?;
        Some(format!("{}:{{{tag}}}:epoch", self.prefix))
    }
}

impl SubjectKeys<'_> {
    /// The epoch marker of the subject's slot: `<epoch s>`, never expires.
    pub(crate) fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The change stream of the subject's slot (a single server's one
    /// stream) and its feed record: every write script's last two keys. The
    /// record is a hash of `n` (the stream's change counter), `i` (when the
    /// counter began, so a reader tells a new stream from its own), `h` (the
    /// longest reach of a change appended: `until` minus its time), `t`
    /// (the highest trim threshold used) and `f` (how many entries trimming
    /// removed).
    pub(crate) fn change_feed(&self) -> [String; 2] {
        let changes = if self.layout.cluster {
            self.layout.changes_of_tag(self.slot)
        } else {
            self.layout.single_changes()
        };
        let feed = feed_of(&changes);
        [changes, feed]
    }

    /// A revoked or spent token id: `revoked:<until ms>` or `used:<until ms>`.
    pub(crate) fn token(&self, token_id: &str) -> String {
        format!("{}id:{token_id}", self.base)
    }

    /// The subject's cutoff: `<cutoff s>:<until ms>`.
    pub(crate) fn cutoff(&self) -> String {
        format!("{}cutoff", self.base)
    }

    /// The one valid token id of `slot`.
    pub(crate) fn latest(&self, slot: &str) -> String {
        format!("{}latest:{slot}", self.base)
    }

    /// A refresh family's record (a hash).
    pub(crate) fn family(&self, family_id: &str) -> String {
        format!("{}{}{family_id}", self.base, FAMILY_INFIX)
    }

    /// The subject's families by creation time (a sorted set), for the cap.
    pub(crate) fn families(&self) -> String {
        format!("{}families", self.base)
    }
}

/// Between a subject's base and a family id in a family key. The create
/// script reaches the other families of the index by this layout.
const FAMILY_INFIX: &str = "family:";

/// The base64url (unpadded) BLAKE2b-128 of a subject: 22 characters.
fn subject_hash(subject: &str) -> String {
    let digest = Blake2b::<U16>::digest(subject.as_bytes());
    Base64UrlUnpadded::encode_string(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').expect("a tag opens");
        let close = key[open..].find('}').expect("a tag closes") + open;
        &key[open + 1..close]
    }

    #[test]
    fn every_key_of_a_subject_has_one_hash_tag() {
        let layout = KeyLayout::new("vaulttoken", false);
        let keys = layout.subject(Some("alice@example.com"));
        let all = [
            keys.token("jti-{1}"),
            keys.cutoff(),
            keys.latest("password_reset"),
            keys.family("fam-1"),
            keys.families(),
        ];
        let tag = hash_tag(&all[0]).to_owned();
        assert!(tag.starts_with("s:"));
        assert_eq!(tag.len(), 2 + 22);
        for key in &all {
            assert_eq!(hash_tag(key), tag, "{key}");
            assert!(key.starts_with("vaulttoken:{s:"), "{key}");
        }
    }

    #[test]
    fn keys_never_show_the_subject() {
        let layout = KeyLayout::new("p", false);
        let keys = layout.subject(Some("alice@example.com"));
        assert!(!keys.cutoff().contains("alice"));
    }

    #[test]
    fn subjects_and_no_subject_have_distinct_tags() {
        let layout = KeyLayout::new("p", false);
        let alice = layout.subject(Some("alice")).cutoff();
        let bob = layout.subject(Some("bob")).cutoff();
        let anonymous = layout.subject(None).cutoff();
        let empty = layout.subject(Some("")).cutoff();
        assert_eq!(anonymous, "p:{anon}:cutoff");
        let distinct: std::collections::HashSet<_> = [&alice, &bob, &anonymous, &empty].into();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn subject_hash_is_blake2b_128() {
        // BLAKE2b-128 of the empty string.
        assert_eq!(subject_hash(""), "yuZpQdnvvUBOTYh1jqZ2cA");
        assert_eq!(
            KeyLayout::new("p", false).subject(Some("")).token("j"),
            "p:{s:yuZpQdnvvUBOTYh1jqZ2cA}:id:j"
        );
    }

    #[test]
    fn every_slot_has_a_short_epoch_tag() {
        assert_eq!(SLOT_TAGS.len(), usize::from(SLOTS));
        for n in 0..SLOTS {
            let slot = Slot::new(n).expect("a slot");
            let tag = &SLOT_TAGS[&slot];
            assert_eq!(Slot::for_key(tag), slot, "{tag}");
            assert!(tag.starts_with('e') && tag.len() <= 5, "{tag}");
        }
        let all = KeyLayout::new("p", false).all_epochs();
        assert_eq!(all.len(), usize::from(SLOTS));
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), usize::from(SLOTS));
        // Redis Cluster's own slots (`CLUSTER KEYSLOT`): CRC16-XMODEM of the
        // tag, modulo 16384 (0x31c3 is below it).
        assert_eq!(
            Slot::for_key("{foo}:bar"),
            Slot::new(12182).expect("a slot")
        );
        assert_eq!(
            Slot::for_key("123456789"),
            Slot::new(0x31c3).expect("a slot")
        );
    }

    #[test]
    fn a_subjects_epoch_marker_shares_its_slot() {
        let layout = KeyLayout::new("vaulttoken", false);
        for subject in [Some("alice"), Some("bob"), Some(""), None] {
            let keys = layout.subject(subject);
            let epoch = keys.epoch().to_owned();
            assert!(
                epoch.starts_with("vaulttoken:{e") && epoch.ends_with("}:epoch"),
                "{epoch}"
            );
            assert_eq!(
                Slot::for_key(&epoch),
                Slot::for_key(keys.cutoff()),
                "{epoch}"
            );
            assert!(layout.all_epochs().contains(&epoch));
        }
        assert_ne!(
            layout.subject(Some("alice")).epoch(),
            layout.subject(Some("bob")).epoch()
        );
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn a_cluster_subject_appends_to_its_own_slots_stream() {
        let layout = KeyLayout::new("vaulttoken", true);
        for subject in [Some("alice"), Some("bob"), None] {
            let keys = layout.subject(subject);
            let [changes, feed] = keys.change_feed();
            assert_eq!(Slot::for_key(&changes), Slot::for_key(keys.cutoff()));
            assert_eq!(Slot::for_key(&feed), Slot::for_key(keys.cutoff()));
            assert!(changes.ends_with("}:changes"), "{changes}");
            assert_eq!(feed, format!("{changes}:feed"));
            assert_eq!(Slot::for_key(&changes), Slot::for_key(keys.epoch()));
        }
        assert_ne!(
            layout.subject(Some("alice")).change_feed(),
            layout.subject(Some("bob")).change_feed()
        );
    }

    #[test]
    fn a_subjects_slot_is_its_keys_slot() {
        let layout = KeyLayout::new("p", false);
        let all = layout.all_epochs();
        for subject in [Some("alice"), Some("bob"), Some(""), None] {
            let slot = layout.slot_of(subject);
            let keys = layout.subject(subject);
            assert_eq!(Slot::new(slot), Some(Slot::for_key(keys.cutoff())));
            assert_eq!(
                all[usize::from(slot)],
                keys.epoch(),
                "markers are in slot order"
            );
        }
        assert_eq!(SLOT_NUMBERS.len(), usize::from(SLOTS));
        assert_eq!(
            SLOT_NUMBERS[&Slot::new(SLOTS - 1).expect("a slot")],
            SLOTS - 1
        );
    }

    #[test]
    fn a_clusters_streams_are_named_by_slot() {
        let layout = KeyLayout::new("p", true);
        for subject in [Some("alice"), Some("bob"), None] {
            let [changes, feed] = layout.subject(subject).change_feed();
            let slot = layout.slot_of(subject);
            assert_eq!(layout.slot_of_stream(changes.as_bytes()), Some(slot));
            assert_eq!(layout.changes_of_slot(slot), (changes, feed));
        }
        assert_eq!(layout.slot_of_stream(b"p:{e0}:feed"), None);
        assert_eq!(layout.slot_of_stream(b"q:{e0}:changes"), None);
        assert_eq!(layout.slot_of_stream(b""), None);
    }

    #[test]
    fn a_single_server_has_one_stream() {
        let layout = KeyLayout::new("p", false);
        for subject in [Some("alice"), Some("bob"), None] {
            let keys = layout.subject(subject);
            assert_eq!(keys.change_feed(), ["p:{changes}", "p:{changes}:feed"]);
        }
    }

    #[test]
    fn kinds_do_not_collide() {
        let layout = KeyLayout::new("p", false);
        let keys = layout.subject(None);
        assert_eq!(keys.token("x"), "p:{anon}:id:x");
        assert_eq!(keys.latest("x"), "p:{anon}:latest:x");
        assert_eq!(keys.family("x"), "p:{anon}:family:x");
        assert_eq!(keys.families(), "p:{anon}:families");
    }
}
