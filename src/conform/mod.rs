//! The conformance runner: `revkeen-mock conform` checks any deployment (or the mock)
//! against the contract and the documented behaviour.
//!
//! It runs, in order: the scenarios (`conformance/*.yaml`), authentication negatives,
//! negative inputs generated from the schemas, idempotency, and a stateful exploration
//! of random operation sequences compared with an independent reference
//! ([`model`]). Every answer also goes through the contract checks ([`checks`]).
//! Random sequences come from proptest, seeded, and a failing one is shrunk to a
//! minimal sequence, printed as numbered `curl` commands.

mod breaker;
pub mod checks;
pub mod client;
mod history;
mod inputs;
mod mappings;
pub mod model;
pub mod negative;
mod progress;
pub mod report;
pub mod requests;
pub mod rules;
pub mod scenario;
mod scenario_run;
mod stateful;
pub mod strategy;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use client::{Client, Failure, Request, Target};
pub use progress::Feedback;
use report::Report;

use crate::spec::{Contract, Reading};

/// What to run, from the command line.
pub struct Config {
    /// The deployment's base URL.
    pub target: String,
    /// The key of the merchant the run may change.
    pub api_key: String,
    /// A second key, to check that the first key's changes never show under it.
    pub second_key: Option<String>,
    /// The contract.
    pub contract: Contract,
    /// Seed of every random choice.
    pub seed: u64,
    /// Generated cases (stateful sequences).
    pub cases: u32,
    /// Total time budget.
    pub max_time: Duration,
    /// Only these checks (all when empty).
    pub checks: Vec<String>,
    /// Scenario directory (the built-in scenarios when absent).
    pub scenarios: Option<PathBuf>,
    /// Send only GETs and authentication negatives.
    pub read_only: bool,
    /// Accept an `rk_live_` key.
    pub allow_live: bool,
    /// Requests per second (`None`: unlimited).
    pub rate: Option<f64>,
    /// Per-request time-out.
    pub timeout: Duration,
    /// The most bytes read of one answer (`--max-response-size`).
    pub max_response_size: usize,
    /// The credentials to activate with.
    pub credentials: Value,
    /// Check answers against the exact reading (the mock's own promise) instead of
    /// what RevKeen promises: unknown fields, values and codes fail, and so does every
    /// rule that rests on a choice of the mock ([`rules`]).
    pub exact: bool,
    /// Stop after this many failures.
    pub max_failures: Option<u64>,
    /// Credentials the target accepts and whose syncs fail, to stage the circuit
    /// breaker (against revkeen-mock, its own test credentials are used without them).
    pub failing_credentials: Option<Value>,
    /// Progress on stderr while the run goes.
    pub feedback: Feedback,
}

/// The default credentials: a healthy provider in the mock; a real provider may reject
/// them (the runner accepts `credentials_rejected` then and says so).
pub fn default_credentials() -> Value {
    json!({ "apiKey": "conform_healthy_key", "baseUrl": "https://conform.example" })
}

/// The most bytes read of one answer by default (4 MiB): 40 times the largest answer the
/// contract describes (a page of 100 sync log entries is about 47 KB).
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 4 << 20;

impl Config {
    /// A run of `target` with `api_key` against `contract`, every other setting at the
    /// command line's default (seed 0, 200 cases, 10 minutes, 10 s per request, the
    /// promised reading, no progress); set fields over it.
    pub fn new(target: impl Into<String>, api_key: impl Into<String>, contract: Contract) -> Self {
        Config {
            target: target.into(),
            api_key: api_key.into(),
            second_key: None,
            contract,
            seed: 0,
            cases: 200,
            max_time: Duration::from_secs(600),
            checks: Vec::new(),
            scenarios: None,
            read_only: false,
            allow_live: false,
            rate: None,
            timeout: Duration::from_secs(10),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            credentials: default_credentials(),
            exact: false,
            max_failures: None,
            failing_credentials: None,
            feedback: Feedback::Quiet,
        }
    }
}

struct Run<'a> {
    cfg: &'a Config,
    /// Bodies, bounds and expected statuses drawn from the spec being checked.
    planner: requests::Planner<'a>,
    /// The key whose state must never change while the run uses the first:
    /// `--second-key`, else a fresh sandbox key when the target accepts one.
    second_key: Option<String>,
    /// Credential values the run sent (an `apiKey` of 16 characters or more: the
    /// run's own, never a generated one); no later answer may hold one.
    secrets: Vec<String>,
    client: Client,
    report: Report,
    progress: progress::Progress,
    started: Instant,
    /// Numbers the idempotency keys the run makes up.
    serial: std::cell::Cell<u64>,
}

impl Run<'_> {
    fn enabled(&self, check: &str) -> bool {
        self.cfg.checks.is_empty() || self.cfg.checks.iter().any(|c| c == check)
    }

    fn out_of_time(&self) -> bool {
        self.started.elapsed() >= self.cfg.max_time
    }

    /// Whether the run's budget is spent (time, or failures); says why once.
    fn stopped(&mut self) -> bool {
        if self.report.stopped.is_some() {
            return true;
        }
        let why = if self.out_of_time() {
            Some(format!("--max-time {:?} reached", self.cfg.max_time))
        } else {
            self.cfg
                .max_failures
                .filter(|n| self.report.failure_count() >= *n)
                .map(|n| format!("--max-failures {n} reached"))
        };
        self.report.stopped = why;
        self.report.stopped.is_some()
    }

    /// Sends a request and runs the contract checks on the answer. Nothing is sent
    /// once the budget is spent, and no request outlives it by more than its time-out.
    fn send(&mut self, req: &Request) -> Result<client::Response, Failure> {
        if self.stopped() {
            return Err(Failure::Stopped);
        }
        let left = self.cfg.max_time.saturating_sub(self.started.elapsed());
        let result = self.client.send(req, left);
        self.progress
            .tick(self.client.sent, self.report.failure_count());
        if matches!(result, Err(Failure::Timeout(_))) && self.stopped() {
            return Err(Failure::Stopped);
        }
        let path = req.path.split('?').next().unwrap_or("");
        let reading = if self.cfg.exact {
            Reading::Exact
        } else {
            Reading::Promised
        };
        let checked = checks::exchange(
            &self.cfg.contract,
            &req.method,
            path,
            &result,
            self.cfg.timeout,
            reading,
        );
        for warning in checked.forward_compatible {
            *self.report.forward_compatible.entry(warning).or_default() += 1;
        }
        let curl = req.curl(self.client.target(), &self.cfg.api_key);
        if self.enabled(checks::NO_SECRET_ECHO)
            && let Ok(r) = &result
        {
            let body = String::from_utf8_lossy(&r.body);
            let leaked = self.secrets.iter().find(|s| {
                body.contains(s.as_str()) || r.headers.iter().any(|(_, v)| v.contains(s.as_str()))
            });
            match leaked {
                Some(s) => self.report.violated(
                    checks::NO_SECRET_ECHO,
                    &rules::NO_SECRET_ECHO,
                    self.cfg.exact,
                    format!(
                        "{} {}: the answer holds a credential value the run sent ({}...)",
                        req.method,
                        req.path,
                        &s[..4]
                    ),
                    vec![curl.clone()],
                ),
                None => self.report.pass(checks::NO_SECRET_ECHO),
            }
        }
        if let Some(key) = req
            .body
            .as_deref()
            .filter(|b| b.contains("apiKey"))
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .and_then(|b| {
                b.pointer("/credentials/apiKey")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|k| k.len() >= 16 && !self.secrets.contains(k))
        {
            self.secrets.push(key);
        }
        for check in &checks::PER_ANSWER {
            if !self.enabled(check) {
                continue;
            }
            match checked.findings.iter().find(|f| f.check == *check) {
                Some(f) => self.report.violated(
                    check,
                    &rules::ANSWER_CONTRACT,
                    self.cfg.exact,
                    f.message.clone(),
                    vec![curl.clone()],
                ),
                None => self.report.pass(check),
            }
        }
        result
    }

    fn phase(&self, name: &str) {
        self.progress
            .phase(name, self.client.sent, self.report.failure_count());
    }

    /// Counts a violation of `rule` (a failure, or a difference from the mock; see
    /// [`rules`]).
    fn violated(
        &mut self,
        check: &str,
        rule: &'static rules::Rule,
        message: String,
        repro: Vec<String>,
    ) {
        self.report
            .violated(check, rule, self.cfg.exact, message, repro);
    }

    /// A check of `rule` inside a sequential check: `Ok` when it holds, or when it
    /// rests on the mock's choice outside `--exact` (the difference is reported and the
    /// check goes on); else the failure that ends the check.
    fn expect_rule(
        &mut self,
        rule: &'static rules::Rule,
        holds: bool,
        message: impl FnOnce() -> String,
        trail: &[String],
    ) -> Result<(), breaker::Verdict> {
        if holds {
            return Ok(());
        }
        if rule.source.fails(self.cfg.exact) {
            return Err(breaker::Verdict::Fail(rule, message()));
        }
        self.violated(rule.check, rule, message(), trail.to_vec());
        Ok(())
    }

    /// A request with the run's key and every header the operation requires (its
    /// sample value; an `Idempotency-Key` a fresh one, since a key names one request).
    fn key_request(&self, method: &str, path: &str, body: Option<Value>) -> Request {
        let mut req = Request::new(method, path, Some(&self.cfg.api_key), body);
        for (name, value) in self.required_headers(method, path) {
            req = req.header(&name, &value);
        }
        req
    }

    /// The headers (other than the key) the operation at `method` `path` requires, with
    /// values: the spec's sample, and for `Idempotency-Key` a new key each time.
    fn required_headers(&self, method: &str, path: &str) -> Vec<(String, String)> {
        let Some(op) = self.planner.operation(method, path) else {
            return Vec::new();
        };
        op.parameters
            .iter()
            .filter(|p| p.required && p.location == crate::spec::ParamLocation::Header)
            .filter(|p| !p.name.eq_ignore_ascii_case("x-api-key"))
            .filter_map(|p| {
                let value = if p.name.eq_ignore_ascii_case("idempotency-key") {
                    let n = self.serial.get() + 1;
                    self.serial.set(n);
                    format!("conform-{:x}-{n}", self.cfg.seed)
                } else {
                    let v = p.default.clone().or_else(|| p.schema.as_ref()?.sample())?;
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                };
                Some((p.name.clone(), value))
            })
            .collect()
    }

    /// Before any check: the target can be reached and takes the run's key. A run
    /// against a target that cannot be reached or refuses the key would only report
    /// every check failing; it does not start (exit status 2) and says why.
    fn preflight(&mut self) -> Result<(), String> {
        let target = &self.cfg.target;
        let req = self.key_request("GET", "/integrations", None);
        match self.client.send(&req, self.cfg.timeout) {
            Err(Failure::Unreachable(why)) => Err(format!("cannot reach {target}: {why}")),
            Ok(r) if matches!(r.status, 401 | 403) => Err(format!(
                "{target} refused the API key ({} {}): pass a key it accepts with --api-key",
                r.status,
                String::from_utf8_lossy(&r.body)
            )),
            // Any other answer, or a dropped or slow one, is for the checks to judge.
            _ => Ok(()),
        }
    }

    /// The key to check isolation with: `--second-key`, else a fresh well-formed
    /// sandbox key when the target accepts one (a sandbox gives each new key an empty
    /// merchant); `None`, with the skip recorded, when neither is possible.
    fn isolation_key(&mut self) -> Option<String> {
        if let Some(k) = &self.cfg.second_key {
            return Some(k.clone());
        }
        if !self.enabled(checks::STATEFUL) || self.cfg.read_only {
            return None;
        }
        let fresh = format!("rk_sandbox_conform_isolation_{:016x}", self.cfg.seed);
        match self.send(&Request::new("GET", "/integrations", Some(&fresh), None)) {
            Ok(r) if r.status == 200 => Some(fresh),
            other => {
                let got = other.map_or_else(|e| format!("{e:?}"), |r| r.status.to_string());
                self.report.skip(
                    checks::STATEFUL,
                    "isolation between keys",
                    &format!("the target refused a fresh sandbox key ({got}); pass --second-key to check that keys never see each other's state"),
                );
                None
            }
        }
    }
}

/// Runs every check and returns the report.
pub fn run(cfg: &Config) -> Result<Report, String> {
    for key in std::iter::once(&cfg.api_key).chain(cfg.second_key.iter()) {
        if key.starts_with("rk_live_") && !cfg.allow_live {
            return Err("refusing an rk_live_ key: conform changes state and sends invalid requests; use a sandbox key, or pass --allow-live if you really mean production".into());
        }
    }
    if let Some(unknown) = cfg.checks.iter().find(|c| !checks::known(c)) {
        let mut all: Vec<&str> = checks::RUN_CHECKS.to_vec();
        all.extend(checks::PER_ANSWER);
        return Err(format!(
            "--checks: no check is called {unknown}; the checks are {}",
            all.join(", ")
        ));
    }
    let target = Target::parse(&cfg.target)?;
    let rate = cfg.rate.or(if target.loopback { None } else { Some(1.0) });
    let client = Client::new(target, cfg.timeout, rate, cfg.max_response_size)?;
    let mut run = Run {
        cfg,
        planner: requests::Planner::new(&cfg.contract, cfg.credentials.clone()),
        second_key: cfg.second_key.clone(),
        secrets: Vec::new(),
        client,
        report: Report {
            seed: cfg.seed,
            target: cfg.target.clone(),
            ..Report::default()
        },
        progress: progress::Progress::new(cfg.feedback),
        started: Instant::now(),
        serial: std::cell::Cell::new(0),
    };
    run.preflight()?;
    run.phase("isolation key");
    run.second_key = run.isolation_key();
    run.phase("scenarios");
    run.scenarios()?;
    run.phase("authentication");
    run.authentication();
    run.phase("negative inputs");
    run.negative_inputs();
    run.phase("generated bodies");
    run.generated_bodies();
    run.phase("idempotency");
    run.idempotency();
    run.phase("circuit breaker");
    run.circuit_breaker();
    run.phase("sync history");
    run.sync_history();
    run.phase("product mappings");
    run.product_mappings();
    if run.enabled(checks::STATEFUL) && cfg.cases > 0 && !run.stopped() {
        run.phase("stateful sequences");
        run.stateful();
    }
    run.progress.finish();
    run.report.requests = run.client.sent;
    run.report.seconds = run.started.elapsed().as_secs_f64();
    Ok(run.report)
}
