//! The SQLite store (`--store sqlite:PATH`) keeps every acknowledged change: the real
//! binary is killed (SIGKILL) or stopped (SIGTERM) at varied moments while several
//! connections activate integrations for fresh keys and change a sync interval, then
//! restarted on the same database, and every acknowledged write is looked up. The same
//! load against the memory store measures what it loses (it promises nothing). The
//! store's contract (the end state of a sequence equals the memory store's, concurrent
//! writes to one merchant lose nothing, idempotency, the clock, snapshots) runs
//! in-process on a database, and what the control plane keeps (fault rules, the loaded
//! fixture) is found again after a restart.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{KEY, Mock, OTHER_KEY, exchange, spawn};
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::SimConfig;
use revkeen_mock::spec::Contract;
use revkeen_mock::store::{MemoryStore, Synchronous};
use serde_json::{Value, json};

fn temp_db(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "revkeen-sqlite-{tag}-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.db")
}

const ACTIVATE: &str =
    r#"{"credentials":{"apiKey":"ph_durable","baseUrl":"https://clinic.example"}}"#;

/// What one connection had acknowledged when the process stopped.
#[derive(Default)]
struct Acknowledged {
    /// Keys whose activation of practicehub was answered 200.
    activated: Vec<String>,
    /// The key whose sync interval the worker kept changing, the last acknowledged
    /// value, and the values sent after it that got no answer.
    interval_key: String,
    interval: Option<u32>,
    unanswered_after: Vec<u32>,
}

/// How the process is stopped.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Kill,
    Term,
}

/// Runs `workers` connections of writes against `addr` until the process stops (they
/// stop at the first refused connection); stops it with `stop` after `after`.
fn load_then_stop(
    child: &mut Child,
    addr: &str,
    round: usize,
    after: Duration,
    stop: Stop,
) -> Vec<Acknowledged> {
    let stopped = Arc::new(AtomicBool::new(false));
    // The stop's moment is counted from when every worker's first write was answered,
    // not from their start: on a slow, busy machine a first write can take longer than
    // the shortest wait (150 ms), and a process stopped before it answers anything
    // proves nothing (it failed so once in CI's run here).
    let (started, first_answered) = std::sync::mpsc::channel::<()>();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let addr = addr.to_owned();
            let stopped = Arc::clone(&stopped);
            let started = started.clone();
            std::thread::spawn(move || {
                let mut acked = Acknowledged {
                    interval_key: format!("rk_sandbox_durable_interval_{round:02}_{w:02}"),
                    ..Acknowledged::default()
                };
                let (s, _) = exchange(
                    &addr,
                    "POST",
                    "/v2/integrations/terminal/activate",
                    &acked.interval_key,
                    ACTIVATE,
                )
                .expect("the first activation is answered");
                assert_eq!(s, 200);
                let _ = started.send(());
                for n in 0u32.. {
                    let (method, path, key, body, minutes) = if n % 2 == 0 {
                        let key = format!("rk_sandbox_durable_{round:02}_{w:02}_{n:06}");
                        (
                            "POST",
                            "/v2/integrations/practicehub/activate",
                            key,
                            ACTIVATE.to_owned(),
                            None,
                        )
                    } else {
                        let minutes = 5 + n % 1000;
                        (
                            "PUT",
                            "/v2/integrations/terminal/sync-interval",
                            acked.interval_key.clone(),
                            json!({ "syncIntervalMinutes": minutes }).to_string(),
                            Some(minutes),
                        )
                    };
                    match exchange(&addr, method, path, &key, &body) {
                        Ok((200, _)) => match minutes {
                            Some(m) => {
                                acked.interval = Some(m);
                                acked.unanswered_after.clear();
                            }
                            None => acked.activated.push(key),
                        },
                        Ok((status, body)) => {
                            assert!(stopped.load(Ordering::SeqCst), "{status} {body}");
                            acked.unanswered_after.extend(minutes);
                        }
                        Err(_) => {
                            acked.unanswered_after.extend(minutes);
                            if stopped.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                    }
                }
                acked
            })
        })
        .collect();
    for _ in 0..4 {
        first_answered
            .recv_timeout(Duration::from_secs(60))
            .expect("every worker's first activation is answered within a minute");
    }
    std::thread::sleep(after);
    stopped.store(true, Ordering::SeqCst);
    match stop {
        Stop::Kill => child.kill().expect("kill -9"),
        Stop::Term => {
            let ok = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(ok.success());
        }
    }
    let status = child.wait().unwrap();
    if matches!(stop, Stop::Term) {
        assert!(status.success(), "SIGTERM stops the mock cleanly: {status}");
    }
    workers.into_iter().map(|w| w.join().unwrap()).collect()
}

/// Every acknowledged write of `acked` that `addr` no longer shows.
fn lost(addr: &str, acked: &[Acknowledged]) -> Vec<String> {
    let mut lost = Vec::new();
    for a in acked {
        for key in &a.activated {
            let (s, body) = exchange(addr, "GET", "/v2/integrations/practicehub", key, "").unwrap();
            assert_eq!(s, 200, "{body}");
            if !body.contains("\"isActive\":true") {
                lost.push(format!("the activation of {key}"));
            }
        }
        let Some(minutes) = a.interval else { continue };
        let (s, body) = exchange(
            addr,
            "GET",
            "/v2/integrations/terminal",
            &a.interval_key,
            "",
        )
        .unwrap();
        assert_eq!(s, 200, "{body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        let shown = seen["data"]["syncInterval"]["intervalMs"]
            .as_u64()
            .unwrap_or(0)
            / 60_000;
        // The last acknowledged value, or one sent after it that the process applied
        // without answering: never an older one.
        if shown != u64::from(minutes) && !a.unanswered_after.contains(&(shown as u32)) {
            lost.push(format!(
                "{}: interval {shown}, the last acknowledged {minutes}",
                a.interval_key
            ));
        }
    }
    lost
}

/// Ten rounds on one database: load, stop with `stop` at a varied moment, restart, look
/// every acknowledged write up.
fn every_acknowledged_write_survives(stop: Stop) {
    let db = temp_db(&format!("{stop:?}").to_lowercase());
    let store = format!("sqlite:{}", db.display());
    let mut rng = fastrand::Rng::with_seed(28);
    let mut all: Vec<Acknowledged> = Vec::new();
    for round in 0..10 {
        let (mut child, addr) = spawn(&["--store", &store]);
        let after = Duration::from_millis(150 + rng.u64(0..350));
        let acked = load_then_stop(&mut child, &addr, round, after, stop);
        let count: usize = acked.iter().map(|a| a.activated.len()).sum();
        assert!(count > 0, "round {round}: writes were acknowledged");
        all.extend(acked);
        let (mut child, addr) = spawn(&["--store", &store]);
        let lost = lost(&addr, &all);
        assert!(
            lost.is_empty(),
            "round {round} ({stop:?}): {} acknowledged writes lost: {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}

#[test]
fn killed_with_sigkill_under_load_every_acknowledged_write_is_kept() {
    every_acknowledged_write_survives(Stop::Kill);
}

#[test]
fn stopped_with_sigterm_under_load_every_acknowledged_write_is_kept() {
    every_acknowledged_write_survives(Stop::Term);
}

/// The memory store keeps nothing across a restart: the same load loses every
/// acknowledged activation. Measured and printed, so docs/persistence.md's "memory: nothing is
/// kept" is a fact of this build.
#[test]
fn the_memory_store_loses_every_acknowledged_write_when_killed() {
    let (mut child, addr) = spawn(&["--store", "memory"]);
    let acked = load_then_stop(&mut child, &addr, 0, Duration::from_millis(200), Stop::Kill);
    let (mut child, addr) = spawn(&["--store", "memory"]);
    let lost = lost(&addr, &acked);
    let activated: usize = acked.iter().map(|a| a.activated.len()).sum();
    let intervals = acked.iter().filter(|a| a.interval.is_some()).count();
    println!(
        "memory store, kill -9: {} of {} acknowledged writes lost",
        lost.len(),
        activated + intervals
    );
    assert_eq!(lost.len(), activated + intervals);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn fault_rules_the_loaded_fixture_and_the_clock_survive_a_restart() {
    let db = temp_db("control");
    let store = format!("sqlite:{}", db.display());
    let (mut child, addr) = spawn(&["--store", &store]);
    let admin =
        |method: &str, path: &str, body: &str| exchange(&addr, method, path, "", body).unwrap();
    assert_eq!(admin("POST", "/__mock/fixtures/partners", "{}").0, 200);
    let rule = json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "error", "status": 503}, "count": 5}]});
    let (s, body) = admin("POST", "/__mock/faults", &rule.to_string());
    assert!(s == 200 || s == 201, "{s} {body}");
    assert_eq!(admin("POST", "/__mock/clock/freeze", "{}").0, 200);
    let (s, _) = admin("PUT", "/__mock/clock", r#"{"now": "2027-01-02T03:04:05Z"}"#);
    assert_eq!(s, 200);
    // One of the rule's five firings is used before the restart.
    let (s, _) = exchange(&addr, "GET", "/v2/integrations/wodify", KEY, "").unwrap();
    assert_eq!(s, 503);
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, addr) = spawn(&["--store", &store]);
    let (_, body) = exchange(&addr, "GET", "/__mock/clock", "", "").unwrap();
    assert!(body.contains("2027-01-02T03:04:05"), "{body}");
    let (_, body) = exchange(&addr, "GET", "/__mock/faults", "", "").unwrap();
    let faults: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(faults["rules"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(faults["rules"][0]["remaining"], 4, "{body}");
    // A reset goes back to the fixture loaded before the restart.
    assert_eq!(
        exchange(&addr, "POST", "/__mock/reset", "", "{}")
            .unwrap()
            .0,
        200
    );
    let (_, body) = exchange(&addr, "GET", "/__mock/health", "", "").unwrap();
    assert!(body.contains("fixtures/partners.yaml"), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}

#[test]
fn a_foreign_file_is_refused_and_left_unchanged_and_reset_state_starts_afresh() {
    let db = temp_db("foreign");
    std::fs::write(&db, "not a database, and not JSON either").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args(["serve", "--addr", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite:{}", db.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not an SQLite database") && err.contains("state.db"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&db).unwrap(),
        "not a database, and not JSON either"
    );

    std::fs::remove_file(&db).unwrap();
    let store = format!("sqlite:{}", db.display());
    let (mut child, addr) = spawn(&["--store", &store]);
    assert_eq!(
        exchange(
            &addr,
            "POST",
            "/v2/integrations/wodify/activate",
            KEY,
            ACTIVATE
        )
        .unwrap()
        .0,
        200
    );
    // A change to the start fixture's own merchant is kept too: a restart serves the
    // database and does not apply the fixture again.
    let demo = "rk_sandbox_demo_merchant_key_01";
    let (s, body) = exchange(
        &addr,
        "POST",
        "/v2/integrations/practicehub/deactivate",
        demo,
        "{}",
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, addr) = spawn(&["--store", &store]);
    let (_, body) = exchange(&addr, "GET", "/v2/integrations/practicehub", demo, "").unwrap();
    assert!(body.contains("\"isActive\":false"), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, addr) = spawn(&["--store", &store, "--reset-state"]);
    let (_, body) = exchange(&addr, "GET", "/v2/integrations/wodify", KEY, "").unwrap();
    assert!(
        body.contains("{\"data\":null}"),
        "--reset-state starts from the fixture: {body}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}

/// A strict test mock on the SQLite database at `path`.
async fn on_database(path: &std::path::Path, config: SimConfig) -> Mock {
    let (store, _) = MemoryStore::open_sqlite(config, path, Synchronous::Normal, false)
        .expect("the database opens");
    Mock::start_app(App::with_store(
        Contract::embedded().unwrap(),
        Box::new(store),
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        Control::new(AdminAccess::Open, 7),
    ))
    .await
}

/// The store's contract, as the Redis store's tests state it: the same answers and end
/// state as the memory store for one sequence, no lost update under concurrent writes
/// to one merchant, idempotent replays, the clock's due syncs, snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_contract_holds_on_a_database() {
    let db = temp_db("contract");
    let durable = on_database(&db, SimConfig::default()).await;
    let memory = Mock::start_with(SimConfig::default()).await;
    // The same frozen time as the memory store's test mock.
    let json_header = [("content-type", "application/json")];
    let freeze = durable
        .send("POST", "/__mock/clock/freeze", &json_header, None)
        .await;
    assert_eq!(freeze.status, 200);
    let now = json!({"now": "2026-05-01T09:00:00Z"}).to_string();
    let set = durable
        .send("PUT", "/__mock/clock", &json_header, Some(&now))
        .await;
    assert_eq!(set.status, 200, "{}", set.json());
    let providers = ["practicehub", "wodify", "terminal"];
    for step in 0..30 {
        let provider = providers[step % 3];
        let path = format!("/v2/integrations/{provider}");
        let (method, path, body) = match step % 5 {
            0 => (
                "POST",
                format!("{path}/activate"),
                Some(serde_json::from_str(ACTIVATE).unwrap()),
            ),
            1 => (
                "PUT",
                format!("{path}/sync-toggle"),
                Some(json!({"enabled": step % 2 == 0})),
            ),
            2 => (
                "PUT",
                format!("{path}/sync-interval"),
                Some(json!({"syncIntervalMinutes": 5 + step})),
            ),
            3 => ("POST", format!("{path}/sync"), Some(json!({}))),
            _ => ("POST", format!("{path}/deactivate"), Some(json!({}))),
        };
        let a = durable.call(method, &path, KEY, body.clone()).await;
        let b = memory.call(method, &path, KEY, body).await;
        // Request ids differ from one request to the next.
        let answer = |r: &common::Resp| {
            let mut v = r.json();
            if let Some(e) = v.get_mut("error").and_then(Value::as_object_mut) {
                e.remove("request_id");
            }
            (r.status, v)
        };
        assert_eq!(answer(&a), answer(&b), "{method} {path}");
    }
    assert_eq!(
        durable.integrations(KEY).await,
        memory.integrations(KEY).await
    );

    // Concurrent writes of one merchant: three providers activated at once, many times.
    for _ in 0..5 {
        let calls = providers.map(|p| {
            let durable = &durable;
            async move {
                durable
                    .call(
                        "POST",
                        &format!("/v2/integrations/{p}/activate"),
                        OTHER_KEY,
                        Some(serde_json::from_str(ACTIVATE).unwrap()),
                    )
                    .await
                    .status
            }
        });
        let statuses = futures_util::future::join_all(calls).await;
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 409),
            "{statuses:?}"
        );
        let active = durable.integrations(OTHER_KEY).await;
        assert_eq!(
            active
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["isActive"] == true)
                .count(),
            3,
            "no activation lost"
        );
        for p in providers {
            durable
                .call(
                    "POST",
                    &format!("/v2/integrations/{p}/deactivate"),
                    OTHER_KEY,
                    Some(json!({})),
                )
                .await;
        }
    }

    // An idempotency key replays the stored answer.
    let key_header = [
        ("x-api-key", KEY),
        ("content-type", "application/json"),
        ("idempotency-key", "sqlite-replay-1"),
    ];
    let body = json!({"syncIntervalMinutes": 45}).to_string();
    let first = durable
        .send(
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            &key_header,
            Some(&body),
        )
        .await;
    let again = durable
        .send(
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            &key_header,
            Some(&body),
        )
        .await;
    assert_eq!(first.status, again.status);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));

    // Moving the clock runs due syncs, once.
    durable.advance(3600).await;
    let logs = durable
        .get("/v2/integrations/practicehub/sync-logs?limit=100", KEY)
        .await;
    let first_count = logs.json()["data"].as_array().map_or(0, Vec::len);
    let logs = durable
        .get("/v2/integrations/practicehub/sync-logs?limit=100", KEY)
        .await;
    assert_eq!(
        logs.json()["data"].as_array().map_or(0, Vec::len),
        first_count
    );

    // A snapshot restores to the same world.
    let snap = durable
        .send("GET", "/__mock/state?full=true", &[], None)
        .await;
    assert_eq!(snap.status, 200);
    let before = durable.integrations(KEY).await;
    assert_eq!(
        durable
            .send("POST", "/__mock/reset", &json_header, Some("{}"))
            .await
            .status,
        200
    );
    let r = durable
        .send(
            "PUT",
            "/__mock/state",
            &json_header,
            Some(&snap.json().to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(durable.integrations(KEY).await, before);
    durable.assert_conformant();
    memory.assert_conformant();
}

/// `--max-tenants` holds on a database too, and counts the tenants it loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_limit_holds_on_a_database() {
    let db = temp_db("limit");
    let config = SimConfig {
        max_tenants: 3,
        ..SimConfig::default()
    };
    let mock = on_database(&db, config).await;
    let key = |n: usize| format!("rk_sandbox_sqlite_stranger_{n:06}");
    for n in 0..3 {
        assert_eq!(mock.get("/v2/integrations", &key(n)).await.status, 200);
    }
    mock.get("/v2/integrations", &key(3))
        .await
        .expect_error(403, "tenant_limit_reached");
    assert_eq!(mock.get("/v2/integrations", &key(0)).await.status, 200);
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}
