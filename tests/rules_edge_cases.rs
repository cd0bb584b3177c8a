//! Time rules at the ends of the range: claim times from 0000-01-01 to
//! 9999-12-31 (the extremes RFC 3339 and the parser accept), clocks anywhere
//! `time` can represent, and leeways and maximum ages up to `Duration::MAX`,
//! through a `LocalService` and through a `RuleSet` directly. Every case has an
//! exact expected outcome, and none may panic.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use time::macros::{datetime, offset};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};
use vaulttoken::footer::Footer;
use vaulttoken::rules::{Mode, RuleSet};
use vaulttoken::service::LocalService;
use vaulttoken::{
    Claims, Error, LocalKey,
    clock::FixedClock,
    error::{PayloadError, RuleId},
    v4,
};

const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

/// The first instant RFC 3339 can write, in UTC and as early as an offset makes it.
const FIRST: &str = "0000-01-01T00:00:00Z";
const FIRST_OFFSET: &str = "0000-01-01T00:00:00+23:59";
/// The last second RFC 3339 can write, in UTC and as late as an offset makes it.
const LAST: &str = "9999-12-31T23:59:59Z";
const LAST_OFFSET: &str = "9999-12-31T23:59:59-23:59";

fn key() -> LocalKey {
    LocalKey::from_bytes(&[0x42; 32]).unwrap()
}

fn at(instant: OffsetDateTime) -> RuleSet {
    RuleSet::default().with_clock(FixedClock::new(instant))
}

/// The latest instant `time` can represent: later than any token time.
fn end_of_time() -> OffsetDateTime {
    PrimitiveDateTime::MAX.assume_offset(offset!(-23:59:59))
}

/// The earliest instant `time` can represent: earlier than any token time.
fn start_of_time() -> OffsetDateTime {
    PrimitiveDateTime::MIN.assume_offset(offset!(+23:59:59))
}

/// A payload with the given time claims (`None` leaves a claim out).
fn payload(iat: Option<&str>, nbf: Option<&str>, exp: Option<&str>) -> String {
    let claims: Vec<String> = [("iat", iat), ("nbf", nbf), ("exp", exp)]
        .into_iter()
        .filter_map(|(name, time)| time.map(|t| format!(r#""{name}":"{t}""#)))
        .collect();
    format!("{{{}}}", claims.join(","))
}

/// The rules that failed when a `LocalService` with `rules` decodes an authentic
/// token carrying `payload` (empty when it is accepted).
fn decode(payload: &str, rules: RuleSet) -> Vec<String> {
    let token = v4::local::encrypt(&key(), payload.as_bytes(), b"", b"").unwrap();
    let service = LocalService::builder(key()).rules(rules).build();
    outcome(service.decode(&token).map(|_| ()))
}

/// The same check on the `RuleSet` directly. Encoding ignores the leeway (an
/// issuer never needs to forgive its own clock), so it must agree with decoding
/// under the same rules at zero leeway.
fn check(payload: &str, rules: &RuleSet) -> Vec<String> {
    let claims = Claims::from_payload(payload.as_bytes()).unwrap();
    let decode = outcome(rules.check(&claims, &Footer::None, Mode::Decode));
    let encode = outcome(rules.check(&claims, &Footer::None, Mode::Encode));
    let without_leeway = rules.clone().leeway(Duration::ZERO);
    let strict = outcome(without_leeway.check(&claims, &Footer::None, Mode::Decode));
    assert_eq!(encode, strict, "{payload}");
    decode
}

fn outcome(result: Result<(), Error>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(Error::Claims(violations)) => violations.iter().map(|v| v.rule().to_owned()).collect(),
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

/// Decodes through a service and checks the rule set directly, expecting the
/// same failures from both.
fn assert_outcome(payload: &str, rules: &RuleSet, expected: &[&str]) {
    assert_eq!(check(payload, rules), expected, "rule set: {payload}");
    assert_eq!(
        decode(payload, rules.clone()),
        expected,
        "service: {payload}"
    );
}

#[test]
fn an_exp_in_the_last_second_of_9999_with_any_leeway_is_accepted() {
    for exp in [LAST, LAST_OFFSET] {
        for leeway in [
            Duration::ZERO,
            Duration::seconds(1),
            Duration::days(1),
            Duration::MAX,
            Duration::MIN,
        ] {
            let rules = at(NOW).leeway(leeway);
            assert_outcome(&payload(None, None, Some(exp)), &rules, &[]);
            assert_outcome(&payload(Some(FIRST), Some(FIRST), Some(exp)), &rules, &[]);
        }
    }
}

#[test]
fn an_exp_in_year_0_is_expired_unless_the_leeway_reaches_back_that_far() {
    for exp in [FIRST, FIRST_OFFSET] {
        let claims = payload(Some(FIRST_OFFSET), Some(FIRST_OFFSET), Some(exp));
        for leeway in [Duration::ZERO, Duration::seconds(1), Duration::days(1)] {
            assert_outcome(&claims, &at(NOW).leeway(leeway), &["not-expired"]);
        }
        // A leeway longer than all of history is absurd, but evaluated exactly.
        assert_outcome(&claims, &at(NOW).leeway(Duration::MAX), &[]);
    }
}

#[test]
fn iat_and_nbf_in_the_last_second_of_9999_are_in_the_future() {
    let claims = payload(Some(LAST), Some(LAST), Some(LAST));
    for leeway in [Duration::ZERO, Duration::seconds(1), Duration::days(1)] {
        assert_outcome(
            &claims,
            &at(NOW).leeway(leeway),
            &["issued-in-past", "not-before"],
        );
    }
    assert_outcome(&claims, &at(NOW).leeway(Duration::MAX), &[]);
    // Evaluated at the end of time, they are in the past.
    assert_outcome(&claims, &at(end_of_time()).leeway(Duration::days(3)), &[]);
}

#[test]
fn clocks_at_the_ends_of_time_are_evaluated_exactly() {
    // The end of time is 9999-12-31T23:59:59.999999999-23:59:59, that is
    // 23:59:59.999999999 after the last second of 9999 in UTC.
    let last = payload(None, None, Some(LAST));
    let day = Duration::days(1);
    let just_short = day - Duration::seconds(1);
    assert_outcome(
        &last,
        &at(end_of_time()).leeway(just_short),
        &["not-expired"],
    );
    assert_outcome(&last, &at(end_of_time()).leeway(day), &[]);
    assert_outcome(&last, &at(end_of_time()).leeway(Duration::MAX), &[]);

    // At the start of time, every possible token time is in the future.
    let first = payload(Some(FIRST_OFFSET), Some(FIRST_OFFSET), Some(FIRST_OFFSET));
    assert_outcome(
        &first,
        &at(start_of_time()).leeway(day),
        &["issued-in-past", "not-before"],
    );
    assert_outcome(&first, &at(start_of_time()).leeway(Duration::MAX), &[]);

    // 0000-01-01T00:00:00+23:59 is 23 h 59 min before 0000-01-01T00:00:00Z.
    let first_utc = datetime!(0000-01-01 0:00 UTC);
    let early = payload(None, None, Some(FIRST_OFFSET));
    assert_outcome(
        &early,
        &at(first_utc).leeway(Duration::minutes(23 * 60 + 59)),
        &["not-expired"],
    );
    assert_outcome(
        &early,
        &at(first_utc).leeway(Duration::minutes(24 * 60)),
        &[],
    );
}

#[test]
fn max_age_and_leeway_that_overflow_when_added_are_evaluated_exactly() {
    // The oldest token there can be, checked at the end of time: about 10,001
    // years old. Non-expiring, so that only `max-age` can fail.
    let ancient = payload(Some(FIRST_OFFSET), None, None);
    let age = end_of_time() - datetime!(0000-01-01 0:00 +23:59);
    let ns = Duration::nanoseconds(1);
    for (max_age, leeway, expected) in [
        (Duration::MAX, Duration::ZERO, &[][..]),
        (Duration::MAX, Duration::MAX, &[]),
        (Duration::hours(1), Duration::MAX, &[]),
        (Duration::ZERO, Duration::MAX, &[]),
        (age, Duration::ZERO, &[]),
        (age - ns, Duration::ZERO, &["max-age"]),
        (age - ns, ns, &[]),
        (Duration::days(1), Duration::days(1), &["max-age"]),
        (Duration::MIN, Duration::ZERO, &["max-age"]),
    ] {
        let rules = at(end_of_time())
            .allow_non_expiring()
            .leeway(leeway)
            .max_age(max_age);
        assert_outcome(&ancient, &rules, expected);
    }
    // Without `iat`, no age can be computed: refused, not a panic.
    let rules = at(NOW).max_age(Duration::MAX).leeway(Duration::MAX);
    assert_outcome(&payload(None, None, Some(LAST)), &rules, &["max-age"]);
}

#[test]
fn valid_at_the_ends_of_the_range_is_evaluated_exactly() {
    let last = datetime!(9999-12-31 23:59:59 UTC);
    let claims = payload(Some(FIRST), Some(FIRST), Some(LAST));
    assert_outcome(&claims, &at(NOW).valid_at(last), &["valid-at"]);
    assert_outcome(
        &claims,
        &at(NOW).valid_at(last).leeway(Duration::seconds(1)),
        &[],
    );
    assert_outcome(
        &claims,
        &at(NOW).valid_at(start_of_time()).leeway(Duration::days(1)),
        &["valid-at"],
    );
    assert_outcome(
        &claims,
        &at(NOW).valid_at(end_of_time()).leeway(Duration::MAX),
        &[],
    );
}

#[test]
fn a_service_issues_and_accepts_a_token_expiring_in_the_last_second_of_9999() {
    let last = datetime!(9999-12-31 23:59:59 UTC);
    let service = LocalService::builder(key())
        .rules(
            at(NOW)
                .leeway(Duration::MAX)
                .max_age(Duration::MAX)
                .valid_at(last - Duration::seconds(1)),
        )
        .build();
    let claims = Claims::builder()
        .expires_at(last)
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let token = service.encode(&claims).unwrap();
    assert_eq!(
        service.decode(&token).unwrap().claims().expiration(),
        Some(last)
    );
}

#[test]
fn a_service_refuses_to_issue_claims_from_year_0() {
    let service = LocalService::builder(key())
        .rules(at(NOW).leeway(Duration::days(1)))
        .build();
    let ancient = Claims::builder()
        .issued_at(datetime!(0000-01-01 0:00 UTC))
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let Err(Error::Claims(violations)) = service.encode(&ancient) else {
        panic!("an expired token was issued");
    };
    assert!(violations.contains(&RuleId::NotExpired));
}

#[test]
fn builders_with_huge_durations_fail_with_time_out_of_range() {
    let clock = FixedClock::new(NOW);
    let last = datetime!(9999-12-31 23:59:59 UTC);
    let first = datetime!(0000-01-01 0:00 UTC);
    let builders = [
        Claims::builder().expires_in(Duration::MAX),
        Claims::builder().expires_in(Duration::MIN),
        Claims::builder()
            .issued_at(last)
            .expires_in(Duration::hours(1)),
        Claims::builder()
            .issued_at(last)
            .expires_in(Duration::days(366 * 9000)),
        Claims::builder()
            .issued_at(first)
            .expires_in(Duration::seconds(-1)),
        Claims::builder().expires_at(PrimitiveDateTime::MIN.assume_utc()),
        LocalService::builder(key())
            .default_validity(Duration::MAX)
            .build()
            .claims_builder(),
    ];
    for builder in builders {
        let result = builder.build_with_clock(clock);
        assert!(
            matches!(
                result,
                Err(Error::Payload(PayloadError::TimeOutOfRange {
                    claim: "exp"
                }))
            ),
            "{result:?}"
        );
    }
    // The same overflow when the service fills in `exp` on encode.
    let late = Claims::builder().issued_at(last).build().unwrap();
    let forever = LocalService::builder(key())
        .default_validity(Duration::MAX)
        .clock(clock)
        .build();
    for (service, claims) in [
        (LocalService::builder(key()).clock(clock).build(), &late),
        (forever, &Claims::builder().build().unwrap()),
    ] {
        let result = service.encode(claims);
        assert!(
            matches!(
                result,
                Err(Error::Payload(PayloadError::TimeOutOfRange {
                    claim: "exp"
                }))
            ),
            "{result:?}"
        );
    }
    let end = FixedClock::new(end_of_time());
    assert!(matches!(
        Claims::builder()
            .expires_in(Duration::hours(1))
            .build_with_clock(end),
        Err(Error::Payload(PayloadError::TimeOutOfRange {
            claim: "iat"
        }))
    ));
}
