//! One change of the mirror's stream, parsed ([`parse`]).
//!
//! The scripts write each change that can make a token invalid as one
//! stream field `c`, whose value is ASCII, five fields separated by single
//! spaces:
//!
//! ```text
//! <kind> <key> <n> <until_ms> <value>
//! ```
//!
//! | kind | change            | key                     | value                      |
//! |------|-------------------|-------------------------|----------------------------|
//! | `r`  | an id revoked     | id digest               | `-`                        |
//! | `u`  | an id spent       | id digest               | `-`                        |
//! | `c`  | a subject cutoff  | subject digest          | the cutoff (unix s, signed)|
//! | `l`  | a slot's latest   | latest digest           | the token id's digest      |
//! | `f`  | a family created  | family digest           | `-`                        |
//! | `R`  | a family revoked  | family digest           | `-`                        |
//! | `E`  | a slot's new epoch| the marker's slot tag   | the epoch (unix s, ≥ 1)    |
//!
//! Digests are 32 lowercase hex digits ([`Digest::to_hex`]); a slot tag is 1
//! to 8 characters `[0-9a-z]` (`e1z`). `n` is the stream's change counter
//! (≥ 1) and `until_ms` the unix millisecond until which the change matters
//! (≥ 0). Numbers are canonical decimals: no sign but a `-` where a value may
//! be negative, no leading zero, no `-0`.
//!
//! Anything else is a [`ChangeError`], never a panic; an error names at most
//! the kind, never the rest of the input.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::cluster_routing::Slot;

use crate::digest::Digest;
use crate::keys::SLOTS;

/// A change of the stream: what became invalid, and until when it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// An id was revoked (`r`).
    Revoked { id: Digest, until_ms: i64 },
    /// An id was spent (`u`).
    Used { id: Digest, until_ms: i64 },
    /// A subject's cutoff (`c`): tokens issued before `cutoff` (unix s).
    Cutoff {
        subject: Digest,
        cutoff: i64,
        until_ms: i64,
    },
    /// A slot's latest token (`l`): others of the slot are superseded.
    Latest {
        slot: Digest,
        token: Digest,
        until_ms: i64,
    },
    /// A family was created (`f`), alive until `until_ms`.
    FamilyCreated { family: Digest, until_ms: i64 },
    /// A family was revoked (`R`).
    FamilyRevoked { family: Digest, until_ms: i64 },
    /// A cluster slot's state began at `epoch` (unix s) (`E`).
    Epoch { slot: u16, epoch: i64 },
}

/// A [`Change`] with its number in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Numbered {
    /// The stream's change counter: 1 for the first change.
    pub(crate) n: u64,
    /// The change.
    pub(crate) change: Change,
}

/// Why a change could not be parsed. It names at most the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChangeError {
    /// Nothing at all.
    #[error("a mirror change is empty")]
    Empty,
    /// A byte outside ASCII.
    #[error("a mirror change is not ASCII")]
    NotAscii,
    /// Not five fields separated by single spaces.
    #[error("a mirror change does not have five fields separated by single spaces")]
    Fields,
    /// The kind is not one of `r u c l f R E`.
    #[error("a mirror change has an unknown kind")]
    Kind,
    /// The key is not a digest (or for `E`, not a slot tag).
    #[error("a mirror change `{0}` has a malformed key")]
    Key(char),
    /// `n` is not a decimal from 1 to `u64::MAX`.
    #[error("a mirror change `{0}` has a malformed change number")]
    Number(char),
    /// `until_ms` is not a decimal from 0 to `i64::MAX`.
    #[error("a mirror change `{0}` has a malformed until")]
    Until(char),
    /// The value is not what the kind carries.
    #[error("a mirror change `{0}` has a malformed value")]
    Value(char),
}

/// Parses one change: the value of the stream field `c`.
///
/// # Errors
///
/// [`ChangeError`] for anything that is not exactly the documented form.
pub(crate) fn parse(body: &[u8]) -> Result<Numbered, ChangeError> {
    if body.is_empty() {
        return Err(ChangeError::Empty);
    }
    if !body.is_ascii() {
        return Err(ChangeError::NotAscii);
    }
    let mut fields = body.split(|&byte| byte == b' ');
    let mut next = || fields.next().filter(|field| !field.is_empty());
    let (Some(kind), Some(key), Some(n), Some(until), Some(value)) =
        (next(), next(), next(), next(), next())
    else {
        return Err(ChangeError::Fields);
    };
    if fields.next().is_some() {
        return Err(ChangeError::Fields);
    }
    let kind = match kind {
        [kind @ (b'r' | b'u' | b'c' | b'l' | b'f' | b'R' | b'E')] => char::from(*kind),
        _ => return Err(ChangeError::Kind),
    };
    let n = unsigned(n)
        .filter(|&n| n >= 1)
        .ok_or(ChangeError::Number(kind))?;
    let until_ms = unsigned(until)
        .and_then(|until| i64::try_from(until).ok())
        .ok_or(ChangeError::Until(kind))?;
    let digest = || Digest::from_hex(key).ok_or(ChangeError::Key(kind));
    let none = || {
        (value == b"-")
            .then_some(())
            .ok_or(ChangeError::Value(kind))
    };
    let change = match kind {
        'r' => none()
            .and(digest())
            .map(|id| Change::Revoked { id, until_ms }),
        'u' => none().and(digest()).map(|id| Change::Used { id, until_ms }),
        'f' => none()
            .and(digest())
            .map(|family| Change::FamilyCreated { family, until_ms }),
        'R' => none()
            .and(digest())
            .map(|family| Change::FamilyRevoked { family, until_ms }),
        'c' => {
            let subject = digest()?;
            let cutoff = signed(value).ok_or(ChangeError::Value(kind))?;
            Ok(Change::Cutoff {
                subject,
                cutoff,
                until_ms,
            })
        }
        'l' => {
            let slot = digest()?;
            let token = Digest::from_hex(value).ok_or(ChangeError::Value(kind))?;
            Ok(Change::Latest {
                slot,
                token,
                until_ms,
            })
        }
        _ => {
            let slot = slot_of_tag(key).ok_or(ChangeError::Key(kind))?;
            let epoch = signed(value)
                .filter(|&epoch| epoch >= 1)
                .ok_or(ChangeError::Value(kind))?;
            Ok(Change::Epoch { slot, epoch })
        }
    }?;
    Ok(Numbered { n, change })
}

/// A canonical unsigned decimal: digits only, no leading zero (but `0`),
/// at most `u64::MAX`.
fn unsigned(text: &[u8]) -> Option<u64> {
    match text {
        [] => None,
        [b'0', _, ..] => None,
        _ => text.iter().try_fold(0_u64, |sum, &digit| {
            if !digit.is_ascii_digit() {
                return None;
            }
            sum.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        }),
    }
}

/// A canonical signed decimal: [`unsigned`], maybe after a `-` (not `-0`),
/// within `i64`.
fn signed(text: &[u8]) -> Option<i64> {
    match text {
        [b'-', b'0'] => None,
        [b'-', digits @ ..] => {
            // Down to `i64::MIN`, whose magnitude is one past `i64::MAX`.
            0_i64.checked_sub_unsigned(unsigned(digits)?)
        }
        _ => i64::try_from(unsigned(text)?).ok(),
    }
}

/// The cluster slot of an epoch marker's tag: 1 to 8 of `[0-9a-z]`.
fn slot_of_tag(tag: &[u8]) -> Option<u16> {
    let valid = (1..=8).contains(&tag.len())
        && tag
            .iter()
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase());
    if !valid {
        return None;
    }
    SLOT_NUMBERS.get(&Slot::for_key(tag)).copied()
}

/// The number of every [`Slot`], which `redis` does not expose: `Slot` is
/// Redis's own slot function (`keys.rs` uses it too), kept rather than a
/// copy of CRC16 here.
static SLOT_NUMBERS: LazyLock<HashMap<Slot, u16>> = LazyLock::new(|| {
    (0..SLOTS)
        .filter_map(|number| Slot::new(number).map(|slot| (slot, number)))
        .collect()
});

/// Writes a change as the scripts do, for round-trip tests. An epoch change
/// gets the first `e<base 36>` tag of its slot (as `keys.rs` picks) and
/// `until_ms` 0 (which [`Change::Epoch`] does not keep).
#[cfg(test)]
pub(crate) fn format(numbered: &Numbered) -> String {
    let n = numbered.n;
    match numbered.change {
        Change::Revoked { id, until_ms } => format!("r {} {n} {until_ms} -", id.to_hex()),
        Change::Used { id, until_ms } => format!("u {} {n} {until_ms} -", id.to_hex()),
        Change::Cutoff {
            subject,
            cutoff,
            until_ms,
        } => format!("c {} {n} {until_ms} {cutoff}", subject.to_hex()),
        Change::Latest {
            slot,
            token,
            until_ms,
        } => format!("l {} {n} {until_ms} {}", slot.to_hex(), token.to_hex()),
        Change::FamilyCreated { family, until_ms } => {
            format!("f {} {n} {until_ms} -", family.to_hex())
        }
        Change::FamilyRevoked { family, until_ms } => {
            format!("R {} {n} {until_ms} -", family.to_hex())
        }
        Change::Epoch { slot, epoch } => format!("E {} {n} 0 {epoch}", tests::tag_of(slot)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    /// The first `e<base 36>` tag that hashes to `slot`.
    pub(super) fn tag_of(slot: u16) -> String {
        // Bounded (keys.rs: every slot has a tag within 200,000), so a
        // broken slot function fails rather than searching forever.
        (0_u32..200_000)
            .map(|count| format!("e{}", base36(count)))
            .find(|tag| slot_of_tag(tag.as_bytes()) == Some(slot))
            .expect("every slot has a tag")
    }

    fn base36(mut count: u32) -> String {
        let mut digits = Vec::new();
        loop {
            digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(count % 36) as usize]);
            count /= 36;
            if count == 0 {
                break;
            }
        }
        digits.reverse();
        String::from_utf8(digits).expect("ASCII")
    }

    fn assert_canonical_or_refused(text: &[u8]) {
        match parse(text) {
            Ok(Numbered {
                change: Change::Epoch { slot, .. },
                ..
            }) => {
                assert_eq!(text.first(), Some(&b'E'));
                assert!(usize::from(slot) < usize::from(SLOTS));
            }
            Ok(numbered) => assert_eq!(format(&numbered).as_bytes(), text),
            Err(_) => {}
        }
    }

    fn digest(hex: &str) -> Digest {
        Digest::from_hex(hex.as_bytes()).expect("a digest")
    }

    fn parsed(text: &str) -> Result<Numbered, ChangeError> {
        parse(text.as_bytes())
    }

    #[test]
    fn every_kind_parses() {
        let (a, b) = (digest(A), digest(B));
        let cases = [
            (
                format!("r {A} 1 1700000000000 -"),
                1,
                Change::Revoked {
                    id: a,
                    until_ms: 1_700_000_000_000,
                },
            ),
            (
                format!("u {A} 2 0 -"),
                2,
                Change::Used { id: a, until_ms: 0 },
            ),
            (
                format!("c {A} 3 9223372036854775807 -5"),
                3,
                Change::Cutoff {
                    subject: a,
                    cutoff: -5,
                    until_ms: i64::MAX,
                },
            ),
            (
                format!("c {A} 4 10 1700000000"),
                4,
                Change::Cutoff {
                    subject: a,
                    cutoff: 1_700_000_000,
                    until_ms: 10,
                },
            ),
            (
                format!("l {A} 18446744073709551615 10 {B}"),
                u64::MAX,
                Change::Latest {
                    slot: a,
                    token: b,
                    until_ms: 10,
                },
            ),
            (
                format!("f {B} 6 11 -"),
                6,
                Change::FamilyCreated {
                    family: b,
                    until_ms: 11,
                },
            ),
            (
                format!("R {B} 7 12 -"),
                7,
                Change::FamilyRevoked {
                    family: b,
                    until_ms: 12,
                },
            ),
        ];
        for (text, n, change) in cases {
            assert_eq!(parsed(&text), Ok(Numbered { n, change }), "{text}");
        }
    }

    #[test]
    fn an_epoch_change_names_its_slot_by_redis_slot_function() {
        // `e0`: CRC16-XMODEM("e0") % 16384, as `redis` computes it.
        let slot = slot_of_tag(b"e0").expect("a slot");
        assert_eq!(Slot::for_key("e0"), Slot::new(slot).expect("in range"));
        assert_eq!(
            parsed("E e0 8 1700000000123 1700000001"),
            Ok(Numbered {
                n: 8,
                change: Change::Epoch {
                    slot,
                    epoch: 1_700_000_001
                }
            })
        );
        // Redis's hash-tag rule does not apply to a bare tag: the whole
        // tag is hashed, and `{` is not a tag character anyway.
        assert_eq!(parsed("E {e0} 8 0 1").err(), Some(ChangeError::Key('E')));
        for slot in [0, 1, 5_000, SLOTS - 1] {
            let tag = tag_of(slot);
            assert_eq!(slot_of_tag(tag.as_bytes()), Some(slot));
        }
    }

    #[test]
    fn every_slot_is_numbered() {
        assert_eq!(SLOT_NUMBERS.len(), usize::from(SLOTS));
        for number in [0, 1, 8_191, SLOTS - 1] {
            assert_eq!(
                SLOT_NUMBERS.get(&Slot::new(number).expect("a slot")),
                Some(&number)
            );
        }
    }

    #[test]
    fn changes_round_trip_through_format() {
        let (a, b) = (Digest::token(Some("s"), "j"), Digest::token_id("k"));
        let changes = [
            Change::Revoked { id: a, until_ms: 1 },
            Change::Used {
                id: b,
                until_ms: i64::MAX,
            },
            Change::Cutoff {
                subject: a,
                cutoff: i64::MIN,
                until_ms: 0,
            },
            Change::Cutoff {
                subject: a,
                cutoff: i64::MAX,
                until_ms: 3,
            },
            Change::Cutoff {
                subject: a,
                cutoff: 0,
                until_ms: 3,
            },
            Change::Latest {
                slot: a,
                token: b,
                until_ms: 4,
            },
            Change::FamilyCreated {
                family: b,
                until_ms: 5,
            },
            Change::FamilyRevoked {
                family: a,
                until_ms: 6,
            },
            Change::Epoch { slot: 0, epoch: 1 },
            Change::Epoch {
                slot: SLOTS - 1,
                epoch: i64::MAX,
            },
        ];
        for (n, change) in (1..).zip(changes) {
            let numbered = Numbered { n, change };
            assert_eq!(parse(format(&numbered).as_bytes()), Ok(numbered));
        }
    }

    #[test]
    fn empty_and_non_ascii_are_refused() {
        assert_eq!(parsed(""), Err(ChangeError::Empty));
        assert_eq!(
            parse(format!("r {A} 1 2 \u{e9}").as_bytes()),
            Err(ChangeError::NotAscii)
        );
        assert_eq!(parse(b"r \xff 1 2 -"), Err(ChangeError::NotAscii));
    }

    #[test]
    fn anything_but_five_fields_with_single_spaces_is_refused() {
        for text in [
            "r".to_owned(),
            " ".to_owned(),
            format!("r {A}"),
            format!("r {A} 1 2"),
            format!("r {A} 1 2 - -"),
            format!("r {A} 1 2 - "),
            format!(" r {A} 1 2 -"),
            format!("r  {A} 1 2 -"),
            format!("r {A} 1  2 -"),
            format!("r {A} 1 2\t-"),
            format!("r\t{A} 1 2 -"),
        ] {
            assert_eq!(parsed(&text), Err(ChangeError::Fields), "{text:?}");
        }
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        for kind in ["x", "C", "U", "e", "rr", "-", "0"] {
            assert_eq!(
                parsed(&format!("{kind} {A} 1 2 -")),
                Err(ChangeError::Kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_malformed_key_is_refused() {
        let short = &A[..31];
        let upper = A.to_uppercase();
        for kind in ["r", "u", "f", "R"] {
            for key in [short, upper.as_str(), "-", "e0"] {
                let kind_char = kind.chars().next().expect("one");
                assert_eq!(
                    parsed(&format!("{kind} {key} 1 2 -")),
                    Err(ChangeError::Key(kind_char)),
                    "{kind} {key}"
                );
            }
        }
        assert_eq!(
            parsed(&format!("c {short} 1 2 5")),
            Err(ChangeError::Key('c'))
        );
        assert_eq!(
            parsed(&format!("l {short} 1 2 {B}")),
            Err(ChangeError::Key('l'))
        );
        for tag in ["e1234567z", "E0", "e-", "e_1", A] {
            assert_eq!(
                parsed(&format!("E {tag} 1 2 5")),
                Err(ChangeError::Key('E')),
                "{tag}"
            );
        }
        for tag in ["0", "z", "e1234567", "zzzzzzzz"] {
            assert!(parsed(&format!("E {tag} 1 2 5")).is_ok(), "{tag}");
        }
    }

    #[test]
    fn a_malformed_number_is_refused() {
        for n in [
            "0",
            "01",
            "+1",
            "-1",
            "1a",
            "18446744073709551616",
            "99999999999999999999",
        ] {
            assert_eq!(
                parsed(&format!("r {A} {n} 2 -")),
                Err(ChangeError::Number('r')),
                "{n}"
            );
        }
    }

    #[test]
    fn a_malformed_until_is_refused() {
        for until in ["-1", "00", "01", "+1", "1.5", "9223372036854775808", "x"] {
            assert_eq!(
                parsed(&format!("u {A} 1 {until} -")),
                Err(ChangeError::Until('u')),
                "{until}"
            );
        }
    }

    #[test]
    fn a_malformed_value_is_refused() {
        for (kind, value) in [("r", "0"), ("u", "--"), ("f", "x"), ("R", "1")] {
            let kind_char = kind.chars().next().expect("one");
            assert_eq!(
                parsed(&format!("{kind} {A} 1 2 {value}")),
                Err(ChangeError::Value(kind_char)),
                "{kind} {value}"
            );
        }
        for cutoff in [
            "-",
            "-0",
            "01",
            "-01",
            "+5",
            "9223372036854775808",
            "-9223372036854775809",
            "1e3",
        ] {
            assert_eq!(
                parsed(&format!("c {A} 1 2 {cutoff}")),
                Err(ChangeError::Value('c')),
                "{cutoff}"
            );
        }
        assert!(parsed(&format!("c {A} 1 2 -9223372036854775808")).is_ok());
        assert!(parsed(&format!("c {A} 1 2 9223372036854775807")).is_ok());
        for token in ["-", &B[..31], &B.to_uppercase()] {
            assert_eq!(
                parsed(&format!("l {A} 1 2 {token}")),
                Err(ChangeError::Value('l')),
                "{token}"
            );
        }
        for epoch in ["0", "-1", "-", "01", "9223372036854775808"] {
            assert_eq!(
                parsed(&format!("E e0 1 2 {epoch}")),
                Err(ChangeError::Value('E')),
                "{epoch}"
            );
        }
    }

    #[test]
    fn errors_name_at_most_the_kind() {
        let secret = "topsecretjti";
        for text in [
            format!("r {secret} 1 2 -"),
            format!("{secret} {A} 1 2 -"),
            format!("c {A} 1 2 {secret}"),
            format!("c {A} {secret} 2 5"),
        ] {
            let message = parsed(&text).expect_err("refused").to_string();
            assert!(!message.contains(secret), "{message}");
            assert!(!message.contains(A), "{message}");
        }
        assert_eq!(
            ChangeError::Value('c').to_string(),
            "a mirror change `c` has a malformed value"
        );
    }

    /// Truncated and altered changes: an error, or a change whose canonical
    /// form is exactly the input (so nothing odd is ever accepted), and no
    /// panic.
    #[test]
    fn odd_bytes_are_refused_or_canonical() {
        let seeds: [&[u8]; 6] = [
            b"r 0123456789abcdef0123456789abcdef 1 2 -",
            b"E e0 1 2 3",
            b"c 0123456789abcdef0123456789abcdef 1 2 -5",
            b"-",
            b"     ",
            b"\0\0\0\0\0",
        ];
        for seed in seeds {
            for cut in 0..=seed.len() {
                assert_canonical_or_refused(&seed[..cut]);
                for byte in [0, b' ', b'-', b'0', b'9', b'a', b'{', 0x7f, 0x80, 0xff] {
                    let mut text = seed.to_vec();
                    if cut < text.len() {
                        text[cut] = byte;
                        assert_canonical_or_refused(&text);
                    }
                }
            }
        }
    }
}
