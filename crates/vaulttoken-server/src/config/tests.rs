use std::collections::BTreeMap;

use super::*;

const CLIENT_SECRET: &str = "client-secret-0123456789";
const ADMIN_SECRET: &str = "admin-secret-0123456789abcdefghijklmnop";

fn kek_text() -> String {
    LocalKey::generate()
        .unwrap()
        .to_paserk()
        .unwrap()
        .as_str()
        .to_owned()
}

fn good() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "VAULTTOKEN_KEYRING_FILE".to_owned(),
            "/nonexistent/ring.json".to_owned(),
        ),
        ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
        ("VAULTTOKEN_KEK".to_owned(), kek_text()),
        (
            "VAULTTOKEN_CLIENTS".to_owned(),
            format!("web:{CLIENT_SECRET},mobile.app:{CLIENT_SECRET}x"),
        ),
        (
            "VAULTTOKEN_ADMIN_SECRET".to_owned(),
            ADMIN_SECRET.to_owned(),
        ),
        (
            "VAULTTOKEN_ISSUER".to_owned(),
            "https://auth.example".to_owned(),
        ),
    ])
}

fn with(mut vars: BTreeMap<String, String>, name: &str, value: &str) -> BTreeMap<String, String> {
    vars.insert(name.to_owned(), value.to_owned());
    vars
}

fn problems(vars: &BTreeMap<String, String>) -> Vec<String> {
    Config::from_vars(vars).unwrap_err().problems().to_vec()
}

fn names_only(problems: &[String], names: &[&str]) {
    assert_eq!(problems.len(), names.len(), "{problems:?}");
    for (problem, name) in problems.iter().zip(names) {
        assert!(problem.starts_with(&format!("{name}: ")), "{problem}");
    }
}

#[test]
fn defaults_fill_everything_but_the_required_variables() {
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
    assert!(config.create_keyring);
    assert_eq!(config.access_purpose, AccessPurpose::Public);
    assert_eq!(config.lifetimes.access, Duration::minutes(15));
    assert_eq!(config.lifetimes.refresh, Duration::days(14));
    assert_eq!(config.lifetimes.family, Duration::days(30));
    assert_eq!(config.lifetimes.grace, Duration::ZERO);
    assert_eq!(config.rate_limits.per_ip, 120);
    assert_eq!(config.rate_limits.per_client, 600);
    assert_eq!(config.rate_limits.window, Duration::minutes(1));
    assert_eq!(config.keys_max_age, 300);
    assert_eq!(config.clients.len(), 2);
    assert!(config.clients.authenticate("web", CLIENT_SECRET));
    assert!(
        config
            .clients
            .authenticate("mobile.app", &format!("{CLIENT_SECRET}x"))
    );
    assert!(config.admin_secret.unwrap().matches(ADMIN_SECRET));
    assert!(config.redis.is_none());
    assert_eq!(
        config.redis_deadlines,
        RedisDeadlines {
            store: std::time::Duration::from_millis(500),
            rate_limit: std::time::Duration::from_secs(1),
            keys: std::time::Duration::from_secs(2),
            connect: std::time::Duration::from_secs(5),
        }
    );
    assert!(config.trusted_proxies.is_empty());
}

#[test]
fn an_empty_environment_names_each_required_variable() {
    let found = problems(&BTreeMap::new());
    names_only(
        &found,
        &[
            "VAULTTOKEN_KEYRING_FILE",
            "VAULTTOKEN_KEK",
            "VAULTTOKEN_CLIENTS",
            "VAULTTOKEN_ISSUER",
        ],
    );
}

#[test]
fn the_issuer_is_required_printable_and_at_most_512_bytes() {
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.issuer, "https://auth.example");
    let longest = "i".repeat(vaulttoken::keyring::MAX_ISSUER_LEN);
    let config = Config::from_vars(&with(good(), "VAULTTOKEN_ISSUER", &longest)).unwrap();
    assert_eq!(config.issuer, longest);
    let mut missing = good();
    missing.remove("VAULTTOKEN_ISSUER");
    for vars in [
        missing,
        with(good(), "VAULTTOKEN_ISSUER", ""),
        with(good(), "VAULTTOKEN_ISSUER", &format!("{longest}i")),
        with(good(), "VAULTTOKEN_ISSUER", "https://auth.example/ x"),
        with(good(), "VAULTTOKEN_ISSUER", "https://auth.example/\u{7f}"),
        with(good(), "VAULTTOKEN_ISSUER", "https://auth\u{85}.example"),
    ] {
        names_only(&problems(&vars), &["VAULTTOKEN_ISSUER"]);
    }
}

#[test]
fn several_problems_are_named_in_one_error() {
    let vars = with(good(), "VAULTTOKEN_LISTEN", "localhost");
    let vars = with(vars, "VAULTTOKEN_ACCESS_PURPOSE", "private");
    let vars = with(vars, "VAULTTOKEN_ACCESS_TTL_SECS", "0");
    let vars = with(vars, "VAULTTOKEN_ADMIN_SECRET", "short");
    let vars = with(
        vars,
        "VAULTTOKEN_TRUSTED_PROXIES",
        "10.0.0.0/8, 10.0.0.0/33",
    );
    let vars = with(vars, "VAULTTOKEN_RATE_LIMIT_PER_IP", "-1");
    let vars = with(vars, "VAULTTOKEN_KEYS_MAX_AGE_SECS", "soon");
    let found = problems(&vars);
    names_only(
        &found,
        &[
            "VAULTTOKEN_LISTEN",
            "VAULTTOKEN_ACCESS_PURPOSE",
            "VAULTTOKEN_ACCESS_TTL_SECS",
            "VAULTTOKEN_ADMIN_SECRET",
            "VAULTTOKEN_TRUSTED_PROXIES",
            "VAULTTOKEN_RATE_LIMIT_PER_IP",
            "VAULTTOKEN_KEYS_MAX_AGE_SECS",
        ],
    );
    let text = Config::from_vars(&vars).unwrap_err().to_string();
    assert!(
        text.starts_with("invalid configuration (7 problems):"),
        "{text}"
    );
}

#[test]
fn a_misspelt_variable_is_a_problem_not_a_silent_default() {
    let found = problems(&with(good(), "VAULTTOKEN_ACESS_TTL_SECS", "60"));
    names_only(&found, &["VAULTTOKEN_ACESS_TTL_SECS"]);
    assert!(found[0].ends_with("unknown variable"));
}

#[test]
fn a_missing_ring_is_an_error_unless_creation_is_asked_for() {
    let vars = with(good(), "VAULTTOKEN_KEYRING_CREATE", "false");
    let found = problems(&vars);
    names_only(&found, &["VAULTTOKEN_KEYRING_FILE"]);
    // With Redis the keys may come from the shared document.
    let shared = with(vars.clone(), "REDIS_URL", "redis://127.0.0.1:6379");
    assert!(Config::from_vars(&shared).is_ok());
    let cluster = with(vars, "REDIS_CLUSTER_URLS", "redis://127.0.0.1:7000");
    assert!(Config::from_vars(&cluster).is_ok());
    let found = problems(&with(good(), "VAULTTOKEN_KEYRING_CREATE", "maybe"));
    names_only(&found, &["VAULTTOKEN_KEYRING_CREATE"]);
}

#[test]
fn the_kek_comes_from_exactly_one_place_and_must_be_a_local_paserk() {
    let both = with(good(), "VAULTTOKEN_KEK_FILE", "/nonexistent/kek");
    names_only(&problems(&both), &["VAULTTOKEN_KEK"]);
    let public = public_paserk();
    let wrong = with(good(), "VAULTTOKEN_KEK", &public);
    let found = problems(&wrong);
    names_only(&found, &["VAULTTOKEN_KEK"]);
    assert!(!found[0].contains(&public), "the value is never echoed");
    let mut unreadable = good();
    unreadable.remove("VAULTTOKEN_KEK");
    let unreadable = with(unreadable, "VAULTTOKEN_KEK_FILE", "/nonexistent/kek");
    names_only(&problems(&unreadable), &["VAULTTOKEN_KEK_FILE"]);
}

#[test]
fn the_kek_file_holds_the_paserk_on_its_first_line() {
    let path = std::env::temp_dir().join(format!("vaulttoken-server-kek-{}", std::process::id()));
    let kek = kek_text();
    std::fs::write(&path, format!("{kek}\n")).unwrap();
    let mut vars = good();
    vars.remove("VAULTTOKEN_KEK");
    let vars = with(vars, "VAULTTOKEN_KEK_FILE", path.to_str().unwrap());
    let config = Config::from_vars(&vars).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(config.kek.to_paserk().unwrap().as_str(), kek);
}

#[test]
fn each_bad_client_entry_is_named_by_position_without_its_secret() {
    let vars = with(
        good(),
        "VAULTTOKEN_CLIENTS",
        "web:short-secret,no-separator,bad id:0123456789abcdef,web:0123456789abcdef",
    );
    let found = problems(&vars);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found[0].contains("entry 1: a secret is at least 16 bytes"));
    assert!(found[1].contains("entry 2 is not id:secret"));
    assert!(found[2].contains("entry 3: a client id"));
    assert!(found[3].contains("entry 4: duplicate client id"));
    assert!(found.iter().all(|p| !p.contains("short-secret")));
}

#[test]
fn a_family_shorter_than_a_refresh_token_is_refused() {
    let vars = with(good(), "VAULTTOKEN_REFRESH_TTL_SECS", "7200");
    let vars = with(vars, "VAULTTOKEN_FAMILY_TTL_SECS", "3600");
    names_only(&problems(&vars), &["VAULTTOKEN_FAMILY_TTL_SECS"]);
    let vars = with(good(), "VAULTTOKEN_REFRESH_GRACE_SECS", "61");
    names_only(&problems(&vars), &["VAULTTOKEN_REFRESH_GRACE_SECS"]);
}

#[test]
fn local_purpose_redis_and_proxies_are_read() {
    let vars = with(good(), "VAULTTOKEN_ACCESS_PURPOSE", "local");
    let vars = with(vars, "REDIS_URL", "redis://:hunter2@127.0.0.1:6379");
    let vars = with(vars, "VAULTTOKEN_TRUSTED_PROXIES", "10.0.0.0/8, ::1");
    let config = Config::from_vars(&vars).unwrap();
    assert_eq!(config.access_purpose, AccessPurpose::Local);
    assert!(config.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(!printed.contains(CLIENT_SECRET), "{printed}");
    assert!(!printed.contains(ADMIN_SECRET), "{printed}");
}

#[test]
fn a_config_file_is_key_value_lines() {
    let mut vars = BTreeMap::new();
    let mut found = Vec::new();
    parse::file_lines(
        "# comment\n\nVAULTTOKEN_LISTEN = 127.0.0.1:9000\nnot a line\nREDIS_URL=redis://x\n",
        &mut vars,
        &mut found,
    );
    assert_eq!(vars["VAULTTOKEN_LISTEN"], "127.0.0.1:9000");
    assert_eq!(vars["REDIS_URL"], "redis://x");
    assert_eq!(found, ["VAULTTOKEN_CONFIG_FILE: line 4 is not KEY=value"]);
}

#[test]
fn binding_is_off_by_default_with_prefixes_of_24_and_56() {
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.binding.mode, BindingMode::Off);
    assert_eq!(
        (config.binding.ip_prefix.v4(), config.binding.ip_prefix.v6()),
        (24, 56)
    );
    assert!(config.binding.observer.is_none());
}

#[test]
fn strict_binding_needs_no_observer_key_and_reads_the_prefixes() {
    let vars = with(good(), "VAULTTOKEN_BINDING", "strict");
    let vars = with(vars, "VAULTTOKEN_BINDING_IP_PREFIX_V4", "32");
    let vars = with(vars, "VAULTTOKEN_BINDING_IP_PREFIX_V6", "0");
    let config = Config::from_vars(&vars).unwrap();
    assert_eq!(config.binding.mode, BindingMode::Strict);
    assert_eq!(
        (config.binding.ip_prefix.v4(), config.binding.ip_prefix.v6()),
        (32, 0)
    );
    assert!(config.binding.observer.is_none());
}

#[test]
fn observe_binding_needs_a_local_paserk_key_never_printed() {
    let observe = with(good(), "VAULTTOKEN_BINDING", "observe");
    names_only(&problems(&observe), &["VAULTTOKEN_OBSERVER_KEY"]);
    let public = public_paserk();
    let found = problems(&with(observe.clone(), "VAULTTOKEN_OBSERVER_KEY", &public));
    names_only(&found, &["VAULTTOKEN_OBSERVER_KEY"]);
    assert!(!found[0].contains(&public), "the value is never echoed");
    let key = kek_text();
    let config = Config::from_vars(&with(observe, "VAULTTOKEN_OBSERVER_KEY", &key)).unwrap();
    assert_eq!(config.binding.mode, BindingMode::Observe);
    assert!(config.binding.observer.is_some());
    let printed = format!("{config:?}");
    assert!(!printed.contains(&key), "{printed}");
    assert!(!printed.contains(&key[10..]), "{printed}");
}

#[test]
fn every_binding_problem_is_named_with_the_others() {
    let vars = with(good(), "VAULTTOKEN_BINDING", "paranoid");
    let vars = with(vars, "VAULTTOKEN_BINDING_IP_PREFIX_V4", "33");
    let vars = with(vars, "VAULTTOKEN_BINDING_IP_PREFIX_V6", "wide");
    let vars = with(vars, "VAULTTOKEN_LISTEN", "nowhere");
    let found = problems(&vars);
    names_only(
        &found,
        &[
            "VAULTTOKEN_LISTEN",
            "VAULTTOKEN_BINDING",
            "VAULTTOKEN_BINDING_IP_PREFIX_V4",
            "VAULTTOKEN_BINDING_IP_PREFIX_V6",
        ],
    );
    assert!(found[1].ends_with("must be off, observe or strict"));
    assert!(found[2].ends_with("must be from 0 to 32 bits"));
    assert!(found[3].ends_with("not a whole number of bits"));
    let found = problems(&with(good(), "VAULTTOKEN_BINDING_IP_PREFIX_V6", "129"));
    names_only(&found, &["VAULTTOKEN_BINDING_IP_PREFIX_V6"]);
}

#[test]
fn ipv6_clients_are_rate_limited_per_64_by_default_and_1_to_128_bits_are_read() {
    let name = "VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX";
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.rate_limits.ipv6_prefix, 64);
    for bits in [1, 48, 128] {
        let config = Config::from_vars(&with(good(), name, &bits.to_string())).unwrap();
        assert_eq!(config.rate_limits.ipv6_prefix, bits);
    }
    for (bad, why) in [
        ("0", "must be from 1 to 128 bits"),
        ("129", "must be from 1 to 128 bits"),
        ("wide", "not a whole number of bits"),
        ("", "required"),
    ] {
        let found = problems(&with(good(), name, bad));
        names_only(&found, &[name]);
        assert!(found[0].ends_with(why), "{bad:?}: {found:?}");
    }
}

/// A `k4.public.` PASERK: a valid key, of the wrong kind for a KEK.
fn public_paserk() -> String {
    vaulttoken::SecretKey::generate()
        .unwrap()
        .public_key()
        .to_paserk()
}

#[test]
fn a_cluster_is_its_seed_urls_trimmed_and_never_printed() {
    let vars = with(
        good(),
        "REDIS_CLUSTER_URLS",
        " redis://:hunter2@10.0.0.1:6379 ,redis://:hunter2@10.0.0.2:6379",
    );
    let config = Config::from_vars(&vars).unwrap();
    let Some(RedisTarget::Cluster(urls)) = &config.redis else {
        panic!("not a cluster: {:?}", config.redis);
    };
    let urls: Vec<&str> = urls.iter().map(Secret::expose).collect();
    assert_eq!(
        urls,
        [
            "redis://:hunter2@10.0.0.1:6379",
            "redis://:hunter2@10.0.0.2:6379"
        ]
    );
    assert!(!format!("{config:?}").contains("hunter2"));

    let one = with(good(), "REDIS_CLUSTER_URLS", "redis://10.0.0.1:6379");
    let config = Config::from_vars(&one).unwrap();
    assert!(matches!(&config.redis, Some(RedisTarget::Cluster(urls)) if urls.len() == 1));
    let server = with(good(), "REDIS_URL", "redis://10.0.0.1:6379");
    let config = Config::from_vars(&server).unwrap();
    let Some(RedisTarget::Server(url)) = &config.redis else {
        panic!("not a server: {:?}", config.redis);
    };
    assert_eq!(url.expose(), "redis://10.0.0.1:6379");
}

#[test]
fn a_server_and_a_cluster_together_or_empty_entries_are_refused_without_the_urls() {
    let both = with(good(), "REDIS_URL", "redis://:hunter2@10.0.0.1:6379");
    let both = with(both, "REDIS_CLUSTER_URLS", "redis://:hunter2@10.0.0.2:6379");
    let found = problems(&both);
    names_only(&found, &["REDIS_CLUSTER_URLS"]);
    assert!(found[0].contains("not both"), "{found:?}");
    assert!(!found[0].contains("hunter2"));

    for list in [
        "redis://:hunter2@10.0.0.1:6379,",
        ",redis://:hunter2@10.0.0.1:6379",
        "redis://:hunter2@a:1, ,redis://b:2",
    ] {
        let found = problems(&with(good(), "REDIS_CLUSTER_URLS", list));
        names_only(&found, &["REDIS_CLUSTER_URLS"]);
        assert!(found[0].contains("empty entry"), "{found:?}");
        assert!(!found[0].contains("hunter2"));
    }
    let many = vec!["redis://10.0.0.1:6379"; 33].join(",");
    let found = problems(&with(good(), "REDIS_CLUSTER_URLS", &many));
    names_only(&found, &["REDIS_CLUSTER_URLS"]);
    assert!(found[0].contains("at most 32"), "{found:?}");
    let most = vec!["redis://10.0.0.1:6379"; 32].join(",");
    assert!(Config::from_vars(&with(good(), "REDIS_CLUSTER_URLS", &most)).is_ok());
    // An empty setting is no setting.
    let empty = with(good(), "REDIS_CLUSTER_URLS", "");
    assert!(Config::from_vars(&empty).unwrap().redis.is_none());
}

#[test]
fn redis_deadlines_are_whole_milliseconds_from_100_to_60000() {
    let names = [
        "VAULTTOKEN_REDIS_DEADLINE_MS",
        "VAULTTOKEN_RATE_LIMIT_DEADLINE_MS",
        "VAULTTOKEN_KEYS_DEADLINE_MS",
    ];
    let mut vars = good();
    for (name, value) in names.iter().zip(["100", "60000", "2500"]) {
        vars = with(vars, name, value);
    }
    let config = Config::from_vars(&vars).unwrap();
    assert_eq!(
        config.redis_deadlines,
        RedisDeadlines {
            store: std::time::Duration::from_millis(100),
            rate_limit: std::time::Duration::from_secs(60),
            keys: std::time::Duration::from_millis(2500),
            connect: std::time::Duration::from_secs(5),
        }
    );
    for name in names {
        for bad in ["99", "60001", "0", "-1", "1.5", "1s", ""] {
            let found = problems(&with(good(), name, bad));
            names_only(&found, &[name]);
            if bad.is_empty() {
                assert!(found[0].ends_with("required"), "{found:?}");
            } else if bad.parse::<u64>().is_ok() {
                assert!(
                    found[0].ends_with("must be from 100 to 60000 milliseconds"),
                    "{found:?}"
                );
            } else {
                assert!(
                    found[0].ends_with("not a whole number of milliseconds"),
                    "{found:?}"
                );
            }
        }
    }
}

#[test]
fn the_redis_connect_timeout_is_whole_milliseconds_from_1000_to_120000() {
    let name = "VAULTTOKEN_REDIS_CONNECT_TIMEOUT_MS";
    for (value, millis) in [("1000", 1000), ("120000", 120_000), ("30000", 30_000)] {
        let config = Config::from_vars(&with(good(), name, value)).unwrap();
        assert_eq!(
            config.redis_deadlines.connect,
            std::time::Duration::from_millis(millis)
        );
    }
    for bad in ["999", "120001", "0", "5s"] {
        let found = problems(&with(good(), name, bad));
        names_only(&found, &[name]);
        if bad.parse::<u64>().is_ok() {
            assert!(
                found[0].ends_with("must be from 1000 to 120000 milliseconds"),
                "{found:?}"
            );
        } else {
            assert!(found[0].ends_with("not a whole number of milliseconds"));
        }
    }
}

#[test]
fn the_revocation_mirror_needs_redis_and_a_bound_from_160_ms_to_a_minute() {
    let name = "VAULTTOKEN_MIRROR_MAX_STALENESS_MS";
    let server = with(good(), "REDIS_URL", "redis://127.0.0.1:6379");
    assert_eq!(
        Config::from_vars(&server).unwrap().mirror,
        None,
        "off by default"
    );
    for (value, millis) in [("160", 160), ("2000", 2_000), ("60000", 60_000)] {
        let config = Config::from_vars(&with(server.clone(), name, value)).unwrap();
        assert_eq!(
            config.mirror,
            Some(std::time::Duration::from_millis(millis))
        );
    }
    for bad in ["159", "60001", "0", "2s"] {
        let found = problems(&with(server.clone(), name, bad));
        names_only(&found, &[name]);
        if bad.parse::<u64>().is_ok() {
            assert!(
                found[0].ends_with("must be from 160 to 60000 milliseconds"),
                "{found:?}"
            );
        } else {
            assert!(found[0].ends_with("not a whole number of milliseconds"));
        }
    }
    let found = problems(&with(good(), name, "2000"));
    names_only(&found, &[name]);
    assert!(
        found[0].ends_with("needs REDIS_URL or REDIS_CLUSTER_URLS"),
        "{found:?}"
    );
    let cluster = with(good(), "REDIS_CLUSTER_URLS", "redis://10.0.0.1:6379");
    let config = Config::from_vars(&with(cluster, name, "2000")).unwrap();
    assert_eq!(config.mirror, Some(std::time::Duration::from_secs(2)));
    // A Redis setting with a problem of its own is named alone.
    let both = with(server, "REDIS_CLUSTER_URLS", "redis://10.0.0.1:6379");
    let found = problems(&with(both, name, "2000"));
    names_only(&found, &["REDIS_CLUSTER_URLS"]);
}

#[test]
fn the_key_set_cache_time_is_at_most_a_day() {
    let day = with(good(), "VAULTTOKEN_KEYS_MAX_AGE_SECS", "86400");
    assert_eq!(Config::from_vars(&day).unwrap().keys_max_age, 86_400);
    let longer = with(good(), "VAULTTOKEN_KEYS_MAX_AGE_SECS", "86401");
    let found = problems(&longer);
    names_only(&found, &["VAULTTOKEN_KEYS_MAX_AGE_SECS"]);
    assert!(
        found[0].ends_with("must be from 0 to 86400 seconds"),
        "{found:?}"
    );
}

#[test]
fn client_audiences_are_read_per_client_default_first() {
    let config = Config::from_vars(&good()).unwrap();
    assert!(config.clients.audiences("web").is_empty());
    let vars = with(
        good(),
        "VAULTTOKEN_CLIENT_AUDIENCES",
        " web = https://api.example  https://files.example ,mobile.app=api",
    );
    let config = Config::from_vars(&vars).unwrap();
    assert_eq!(
        config.clients.audiences("web"),
        ["https://api.example", "https://files.example"]
    );
    assert_eq!(config.clients.audiences("mobile.app"), ["api"]);
    assert!(config.clients.audiences("ghost").is_empty());
    let eight = (0..8)
        .map(|i| format!("a{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let config = Config::from_vars(&with(
        good(),
        "VAULTTOKEN_CLIENT_AUDIENCES",
        &format!("web={eight}"),
    ))
    .unwrap();
    assert_eq!(config.clients.audiences("web").len(), 8);
}

#[test]
fn each_bad_audience_entry_is_named_by_position() {
    let long = "a".repeat(257);
    let cases: [(String, &str); 8] = [
        ("web".to_owned(), "entry 1 is not id=audience audience…"),
        (
            "ghost=api".to_owned(),
            "entry 1: not a client of VAULTTOKEN_CLIENTS",
        ),
        (
            "web=api,web=files".to_owned(),
            "entry 2: the client is listed twice",
        ),
        ("web=  ".to_owned(), "entry 1: no audience"),
        (
            "web=a b c d e f g h i".to_owned(),
            "entry 1: more than 8 audiences",
        ),
        (
            format!("web={long}"),
            "entry 1: an audience is 1 to 256 bytes, no whitespace, control character or comma",
        ),
        (
            "web=api\u{7f}".to_owned(),
            "entry 1: an audience is 1 to 256 bytes, no whitespace, control character or comma",
        ),
        (
            "web=api files api".to_owned(),
            "entry 1: an audience is listed twice",
        ),
    ];
    for (value, problem) in cases {
        let found = problems(&with(good(), "VAULTTOKEN_CLIENT_AUDIENCES", &value));
        names_only(&found, &["VAULTTOKEN_CLIENT_AUDIENCES"]);
        assert!(found[0].ends_with(problem), "{value}: {found:?}");
    }
    // With the clients themselves in error, only they are named.
    let vars = with(good(), "VAULTTOKEN_CLIENTS", "web:short");
    let found = problems(&with(vars, "VAULTTOKEN_CLIENT_AUDIENCES", "web=api"));
    names_only(&found, &["VAULTTOKEN_CLIENTS"]);
}

#[test]
fn scheduled_rotation_is_off_by_default_and_must_outlast_announcement_and_tokens() {
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.rotate_every, None);
    // 300 + 5 + 1 s.
    assert_eq!(config.announcement(), Duration::seconds(306));
    let empty = Config::from_vars(&with(good(), "VAULTTOKEN_ROTATE_EVERY", "")).unwrap();
    assert_eq!(empty.rotate_every, None);

    // Accelerated: 1 + 1 + 1 s of announcement, 2 s tokens: more than 5 s.
    let fast = [
        ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "1"),
        ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
        ("VAULTTOKEN_ACCESS_TTL_SECS", "2"),
    ];
    let mut vars = good();
    for (name, value) in fast {
        vars = with(vars, name, value);
    }
    let six = Config::from_vars(&with(vars.clone(), "VAULTTOKEN_ROTATE_EVERY", "6")).unwrap();
    assert_eq!(six.rotate_every, Some(Duration::seconds(6)));
    assert_eq!(six.announcement(), Duration::seconds(3));
    let five = problems(&with(vars.clone(), "VAULTTOKEN_ROTATE_EVERY", "5"));
    names_only(&five, &["VAULTTOKEN_ROTATE_EVERY"]);
    assert_eq!(
        five[0],
        "VAULTTOKEN_ROTATE_EVERY: must be more than the announcement period (3 s: \
         VAULTTOKEN_KEYS_MAX_AGE_SECS + VAULTTOKEN_KEYS_POLL_SECS + 1 s) plus \
         VAULTTOKEN_ACCESS_TTL_SECS (2 s), that is more than 5 s"
    );
    // At most ten years (of 366 days).
    let most = Config::from_vars(&with(vars.clone(), "VAULTTOKEN_ROTATE_EVERY", "316224000"));
    assert_eq!(most.unwrap().rotate_every, Some(Duration::days(3660)));
    for bad in ["0", "-6", "6s", "316224001"] {
        let found = problems(&with(vars.clone(), "VAULTTOKEN_ROTATE_EVERY", bad));
        names_only(&found, &["VAULTTOKEN_ROTATE_EVERY"]);
    }
    // With another setting wrong, the bound is not judged on a guess.
    let other = problems(&with(
        with(vars, "VAULTTOKEN_ROTATE_EVERY", "5"),
        "VAULTTOKEN_KEYS_POLL_SECS",
        "0",
    ));
    names_only(&other, &["VAULTTOKEN_KEYS_POLL_SECS"]);
}

#[test]
fn client_scopes_and_default_sets_are_read_in_order() {
    let config = Config::from_vars(&good()).unwrap();
    assert!(config.clients.scopes("web").is_empty());
    assert!(config.clients.default_scopes("web").is_empty());
    let vars = with(
        good(),
        "VAULTTOKEN_CLIENT_SCOPES",
        " web = read  write admin ,mobile.app=api:read",
    );
    let vars = with(vars, "VAULTTOKEN_CLIENT_DEFAULT_SCOPES", "web=admin read");
    let config = Config::from_vars(&vars).unwrap();
    assert_eq!(config.clients.scopes("web"), ["read", "write", "admin"]);
    // The default set in the client's order.
    assert_eq!(config.clients.default_scopes("web"), ["read", "admin"]);
    assert_eq!(config.clients.scopes("mobile.app"), ["api:read"]);
    assert_eq!(config.clients.default_scopes("mobile.app"), ["api:read"]);
    assert_eq!(
        config.clients.all_scopes(),
        ["admin", "api:read", "read", "write"]
    );
    // An empty default set: the client must ask.
    let vars = with(good(), "VAULTTOKEN_CLIENT_SCOPES", "web=read");
    let config =
        Config::from_vars(&with(vars, "VAULTTOKEN_CLIENT_DEFAULT_SCOPES", "web=")).unwrap();
    assert!(config.clients.default_scopes("web").is_empty());
    let many = (0..32)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let config = Config::from_vars(&with(
        good(),
        "VAULTTOKEN_CLIENT_SCOPES",
        &format!("web={many}"),
    ))
    .unwrap();
    assert_eq!(config.clients.scopes("web").len(), 32);
}

#[test]
fn each_bad_scope_entry_is_named_by_variable_and_position() {
    let long = "s".repeat(65);
    let many = (0..33)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let cases: [(String, &str); 8] = [
        ("web".to_owned(), "entry 1 is not id=scope scope…"),
        (
            "ghost=read".to_owned(),
            "entry 1: not a client of VAULTTOKEN_CLIENTS",
        ),
        (
            "web=read,web=write".to_owned(),
            "entry 2: the client is listed twice",
        ),
        ("web= ".to_owned(), "entry 1: no scope"),
        (format!("web={many}"), "entry 1: more than 32 scopes"),
        (format!("web={long}"), "without \", \\, comma or ="),
        ("web=a\"b".to_owned(), "without \", \\, comma or ="),
        (
            "web=read read".to_owned(),
            "entry 1: a scope is listed twice",
        ),
    ];
    for (value, problem) in cases {
        let found = problems(&with(good(), "VAULTTOKEN_CLIENT_SCOPES", &value));
        names_only(&found, &["VAULTTOKEN_CLIENT_SCOPES"]);
        assert!(found[0].ends_with(problem), "{value}: {found:?}");
    }
    let scoped = || with(good(), "VAULTTOKEN_CLIENT_SCOPES", "web=read write");
    let defaults = [
        (
            "web=admin",
            "entry 1: a default scope is not one of the client's (VAULTTOKEN_CLIENT_SCOPES)",
        ),
        (
            "mobile.app=read",
            "entry 1: the client has no scopes in VAULTTOKEN_CLIENT_SCOPES",
        ),
        ("ghost=read", "entry 1: not a client of VAULTTOKEN_CLIENTS"),
        ("web=read,web=write", "entry 2: the client is listed twice"),
        ("web read", "entry 1 is not id=scope scope…"),
    ];
    for (value, problem) in defaults {
        let found = problems(&with(scoped(), "VAULTTOKEN_CLIENT_DEFAULT_SCOPES", value));
        names_only(&found, &["VAULTTOKEN_CLIENT_DEFAULT_SCOPES"]);
        assert!(found[0].ends_with(problem), "{value}: {found:?}");
    }
    // With the clients themselves in error, only they are named.
    let vars = with(good(), "VAULTTOKEN_CLIENTS", "web:short");
    let found = problems(&with(vars, "VAULTTOKEN_CLIENT_SCOPES", "web=read"));
    names_only(&found, &["VAULTTOKEN_CLIENTS"]);
}

#[test]
fn log_writes_are_batched_by_default_or_line_and_a_bad_value_is_named_not_echoed() {
    let name = "VAULTTOKEN_LOG_WRITES";
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.log_writes, LogWrites::Batched);
    let config = Config::from_vars(&with(good(), name, "line")).unwrap();
    assert_eq!(config.log_writes, LogWrites::Line);
    let config = Config::from_vars(&with(good(), name, "batched")).unwrap();
    assert_eq!(config.log_writes, LogWrites::Batched);
    for bad in ["lines", "LINE", "unbuffered-secret-ish"] {
        let found = problems(&with(good(), name, bad));
        names_only(&found, &[name]);
        assert_eq!(found[0], "VAULTTOKEN_LOG_WRITES: must be batched or line");
    }
    let found = problems(&with(good(), name, ""));
    assert_eq!(found, ["VAULTTOKEN_LOG_WRITES: required"]);
}

#[test]
fn the_drain_is_ten_seconds_by_default_and_bounded() {
    let name = "VAULTTOKEN_DRAIN_SECS";
    let config = Config::from_vars(&good()).unwrap();
    assert_eq!(config.drain, std::time::Duration::from_secs(10));
    for (set, seconds) in [("1", 1), ("300", 300), ("42", 42)] {
        let config = Config::from_vars(&with(good(), name, set)).unwrap();
        assert_eq!(config.drain, std::time::Duration::from_secs(seconds));
    }
    for bad in ["0", "301", "-5"] {
        let found = problems(&with(good(), name, bad));
        assert_eq!(
            found,
            ["VAULTTOKEN_DRAIN_SECS: must be from 1 to 300 seconds"]
        );
    }
    let found = problems(&with(good(), name, "soon"));
    names_only(&found, &[name]);
}
