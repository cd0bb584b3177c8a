//! A key-set server for the tests: plain HTTP/1.1 on a free loopback port,
//! one request per connection, serving a document that the test changes, or
//! misbehaving as told (an error status, a redirect, an oversized or
//! never-ending body, a delay). It counts requests and the conditional ones
//! it answered with 304. Stopped by `stop` (the port then refuses
//! connections) and restarted on the same port by `restart`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use vaulttoken::keyring::MAX_KEY_SET_LEN;

/// How the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The document, or 304 to a request naming its current tag.
    Serve,
    /// The document without `Content-Length` (its end is the connection's).
    ServeWithoutLength,
    /// This status, with an empty body.
    Status(u16),
    /// A redirect to this location.
    Redirect(String),
    /// One byte more than the limit: announced by `Content-Length` (and
    /// then no body sent), or sent without one.
    Oversized { declared: bool },
    /// Headers, then a body that never ends (one byte every 50 ms).
    NeverEnding,
}

#[derive(Debug)]
struct State {
    body: Mutex<String>,
    generation: AtomicUsize,
    mode: Mutex<Mode>,
    delay: Mutex<Duration>,
    requests: AtomicUsize,
    not_modified: AtomicUsize,
    /// Requests whose answer is not written yet.
    pending: AtomicUsize,
}

/// The running server.
#[derive(Debug)]
pub(crate) struct KeyServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl KeyServer {
    /// Serves `document` on a free loopback port.
    pub(crate) async fn start(document: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            body: Mutex::new(document),
            generation: AtomicUsize::new(1),
            mode: Mutex::new(Mode::Serve),
            delay: Mutex::new(Duration::ZERO),
            requests: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
        });
        let accept = Some(tokio::spawn(accept(listener, Arc::clone(&state))));
        Self {
            addr,
            state,
            accept,
        }
    }

    /// The document's URL.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/keys", self.addr)
    }

    /// Serves `document` from now on, with a new tag.
    pub(crate) fn publish(&self, document: String) {
        *self.state.body.lock().unwrap() = document;
        self.state.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Answers as `mode` from now on.
    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Waits this long before answering.
    pub(crate) fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Requests received so far.
    pub(crate) fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// 304 answers so far.
    pub(crate) fn not_modified(&self) -> usize {
        self.state.not_modified.load(Ordering::SeqCst)
    }

    /// Requests received and not answered yet.
    pub(crate) fn pending(&self) -> usize {
        self.state.pending.load(Ordering::SeqCst)
    }

    /// Stops listening: connections to the port are refused.
    pub(crate) async fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
    }

    /// Listens again on the same port.
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.accept = Some(tokio::spawn(accept(listener, Arc::clone(&self.state))));
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(answer(stream, Arc::clone(&state)));
    }
}

/// Reads one request head (at most 16 KiB) and answers it.
async fn answer(mut stream: TcpStream, state: Arc<State>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.pending.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let mode = state.mode.lock().unwrap().clone();
    let tag = format!("\"gen-{}\"", state.generation.load(Ordering::SeqCst));
    let conditional = head.lines().any(|line| {
        line.strip_prefix("if-none-match:")
            .is_some_and(|v| v.trim() == tag)
    });
    let response = match mode {
        Mode::Serve if conditional => {
            state.not_modified.fetch_add(1, Ordering::SeqCst);
            format!("HTTP/1.1 304 Not Modified\r\netag: {tag}\r\nconnection: close\r\n\r\n")
        }
        Mode::Serve => {
            let body = state.body.lock().unwrap().clone();
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\netag: {tag}\r\ncache-control: max-age=1\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Mode::ServeWithoutLength => {
            let body = state.body.lock().unwrap().clone();
            format!("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{body}")
        }
        Mode::Status(status) => {
            format!("HTTP/1.1 {status} Nope\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        }
        Mode::Redirect(location) => format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        Mode::Oversized { declared: true } => {
            // Announces one byte over the limit, then sends no body at all: a
            // client that reads before checking the length waits in vain.
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                MAX_KEY_SET_LEN + 1
            );
            let _ = stream.write_all(head.as_bytes()).await;
            state.pending.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Mode::Oversized { declared: false } => {
            let body = " ".repeat(MAX_KEY_SET_LEN + 1);
            format!("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{body}")
        }
        Mode::NeverEnding => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{")
                .await;
            state.pending.fetch_sub(1, Ordering::SeqCst);
            while stream.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return;
        }
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    state.pending.fetch_sub(1, Ordering::SeqCst);
}
