//! A real server on an ephemeral port, in strict mode, and a real HTTP client for it.

pub mod independent;
pub mod large31;
pub mod openapi31;
pub mod proxy;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, Running, ServerConfig};
use revkeen_mock::sim::{Clock, SimConfig, Timestamp};
use revkeen_mock::spec::Contract;
use revkeen_mock::store::MemoryStore;
use serde_json::Value;

/// A sandbox key of the default kind.
pub const KEY: &str = "rk_sandbox_test_merchant_key_0001";
/// Another tenant's key.
pub const OTHER_KEY: &str = "rk_sandbox_other_merchant_key_002";
/// 2026-05-01T09:00:00Z, where test clocks start frozen.
pub const T0: Timestamp = Timestamp(1_777_626_000_000);

/// A running mock and a client for it. When it is dropped at the end of a test that
/// did not fail otherwise, every response it sent must have conformed to the spec (a
/// strict mock counts each breach): no test can forget to check.
pub struct Mock {
    pub running: Running,
    pub client: Client<HttpConnector, Full<Bytes>>,
    /// Breaches a test provoked on purpose and has read ([`Mock::provoked_violations`]).
    acknowledged: std::sync::atomic::AtomicU64,
}

impl Drop for Mock {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_conformant();
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope's status and code, returning the `error` object.
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(
            body["error"]["request_id"].as_str(),
            self.header("x-request-id"),
            "request_id matches the header"
        );
        body["error"].clone()
    }
}

/// The application the mocks serve: `contract` on a memory store frozen at [`T0`], the
/// admin API open.
pub fn app(config: SimConfig, contract: Contract, server: ServerConfig) -> App {
    App::new(
        contract,
        MemoryStore::new(config, Clock::frozen(T0)),
        server,
        Control::new(AdminAccess::Open, 7),
    )
}

/// The contract the tests' mocks serve: the embedded one, or the document named by
/// `REVKEEN_TEST_SPEC` (relative to the crate), so the same journeys run against
/// another rendering of it (`scripts/test` runs them on the OpenAPI 3.1 rendering).
pub fn contract() -> Contract {
    match std::env::var_os("REVKEEN_TEST_SPEC") {
        Some(path) => {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            Contract::load_file(&path)
                .and_then(|c| c.into_servable())
                .unwrap_or_else(|e| panic!("REVKEEN_TEST_SPEC: {e}"))
        }
        None => Contract::embedded().expect("embedded spec"),
    }
}

impl Mock {
    /// A mock with a frozen clock at [`T0`] and the given simulator settings.
    pub async fn start_with(config: SimConfig) -> Mock {
        Self::start_with_contract(config, contract()).await
    }

    /// A mock serving `contract` (strict: every response checked in its exact reading).
    pub async fn start_with_contract(config: SimConfig, contract: Contract) -> Mock {
        Self::start_with_server(
            config,
            contract,
            ServerConfig {
                strict: true,
                ..ServerConfig::default()
            },
        )
        .await
    }

    /// A mock with the given HTTP settings.
    pub async fn start_with_server(
        config: SimConfig,
        contract: Contract,
        server: ServerConfig,
    ) -> Mock {
        Self::start_app(app(config, contract, server)).await
    }

    /// A mock serving `app` as built.
    pub async fn start_app(app: App) -> Mock {
        let running = Running::start("127.0.0.1:0", app).await.expect("bind");
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(5))
            .build_http();
        Mock {
            running,
            client,
            acknowledged: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub async fn start() -> Mock {
        Self::start_with(SimConfig::default()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.addr, path)
    }

    /// Sends a request; `path` is absolute (`/v2/...`).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        self.try_send(method, path, headers, body)
            .await
            .unwrap_or_else(|| panic!("{method} {path}: not a sendable HTTP request"))
    }

    /// Sends a request, or `None` when the text cannot form an HTTP request at all
    /// (a character a URI or header may not hold), so nothing reaches the server.
    /// A connection that fails is a test failure.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Option<Resp> {
        let mut req = hyper::Request::builder().method(method).uri(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = body.map(|b| Bytes::from(b.to_owned())).unwrap_or_default();
        let req = req.body(Full::new(body)).ok()?;
        let resp = self
            .client
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: the connection failed: {e:?}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Some(Resp {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.send("GET", path, &[("x-api-key", key)], None).await
    }

    /// A JSON request with a key.
    pub async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Resp {
        let text = body.map(|b| b.to_string());
        let mut headers = vec![("x-api-key", key)];
        if text.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.send(method, path, &headers, text.as_deref()).await
    }

    /// The integrations `key`'s merchant shows (`data` of the list, up to 100).
    pub async fn integrations(&self, key: &str) -> Value {
        let r = self.get("/v2/integrations?limit=100", key).await;
        assert_eq!(r.status, 200, "{}", r.json());
        r.json()["data"].clone()
    }

    pub async fn activate(&self, key: &str, provider: &str, api_key: &str) -> Resp {
        let body = serde_json::json!({"credentials": {"apiKey": api_key, "baseUrl": "https://clinic.example"}});
        self.call(
            "POST",
            &format!("/v2/integrations/{provider}/activate"),
            key,
            Some(body),
        )
        .await
    }

    /// Moves simulated time on by `secs` (every due sync runs).
    pub async fn advance(&self, secs: u64) {
        let by = Duration::from_secs(secs);
        self.running
            .app
            .store
            .change_clock(T0, &|c| c.advance(by))
            .await
            .expect("the in-memory store is always available");
    }

    /// Fails the test if any response broke the spec (beyond those a test provoked
    /// and read through [`Mock::provoked_violations`]).
    pub fn assert_conformant(&self) {
        let app = &self.running.app;
        let acknowledged = self.acknowledged.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            app.strict_violations(),
            acknowledged,
            "responses broke the spec: {:#?}",
            app.violation_log()
        );
    }

    /// For a test that breaks the spec on purpose (a variant contract): the breaches
    /// so far, taken as expected, so dropping the mock does not fail the test.
    pub fn provoked_violations(&self) -> Vec<String> {
        let app = &self.running.app;
        self.acknowledged.store(
            app.strict_violations(),
            std::sync::atomic::Ordering::Relaxed,
        );
        app.violation_log()
    }
}

/// Runs the (blocking) conformance runner off the async runtime; the run must start.
pub async fn conform(cfg: revkeen_mock::conform::Config) -> revkeen_mock::conform::report::Report {
    tokio::task::spawn_blocking(move || revkeen_mock::conform::run(&cfg).expect("the run starts"))
        .await
        .unwrap()
}

/// A free port on loopback (bound and released: another process may take it first,
/// which a test then sees as a failed start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 exchange with `addr` on a connection of its own, closed after: the
/// status and body, or why there was none (a process killed mid-way refuses or resets
/// the connection).
pub fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nx-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {out:?}"))?;
    Ok((
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    ))
}

/// A `revkeen-mock serve` process with `args`, answering on its address.
pub fn spawn(args: &[&str]) -> (std::process::Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["serve", "--addr", &addr])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    for _ in 0..1000 {
        if exchange(&addr, "GET", "/__mock/health", "", "").is_ok_and(|(s, _)| s == 200) {
            return (child, addr);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            panic!("the mock stopped at start ({status}): {err}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("the mock on {addr} did not start");
}
