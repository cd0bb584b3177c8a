//! A bounded load run on loopback: the server in this process (memory store,
//! rate limits off), `CLIENTS` concurrent keep-alive connections, each
//! sending `REQUESTS` introspections of one `v4.public` access token.
//! Prints requests per second, p50/p99 latency and the error count (which
//! must be 0). Measures; asserts nothing about speed.
//!
//! ```sh
//! cargo run --release -p vaulttoken-server --example load -- 64 500
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an example run fails loudly"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use vaulttoken::store::MemoryStore;
use vaulttoken_server::{Config, app};

const SECRET: &str = "load-secret-0123456789";

/// One request on a keep-alive connection; its status.
async fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    stream.get_mut().write_all(request).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    if status == 200 && !body.starts_with(br#"{"active":true"#) {
        return 0;
    }
    status
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(64, |a| a.parse().unwrap());
    let requests: usize = args.next().map_or(500, |a| a.parse().unwrap());

    let file = std::env::temp_dir().join(format!("vaulttoken-load-{}.json", std::process::id()));
    let kek = vaulttoken::LocalKey::generate()
        .unwrap()
        .to_paserk()
        .unwrap();
    let vars = BTreeMap::from([
        (
            "VAULTTOKEN_KEYRING_FILE".to_owned(),
            file.to_str().unwrap().to_owned(),
        ),
        ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
        ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
        ("VAULTTOKEN_CLIENTS".to_owned(), format!("load:{SECRET}")),
        ("VAULTTOKEN_RATE_LIMIT_PER_IP".to_owned(), "0".to_owned()),
        (
            "VAULTTOKEN_RATE_LIMIT_PER_CLIENT".to_owned(),
            "0".to_owned(),
        ),
    ]);
    let config = Config::from_vars(&vars).unwrap();
    let router = app(config, Arc::new(MemoryStore::new())).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    // One access token for every request.
    let mut setup = BufReader::new(TcpStream::connect(address).await.unwrap());
    let issue = post(
        "/token",
        &format!(r#"{{"client_id":"load","client_secret":"{SECRET}","subject":"alice"}}"#),
    );
    setup.get_mut().write_all(&issue).await.unwrap();
    let mut head = String::new();
    loop {
        let mut line = String::new();
        setup.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0; length];
    setup.read_exact(&mut body).await.unwrap();
    let pair: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let request = Arc::new(post(
        "/token/introspect",
        &format!(r#"{{"client_id":"load","client_secret":"{SECRET}","token":"{access}"}}"#),
    ));

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let request = Arc::clone(&request);
        tasks.push(tokio::spawn(async move {
            let mut stream = BufReader::new(TcpStream::connect(address).await.unwrap());
            let mut latencies = Vec::with_capacity(requests);
            let mut errors = 0usize;
            for _ in 0..requests {
                let sent = Instant::now();
                if exchange(&mut stream, &request).await != 200 {
                    errors += 1;
                }
                latencies.push(sent.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(clients * requests);
    let mut errors = 0;
    for task in tasks {
        let (mut some, failed) = task.await.unwrap();
        latencies.append(&mut some);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |percent: usize| latencies[(latencies.len() - 1) * percent / 100];
    println!(
        "POST /token/introspect (v4.public): {clients} clients x {requests} requests: {:.0} req/s, p50 {:?}, p99 {:?}, errors {errors}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(50),
        at(99),
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(errors, 0, "every request must succeed");
}
