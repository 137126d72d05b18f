//! The real `revkeen-mock serve` process: start-up, logs, graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const KEY: &str = "rk_sandbox_binary_test_key_00042";

struct Server {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(extra: &[&str]) -> Server {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["serve", "--addr", &addr])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let server = Server { child, addr, lines };
    server.wait_for("listening on");
    server
}

impl Server {
    fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no log line containing {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn raw(&self, request: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn logs_one_line_per_request_with_the_request_id_and_only_the_keys_last_four() {
    let server = start(&[]);
    let response = server.raw(&format!(
        "GET /v2/integrations HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\nx-request-id: log-test-1\r\nConnection: close\r\n\r\n"
    ));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let line = server.wait_for("log-test-1");
    assert!(
        line.contains("GET") && line.contains("/v2/integrations") && line.contains("200"),
        "{line}"
    );
    assert!(
        line.contains("0042") && !line.contains(KEY),
        "only the last four: {line}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let server = start(&["--log-format", "json"]);
    server.raw(&format!(
        "GET /v2/integrations/wodify HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\nx-request-id: json-1\r\nConnection: close\r\n\r\n"
    ));
    let line = server.wait_for("json-1");
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON object");
    assert_eq!(v["status"], 200);
    assert_eq!(v["request_id"], "json-1");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits() {
    let mut server = start(&[]);
    let body = r#"{"credentials":{"apiKey":"k","baseUrl":"https://c.example"}}"#;
    let mut s = TcpStream::connect(&server.addr).unwrap();
    let head = format!(
        "POST /v2/integrations/terminal/activate HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal("-TERM");
    server.wait_for("shutting down");
    s.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "the in-flight request finished: {response}"
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["serve", "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen") && err.contains("--addr"),
        "{err}"
    );
}
