//! Exit statuses, and the one error type every command returns.
//!
//! A library error is classified by its variant and [`ErrorKind`], never by
//! its message. Messages never hold key material, token text or a password.

use vaulttoken::Error;
use vaulttoken::error::{ErrorKind, RuleId};
use vaulttoken_redis::ConnectError;

/// Why the tool stopped, as the exit status an operator's script sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The token is invalid (signature or MAC), malformed, or names an unknown key.
    Invalid,
    /// The token is expired or not yet valid.
    Expired,
    /// Another claim rule failed.
    Rejected,
    /// The token store refused the token (revoked, used, cut off).
    Revoked,
    /// The token store could not answer.
    StoreUnavailable,
    /// The command line, or a key or option given on it, is not usable.
    Usage,
    /// An input file or environment variable does not exist.
    NoInput,
    /// Reading or writing failed.
    Io,
}

impl Exit {
    /// The process exit status.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Invalid => 1,
            Self::Expired => 2,
            Self::Rejected => 3,
            Self::Revoked => 4,
            Self::StoreUnavailable => 5,
            Self::Usage => 64,
            Self::NoInput => 66,
            Self::Io => 74,
        }
    }
}

/// The exit statuses, as `--help` shows them: a macro, so that `concat!`
/// can put them into the help texts at compile time.
macro_rules! exit_statuses {
    () => {
        "Exit statuses:
  0   valid / done
  1   invalid signature or MAC (a token's, or a wrapped key's or ring's:
      the key, password or recipient key does not open it), malformed
      token, or unknown key id
  2   expired or not yet valid (only time rules failed)
  3   another claim rule failed (each failed rule is listed on stderr)
  4   revoked (or otherwise refused by the token store)
  5   token store unavailable
  64  usage error (bad arguments, unusable key or option)
  66  input not found (file or environment variable)
  74  I/O error"
    };
}
pub(crate) use exit_statuses;

#[cfg(test)]
const EXIT_STATUSES: &str = exit_statuses!();

/// A failed command: what to print on stderr and how to exit.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// A library error met while doing `what` (e.g. "decrypting the token").
    pub(crate) fn library(what: &str, error: &Error) -> Self {
        Self::new(classify(error), describe(what, error))
    }

    /// A library error met while `opener` opened `opened` (unwrapping,
    /// unsealing or importing a ring): the library's failed MAC says
    /// "invalid token" whatever it checked, so it is said here which key did
    /// not open what. Exit 1, as for any failed MAC. Other errors (a
    /// malformed PASERK, costs over the limits) are reported as they are.
    pub(crate) fn opening(what: &str, opener: &str, opened: &str, error: &Error) -> Self {
        match error {
            Error::Verification => Self::new(
                Exit::Invalid,
                format!("{what}: {opener} does not open {opened} (or {opened} was altered)"),
            ),
            other => Self::library(what, other),
        }
    }

    /// A Redis store that could not be set up.
    pub(crate) fn connect(error: &ConnectError) -> Self {
        let exit = match error {
            ConnectError::InvalidUrl | ConnectError::InvalidOptions { .. } => Exit::Usage,
            _ => Exit::StoreUnavailable,
        };
        Self::new(exit, format!("connecting to Redis: {error}"))
    }
}

/// Rules about time: a token that fails only these is expired or not yet valid.
fn is_time_rule(rule: &RuleId) -> bool {
    matches!(
        rule,
        RuleId::NotExpired | RuleId::NotBefore | RuleId::IssuedInPast | RuleId::ValidAt
    )
}

/// The exit status for a library error.
pub(crate) fn classify(error: &Error) -> Exit {
    match error {
        Error::Claims(violations) => {
            if violations.iter().all(|v| is_time_rule(v.rule_id())) {
                Exit::Expired
            } else {
                Exit::Rejected
            }
        }
        Error::Denied(_) => Exit::Revoked,
        Error::Store(_) => Exit::StoreUnavailable,
        Error::Randomness => Exit::Io,
        other => match other.kind() {
            ErrorKind::Malformed | ErrorKind::Invalid | ErrorKind::UnknownKey => Exit::Invalid,
            // Equivalent today (cargo-mutants reports these two arms): every
            // variant of these kinds is matched above. They stay so that a
            // variant added later maps by its kind, not to a usage error.
            ErrorKind::Rejected => Exit::Rejected,
            ErrorKind::Unavailable => Exit::StoreUnavailable,
            _ => Exit::Usage,
        },
    }
}

/// The message for a library error: every failed rule on its own line.
fn describe(what: &str, error: &Error) -> String {
    match error {
        Error::Claims(violations) => {
            let mut out = format!("{what}: claims rejected");
            for violation in violations.iter() {
                out.push_str("\n  rule failed: ");
                out.push_str(&violation.to_string());
            }
            out
        }
        _ => format!("{what}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaulttoken::error::{Denial, MalformedToken, StoreError};

    #[test]
    fn exit_codes_are_the_documented_ones() {
        let all = [
            (Exit::Invalid, 1),
            (Exit::Expired, 2),
            (Exit::Rejected, 3),
            (Exit::Revoked, 4),
            (Exit::StoreUnavailable, 5),
            (Exit::Usage, 64),
            (Exit::NoInput, 66),
            (Exit::Io, 74),
        ];
        for (exit, code) in all {
            assert_eq!(exit.code(), code, "{exit:?}");
            assert!(EXIT_STATUSES.contains(&format!("  {code} ")), "{code}");
        }
    }

    #[test]
    fn library_errors_map_to_their_statuses() {
        assert_eq!(classify(&Error::Verification), Exit::Invalid);
        assert_eq!(classify(&Error::FooterMismatch), Exit::Invalid);
        assert_eq!(classify(&Error::UnknownKeyId), Exit::Invalid);
        assert_eq!(
            classify(&Error::Malformed(MalformedToken::EmptyFooter)),
            Exit::Invalid
        );
        assert_eq!(classify(&Error::Denied(Denial::Revoked)), Exit::Revoked);
        assert_eq!(
            classify(&Error::Denied(Denial::IssuedBeforeCutoff)),
            Exit::Revoked
        );
        let unreachable = StoreError::Unreachable {
            reason: "down".into(),
        };
        assert_eq!(classify(&Error::Store(unreachable)), Exit::StoreUnavailable);
        assert_eq!(classify(&Error::KeyCleared), Exit::Usage);
        assert_eq!(classify(&Error::Randomness), Exit::Io);
    }

    #[test]
    fn a_claims_failure_lists_each_rule_on_its_own_line() {
        let rules = vaulttoken::rules::RuleSet::default()
            .issued_by("a")
            .for_audience("b");
        let claims = vaulttoken::Claims::builder()
            .issuer("x")
            .audience("y")
            .expires_in(vaulttoken::time::Duration::hours(1))
            .build()
            .unwrap();
        let error = rules
            .check(
                &claims,
                &Default::default(),
                vaulttoken::rules::Mode::Decode,
            )
            .unwrap_err();
        let failure = Failure::library("checking", &error);
        assert_eq!(failure.exit, Exit::Rejected);
        let lines: Vec<&str> = failure.message.lines().collect();
        assert_eq!(lines[0], "checking: claims rejected");
        assert_eq!(lines.len(), 3, "{}", failure.message);
        assert!(
            lines[1..]
                .iter()
                .all(|line| line.starts_with("  rule failed: rule `"))
        );
        assert!(failure.message.contains("issued-by") && failure.message.contains("for-audience"));
    }

    #[test]
    fn other_failures_say_what_was_being_done_and_why() {
        let failure = Failure::library("decrypting", &Error::Verification);
        assert_eq!(failure.message, "decrypting: invalid token");
        assert_eq!(failure.exit, Exit::Invalid);
        let denied = Failure::library("checking", &Error::Denied(Denial::Revoked));
        assert_eq!(denied.message, "checking: token refused: token revoked");
    }

    #[test]
    fn a_key_that_does_not_open_a_wrapped_key_or_ring_is_named() {
        let failure = Failure::opening(
            "unwrapping the key",
            "the key-encryption key",
            "this wrapped key",
            &Error::Verification,
        );
        assert_eq!(failure.exit, Exit::Invalid);
        assert_eq!(
            failure.message,
            "unwrapping the key: the key-encryption key does not open this wrapped key \
             (or this wrapped key was altered)"
        );
        // Other errors are not a key that does not open: said as they are.
        let malformed = Failure::opening("unwrapping", "k", "w", &Error::UnknownKeyId);
        assert_eq!(
            malformed.message,
            "unwrapping: no key is known for this token's key id"
        );
        assert_eq!(malformed.exit, Exit::Invalid);
        let misuse = Failure::opening("unwrapping", "k", "w", &Error::KeyCleared);
        assert_eq!(misuse.exit, Exit::Usage);
    }

    #[test]
    fn a_store_that_cannot_be_set_up_is_unavailable_unless_the_url_is_wrong() {
        assert_eq!(
            Failure::connect(&ConnectError::InvalidUrl).exit,
            Exit::Usage
        );
        let options = ConnectError::InvalidOptions { reason: "x" };
        assert_eq!(Failure::connect(&options).exit, Exit::Usage);
        let down = ConnectError::Unreachable {
            reason: "refused".into(),
        };
        assert_eq!(Failure::connect(&down).exit, Exit::StoreUnavailable);
        let slow = ConnectError::Timeout {
            timeout: std::time::Duration::from_secs(3),
        };
        let failure = Failure::connect(&slow);
        assert_eq!(failure.exit, Exit::StoreUnavailable);
        assert!(failure.message.starts_with("connecting to Redis: "));
    }

    #[test]
    fn time_rules_are_told_apart_from_other_rules() {
        assert!(is_time_rule(&RuleId::NotExpired));
        assert!(is_time_rule(&RuleId::NotBefore));
        assert!(is_time_rule(&RuleId::IssuedInPast));
        assert!(is_time_rule(&RuleId::ValidAt));
        assert!(!is_time_rule(&RuleId::IssuedBy));
        assert!(!is_time_rule(&RuleId::MaxAge));
        assert!(!is_time_rule(&RuleId::ForAudience));
    }
}
