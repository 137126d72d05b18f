//! Replicas on one Redis behave as one mock: state written through one replica is read
//! through another, concurrent writes to one merchant lose nothing, the end state of
//! operations sent round-robin equals the memory store's for the same sequence, an
//! idempotency key replays on another replica, and moving the clock anywhere runs the
//! due syncs once. Each test starts its own `redis-server` (Debian's package, which
//! `scripts/test` installs when run as root) on a free port.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{KEY, Mock, OTHER_KEY, exchange, free_port};
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::SimConfig;
use revkeen_mock::spec::Contract;
use revkeen_mock::store::RedisStore;
use serde_json::{Value, json};

/// A `redis-server` of this test's own, without persistence, stopped when dropped.
struct Redis {
    child: Child,
    url: String,
}

impl Redis {
    fn start() -> Redis {
        Redis::on(free_port(), None)
    }

    /// A server persisting to an append-only file in a folder of this test's own
    /// (`tag`), which a restart on the same port (`Redis::on(port, Some(&dir))`)
    /// reads back.
    fn persistent(tag: &str) -> (Redis, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("revkeen-redis-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        (Redis::on(free_port(), Some(&dir)), dir)
    }

    /// A server on `port`; with `aof`, persisting to an append-only file in that folder.
    fn on(port: u16, aof: Option<&std::path::Path>) -> Redis {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        match aof {
            Some(dir) => cmd
                .args(["--appendonly", "yes", "--appendfsync", "always"])
                .arg("--dir")
                .arg(dir),
            None => cmd.args(["--appendonly", "no"]),
        };
        let child = cmd
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): these tests need Redis: apt-get install redis-server (scripts/test does it as root)")
            });
        let redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start on port {port}");
    }
}

impl Redis {
    /// Stops the server the way a restart does (SIGTERM: it finishes its file).
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A strict replica on `redis`, its clock frozen at T0 (the same for every replica).
async fn replica(redis: &Redis) -> Mock {
    replica_with(redis, SimConfig::default()).await
}

/// [`replica`] with simulator settings (the same on every replica).
async fn replica_with(redis: &Redis, config: SimConfig) -> Mock {
    let store = RedisStore::connect(&redis.url, "revkeen-mock:", config)
        .await
        .expect("Redis answers");
    let app = App::with_store(
        Contract::embedded().unwrap(),
        Box::new(store),
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        Control::new(AdminAccess::Open, 7),
    );
    Mock::start_app(app).await
}

async fn replicas(redis: &Redis, n: usize) -> Vec<Mock> {
    replicas_with(redis, n, SimConfig::default()).await
}

async fn replicas_with(redis: &Redis, n: usize, config: SimConfig) -> Vec<Mock> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(replica_with(redis, config.clone()).await);
    }
    let json_header = [("content-type", "application/json")];
    let now = json!({"now": "2026-05-01T09:00:00Z"}).to_string();
    let r = out[0]
        .send("POST", "/__mock/clock/freeze", &json_header, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = out[0]
        .send("PUT", "/__mock/clock", &json_header, Some(&now))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    out
}

fn activate_body(api_key: &str) -> Value {
    json!({"credentials": {"apiKey": api_key, "baseUrl": "https://clinic.example"}})
}

/// The operations one merchant goes through: (method, path, body).
fn sequence(n: usize) -> Vec<(&'static str, String, Option<Value>)> {
    let p = ["practicehub", "wodify", "terminal"];
    let mut ops = Vec::new();
    for step in 0..n {
        let provider = p[step % 3];
        let path = format!("/v2/integrations/{provider}");
        match step % 5 {
            0 => ops.push((
                "POST",
                format!("{path}/activate"),
                Some(activate_body("key_one")),
            )),
            1 => ops.push((
                "PUT",
                format!("{path}/sync-toggle"),
                Some(json!({"enabled": step % 2 == 0})),
            )),
            2 => ops.push((
                "PUT",
                format!("{path}/sync-interval"),
                Some(json!({"syncIntervalMinutes": 5 + step})),
            )),
            3 => ops.push(("POST", format!("{path}/sync"), Some(json!({})))),
            _ => ops.push(("POST", format!("{path}/deactivate"), Some(json!({})))),
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_writes_end_where_one_process_ends() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    let memory = Mock::start_with(SimConfig::default()).await;
    let keys: Vec<String> = (0..6)
        .map(|k| format!("rk_sandbox_replica_merchant_{k:04}"))
        .collect();
    // Each merchant's sequence goes round-robin over the replicas, the merchants at
    // once (so the replicas write different tenants concurrently).
    let ops = sequence(40);
    let tasks = keys.iter().enumerate().map(|(m, key)| {
        let nodes = &nodes;
        let ops = &ops;
        async move {
            let mut statuses = Vec::new();
            for (n, (method, path, body)) in ops.iter().enumerate() {
                let node = &nodes[(n + m) % nodes.len()];
                statuses.push(node.call(method, path, key, body.clone()).await.status);
            }
            statuses
        }
    });
    let replicated = futures_util::future::join_all(tasks).await;
    let mut expected = Vec::new();
    for (method, path, body) in &ops {
        expected.push(memory.call(method, path, KEY, body.clone()).await.status);
    }
    let reference = memory.integrations(KEY).await;
    for (key, statuses) in keys.iter().zip(replicated) {
        assert_eq!(statuses, expected, "{key}: the same answers as one process");
        for node in &nodes {
            let mut seen = node.integrations(key).await;
            // Ids derive from the key's seed: compare all but them.
            let strip = |v: &mut Value| {
                for i in v.as_array_mut().unwrap() {
                    i.as_object_mut().unwrap().remove("id");
                }
            };
            let mut want = reference.clone();
            strip(&mut seen);
            strip(&mut want);
            assert_eq!(seen, want, "{key}: the state one process reaches");
        }
    }
    for node in &nodes {
        node.assert_conformant();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_to_one_merchant_lose_nothing() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    // Three replicas activate three providers of one merchant at the same moment, many
    // times over: a lost update would leave one inactive.
    for round in 0..5 {
        let tasks = ["practicehub", "wodify", "terminal"]
            .into_iter()
            .zip(&nodes)
            .map(|(p, node)| async move {
                node.call(
                    "POST",
                    &format!("/v2/integrations/{p}/activate"),
                    KEY,
                    Some(activate_body("key_two")),
                )
                .await
                .status
            });
        let statuses = futures_util::future::join_all(tasks).await;
        assert_eq!(statuses, [200, 200, 200], "round {round}");
        let seen = nodes[round % 3].integrations(KEY).await;
        let active: Vec<&Value> = seen
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["isActive"] == true)
            .collect();
        assert_eq!(active.len(), 3, "round {round}: {seen}");
        for p in ["practicehub", "wodify", "terminal"] {
            let r = nodes[(round + 1) % 3]
                .call(
                    "POST",
                    &format!("/v2/integrations/{p}/deactivate"),
                    KEY,
                    Some(json!({})),
                )
                .await;
            assert_eq!(r.status, 200);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_writes_of_one_merchant_from_two_replicas_lose_nothing() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 2).await;
    // Forty payment requests at once through each replica, on one merchant: a replica
    // sends each write on top of the one before without waiting for its answer, and
    // the other replica's writes land in between (refusals, fresh reads, retries).
    // Each request is three writes (claim its Idempotency-Key, create, store the
    // answer); every acknowledged request must be there, on both replicas.
    let path = "/v2/integrations/accounting/invoice-payment-requests";
    let tasks = (0..80).map(|i| {
        let node = &nodes[i % 2];
        async move {
            let idem = format!("pipelined-{i:04}");
            let body = json!({"invoice_id": format!("inv_{i}"), "amount_minor": 100 + i, "currency": "GBP"})
                .to_string();
            let headers = [
                ("x-api-key", KEY),
                ("content-type", "application/json"),
                ("idempotency-key", idem.as_str()),
            ];
            let r = node.send("POST", path, &headers, Some(&body)).await;
            assert_eq!(r.status, 200, "request {i}: {}", r.json());
            (i, r.json()["data"]["id"].as_str().unwrap().to_owned())
        }
    });
    let created = futures_util::future::join_all(tasks).await;
    let mut ids: Vec<&str> = created.iter().map(|(_, id)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 80, "each request made its own payment request");
    for (i, id) in &created {
        for node in &nodes {
            let r = node.get(&format!("{path}/{id}"), KEY).await;
            assert_eq!(r.status, 200, "request {i}'s {id} is kept");
            assert_eq!(r.json()["data"]["amount_minor"], 100 + i);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_on_another_replica_and_conflicts_everywhere() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    let body = activate_body("key_three").to_string();
    let other = activate_body("key_four").to_string();
    let headers = || {
        [
            ("x-api-key", KEY),
            ("content-type", "application/json"),
            ("idempotency-key", "replica-idem-0001"),
        ]
    };
    let path = "/v2/integrations/wodify/activate";
    let first = nodes[0].send("POST", path, &headers(), Some(&body)).await;
    assert_eq!(first.status, 200);
    let replay = nodes[1].send("POST", path, &headers(), Some(&body)).await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));
    assert_eq!(replay.json(), first.json());
    for node in &nodes {
        node.send("POST", path, &headers(), Some(&other))
            .await
            .expect_error(409, "idempotency_conflict");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_clock_on_one_replica_runs_due_syncs_once() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    let r = nodes[0]
        .call(
            "POST",
            "/v2/integrations/wodify/activate",
            KEY,
            Some(activate_body("key_five")),
        )
        .await;
    assert_eq!(r.status, 200);
    // One minute to the first scheduled run, then one every 15: two runs in 16 minutes,
    // four entries each, however many replicas saw the clock move.
    let advance = json!({"seconds": 16 * 60}).to_string();
    let r = nodes[1]
        .send(
            "POST",
            "/__mock/clock/advance",
            &[("content-type", "application/json")],
            Some(&advance),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    for node in &nodes {
        let logs = node
            .get("/v2/integrations/wodify/sync-logs?limit=100", KEY)
            .await
            .json();
        assert_eq!(logs["pagination"]["total"], 8, "{logs}");
        let clock = node.send("GET", "/__mock/clock", &[], None).await.json();
        assert_eq!(clock["now"], "2026-05-01T09:16:00Z");
    }
    // A replica that starts later finds the state as it is (no fixture applied over it).
    let late = replica(&redis).await;
    assert_eq!(
        late.integrations(KEY).await,
        nodes[0].integrations(KEY).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_away_is_503_then_the_replica_recovers_with_the_state_kept() {
    let (mut redis, dir) = Redis::persistent("aof");
    let nodes = replicas(&redis, 1).await;
    let node = &nodes[0];
    let r = node
        .call(
            "POST",
            "/v2/integrations/wodify/activate",
            KEY,
            Some(activate_body("key_six")),
        )
        .await;
    assert_eq!(r.status, 200);
    redis.stop();
    // Away: every answer that needs the state is a 503 in the envelope, with Retry-After.
    let r = node.get("/v2/integrations", KEY).await;
    assert_eq!(r.status, 503, "{}", r.json());
    assert_eq!(r.json()["error"]["code"], "service_unavailable");
    assert!(r.header("retry-after").is_some());
    // The admin health says so too (a load balancer's health check takes it out).
    let h = node.send("GET", "/__mock/health", &[], None).await;
    assert_eq!(h.status, 503);
    assert!(
        h.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Redis"),
        "{}",
        h.json()
    );
    // Back (a restart with its append-only file): the replica recovers on its own and
    // the state is as it was.
    let _back = Redis::on(redis.port(), Some(&dir));
    let mut last = 0;
    for _ in 0..50 {
        let r = node.get("/v2/integrations/wodify", KEY).await;
        last = r.status;
        if r.status == 200 {
            assert_eq!(r.json()["data"]["isActive"], true);
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica did not recover after Redis came back (last status {last})");
}

/// A `revkeen-mock serve` process on `redis`, answering on its address.
fn spawn_replica(redis: &Redis) -> (Child, String) {
    common::spawn(&["--store", &redis.url])
}

#[test]
fn kill_9_of_one_replica_under_load_loses_nothing_acknowledged() {
    let redis = Redis::start();
    let mut nodes: Vec<(Child, String)> = (0..3).map(|_| spawn_replica(&redis)).collect();
    let addrs: Vec<String> = nodes.iter().map(|(_, a)| a.clone()).collect();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let addrs = addrs.clone();
            std::thread::spawn(move || {
                let key = format!("rk_sandbox_kill_nine_worker_{w:04}");
                let activate = activate_body("key_nine").to_string();
                let path = "/v2/integrations/wodify";
                // Activated through whichever replica answers.
                assert!(
                    (0..3).any(|n| exchange(
                        &addrs[n],
                        "POST",
                        &format!("{path}/activate"),
                        &key,
                        &activate
                    )
                    .is_ok_and(|(s, _)| s == 200)),
                    "{key}: no replica activated it"
                );
                let (mut acked, mut unacked_after, mut answered_by_survivors) =
                    (None, Vec::new(), 0);
                let mut refused = 0;
                for n in 0..120u32 {
                    let node = (n as usize + w) % 3;
                    let minutes = 5 + n;
                    let body = json!({ "syncIntervalMinutes": minutes }).to_string();
                    match exchange(
                        &addrs[node],
                        "PUT",
                        &format!("{path}/sync-interval"),
                        &key,
                        &body,
                    ) {
                        Ok((200, _)) => {
                            acked = Some(minutes);
                            unacked_after.clear();
                            answered_by_survivors += usize::from(node != 1);
                        }
                        Ok((status, body)) => {
                            assert_eq!(
                                node, 1,
                                "{key}: a surviving replica answered {status} {body}"
                            );
                            unacked_after.push(minutes);
                            refused += 1;
                        }
                        Err(_) => {
                            assert_eq!(node, 1, "{key}: a surviving replica did not answer");
                            unacked_after.push(minutes);
                            refused += 1;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                (key, acked, unacked_after, answered_by_survivors, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    let (victim, _) = &mut nodes[1];
    victim.kill().expect("kill -9");
    let _ = victim.wait();
    let mut refused_in_all = 0;
    for worker in workers {
        let (key, acked, unacked_after, survivors, refused) = worker.join().expect("a worker");
        refused_in_all += refused;
        assert_eq!(
            survivors, 80,
            "{key}: the two other replicas answered every request"
        );
        let acked = acked.expect("some writes were acknowledged");
        let (status, body) =
            exchange(&addrs[0], "GET", "/v2/integrations/wodify", &key, "").unwrap();
        assert_eq!(status, 200, "{body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        let minutes = seen["data"]["syncInterval"]["intervalMs"].as_u64().unwrap() / 60_000;
        // The last acknowledged write, or one sent after it that the killed replica may
        // have applied without answering: never an older one.
        assert!(
            minutes == u64::from(acked) || unacked_after.contains(&(minutes as u32)),
            "{key}: the interval is {minutes}, the last acknowledged {acked}"
        );
    }
    assert!(
        refused_in_all > 0,
        "the replica was killed while the load ran"
    );
    for (child, _) in &mut nodes {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_on_one_replica_restores_on_another() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    let json = [("content-type", "application/json")];
    let r = nodes[0]
        .call(
            "POST",
            "/v2/integrations/wodify/activate",
            KEY,
            Some(activate_body("key_seven")),
        )
        .await;
    assert_eq!(r.status, 200);
    let before = nodes[0].integrations(KEY).await;
    let snapshot = nodes[0]
        .send("GET", "/__mock/state?full=true", &[], None)
        .await;
    assert_eq!(snapshot.status, 200);
    let r = nodes[1].send("POST", "/__mock/reset", &json, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        nodes[2].integrations(KEY).await,
        json!([]),
        "reset everywhere"
    );
    let text = String::from_utf8(snapshot.body.to_vec()).unwrap();
    let r = nodes[1]
        .send("PUT", "/__mock/state", &json, Some(&text))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        nodes[2].integrations(KEY).await,
        before,
        "restored everywhere"
    );
    // Writes after a restore start from the restored versions (the replica that wrote
    // before it remembers an older one: its compare-and-set must not win).
    let r = nodes[0]
        .call(
            "PUT",
            "/v2/integrations/wodify/sync-interval",
            KEY,
            Some(json!({"syncIntervalMinutes": 45})),
        )
        .await;
    assert_eq!(r.status, 200);
    let after = nodes[1].integrations(KEY).await;
    assert_eq!(after[0]["syncInterval"]["intervalMs"], 2_700_000);
    assert_eq!(after[0]["isActive"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_passes_against_three_replicas_behind_a_round_robin_proxy() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    let upstreams = nodes.iter().map(|n| n.running.addr).collect();
    let addr = common::proxy::start_round_robin(upstreams, common::proxy::Proxy::PLAIN).await;
    let cfg = revkeen_mock::conform::Config {
        seed: 31,
        cases: 100,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_secs(5),
        ..revkeen_mock::conform::Config::new(
            format!("http://{addr}/v2"),
            "rk_sandbox_conform_replicas_key_01",
            Contract::embedded().unwrap(),
        )
    };
    let report = common::conform(cfg).await;
    assert!(report.passed(), "{}", report.text());
    // The staged checks ran through the replicas, not skipped.
    for check in [
        "circuit_breaker",
        "sync_history",
        "product_mappings",
        "stateful",
    ] {
        assert!(
            report
                .checks
                .get(check)
                .is_some_and(|(passed, failed)| *passed >= 1 && *failed == 0),
            "{check}: {}",
            report.text()
        );
    }
    for node in &nodes {
        node.assert_conformant();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_rule_added_through_one_replica_fires_on_all_its_count_shared() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 2).await;
    let json_header = [("content-type", "application/json")];
    let rule = json!({"rules": [{
        "match": {"path": "/integrations/{provider}", "provider": "wodify"},
        "action": {"type": "error", "status": 503},
        "count": 3
    }]})
    .to_string();
    let r = nodes[0]
        .send("POST", "/__mock/faults", &json_header, Some(&rule))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let listed = nodes[1].send("GET", "/__mock/faults", &[], None).await;
    assert_eq!(
        listed.json()["rules"][0]["remaining"],
        3,
        "{}",
        listed.json()
    );
    // Six requests alternating between the replicas: the rule fires three times in
    // all (not three per replica), then it is gone everywhere.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = nodes[i % 2].get("/v2/integrations/wodify", KEY).await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [503, 503, 503, 200, 200, 200]);
    for node in &nodes {
        let listed = node.send("GET", "/__mock/faults", &[], None).await;
        assert_eq!(listed.json()["rules"], json!([]), "{}", listed.json());
    }
    // A rule deleted through one replica stops firing on the other.
    let always = json!({"rules": [{"match": {"provider": "terminal"}, "action": {"type": "rate_limit", "retryAfter": 2}}]})
        .to_string();
    let added = nodes[1]
        .send("POST", "/__mock/faults", &json_header, Some(&always))
        .await
        .json();
    let id = added["rules"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        nodes[0].get("/v2/integrations/terminal", KEY).await.status,
        429
    );
    let r = nodes[0]
        .send(
            "DELETE",
            &format!("/__mock/faults/{id}"),
            &json_header,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        nodes[1].get("/v2/integrations/terminal", KEY).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_journal_is_one_for_all_replicas() {
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    let json_header = [("content-type", "application/json")];
    let r = nodes[0]
        .send("DELETE", "/__mock/requests", &json_header, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    for (i, (node, provider)) in nodes
        .iter()
        .zip(["practicehub", "wodify", "terminal"])
        .enumerate()
    {
        let r = node
            .call(
                "POST",
                &format!("/v2/integrations/{provider}/activate"),
                KEY,
                Some(activate_body(&format!("journal_{i}"))),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(node.get("/v2/integrations", KEY).await.status, 200);
    }
    // Read through any replica: all six requests, latest first, numbered in order.
    for node in &nodes {
        let listed = node.send("GET", "/__mock/requests", &[], None).await.json();
        let data = listed["data"].as_array().unwrap();
        assert_eq!(data.len(), 6, "{listed}");
        let ids: Vec<u64> = data.iter().map(|e| e["id"].as_u64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "latest first: {ids:?}");
        assert_eq!(data[0]["method"], "GET");
        assert_eq!(data[5]["method"], "POST");
        let count = json!({"method": "POST", "path": "/v2/integrations/", "key": KEY}).to_string();
        let counted = node
            .send("POST", "/__mock/requests/count", &json_header, Some(&count))
            .await
            .json();
        assert_eq!(counted["count"], 3, "{counted}");
    }
    let r = nodes[2]
        .send("DELETE", "/__mock/requests", &json_header, None)
        .await;
    assert_eq!(r.status, 200);
    let listed = nodes[0]
        .send("GET", "/__mock/requests", &[], None)
        .await
        .json();
    assert_eq!(listed["data"], json!([]), "cleared for all: {listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_started_under_load_is_503_then_nothing_acknowledged_is_lost() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let (mut redis, dir) = Redis::persistent("load");
    let port = redis.port();
    let nodes = Arc::new(replicas(&redis, 2).await);
    let path = "/v2/integrations/accounting/invoice-payment-requests";
    let running = Arc::new(AtomicBool::new(true));
    // Six clients, a merchant each, send payment requests through both replicas (each
    // request three writes: the key's claim, the request, the stored answer) while
    // Redis is stopped and started again. Every answer is a 200 or a 503 (the
    // replicas are strict: each answer is checked against the spec as it is sent).
    let clients = (0..6).map(|c| {
        let nodes = Arc::clone(&nodes);
        let running = Arc::clone(&running);
        tokio::spawn(async move {
            let key = format!("rk_sandbox_underload_client_{c:04}");
            let mut acknowledged = Vec::new();
            let mut unavailable = 0;
            let mut i = 0u64;
            while running.load(Ordering::Relaxed) {
                let idem = format!("load-{c}-{i}");
                let body = json!({"invoice_id": format!("inv_{c}_{i}"), "amount_minor": 1000 + i, "currency": "GBP"}).to_string();
                let headers = [
                    ("x-api-key", key.as_str()),
                    ("content-type", "application/json"),
                    ("idempotency-key", idem.as_str()),
                ];
                let r = nodes[(c + i as usize) % 2]
                    .send("POST", path, &headers, Some(&body))
                    .await;
                match r.status {
                    200 => acknowledged.push((r.json()["data"]["id"].as_str().unwrap().to_owned(), 1000 + i)),
                    503 => {
                        assert_eq!(r.json()["error"]["code"], "service_unavailable");
                        assert!(r.header("retry-after").is_some());
                        unavailable += 1;
                    }
                    other => panic!("client {c}: {other} {}", r.json()),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            (key, acknowledged, unavailable)
        })
    });
    let clients: Vec<_> = clients.collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let _back = Redis::on(port, Some(&dir));
    // Load goes on until every client has been answered again.
    let mut recovered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = nodes[0].get("/v2/integrations", KEY).await;
        let s = nodes[1].get("/v2/integrations", KEY).await;
        if r.status == 200 && s.status == 200 {
            recovered = true;
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    assert!(recovered, "the replicas answer again once Redis is back");
    let (mut total_unavailable, mut total_acknowledged) = (0, 0);
    for client in clients {
        let (key, acknowledged, unavailable) = client.await.unwrap();
        total_unavailable += unavailable;
        total_acknowledged += acknowledged.len();
        assert!(!acknowledged.is_empty());
        // Every acknowledged request is there, whole, on both replicas.
        for (id, amount) in &acknowledged {
            for node in nodes.iter() {
                let r = node.get(&format!("{path}/{id}"), &key).await;
                assert_eq!(r.status, 200, "{key}'s {id}: {}", r.json());
                assert_eq!(r.json()["data"]["amount_minor"], *amount);
            }
        }
    }
    assert!(total_unavailable > 0, "Redis was away while the load ran");
    eprintln!(
        "{total_acknowledged} requests acknowledged and found, {total_unavailable} answered 503"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_bucket_is_one_for_all_replicas() {
    use revkeen_mock::sim::RateLimit;
    let redis = Redis::start();
    let config = SimConfig {
        rate_limit: Some(RateLimit {
            per_minute: 60,
            burst: 5,
        }),
        ..SimConfig::default()
    };
    let nodes = replicas_with(&redis, 3, config).await;
    // Twelve requests at once, round-robin over three replicas, the clock frozen (no
    // token comes back): the one bucket lets exactly five through, not five per replica.
    let tasks = (0..12).map(|i| nodes[i % 3].get("/v2/integrations", KEY));
    let statuses = futures_util::future::join_all(tasks).await;
    let passed = statuses.iter().filter(|r| r.status == 200).count();
    let limited = statuses.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (passed, limited),
        (5, 7),
        "{:?}",
        statuses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        nodes[1].get("/v2/integrations", OTHER_KEY).await.status,
        200,
        "limits are per key"
    );
}

/// `--max-tenants` holds on Redis too: the tenants of every replica are counted
/// together; past the limit a new key is refused on any replica, known keys still
/// answer everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_limit_counts_the_tenants_of_every_replica() {
    let redis = Redis::start();
    let nodes = replicas_with(
        &redis,
        2,
        SimConfig {
            max_tenants: 4,
            ..SimConfig::default()
        },
    )
    .await;
    let key = |n: usize| format!("rk_sandbox_redis_stranger_{n:06}");
    for n in 0..4 {
        let r = nodes[n % 2].get("/v2/integrations", &key(n)).await;
        assert_eq!(r.status, 200, "{}", r.json());
    }
    for node in &nodes {
        node.get("/v2/integrations", &key(9))
            .await
            .expect_error(403, "tenant_limit_reached");
        for n in 0..4 {
            assert_eq!(node.get("/v2/integrations", &key(n)).await.status, 200);
        }
    }
}

/// The self-service proof on a sandbox of three replicas: partner A moves its clock two
/// hours and stages an outage through different replicas, its breaker opens and
/// `resume-sync` closes it; partner B, whose requests go round the replicas too, sees
/// exactly what it sees on a sandbox where A does nothing. Then A and B advance their
/// clocks at once through different replicas, each seeing only its own time, while
/// `conform` passes against the sandbox with a third key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_on_three_replicas_move_their_own_time_and_failures_only() {
    use crate::self_service::{A, B, advance_own, b_step, ok, seen_by_b};
    let alone_redis = Redis::start();
    let alone = replicas(&alone_redis, 3).await;
    for step in 0..4 {
        b_step(&alone[step % 3], step).await;
    }
    let expected = seen_by_b(&alone[0]).await;

    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    b_step(&nodes[0], 0).await;
    assert_eq!(
        nodes[1].activate(A, "wodify", "wod_alpha").await.status,
        200
    );
    let outage = json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "provider_outage", "syncs": 5}}]});
    ok(&nodes[2], "POST", "/faults", A, Some(outage)).await;
    b_step(&nodes[1], 1).await;
    let clock = advance_own(&nodes[0], A, 7200).await;
    assert_eq!(clock["now"], "2026-05-01T11:00:00Z");
    let wodify = nodes[2].get("/v2/integrations/wodify", A).await.json()["data"].clone();
    assert_eq!(wodify["providerState"]["mode"], "open", "{wodify}");
    b_step(&nodes[2], 2).await;
    let resumed = nodes[1]
        .call("POST", "/v2/integrations/wodify/resume-sync", A, None)
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.json());
    let wodify = nodes[0].get("/v2/integrations/wodify", A).await.json()["data"].clone();
    assert_eq!(wodify["providerState"]["mode"], "closed", "{wodify}");
    b_step(&nodes[0], 3).await;
    assert_eq!(seen_by_b(&nodes[1]).await, expected);
    for node in &nodes {
        // Reading B's view lists its integrations, which the one journal then shows:
        // the other replicas are compared on the rest.
        let seen = seen_by_b(node).await;
        assert_eq!(seen["integrations"], expected["integrations"]);
        assert_eq!(seen["clock"], expected["clock"]);
    }

    // Both at once, through different replicas; conform meanwhile, with its own key.
    let (a0, b0) = (
        ok(&nodes[0], "GET", "/clock", A, None).await["aheadSeconds"]
            .as_u64()
            .unwrap(),
        ok(&nodes[0], "GET", "/clock", B, None).await["aheadSeconds"]
            .as_u64()
            .unwrap(),
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let run = |key: &'static str, step: u64, start: u64, from: usize| {
        let (nodes, stop) = (&nodes, &stop);
        async move {
            let mut last = start;
            let mut i = from;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let clock = advance_own(&nodes[i % 3], key, step).await;
                let ahead = clock["aheadSeconds"].as_u64().unwrap();
                assert_eq!(ahead, last + step, "{key}: {clock}");
                last = ahead;
                i += 1;
            }
            last
        }
    };
    let upstreams = nodes.iter().map(|n| n.running.addr).collect();
    let addr = common::proxy::start_round_robin(upstreams, common::proxy::Proxy::PLAIN).await;
    let cfg = revkeen_mock::conform::Config {
        seed: 47,
        cases: 40,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_secs(5),
        ..revkeen_mock::conform::Config::new(
            format!("http://{addr}/v2"),
            "rk_sandbox_conform_self_clock_key_1",
            Contract::embedded().unwrap(),
        )
    };
    let conform = async {
        let report = common::conform(cfg).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        report
    };
    let (a_end, b_end, report) = tokio::join!(run(A, 60, a0, 0), run(B, 7, b0, 1), conform);
    assert!(report.passed(), "{}", report.text());
    assert!(a_end > a0 && b_end > b0);
    for node in &nodes {
        assert_eq!(
            ok(node, "GET", "/clock", A, None).await["aheadSeconds"],
            a_end
        );
        assert_eq!(
            ok(node, "GET", "/clock", B, None).await["aheadSeconds"],
            b_end
        );
        node.assert_conformant();
    }
}

const COV_KEY: &str = "rk_sandbox_coverage_replicas_001";

/// A journey of runs `rr` and default, sent round-robin through `nodes`.
async fn coverage_journey(nodes: &[&Mock]) {
    let activate =
        json!({"credentials": {"apiKey": "ph_cov", "baseUrl": "https://clinic.example"}})
            .to_string();
    let steps: [(&str, &str, Option<&str>, Option<&str>); 7] = [
        (
            "POST",
            "/v2/integrations/practicehub/activate",
            Some(&activate),
            Some("rr"),
        ),
        (
            "POST",
            "/v2/integrations/practicehub/activate",
            Some(&activate),
            Some("rr"),
        ),
        ("GET", "/v2/integrations/practicehub", None, Some("rr")),
        ("GET", "/v2/integrations?offset=1", None, Some("rr")),
        ("GET", "/v2/integrations/nope", None, Some("rr")),
        ("GET", "/v2/integrations", None, None),
        ("GET", "/v2/nowhere", None, Some("rr")),
    ];
    for (i, (method, path, body, run)) in steps.into_iter().enumerate() {
        let mut headers = vec![("x-api-key", COV_KEY)];
        headers.extend(run.map(|r| ("x-mock-run", r)));
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        nodes[i % nodes.len()]
            .send(method, path, &headers, body)
            .await;
    }
    // Refused before a key was known, in the run it names.
    nodes[0]
        .send("GET", "/v2/integrations", &[("x-mock-run", "rr")], None)
        .await;
}

async fn coverage_report(node: &Mock, run: &str) -> Value {
    let r = node
        .send(
            "GET",
            &format!("/__mock/self/coverage?run={run}"),
            &[("x-api-key", COV_KEY)],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

/// Coverage is one for all replicas: a journey sent round-robin through three replicas
/// gives, read through any of them, the report one process gives for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_through_three_replicas_is_what_one_process_counts() {
    let one = Mock::start().await;
    coverage_journey(&[&one]).await;
    let redis = Redis::start();
    let nodes = replicas(&redis, 3).await;
    coverage_journey(&nodes.iter().collect::<Vec<_>>()).await;
    for run in ["rr", "default"] {
        let expected = coverage_report(&one, run).await;
        assert!(expected["summary"]["met"].as_u64().unwrap() > 0);
        for node in &nodes {
            assert_eq!(coverage_report(node, run).await, expected, "run {run}");
        }
    }
    // Forgotten through one replica, for all.
    let r = nodes[2]
        .send(
            "DELETE",
            "/__mock/self/coverage?run=rr",
            &[("x-api-key", COV_KEY)],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let after = coverage_report(&nodes[0], "rr").await;
    assert_eq!(after["runs"], json!(["default"]));
    // Only the keyless request of run rr is left.
    assert_eq!(after["summary"]["met"], 1, "{after}");
    for node in &nodes {
        node.assert_conformant();
    }
}
