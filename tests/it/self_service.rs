//! The self-service API (`/__mock/self`): a partner moves its own merchant's clock,
//! stages failures on its own calls, resets its merchant and reads its own requests,
//! with its own key; another partner on the same sandbox sees none of it. Strict mode
//! checks every answer against specs/self-service.yaml.

use crate::common;

use common::{Mock, Resp, T0, exchange, spawn};
use revkeen_mock::control::{AdminAccess, Control, fixture};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::{Clock, RateLimit, SimConfig};
use revkeen_mock::store::MemoryStore;
use serde_json::{Value, json};

pub(crate) const A: &str = "rk_sandbox_partner_alpha_0001";
pub(crate) const B: &str = "rk_sandbox_partner_bravo_0002";

/// A self-service call with `key` (`path` below `/__mock/self`).
pub(crate) async fn me(
    mock: &Mock,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Resp {
    mock.call(method, &format!("/__mock/self{path}"), key, body)
        .await
}

/// A self-service call that must succeed; its JSON.
pub(crate) async fn ok(
    mock: &Mock,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Value {
    let r = me(mock, method, path, key, body).await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.json());
    r.json()
}

pub(crate) async fn advance_own(mock: &Mock, key: &str, seconds: u64) -> Value {
    ok(
        mock,
        "POST",
        "/clock/advance",
        key,
        Some(json!({ "seconds": seconds })),
    )
    .await
}

async fn admin(mock: &Mock, method: &str, path: &str, body: Option<Value>) -> Value {
    let text = body.map(|b| b.to_string());
    let r = mock
        .send(
            method,
            &format!("/__mock{path}"),
            &[("content-type", "application/json")],
            text.as_deref(),
        )
        .await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.json());
    r.json()
}

/// What partner B sees of its own: integrations, clock, requests (without the parts
/// no two runs share: ids, request ids, latencies).
pub(crate) async fn seen_by_b(mock: &Mock) -> Value {
    let mut requests = ok(mock, "GET", "/requests", B, None).await["data"].clone();
    for r in requests.as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        for volatile in ["id", "requestId", "latencyMicros"] {
            r.remove(volatile);
        }
    }
    json!({
        "integrations": mock.integrations(B).await,
        "clock": ok(mock, "GET", "/clock", B, None).await,
        "requests": requests,
    })
}

/// B's part of the story, in steps, so A's can be put between them.
pub(crate) async fn b_step(mock: &Mock, step: usize) {
    let r = match step {
        0 => mock.activate(B, "practicehub", "ph_bravo").await,
        1 => {
            mock.call("POST", "/v2/integrations/practicehub/sync", B, None)
                .await
        }
        2 => {
            mock.call(
                "PUT",
                "/v2/integrations/practicehub/sync-interval",
                B,
                Some(json!({ "syncIntervalMinutes": 30 })),
            )
            .await
        }
        _ => mock.get("/v2/integrations/practicehub", B).await,
    };
    assert_eq!(r.status, 200, "B's step {step}: {}", r.json());
}

#[tokio::test]
async fn a_partner_moving_its_clock_and_staging_an_outage_leaves_another_as_it_was() {
    // The run where A does nothing.
    let alone = Mock::start().await;
    for step in 0..4 {
        b_step(&alone, step).await;
    }
    let expected = seen_by_b(&alone).await;

    let shared = Mock::start().await;
    b_step(&shared, 0).await;
    assert_eq!(shared.activate(A, "wodify", "wod_alpha").await.status, 200);
    // The next five syncs of A's wodify fail: the breaker's threshold.
    let rules = ok(
        &shared,
        "POST",
        "/faults",
        A,
        Some(json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "provider_outage", "syncs": 5}}]})),
    )
    .await;
    assert_eq!(
        rules["rules"],
        json!([]),
        "an outage is the merchant's, not a rule"
    );
    b_step(&shared, 1).await;
    let clock = advance_own(&shared, A, 2 * 3600).await;
    assert_eq!(clock["aheadSeconds"], 7200);
    assert_eq!(clock["now"], "2026-05-01T11:00:00Z");
    assert_eq!(clock["sandboxNow"], "2026-05-01T09:00:00Z");
    let wodify = shared.get("/v2/integrations/wodify", A).await.json()["data"].clone();
    assert_eq!(wodify["providerState"]["mode"], "open", "{wodify}");
    assert_eq!(wodify["providerState"]["consecutiveErrors"], 5, "{wodify}");
    assert_eq!(wodify["syncHealth"], "paused", "{wodify}");
    b_step(&shared, 2).await;
    let resumed = shared
        .call("POST", "/v2/integrations/wodify/resume-sync", A, None)
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.json());
    let wodify = shared.get("/v2/integrations/wodify", A).await.json()["data"].clone();
    assert_eq!(wodify["providerState"]["mode"], "closed", "{wodify}");
    b_step(&shared, 3).await;

    assert_eq!(seen_by_b(&shared).await, expected);
    // A's own requests are A's alone.
    let a_requests = ok(&shared, "GET", "/requests", A, None).await["data"].clone();
    assert_eq!(a_requests.as_array().unwrap().len(), 4, "{a_requests}");
    assert!(
        a_requests
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["key"] == "…0001")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_advancing_at_once_each_see_only_their_own_time() {
    let mock = Mock::start().await;
    let run = |key: &'static str, step: u64| {
        let mock = &mock;
        async move {
            let mut last = 0;
            for _ in 0..25 {
                let clock = advance_own(mock, key, step).await;
                let ahead = clock["aheadSeconds"].as_u64().unwrap();
                assert_eq!(ahead, last + step, "{key}: {clock}");
                last = ahead;
            }
        }
    };
    tokio::join!(run(A, 60), run(B, 7));
    assert_eq!(
        ok(&mock, "GET", "/clock", A, None).await["aheadSeconds"],
        1500
    );
    assert_eq!(
        ok(&mock, "GET", "/clock", B, None).await["aheadSeconds"],
        175
    );
    let third = ok(&mock, "GET", "/clock", common::KEY, None).await;
    assert_eq!(third["aheadSeconds"], 0);
    assert_eq!(third["now"], "2026-05-01T09:00:00Z");
}

#[tokio::test]
async fn the_operators_clock_still_moves_every_merchant() {
    let mock = Mock::start().await;
    advance_own(&mock, A, 600).await;
    admin(
        &mock,
        "POST",
        "/clock/advance",
        Some(json!({"seconds": 60})),
    )
    .await;
    let a = ok(&mock, "GET", "/clock", A, None).await;
    assert_eq!(a["now"], "2026-05-01T09:11:00Z");
    assert_eq!(a["sandboxNow"], "2026-05-01T09:01:00Z");
    let b = ok(&mock, "GET", "/clock", B, None).await;
    assert_eq!(b["now"], "2026-05-01T09:01:00Z");
    // The merchant's answers are at its own time.
    let activated = mock.activate(A, "practicehub", "ph_alpha").await.json();
    assert_eq!(activated["data"]["createdAt"], "2026-05-01T09:11:00Z");
}

#[tokio::test]
async fn a_merchants_rate_limit_and_idempotency_windows_follow_its_own_clock() {
    let mock = Mock::start_with(SimConfig {
        rate_limit: Some(RateLimit {
            per_minute: 2,
            burst: 2,
        }),
        ..SimConfig::default()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(mock.get("/v2/integrations", A).await.status, 200);
        assert_eq!(mock.get("/v2/integrations", B).await.status, 200);
    }
    mock.get("/v2/integrations", A)
        .await
        .expect_error(429, "rate_limit_exceeded");
    mock.get("/v2/integrations", B)
        .await
        .expect_error(429, "rate_limit_exceeded");
    // A minute of A's time refills A's bucket, and only A's.
    advance_own(&mock, A, 60).await;
    assert_eq!(mock.get("/v2/integrations", A).await.status, 200);
    mock.get("/v2/integrations", B)
        .await
        .expect_error(429, "rate_limit_exceeded");

    // An Idempotency-Key is remembered for 24 hours of the merchant's time.
    let mock = Mock::start().await;
    let activate = |api_key: &str| {
        json!({"credentials": {"apiKey": api_key, "baseUrl": "https://clinic.example"}}).to_string()
    };
    let send = |body: String| {
        let mock = &mock;
        async move {
            mock.send(
                "POST",
                "/v2/integrations/practicehub/activate",
                &[
                    ("x-api-key", A),
                    ("content-type", "application/json"),
                    ("idempotency-key", "activate-once"),
                ],
                Some(&body),
            )
            .await
        }
    };
    assert_eq!(send(activate("ph_first")).await.status, 200);
    send(activate("ph_second"))
        .await
        .expect_error(409, "idempotency_conflict");
    // Another merchant's day does not free A's key.
    advance_own(&mock, B, 24 * 3600 + 1).await;
    send(activate("ph_second"))
        .await
        .expect_error(409, "idempotency_conflict");
    // A day of A's own time does: the request runs again (and meets the active
    // integration).
    advance_own(&mock, A, 24 * 3600 + 1).await;
    send(activate("ph_second"))
        .await
        .expect_error(409, "integration_already_active");
}

#[tokio::test]
async fn refusals_change_nothing() {
    let mock = Mock::start().await;
    admin(&mock, "POST", "/fixtures/auth-cases", None).await;
    let read_only = "rk_sandbox_auth_read_only_003";
    let before = |key: &'static str| {
        let mock = &mock;
        async move {
            let mut s = ok(mock, "GET", "", key, None).await;
            // The clock reads the same while the sandbox's is frozen.
            s.as_object_mut().unwrap().remove("quotas");
            s
        }
    };
    let a_before = before(A).await;
    let ro_before = before(read_only).await;

    let advance = json!({"seconds": 60});
    for (key, code) in [
        ("", "missing_api_key"),
        ("rk_live_partner_alpha_key_0001", "live_key_rejected"),
        ("rk_sandbox_auth_revoked_00002", "revoked_api_key"),
        ("not-a-key", "invalid_api_key"),
    ] {
        me(&mock, "POST", "/clock/advance", key, Some(advance.clone()))
            .await
            .expect_error(401, code);
        me(&mock, "GET", "", key, None)
            .await
            .expect_error(401, code);
    }
    // A read-only key reads, and changes nothing.
    assert_eq!(
        me(&mock, "GET", "/clock", read_only, None).await.status,
        200
    );
    let rule = json!({"rules": [{"action": {"type": "error", "status": 503}}]});
    me(&mock, "POST", "/faults", read_only, Some(rule.clone()))
        .await
        .expect_error(403, "insufficient_permissions");
    me(&mock, "POST", "/clock/advance", read_only, Some(advance))
        .await
        .expect_error(403, "insufficient_permissions");
    me(&mock, "POST", "/reset", read_only, None)
        .await
        .expect_error(403, "insufficient_permissions");

    // A rule naming another key.
    let foreign = json!({"rules": [
        {"action": {"type": "latency", "ms": 5}},
        {"match": {"key": B}, "action": {"type": "error", "status": 503}},
    ]});
    let e = me(&mock, "POST", "/faults", A, Some(foreign))
        .await
        .expect_error(403, "key_not_yours");
    assert_eq!(e["param"], "rules[1].match.key");
    // Past a quota: nothing of the request is added.
    let slow = json!({"rules": [{"action": {"type": "latency", "ms": 10_001}}]});
    let e = me(&mock, "POST", "/faults", A, Some(slow))
        .await
        .expect_error(422, "quota_exceeded");
    assert!(e["message"].as_str().unwrap().contains("10000 ms"), "{e}");
    let long_outage = json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "provider_outage", "seconds": 7_776_001}}]});
    me(&mock, "POST", "/faults", A, Some(long_outage))
        .await
        .expect_error(422, "quota_exceeded");
    let many = json!({"rules": vec![json!({"action": {"type": "latency", "ms": 1}}); 21]});
    let e = me(&mock, "POST", "/faults", A, Some(many))
        .await
        .expect_error(422, "quota_exceeded");
    assert!(e["message"].as_str().unwrap().contains("at most 20"), "{e}");
    // The horizon of one advance.
    let e = me(
        &mock,
        "POST",
        "/clock/advance",
        A,
        Some(json!({"seconds": 7_776_001})),
    )
    .await
    .expect_error(400, "validation_error");
    assert_eq!(e["param"], "seconds");
    assert_eq!(before(A).await, a_before);
    assert_eq!(before(read_only).await, ro_before);

    // Twenty rules are allowed; the twenty-first is not.
    let twenty = json!({"rules": vec![json!({"action": {"type": "latency", "ms": 1}, "match": {"path": "/nowhere"}}); 20]});
    let added = ok(&mock, "POST", "/faults", A, Some(twenty)).await;
    assert_eq!(added["rules"].as_array().unwrap().len(), 20);
    let one = json!({"rules": [{"action": {"type": "latency", "ms": 1}}]});
    me(&mock, "POST", "/faults", A, Some(one))
        .await
        .expect_error(422, "quota_exceeded");
    assert_eq!(
        ok(&mock, "GET", "/faults", A, None).await["rules"]
            .as_array()
            .unwrap()
            .len(),
        20
    );

    // Never past the latest time the clock may show.
    admin(
        &mock,
        "PUT",
        "/clock",
        Some(json!({"now": "9998-12-01T00:00:00Z"})),
    )
    .await;
    let e = me(
        &mock,
        "POST",
        "/clock/advance",
        B,
        Some(json!({"seconds": 7_776_000})),
    )
    .await
    .expect_error(400, "validation_error");
    assert!(e["message"].as_str().unwrap().contains("9999"), "{e}");
    assert_eq!(ok(&mock, "GET", "/clock", B, None).await["aheadSeconds"], 0);
}

#[tokio::test]
async fn own_rules_fire_on_own_calls_only_and_go_when_removed() {
    let mock = Mock::start().await;
    let rule = json!({"rules": [{"match": {"key": A}, "action": {"type": "rate_limit", "retryAfter": 7}, "count": 2}]});
    let added = ok(&mock, "POST", "/faults", A, Some(rule)).await;
    let id = added["rules"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(added["rules"][0]["match"]["key"], A);
    let limited = mock.get("/v2/integrations", A).await;
    limited.expect_error(429, "rate_limit_exceeded");
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert_eq!(mock.get("/v2/integrations", B).await.status, 200);
    // B neither sees nor removes A's rule.
    assert_eq!(
        ok(&mock, "GET", "/faults", B, None).await["rules"],
        json!([])
    );
    me(&mock, "DELETE", &format!("/faults/{id}"), B, None)
        .await
        .expect_error(404, "resource_not_found");
    assert_eq!(ok(&mock, "GET", "", A, None).await["rules"][0]["id"], id);
    ok(&mock, "DELETE", &format!("/faults/{id}"), A, None).await;
    assert_eq!(mock.get("/v2/integrations", A).await.status, 200);

    // Clearing removes the caller's rules and outages, no one else's.
    let staged = json!({"rules": [
        {"action": {"type": "error", "status": 503}, "match": {"method": "POST"}},
        {"match": {"provider": "practicehub"}, "action": {"type": "provider_outage", "syncs": 3}},
    ]});
    ok(&mock, "POST", "/faults", A, Some(staged.clone())).await;
    ok(&mock, "POST", "/faults", B, Some(staged)).await;
    ok(&mock, "DELETE", "/faults", A, None).await;
    assert_eq!(
        ok(&mock, "GET", "/faults", A, None).await["rules"],
        json!([])
    );
    assert_eq!(
        ok(&mock, "GET", "/faults", B, None).await["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(mock.activate(A, "practicehub", "ph_a").await.status, 200);
    mock.activate(B, "practicehub", "ph_b")
        .await
        .expect_error(503, "service_unavailable");
}

#[tokio::test]
async fn reset_and_fixtures_replace_the_merchant_but_keep_its_clock() {
    let mock = Mock::start().await;
    let id = ok(&mock, "GET", "", A, None).await["merchantId"].clone();
    assert_eq!(mock.activate(A, "practicehub", "ph_a").await.status, 200);
    advance_own(&mock, A, 3600).await;

    let loaded = ok(&mock, "POST", "/fixtures/breaker-open", A, None).await;
    assert!(
        loaded["message"]
            .as_str()
            .unwrap()
            .contains("rk_sandbox_breaker_open_key_001"),
        "{loaded}"
    );
    let me_now = ok(&mock, "GET", "", A, None).await;
    assert_eq!(me_now["merchantId"], id, "the merchant's ids are its key's");
    assert_eq!(me_now["clock"]["aheadSeconds"], 3600);
    let integrations = mock.integrations(A).await;
    assert_eq!(integrations.as_array().unwrap().len(), 1, "{integrations}");
    assert_eq!(integrations[0]["provider"], "wodify");
    assert_eq!(integrations[0]["providerState"]["mode"], "open");
    // Staged at the merchant's own time.
    assert_eq!(integrations[0]["updatedAt"], "2026-05-01T10:00:00Z");
    // The fixture's own key is untouched.
    assert_eq!(
        mock.integrations("rk_sandbox_breaker_open_key_001")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // A named merchant of a fixture with several.
    ok(
        &mock,
        "POST",
        "/fixtures/partners?merchant=rk_sandbox_partner_charlie_003",
        A,
        None,
    )
    .await;
    me(
        &mock,
        "POST",
        "/fixtures/partners?merchant=rk_sandbox_nobody_00000000001",
        A,
        None,
    )
    .await
    .expect_error(404, "resource_not_found");
    me(&mock, "POST", "/fixtures/nope", A, None)
        .await
        .expect_error(404, "resource_not_found");

    // A key the loaded fixture does not name resets to empty, its clock kept.
    ok(&mock, "POST", "/reset", A, None).await;
    assert_eq!(mock.integrations(A).await, json!([]));
    assert_eq!(
        ok(&mock, "GET", "/clock", A, None).await["aheadSeconds"],
        3600
    );
    // The demo merchant of the default fixture resets to what the fixture gives it.
    let demo = "rk_sandbox_demo_merchant_key_01";
    admin(&mock, "POST", "/fixtures/default", None).await;
    let staged = mock.integrations(demo).await;
    mock.call(
        "POST",
        "/v2/integrations/practicehub/deactivate",
        demo,
        None,
    )
    .await;
    ok(&mock, "POST", "/reset", demo, None).await;
    assert_eq!(mock.integrations(demo).await, staged);
}

#[tokio::test]
async fn snapshots_keep_each_merchants_clock() {
    let mock = Mock::start().await;
    advance_own(&mock, A, 3600).await;
    let state = admin(&mock, "GET", "/state?full=true", None).await;
    assert_eq!(state["merchants"][A]["clockAheadMs"], 3_600_000, "{state}");
    let fresh = Mock::start().await;
    admin(&fresh, "PUT", "/state", Some(state)).await;
    let clock = ok(&fresh, "GET", "/clock", A, None).await;
    assert_eq!(clock["aheadSeconds"], 3600);
    assert_eq!(clock["now"], "2026-05-01T10:00:00Z");
}

#[tokio::test]
async fn any_origin_may_call_it_as_it_may_call_the_api() {
    let mock = Mock::start().await;
    let origin = "https://partner-app.example";
    let pre = mock
        .send(
            "OPTIONS",
            "/__mock/self/faults",
            &[
                ("origin", origin),
                ("access-control-request-method", "DELETE"),
                ("access-control-request-headers", "x-api-key, content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some(origin));
    assert!(
        pre.header("access-control-allow-methods")
            .unwrap()
            .contains("DELETE")
    );
    let r = mock
        .send(
            "GET",
            "/__mock/self/clock",
            &[("origin", origin), ("x-api-key", A)],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    // The operator's admin API still grants no origin.
    let admin = mock
        .send("GET", "/__mock/clock", &[("origin", origin)], None)
        .await;
    assert_eq!(admin.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_partner_dashboard_is_served_without_a_key_and_get_self_shows_the_merchant() {
    let mock = Mock::start().await;
    let page = mock.send("GET", "/__mock/self/ui", &[], None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(String::from_utf8_lossy(&page.body).contains("/__mock/self"));
    assert_eq!(mock.activate(A, "practicehub", "ph_a").await.status, 200);
    let me_now = ok(&mock, "GET", "", A, None).await;
    assert_eq!(me_now["key"], "…0001");
    assert_eq!(me_now["integrations"][0]["provider"], "practicehub");
    assert_eq!(me_now["outages"], json!([]));
    assert!(me_now["recentRuns"]["practicehub"].is_array(), "{me_now}");
    // What the operator's listing shows of that tenant, at the merchant's own time.
    advance_own(&mock, A, 600).await;
    let me_now = ok(&mock, "GET", "", A, None).await;
    let listed = admin(&mock, "GET", &format!("/tenants?key={A}"), None).await;
    assert_eq!(me_now["integrations"], listed["data"][0]["integrations"]);
    assert_eq!(me_now["recentRuns"], listed["data"][0]["recentRuns"]);
}

#[tokio::test]
async fn a_fixture_may_start_a_merchant_ahead_and_cool_downs_follow_the_merchants_clock() {
    let mock = Mock::start_with(SimConfig {
        breaker: revkeen_mock::sim::BreakerConfig {
            threshold: 5,
            cooldown: Some(std::time::Duration::from_secs(15 * 60)),
        },
        ..SimConfig::default()
    })
    .await;
    let f = fixture::parse(
        &format!(
            "merchants:
  - key: {A}
    clockAheadSeconds: 3600
    integrations:
      - provider: practicehub
        credentials: {{apiKey: ph_ahead, baseUrl: 'https://ahead.example'}}
        syncs: {{succeeded: 1}}
  - key: {B}
    integrations:
      - provider: wodify
        credentials: {{apiKey: wod_open, baseUrl: 'https://open.example'}}
        syncs: {{failed: 5}}
"
        ),
        "ahead.yaml",
    )
    .unwrap();
    f.apply(&*mock.running.app.store, T0).await.unwrap();
    let clock = ok(&mock, "GET", "/clock", A, None).await;
    assert_eq!(clock["aheadSeconds"], 3600);
    assert_eq!(clock["sandboxNow"], "2026-05-01T09:00:00Z");
    let ph = &mock.integrations(A).await[0];
    // Staged at its own time: the last sync a minute before it.
    assert_eq!(ph["lastSyncAt"], "2026-05-01T09:59:00Z", "{ph}");

    // B's breaker opened; A's time does nothing to it; B's own 16 minutes pass the
    // cool-down (half-open) and the next scheduled sync, the trial, which succeeds (the
    // outage is over) and closes it.
    let mode = |key: &'static str| {
        let mock = &mock;
        async move {
            mock.get("/v2/integrations/wodify", key).await.json()["data"]["providerState"]["mode"]
                .clone()
        }
    };
    assert_eq!(mode(B).await, "open");
    advance_own(&mock, A, 16 * 60).await;
    assert_eq!(mode(B).await, "open");
    advance_own(&mock, B, 16 * 60).await;
    assert_eq!(mode(B).await, "closed");
    let trial = &mock
        .get("/v2/integrations/wodify/sync-logs?limit=1", B)
        .await
        .json()["data"][0];
    assert_eq!(trial["status"], "success", "{trial}");
    assert_eq!(trial["jobType"], "scheduled", "{trial}");
}

#[tokio::test]
async fn turned_off_its_paths_are_unknown() {
    let mut control = Control::new(AdminAccess::Open, 7);
    control.self_service = None;
    let mock = Mock::start_app(App::new(
        common::contract(),
        MemoryStore::new(SimConfig::default(), Clock::frozen(T0)),
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        control,
    ))
    .await;
    me(&mock, "GET", "/clock", A, None)
        .await
        .expect_error(404, "route_not_found");
    // The operator's admin API is still there.
    admin(&mock, "GET", "/clock", None).await;
}

#[test]
fn a_merchants_clock_survives_the_process_being_killed() {
    let dir = std::env::temp_dir().join(format!(
        "revkeen-self-clock-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = format!("sqlite:{}", dir.join("state.db").display());
    let (mut child, addr) = spawn(&["--store", &store]);
    let (s, body) = exchange(
        &addr,
        "POST",
        "/__mock/self/clock/advance",
        A,
        r#"{"seconds": 5400}"#,
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, addr) = spawn(&["--store", &store]);
    let (s, body) = exchange(&addr, "GET", "/__mock/self/clock", A, "").unwrap();
    assert_eq!(s, 200, "{body}");
    let clock: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(clock["aheadSeconds"], 5400, "{body}");
    let (_, body) = exchange(&addr, "GET", "/__mock/self/clock", B, "").unwrap();
    let clock: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(clock["aheadSeconds"], 0, "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
