//! The `vaulttoken-server` binary as a process on a real Redis, and plain
//! HTTP/1.1 requests to it over loopback, with any headers. Declared next to
//! `support/server.rs` (whose configuration and key file it uses).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{self, CLIENT, KeyFilePath, SECRET};

const BINARY: &str = env!("CARGO_BIN_EXE_vaulttoken-server");

/// A running server process (killed when dropped) and its key file.
pub(crate) struct ServerProcess {
    child: Child,
    port: u16,
    file: KeyFilePath,
}

impl ServerProcess {
    /// A server on a new key file over the Redis at `redis_url`, once it
    /// listens (at most 15 s).
    pub(crate) fn start(redis_url: &str) -> Self {
        Self::start_with(&[("REDIS_URL", redis_url)])
    }

    /// A server on a new key file with `extra` settings on top of the test
    /// configuration, once it listens (at most 15 s; a server that exits
    /// first fails the test at once).
    pub(crate) fn start_with(extra: &[(&str, &str)]) -> Self {
        Self::launch(Command::new(BINARY), extra)
    }

    /// As [`Self::start_with`], pinned with `taskset` (util-linux) to one
    /// core, the first this test may use: the process, and every thread it
    /// makes, may run there only.
    pub(crate) fn start_on_one_core(extra: &[(&str, &str)]) -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let allowed = status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap();
        let first: String = allowed
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let mut command = Command::new("taskset");
        command.args(["-c", &first, BINARY]);
        Self::launch(command, extra)
    }

    /// The server listens on a port the system picks (`127.0.0.1:0`), and
    /// its port is read from its `listening` log line: a port chosen here
    /// and passed on could be taken meanwhile by another test's process (a
    /// Redis that then answered this server's requests), while this server
    /// failed to start. A `RUST_LOG` in `extra` gets
    /// `vaulttoken_server::app=info` added, so that the line is written.
    fn launch(mut command: Command, extra: &[(&str, &str)]) -> Self {
        let file = KeyFilePath::new();
        let mut settings = vec![("VAULTTOKEN_LISTEN", "127.0.0.1:0")];
        settings.extend_from_slice(extra);
        let with_listening: String;
        if let Some(filter) = settings.iter_mut().find(|(name, _)| *name == "RUST_LOG") {
            with_listening = format!("{},vaulttoken_server::app=info", filter.1);
            filter.1 = &with_listening;
        }
        let child = command
            .env_clear()
            .envs(server::vars(&file, &settings))
            .stdout(std::fs::File::create(log_path(&file)).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut process = Self {
            child,
            port: 0,
            file,
        };
        let started = Instant::now();
        process.port = loop {
            if let Some(port) = listening_port(&process.log(), "VAULTTOKEN_LISTEN") {
                break port;
            }
            let exited = process.child.try_wait().unwrap();
            assert!(exited.is_none(), "the server exited: {exited:?}");
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        process
    }

    /// The port of the separate metrics listener, set to port 0
    /// (`VAULTTOKEN_METRICS_LISTEN=127.0.0.1:0`), from its `listening` log
    /// line (at most 15 s).
    pub(crate) fn metrics_port(&self) -> u16 {
        const VARIABLE: &str = "VAULTTOKEN_METRICS_LISTEN";
        let line = self
            .log_line_within(
                &format!(r#""variable":"{VARIABLE}""#),
                Duration::from_secs(15),
            )
            .unwrap_or_else(|| panic!("the metrics listener did not listen: {}", self.log()));
        listening_port(&line, VARIABLE).unwrap()
    }

    /// The key file the server created.
    pub(crate) fn key_file(&self) -> &KeyFilePath {
        &self.file
    }

    /// One request with `Connection: close`; the status and the JSON body
    /// (`Null` if there is none).
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// SIGTERM, then the exit status within 10 s.
    pub(crate) fn terminate(mut self) -> ExitStatus {
        self.stop()
    }

    /// SIGTERM; once it exited successfully (within 10 s), all it logged.
    pub(crate) fn log_after_exit(mut self) -> String {
        let status = self.stop();
        assert!(status.success(), "{status:?}");
        self.log()
    }

    /// SIGTERM, then the exit status within 10 s.
    fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its `write` system calls so far (`syscw` of `/proc/<pid>/io`, Linux:
    /// `write` and `writev`, so its log lines and its HTTP answers).
    pub(crate) fn write_calls(&self) -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).unwrap();
        io.lines()
            .find_map(|line| line.strip_prefix("syscw:"))
            .unwrap_or_else(|| panic!("no syscw in {io}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// The cores it may run on (`Cpus_allowed_list` of `/proc/<pid>/status`).
    pub(crate) fn allowed_cores(&self) -> String {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Its threads named as tokio names a multi-threaded runtime's workers
    /// (`tokio-rt-worker`), one per core from its start; a current-thread
    /// runtime has none (it runs on the main thread).
    pub(crate) fn runtime_workers(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
            .filter(|name| name.trim_end() == "tokio-rt-worker")
            .count()
    }

    /// The loopback port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Its resident memory in KiB: `VmRSS` of `/proc/<pid>/status` (Linux),
    /// the pages it really holds, not the bytes it has allocated.
    pub(crate) fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .unwrap_or_else(|| panic!("no VmRSS in {status}"));
        let kib = line
            .trim()
            .strip_suffix("kB")
            .unwrap_or_else(|| panic!("{line}"));
        kib.trim().parse().unwrap()
    }

    /// What the server logged to stdout so far (JSON lines).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(log_path(&self.file)).unwrap_or_default()
    }

    /// Waits until a line of the log contains `text`, at most `within`:
    /// the line, or `None` (with the log so far in the panic message of the
    /// caller's choice).
    pub(crate) fn log_line_within(&self, text: &str, within: Duration) -> Option<String> {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log().lines().find(|line| line.contains(text)) {
                return Some(line.to_owned());
            }
            if started.elapsed() >= within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One bodiless request with `Connection: close`, answered as sent:
    /// the status, the headers (names lowercased) and the body text.
    pub(crate) fn raw_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> RawAnswer {
        raw_request_at(self.port, method, path, headers)
    }

    /// The CPU time it used so far, in clock ticks (user + system, fields
    /// 14 and 15 of `/proc/<pid>/stat`, Linux; 100 a second on most
    /// systems).
    pub(crate) fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The command name (field 2) may hold spaces: count after its `)`.
        let (_, fields) = stat.rsplit_once(')').unwrap();
        let fields: Vec<&str> = fields.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(log_path(&self.file));
    }
}

/// A `POST` authenticated as the test client (`client_id` and
/// `client_secret` in the body).
pub(crate) fn post(server: &ServerProcess, path: &str, body: &Value) -> (u16, Value) {
    let mut body = body.clone();
    body["client_id"] = json!(CLIENT);
    body["client_secret"] = json!(SECRET);
    server.request("POST", path, &[], Some(&body))
}

/// Asserts that `server` refuses `refresh_token` as a reused one: 400
/// `invalid_grant`.
pub(crate) fn assert_reuse_refused(server: &ServerProcess, refresh_token: &Value) {
    let (status, reuse) = post(
        server,
        "/token/refresh",
        &json!({ "refresh_token": refresh_token }),
    );
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant")),
        "{reuse}"
    );
}

/// `GET /keys`.
pub(crate) fn keys(server: &ServerProcess) -> Value {
    server.request("GET", "/keys", &[], None).1
}

/// The first answer of `call` that is not a 503, trying for at most 5 s: a
/// connection Redis dropped answers 503 (nothing decided) once, then is
/// made again.
pub(crate) fn decided(mut call: impl FnMut() -> (u16, Value)) -> (u16, Value) {
    let started = Instant::now();
    loop {
        let (status, body) = call();
        if status != 503 || started.elapsed() > Duration::from_secs(5) {
            return (status, body);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One bodiless request to the loopback `port` with `Connection: close`,
/// answered as sent: see [`ServerProcess::raw_request`].
pub(crate) fn raw_request_at(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> RawAnswer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    RawAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Where a server with the key file `file` logs.
/// The port of the listener that `variable` sets in `log`, once its
/// `listening` line is there.
fn listening_port(log: &str, variable: &str) -> Option<u16> {
    log.lines().find_map(|line| {
        let line: Value = serde_json::from_str(line).ok()?;
        let fields = &line["fields"];
        if fields["message"] != "listening" || fields["variable"] != variable {
            return None;
        }
        let address: std::net::SocketAddr = fields["address"].as_str()?.parse().ok()?;
        Some(address.port())
    })
}

fn log_path(file: &KeyFilePath) -> std::path::PathBuf {
    file.0.with_extension("log")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An answer as sent: see [`ServerProcess::raw_request`].
#[derive(Debug)]
pub(crate) struct RawAnswer {
    pub(crate) status: u16,
    /// `(name, value)`, names lowercased, in the order sent.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl RawAnswer {
    /// The value of the header `name` (lowercase), if sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(sent, _)| sent == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A current-thread runtime for the HTTP/2 helpers below: the client sends
/// what its tasks queued together in one write.
pub(crate) fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A new HTTP/2 connection to the loopback `port` (cleartext, prior
/// knowledge: no upgrade), driven by a task of its own on the caller's
/// runtime.
pub(crate) async fn connect_h2(port: u16) -> h2::client::SendRequest<axum::body::Bytes> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (connection, driver) = h2::client::handshake(stream).await.unwrap();
    tokio::spawn(async move {
        let _ = driver.await;
    });
    connection
}

/// A `POST` with a JSON body authenticated as the test client (as [`post`])
/// on a new stream of `connection`: the status and the JSON body.
pub(crate) async fn post_h2(
    connection: &h2::client::SendRequest<axum::body::Bytes>,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let mut body = body.clone();
    body["client_id"] = json!(CLIENT);
    body["client_secret"] = json!(SECRET);
    let request = axum::http::Request::post(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let mut ready = connection.clone().ready().await.unwrap();
    let (answer, mut sent) = ready.send_request(request, false).unwrap();
    sent.send_data(body.to_string().into(), true).unwrap();
    let answer = answer.await.unwrap();
    let status = answer.status().as_u16();
    let mut incoming = answer.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = incoming.data().await {
        let chunk = chunk.unwrap();
        incoming
            .flow_control()
            .release_capacity(chunk.len())
            .unwrap();
        bytes.extend_from_slice(&chunk);
    }
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
