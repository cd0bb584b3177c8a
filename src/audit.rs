//! Audit events, through [`tracing`](https://docs.rs/tracing) on one target,
//! [`TARGET`] (`vaulttoken::audit`), with stable names ([`AuditEvent::name`]).
//!
//! Every event has the field `event` (its name) and, where they apply: `jti`,
//! `family`, `generation`, `kind` (a trust-token kind), `kid`, `remaining_secs`
//! (the token's remaining lifetime), `reason` (a stable code, such as
//! [`Denial::code`](crate::error::Denial::code)), `context` (the name of a
//! drifted context value, never the value) and `subject`, a keyed hash
//! of the subject ([`subject_hash`]). Never the token, a claim value or key
//! material.
//!
//! Route them with your subscriber, for example with `tracing-subscriber`'s
//! `Targets` filter on `vaulttoken::audit`.

use std::sync::OnceLock;

use blake2::digest::Mac;
use blake2::digest::consts::U16;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::encoding;
use crate::error::{Error, StoreError};
use crate::primitives::{keyed_blake2b, random_array};

/// The `tracing` target of every audit event.
pub const TARGET: &str = "vaulttoken::audit";

/// The events vaulttoken reports.
///
/// # Examples
///
/// ```
/// use vaulttoken::audit::AuditEvent;
///
/// assert_eq!(AuditEvent::FamilyReuseDetected.name(), "family_reuse_detected");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A service issued a token.
    TokenIssued,
    /// A decode refused a token; `reason` says why.
    TokenRejected,
    /// A token id was revoked.
    TokenRevoked,
    /// A subject's tokens issued before a cutoff were revoked.
    SubjectRevoked,
    /// A refresh family was created.
    FamilyCreated,
    /// A refresh family moved to its next generation.
    FamilyRotated,
    /// An old refresh token came back: the family is revoked.
    FamilyReuseDetected,
    /// The previous refresh token came back inside the grace window.
    GraceUsed,
    /// A refresh family was revoked.
    FamilyRevoked,
    /// A single-use trust token was spent.
    TrustTokenConsumed,
    /// An observed context value (IP, user agent) changed.
    BindingDrift,
    /// A token store could not answer.
    StoreUnavailable,
    /// A token store found its data lost (a Redis restarted without
    /// persistence, flushed or replaced): it refuses every token issued
    /// before now, and users sign in again. Reported at `ERROR`.
    StoreDataLost,
}

impl AuditEvent {
    /// The event's stable name, its `event` field.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::audit::AuditEvent;
    ///
    /// assert_eq!(AuditEvent::TokenRejected.name(), "token_rejected");
    /// assert_eq!(AuditEvent::StoreUnavailable.name(), "store_unavailable");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::TokenIssued => "token_issued",
            Self::TokenRejected => "token_rejected",
            Self::TokenRevoked => "token_revoked",
            Self::SubjectRevoked => "subject_revoked",
            Self::FamilyCreated => "family_created",
            Self::FamilyRotated => "family_rotated",
            Self::FamilyReuseDetected => "family_reuse_detected",
            Self::GraceUsed => "grace_used",
            Self::FamilyRevoked => "family_revoked",
            Self::TrustTokenConsumed => "trust_token_consumed",
            Self::BindingDrift => "binding_drift",
            Self::StoreUnavailable => "store_unavailable",
            Self::StoreDataLost => "store_data_lost",
        }
    }

    /// Whether the event reports a failure an operator must act on (reported
    /// at `ERROR`).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::audit::AuditEvent;
    ///
    /// assert!(AuditEvent::StoreDataLost.is_error());
    /// assert!(!AuditEvent::StoreUnavailable.is_error());
    /// ```
    #[must_use]
    pub fn is_error(self) -> bool {
        matches!(self, Self::StoreDataLost)
    }

    /// Whether the event calls for attention (reported at `WARN`; errors,
    /// [`AuditEvent::is_error`], at `ERROR`; the rest at `INFO`).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::audit::AuditEvent;
    ///
    /// assert!(AuditEvent::FamilyReuseDetected.is_warning());
    /// assert!(!AuditEvent::TokenIssued.is_warning());
    /// ```
    #[must_use]
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::FamilyReuseDetected | Self::StoreUnavailable | Self::BindingDrift
        )
    }
}

/// The key subjects are hashed with. Set it once, before the first event, to
/// the same value on every instance so their audit logs correlate; unset, each
/// process draws a random one.
static SUBJECT_KEY: OnceLock<Zeroizing<[u8; 32]>> = OnceLock::new();

/// Sets the key audit events hash subjects with (see [`subject_hash`]).
/// Returns `false`, and changes nothing, if a key is already in use.
///
/// # Examples
///
/// ```
/// use vaulttoken::audit;
///
/// audit::set_subject_key([7; 32]);
/// let before = audit::subject_hash("alice");
/// // A key, once in use, stays: a second call changes nothing.
/// assert!(!audit::set_subject_key([8; 32]));
/// assert_eq!(audit::subject_hash("alice"), before);
/// ```
pub fn set_subject_key(key: [u8; 32]) -> bool {
    SUBJECT_KEY.set(Zeroizing::new(key)).is_ok()
}

/// How an audit event names a subject: base64url of a keyed BLAKE2b-128 of
/// it, so logs can follow one subject without holding who it is.
///
/// # Examples
///
/// ```
/// use vaulttoken::audit::subject_hash;
///
/// let hash = subject_hash("alice@example.com");
/// assert_eq!(hash, subject_hash("alice@example.com"));
/// assert_ne!(hash, subject_hash("bob@example.com"));
/// assert!(!hash.contains("alice"));
/// ```
#[must_use]
pub fn subject_hash(subject: &str) -> String {
    let key = SUBJECT_KEY.get_or_init(|| {
        // Without randomness there is no key: hashing with a fixed one would
        // let anyone reverse a guessable subject. Such a process is failing
        // everything else anyway; its events then carry no subject hash key
        // anyone knows.
        random_array::<32>().unwrap_or_else(|_| Zeroizing::new([0x5a; 32]))
    });
    let mac = keyed_blake2b::<U16>(key, &[b"vaulttoken.audit.subject", subject.as_bytes()]);
    encoding::encode_base64url(&mac.finalize().into_bytes())
}

/// The fields of one event; unset ones are left out.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub(crate) jti: Option<&'a str>,
    pub(crate) family: Option<&'a str>,
    pub(crate) generation: Option<u64>,
    pub(crate) kind: Option<&'a str>,
    pub(crate) kid: Option<&'a str>,
    pub(crate) subject: Option<&'a str>,
    pub(crate) expires: Option<OffsetDateTime>,
    /// Only with `expires`: together they give the remaining lifetime.
    pub(crate) now: Option<OffsetDateTime>,
    pub(crate) reason: Option<&'a str>,
    /// The name of a context value (never the value).
    pub(crate) context: Option<&'a str>,
}

/// Reports `event` with `fields`.
pub(crate) fn emit(event: AuditEvent, fields: &Fields<'_>) {
    let subject = fields.subject.map(subject_hash);
    let remaining_secs = match (fields.expires, fields.now) {
        (Some(expires), Some(now)) => Some((expires - now).max(Duration::ZERO).whole_seconds()),
        _ => None,
    };
    macro_rules! report {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                event = event.name(),
                jti = fields.jti,
                family = fields.family,
                generation = fields.generation,
                kind = fields.kind,
                kid = fields.kid,
                subject = subject.as_deref(),
                remaining_secs,
                reason = fields.reason,
                context = fields.context,
            )
        };
    }
    if event.is_error() {
        report!(tracing::Level::ERROR);
    } else if event.is_warning() {
        report!(tracing::Level::WARN);
    } else {
        report!(tracing::Level::INFO);
    }
}

/// Reports that a token store found its data lost:
/// [`AuditEvent::StoreDataLost`], at `ERROR`, with `reason`, a stable code
/// saying how it was found (for example `epoch-marker-missing`). For
/// [`TokenStore`](crate::store::TokenStore) implementations: call it once for
/// each loss found.
///
/// # Examples
///
/// ```
/// use vaulttoken::audit;
///
/// // Goes to the subscriber of target `vaulttoken::audit`, at ERROR.
/// audit::report_store_data_lost("epoch-marker-missing");
/// ```
pub fn report_store_data_lost(reason: &str) {
    emit(
        AuditEvent::StoreDataLost,
        &Fields {
            reason: Some(reason),
            ..Fields::default()
        },
    );
}

/// A store that could not answer: reported as [`AuditEvent::StoreUnavailable`]
/// (with [why](store_reason)) and returned as
/// [`Error::Store`]. Every flow that asks a store maps its errors through here.
pub(crate) fn store_unavailable(error: StoreError) -> Error {
    emit(
        AuditEvent::StoreUnavailable,
        &Fields {
            reason: Some(store_reason(&error)),
            ..Fields::default()
        },
    );
    Error::Store(error)
}

/// Why a store could not answer, for [`AuditEvent::StoreUnavailable`].
fn store_reason(error: &StoreError) -> &'static str {
    match error {
        StoreError::Full { .. } => "store-full",
        StoreError::Timeout { .. } => "timeout",
        StoreError::Unreachable { .. } => "unreachable",
        StoreError::Protocol { .. } => "protocol",
    }
}

/// The reason code of a refused decode, for [`AuditEvent::TokenRejected`].
pub(crate) fn reason_code(error: &Error) -> &'static str {
    match error {
        Error::Denied(denial) => denial.code(),
        Error::Claims(_) => "rules",
        Error::Verification | Error::FooterMismatch => "verification",
        Error::UnknownKeyId | Error::WrongKeyType { .. } => "unknown-key",
        Error::Store(StoreError::Full { .. }) => "store-full",
        Error::Store(_) => "store-unavailable",
        Error::KeysUnavailable => "keys-unavailable",
        _ => match error.kind() {
            crate::error::ErrorKind::Malformed => "malformed",
            _ => "other",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Denial, ErrorKind, KeyKind, MalformedToken, Violations};

    /// Every audit event.
    const ALL: [AuditEvent; 13] = [
        AuditEvent::TokenIssued,
        AuditEvent::TokenRejected,
        AuditEvent::TokenRevoked,
        AuditEvent::SubjectRevoked,
        AuditEvent::FamilyCreated,
        AuditEvent::FamilyRotated,
        AuditEvent::FamilyReuseDetected,
        AuditEvent::GraceUsed,
        AuditEvent::FamilyRevoked,
        AuditEvent::TrustTokenConsumed,
        AuditEvent::BindingDrift,
        AuditEvent::StoreUnavailable,
        AuditEvent::StoreDataLost,
    ];

    #[test]
    fn only_a_lost_store_is_an_error() {
        for event in ALL {
            let error = event == AuditEvent::StoreDataLost;
            assert_eq!(event.is_error(), error, "{event:?}");
        }
        assert_eq!(AuditEvent::StoreDataLost.name(), "store_data_lost");
    }

    #[test]
    fn a_lost_store_is_reported_at_error_with_its_reason() {
        // Only this test reaches the ERROR call site: other tests, emitting
        // at other levels on other threads, cannot change its interest.
        let recorder = vaulttoken_test_redis::EventRecorder::default();
        tracing::subscriber::with_default(recorder.clone(), || {
            report_store_data_lost("epoch-marker-missing");
        });
        let events: Vec<_> = recorder
            .events()
            .into_iter()
            .filter(|event| event.target == TARGET)
            .collect();
        let [lost] = events.as_slice() else {
            panic!("one event: {events:?}");
        };
        assert_eq!(lost.level, tracing::Level::ERROR);
        assert_eq!(lost.fields["event"], "store_data_lost", "{lost:?}");
        assert_eq!(lost.fields["reason"], "epoch-marker-missing", "{lost:?}");
    }

    #[test]
    fn only_reuse_an_unavailable_store_and_drift_are_warnings() {
        let warnings = [
            AuditEvent::FamilyReuseDetected,
            AuditEvent::StoreUnavailable,
            AuditEvent::BindingDrift,
        ];
        for event in ALL {
            assert_eq!(event.is_warning(), warnings.contains(&event), "{event:?}");
        }
    }

    #[test]
    fn every_refusal_has_its_reason_code() {
        let cases: [(Error, &str); 12] = [
            (Error::Denied(Denial::Superseded), "superseded"),
            (Error::Denied(Denial::ScopeNotGranted), "scope-not-granted"),
            (
                Error::Denied(Denial::IssuedBeforeStoreEpoch),
                "issued-before-store-epoch",
            ),
            (Error::Claims(Violations(Vec::new())), "rules"),
            (Error::Verification, "verification"),
            (Error::FooterMismatch, "verification"),
            (Error::UnknownKeyId, "unknown-key"),
            (
                Error::WrongKeyType {
                    expected: KeyKind::Local,
                    found: KeyKind::Public,
                },
                "unknown-key",
            ),
            (Error::Store(StoreError::Full { capacity: 1 }), "store-full"),
            (
                Error::Store(StoreError::Unreachable {
                    reason: "down".into(),
                }),
                "store-unavailable",
            ),
            (Error::KeysUnavailable, "keys-unavailable"),
            (Error::Malformed(MalformedToken::TooManyParts), "malformed"),
        ];
        for (error, code) in cases {
            assert_eq!(reason_code(&error), code, "{error:?}");
        }
        assert_eq!(Error::Randomness.kind(), ErrorKind::Unavailable);
        assert_eq!(reason_code(&Error::Randomness), "other");
    }

    #[test]
    fn a_store_failure_says_which_kind_it_was() {
        let cases = [
            (StoreError::Full { capacity: 1 }, "store-full"),
            (
                StoreError::Timeout {
                    deadline: Duration::milliseconds(5),
                },
                "timeout",
            ),
            (
                StoreError::Unreachable {
                    reason: "down".into(),
                },
                "unreachable",
            ),
            (
                StoreError::Protocol {
                    reason: "bad reply".into(),
                },
                "protocol",
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(store_reason(&error), reason, "{error:?}");
            assert!(matches!(store_unavailable(error), Error::Store(_)));
        }
    }

    #[test]
    fn a_subject_hash_is_16_bytes_in_base64url_and_tells_subjects_apart() {
        let alice = subject_hash("alice");
        assert_eq!(alice.len(), 22);
        assert_eq!(
            encoding::decode_base64url(&alice).map(|b| b.len()),
            Some(16)
        );
        assert_eq!(alice, subject_hash("alice"));
        assert_ne!(alice, subject_hash("bob"));
        assert_ne!(subject_hash(""), subject_hash(" "));
    }
}
