//! The command line itself: help with examples (exit 0), version (exit 0),
//! and clap's errors as usage errors (exit 64, not clap's 2).

use crate::support::{run, stderr, stdout, vaulttoken};

/// Every subcommand path, from the binary's own help.
fn subcommands() -> Vec<Vec<String>> {
    let top = stdout(&run(vaulttoken().arg("--help"), 0));
    let mut paths = Vec::new();
    for name in names(&top) {
        let help = stdout(&run(vaulttoken().args([name.as_str(), "--help"]), 0));
        let nested = names(&help);
        if nested.is_empty() {
            paths.push(vec![name]);
        } else {
            paths.extend(nested.into_iter().map(|sub| vec![name.clone(), sub]));
        }
    }
    paths
}

/// The command names a help text lists under `Commands:`.
fn names(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_help_has_an_example_and_exits_0() {
    let paths = subcommands();
    assert!(paths.len() >= 20, "{paths:?}");
    for path in paths {
        let output = run(vaulttoken().args(&path).arg("--help"), 0);
        assert!(stdout(&output).contains("Example"), "{path:?}");
    }
}

#[test]
fn decrypt_and_verify_help_document_the_exit_statuses() {
    for command in ["decrypt", "verify"] {
        let help = stdout(&run(vaulttoken().args([command, "--help"]), 0));
        for status in [
            "  0 ", "  1 ", "  2 ", "  3 ", "  4 ", "  5 ", "  64 ", "  66 ", "  74 ",
        ] {
            assert!(help.contains(status), "{command}: {status}");
        }
    }
}

#[test]
fn version_exits_0() {
    let output = run(vaulttoken().arg("--version"), 0);
    assert!(stdout(&output).starts_with("vaulttoken "));
}

#[test]
fn command_line_errors_exit_64() {
    for args in [
        &[][..],
        &["no-such-command"],
        &["keygen", "symmetric", "--out", "x"],
        &["decrypt", "--key-file", "k"],
        &["encrypt", "--key", "k4.local.AAAA"],
        &["verify", "--aud", "a", "--any-audience", "--key-file", "k"],
        &["paserk"],
        &["revoke", "jti"],
    ] {
        let output = run(vaulttoken().args(args), 64);
        assert!(!stderr(&output).is_empty(), "{args:?}");
    }
}

#[test]
fn a_key_or_password_is_never_taken_from_an_argument_value() {
    // Keys come from --key-file / --key-env, passwords from a prompt or
    // --password-file: no flag of any subcommand takes the value itself.
    for path in subcommands() {
        let help = stdout(&run(vaulttoken().args(&path).arg("--help"), 0));
        let flags: Vec<&str> = help
            .split_whitespace()
            .filter(|word| word.starts_with("--"))
            .map(|word| word.trim_end_matches([',', '.', ')']))
            .collect();
        for forbidden in ["--key", "--secret", "--password", "--kek"] {
            assert!(!flags.contains(&forbidden), "{path:?} takes {forbidden}");
        }
    }
}

#[test]
fn one_flag_name_per_concept() {
    // A key file (plain, wrapped or sealed) is --key-file, a ring file
    // --ring-file, in every subcommand; the old spellings --in and --ring
    // are hidden aliases, never shown.
    let mut ring_file = Vec::new();
    for path in subcommands() {
        let help = stdout(&run(vaulttoken().args(&path).arg("--help"), 0));
        let flags: Vec<&str> = help
            .split_whitespace()
            .filter(|word| word.starts_with("--"))
            .map(|word| word.trim_end_matches([',', '.', ')', '`']))
            .collect();
        for old in ["--in", "--ring"] {
            assert!(!flags.contains(&old), "{path:?} shows {old}");
        }
        if flags.contains(&"--ring-file") {
            ring_file.push(path.join(" "));
        }
        if path[0] == "paserk" && path[1].contains("un") {
            assert!(flags.contains(&"--key-file"), "{path:?}");
        }
    }
    for command in [
        "decrypt",
        "verify",
        "revoke",
        "ring init",
        "ring add",
        "ring promote",
        "ring retire",
        "ring list",
    ] {
        assert!(
            ring_file.iter().any(|path| path == command),
            "{command}: {ring_file:?}"
        );
    }
}

#[test]
fn the_install_lines_use_the_lock_file() {
    // Without --locked, `cargo install` resolves the newest dependencies,
    // not the ones the workspace was tested with.
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut lines = 0;
    for readme in [
        crate_dir.join("README.md"),
        crate_dir.join("../../README.md"),
    ] {
        let text = std::fs::read_to_string(&readme).unwrap();
        // A line may wrap inside a Markdown paragraph: read it joined.
        let text = text.replace('\n', " ");
        for (at, _) in text.match_indices("cargo install ") {
            let line: String = text[at..].chars().take(80).collect();
            if line.contains("vaulttoken-cli") {
                assert!(line.contains("--locked"), "{}: {line}", readme.display());
                lines += 1;
            }
        }
    }
    assert!(lines >= 2, "no install line found");
}
