//! Reading each variable, collecting every problem.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use time::Duration;
use vaulttoken::LocalKey;
use vaulttoken::binding::{IpPrefix, Observer};
use vaulttoken::keyring::{MAX_CACHE_SECONDS, MAX_ISSUER_LEN};
use vaulttoken_axum::TrustedProxies;

use super::{
    AccessPurpose, BindingConfig, BindingMode, Config, ConfigError, Lifetimes,
    REDIS_CLUSTER_URLS_VAR, REDIS_URL_VAR, RateLimits, RedisDeadlines, RedisTarget, VARIABLES,
};
use crate::audience::{MAX_AUDIENCES, valid_audience};
use crate::clients::{Clients, valid_client_id};
use crate::logging::{LOG_WRITES_VAR, LogWrites};
use crate::scopes::{MAX_SCOPES, valid_scope};
use crate::secret::Secret;

/// The shortest client secret accepted, in bytes.
const MIN_CLIENT_SECRET_LEN: usize = 16;
/// The shortest admin secret accepted, in bytes.
const MIN_ADMIN_SECRET_LEN: usize = 32;
/// The longest access-token lifetime accepted.
const MAX_ACCESS_TTL: i64 = 24 * 60 * 60;
/// The longest rotation period accepted: ten years.
const MAX_ROTATE_EVERY: i64 = 10 * 366 * 24 * 60 * 60;
/// The longest grace window accepted.
const MAX_GRACE: i64 = 60;
/// The most seed URLs of a cluster accepted.
const MAX_CLUSTER_URLS: usize = 32;
/// The shortest Redis deadline accepted, in milliseconds (the token store
/// keeps 50 ms of its deadline for a write's answer).
const MIN_DEADLINE_MS: u64 = 100;
/// The longest Redis deadline accepted, in milliseconds.
const MAX_DEADLINE_MS: u64 = 60_000;
/// The revocation mirror's bound, in milliseconds: at least eight of its
/// shortest heartbeat (`vaulttoken_redis::MirrorOptions`), at most a minute.
const MIN_MIRROR_STALENESS_MS: u64 = 160;
const MAX_MIRROR_STALENESS_MS: u64 = 60_000;
/// The shortest connect timeout accepted, in milliseconds.
const MIN_CONNECT_TIMEOUT_MS: u64 = 1_000;
/// The longest connect timeout accepted, in milliseconds.
const MAX_CONNECT_TIMEOUT_MS: u64 = 120_000;

/// Adds the `KEY=value` lines of a config file to `vars`. Blank lines and
/// lines starting with `#` are skipped; a value is taken as written (no
/// quotes, no escapes).
pub(super) fn file_lines(
    text: &str,
    vars: &mut BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                vars.insert(name.trim().to_owned(), value.trim().to_owned());
            }
            _ => problems.push(format!(
                "{}: line {} is not KEY=value",
                super::CONFIG_FILE_VAR,
                index + 1
            )),
        }
    }
}

/// Reads variables, remembering every problem.
pub(super) struct Reader<'a> {
    vars: &'a BTreeMap<String, String>,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(vars: &'a BTreeMap<String, String>) -> Self {
        Self {
            vars,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, name: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{name}: {what}"));
    }

    /// The value, or its default; `None` if neither.
    fn raw(&self, name: &str) -> Option<&'a str> {
        if let Some(value) = self.vars.get(name) {
            return Some(value.as_str());
        }
        VARIABLES
            .iter()
            .find(|(known, _)| *known == name)
            .and_then(|(_, default)| *default)
    }

    fn required(&mut self, name: &str) -> Option<&'a str> {
        match self.raw(name) {
            Some(value) if !value.is_empty() => Some(value),
            _ => {
                self.problem(name, "required");
                None
            }
        }
    }

    fn optional(&self, name: &str) -> Option<&'a str> {
        self.raw(name).filter(|value| !value.is_empty())
    }

    fn parsed<T: FromStr>(&mut self, name: &str, what: &str) -> Option<T> {
        let value = self.required(name)?;
        match value.parse() {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                self.problem(name, format_args!("not {what}"));
                None
            }
        }
    }

    /// Whole seconds in `min..=max`.
    fn seconds(&mut self, name: &str, min: i64, max: i64) -> Option<Duration> {
        let seconds: i64 = self.parsed(name, "a whole number of seconds")?;
        if !(min..=max).contains(&seconds) {
            self.problem(name, format_args!("must be from {min} to {max} seconds"));
            return None;
        }
        Some(Duration::seconds(seconds))
    }

    /// Whole milliseconds in `min..=max`.
    fn millis(&mut self, name: &str, min: u64, max: u64) -> Option<std::time::Duration> {
        let millis: u64 = self.parsed(name, "a whole number of milliseconds")?;
        if !(min..=max).contains(&millis) {
            self.problem(
                name,
                format_args!("must be from {min} to {max} milliseconds"),
            );
            return None;
        }
        Some(std::time::Duration::from_millis(millis))
    }

    fn redis_deadlines(&mut self) -> Option<RedisDeadlines> {
        let (min, max) = (MIN_DEADLINE_MS, MAX_DEADLINE_MS);
        let store = self.millis("VAULTTOKEN_REDIS_DEADLINE_MS", min, max);
        let rate_limit = self.millis("VAULTTOKEN_RATE_LIMIT_DEADLINE_MS", min, max);
        let keys = self.millis("VAULTTOKEN_KEYS_DEADLINE_MS", min, max);
        let connect = self.millis(
            "VAULTTOKEN_REDIS_CONNECT_TIMEOUT_MS",
            MIN_CONNECT_TIMEOUT_MS,
            MAX_CONNECT_TIMEOUT_MS,
        );
        Some(RedisDeadlines {
            store: store?,
            rate_limit: rate_limit?,
            keys: keys?,
            connect: connect?,
        })
    }

    /// The revocation mirror's bound: `Some(None)` when unset. It follows
    /// the token store's change streams, so it needs Redis (`redis` is
    /// `None` when that setting had a problem of its own).
    fn mirror(
        &mut self,
        redis: Option<&Option<RedisTarget>>,
    ) -> Option<Option<std::time::Duration>> {
        const NAME: &str = "VAULTTOKEN_MIRROR_MAX_STALENESS_MS";
        if self.optional(NAME).is_none() {
            return Some(None);
        }
        let bound = self.millis(NAME, MIN_MIRROR_STALENESS_MS, MAX_MIRROR_STALENESS_MS)?;
        match redis? {
            Some(_) => Some(Some(bound)),
            None => {
                self.problem(
                    NAME,
                    format_args!(
                        "the revocation mirror needs {REDIS_URL_VAR} or {REDIS_CLUSTER_URLS_VAR}"
                    ),
                );
                None
            }
        }
    }

    /// One server or one cluster, never both; `Some(None)`: neither. The
    /// values are never repeated in a problem (they may hold a password).
    fn redis(&mut self) -> Option<Option<RedisTarget>> {
        let server = self.optional(REDIS_URL_VAR);
        let cluster = self.optional(REDIS_CLUSTER_URLS_VAR);
        match (server, cluster) {
            (None, None) => Some(None),
            (Some(_), Some(_)) => {
                self.problem(
                    REDIS_CLUSTER_URLS_VAR,
                    format_args!(
                        "set either {REDIS_URL_VAR} (one server) or {REDIS_CLUSTER_URLS_VAR} \
                         (a cluster), not both"
                    ),
                );
                None
            }
            (Some(url), None) => Some(Some(RedisTarget::Server(Secret::new(url)))),
            (None, Some(text)) => {
                let urls: Vec<&str> = text.split(',').map(str::trim).collect();
                if urls.iter().any(|url| url.is_empty()) {
                    self.problem(
                        REDIS_CLUSTER_URLS_VAR,
                        "an empty entry: the cluster's node URLs, separated by commas",
                    );
                    return None;
                }
                if urls.len() > MAX_CLUSTER_URLS {
                    self.problem(
                        REDIS_CLUSTER_URLS_VAR,
                        format_args!("at most {MAX_CLUSTER_URLS} node URLs"),
                    );
                    return None;
                }
                let urls = urls.into_iter().map(Secret::new).collect();
                Some(Some(RedisTarget::Cluster(urls)))
            }
        }
    }

    fn flag(&mut self, name: &str) -> Option<bool> {
        match self.required(name)? {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => {
                self.problem(name, "must be true or false");
                None
            }
        }
    }

    fn unknown_names(&mut self) {
        let unknown: Vec<String> = self
            .vars
            .keys()
            .filter(|name| !VARIABLES.iter().any(|(known, _)| known == name))
            .cloned()
            .collect();
        for name in unknown {
            self.problem(&name, "unknown variable");
        }
    }

    fn kek(&mut self) -> Option<LocalKey> {
        let inline = self.optional("VAULTTOKEN_KEK");
        let file = self.optional("VAULTTOKEN_KEK_FILE");
        let (name, text) = match (inline, file) {
            (Some(_), Some(_)) => {
                self.problem(
                    "VAULTTOKEN_KEK",
                    "set either VAULTTOKEN_KEK or VAULTTOKEN_KEK_FILE, not both",
                );
                return None;
            }
            (None, None) => {
                self.problem(
                    "VAULTTOKEN_KEK",
                    "required (or VAULTTOKEN_KEK_FILE): a k4.local. PASERK",
                );
                return None;
            }
            (Some(text), None) => ("VAULTTOKEN_KEK", text.to_owned()),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => (
                    "VAULTTOKEN_KEK_FILE",
                    text.lines().next().unwrap_or_default().trim().to_owned(),
                ),
                Err(_) => {
                    self.problem("VAULTTOKEN_KEK_FILE", "cannot read the file");
                    return None;
                }
            },
        };
        match LocalKey::from_paserk(&text) {
            Ok(key) => Some(key),
            Err(_) => {
                self.problem(name, "not a k4.local. PASERK");
                None
            }
        }
    }

    fn clients(&mut self) -> Option<Clients> {
        let name = "VAULTTOKEN_CLIENTS";
        let text = self.required(name)?;
        let mut clients = Vec::new();
        let mut ok = true;
        for (index, entry) in text.split(',').enumerate() {
            let position = index + 1;
            let Some((id, secret)) = entry.trim().split_once(':') else {
                self.problem(name, format_args!("entry {position} is not id:secret"));
                ok = false;
                continue;
            };
            if !valid_client_id(id) {
                self.problem(
                    name,
                    format_args!("entry {position}: a client id is 1 to 64 of [A-Za-z0-9._-]"),
                );
                ok = false;
            } else if clients.iter().any(|(known, _)| known == id) {
                self.problem(name, format_args!("entry {position}: duplicate client id"));
                ok = false;
            }
            if secret.len() < MIN_CLIENT_SECRET_LEN {
                self.problem(
                    name,
                    format_args!(
                        "entry {position}: a secret is at least {MIN_CLIENT_SECRET_LEN} bytes"
                    ),
                );
                ok = false;
            }
            clients.push((id.to_owned(), Secret::new(secret)));
        }
        ok.then(|| Clients::new(clients))
    }

    fn admin_secret(&mut self) -> Option<Option<Secret>> {
        let name = "VAULTTOKEN_ADMIN_SECRET";
        match self.optional(name) {
            None => Some(None),
            Some(secret) if secret.len() < MIN_ADMIN_SECRET_LEN => {
                self.problem(name, format_args!("at least {MIN_ADMIN_SECRET_LEN} bytes"));
                None
            }
            Some(secret) => Some(Some(Secret::new(secret))),
        }
    }

    fn trusted_proxies(&mut self) -> Option<TrustedProxies> {
        let name = "VAULTTOKEN_TRUSTED_PROXIES";
        let Some(text) = self.optional(name) else {
            return Some(TrustedProxies::none());
        };
        let ranges: Vec<&str> = text.split(',').map(str::trim).collect();
        match TrustedProxies::parse(&ranges) {
            Ok(proxies) => Some(proxies),
            Err(_) => {
                self.problem(name, "not a comma-separated list of IP addresses or CIDRs");
                None
            }
        }
    }

    fn purpose(&mut self) -> Option<AccessPurpose> {
        match self.required("VAULTTOKEN_ACCESS_PURPOSE")? {
            "public" => Some(AccessPurpose::Public),
            "local" => Some(AccessPurpose::Local),
            _ => {
                self.problem("VAULTTOKEN_ACCESS_PURPOSE", "must be public or local");
                None
            }
        }
    }

    fn lifetimes(&mut self) -> Option<Lifetimes> {
        let year = 366 * 24 * 60 * 60;
        let access = self.seconds("VAULTTOKEN_ACCESS_TTL_SECS", 1, MAX_ACCESS_TTL);
        let refresh = self.seconds("VAULTTOKEN_REFRESH_TTL_SECS", 1, year);
        let family = self.seconds("VAULTTOKEN_FAMILY_TTL_SECS", 1, year);
        let grace = self.seconds("VAULTTOKEN_REFRESH_GRACE_SECS", 0, MAX_GRACE);
        let grace_uses = self.parsed::<u32>("VAULTTOKEN_REFRESH_GRACE_USES", "a whole number");
        if let (Some(refresh), Some(family)) = (refresh, family)
            && family < refresh
        {
            self.problem(
                "VAULTTOKEN_FAMILY_TTL_SECS",
                "must be at least VAULTTOKEN_REFRESH_TTL_SECS",
            );
            return None;
        }
        Some(Lifetimes {
            access: access?,
            refresh: refresh?,
            family: family?,
            grace: grace?,
            grace_uses: grace_uses?,
        })
    }

    fn rate_limits(&mut self) -> Option<RateLimits> {
        let per_ip = self.parsed("VAULTTOKEN_RATE_LIMIT_PER_IP", "a whole number");
        let per_client = self.parsed("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "a whole number");
        let window = self.seconds("VAULTTOKEN_RATE_LIMIT_WINDOW_SECS", 1, 3600);
        let ipv6_prefix = self.prefix("VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX", 1, 128);
        Some(RateLimits {
            per_ip: per_ip?,
            per_client: per_client?,
            window: window?,
            ipv6_prefix: ipv6_prefix?,
        })
    }

    fn binding(&mut self) -> Option<BindingConfig> {
        let mode = match self.required("VAULTTOKEN_BINDING") {
            None => None,
            Some("off") => Some(BindingMode::Off),
            Some("observe") => Some(BindingMode::Observe),
            Some("strict") => Some(BindingMode::Strict),
            Some(_) => {
                self.problem("VAULTTOKEN_BINDING", "must be off, observe or strict");
                None
            }
        };
        let v4 = self.prefix("VAULTTOKEN_BINDING_IP_PREFIX_V4", 0, 32);
        let v6 = self.prefix("VAULTTOKEN_BINDING_IP_PREFIX_V6", 0, 128);
        let observer = match mode {
            Some(BindingMode::Observe) => Some(self.observer_key()),
            _ => Some(None),
        };
        let ip_prefix = IpPrefix::new(v4?, v6?).ok()?;
        Some(BindingConfig {
            mode: mode?,
            ip_prefix,
            observer: observer?,
        })
    }

    /// A prefix length in `min..=max` bits.
    fn prefix(&mut self, name: &str, min: u8, max: u8) -> Option<u8> {
        let bits: u8 = self.parsed(name, "a whole number of bits")?;
        if !(min..=max).contains(&bits) {
            self.problem(name, format_args!("must be from {min} to {max} bits"));
            return None;
        }
        Some(bits)
    }

    /// The observe-mode key: required, a `k4.local.` PASERK.
    fn observer_key(&mut self) -> Option<Observer> {
        let name = "VAULTTOKEN_OBSERVER_KEY";
        let Some(text) = self.optional(name) else {
            self.problem(
                name,
                "required with VAULTTOKEN_BINDING=observe: a k4.local. PASERK",
            );
            return None;
        };
        let bytes = LocalKey::from_paserk(text)
            .and_then(|key| key.expose_secret_bytes())
            .ok();
        match bytes {
            Some(bytes) => Some(Observer::from_bytes(bytes.as_bytes())),
            None => {
                self.problem(name, "not a k4.local. PASERK");
                None
            }
        }
    }

    /// The key set's cache time: whole seconds, at most a day (what a key
    /// set holds, `MAX_CACHE_SECONDS`).
    fn keys_max_age(&mut self) -> Option<u32> {
        let name = "VAULTTOKEN_KEYS_MAX_AGE_SECS";
        let seconds: u32 = self.parsed(name, "a whole number")?;
        if u64::from(seconds) > MAX_CACHE_SECONDS {
            self.problem(
                name,
                format_args!("must be from 0 to {MAX_CACHE_SECONDS} seconds"),
            );
            return None;
        }
        Some(seconds)
    }

    /// The audiences of each client (`VAULTTOKEN_CLIENT_AUDIENCES`,
    /// `id=audience audience…` entries separated by commas; the first
    /// audience is the client's default), set on `clients`. An entry for a
    /// client not configured is a problem (unless the clients themselves
    /// are in error: then they are named already).
    fn client_audiences(&mut self, clients: Option<&mut Clients>) {
        let name = "VAULTTOKEN_CLIENT_AUDIENCES";
        let Some(text) = self.optional(name) else {
            return;
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut parsed = Vec::new();
        for (index, entry) in text.split(',').enumerate() {
            let position = index + 1;
            let Some((id, list)) = entry.trim().split_once('=') else {
                self.problem(
                    name,
                    format_args!("entry {position} is not id=audience audience…"),
                );
                continue;
            };
            let id = id.trim();
            let audiences: Vec<&str> = list.split_whitespace().collect();
            let problem = if seen.contains(&id) {
                Some("the client is listed twice")
            } else if clients
                .as_ref()
                .is_some_and(|clients| !clients.contains(id))
            {
                Some("not a client of VAULTTOKEN_CLIENTS")
            } else if audiences.is_empty() {
                Some("no audience")
            } else if audiences.len() > MAX_AUDIENCES {
                Some("more than 8 audiences")
            } else if !audiences.iter().all(|audience| valid_audience(audience)) {
                Some("an audience is 1 to 256 bytes, no whitespace, control character or comma")
            } else if (1..audiences.len()).any(|i| audiences[..i].contains(&audiences[i])) {
                Some("an audience is listed twice")
            } else {
                None
            };
            seen.push(id);
            match problem {
                Some(problem) => self.problem(name, format_args!("entry {position}: {problem}")),
                None => parsed.push((id, audiences)),
            }
        }
        if let Some(clients) = clients {
            for (id, audiences) in parsed {
                clients.set_audiences(id, audiences.into_iter().map(str::to_owned).collect());
            }
        }
    }

    /// The scopes of each client (`VAULTTOKEN_CLIENT_SCOPES`) and their
    /// default sets (`VAULTTOKEN_CLIENT_DEFAULT_SCOPES`, else all of the
    /// client's scopes): `id=scope scope…` entries separated by commas, set
    /// on `clients`. An entry for a client not configured, or a default
    /// scope the client does not have, is a problem.
    fn client_scopes(&mut self, clients: Option<&mut Clients>) {
        const NAME: &str = "VAULTTOKEN_CLIENT_SCOPES";
        const DEFAULT: &str = "VAULTTOKEN_CLIENT_DEFAULT_SCOPES";
        let is_client = |id: &str| clients.as_ref().is_none_or(|clients| clients.contains(id));
        let mut scopes: Vec<(&str, Vec<&str>)> = Vec::new();
        for (position, id, list) in self.id_lists(NAME) {
            let problem = if scopes.iter().any(|(known, _)| *known == id) {
                Some("the client is listed twice")
            } else if !is_client(id) {
                Some("not a client of VAULTTOKEN_CLIENTS")
            } else if list.is_empty() {
                Some("no scope")
            } else if list.len() > MAX_SCOPES {
                Some("more than 32 scopes")
            } else if !list.iter().all(|scope| valid_scope(scope)) {
                Some(
                    "a scope is 1 to 64 bytes of visible ASCII (RFC 6749 §3.3), without \", \\, \
                     comma or =",
                )
            } else if (1..list.len()).any(|i| list[..i].contains(&list[i])) {
                Some("a scope is listed twice")
            } else {
                None
            };
            match problem {
                Some(problem) => self.problem(NAME, format_args!("entry {position}: {problem}")),
                None => scopes.push((id, list)),
            }
        }
        let mut defaults: Vec<(&str, Vec<&str>)> = Vec::new();
        for (position, id, list) in self.id_lists(DEFAULT) {
            let allowed = scopes.iter().find(|(known, _)| *known == id);
            let problem = if defaults.iter().any(|(known, _)| *known == id) {
                Some("the client is listed twice")
            } else if !is_client(id) {
                Some("not a client of VAULTTOKEN_CLIENTS")
            } else if allowed.is_none() {
                Some("the client has no scopes in VAULTTOKEN_CLIENT_SCOPES")
            } else if !allowed.is_some_and(|(_, allowed)| list.iter().all(|s| allowed.contains(s)))
            {
                Some("a default scope is not one of the client's (VAULTTOKEN_CLIENT_SCOPES)")
            } else {
                None
            };
            match problem {
                Some(problem) => self.problem(DEFAULT, format_args!("entry {position}: {problem}")),
                None => defaults.push((id, list)),
            }
        }
        if let Some(clients) = clients {
            for (id, allowed) in scopes {
                let default = defaults
                    .iter()
                    .find(|(known, _)| *known == id)
                    .map_or(&allowed, |(_, default)| default);
                let default = allowed
                    .iter()
                    .filter(|scope| default.contains(scope))
                    .map(|scope| (*scope).to_owned())
                    .collect();
                let allowed = allowed.into_iter().map(str::to_owned).collect();
                clients.set_scopes(id, allowed, default);
            }
        }
    }

    /// The `id=item item…` entries of the variable `name`, separated by
    /// commas: each entry's position (from 1), id, and items (none for
    /// `id=`). An entry without `=` is a problem, and skipped.
    fn id_lists(&mut self, name: &str) -> Vec<(usize, &'a str, Vec<&'a str>)> {
        let Some(text) = self.optional(name) else {
            return Vec::new();
        };
        let mut entries = Vec::new();
        for (index, entry) in text.split(',').enumerate() {
            let position = index + 1;
            match entry.trim().split_once('=') {
                Some((id, list)) => {
                    entries.push((position, id.trim(), list.split_whitespace().collect()));
                }
                None => self.problem(
                    name,
                    format_args!("entry {position} is not id=scope scope…"),
                ),
            }
        }
        entries
    }

    /// The issuer: required, 1 to `MAX_ISSUER_LEN` bytes, no whitespace or
    /// control characters (the key set refuses control characters; a space
    /// in an issuer is a pasting mistake).
    fn issuer(&mut self) -> Option<String> {
        let name = "VAULTTOKEN_ISSUER";
        let Some(issuer) = self.optional(name) else {
            self.problem(
                name,
                "required: who issues the tokens (their iss), usually the server's public URL",
            );
            return None;
        };
        if issuer.len() > MAX_ISSUER_LEN
            || issuer.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.problem(
                name,
                format_args!("at most {MAX_ISSUER_LEN} bytes, no whitespace or control characters"),
            );
            return None;
        }
        Some(issuer.to_owned())
    }

    /// `VAULTTOKEN_ROTATE_EVERY`: unset or empty, never; else whole seconds,
    /// more than the announcement period plus the access-token lifetime
    /// (checked when both are known).
    fn rotate_every(
        &mut self,
        keys_max_age: Option<u32>,
        keys_poll: Option<Duration>,
        lifetimes: Option<&Lifetimes>,
    ) -> Option<Option<Duration>> {
        const NAME: &str = "VAULTTOKEN_ROTATE_EVERY";
        if self.optional(NAME).is_none() {
            return Some(None);
        }
        let every = self.seconds(NAME, 1, MAX_ROTATE_EVERY)?;
        if let (Some(max_age), Some(poll), Some(lifetimes)) = (keys_max_age, keys_poll, lifetimes) {
            let announcement = super::announcement(max_age, poll);
            let least = announcement + lifetimes.access;
            if every <= least {
                self.problem(
                    NAME,
                    format_args!(
                        "must be more than the announcement period ({} s: \
                         VAULTTOKEN_KEYS_MAX_AGE_SECS + VAULTTOKEN_KEYS_POLL_SECS + {} s) plus \
                         VAULTTOKEN_ACCESS_TTL_SECS ({} s), that is more than {} s",
                        announcement.whole_seconds(),
                        super::ANNOUNCEMENT_MARGIN_SECS,
                        lifetimes.access.whole_seconds(),
                        least.whole_seconds()
                    ),
                );
                return None;
            }
        }
        Some(Some(every))
    }

    /// `VAULTTOKEN_METRICS_LISTEN`: unset or empty, none (`/metrics` on the
    /// main listener); else an `address:port` other than `listen` (port 0,
    /// a port the system picks, differs from any). `None` after a problem.
    fn metrics_listen(&mut self, listen: Option<SocketAddr>) -> Option<Option<SocketAddr>> {
        const NAME: &str = "VAULTTOKEN_METRICS_LISTEN";
        if self.optional(NAME).is_none() {
            return Some(None);
        }
        let address: SocketAddr = self.parsed(NAME, "an address:port such as 127.0.0.1:9090")?;
        if listen == Some(address) && address.port() != 0 {
            self.problem(NAME, "must differ from VAULTTOKEN_LISTEN");
            return None;
        }
        Some(Some(address))
    }

    /// `VAULTTOKEN_LOG_WRITES`: `batched` or `line`.
    fn log_writes(&mut self) -> Option<LogWrites> {
        let writes = LogWrites::parse(self.required(LOG_WRITES_VAR)?);
        if writes.is_none() {
            self.problem(LOG_WRITES_VAR, "must be batched or line");
        }
        writes
    }

    /// `VAULTTOKEN_DRAIN_SECS`: 1 to 300 seconds.
    fn drain(&mut self) -> Option<std::time::Duration> {
        let seconds = self.seconds("VAULTTOKEN_DRAIN_SECS", 1, 300)?;
        Some(std::time::Duration::from_secs(
            seconds.whole_seconds().unsigned_abs(),
        ))
    }

    /// Reads every variable, then answers.
    pub(super) fn finish(mut self) -> Result<Config, ConfigError> {
        self.unknown_names();
        let listen: Option<SocketAddr> = self.parsed(
            "VAULTTOKEN_LISTEN",
            "an address:port such as 127.0.0.1:8080",
        );
        let keyring_file = self.required("VAULTTOKEN_KEYRING_FILE").map(PathBuf::from);
        let create_keyring = self.flag("VAULTTOKEN_KEYRING_CREATE");
        // With Redis the keys may come from the shared document instead.
        let with_redis = self.optional(REDIS_URL_VAR).is_some()
            || self.optional(REDIS_CLUSTER_URLS_VAR).is_some();
        if let (Some(file), Some(false), false) = (&keyring_file, create_keyring, with_redis)
            && !file.exists()
        {
            self.problem(
                "VAULTTOKEN_KEYRING_FILE",
                "no such file (set VAULTTOKEN_KEYRING_CREATE=true to create a ring)",
            );
        }
        let kek = self.kek();
        let access_purpose = self.purpose();
        let lifetimes = self.lifetimes();
        let redis = self.redis();
        let redis_deadlines = self.redis_deadlines();
        let mirror = self.mirror(redis.as_ref());
        let mut clients = self.clients();
        self.client_audiences(clients.as_mut());
        self.client_scopes(clients.as_mut());
        let admin_secret = self.admin_secret();
        let trusted_proxies = self.trusted_proxies();
        let rate_limits = self.rate_limits();
        let keys_max_age = self.keys_max_age();
        let keys_poll = self.seconds("VAULTTOKEN_KEYS_POLL_SECS", 1, 300);
        let binding = self.binding();
        let issuer = self.issuer();
        let rotate_every = self.rotate_every(keys_max_age, keys_poll, lifetimes.as_ref());
        let metrics_listen = self.metrics_listen(listen);
        let log_writes = self.log_writes();
        let drain = self.drain();
        match (
            listen,
            keyring_file,
            create_keyring,
            kek,
            access_purpose,
            lifetimes,
            clients,
            admin_secret,
            trusted_proxies,
            rate_limits,
            keys_max_age,
            keys_poll,
            binding,
            redis,
            redis_deadlines,
            issuer,
            rotate_every,
            mirror,
            (log_writes, drain),
        ) {
            (
                Some(listen),
                Some(keyring_file),
                Some(create_keyring),
                Some(kek),
                Some(access_purpose),
                Some(lifetimes),
                Some(clients),
                Some(admin_secret),
                Some(trusted_proxies),
                Some(rate_limits),
                Some(keys_max_age),
                Some(keys_poll),
                Some(binding),
                Some(redis),
                Some(redis_deadlines),
                Some(issuer),
                Some(rotate_every),
                Some(mirror),
                (Some(log_writes), Some(drain)),
            ) if self.problems.is_empty() => Ok(Config {
                listen,
                keyring_file,
                create_keyring,
                kek,
                access_purpose,
                lifetimes,
                redis,
                redis_deadlines,
                mirror,
                clients,
                admin_secret,
                trusted_proxies,
                rate_limits,
                keys_max_age,
                keys_poll,
                binding,
                issuer,
                rotate_every,
                metrics_listen: metrics_listen.flatten(),
                log_writes,
                drain,
            }),
            _ => Err(ConfigError {
                problems: self.problems,
            }),
        }
    }
}
