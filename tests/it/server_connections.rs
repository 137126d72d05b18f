//! Connection hygiene for a sandbox exposed to strangers: 2,000 half-sent heads (and idle
//! keep-alive connections) are dropped after the header time-out while other clients
//! are served; a head trickled a byte at a time is dropped too, while an answer that
//! takes longer than the time-out is not cut; an oversized head is 431; connections
//! over the cap wait to be accepted.

use crate::common;

use std::time::{Duration, Instant};

use common::{KEY, Mock};
use revkeen_mock::server::ServerConfig;
use revkeen_mock::sim::SimConfig;
use revkeen_mock::spec::Contract;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn mock(server: ServerConfig) -> Mock {
    Mock::start_with_server(
        SimConfig::default(),
        Contract::embedded().unwrap(),
        ServerConfig {
            strict: true,
            ..server
        },
    )
    .await
}

/// One request on a connection of its own (`Connection: close`): the status line. The
/// mock's pooled client is not used here, since the short header time-out also closes
/// the idle connections it keeps.
async fn status_line(mock: &Mock, path: &str) -> String {
    let mut s = TcpStream::connect(mock.running.addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {KEY}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// Waits (at most `limit`) for the server to close `stream`: `Ok` when it did.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // Anything the server sends before closing (hyper may say 408) is read past.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_are_dropped_after_the_header_timeout_while_others_are_served() {
    let mock = mock(ServerConfig {
        header_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(mock.running.addr).await.unwrap();
        s.write_all(b"GET /v2/integrations HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ")
            .await
            .unwrap();
        flood.push(s);
    }
    // Ordinary clients are answered while the flood hangs on.
    assert_eq!(
        status_line(&mock, "/v2/integrations").await,
        "HTTP/1.1 200 OK"
    );
    for (n, s) in flood.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "half-open connection {n} was still held"
        );
    }
    assert_eq!(
        status_line(&mock, "/v2/integrations").await,
        "HTTP/1.1 200 OK"
    );
    mock.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_a_byte_at_a_time_is_dropped_at_the_time_out() {
    let mock = mock(ServerConfig {
        header_timeout: Some(Duration::from_millis(400)),
        ..ServerConfig::default()
    })
    .await;
    let mut s = TcpStream::connect(mock.running.addr).await.unwrap();
    let head = b"GET /v2/integrations HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: rk_sandbox_";
    let started = Instant::now();
    let mut closed_after = None;
    for byte in head.iter().cycle().take(100) {
        // Progress every 50 ms never resets the deadline: the head as a whole is late.
        if s.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            _ => {}
        }
    }
    let after = closed_after.expect("the trickling connection was closed");
    assert!(
        after >= Duration::from_millis(350) && after < Duration::from_millis(2_000),
        "closed {after:?} after its first byte (time-out 400 ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_slower_than_the_header_time_out_is_not_cut() {
    let mock = mock(ServerConfig {
        header_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    })
    .await;
    let rule = r#"{"rules": [{"match": {"path": "/integrations"}, "action": {"type": "latency", "ms": 900}}]}"#;
    let mut s = TcpStream::connect(mock.running.addr).await.unwrap();
    let add = format!(
        "POST /__mock/faults HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{rule}",
        rule.len()
    );
    s.write_all(add.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Three times the time-out answering: time spent on the answer has no deadline.
    let started = Instant::now();
    assert_eq!(
        status_line(&mock, "/v2/integrations").await,
        "HTTP/1.1 200 OK"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    // And a keep-alive connection idle after its answer is closed at the time-out.
    let mut s = TcpStream::connect(mock.running.addr).await.unwrap();
    let head = format!(
        "GET /v2/integrations/wodify HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {KEY}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let idle = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(5)).await,
        "the idle connection was kept"
    );
    assert!(
        idle.elapsed() >= Duration::from_millis(250),
        "closed too soon: {:?}",
        idle.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_over_the_limit_is_431() {
    let mock = mock(ServerConfig::default()).await;
    let mut s = TcpStream::connect(mock.running.addr).await.unwrap();
    let big = "a".repeat(200 * 1024);
    let head = format!(
        "GET /v2/integrations HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {KEY}\r\nx-big: {big}\r\n\r\n"
    );
    // The server may close before taking every byte: only the answer matters.
    let _ = s.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    // A head within the limit is served as before.
    assert_eq!(mock.get("/v2/integrations", KEY).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_until_one_closes() {
    let mock = mock(ServerConfig {
        max_connections: 2,
        header_timeout: Some(Duration::from_millis(500)),
        ..ServerConfig::default()
    })
    .await;
    // Two idle connections take both places...
    let _idle = [
        TcpStream::connect(mock.running.addr).await.unwrap(),
        TcpStream::connect(mock.running.addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ...so a third waits to be accepted until the header time-out drops one of them.
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), mock.get("/v2/integrations", KEY))
        .await
        .expect("served once a place is free");
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "served before a place was free ({:?})",
        started.elapsed()
    );
}
