//! The mock inside a Rust test, the way wiremock does it: start a server on a free port,
//! point the code under test at [`MockServer::api_url`], say what it should have called,
//! and let the end of the test check it.
//!
//! ```
//! use revkeen_mock::{Expectation, MockServer};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // The demo merchant of `serve`'s default fixture: practicehub active.
//! let mock = MockServer::builder().fixture("default").start().await;
//! mock.expect(Expectation::request("GET", "/v2/integrations").times(1));
//! mock.expect(Expectation::request("POST", "/v2/integrations").never());
//!
//! // The code under test would call `mock.api_url()`; here, HTTP by hand.
//! let mut tcp = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
//! tcp.write_all(
//!     b"GET /v2/integrations HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
//!       x-api-key: rk_sandbox_demo_merchant_key_01\r\n\r\n",
//! )
//! .await
//! .unwrap();
//! let mut answer = String::new();
//! tcp.read_to_string(&mut answer).await.unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200"));
//! assert!(answer.contains(r#""provider":"practicehub""#));
//!
//! // When `mock` is dropped (or `mock.verify()` is called), every expectation is checked
//! // against the requests it received, and every answer it sent must have conformed to
//! // the spec: a miss panics, naming what was expected and what came.
//! # });
//! ```
//!
//! A mock server is a whole simulator: activations are remembered, syncs run on its
//! clock (frozen at [`MockServer::START`] unless told otherwise; move it with
//! [`MockServer::advance_clock`]), and the magic credentials and fixtures work as on
//! `revkeen-mock serve`. Its admin API is open at [`MockServer::admin_url`].

use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::control::journal::{Entry, Matcher};
use crate::control::{AdminAccess, Control, fixture};
use crate::server::{App, Running, ServerConfig};
use crate::sim::{Clock, RateLimit, SimConfig, Timestamp, lock};
use crate::spec::Contract;
use crate::store::{MemoryStore, Store};

/// A running mock on a free loopback port; its expectations are verified when it is
/// dropped (unless the test is already failing).
pub struct MockServer {
    running: Running,
    expectations: Mutex<Vec<Expectation>>,
    fixture: Option<fixture::Fixture>,
}

/// How a [`MockServer`] starts: [`MockServer::builder`].
#[derive(Debug, Clone)]
pub struct MockServerBuilder {
    fixture: Option<String>,
    seed: u64,
    spec: Option<PathBuf>,
    clock: Clock,
    config: SimConfig,
    strict: bool,
}

/// What the code under test should have sent: requests selected by method, path
/// prefix, key and status, and how many of them.
#[derive(Debug, Clone)]
pub struct Expectation {
    matcher: Matcher,
    times: RangeInclusive<usize>,
}

impl Expectation {
    /// Requests with this method whose path starts with `path` (`/v2/...`), any number
    /// of times until [`times`](Self::times) or its kin say otherwise.
    pub fn request(method: &str, path: &str) -> Self {
        Self {
            matcher: Matcher {
                method: Some(method.to_owned()),
                path: Some(path.to_owned()),
                ..Matcher::default()
            },
            times: 1..=usize::MAX,
        }
    }

    /// Only requests sent with this API key.
    pub fn with_key(mut self, key: &str) -> Self {
        self.matcher.key = Some(key.to_owned());
        self
    }

    /// Only requests answered with this status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.matcher.status = Some(status);
        self
    }

    /// Exactly `n` such requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n..=n;
        self
    }

    /// At least `n`.
    pub fn at_least(mut self, n: usize) -> Self {
        self.times = n..=*self.times.end();
        self
    }

    /// At most `n`.
    pub fn at_most(mut self, n: usize) -> Self {
        self.times = *self.times.start()..=n;
        self
    }

    /// None at all.
    pub fn never(self) -> Self {
        self.times(0)
    }

    fn describe(&self) -> String {
        let m = &self.matcher;
        let mut text = format!(
            "{} {}",
            m.method.as_deref().unwrap_or("*"),
            m.path.as_deref().unwrap_or("*")
        );
        if let Some(status) = m.status {
            let _ = write!(text, " answered {status}");
        }
        if m.key.is_some() {
            text.push_str(" with the given key");
        }
        let (lo, hi) = (*self.times.start(), *self.times.end());
        let _ = match (lo, hi) {
            (lo, hi) if lo == hi => write!(text, ", {lo} time(s)"),
            (lo, usize::MAX) => write!(text, ", at least {lo} time(s)"),
            (0, hi) => write!(text, ", at most {hi} time(s)"),
            (lo, hi) => write!(text, ", {lo} to {hi} times"),
        };
        text
    }
}

impl MockServer {
    /// Where a mock server's clock starts, frozen: 2026-05-01T09:00:00Z.
    pub const START: Timestamp = Timestamp(1_777_626_000_000);

    /// A mock with the embedded spec, no fixture, seed 0, its clock frozen at
    /// [`MockServer::START`], in strict mode. Panics when it cannot start (a test
    /// helper: the message says why).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A mock to configure before it starts.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            fixture: None,
            seed: 0,
            spec: None,
            clock: Clock::frozen(Self::START),
            config: SimConfig::default(),
            strict: true,
        }
    }

    /// The address it listens on (loopback, a free port).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// The API's base URL, `http://127.0.0.1:PORT/v2` (the spec's server path).
    pub fn api_url(&self) -> String {
        self.running.base_url()
    }

    /// The admin API, `http://127.0.0.1:PORT/__mock` (open: it is on loopback).
    pub fn admin_url(&self) -> String {
        format!("{}{}", self.uri(), self.app().control.contract.base_path)
    }

    /// The application: its store, control plane and contract, for what the helpers
    /// here do not cover.
    pub fn app(&self) -> &App {
        &self.running.app
    }

    /// Registers an expectation, checked by [`verify`](Self::verify) and on drop.
    pub fn expect(&self, expectation: Expectation) {
        lock(&self.expectations).push(expectation);
    }

    /// How many requests the journal holds that `matcher` selects (the journal keeps
    /// the latest 1,000).
    pub fn received(&self, matcher: &Matcher) -> usize {
        self.app().control.journal.count(matcher)
    }

    /// The requests received, newest first (at most the latest 1,000).
    pub fn received_requests(&self) -> Vec<Entry> {
        self.app()
            .control
            .journal
            .query(&Matcher::default(), usize::MAX)
    }

    /// Moves the simulated clock on by `by`: due syncs, cool-downs and retries run.
    pub async fn advance_clock(&self, by: Duration) {
        let wall = Timestamp::from_system(SystemTime::now());
        self.app()
            .store
            .change_clock(wall, &|c| c.advance(by))
            .await
            .expect("the memory store moves its clock");
    }

    /// Every merchant back to the start: empty, or the fixture's. Expectations and the
    /// journal are kept.
    pub async fn reset(&self) {
        let store = &*self.app().store;
        store.clear().await.expect("the memory store clears");
        if let Some(f) = &self.fixture {
            let now = store
                .now(Timestamp::from_system(SystemTime::now()))
                .await
                .expect("the memory store reads its clock");
            f.apply(store, now)
                .await
                .expect("the fixture applied at the start applies again");
        }
    }

    /// Checks every expectation against the requests received, and that every answer
    /// conformed to the spec; panics with each miss.
    pub fn verify(&self) {
        if let Err(failures) = self.check() {
            panic!("{failures}");
        }
    }

    /// What [`verify`](Self::verify) checks: the misses, if any, as one message.
    pub fn check(&self) -> Result<(), String> {
        let mut misses = String::new();
        for e in lock(&self.expectations).iter() {
            let n = self.received(&e.matcher);
            if !e.times.contains(&n) {
                let _ = writeln!(misses, "- expected {}; received {n}", e.describe());
            }
        }
        let breaches = self.app().strict_violations();
        if breaches > 0 {
            let _ = writeln!(
                misses,
                "- {breaches} answer(s) did not conform to the spec (the mock's log names them)"
            );
        }
        if misses.is_empty() {
            return Ok(());
        }
        let mut seen = String::new();
        for r in self.received_requests().iter().rev().take(20) {
            let _ = writeln!(seen, "  {} {} -> {}", r.method, r.path, r.status);
        }
        Err(format!(
            "the mock server's expectations were not met:\n{misses}requests received (oldest first, at most 20):\n{seen}"
        ))
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.verify();
        }
    }
}

impl MockServerBuilder {
    /// Loads a fixture at the start (a built-in name such as `practicehub-active`, or a
    /// fixture file's path); [`MockServer::reset`] goes back to it.
    pub fn fixture(mut self, name_or_path: &str) -> Self {
        self.fixture = Some(name_or_path.to_owned());
        self
    }

    /// The seed of ids, provider outcomes and fault probabilities.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Serves this OpenAPI document instead of the embedded one.
    pub fn spec(mut self, path: impl Into<PathBuf>) -> Self {
        self.spec = Some(path.into());
        self
    }

    /// The simulated clock to start with (frozen at [`MockServer::START`] by default;
    /// `Clock::default()` follows the wall clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The simulation's settings (breaker, sync duration, rate limit, limits); the
    /// seed given here wins over theirs.
    pub fn sim_config(mut self, config: SimConfig) -> Self {
        self.config = config;
        self
    }

    /// Whether every answer is checked against the spec (on by default; a breach fails
    /// the verification).
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// Starts it; panics with the reason when it cannot.
    pub async fn start(self) -> MockServer {
        match self.try_start().await {
            Ok(mock) => mock,
            Err(e) => panic!("the mock server could not start: {e}"),
        }
    }

    /// Starts it, or says why it cannot (a spec or fixture that does not load, no
    /// port).
    pub async fn try_start(self) -> Result<MockServer, String> {
        let contract = match &self.spec {
            Some(path) => Contract::load_file(path).and_then(|c| c.into_servable()),
            None => Contract::embedded(),
        }
        .map_err(|e| e.to_string())?;
        let fixture = self
            .fixture
            .as_deref()
            .map(fixture::find)
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut config = SimConfig {
            seed: self.seed,
            ..self.config
        };
        if let Some(f) = &fixture {
            f.validate(&config)?;
            if config.rate_limit.is_none() {
                config.rate_limit = f
                    .rate_limit
                    .as_deref()
                    .map(str::parse::<RateLimit>)
                    .transpose()?;
            }
        }
        let store = MemoryStore::new(config, self.clock);
        if let Some(f) = &fixture {
            let now = store
                .now(Timestamp::from_system(SystemTime::now()))
                .await
                .map_err(|e| e.to_string())?;
            f.apply(&store, now).await.map_err(|e| e.to_string())?;
        }
        let control = Control::new(AdminAccess::Open, self.seed);
        *lock(&control.fixture) = fixture.clone();
        let app = App::new(
            contract,
            store,
            ServerConfig {
                strict: self.strict,
                ..ServerConfig::default()
            },
            control,
        );
        let running = Running::start("127.0.0.1:0", app)
            .await
            .map_err(|e| format!("no loopback port: {e}"))?;
        Ok(MockServer {
            running,
            expectations: Mutex::new(Vec::new()),
            fixture,
        })
    }
}
