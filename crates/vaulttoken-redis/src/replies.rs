//! The scripts' answers, read into the store's outcomes. Anything else is
//! [`StoreError::Protocol`]: this crate never guesses an answer.

use redis::Value;
use vaulttoken::error::StoreError;
use vaulttoken::store::{Consumption, Rotated, TokenState};

use crate::{scripts, times};

fn unexpected(reason: &'static str) -> StoreError {
    StoreError::Protocol {
        reason: reason.into(),
    }
}

/// Whether a deciding script (check, consume, rotate) found its slot's
/// epoch marker missing: the slot's data was lost, and the script refused.
pub(crate) fn found_data_lost(value: &Value) -> bool {
    match value {
        Value::Int(code) => *code == scripts::LOST,
        Value::Array(items) => {
            matches!(items.as_slice(), [Value::Int(code)] if *code == scripts::LOST)
        }
        _ => false,
    }
}

fn foreign_epoch() -> StoreError {
    unexpected("an epoch marker this crate did not write")
}

/// The `CHECK` script's answer.
pub(crate) fn token_state(value: &Value) -> Result<TokenState, StoreError> {
    match value {
        Value::Int(6 | scripts::LOST) => Ok(TokenState::IssuedBeforeStoreEpoch),
        Value::Int(-2) => Err(foreign_epoch()),
        Value::Int(0) => Ok(TokenState::Live),
        Value::Int(1) => Ok(TokenState::Revoked),
        Value::Int(2) => Ok(TokenState::Used),
        Value::Int(3) => Ok(TokenState::IssuedBeforeCutoff),
        Value::Int(4) => Ok(TokenState::Superseded),
        Value::Int(5) => Ok(TokenState::FamilyRevoked),
        Value::Int(-1) => Err(unexpected("a cutoff entry this crate did not write")),
        _ => Err(unexpected("an unknown answer to a check")),
    }
}

/// The `CONSUME` script's answer.
pub(crate) fn consumption(value: &Value) -> Result<Consumption, StoreError> {
    match value {
        Value::Int(0) => Ok(Consumption::Consumed),
        Value::Int(1) => Ok(Consumption::AlreadyUsed),
        Value::Int(2) => Ok(Consumption::Revoked),
        Value::Int(3 | scripts::LOST) => Ok(Consumption::IssuedBeforeStoreEpoch),
        Value::Int(-2) => Err(foreign_epoch()),
        _ => Err(unexpected("an unknown answer to a consume")),
    }
}

/// A script that answers only `0` once it has written.
pub(crate) fn done(value: &Value) -> Result<(), StoreError> {
    match value {
        Value::Int(0) | Value::Okay => Ok(()),
        _ => Err(unexpected("an unknown answer to a write")),
    }
}

/// The `CREATE_FAMILY` script's answer: the ids the cap revoked.
pub(crate) fn created_family(value: &Value) -> Result<Vec<String>, StoreError> {
    let Value::Array(items) = value else {
        return Err(unexpected("an unknown answer to a family creation"));
    };
    match items.split_first() {
        Some((Value::Int(0), ids)) => ids.iter().map(text).collect(),
        Some((Value::Int(1), [])) => Err(unexpected("a family with this id exists")),
        _ => Err(unexpected("an unknown answer to a family creation")),
    }
}

/// The `ROTATE` script's answer.
pub(crate) fn rotated(value: &Value) -> Result<Rotated, StoreError> {
    if let Value::Int(-2) = value {
        return Err(foreign_epoch());
    }
    let Value::Array(items) = value else {
        return Err(unexpected("an unknown answer to a rotation"));
    };
    match items.as_slice() {
        [Value::Int(0), generation, at] => {
            let (generation, rotated_at) = successor(generation, at)?;
            Ok(Rotated::Advanced {
                generation,
                rotated_at,
            })
        }
        [Value::Int(1), generation, at] => {
            let (generation, rotated_at) = successor(generation, at)?;
            Ok(Rotated::GraceReplay {
                generation,
                rotated_at,
            })
        }
        [Value::Int(2)] => Ok(Rotated::ReuseDetected),
        [Value::Int(3)] => Ok(Rotated::Revoked),
        [Value::Int(4)] => Ok(Rotated::Expired),
        // The data is gone, this family's record with it.
        [Value::Int(scripts::LOST)] => Ok(Rotated::Revoked),
        _ => Err(unexpected("an unknown answer to a rotation")),
    }
}

fn successor(generation: &Value, at: &Value) -> Result<(u64, time::OffsetDateTime), StoreError> {
    let generation = text(generation)?
        .parse::<u64>()
        .map_err(|_| unexpected("a generation that is not a number"))?;
    let at = text(at)?
        .parse::<i64>()
        .ok()
        .and_then(times::from_seconds)
        .ok_or_else(|| unexpected("a rotation time that is not a unix second"))?;
    Ok((generation, at))
}

fn text(value: &Value) -> Result<String, StoreError> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| unexpected("text that is not UTF-8"))
        }
        Value::SimpleString(text) => Ok(text.clone()),
        _ => Err(unexpected("a reply that is not text")),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn is_protocol<T: core::fmt::Debug>(result: Result<T, StoreError>) -> bool {
        matches!(result, Err(StoreError::Protocol { .. }))
    }

    #[test]
    fn check_answers_map_to_states() {
        let states = [
            TokenState::Live,
            TokenState::Revoked,
            TokenState::Used,
            TokenState::IssuedBeforeCutoff,
            TokenState::Superseded,
            TokenState::FamilyRevoked,
        ];
        for (code, state) in (0..).zip(states) {
            assert_eq!(token_state(&Value::Int(code)), Ok(state));
        }
        assert_eq!(
            token_state(&Value::Int(-1)),
            Err(StoreError::Protocol {
                reason: "a cutoff entry this crate did not write".into()
            })
        );
        assert_eq!(
            token_state(&Value::Int(6)),
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(
            token_state(&Value::Int(9)),
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(
            token_state(&Value::Int(-2)),
            Err(StoreError::Protocol {
                reason: "an epoch marker this crate did not write".into()
            })
        );
        assert!(is_protocol(token_state(&Value::Int(7))));
        assert!(is_protocol(token_state(&Value::Int(8))));
        assert!(is_protocol(token_state(&Value::Nil)));
        assert!(is_protocol(token_state(&bulk("0"))));
    }

    #[test]
    fn consume_answers_map_to_consumptions() {
        assert_eq!(consumption(&Value::Int(0)), Ok(Consumption::Consumed));
        assert_eq!(consumption(&Value::Int(1)), Ok(Consumption::AlreadyUsed));
        assert_eq!(consumption(&Value::Int(2)), Ok(Consumption::Revoked));
        for code in [3, 9] {
            assert_eq!(
                consumption(&Value::Int(code)),
                Ok(Consumption::IssuedBeforeStoreEpoch)
            );
        }
        assert!(is_protocol(consumption(&Value::Int(-2))));
        assert!(is_protocol(consumption(&Value::Int(4))));
        assert!(is_protocol(consumption(&Value::Okay)));
    }

    #[test]
    fn writes_answer_zero_or_ok() {
        assert_eq!(done(&Value::Int(0)), Ok(()));
        assert_eq!(done(&Value::Okay), Ok(()));
        assert!(is_protocol(done(&Value::Int(1))));
        assert!(is_protocol(done(&Value::Nil)));
    }

    #[test]
    fn family_creation_lists_revoked_ids() {
        let none = Value::Array(vec![Value::Int(0)]);
        assert_eq!(created_family(&none), Ok(Vec::new()));
        let two = Value::Array(vec![Value::Int(0), bulk("f-0"), bulk("f-1")]);
        assert_eq!(
            created_family(&two),
            Ok(vec!["f-0".to_owned(), "f-1".to_owned()])
        );
        let exists = Value::Array(vec![Value::Int(1)]);
        assert_eq!(
            created_family(&exists),
            Err(StoreError::Protocol {
                reason: "a family with this id exists".into()
            })
        );
        assert!(is_protocol(created_family(&Value::Array(vec![]))));
        assert!(is_protocol(created_family(&Value::Array(vec![
            Value::Int(1),
            bulk("x")
        ]))));
        assert!(is_protocol(created_family(&Value::Array(vec![
            Value::Int(0),
            Value::Int(3)
        ]))));
        assert!(is_protocol(created_family(&Value::Int(0))));
    }

    #[test]
    fn rotation_answers_map_to_steps() {
        let at = datetime!(2030-01-01 0:00 UTC);
        let seconds = bulk("1893456000");
        let advanced = Value::Array(vec![Value::Int(0), bulk("7"), seconds.clone()]);
        assert_eq!(
            rotated(&advanced),
            Ok(Rotated::Advanced {
                generation: 7,
                rotated_at: at
            })
        );
        let replay = Value::Array(vec![Value::Int(1), bulk("7"), seconds.clone()]);
        assert_eq!(
            rotated(&replay),
            Ok(Rotated::GraceReplay {
                generation: 7,
                rotated_at: at
            })
        );
        for (code, step) in [
            (2, Rotated::ReuseDetected),
            (3, Rotated::Revoked),
            (4, Rotated::Expired),
            (9, Rotated::Revoked),
        ] {
            assert_eq!(rotated(&Value::Array(vec![Value::Int(code)])), Ok(step));
        }
        let huge = Value::Array(vec![
            Value::Int(0),
            bulk("18446744073709551615"),
            seconds.clone(),
        ]);
        assert_eq!(
            rotated(&huge).map(Rotated::successor),
            Ok(Some((u64::MAX, at)))
        );
    }

    #[test]
    fn malformed_rotation_answers_are_protocol_errors() {
        let seconds = bulk("1893456000");
        let cases = [
            Value::Int(0),
            Value::Array(vec![]),
            Value::Array(vec![Value::Int(5)]),
            Value::Array(vec![Value::Int(0)]),
            Value::Array(vec![Value::Int(2), bulk("1"), seconds.clone()]),
            Value::Array(vec![Value::Int(0), bulk("-1"), seconds.clone()]),
            Value::Array(vec![Value::Int(0), bulk("1e3"), seconds.clone()]),
            Value::Array(vec![Value::Int(1), Value::Int(1), seconds.clone()]),
            Value::Array(vec![Value::Int(0), bulk("1"), bulk("")]),
            Value::Array(vec![Value::Int(0), bulk("1"), bulk(&i64::MAX.to_string())]),
            Value::Array(vec![
                Value::Int(0),
                Value::BulkString(vec![0xff]),
                seconds.clone(),
            ]),
        ];
        for case in cases {
            assert!(is_protocol(rotated(&case)), "{case:?}");
        }
    }

    #[test]
    fn only_the_lost_answers_report_a_loss() {
        assert!(found_data_lost(&Value::Int(9)));
        assert!(found_data_lost(&Value::Array(vec![Value::Int(9)])));
        for other in [
            Value::Int(0),
            Value::Int(6),
            Value::Int(-2),
            Value::Array(vec![Value::Int(3)]),
            Value::Array(vec![Value::Int(9), Value::Int(1)]),
            Value::Array(vec![]),
            Value::Nil,
        ] {
            assert!(!found_data_lost(&other), "{other:?}");
        }
        assert_eq!(
            rotated(&Value::Int(-2)),
            Err(StoreError::Protocol {
                reason: "an epoch marker this crate did not write".into()
            })
        );
    }

    #[test]
    fn simple_strings_are_text() {
        assert_eq!(text(&Value::SimpleString("x".into())), Ok("x".to_owned()));
        assert!(is_protocol(text(&Value::Nil)));
    }
}
