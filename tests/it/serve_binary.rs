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
        .stdin(Stdio::piped())
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
        "GET /v2/integrations HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\nx-request-id: log-test-1\r\nConnection: close\r\n\r\n"
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
        "GET /v2/integrations/wodify HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\nx-request-id: json-1\r\nConnection: close\r\n\r\n"
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
        "POST /v2/integrations/terminal/activate HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nConnection: close\r\n\r\n",
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

/// What `startMock` (the npm package) relies on: the parent that started the mock with a
/// pipe as its input ends, however it ends, and the mock stops gracefully with it.
#[test]
fn with_stop_with_stdin_the_mock_stops_gracefully_when_its_input_closes() {
    // Without the flag, a closed input changes nothing.
    let mut plain = start(&[]);
    drop(plain.child.stdin.take());
    std::thread::sleep(Duration::from_millis(300));
    let answer = plain.raw(&format!(
        "GET /v2/integrations HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\nConnection: close\r\n\r\n"
    ));
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "still serving: {answer}"
    );
    assert!(plain.child.try_wait().unwrap().is_none(), "still running");

    let mut server = start(&["--stop-with-stdin"]);
    let stdin = server.child.stdin.as_mut().unwrap();
    // Input that comes before the end is read and ignored.
    stdin.write_all(b"anything\n").unwrap();
    let answer = server.raw(&format!(
        "GET /v2/integrations HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {KEY}\r\nConnection: close\r\n\r\n"
    ));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(server.child.stdin.take());
    let status = server.child.wait().unwrap();
    // Every line, to the end of the output (threads' lines may interleave out of order).
    let rest: Vec<String> = server.lines.iter().collect();
    for said in ["standard input closed", "shutting down", "stopped"] {
        assert!(
            rest.iter().any(|l| l.contains(said)),
            "{said:?} in {rest:#?}"
        );
    }
    assert!(status.success(), "a graceful stop: {status:?}");
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

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("revkeen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ACTIVATE_BODY: &str = r#"{"credentials":{"apiKey":"k","baseUrl":"https://c.example"}}"#;

#[test]
fn a_plain_serve_starts_with_the_default_fixture() {
    let server = start(&[]);
    let r = http(
        &server.addr,
        "GET",
        "/v2/integrations",
        &[("x-api-key", "rk_sandbox_demo_merchant_key_01")],
        "",
    );
    assert!(
        r.contains("\"provider\":\"practicehub\"") && r.contains("\"provider\":\"terminal\""),
        "{r}"
    );
    assert!(!r.contains("wodify"), "{r}");
}

#[test]
fn state_survives_a_restart() {
    let dir = temp_dir("restart");
    let file = dir.join("state.json");
    let file_arg = file.to_str().unwrap();
    let mut server = start(&["--state-file", file_arg]);
    let r = http(
        &server.addr,
        "POST",
        "/v2/integrations/wodify/activate",
        &[("x-api-key", KEY), ("content-type", "application/json")],
        ACTIVATE_BODY,
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    server.signal("-TERM");
    assert!(server.child.wait().unwrap().success());
    let server = start(&["--state-file", file_arg]);
    let r = http(
        &server.addr,
        "GET",
        "/v2/integrations/wodify",
        &[("x-api-key", KEY)],
        "",
    );
    assert!(r.contains("\"isActive\":true"), "{r}");
    drop(server);
    let server = start(&["--state-file", file_arg, "--reset-state"]);
    let r = http(
        &server.addr,
        "GET",
        "/v2/integrations/wodify",
        &[("x-api-key", KEY)],
        "",
    );
    assert!(
        r.contains("{\"data\":null}"),
        "--reset-state starts from the fixture: {r}"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_state_file_stops_the_start_with_a_clear_error() {
    let dir = temp_dir("corrupt");
    let file = dir.join("state.json");
    std::fs::write(&file, "{\"version\": 1, \"clock\": ").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--state-file",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state.json") && err.contains("--reset-state"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_admin_api_refuses_requests_without_its_token() {
    let server = start(&["--admin-token", "s3cret"]);
    let r = http(&server.addr, "GET", "/__mock/health", &[], "");
    assert!(
        r.starts_with("HTTP/1.1 401") && r.contains("admin_token_required"),
        "{r}"
    );
    let r = http(
        &server.addr,
        "GET",
        "/__mock/health",
        &[("authorization", "Bearer wrong")],
        "",
    );
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http(
        &server.addr,
        "GET",
        "/__mock/health",
        &[("authorization", "Bearer s3cret")],
        "",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let off = start(&["--no-admin"]);
    let r = http(&off.addr, "GET", "/__mock/health", &[], "");
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
}

#[test]
fn off_loopback_the_admin_api_needs_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["serve", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--admin-token") && err.contains("--no-admin"),
        "{err}"
    );
}

#[test]
fn a_start_fixture_can_set_the_rate_limit_and_the_flag_wins() {
    for (args, limit) in [
        (&["--fixture", "partners"][..], "100"),
        (&["--fixture", "partners", "--rate-limit", "30"][..], "30"),
    ] {
        let server = start(args);
        let r = http(
            &server.addr,
            "GET",
            "/v2/integrations",
            &[("x-api-key", "rk_sandbox_partner_delta_0004")],
            "",
        );
        assert!(
            r.to_ascii_lowercase()
                .contains(&format!("ratelimit-limit: {limit}")),
            "{args:?}: {r}"
        );
    }
}

#[test]
fn health_exits_zero_when_the_mock_answers_and_one_when_nothing_does() {
    let server = start(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["health", "--url", &format!("http://{}", server.addr)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("healthy: HTTP/1.1 200"));
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["health", "--url", &closed, "--timeout", "500ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("unhealthy: cannot connect"));
}

/// Off loopback without a token, `--admin-without-token off` starts with the admin API
/// off and says so (the container image's default), instead of refusing to start.
#[test]
fn off_loopback_without_a_token_the_admin_api_can_start_off() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args([
            "serve",
            "--addr",
            &format!("0.0.0.0:{port}"),
            "--admin-without-token",
            "off",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut answer = String::new();
    for _ in 0..200 {
        if TcpStream::connect(&addr).is_ok() {
            answer = http(&addr, "GET", "/__mock/health", &[], "");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("admin API (/__mock, the dashboard) is OFF"),
        "{log}"
    );
}
