//! The command line, declared with clap's derive API. Every subcommand's
//! `--help` ends with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::exit_statuses;
use crate::keys_io::KeyType;

/// The variable `--redis` defaults to: the one the server reads its Redis
/// URL from.
pub(crate) const REDIS_URL: &str = "REDIS_URL";

/// PASETO v4 tokens, PASERK keys, key rings and revocation, for operators.
#[derive(Debug, Parser)]
#[command(name = "vaulttoken", version, arg_required_else_help = true)]
#[command(after_long_help = concat!(
    "Examples:\n",
    "  vaulttoken keygen local --out session.key\n",
    "  vaulttoken encrypt --key-file session.key --sub alice --aud api > token\n",
    "  vaulttoken decrypt --key-file session.key --aud api < token\n",
    "  vaulttoken inspect \"$TOKEN\"\n\n",
    exit_statuses!()
))]
pub(crate) struct Cli {
    /// Print results as JSON, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate a new key (with its PASERK id) into a 0600 file.
    #[command(
        after_help = "Examples:\n  vaulttoken keygen local --out session.key\n  vaulttoken keygen public --out signing.key   # also writes signing.key.pub and signing.key.pid\n  vaulttoken keygen local --format hex --out -  # print the secret key (explicitly)"
    )]
    Keygen(KeygenArgs),
    /// Issue a v4.local token (encrypted) from claims.
    #[command(
        after_help = "Example:\n  echo '{\"role\":\"admin\"}' | vaulttoken encrypt --key-file session.key --claims - --sub alice --aud api --exp 15m"
    )]
    Encrypt(IssueArgs),
    /// Issue a v4.public token (signed) from claims.
    #[command(
        after_help = "Example:\n  vaulttoken sign --key-env SIGNING_KEY --iss auth.example --sub alice --aud api --claim role=admin --exp 24h"
    )]
    Sign(IssueArgs),
    /// Decrypt and check a v4.local token; print its claims.
    #[command(after_help = concat!("Examples:\n  vaulttoken decrypt --key-file session.key --aud api \"$TOKEN\"\n  vaulttoken decrypt --ring-file ring.json --kek-env RING_KEK --any-audience < token\n\n", exit_statuses!()))]
    Decrypt(DecodeArgs),
    /// Verify a v4.public token; print its claims.
    #[command(after_help = concat!("Examples:\n  vaulttoken verify --key-file signing.key.pub --iss auth.example --aud api \"$TOKEN\"\n  vaulttoken verify --key-file signing.key.pub --aud api --redis redis://127.0.0.1:6379 \"$TOKEN\"\n\n", exit_statuses!()))]
    Verify(DecodeArgs),
    /// Show a token's header, footer and kid (UNTRUSTED) without a key.
    #[command(
        after_help = concat!("Example:\n  vaulttoken inspect \"$TOKEN\"\n  vaulttoken inspect --key-file signing.key.pub < token   # verifies as well", "\n\n", exit_statuses!())
    )]
    Inspect(InspectArgs),
    /// Convert, identify, wrap, password-wrap and seal keys (PASERK).
    #[command(subcommand)]
    #[command(after_help = "Example:\n  vaulttoken paserk id --key-file session.key")]
    Paserk(PaserkCommand),
    /// Manage a key-ring file: init, add, promote, retire, list.
    #[command(subcommand)]
    #[command(
        after_help = "Example:\n  vaulttoken ring list --ring-file ring.json --kek-env RING_KEK"
    )]
    Ring(RingCommand),
    /// Revoke one token id (or the token in a file) in the Redis store.
    #[command(
        after_help = concat!("Examples:\n  vaulttoken revoke 3f9c… --sub alice --until 2030-01-01T00:00:00Z --redis redis://127.0.0.1:6379\n  vaulttoken revoke --token stolen.txt --key-file signing.key.pub   # jti, sub, exp read after verifying", "\n\n", exit_statuses!())
    )]
    Revoke(RevokeArgs),
    /// Revoke a refresh-token family in the Redis store.
    #[command(
        after_help = concat!("Example:\n  REDIS_URL=redis://127.0.0.1:6379 vaulttoken revoke-family fam-42 --sub alice", "\n\n", exit_statuses!())
    )]
    RevokeFamily(RevokeFamilyArgs),
    /// Revoke every token of a subject issued before a time ("log out everywhere").
    #[command(
        after_help = concat!("Example:\n  vaulttoken revoke-subject alice --before now --redis redis://127.0.0.1:6379", "\n\n", exit_statuses!())
    )]
    RevokeSubject(RevokeSubjectArgs),
    /// Run the official PASETO v4 and PASERK k4 test vectors built into this binary.
    #[command(after_help = "Example:\n  vaulttoken selftest && echo build ok")]
    Selftest,
}

/// The key purposes `keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Purpose {
    /// A symmetric key for v4.local.
    Local,
    /// An Ed25519 key pair for v4.public.
    Public,
}

/// How a key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormat {
    /// PASERK (`k4.local.`, `k4.secret.`, `k4.public.`).
    Paserk,
    /// Raw bytes as lower-case hex.
    Hex,
    /// Raw bytes as unpadded base64url.
    Base64url,
    /// PEM (Ed25519 keys only: PKCS#8 / SPKI).
    Pem,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Which key to make.
    pub(crate) purpose: Purpose,
    /// File for the secret key (created with mode 0600), or `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// How to write the key.
    #[arg(long, value_enum, default_value_t = KeyFormat::Paserk)]
    pub(crate) format: KeyFormat,
    /// Overwrite existing files (replaced atomically).
    #[arg(long)]
    pub(crate) force: bool,
}

/// A key from a file or an environment variable: never from an argument value.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct KeyArgs {
    /// File holding the key (PASERK, PEM, hex or base64url).
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Environment variable holding the key.
    #[arg(long, value_name = "NAME")]
    pub(crate) key_env: Option<String>,
}

/// A key-encryption key (a local key) from a file or an environment variable.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct KekArgs {
    /// File holding the key-encryption key (a local key).
    #[arg(long, value_name = "FILE")]
    pub(crate) kek_file: Option<PathBuf>,
    /// Environment variable holding the key-encryption key.
    #[arg(long, value_name = "NAME")]
    pub(crate) kek_env: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Claims as a JSON object, from a file or `-` for stdin. Without it, data on stdin
    /// (or a pipe still open after 1s) is refused, not ignored.
    #[arg(long, value_name = "FILE")]
    pub(crate) claims: Option<PathBuf>,
    /// Issuer (`iss`).
    #[arg(long)]
    pub(crate) iss: Option<String>,
    /// Subject (`sub`).
    #[arg(long)]
    pub(crate) sub: Option<String>,
    /// Audience (`aud`).
    #[arg(long)]
    pub(crate) aud: Option<String>,
    /// Token id (`jti`).
    #[arg(long)]
    pub(crate) jti: Option<String>,
    /// A claim NAME=VALUE; VALUE is read as JSON if it is JSON, else as a string. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub(crate) claim: Vec<String>,
    /// Expiry: a duration from now (90s, 15m, 24h, 7d) or an RFC 3339 time. Default 1h.
    #[arg(long, value_name = "WHEN", conflicts_with = "no_exp")]
    pub(crate) exp: Option<String>,
    /// Issue a token that never expires (verifiers need --allow-no-exp).
    #[arg(long)]
    pub(crate) no_exp: bool,
    /// Footer: JSON claims or text (sent in clear, authenticated).
    #[arg(long)]
    pub(crate) footer: Option<String>,
    /// Key id written as the footer's `kid`. Default: the key's PASERK id.
    #[arg(long)]
    pub(crate) kid: Option<String>,
    /// Implicit assertion (authenticated, never sent).
    #[arg(long)]
    pub(crate) implicit: Option<String>,
}

/// Where a decoding key comes from: a key file, a ring file, or the environment.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct DecodeKeyArgs {
    /// File holding the key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Environment variable holding the key.
    #[arg(long, value_name = "NAME")]
    pub(crate) key_env: Option<String>,
    /// Key-ring file (the library's ring document); wrapped rings need --kek-file or --kek-env.
    #[arg(long, value_name = "FILE")]
    pub(crate) ring_file: Option<PathBuf>,
}

/// The audience rule: an audience, or explicitly any.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct AudienceArgs {
    /// Accept only tokens for this audience (`aud`).
    #[arg(long)]
    pub(crate) aud: Option<String>,
    /// Accept tokens for any audience.
    #[arg(long)]
    pub(crate) any_audience: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// The token; read from stdin when absent or `-`.
    pub(crate) token: Option<String>,
    #[command(flatten)]
    pub(crate) key: DecodeKeyArgs,
    #[command(flatten)]
    pub(crate) kek: KekArgs,
    #[command(flatten)]
    pub(crate) audience: AudienceArgs,
    /// Accept only this issuer (`iss`).
    #[arg(long)]
    pub(crate) iss: Option<String>,
    /// Accept only this subject (`sub`).
    #[arg(long)]
    pub(crate) sub: Option<String>,
    /// Leeway for exp, nbf and iat (e.g. 30s). Default none.
    #[arg(long, value_name = "DURATION")]
    pub(crate) leeway: Option<String>,
    /// Refuse tokens issued longer ago than this (e.g. 15m).
    #[arg(long, value_name = "DURATION")]
    pub(crate) max_age: Option<String>,
    /// The footer the token must have, exactly.
    #[arg(long)]
    pub(crate) expected_footer: Option<String>,
    /// Implicit assertion the token was issued with.
    #[arg(long)]
    pub(crate) implicit: Option<String>,
    /// Accept tokens without `exp`.
    #[arg(long)]
    pub(crate) allow_no_exp: bool,
    /// Also ask this Redis token store whether the token was revoked. Default: REDIS_URL,
    /// as the server reads it (unset or empty: no store).
    #[arg(long, env = REDIS_URL, value_name = "URL", hide_env_values = true)]
    pub(crate) redis: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The token; read from stdin when absent or `-`.
    pub(crate) token: Option<String>,
    /// Verify too, with this key (accepting any audience).
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
}

/// A key given to a `paserk` command, and how to read raw bytes.
#[derive(Debug, Args)]
pub(crate) struct TypedKeyArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// What 32 raw hex/base64url bytes are (PASERK and PEM say it themselves).
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub(crate) key_type: Option<KeyType>,
}

/// Where a key that may be secret is written.
#[derive(Debug, Args)]
pub(crate) struct KeyOutArgs {
    /// File for the key (created 0600), or `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = KeyFormat::Paserk)]
    pub(crate) format: KeyFormat,
    /// Overwrite an existing file (replaced atomically).
    #[arg(long)]
    pub(crate) force: bool,
}

/// The Argon2id cost of password wrapping.
#[derive(Debug, Args)]
pub(crate) struct CostArgs {
    /// Argon2id memory, in MiB.
    #[arg(long, default_value_t = 256)]
    pub(crate) memory_mib: u64,
    /// Argon2id passes.
    #[arg(long, default_value_t = 3)]
    pub(crate) iterations: u32,
    /// Argon2id lanes.
    #[arg(long, default_value_t = 1)]
    pub(crate) parallelism: u32,
    /// Argon2id memory in KiB instead of MiB (for tests and small machines).
    #[arg(long, hide = true, conflicts_with = "memory_mib")]
    pub(crate) memory_kib: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PaserkCommand {
    /// Convert a key between PASERK, hex, base64url and PEM; print its id.
    #[command(
        after_help = "Examples:\n  vaulttoken paserk convert --key-file signing.pem --format paserk --out signing.key\n  vaulttoken paserk convert --key-file raw.hex --type local --format paserk --out -"
    )]
    Convert {
        #[command(flatten)]
        key: TypedKeyArgs,
        #[command(flatten)]
        out: KeyOutArgs,
    },
    /// Print a key's PASERK id (k4.lid / k4.sid / k4.pid).
    #[command(after_help = "Example:\n  vaulttoken paserk id --key-file session.key")]
    Id {
        #[command(flatten)]
        key: TypedKeyArgs,
    },
    /// Wrap a local or secret key with a local key (k4.local-wrap.pie / k4.secret-wrap.pie).
    #[command(
        after_help = "Example:\n  vaulttoken paserk wrap --key-file session.key --kek-file kek.key > session.wrapped"
    )]
    Wrap {
        #[command(flatten)]
        key: TypedKeyArgs,
        #[command(flatten)]
        kek: KekArgs,
    },
    /// Unwrap a k4.*-wrap.pie key.
    #[command(
        after_help = "Example:\n  vaulttoken paserk unwrap --key-file session.wrapped --kek-file kek.key --out session.key"
    )]
    Unwrap {
        /// The wrapped key, from a file or `-` for stdin.
        #[arg(long = "key-file", alias = "in", value_name = "FILE")]
        input: PathBuf,
        #[command(flatten)]
        kek: KekArgs,
        #[command(flatten)]
        out: KeyOutArgs,
    },
    /// Wrap a key with a password (k4.local-pw / k4.secret-pw, Argon2id).
    #[command(
        after_help = "Example:\n  vaulttoken paserk pw-wrap --key-file session.key > session.pw   # prompts for the password"
    )]
    PwWrap {
        #[command(flatten)]
        key: TypedKeyArgs,
        /// Read the password from this file (first line) instead of a prompt.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        cost: CostArgs,
    },
    /// Unwrap a password-wrapped key; costs above the library's limits are refused.
    #[command(
        after_help = "Example:\n  vaulttoken paserk pw-unwrap --key-file session.pw --out session.key"
    )]
    PwUnwrap {
        /// The wrapped key, from a file or `-` for stdin.
        #[arg(long = "key-file", alias = "in", value_name = "FILE")]
        input: PathBuf,
        /// Read the password from this file (first line) instead of a prompt.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        out: KeyOutArgs,
    },
    /// Seal a local key to an Ed25519 public key (k4.seal).
    #[command(
        after_help = "Example:\n  vaulttoken paserk seal --key-file session.key --recipient-file ops.key.pub > session.sealed"
    )]
    Seal {
        #[command(flatten)]
        key: TypedKeyArgs,
        #[command(flatten)]
        recipient: RecipientArgs,
    },
    /// Unseal a k4.seal key with the recipient's secret key.
    #[command(
        after_help = "Example:\n  vaulttoken paserk unseal --key-file session.sealed --recipient-file ops.key --out session.key"
    )]
    Unseal {
        /// The sealed key, from a file or `-` for stdin.
        #[arg(long = "key-file", value_name = "FILE")]
        input: PathBuf,
        #[command(flatten)]
        recipient: RecipientArgs,
        /// The old spelling of --key-file here, when --key-file named the
        /// recipient's key: refused with the new spellings, never guessed.
        #[arg(long = "in", value_name = "FILE", hide = true)]
        old_input: Option<PathBuf>,
        #[command(flatten)]
        out: KeyOutArgs,
    },
}

/// The recipient of a sealed key: its public key to seal to (a secret key
/// does too), its secret key to unseal with.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct RecipientArgs {
    /// File holding the recipient's key (public to seal, secret to unseal).
    #[arg(long, value_name = "FILE")]
    pub(crate) recipient_file: Option<PathBuf>,
    /// Environment variable holding the recipient's key.
    #[arg(long, value_name = "NAME")]
    pub(crate) recipient_env: Option<String>,
}

/// Which ring a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RingKind {
    /// `v4.local` keys (`k4.local`).
    Local,
    /// Ed25519 signing keys for `v4.public` (`k4.secret`).
    Public,
}

/// The ring file and its key-encryption key.
#[derive(Debug, Args)]
pub(crate) struct RingFileArgs {
    /// The key-ring file.
    #[arg(long = "ring-file", alias = "ring", value_name = "FILE")]
    pub(crate) ring: PathBuf,
    #[command(flatten)]
    pub(crate) kek: KekArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RingCommand {
    /// Create an empty ring file (mode 0600).
    #[command(
        after_help = "Example:\n  vaulttoken ring init --ring-file ring.json --kind local --max-token-lifetime 1h --kek-env RING_KEK"
    )]
    Init {
        #[command(flatten)]
        file: RingFileArgs,
        /// Which keys the ring holds.
        #[arg(long, value_enum)]
        kind: RingKind,
        /// Longest token lifetime: a key may be retired this long after it stopped issuing.
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        max_token_lifetime: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Add a key (a new one, or one from --key-file/--key-env) as `next`.
    #[command(
        after_help = "Example:\n  vaulttoken ring add --ring-file ring.json --kek-env RING_KEK --promote"
    )]
    Add {
        #[command(flatten)]
        file: RingFileArgs,
        /// Add this key instead of generating one.
        #[arg(long, value_name = "FILE", conflicts_with = "key_env")]
        key_file: Option<PathBuf>,
        /// Add the key in this environment variable instead of generating one.
        #[arg(long, value_name = "NAME")]
        key_env: Option<String>,
        /// Make it the active key at once.
        #[arg(long)]
        promote: bool,
    },
    /// Make a key the active (issuing) one; the old active key becomes `previous`.
    #[command(
        after_help = "Example:\n  vaulttoken ring promote k4.lid.… --ring-file ring.json --kek-env RING_KEK"
    )]
    Promote {
        /// The key's id.
        kid: String,
        #[command(flatten)]
        file: RingFileArgs,
    },
    /// Remove a key once its tokens have expired (or at once with --now).
    #[command(
        after_help = "Example:\n  vaulttoken ring retire k4.lid.… --ring-file ring.json --kek-env RING_KEK\n  vaulttoken ring retire k4.lid.… --now --ring-file ring.json --kek-env RING_KEK   # compromised key"
    )]
    Retire {
        /// The key's id.
        kid: String,
        #[command(flatten)]
        file: RingFileArgs,
        /// Remove it now (a compromised key): its tokens stop verifying. Not the active key:
        /// promote another first.
        #[arg(long)]
        now: bool,
    },
    /// List the ring's keys and their status.
    #[command(
        after_help = "Example:\n  vaulttoken ring list --ring-file ring.json --kek-env RING_KEK --json"
    )]
    List {
        #[command(flatten)]
        file: RingFileArgs,
    },
}

/// The Redis store to act on.
#[derive(Debug, Args)]
pub(crate) struct RedisArgs {
    /// Redis URL (redis://host:port).
    #[arg(long, env = REDIS_URL, value_name = "URL", hide_env_values = true)]
    pub(crate) redis: String,
}

/// The subject a revocation is scoped by: the token's `sub`, or none.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct ScopeArgs {
    /// The token's subject (`sub`): revocations are stored under it.
    #[arg(long)]
    pub(crate) sub: Option<String>,
    /// The token has no `sub`.
    #[arg(long)]
    pub(crate) no_sub: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The token id (`jti`) to revoke.
    #[arg(required_unless_present = "token", conflicts_with = "token")]
    pub(crate) jti: Option<String>,
    /// Remember the revocation until then: the token's exp plus the verifiers' leeway (RFC 3339 or a duration from now).
    #[arg(
        long,
        value_name = "WHEN",
        required_unless_present = "token",
        conflicts_with = "token"
    )]
    pub(crate) until: Option<String>,
    #[command(flatten)]
    pub(crate) scope: ScopeArgs,
    /// Revoke this token (file or `-`): its jti, sub and exp are read after verifying it.
    #[arg(long, value_name = "FILE")]
    pub(crate) token: Option<PathBuf>,
    /// Key for --token (file).
    #[arg(long, value_name = "FILE", requires = "token")]
    pub(crate) key_file: Option<PathBuf>,
    /// Key for --token (environment variable).
    #[arg(long, value_name = "NAME", requires = "token")]
    pub(crate) key_env: Option<String>,
    /// Key ring for --token.
    #[arg(long, value_name = "FILE", requires = "token")]
    pub(crate) ring_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) kek: KekArgs,
    /// With --token: added to its exp (set it to your verifiers' leeway or more).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub(crate) leeway: String,
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeFamilyArgs {
    /// The refresh family's id (the tokens' `fam` claim).
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) scope: ScopeArgs,
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeSubjectArgs {
    /// The subject (`sub`).
    pub(crate) sub: String,
    /// Revoke the tokens issued before this time (RFC 3339 or `now`).
    #[arg(long, value_name = "WHEN")]
    pub(crate) before: String,
    /// Remember the cutoff until then (RFC 3339 or a duration from now). Default: for ever.
    #[arg(long, value_name = "WHEN")]
    pub(crate) until: Option<String>,
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::exit_statuses;

    const EXIT_STATUSES: &str = exit_statuses!();
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_helps_of_commands_that_judge_tokens_list_every_exit_status() {
        let command = Cli::command();
        let top = command
            .get_after_long_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(top.contains(EXIT_STATUSES), "{top}");
        for name in [
            "decrypt",
            "verify",
            "inspect",
            "revoke",
            "revoke-family",
            "revoke-subject",
        ] {
            let sub = command.find_subcommand(name).unwrap();
            let help = sub
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(help.contains(EXIT_STATUSES), "{name}: {help}");
        }
    }

    #[test]
    fn every_subcommand_has_an_example() {
        fn check(command: &clap::Command, path: &str) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                assert!(help.contains("Example"), "{path} has no example");
                check(sub, &path);
            }
        }
        check(&Cli::command(), "vaulttoken");
    }
}
