//! The conformance runner: `revkeen-mock conform` checks any deployment (or the mock)
//! against the contract and the documented behaviour.
//!
//! It runs, in order: the scenarios (`conformance/*.yaml`), authentication negatives,
//! negative inputs generated from the schemas, idempotency, and a stateful exploration
//! of random operation sequences compared with an independent reference
//! ([`model`]). Every answer also goes through the contract checks ([`checks`]).
//! Random sequences come from proptest, seeded, and a failing one is shrunk to a
//! minimal sequence, printed as numbered `curl` commands.

pub mod checks;
pub mod client;
mod inputs;
pub mod model;
pub mod negative;
pub mod report;
pub mod scenario;
pub mod strategy;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{
    Config as PtConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::{Value, json};

use client::{Client, Failure, Request, Target};
use model::{Model, Op, PROVIDERS};
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
    /// The credentials to activate with.
    pub credentials: Value,
    /// Check answers against the exact reading (the mock's own promise) instead of
    /// what RevKeen promises: unknown fields, values and codes fail.
    pub exact: bool,
}

/// The default credentials: a healthy provider in the mock; a real provider may reject
/// them (the runner accepts `credentials_rejected` then and says so).
pub fn default_credentials() -> Value {
    json!({ "apiKey": "conform_healthy_key", "baseUrl": "https://conform.example" })
}

struct Run<'a> {
    cfg: &'a Config,
    client: Client,
    report: Report,
    started: Instant,
}

impl Run<'_> {
    fn enabled(&self, check: &str) -> bool {
        self.cfg.checks.is_empty() || self.cfg.checks.iter().any(|c| c == check)
    }

    fn out_of_time(&self) -> bool {
        self.started.elapsed() >= self.cfg.max_time
    }

    /// Sends a request and runs the contract checks on the answer.
    fn send(&mut self, req: &Request) -> Result<client::Response, Failure> {
        let result = self.client.send(req);
        let path = req.path.split('?').next().unwrap_or("");
        let reading = if self.cfg.exact {
            Reading::Exact
        } else {
            Reading::Promised
        };
        let outcome = checks::exchange(
            &self.cfg.contract,
            &req.method,
            path,
            &result,
            self.cfg.timeout,
            reading,
        );
        for warning in outcome.forward_compatible {
            *self.report.forward_compatible.entry(warning).or_default() += 1;
        }
        let curl = req.curl(self.client.target(), &self.cfg.api_key);
        for check in &checks::PER_ANSWER {
            if !self.enabled(check) {
                continue;
            }
            match outcome.findings.iter().find(|f| f.check == *check) {
                Some(f) => self
                    .report
                    .fail(check, f.message.clone(), vec![curl.clone()]),
                None => self.report.pass(check),
            }
        }
        result
    }

    fn key_request(&self, method: &str, path: &str, body: Option<Value>) -> Request {
        Request::new(method, path, Some(&self.cfg.api_key), body)
    }

    fn scenarios(&mut self) -> Result<(), String> {
        if !self.enabled(checks::SCENARIOS) {
            return Ok(());
        }
        for s in scenario::load(self.cfg.scenarios.as_deref())? {
            // A read-only run skips every scenario that would change state: its later
            // steps depend on the changes.
            if self.cfg.read_only && s.steps.iter().any(|st| !st.request.starts_with("GET ")) {
                continue;
            }
            let mut repro = Vec::new();
            for step in &s.steps {
                let (method, path) = step
                    .request
                    .split_once(' ')
                    .unwrap_or(("GET", &step.request));
                let key = match step.key.as_str() {
                    "primary" => Some(self.cfg.api_key.as_str()),
                    "none" => None,
                    other => Some(other),
                };
                let req = Request::new(method, path, key, step.body.clone());
                repro.push(req.curl(self.client.target(), &self.cfg.api_key));
                let result = self.send(&req);
                let problem = match &result {
                    Err(e) => Some(format!("no answer ({e:?})")),
                    Ok(r) if !step.status.contains(&r.status) => Some(format!(
                        "expected status {:?}, got {}",
                        step.status, r.status
                    )),
                    Ok(r) => step.expect.iter().find_map(|(ptr, want)| {
                        let got = r
                            .json
                            .as_ref()
                            .and_then(|j| j.pointer(ptr))
                            .cloned()
                            .unwrap_or(Value::Null);
                        (got != *want).then(|| format!("expected {ptr} = {want}, got {got}"))
                    }),
                };
                match problem {
                    None => self.report.pass(checks::SCENARIOS),
                    Some(p) => {
                        let body = result
                            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                            .unwrap_or_default();
                        self.report.fail(
                            checks::SCENARIOS,
                            format!("{} / {}: {p} ({body})", s.name, step.name),
                            repro.clone(),
                        );
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs one sequence against the target and the model; `Err` describes the first
    /// disagreement.
    fn sequence(&mut self, ops: &[Op]) -> Result<(), String> {
        let list = self.key_request("GET", "/integrations", None);
        let observed = self
            .send(&list)
            .map_err(|e| format!("GET /integrations: no answer ({e:?})"))?;
        let mut model = observed
            .json
            .as_ref()
            .and_then(Model::observe)
            .ok_or("GET /integrations did not return a list")?;
        let second = match &self.cfg.second_key {
            Some(k) => {
                let r = self
                    .send(&Request::new("GET", "/integrations", Some(k), None))
                    .map_err(|e| format!("{e:?}"))?;
                r.json
            }
            None => None,
        };
        for (n, op) in ops.iter().enumerate() {
            let before = model.clone();
            let expected = model.apply(op);
            let (method, path, body) = op.request(&self.cfg.credentials);
            let req = self.key_request(method, &path, body);
            let r = self
                .send(&req)
                .map_err(|e| format!("step {}: {method} {path}: no answer ({e:?})", n + 1))?;
            // A real provider may reject the credentials: that documented alternative
            // (400 credentials_rejected) leaves the integration as it was.
            let rejected = r.status == 400
                && r.json.as_ref().and_then(|j| j.pointer("/error/code"))
                    == Some(&json!("credentials_rejected"));
            if matches!(op, Op::Activate(..)) && expected == 200 && rejected {
                model = before;
                continue;
            }
            if r.status != expected {
                return Err(format!(
                    "step {}: {method} {path}: expected {expected}, got {} {}",
                    n + 1,
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            let json = r.json.clone().unwrap_or(Value::Null);
            let diffs = match op {
                Op::List => model.compare_list(&json),
                Op::Get(i) => {
                    model.compare_one(PROVIDERS[*i], json.get("data").unwrap_or(&Value::Null))
                }
                Op::Activate(i, _) if r.status == 200 => {
                    model.compare_one(PROVIDERS[*i], json.get("data").unwrap_or(&Value::Null))
                }
                _ => Vec::new(),
            };
            if let Some(d) = diffs.first() {
                return Err(format!("step {}: {method} {path}: {d}", n + 1));
            }
        }
        let end = self
            .send(&list)
            .map_err(|e| format!("final GET /integrations: {e:?}"))?;
        if let Some(d) = model.compare_list(&end.json.unwrap_or(Value::Null)).first() {
            return Err(format!("final state: {d}"));
        }
        if let (Some(k), Some(before)) = (&self.cfg.second_key, second) {
            let after = self
                .send(&Request::new("GET", "/integrations", Some(k), None))
                .map_err(|e| format!("{e:?}"))?;
            if after.json.as_ref() != Some(&before) {
                return Err("isolation: the second key's integrations changed while only the first key was used".into());
            }
        }
        Ok(())
    }

    fn repro(&self, ops: &[Op]) -> Vec<String> {
        let mut out = vec![
            Request::new("GET", "/integrations", Some(&self.cfg.api_key), None)
                .curl(self.client.target(), &self.cfg.api_key),
        ];
        for op in ops {
            let (m, p, b) = op.request(&self.cfg.credentials);
            out.push(
                Request::new(m, &p, Some(&self.cfg.api_key), b)
                    .curl(self.client.target(), &self.cfg.api_key),
            );
        }
        out
    }
}

fn op_strategy(read_only: bool) -> BoxedStrategy<Op> {
    let p = 0usize..3;
    let reads = prop_oneof![Just(Op::List), p.clone().prop_map(Op::Get)];
    if read_only {
        return reads.boxed();
    }
    prop_oneof![
        2 => reads,
        3 => (p.clone(), proptest::option::of(5u32..=120)).prop_map(|(i, m)| Op::Activate(i, m)),
        2 => p.clone().prop_map(Op::Deactivate),
        1 => p.clone().prop_map(Op::Sync),
        1 => (p.clone(), any::<bool>()).prop_map(|(i, b)| Op::Toggle(i, b)),
        1 => (p.clone(), prop_oneof![3 => 5i64..=1440, 1 => -2i64..5, 1 => 1441i64..2000]).prop_map(|(i, m)| Op::Interval(i, m)),
        1 => (p.clone(), prop_oneof![3 => 1i64..=3650, 1 => -5i64..1]).prop_map(|(i, d)| Op::Lookback(i, d)),
        1 => (p.clone(), any::<bool>()).prop_map(|(i, b)| Op::AutoSend(i, b)),
        1 => p.clone().prop_map(Op::Resume),
        1 => p.prop_map(Op::Test),
    ]
    .boxed()
}

/// Runs every check and returns the report.
pub fn run(cfg: &Config) -> Result<Report, String> {
    for key in std::iter::once(&cfg.api_key).chain(cfg.second_key.iter()) {
        if key.starts_with("rk_live_") && !cfg.allow_live {
            return Err("refusing an rk_live_ key: conform changes state and sends invalid requests; use a sandbox key, or pass --allow-live if you really mean production".into());
        }
    }
    let target = Target::parse(&cfg.target)?;
    let rate = cfg.rate.or(if target.loopback { None } else { Some(1.0) });
    let client = Client::new(target, cfg.timeout, rate)?;
    let mut run = Run {
        cfg,
        client,
        report: Report {
            seed: cfg.seed,
            target: cfg.target.clone(),
            ..Report::default()
        },
        started: Instant::now(),
    };
    run.scenarios()?;
    run.authentication();
    run.negative_inputs();
    run.generated_bodies();
    run.idempotency();
    if run.enabled(checks::STATEFUL) && cfg.cases > 0 && !run.out_of_time() {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
        let mut runner = TestRunner::new_with_rng(
            PtConfig {
                cases: cfg.cases,
                failure_persistence: None,
                ..PtConfig::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        let strategy = proptest::collection::vec(op_strategy(cfg.read_only), 1..16);
        let cell = std::cell::RefCell::new(&mut run);
        let result = runner.run(&strategy, |ops| {
            let mut run = cell.borrow_mut();
            if run.out_of_time() {
                return Ok(());
            }
            match run.sequence(&ops) {
                Ok(()) => {
                    run.report.pass(checks::STATEFUL);
                    Ok(())
                }
                Err(e) => Err(TestCaseError::fail(e)),
            }
        });
        if let Err(TestError::Fail(reason, minimal)) = result {
            let run = cell.into_inner();
            let repro = run.repro(&minimal);
            run.report.fail(
                checks::STATEFUL,
                format!(
                    "minimal failing sequence of {} steps: {reason}",
                    minimal.len()
                ),
                repro,
            );
        }
    }
    run.report.requests = run.client.sent;
    run.report.seconds = run.started.elapsed().as_secs_f64();
    Ok(run.report)
}
