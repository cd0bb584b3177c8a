//! Read-only scripts for a read-only store
//! ([`StoreOptions::read_only`](crate::StoreOptions::read_only())): run
//! with `EVALSHA_RO`, and with `EVAL_RO` (which also caches the script) when
//! the server does not have the script yet. Redis runs such a script with
//! its writes refused, and a Redis ACL user may be allowed these two
//! commands and no write. `redis`'s `Script` only sends `EVALSHA` and
//! `EVAL`, so the commands are built here; the hash is `Script`'s.

use redis::{Cmd, ErrorKind, RedisResult, Script, ServerErrorKind, Value, cmd};

use crate::connection::Connection;

/// A script's source and its SHA-1 (as `redis::Script` computes it).
pub(crate) struct ReadOnlyScript {
    code: String,
    hash: String,
}

impl ReadOnlyScript {
    /// The script of `code`.
    pub(crate) fn new(code: String) -> Self {
        let hash = Script::new(&code).get_hash().to_owned();
        Self { code, hash }
    }

    /// An invocation of this script.
    pub(crate) fn call(&self) -> ReadOnlyCall<'_> {
        ReadOnlyCall {
            script: self,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// The keys and arguments of one run of a [`ReadOnlyScript`].
pub(crate) struct ReadOnlyCall<'a> {
    script: &'a ReadOnlyScript,
    keys: Vec<String>,
    args: Vec<String>,
}

impl ReadOnlyCall<'_> {
    /// Adds a key (`KEYS[i]`).
    pub(crate) fn key(&mut self, key: impl Into<String>) -> &mut Self {
        self.keys.push(key.into());
        self
    }

    /// Adds an argument (`ARGV[i]`).
    pub(crate) fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// `command` (`EVALSHA_RO <hash>` or `EVAL_RO <source>`) with the keys
    /// and arguments.
    fn command(&self, command: &str, script: &str) -> Cmd {
        let mut built = cmd(command);
        built
            .arg(script)
            .arg(self.keys.len())
            .arg(&self.keys)
            .arg(&self.args);
        built
    }

    /// `EVALSHA_RO <hash> …`.
    fn by_hash(&self) -> Cmd {
        self.command("EVALSHA_RO", &self.script.hash)
    }

    /// `EVAL_RO <source> …`.
    fn by_source(&self) -> Cmd {
        self.command("EVAL_RO", &self.script.code)
    }

    /// Runs the script on the primary of its first key's slot (the server
    /// itself on a single server): by hash, then by source if the server
    /// answers `NOSCRIPT`. An error reply is an error (a cluster connection
    /// answers a routed command's error reply as a value).
    pub(crate) async fn run(&self, connection: &Connection) -> RedisResult<Value> {
        let key = self.keys.first().map_or("", String::as_str);
        let send = |command| async move {
            connection
                .query_at(key, command)
                .await
                .and_then(Value::extract_error)
        };
        match send(self.by_hash()).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                send(self.by_source()).await
            }
            answer => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(command: &Cmd) -> String {
        String::from_utf8(command.get_packed_command()).unwrap()
    }

    #[test]
    fn the_hash_is_the_scripts_sha1() {
        // SHA-1 of "return 1", as `SCRIPT LOAD` answers it.
        let script = ReadOnlyScript::new("return 1".to_owned());
        assert_eq!(script.hash, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[test]
    fn commands_carry_the_keys_then_the_arguments() {
        let script = ReadOnlyScript::new("return KEYS[1]".to_owned());
        let mut call = script.call();
        call.key("k1").key("k2").arg("a1");
        let by_hash = packed(&call.by_hash());
        let expected_hash = format!(
            "*6\r\n$10\r\nEVALSHA_RO\r\n$40\r\n{}\r\n$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n",
            script.hash
        );
        assert_eq!(by_hash, expected_hash);
        let by_source = packed(&call.by_source());
        assert_eq!(
            by_source,
            "*6\r\n$7\r\nEVAL_RO\r\n$14\r\nreturn KEYS[1]\r\n$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n"
        );
    }
}
