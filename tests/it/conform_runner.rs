//! The conformance runner against the project's own mock (zero failures) and against
//! deliberately broken targets (each check must catch its breakage, with a repro). The
//! behavioural rules, broken behind the mock and behind a variant deployment, are in
//! `conform_variants.rs`.

use crate::common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::Mock;
use common::conform;
use common::proxy::{self, Proxy};
use http_body_util::Full;
use revkeen_mock::conform::{Config, report::Report, run};
use revkeen_mock::sim::{BreakerConfig, SimConfig};
use revkeen_mock::spec::Contract;
use serde_json::json;

const KEY: &str = "rk_sandbox_conform_runner_key_01";
const SECOND: &str = "rk_sandbox_conform_runner_key_02";

fn config(target: String, seed: u64, cases: u32) -> Config {
    Config {
        second_key: Some(SECOND.into()),
        seed,
        cases,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_secs(5),
        exact: true,
        ..Config::new(target, KEY, Contract::embedded().unwrap())
    }
}

fn failed(report: &Report, check: &str) -> u64 {
    report.checks.get(check).map_or(0, |(_, f)| *f)
}

/// Stateful sequences per seed: a thousand in an optimized build (`cargo test
/// --release`); three hundred in a debug build, the README's `cargo test` (a thousand
/// took 40 s of CPU per seed there, the largest share of CI's test run). The checks
/// are the same; only the number of random sequences differs.
const SEQUENCES: u32 = if cfg!(debug_assertions) { 300 } else { 1000 };

/// One test per seed (they run in parallel), each [`SEQUENCES`] stateful sequences.
macro_rules! the_mock_passes_every_check {
    ($($name:ident: $seed:literal),* $(,)?) => {
        mod the_mock_passes_every_check {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    passes_every_check($seed).await;
                }
            )*
        }
    };
}

the_mock_passes_every_check!(seed_1: 1, seed_2: 2, seed_3: 3);

async fn passes_every_check(seed: u64) {
    let mock = Mock::start().await;
    let report = conform(config(
        format!("http://{}/v2", mock.running.addr),
        seed,
        SEQUENCES,
    ))
    .await;
    assert!(report.passed(), "seed {seed}:{}", report.text());
    assert_eq!(
        report.checks["stateful"].0,
        SEQUENCES as u64,
        "{}",
        report.text()
    );
    assert!(report.checks["scenarios"].0 > 15);
    mock.assert_conformant();
}

async fn admin(mock: &Mock, rules: serde_json::Value) {
    let r = mock
        .send(
            "POST",
            "/__mock/faults",
            &[("content-type", "application/json")],
            Some(&rules.to_string()),
        )
        .await;
    assert_eq!(r.status, 200);
}

/// Each fault, injected alone into a fresh mock, is caught by its check (a test each).
macro_rules! each_fault_is_caught {
    ($($name:ident: $check:literal => $action:expr),* $(,)?) => {
        mod each_fault_is_caught {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    fault_is_caught($check, $action).await;
                }
            )*
        }
    };
}

each_fault_is_caught!(
    server_error: "no_server_error" => json!({"type": "error", "status": 503}),
    dropped_connection: "no_dropped_connection" => json!({"type": "drop_connection"}),
    slow_answer: "response_time" => json!({"type": "latency", "ms": 400}),
);

async fn fault_is_caught(check: &str, action: serde_json::Value) {
    let mock = Mock::start().await;
    admin(&mock, json!({"rules": [{"match": {"method": "GET", "path": "/integrations"}, "action": action, "count": 3}]})).await;
    let mut cfg = config(format!("http://{}/v2", mock.running.addr), 3, 20);
    cfg.timeout = Duration::from_millis(200);
    let report = conform(cfg).await;
    assert!(
        failed(&report, check) > 0,
        "{check} did not catch it:{}",
        report.text()
    );
    let f = report.failures.iter().find(|f| f.check == check).unwrap();
    assert!(
        f.repro[0].starts_with("curl -i -X GET") && f.repro[0].contains("/v2/integrations"),
        "{:?}",
        f.repro
    );
}

/// A target that answers everything with 200 and `{"data": []}`: it ignores keys,
/// never validates, never remembers.
async fn start_broken() -> std::net::SocketAddr {
    start_fixed(200, "application/json").await
}

/// A target that answers everything with this status and content type.
async fn start_fixed(status: u16, content_type: &'static str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| async move {
                    let mut r =
                        hyper::Response::new(Full::new(Bytes::from_static(b"{\"data\":[]}")));
                    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    r.headers_mut()
                        .insert("content-type", content_type.parse().unwrap());
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_ignores_the_contract_fails_every_behavioural_check() {
    let addr = start_broken().await;
    let report = conform(config(format!("http://{addr}/v2"), 4, 30)).await;
    for check in [
        "authentication",
        "negative_inputs",
        "idempotency",
        "stateful",
        "scenarios",
        "response_schema",
        "documented_headers",
    ] {
        assert!(
            failed(&report, check) > 0,
            "{check} did not catch it:{}",
            report.text()
        );
    }
    let stateful = report
        .failures
        .iter()
        .find(|f| f.check == "stateful")
        .unwrap();
    assert!(
        stateful
            .message
            .contains("minimal failing sequence of 1 steps"),
        "shrunk: {}",
        stateful.message
    );
    assert_eq!(
        stateful.repro.len(),
        2,
        "observe, then the one failing step: {:?}",
        stateful.repro
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_keys_are_refused_unless_allowed() {
    let mut cfg = config("http://127.0.0.1:9/v2".into(), 1, 1);
    cfg.api_key = "rk_live_abcdefghijklmnopqrst".into();
    let e = tokio::task::spawn_blocking(move || run(&cfg).err())
        .await
        .unwrap()
        .unwrap();
    assert!(e.contains("--allow-live"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_runs_send_only_reads_and_auth_negatives() {
    let mock = Mock::start().await;
    let mut cfg = config(format!("http://{}/v2", mock.running.addr), 5, 40);
    cfg.read_only = true;
    let report = conform(cfg).await;
    assert!(report.passed(), "{}", report.text());
    let r = mock
        .send(
            "POST",
            "/__mock/requests/count",
            &[("content-type", "application/json")],
            Some(r#"{"key": "rk_sandbox_conform_runner_key_01", "method": "PUT"}"#),
        )
        .await;
    assert_eq!(r.json()["count"], 0, "no PUT was sent");
    let r = mock
        .send(
            "POST",
            "/__mock/requests/count",
            &[("content-type", "application/json")],
            Some(r#"{"key": "rk_sandbox_conform_runner_key_01", "method": "POST"}"#),
        )
        .await;
    assert_eq!(r.json()["count"], 0, "no POST with the key was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_shares_state_between_keys_fails_isolation() {
    let mock = Mock::start().await;
    let proxy = proxy::start(
        mock.running.addr,
        Proxy {
            all_as: Some(KEY),
            ..Proxy::PLAIN
        },
    )
    .await;
    let mut cfg = config(format!("http://{proxy}/v2"), 6, 50);
    cfg.checks = vec!["stateful".into()];
    let report = conform(cfg).await;
    let f = report
        .failures
        .iter()
        .find(|f| f.check == "stateful")
        .unwrap_or_else(|| panic!("{}", report.text()));
    assert!(f.message.contains("isolation"), "{}", f.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undocumented_statuses_and_wrong_content_types_are_caught() {
    let teapot = start_fixed(418, "application/json").await;
    let report = conform(config(format!("http://{teapot}/v2"), 7, 5)).await;
    assert!(
        failed(&report, "status_documented") > 0,
        "{}",
        report.text()
    );
    let text = start_fixed(200, "text/plain").await;
    let report = conform(config(format!("http://{text}/v2"), 7, 5)).await;
    assert!(failed(&report, "content_type") > 0, "{}", report.text());
}

/// Made-up credentials that the provider rejects are a documented alternative, not a
/// failure: the run accepts 400 credentials_rejected and keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_are_an_accepted_alternative() {
    let mock = Mock::start().await;
    let mut cfg = config(format!("http://{}/v2", mock.running.addr), 8, 100);
    cfg.credentials = json!({"apiKey": "invalid_made_up", "baseUrl": "https://conform.example"});
    cfg.checks = vec!["stateful".into()];
    let report = conform(cfg).await;
    assert!(report.passed(), "{}", report.text());
    assert_eq!(report.checks["stateful"].0, 100);
}

/// A target that refuses valid bodies as invalid: bodies drawn from the schemas'
/// strategies catch it, shrunk to a minimal body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_refuses_valid_bodies_fails_valid_inputs() {
    let mock = Mock::start().await;
    let proxy = proxy::start(mock.running.addr, Proxy::breaking(|_, p, s, j| {
        if p.ends_with("/test") && s == 200 {
            *j = json!({"error": {"type": "invalid_request_error", "code": "validation_error", "message": "refused"}});
            return 400;
        }
        s
    }))
    .await;
    let mut cfg = config(format!("http://{proxy}/v2"), 12, 100);
    cfg.checks = vec!["valid_inputs".into()];
    let report = conform(cfg).await;
    let f = report
        .failures
        .iter()
        .find(|f| f.check == "valid_inputs")
        .unwrap_or_else(|| panic!("{}", report.text()));
    assert!(
        f.message.contains("minimal failing body") && f.repro[0].contains("/test"),
        "{f:?}"
    );
}

/// `--max-time` holds to within one request time-out, however slow the target, and
/// `--max-failures` stops a run early; both say why in the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_holds_against_a_slow_target() {
    let mock = Mock::start().await;
    admin(
        &mock,
        json!({"rules": [{"match": {}, "action": {"type": "latency", "ms": 700}}]}),
    )
    .await;
    let mut cfg = config(format!("http://{}/v2", mock.running.addr), 9, 50);
    cfg.max_time = Duration::from_secs(2);
    cfg.timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let report = conform(cfg).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(3500), "took {took:?}");
    assert!(
        report
            .stopped
            .as_deref()
            .is_some_and(|s| s.contains("--max-time")),
        "{}",
        report.text()
    );

    let broken = start_broken().await;
    let mut cfg = config(format!("http://{broken}/v2"), 9, 50);
    cfg.max_failures = Some(3);
    let report = conform(cfg).await;
    assert!(
        report
            .stopped
            .as_deref()
            .is_some_and(|s| s.contains("--max-failures 3")),
        "{}",
        report.text()
    );
    assert!(
        report.requests < 30,
        "stopped early: {} requests",
        report.requests
    );
}

/// How many requests of `KEY` the mock's journal holds for `method` and a path prefix.
async fn count(mock: &Mock, method: &str, path: &str, status: Option<u16>) -> u64 {
    let mut query = json!({"key": KEY, "method": method, "path": path});
    if let Some(s) = status {
        query["status"] = json!(s);
    }
    let r = mock
        .send(
            "POST",
            "/__mock/requests/count",
            &[("content-type", "application/json")],
            Some(&query.to_string()),
        )
        .await;
    r.json()["count"].as_u64().unwrap()
}

fn breaker_only(target: String) -> Config {
    let mut cfg = config(target, 31, 0);
    cfg.checks = vec!["circuit_breaker".into()];
    cfg
}

/// Against the mock, the runner learns the breaker's threshold from `/__mock/health`,
/// stages a provider that fails one sync more than that, and sees it counted, paused,
/// refused and brought back by resume-sync; the staged provider is left inactive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_is_staged_and_followed_against_the_mock() {
    for threshold in [5, 2] {
        let mock = Mock::start_with(SimConfig {
            breaker: BreakerConfig {
                threshold,
                cooldown: None,
            },
            ..SimConfig::default()
        })
        .await;
        let report = conform(breaker_only(format!("http://{}/v2", mock.running.addr))).await;
        assert_eq!(
            report.checks.get("circuit_breaker"),
            Some(&(1, 0)),
            "threshold {threshold}:{}",
            report.text()
        );
        let syncs = count(
            &mock,
            "POST",
            "/v2/integrations/practicehub/sync",
            Some(200),
        )
        .await;
        assert_eq!(
            syncs,
            u64::from(threshold),
            "one failed sync per count to the threshold"
        );
        let refused = count(
            &mock,
            "POST",
            "/v2/integrations/practicehub/sync",
            Some(400),
        )
        .await;
        assert_eq!(refused, 1, "the paused integration refuses a manual sync");
        let resumes = count(
            &mock,
            "POST",
            "/v2/integrations/practicehub/resume-sync",
            None,
        )
        .await;
        assert_eq!(resumes, 2, "a failed trial, then a successful one");
        let r = mock
            .send(
                "GET",
                "/v2/integrations/practicehub",
                &[("x-api-key", KEY)],
                None,
            )
            .await;
        assert_eq!(r.json()["data"]["isActive"], false, "left inactive");
    }
}

/// A deployment of the mock that does not say it is one (its admin API is not served).
const HIDES_THE_ADMIN_API: Proxy = Proxy {
    refuse: |_, p, _| {
        p.starts_with("/__mock")
            .then(|| (404, json!({"error": "not found"})))
    },
    ..Proxy::PLAIN
};

/// A target that is not the mock: without failing credentials the check is skipped,
/// saying what to pass; with them it runs (credentials that always fail: leaving the
/// pause is the recovery there is to see).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_credentials_stage_the_breaker_on_any_target() {
    let mock = Mock::start().await;
    let proxy = proxy::start(mock.running.addr, HIDES_THE_ADMIN_API).await;
    let report = conform(breaker_only(format!("http://{proxy}/v2"))).await;
    assert!(report.passed(), "{}", report.text());
    let skip = report
        .skipped
        .iter()
        .find(|s| s.check == "circuit_breaker")
        .unwrap_or_else(|| panic!("skipped: {}", report.text()));
    assert!(skip.why.contains("--failing-credentials"), "{skip:?}");

    let mut cfg = breaker_only(format!("http://{proxy}/v2"));
    cfg.failing_credentials =
        Some(json!({"apiKey": "fail_sync_partner_sandbox", "baseUrl": "https://conform.example"}));
    let report = conform(cfg).await;
    assert_eq!(
        report.checks.get("circuit_breaker"),
        Some(&(1, 0)),
        "{}",
        report.text()
    );
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

/// A breaker that never opens is a failure where the threshold is known (the mock
/// says it), and a skip, with why, where the docs leave it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_that_never_opens_fails_where_the_threshold_is_known() {
    let never_pauses: proxy::Rewrite = |_, p, s, j| {
        if j.pointer("/data/syncHealth") == Some(&json!("paused")) {
            j["data"]["syncHealth"] = json!("degraded");
        }
        if p.ends_with("/sync") && s == 400 {
            *j = json!({"success": true, "jobId": "job-1"});
            return 200;
        }
        s
    };
    let mock = Mock::start().await;
    let proxy = proxy::start(mock.running.addr, Proxy::breaking(never_pauses)).await;
    let report = conform(breaker_only(format!("http://{proxy}/v2"))).await;
    let f = report
        .failures
        .iter()
        .find(|f| f.check == "circuit_breaker")
        .unwrap_or_else(|| panic!("{}", report.text()));
    assert!(
        f.message.contains("expected syncHealth paused"),
        "{}",
        f.message
    );
    assert!(f.repro.iter().any(|c| c.contains("/sync")), "{:?}", f.repro);

    // A threshold beyond what the runner tries, on a target that does not say it.
    let mock = Mock::start_with(SimConfig {
        breaker: BreakerConfig {
            threshold: 30,
            cooldown: None,
        },
        ..SimConfig::default()
    })
    .await;
    let proxy = proxy::start(mock.running.addr, HIDES_THE_ADMIN_API).await;
    let mut cfg = breaker_only(format!("http://{proxy}/v2"));
    cfg.failing_credentials = Some(json!({"apiKey": "fail_sync_partner_sandbox"}));
    let report = conform(cfg).await;
    assert_eq!(
        report.checks.get("circuit_breaker"),
        None,
        "{}",
        report.text()
    );
    let skip = report
        .skipped
        .iter()
        .find(|s| s.check == "circuit_breaker")
        .unwrap_or_else(|| panic!("{}", report.text()));
    assert!(skip.why.contains("did not auto-pause"), "{skip:?}");
}

/// A target that cannot be reached, or refuses the key, stops the run before any
/// check with a clear reason, and so does a check name that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_cannot_start_say_why() {
    let starts = |cfg: Config| async move {
        tokio::task::spawn_blocking(move || run(&cfg).err())
            .await
            .unwrap()
            .expect("the run does not start")
    };
    let e = starts(config("http://127.0.0.1:9/v2".into(), 1, 1)).await;
    assert!(e.contains("cannot reach http://127.0.0.1:9/v2"), "{e}");
    let mock = Mock::start().await;
    let mut cfg = config(format!("http://{}/v2", mock.running.addr), 1, 1);
    cfg.api_key = "rk_sandbox_short".into();
    let e = starts(cfg).await;
    assert!(e.contains("refused the API key (401"), "{e}");
    let mut cfg = config(format!("http://{}/v2", mock.running.addr), 1, 1);
    cfg.checks = vec!["stateful".into(), "breaker".into()];
    let e = starts(cfg).await;
    assert!(
        e.contains("no check is called breaker") && e.contains("circuit_breaker"),
        "{e}"
    );
}
