//! The speed of `capture`: a merchant with 1,000 sync log entries and a 500-package
//! catalog, captured from a mock in this process (its clock frozen), against a
//! baseline measured in the same run: the same GET requests sent by the same client
//! with nothing done with the answers (what reading alone costs). Prints the median of
//! each, their ratio, and whether the goal (< 2 s, issue #34) holds.
//!
//! Run: `cargo bench --bench capture`.

use std::time::{Duration, Instant};

use revkeen_mock::capture::{CaptureConfig, capture};
use revkeen_mock::conform::client::{Client, Request, Target};
use revkeen_mock::control::fixture;
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, Running, ServerConfig};
use revkeen_mock::sim::{Clock, SimConfig, Timestamp};
use revkeen_mock::spec::Contract;
use revkeen_mock::store::MemoryStore;

const KEY: &str = "rk_sandbox_capture_bench_key_001";
const ROUNDS: usize = 7;

/// 250 successful runs of practicehub (four entries each) and 500 packages.
fn fixture_text() -> String {
    let mut packages = String::new();
    for k in 0..500 {
        packages.push_str(&format!(
            "            - {{id: pkg_{k}, name: Package {k}, packageType: class_pack, chargeType: one_time, priceMinor: {}, visits: 10, active: true}}\n",
            1000 + k
        ));
    }
    format!(
        "merchants:\n  - key: {KEY}\n    integrations:\n      - provider: practicehub\n        credentials: {{apiKey: ph_bench, baseUrl: 'https://bench.example'}}\n        syncs: {{succeeded: 250}}\n        catalog:\n          paymentMethods: [{{id: 1, name: Cash, active: true, sortOrder: 1}}]\n          billableItems: [{{id: item_1, name: Fee, itemType: fee, chargeType: one_time, priceMinor: 500}}]\n          packages:\n{packages}"
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let at = Timestamp(1_777_626_000_000);
    let config = SimConfig {
        history_limit: 1000,
        ..SimConfig::default()
    };
    let store = MemoryStore::new(config, Clock::frozen(at));
    let f = fixture::parse(&fixture_text(), "bench.yaml").unwrap();
    let running = runtime.block_on(async {
        f.apply(&store, at).await.unwrap();
        let app = App::new(
            Contract::embedded().unwrap(),
            store,
            ServerConfig::default(),
            Control::new(AdminAccess::Open, 7),
        );
        Running::start("127.0.0.1:0", app).await.unwrap()
    });
    let target = format!("http://{}/v2", running.addr);
    let cfg = CaptureConfig {
        logs: 1000,
        captured_at: Some(at),
        ..CaptureConfig::new(target.clone(), KEY, Contract::embedded().unwrap())
    };
    let first = capture(&cfg).unwrap();
    assert_eq!(first.log_entries, 1000, "{:?}", first.notes);
    assert!(first.fixture.matches("pkg_").count() >= 500);
    // The baseline reads what the capture reads.
    let i = "/integrations/practicehub";
    let mut paths = vec!["/integrations?limit=100&offset=0".to_owned(), i.to_owned()];
    for page in 0..10 {
        paths.push(format!("{i}/sync-logs?limit=100&offset={}", page * 100));
    }
    for tail in [
        "sync-states",
        "payment-methods",
        "packages",
        "billable-items",
        "product-mappings",
        "unmapped-attempts",
    ] {
        paths.push(format!("{i}/{tail}"));
    }
    let (mut took, mut base) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut client = Client::new(
            Target::parse(&target).unwrap(),
            Duration::from_secs(30),
            None,
            64 << 20,
        )
        .unwrap();
        for p in &paths {
            let r = client
                .send(
                    &Request::new("GET", p, Some(KEY), None),
                    Duration::from_secs(30),
                )
                .unwrap();
            assert_eq!(r.status, 200, "{p}");
        }
        base.push(t.elapsed());
        let t = Instant::now();
        let report = capture(&cfg).unwrap();
        took.push(t.elapsed());
        assert_eq!(
            report.fixture, first.fixture,
            "the same capture every round"
        );
    }
    let (took, base) = (median(took), median(base));
    println!(
        "capture of 1,000 sync log entries and 500 packages ({} GET requests, {} KB of fixture), median of {ROUNDS} rounds:",
        first.requests,
        first.fixture.len() / 1024
    );
    println!("  capture            {:>8.1} ms", took.as_secs_f64() * 1e3);
    println!(
        "  baseline (the same GETs, answers unused) {:>8.1} ms",
        base.as_secs_f64() * 1e3
    );
    println!(
        "  ratio              {:>8.2}   goal < 2 s: {}",
        took.as_secs_f64() / base.as_secs_f64(),
        if took < Duration::from_secs(2) {
            "met"
        } else {
            "NOT met"
        }
    );
}
