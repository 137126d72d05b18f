//! `revkeen-mock capture`: a merchant read from a deployment (GET only) becomes a
//! fixture whose replay answers every GET as the original did, passes conform, and then
//! behaves like the original (resume, retry); a capture edited into a state the API
//! cannot reach is refused with the field named.

use crate::common;

use std::time::Duration;

use common::Mock;
use revkeen_mock::capture::{CaptureConfig, CaptureReport, capture};
use revkeen_mock::control::fixture::{self, Fixture};
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::{Clock, SimConfig, Timestamp};
use revkeen_mock::store::MemoryStore;
use serde_json::{Value, json};

const SOURCE_KEY: &str = "rk_sandbox_capture_source_key_01";
const REPLAY_KEY: &str = "rk_sandbox_captured_merchant_01";

/// The rich merchant: the mappings fixture's practicehub (catalog, products, mappings,
/// unmapped packages) with two failed syncs after its successes, a wodify whose five
/// failed syncs opened the breaker (the outage is over: its credentials are healthy),
/// and a deactivated terminal.
fn rich_fixture() -> Fixture {
    let text = fixture::BUILT_IN
        .iter()
        .find(|(n, _)| *n == "mappings")
        .unwrap()
        .1;
    let mut doc: Value = serde_yaml_ng::from_str(text).unwrap();
    let m = &mut doc["merchants"][0];
    m["key"] = json!(SOURCE_KEY);
    m["integrations"][0]["syncs"] = json!({"succeeded": 3, "failed": 2});
    m["integrations"].as_array_mut().unwrap().push(json!({
        "provider": "wodify",
        "credentials": {"apiKey": "wd_recovering_key", "baseUrl": "https://gym.wodify.example"},
        "syncIntervalMinutes": 30,
        "autoSendInvoices": true,
        "syncs": {"succeeded": 2, "failed": 5},
    }));
    m["integrations"].as_array_mut().unwrap().push(json!({
        "provider": "terminal",
        "credentials": {"apiKey": "tm_key", "baseUrl": "https://terminal.example"},
        "syncs": {"succeeded": 1},
        "deactivated": true,
    }));
    fixture::parse(&serde_yaml_ng::to_string(&doc).unwrap(), "rich.yaml").unwrap()
}

/// A mock whose clock stands still at `at`, with `fixture` applied.
async fn mock_at(at: Timestamp, fixture: &Fixture) -> Mock {
    let store = MemoryStore::new(SimConfig::default(), Clock::frozen(at));
    fixture
        .apply(&store, at)
        .await
        .expect("the fixture applies");
    Mock::start_app(App::new(
        common::contract(),
        store,
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        Control::new(AdminAccess::Open, 7),
    ))
    .await
}

/// A second from now, in whole seconds: the source's clock stands there, so the
/// answers' `Date` (the wall clock) is never later than the newest time they hold, and
/// the capture's moment is the source's own time.
fn soon() -> Timestamp {
    let wall = Timestamp::from_system(std::time::SystemTime::now());
    Timestamp((wall.0 / 1000 + 5) * 1000)
}

async fn run_capture(mock: &Mock, key: &str, keep_names: bool) -> CaptureReport {
    let cfg = CaptureConfig {
        logs: 1000,
        keep_names,
        ..CaptureConfig::new(mock.url("/v2"), key, common::contract())
    };
    capture_clean(cfg).await
}

/// Runs a capture (off the async runtime: its client blocks), which must find no
/// difference from the contract.
async fn capture_clean(cfg: CaptureConfig) -> CaptureReport {
    let report = tokio::task::spawn_blocking(move || capture(&cfg))
        .await
        .unwrap()
        .expect("the capture runs");
    assert!(
        report.differences.is_empty(),
        "{}",
        report.differences.join("\n")
    );
    report
}

/// Every GET of the API for `key`: the paths, with the sync logs' ids and the
/// integrations' ids as the source shows them.
async fn every_get(source: &Mock) -> Vec<String> {
    let mut paths = vec!["/v2/integrations".to_owned()];
    for p in ["practicehub", "wodify", "terminal"] {
        let base = format!("/v2/integrations/{p}");
        paths.push(base.clone());
        for tail in [
            "sync-logs?limit=100",
            "sync-logs?status=failed&limit=100",
            "sync-logs?latestOnly=true",
            "sync-logs?limit=5&offset=3",
            "sync-states",
            "payment-methods",
            "packages",
            "billable-items",
            "product-mappings",
            "unmapped-attempts",
        ] {
            paths.push(format!("{base}/{tail}"));
        }
        let body = source.get(&base, SOURCE_KEY).await.json();
        let Some(id) = body["data"]["id"].as_str().map(str::to_owned) else {
            continue; // never activated
        };
        paths.push(format!("{base}/sync-stats/{id}"));
        paths.push(format!("{base}/sync-stats-by-type/{id}"));
        let logs = source
            .get(&format!("{base}/sync-logs?limit=100"), SOURCE_KEY)
            .await
            .json();
        for l in logs["data"].as_array().unwrap() {
            paths.push(format!("{base}/sync-logs/{}", l["id"].as_str().unwrap()));
        }
    }
    paths
}

/// The body without what differs between any two answers (the request id).
fn comparable(mut body: Value) -> Value {
    if let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) {
        e.remove("request_id");
    }
    body
}

/// The answers of `a` (for `key_a`) and `b` (for `key_b`) to `paths` that differ.
async fn differences(
    a: &Mock,
    key_a: &str,
    b: &Mock,
    key_b: &str,
    paths: &[String],
    keys: &[&str],
) -> Vec<String> {
    let mut out = Vec::new();
    for p in paths {
        let (x, y) = (a.get(p, key_a).await, b.get(p, key_b).await);
        let (mut bx, mut by) = (comparable(x.json()), comparable(y.json()));
        mask(&mut bx, keys);
        mask(&mut by, keys);
        if x.status != y.status || bx != by {
            out.push(format!(
                "GET {p}: {} {bx}\n  replay: {} {by}",
                x.status, y.status
            ));
        }
    }
    out
}

/// Replaces the values of the fields named `keys`, anywhere in `v`, by `…`.
fn mask(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if keys.contains(&k.as_str()) {
                    *x = json!("…");
                } else {
                    mask(x, keys);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask(x, keys)),
        _ => {}
    }
}

/// The ids a run writes (the entries' and jobs' ids and the keys derived from them),
/// which each merchant's generator draws.
const NEW_IDS: &[&str] = &["id", "jobId", "idempotencyKey", "retryOf"];

/// The fields capture replaces by fakes.
const FAKED: &[&str] = &["name", "public_name", "externalName", "externalPackageName"];

/// What the independent deployment chose otherwise than the mock where the docs are
/// open (`hasRepeatableJob` while paused), and `nextRun` (its fixed time is before the
/// capture: overdue, so the replay schedules it just after the capture).
const OPEN_CHOICES: &[&str] = &["hasRepeatableJob", "nextRun"];

/// conform passes against `replay` (under the captured key).
async fn conform_passes(replay: &Mock, seed: u64) {
    let cfg = revkeen_mock::conform::Config {
        seed,
        cases: 40,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_secs(5),
        ..revkeen_mock::conform::Config::new(replay.url("/v2"), REPLAY_KEY, common::contract())
    };
    let conformance = common::conform(cfg).await;
    assert!(conformance.passed(), "{}", conformance.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_merchant_replays_every_get_passes_conform_and_behaves_alike() {
    let at = soon();
    let source = mock_at(at, &rich_fixture()).await;
    // A retry in the history: practicehub's newest failed entry, retried (the outage
    // is over, so it succeeds and resets practicehub's breaker counter).
    let failed = source
        .get(
            "/v2/integrations/practicehub/sync-logs?status=failed&limit=1",
            SOURCE_KEY,
        )
        .await
        .json();
    let log_id = failed["data"][0]["id"].as_str().unwrap().to_owned();
    let retried = source
        .call(
            "POST",
            &format!("/v2/integrations/practicehub/sync-logs/{log_id}/retry"),
            SOURCE_KEY,
            None,
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.json());
    let wodify = source
        .get("/v2/integrations/wodify", SOURCE_KEY)
        .await
        .json();
    assert_eq!(wodify["data"]["providerState"]["mode"], "open", "{wodify}");

    let report = run_capture(&source, SOURCE_KEY, true).await;
    assert_eq!(report.integrations, 3);
    assert!(report.fixture.contains("capturedAt"), "{}", report.fixture);
    // It only read.
    let journal = source
        .send("GET", "/__mock/requests?limit=1000", &[], None)
        .await;
    let methods: Vec<String> = journal.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/v2/")))
        .map(|r| r["method"].as_str().unwrap().to_owned())
        .collect();
    assert!(!methods.is_empty());
    assert!(
        methods.iter().filter(|m| *m != "GET").count() == 1,
        "only the test's own retry was not a GET: {methods:?}"
    );

    let captured = fixture::parse(&report.fixture, "captured.yaml").unwrap();
    assert_eq!(
        captured.captured_at.map(|a| a.0),
        Some(at),
        "the source's own time"
    );
    let replay = mock_at(at, &captured).await;
    let paths = every_get(&source).await;
    assert!(paths.len() > 60, "{}", paths.len());
    let diff = differences(&source, SOURCE_KEY, &replay, REPLAY_KEY, &paths, &[]).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));

    // Then it behaves as the original: the open breaker refuses a retry, resume-sync's
    // trial succeeds and closes it, and a retry of a failed entry is then refused as
    // covered by the trial; mappings are replaced and deleted, and a sync meets what is
    // left unmapped.
    let failed = source
        .get(
            "/v2/integrations/wodify/sync-logs?status=failed&limit=1",
            SOURCE_KEY,
        )
        .await
        .json();
    let retry = format!(
        "/v2/integrations/wodify/sync-logs/{}/retry",
        failed["data"][0]["id"].as_str().unwrap()
    );
    for (path, body) in [
        (retry.clone(), None),
        ("/v2/integrations/wodify/resume-sync".to_owned(), None),
        (retry.clone(), None),
        (
            "/v2/integrations/wodify/sync".to_owned(),
            Some(json!({"fullResync": false})),
        ),
    ] {
        let a = source.call("POST", &path, SOURCE_KEY, body.clone()).await;
        let b = replay.call("POST", &path, REPLAY_KEY, body).await;
        let (ja, jb) = (a.json(), b.json());
        assert_eq!(
            (a.status, &ja["error"]["code"]),
            (b.status, &jb["error"]["code"]),
            "POST {path}: {ja}\n  replay: {jb}"
        );
    }
    // Mapping: the unmapped packages met before are mapped (they leave the unmapped
    // list), one mapping deleted, then a sync meets what is left unmapped. (To products
    // the capture saw: the API lists the merchant's products nowhere but in mappings,
    // so one no mapping named is unknown to the replay; docs/capture.md says so.)
    for (method, path, body) in [
        (
            "PUT",
            "/v2/integrations/practicehub/product-mappings",
            Some(json!({"mappings": [
                {"externalId": "pkg_followup", "internalId": "prod_consult"},
                {"externalId": "pkg_pack5", "internalId": "prod_pack10"},
                {"externalId": "pkg_consult", "internalId": "prod_consult"},
            ]})),
        ),
        (
            "DELETE",
            "/v2/integrations/practicehub/product-mappings/pkg_consult",
            None,
        ),
        (
            "POST",
            "/v2/integrations/practicehub/sync",
            Some(json!({"fullResync": false})),
        ),
    ] {
        let a = source.call(method, path, SOURCE_KEY, body.clone()).await;
        let b = replay.call(method, path, REPLAY_KEY, body).await;
        let (ja, jb) = (a.json(), b.json());
        assert_eq!(a.status, b.status, "{method} {path}: {ja}\n  replay: {jb}");
        assert!(a.status < 300, "{method} {path}: {ja}");
    }
    // The new runs' ids come from each merchant's own generator: everything else of
    // every GET is the same.
    let diff = differences(&source, SOURCE_KEY, &replay, REPLAY_KEY, &paths, NEW_IDS).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));

    // conform passes against the replay.
    conform_passes(&replay, 34).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_faked_unless_kept_and_the_replay_differs_only_there() {
    let at = soon();
    let source = mock_at(at, &rich_fixture()).await;
    let report = run_capture(&source, SOURCE_KEY, false).await;
    // (The merchant's own RevKeen products keep their names: "Orthotic Insoles" stays
    // as a product, while the provider's billable item of that name is faked.)
    for real in [
        "Follow-up Appointment",
        "Monthly Wellness Plan",
        "X-Ray Referral",
    ] {
        assert!(!report.fixture.contains(real), "{real} is kept");
    }
    let again = run_capture(&source, SOURCE_KEY, false).await;
    assert_eq!(report.fixture, again.fixture, "the fakes are deterministic");
    let replay = mock_at(at, &fixture::parse(&report.fixture, "c.yaml").unwrap()).await;
    let paths = every_get(&source).await;
    let diff = differences(&source, SOURCE_KEY, &replay, REPLAY_KEY, &paths, FAKED).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

/// A captured fixture edited by hand into states the API cannot reach is refused, and
/// the error names the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_edited_into_an_unreachable_state_is_refused_with_the_field_named() {
    let at = soon();
    let source = mock_at(at, &rich_fixture()).await;
    let report = run_capture(&source, SOURCE_KEY, true).await;
    let doc: Value = serde_yaml_ng::from_str(&report.fixture).unwrap();
    let index = |provider: &str| {
        doc["merchants"][0]["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .position(|i| i["provider"] == provider)
            .unwrap()
    };
    let (wodify, practicehub) = (index("wodify"), index("practicehub"));
    let at_w = format!("merchants[0].integrations[{wodify}].captured.");
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 9] = [
        (
            |c| c["providerState"]["consecutiveErrors"] = json!(9),
            "providerState.consecutiveErrors",
        ),
        (
            |c| c["providerState"]["mode"] = json!("closed"),
            "providerState.mode",
        ),
        (
            |c| {
                for k in [0, 4] {
                    c["syncLogs"][k]["status"] = json!("syncing");
                    c["syncLogs"][k]["durationMs"] = Value::Null;
                    c["syncLogs"][k]["error"] = Value::Null;
                }
            },
            "syncLogs[4].status",
        ),
        (
            |c| c["syncLogs"][0]["retryOf"] = c["syncLogs"][0]["id"].clone(),
            "syncLogs[0].retryOf",
        ),
        (
            |c| c["syncLogs"][1]["id"] = c["syncLogs"][0]["id"].clone(),
            "syncLogs[1].id",
        ),
        (
            |c| c["syncLogs"][2]["startedAt"] = json!("2999-01-01T00:00:00Z"),
            "syncLogs[2].startedAt",
        ),
        (
            |c| c["syncLogs"][0]["error"] = Value::Null,
            "syncLogs[0].error",
        ),
        (
            |c| c["syncStates"][0]["resourceType"] = json!("patients"),
            "syncStates[0].resourceType",
        ),
        (
            |c| c["updatedAt"] = json!("2000-01-01T00:00:00Z"),
            "updatedAt",
        ),
    ];
    for (edit, field) in cases {
        let mut bad = doc.clone();
        edit(&mut bad["merchants"][0]["integrations"][wodify]["captured"]);
        let f = fixture::parse(&serde_yaml_ng::to_string(&bad).unwrap(), "edited.yaml").unwrap();
        let store = MemoryStore::new(SimConfig::default(), Clock::frozen(at));
        let e = match f.apply(&store, at).await {
            Ok(()) => panic!("{field}: the edited capture was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("edited.yaml") && e.contains(&format!("{at_w}{field}")),
            "{field}: {e}"
        );
    }
    // The unmapped packages of practicehub: one that a mapping covers cannot have been
    // met unmapped.
    let mut bad = doc.clone();
    bad["merchants"][0]["integrations"][practicehub]["captured"]["unmappedAttempts"][0]["externalPackageId"] =
        json!("pkg_consult");
    let f = fixture::parse(&serde_yaml_ng::to_string(&bad).unwrap(), "edited.yaml").unwrap();
    let store = MemoryStore::new(SimConfig::default(), Clock::frozen(at));
    let e = f.apply(&store, at).await.unwrap_err().to_string();
    assert!(
        e.contains("captured.unmappedAttempts[0].externalPackageId") && e.contains("mapping"),
        "{e}"
    );
}

/// The binary: `revkeen-mock capture` writes the file (exit 0, what it did on standard
/// error), and `serve --fixture PATH` on it starts its clock at the capture and answers
/// as the source did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_captures_and_serve_restores_the_file() {
    let at = soon();
    let source = mock_at(at, &rich_fixture()).await;
    let path = std::env::temp_dir().join(format!("revkeen-capture-{}.yaml", std::process::id()));
    let target = source.url("/v2");
    let out = path.clone();
    let captured = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
            .args(["capture", "--target", &target, "--out"])
            .arg(&out)
            .args(["--keep-names", "--logs", "50"])
            .env("REVKEEN_API_KEY", SOURCE_KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&captured.stderr);
    assert_eq!(captured.status.code(), Some(0), "{said}");
    assert!(said.contains("captured 3 integration(s)"), "{said}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(SOURCE_KEY),
        "the key used to read is not written"
    );
    let (mut child, addr) = common::spawn(&["--fixture", path.to_str().unwrap()]);
    let (status, body) =
        common::exchange(&addr, "GET", "/v2/integrations", REPLAY_KEY, "").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&path);
    assert_eq!(status, 200, "{body}");
    let served: Value = serde_json::from_str(&body).unwrap();
    let original = source.get("/v2/integrations", SOURCE_KEY).await.json();
    assert_eq!(served, original);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_key_needs_live_read_only() {
    let cfg = CaptureConfig {
        logs: 10,
        timeout: Duration::from_secs(1),
        ..CaptureConfig::new(
            "http://127.0.0.1:9/v2".to_owned(),
            "rk_live_abcdefghijklmnopqrstuv".to_owned(),
            common::contract(),
        )
    };
    let e = tokio::task::spawn_blocking(move || capture(&cfg))
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.contains("--live-read-only"), "{e}");
}

/// The answers through `a` (for `key_a`) and `b` (for `key_b`), addresses of proxies,
/// to `paths` that differ.
async fn differences_at(
    a: std::net::SocketAddr,
    key_a: &'static str,
    b: std::net::SocketAddr,
    key_b: &'static str,
    paths: Vec<String>,
) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for p in &paths {
            let read = |addr: std::net::SocketAddr, key: &str| {
                let (status, body) =
                    common::exchange(&addr.to_string(), "GET", p, key, "").unwrap();
                (status, comparable(serde_json::from_str(&body).unwrap()))
            };
            let (x, y) = (read(a, key_a), read(b, key_b));
            if x != y {
                out.push(format!("GET {p}: {x:?}\n  replay: {y:?}"));
            }
        }
        out
    })
    .await
    .unwrap()
}

/// A deployment nobody here wrote to agree with the mock: its catalog answers hold
/// only the fields the SDKs require (no types or prices, `active` as 0/1, no
/// `lastSeenAt`), every answer carries fields the contract does not name, and an
/// inactive integration's status is a value the mock does not know (`inactive`). The
/// capture through it follows the contract (no difference), says which fields the
/// mock's defaults stand in for, and the replay behind the same deployment answers
/// every GET as the original did behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_from_a_variant_deployment_replays_behind_the_same_variant() {
    use crate::conform_variants::{ADDITIONS, CATALOG_FIELDS};
    use common::proxy::{self, Proxy};
    fn both(m: &str, p: &str, s: u16, body: &mut Value, h: &mut hyper::HeaderMap) -> u16 {
        let s = (CATALOG_FIELDS.answer)(m, p, s, body, h);
        (ADDITIONS.answer)(m, p, s, body, h)
    }
    let variant = Proxy {
        answer: both,
        ..Proxy::PLAIN
    };
    let at = soon();
    let source = mock_at(at, &rich_fixture()).await;
    let front = proxy::start(source.running.addr, variant).await;
    let cfg = CaptureConfig {
        logs: 1000,
        keep_names: true,
        ..CaptureConfig::new(
            format!("http://{front}/v2"),
            SOURCE_KEY.to_owned(),
            common::contract(),
        )
    };
    let report = capture_clean(cfg).await;
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("packages.package_type")
            && notes.contains("billable-items.price")
            && notes.contains(
                "terminal: status \"inactive\" is not one the mock knows: restored as idle"
            ),
        "{notes}"
    );
    let replay = mock_at(at, &fixture::parse(&report.fixture, "v.yaml").unwrap()).await;
    let replay_front = proxy::start(replay.running.addr, variant).await;
    let paths = every_get(&source).await;
    let diff = differences_at(front, SOURCE_KEY, replay_front, REPLAY_KEY, paths).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

/// The independent deployment written from RevKeen's docs (not the mock behind a proxy,
/// tests/it/common/independent.rs), with its own document: it serves the lifecycle and
/// settings only, keeps counting failures of manual syncs while paused, and makes the
/// docs' open choices otherwise. The capture through its document finds no difference,
/// says which reads it does not serve, and the replay answers its two GETs alike, but
/// for what the deployment chose otherwise (the repeatable job while paused) and its
/// next run, a fixed time before the capture (overdue: the replay runs it once, at the
/// capture). conform passes against the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_from_the_independent_deployment_replays_its_state() {
    let addr = common::independent::start().await;
    let key = "rk_sandbox_independent_capture_1";
    let post = move |path: String, body: Value| {
        tokio::task::spawn_blocking(move || {
            common::exchange(&addr.to_string(), "POST", &path, key, &body.to_string()).unwrap()
        })
    };
    let (status, body) = post(
        "/v2/integrations/wodify/activate".into(),
        json!({"credentials": {"apiKey": "fail_always", "baseUrl": "https://gym.example"}}),
    )
    .await
    .unwrap();
    assert!(status < 300, "{status} {body}");
    for _ in 0..6 {
        post("/v2/integrations/wodify/sync".into(), json!({}))
            .await
            .unwrap();
    }
    let (status, body) = post(
        "/v2/integrations/practicehub/activate".into(),
        json!({"credentials": {"apiKey": "ph_ok", "baseUrl": "https://ph.example"}}),
    )
    .await
    .unwrap();
    assert!(status < 300, "{status} {body}");
    let cfg = CaptureConfig {
        keep_names: true,
        ..CaptureConfig::new(
            format!("http://{addr}/v2"),
            key.to_owned(),
            common::independent::contract(),
        )
    };
    let report = capture_clean(cfg).await;
    assert_eq!(report.integrations, 2);
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("does not serve GET /integrations/wodify/sync-logs"),
        "{notes}"
    );
    let captured = fixture::parse(&report.fixture, "independent.yaml").unwrap();
    let at = captured.captured_at.unwrap().0;
    let replay = mock_at(at, &captured).await;
    let paths: Vec<String> = ["", "/wodify", "/practicehub", "/terminal"]
        .iter()
        .map(|p| format!("/v2/integrations{p}"))
        .collect();
    let (source, replayed) = tokio::task::spawn_blocking({
        let paths = paths.clone();
        let replay_addr = replay.running.addr.to_string();
        move || {
            let read = |a: &str, k: &str| -> Vec<(u16, Value)> {
                paths
                    .iter()
                    .map(|p| {
                        let (s, b) = common::exchange(a, "GET", p, k, "").unwrap();
                        let mut v = comparable(serde_json::from_str(&b).unwrap());
                        mask(&mut v, OPEN_CHOICES);
                        (s, v)
                    })
                    .collect()
            };
            (read(&addr.to_string(), key), read(&replay_addr, REPLAY_KEY))
        }
    })
    .await
    .unwrap();
    for ((p, a), b) in paths.iter().zip(&source).zip(&replayed) {
        assert_eq!(a, b, "GET {p}");
    }
    let wodify = &source[1].1["data"];
    assert_eq!(wodify["providerState"]["consecutiveErrors"], 6, "{wodify}");
    conform_passes(&replay, 35).await;
}

/// Whether the throttling proxy already refused its one request.
static REFUSED_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A deployment that answers its first read of wodify's sync states with a 429 and
/// `Retry-After: 1`: the capture waits a second and reads it again, and the replay is
/// the same as without the refusal. `--rate` spaces the requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_waits_out_retry_after_and_keeps_to_its_rate() {
    use common::proxy::{self, Proxy};
    fn throttle(m: &str, p: &str, s: u16, body: &mut Value, h: &mut hyper::HeaderMap) -> u16 {
        if m == "GET"
            && p.ends_with("/wodify/sync-states")
            && !REFUSED_ONCE.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            *body = json!({"error": {"type": "rate_limit_error", "code": "rate_limited", "message": "slow down"}});
            h.insert("retry-after", "1".parse().unwrap());
            return 429;
        }
        s
    }
    let at = soon();
    let source = mock_at(at, &rich_fixture()).await;
    let front = proxy::start(
        source.running.addr,
        Proxy {
            answer: throttle,
            ..Proxy::PLAIN
        },
    )
    .await;
    let rate = 40.0;
    let cfg = CaptureConfig {
        rate: Some(rate),
        keep_names: true,
        ..CaptureConfig::new(
            format!("http://{front}/v2"),
            SOURCE_KEY.to_owned(),
            common::contract(),
        )
    };
    let started = std::time::Instant::now();
    // The 429 is in the contract, so it is no difference; it is read again after it.
    let report = capture_clean(cfg).await;
    let took = started.elapsed();
    assert!(REFUSED_ONCE.load(std::sync::atomic::Ordering::SeqCst));
    let journal = source
        .send(
            "GET",
            "/__mock/requests?path=/v2/integrations/wodify/sync-states",
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(journal["data"].as_array().unwrap().len(), 2, "{journal}");
    // Lower bounds only (a busy machine is slower, never faster): the wait, and the
    // rate's spacing of every request after the first.
    let spacing = Duration::from_secs_f64((report.requests - 1) as f64 / rate);
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took >= spacing, "{took:?} for {} requests", report.requests);
    let replay = mock_at(at, &fixture::parse(&report.fixture, "t.yaml").unwrap()).await;
    let paths = every_get(&source).await;
    let diff = differences(&source, SOURCE_KEY, &replay, REPLAY_KEY, &paths, &[]).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

/// An answer that breaks the contract is listed as conform lists a failure, with a
/// `curl` line that repeats the request (the key not written out), and the fixture is
/// still made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_difference_from_the_contract_is_listed_with_a_repro() {
    use common::proxy::{self, Proxy};
    fn break_states(m: &str, p: &str, s: u16, body: &mut Value) -> u16 {
        if m == "GET" && p.ends_with("/wodify/sync-states") {
            body["success"] = json!("yes");
        }
        s
    }
    let source = mock_at(soon(), &rich_fixture()).await;
    let front = proxy::start(source.running.addr, Proxy::breaking(break_states)).await;
    let cfg = CaptureConfig::new(format!("http://{front}/v2"), SOURCE_KEY, common::contract());
    let report = tokio::task::spawn_blocking(move || capture(&cfg))
        .await
        .unwrap()
        .expect("the capture runs");
    assert_eq!(report.differences.len(), 1, "{:?}", report.differences);
    let d = &report.differences[0];
    assert!(
        d.starts_with("GET /integrations/wodify/sync-states → 200: body.success")
            && d.contains("repro: curl -i -X GET")
            && d.contains("$REVKEEN_API_KEY")
            && !d.contains(SOURCE_KEY),
        "{d}"
    );
    assert!(report.fixture.contains("capturedAt"));
}
