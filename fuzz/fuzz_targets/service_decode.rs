//! A full `TokenService` of each purpose, fed arbitrary text: a `LocalService`
//! over a `LocalKeyRing` and a `PublicService` over a `SigningKeyRing` (each
//! ring with two keys, one active and one previous), plus a verification-only
//! `PublicService` over the signing ring's public half. Every service has a rule
//! set on a fixed clock (`issued_by`, `for_audience`, `require_claims`, a leeway
//! and a custom `rule_fn` that also reads the verified footer), footer limits,
//! and a maximum token length. The services are built once per process.
//!
//! Each input is decoded as a whole token by every service, and once more per
//! purpose spliced into a token the service issued, so the fuzzer reaches key
//! lookup and the cryptography. Byte 0 picks the splice, byte 1 the issued
//! token, and the rest is the spliced data:
//!
//! - 0: the footer replaced by the data, base64url-encoded;
//! - 1: the body replaced by the data, base64url-encoded (the footer kept);
//! - 2: the footer replaced by `{"kid":"<the token's kid>",` and the data;
//! - 3: body characters overwritten, by (position, alphabet index) pairs;
//! - 4: the purpose's header followed by the data as text;
//! - 5: the whole token followed by the data as text.
//!
//! Invariants: nothing panics; every error's `Display` and `Debug` hold no key
//! material, no claim value of an issued token and no long base64url run of the
//! input; `untrusted_key_id` fails exactly when decode fails before the key
//! lookup (with the same error), and decode never succeeds where it fails; a
//! decode succeeds only for a token the service issued and that passes its
//! rules, with the claims and footer it was issued with, under a key id the ring
//! holds; and the verification-only service agrees with the signing one.

#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};
use vaulttoken::error::Violation;
use vaulttoken::footer::{Footer, FooterClaims, FooterLimits, FooterMode};
use vaulttoken::keyring::{LocalKeyRing, SigningKeyRing};
use vaulttoken::rules::{RuleSet, constant_time_eq, rule_fn};
use vaulttoken::service::{LocalService, PublicService, ServicePurpose, TokenService};
use vaulttoken::v4::{Local, Public};
use vaulttoken::{Claims, Error, LocalKey, SecretKey, clock::FixedClock};

/// "Now" for the rules and the rings: 2030-01-01T00:00:00Z.
const NOW: i64 = 1_893_456_000;
const ISSUER: &str = "auth.example";
const AUDIENCE: &str = "api";
/// Claim values no error or `Debug` output may contain. Every issued token has
/// them (with a per-token suffix), so a leak of `sub` or `jti` shows.
const SUBJECT: &str = "subject-7QJ3XK9PL2MZ8RW4";
const TOKEN_ID: &str = "token-id-V5N8D2HC6TY1GB0F";
/// The shortest run of base64url characters of the input that may not appear in
/// an error. Error texts are words, numbers and short identifiers; no run of 32
/// characters in them comes from anywhere but the input.
const MIN_ECHO: usize = 32;
/// Longer than any spliced token the fuzzer makes from a short input, shorter
/// than the longest: both sides of the length limit are reached.
const MAX_TOKEN_LEN: usize = 2048;
const LIFETIME: Duration = Duration::hours(2);

const LOCAL_KEYS: [[u8; 32]; 2] = [[0x41; 32], [0x42; 32]];
const SEEDS: [[u8; 32]; 2] = [[0x51; 32], [0x52; 32]];

/// One purpose: a service, what it issued, and the ring's key ids.
struct Fixture<P: ServicePurpose> {
    service: TokenService<P>,
    /// A verification-only service over the same keys, if the purpose has one.
    verifier: Option<TokenService<P>>,
    /// Tokens a decode must accept, with their claims and footer.
    accepted: HashMap<String, (Claims, Footer)>,
    /// Every issued token, accepted or not, for splicing.
    issued: Vec<String>,
    kids: Vec<String>,
    header: &'static str,
}

struct World {
    local: Fixture<Local>,
    public: Fixture<Public>,
    /// Key material as text: no error may contain any of it.
    secrets: Vec<String>,
}

static WORLD: OnceLock<World> = OnceLock::new();

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).expect("valid time")
}

/// The rules every decode runs.
fn strict_rules() -> RuleSet {
    RuleSet::default()
        .with_clock(FixedClock::new(now()))
        .issued_by(ISSUER)
        .for_audience(AUDIENCE)
        .require_claims(["sub", "jti", "role"])
        .leeway(Duration::seconds(30))
        .with_rule(rule_fn("role-and-tenant", |ctx| {
            let role = ctx.claims.custom_str("role").unwrap_or("");
            if !["reader", "writer"]
                .iter()
                .any(|r| constant_time_eq(role, r))
            {
                return Err(Violation::new("role not allowed").on_claim("role"));
            }
            // A footer `tenant`, when there is one, must match the claim.
            if let Footer::Claims(footer) = ctx.footer
                && let Some(tenant) = footer.custom("tenant")
                && ctx.claims.custom("tenant") != Some(tenant)
            {
                return Err(Violation::new("tenant differs").on_claim("tenant"));
            }
            Ok(())
        }))
}

/// Rules loose enough to issue tokens the strict rules refuse (at `at`).
fn lax_rules(at: OffsetDateTime) -> RuleSet {
    RuleSet::default()
        .with_clock(FixedClock::new(at))
        .accept_any_audience()
}

fn limits() -> FooterLimits {
    FooterLimits::default()
        .max_len(512)
        .max_depth(2)
        .max_keys(8)
}

/// Claims the strict rules accept, issued at `at`.
fn good_claims(n: usize, at: OffsetDateTime, tenant: Option<&str>) -> Claims {
    let mut builder = Claims::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .subject(format!("{SUBJECT}-{n}"))
        .token_id(format!("{TOKEN_ID}-{n}"))
        // Every time set, so the issued claims are the decoded ones (a
        // service fills in a missing `nbf`).
        .not_before(at)
        .expires_in(Duration::minutes(30))
        .claim("role", if n % 2 == 0 { "reader" } else { "writer" });
    if let Some(tenant) = tenant {
        builder = builder.claim("tenant", tenant);
    }
    builder
        .build_with_clock(FixedClock::new(at))
        .expect("claims build")
}

fn tenant_footer(tenant: &str) -> Footer {
    Footer::Claims(
        FooterClaims::new()
            .with_claim("tenant", tenant)
            .expect("custom footer claim"),
    )
}

/// Builds a fixture: `service(rules)` makes a service over the ring, `rotate`
/// adds and promotes the second key. Tokens are issued under both keys.
fn fixture<P: ServicePurpose>(
    header: &'static str,
    service: impl Fn(RuleSet) -> TokenService<P>,
    rotate: impl FnOnce() -> String,
    first_kid: String,
) -> Fixture<P> {
    let strict = service(strict_rules());
    let mut fx = Fixture {
        verifier: None,
        accepted: HashMap::new(),
        issued: Vec::new(),
        kids: vec![first_kid],
        header,
        service: strict,
    };
    let mut n = 0;
    let mut accept = |fx: &mut Fixture<P>, at: OffsetDateTime, tenant: Option<&str>| {
        n += 1;
        let claims = good_claims(n, at, tenant);
        let footer = tenant.map_or(Footer::None, tenant_footer);
        let token = fx
            .service
            .encode_with_footer(&claims, &footer)
            .expect("good claims encode");
        let verified = fx.service.decode(&token).expect("issued token decodes");
        fx.issued.push(token.clone());
        fx.accepted
            .insert(token, (claims, verified.footer().clone()));
    };
    // Under the first key, which becomes the previous one.
    accept(&mut fx, now() - Duration::minutes(20), None);
    accept(&mut fx, now() - Duration::minutes(10), Some("t1"));
    fx.kids.push(rotate());
    // Under the active key.
    accept(&mut fx, now(), None);
    accept(&mut fx, now() - Duration::seconds(20), Some("t2"));

    // Authentic tokens the strict rules refuse, each for one reason.
    let lax = service(lax_rules(now()));
    let early = service(lax_rules(now() - Duration::minutes(90)));
    let claim =
        |build: fn(vaulttoken::claims::ClaimsBuilder) -> vaulttoken::claims::ClaimsBuilder| {
            build(
                Claims::builder()
                    .issuer(ISSUER)
                    .audience(AUDIENCE)
                    .subject(format!("{SUBJECT}-refused"))
                    .token_id(format!("{TOKEN_ID}-refused"))
                    .claim("role", "reader")
                    .expires_in(Duration::minutes(30)),
            )
        };
    let then = now() - Duration::minutes(90);
    let refused = [
        (
            &lax,
            now(),
            claim(|b| b.issuer("evil.example")),
            Footer::None,
        ),
        (
            &lax,
            now(),
            claim(|b| b.audience("admin-api")),
            Footer::None,
        ),
        (
            &lax,
            now(),
            claim(|b| b.claim("role", "admin")),
            Footer::None,
        ),
        (
            &lax,
            now(),
            claim(|b| b.claim("tenant", "t2")),
            tenant_footer("t1"),
        ),
        (
            &lax,
            now(),
            Claims::builder().issuer(ISSUER).audience(AUDIENCE),
            Footer::None,
        ),
        // Expired half an hour before "now".
        (&early, then, claim(|b| b), Footer::None),
    ];
    for (issuer, at, builder, footer) in refused {
        let claims = builder
            .build_with_clock(FixedClock::new(at))
            .expect("claims build");
        let token = issuer
            .encode_with_footer(&claims, &footer)
            .expect("lax rules issue");
        let error = fx.service.decode(&token).expect_err("strict rules refuse");
        assert!(matches!(error, Error::Claims(_)), "{error}");
        fx.issued.push(token);
    }
    fx
}

fn build_world() -> World {
    let clock = || Arc::new(FixedClock::new(now() - Duration::hours(1)));
    let mut secrets = Vec::new();

    let local_keys = LOCAL_KEYS.map(|bytes| LocalKey::from_bytes(&bytes).expect("32-byte key"));
    for key in &local_keys {
        secrets.push(key.to_hex().expect("hex").as_str().to_owned());
        secrets.push(key.to_base64url().expect("base64url").as_str().to_owned());
    }
    let [local_a, local_b] = local_keys;
    let ring = Arc::new(
        LocalKeyRing::new(LIFETIME)
            .expect("ring")
            .with_clock(clock()),
    );
    let first = ring.add(local_a).expect("add");
    ring.promote(&first).expect("promote");
    let local = fixture(
        "v4.local.",
        |rules| {
            LocalService::from_ring(Arc::clone(&ring))
                .rules(rules)
                .footer_mode(FooterMode::Auto)
                .footer_limits(limits())
                .max_token_len(MAX_TOKEN_LEN)
                .build()
        },
        || {
            let id = ring.add(local_b).expect("add");
            ring.promote(&id).expect("promote");
            id.as_str().to_owned()
        },
        first.as_str().to_owned(),
    );

    let secret_keys = SEEDS.map(|seed| SecretKey::from_seed_array(&seed));
    for key in &secret_keys {
        secrets.push(key.to_hex().expect("hex").as_str().to_owned());
        secrets.push(key.to_base64url().expect("base64url").as_str().to_owned());
        let seed = key.expose_seed().expect("seed");
        secrets.push(seed.as_bytes().iter().map(|b| format!("{b:02x}")).collect());
    }
    let [secret_a, secret_b] = secret_keys;
    let ring = Arc::new(
        SigningKeyRing::new(LIFETIME)
            .expect("ring")
            .with_clock(clock()),
    );
    let first = ring.add(secret_a).expect("add");
    ring.promote(&first).expect("promote");
    let signing = |rules| {
        PublicService::from_ring(Arc::clone(&ring))
            .rules(rules)
            .footer_mode(FooterMode::Claims)
            .footer_limits(limits())
            .max_token_len(MAX_TOKEN_LEN)
            .build()
    };
    let rotate = || {
        let id = ring.add(secret_b).expect("add");
        ring.promote(&id).expect("promote");
        id.as_str().to_owned()
    };
    let mut public = fixture("v4.public.", signing, rotate, first.as_str().to_owned());
    // After the rotation, so the public half holds both keys.
    public.verifier = Some(
        PublicService::from_ring(Arc::new(ring.public_ring()))
            .rules(strict_rules())
            .footer_mode(FooterMode::Claims)
            .footer_limits(limits())
            .max_token_len(MAX_TOKEN_LEN)
            .build(),
    );
    World {
        local,
        public,
        secrets,
    }
}

fuzz_target!(|data: &[u8]| {
    let world = WORLD.get_or_init(build_world);
    let text = String::from_utf8_lossy(data);

    check(&world.local, &text, &world.secrets);
    check(&world.public, &text, &world.secrets);
    if let Some(spliced) = splice(&world.local, data) {
        check(&world.local, &spliced, &world.secrets);
    }
    if let Some(spliced) = splice(&world.public, data) {
        check(&world.public, &spliced, &world.secrets);
    }
});

/// `data` spliced into one of the tokens `fx` issued (see the module docs).
fn splice<P: ServicePurpose>(fx: &Fixture<P>, data: &[u8]) -> Option<String> {
    let (&how, rest) = data.split_first()?;
    let (&which, rest) = rest.split_first().unwrap_or((&0, &[][..]));
    let base = &fx.issued[usize::from(which) % fx.issued.len()];
    let after = base
        .strip_prefix(fx.header)
        .expect("issued tokens carry the header");
    let (body, footer) = after
        .split_once('.')
        .map_or((after, None), |(b, f)| (b, Some(f)));
    let header = fx.header;
    Some(match how % 6 {
        0 => format!("{header}{body}.{}", base64url(rest)),
        1 => match footer {
            Some(footer) => format!("{header}{}.{footer}", base64url(rest)),
            None => format!("{header}{}", base64url(rest)),
        },
        2 => {
            let kid = fx.service.untrusted_key_id(base).ok()??;
            let mut bytes = format!(r#"{{"kid":"{kid}","#).into_bytes();
            bytes.extend_from_slice(rest);
            format!("{header}{body}.{}", base64url(&bytes))
        }
        3 => {
            let mut body = body.as_bytes().to_vec();
            for pair in rest.chunks_exact(2) {
                let at = usize::from(pair[0]) * 7 % body.len();
                body[at] = ALPHABET[usize::from(pair[1] % 64)];
            }
            let body = String::from_utf8(body).expect("base64url is ASCII");
            match footer {
                Some(footer) => format!("{header}{body}.{footer}"),
                None => format!("{header}{body}"),
            }
        }
        4 => format!("{header}{}", String::from_utf8_lossy(rest)),
        _ => format!("{base}{}", String::from_utf8_lossy(rest)),
    })
}

/// Decodes `text` with the fixture's services and checks every invariant.
fn check<P: ServicePurpose>(fx: &Fixture<P>, text: &str, secrets: &[String]) {
    let kid = fx.service.untrusted_key_id(text);
    let decoded = fx.service.decode(text);

    if let Err(error) = &kid {
        clean(error, text, secrets);
    }
    if let Err(error) = &decoded {
        clean(error, text, secrets);
    }
    match (&kid, &decoded) {
        // Both read the footer the same way, and decode asks the ring, which
        // reads the key id first: the same format error must come out.
        (Err(k), Err(d)) => assert_eq!(
            k.to_string(),
            d.to_string(),
            "untrusted_key_id and decode fail differently"
        ),
        (Err(k), Ok(_)) => panic!("decode accepted a token untrusted_key_id refuses: {k}"),
        (Ok(_), Err(_)) => {}
        (Ok(kid), Ok(verified)) => {
            let (claims, footer) = fx
                .accepted
                .get(text)
                .expect("decode accepted a token the service never issued");
            assert_eq!(
                verified.claims(),
                claims,
                "claims differ from the issued ones"
            );
            assert_eq!(
                verified.footer(),
                footer,
                "footer differs from the issued one"
            );
            let kid = kid.as_deref().expect("a ring token names its key");
            assert!(
                fx.kids.iter().any(|k| k == kid),
                "decoded under an unknown kid"
            );
            let shown = format!("{verified:?}");
            assert!(
                !shown.contains(SUBJECT) && !shown.contains(TOKEN_ID),
                "Debug shows claim values"
            );
            assert!(!secrets.iter().any(|s| shown.contains(s.as_str())));
        }
    }

    if let Some(verifier) = &fx.verifier {
        let other = verifier.decode(text);
        match (&decoded, &other) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "verifier fails differently")
            }
            _ => panic!("signing and verification-only services disagree"),
        }
        assert_eq!(
            kid.as_ref().ok(),
            verifier.untrusted_key_id(text).as_ref().ok()
        );
    }
}

/// An error formats, and shows no secret, claim value or long run of the input.
fn clean(error: &Error, text: &str, secrets: &[String]) {
    let shown = format!("{error} | {error:?}");
    for secret in secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "an error shows key material"
        );
    }
    assert!(
        !shown.contains(SUBJECT) && !shown.contains(TOKEN_ID),
        "an error shows a claim value: {shown}"
    );
    for run in text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|run| run.len() >= MIN_ECHO)
    {
        assert!(!shown.contains(run), "an error echoes the token: {shown}");
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}
