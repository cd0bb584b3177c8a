//! A TCP proxy on 127.0.0.1 between a client and a local server that can
//! hold back the client's bytes: the next read of them, or every read while
//! a delay is set. Bytes keep their order (a held read holds everything
//! behind it on that connection); the server's answers pass unchanged.
//!
//! ```
//! use std::io::{Read as _, Write as _};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::{Duration, Instant};
//! use vaulttoken_test_redis::DelayProxy;
//!
//! // An echo server behind the proxy.
//! let server = TcpListener::bind("127.0.0.1:0").unwrap();
//! let port = server.local_addr().unwrap().port();
//! std::thread::spawn(move || {
//!     let (mut stream, _) = server.accept().unwrap();
//!     let mut buffer = [0_u8; 4];
//!     while let Ok(n @ 1..) = stream.read(&mut buffer) {
//!         stream.write_all(&buffer[..n]).unwrap();
//!     }
//! });
//! let proxy = DelayProxy::start(port);
//! let mut client = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
//! proxy.delay_next(Duration::from_millis(200));
//! let sent = Instant::now();
//! client.write_all(b"ping").unwrap();
//! let mut echo = [0_u8; 4];
//! client.read_exact(&mut echo).unwrap();
//! assert_eq!(&echo, b"ping");
//! assert!(sent.elapsed() >= Duration::from_millis(200));
//! assert_eq!(proxy.delayed_deliveries(), 1);
//!
//! // Every read while a delay is set, none after.
//! proxy.delay_all(Some(Duration::from_millis(100)));
//! for _ in 0..2 {
//!     let sent = Instant::now();
//!     client.write_all(b"pong").unwrap();
//!     client.read_exact(&mut echo).unwrap();
//!     assert!(sent.elapsed() >= Duration::from_millis(100));
//! }
//! proxy.delay_all(None);
//! client.write_all(b"done").unwrap();
//! client.read_exact(&mut echo).unwrap();
//! assert_eq!((&echo, proxy.delayed_deliveries()), (b"done", 3));
//! ```

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the forwarding threads share with the test.
#[derive(Debug, Default)]
struct Switches {
    /// Milliseconds the next client read waits (0: none); taken once.
    next: AtomicU64,
    /// Milliseconds every client read waits while not 0.
    all: AtomicU64,
    /// How many held reads have been released to the server.
    delivered: AtomicUsize,
    /// Set on drop: stop accepting.
    closing: AtomicBool,
    /// Every socket, to shut down on drop.
    sockets: Mutex<Vec<TcpStream>>,
}

/// A delaying TCP proxy in front of `127.0.0.1:<port>`; stopped on drop.
#[derive(Debug)]
pub struct DelayProxy {
    port: u16,
    switches: Arc<Switches>,
    acceptor: Option<JoinHandle<()>>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `127.0.0.1:target_port`.
    pub fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let switches = Arc::new(Switches::default());
        let shared = Arc::clone(&switches);
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.closing.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                forward(client, server, &shared);
            }
        });
        Self {
            port,
            switches,
            acceptor: Some(acceptor),
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The next bytes a client sends (one read of them, on any connection)
    /// reach the server `delay` later.
    pub fn delay_next(&self, delay: Duration) {
        self.switches.next.store(millis(delay), Ordering::SeqCst);
    }

    /// Every read of client bytes waits `delay` until `delay_all(None)`.
    pub fn delay_all(&self, delay: Option<Duration>) {
        self.switches
            .all
            .store(delay.map_or(0, millis), Ordering::SeqCst);
    }

    /// How many held reads have been released to the server so far (each
    /// counted just before it is written on).
    pub fn delayed_deliveries(&self) -> usize {
        self.switches.delivered.load(Ordering::SeqCst)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.switches.closing.store(true, Ordering::SeqCst);
        // Wake the acceptor.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let sockets = self
            .switches
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for socket in sockets.iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn millis(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

/// Starts the two copying threads of one connection.
fn forward(client: TcpStream, server: TcpStream, switches: &Arc<Switches>) {
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    if let (Ok(client_copy), Ok(server_copy)) = (client.try_clone(), server.try_clone()) {
        let mut sockets = switches
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sockets.push(client_copy);
        sockets.push(server_copy);
    }
    let held = Arc::clone(switches);
    std::thread::spawn(move || copy(client_reader, server, Some(&held)));
    std::thread::spawn(move || copy(server_reader, client, None));
}

/// Copies `from` to `to` until either closes; with `switches`, each read
/// first waits the delay they ask for.
fn copy(mut from: TcpStream, mut to: TcpStream, switches: Option<&Switches>) {
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let held = switches.map(|switches| {
            let next = switches.next.swap(0, Ordering::SeqCst);
            let all = switches.all.load(Ordering::SeqCst);
            (switches, next.max(all))
        });
        if let Some((switches, wait @ 1..)) = held {
            std::thread::sleep(Duration::from_millis(wait));
            // Counted before the write, so that a client that has the
            // answer sees the count.
            switches.delivered.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
