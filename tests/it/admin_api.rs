//! The admin API (`/__mock`): every endpoint, fault rules, the breaker's whole cycle
//! driven by an outage and the clock, and verification through the journal. Strict
//! mode validates every admin answer against specs/admin.yaml.

use crate::common;

use common::{KEY, Mock, OTHER_KEY};
use revkeen_mock::control::{AdminAccess, Control, fixture};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::{BreakerConfig, Clock, SimConfig};
use revkeen_mock::spec::Contract;
use revkeen_mock::store::MemoryStore;
use serde_json::{Value, json};

/// A strict mock whose control plane is `control` (another access, admin origins).
async fn mock_with(control: Control) -> Mock {
    Mock::start_app(App::new(
        Contract::embedded().unwrap(),
        MemoryStore::new(SimConfig::default(), Clock::frozen(common::T0)),
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        control,
    ))
    .await
}

async fn admin(mock: &Mock, method: &str, path: &str, body: Option<Value>) -> Value {
    let text = body.map(|b| b.to_string());
    // Admin writes say they are JSON, body or not.
    let headers: &[(&str, &str)] = if method != "GET" {
        &[("content-type", "application/json")]
    } else {
        &[]
    };
    let r = mock
        .send(method, &format!("/__mock{path}"), headers, text.as_deref())
        .await;
    assert_eq!(
        r.status,
        200,
        "{method} {path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// Moves the mock's clock forward (the admin API's answer: the clock).
async fn advance(mock: &Mock, seconds: u64) -> Value {
    admin(
        mock,
        "POST",
        "/clock/advance",
        Some(json!({ "seconds": seconds })),
    )
    .await
}

async fn integration(mock: &Mock, key: &str, provider: &str) -> Value {
    mock.get(&format!("/v2/integrations/{provider}"), key)
        .await
        .json()["data"]
        .clone()
}

#[tokio::test]
async fn health_reports_the_spec_and_tenants() {
    let mock = Mock::start().await;
    mock.get("/v2/integrations", KEY).await;
    let h = admin(&mock, "GET", "/health", None).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["specTitle"], "RevKeen v2 Integrations API");
    assert_eq!(h["tenants"], 1);
    assert_eq!(h["now"], "2026-05-01T09:00:00Z");
    mock.assert_conformant();
}

#[tokio::test]
async fn fixtures_load_and_reset_goes_back_to_them() {
    let mock = Mock::start().await;
    admin(&mock, "POST", "/fixtures/default", None).await;
    let demo = "rk_sandbox_demo_merchant_key_01";
    let ph = integration(&mock, demo, "practicehub").await;
    assert_eq!(
        (ph["isActive"].clone(), ph["syncHealth"].clone()),
        (json!(true), json!("healthy"))
    );
    assert_eq!(
        integration(&mock, demo, "terminal").await["isActive"],
        false
    );
    assert!(integration(&mock, demo, "wodify").await.is_null());

    mock.call(
        "POST",
        "/v2/integrations/practicehub/deactivate",
        demo,
        None,
    )
    .await;
    mock.activate(OTHER_KEY, "wodify", "k").await;
    admin(&mock, "POST", &format!("/reset?key={demo}"), None).await;
    assert_eq!(
        integration(&mock, demo, "practicehub").await["isActive"],
        true,
        "the fixture again"
    );
    assert_eq!(
        integration(&mock, OTHER_KEY, "wodify").await["isActive"],
        true,
        "other tenants untouched"
    );
    admin(&mock, "POST", "/reset", None).await;
    assert!(
        integration(&mock, OTHER_KEY, "wodify").await.is_null(),
        "a full reset forgets other tenants"
    );

    let json = [("content-type", "application/json")];
    let r = mock
        .send("POST", "/__mock/fixtures/nope", &json, None)
        .await;
    r.expect_error(404, "resource_not_found");
    mock.assert_conformant();
}

#[tokio::test]
async fn state_snapshots_restore_exactly() {
    let mock = Mock::start().await;
    mock.activate(KEY, "terminal", "k").await;
    let snapshot = admin(&mock, "GET", "/state?full=true", None).await;
    mock.call("POST", "/v2/integrations/terminal/deactivate", KEY, None)
        .await;
    admin(&mock, "PUT", "/state", Some(snapshot.clone())).await;
    assert_eq!(integration(&mock, KEY, "terminal").await["isActive"], true);
    assert_eq!(
        admin(&mock, "GET", "/state?full=true", None).await,
        snapshot
    );
    let one = admin(&mock, "GET", &format!("/state?key={OTHER_KEY}"), None).await;
    assert_eq!(one["merchants"], json!({}));
    let r = mock
        .send(
            "PUT",
            "/__mock/state",
            &[("content-type", "application/json")],
            Some("{\"version\": 2}"),
        )
        .await;
    r.expect_error(400, "validation_error");
    mock.assert_conformant();
}

#[tokio::test]
async fn the_clock_advances_freezes_resumes_and_is_set() {
    let mock = Mock::start().await;
    assert_eq!(
        admin(&mock, "GET", "/clock", None).await,
        json!({"now": "2026-05-01T09:00:00Z", "frozen": true})
    );
    mock.activate(KEY, "practicehub", "k").await;
    let next = integration(&mock, KEY, "practicehub").await["syncInterval"]["nextRun"].clone();
    assert_eq!(next, "2026-05-01T09:01:00Z");
    let c = advance(&mock, 60).await;
    assert_eq!(c["now"], "2026-05-01T09:01:00Z");
    let ph = integration(&mock, KEY, "practicehub").await;
    assert_eq!(
        ph["lastSyncAt"], "2026-05-01T09:01:00Z",
        "the scheduled sync ran when the clock passed nextRun"
    );
    assert_eq!(ph["syncInterval"]["nextRun"], "2026-05-01T09:16:00Z");
    let c = admin(
        &mock,
        "PUT",
        "/clock",
        Some(json!({"now": "2026-05-02T00:00:00Z"})),
    )
    .await;
    assert_eq!(c, json!({"now": "2026-05-02T00:00:00Z", "frozen": true}));
    assert_eq!(
        admin(&mock, "POST", "/clock/resume", None).await["frozen"],
        false
    );
    assert_eq!(
        admin(&mock, "POST", "/clock/freeze", None).await["frozen"],
        true
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn the_clock_is_never_moved_past_the_year_9999() {
    let mock = Mock::start().await;
    mock.activate(KEY, "practicehub", "k").await;
    let json = [("content-type", "application/json")];
    let late = admin(
        &mock,
        "PUT",
        "/clock",
        Some(json!({"now": "9998-12-31T00:00:00Z"})),
    )
    .await;
    assert_eq!(late["now"], "9998-12-31T00:00:00Z");
    let refused = [
        ("PUT", "/__mock/clock", r#"{"now": "9999-06-01T00:00:00Z"}"#),
        ("POST", "/__mock/clock/advance", r#"{"seconds": 172800}"#),
    ];
    for (method, path, body) in refused {
        let r = mock.send(method, path, &json, Some(body)).await;
        let error = r.expect_error(400, "validation_error");
        assert!(
            error["message"].as_str().unwrap().contains("9999-01-01"),
            "{error}"
        );
    }
    assert_eq!(
        admin(&mock, "GET", "/clock", None).await["now"],
        "9998-12-31T00:00:00Z",
        "a refused move changes nothing"
    );
    assert_eq!(
        integration(&mock, KEY, "practicehub").await["isActive"],
        true
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn fault_rules_touch_only_what_they_match_and_stop_after_their_count() {
    let mock = Mock::start().await;
    let rules = json!({"rules": [{"match": {"provider": "wodify", "method": "GET"}, "action": {"type": "error", "status": 503}, "count": 2}]});
    let listed = admin(&mock, "POST", "/faults", Some(rules)).await;
    assert_eq!(listed["rules"][0]["id"], "fault-1");
    mock.get("/v2/integrations/practicehub", KEY).await;
    assert_eq!(
        mock.get("/v2/integrations/practicehub", KEY).await.status,
        200,
        "unmatched"
    );
    mock.get("/v2/integrations/wodify", KEY)
        .await
        .expect_error(503, "service_unavailable");
    mock.get("/v2/integrations/wodify", OTHER_KEY)
        .await
        .expect_error(503, "service_unavailable");
    assert_eq!(
        mock.get("/v2/integrations/wodify", KEY).await.status,
        200,
        "the count is used up"
    );
    assert_eq!(
        admin(&mock, "GET", "/faults", None).await["rules"],
        json!([])
    );

    let storm = json!({"rules": [{"match": {"key": KEY}, "action": {"type": "rate_limit", "retryAfter": 7}}]});
    admin(&mock, "POST", "/faults", Some(storm)).await;
    let r = mock.get("/v2/integrations", KEY).await;
    r.expect_error(429, "rate_limit_exceeded");
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(mock.get("/v2/integrations", OTHER_KEY).await.status, 200);
    admin(&mock, "DELETE", "/faults/fault-2", None).await;
    assert_eq!(mock.get("/v2/integrations", KEY).await.status, 200);
    mock.send(
        "DELETE",
        "/__mock/faults/fault-2",
        &[("content-type", "application/json")],
        None,
    )
    .await
    .expect_error(404, "resource_not_found");
    let bad = json!({"rules": [{"action": {"type": "error", "status": 418}}]});
    let r = mock
        .send(
            "POST",
            "/__mock/faults",
            &[("content-type", "application/json")],
            Some(&bad.to_string()),
        )
        .await;
    r.expect_error(400, "validation_error");
    mock.assert_conformant();
}

#[tokio::test]
async fn a_dropped_connection_fault_closes_without_an_answer() {
    let mock = Mock::start().await;
    let rules = json!({"rules": [{"match": {"path": "/integrations"}, "action": {"type": "drop_connection"}, "count": 1}]});
    admin(&mock, "POST", "/faults", Some(rules)).await;
    let req = hyper::Request::get(mock.url("/v2/integrations"))
        .header("x-api-key", KEY)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert!(
        mock.client.request(req).await.is_err(),
        "the connection was dropped"
    );
    assert_eq!(
        mock.get("/v2/integrations", KEY).await.status,
        200,
        "only once"
    );
    mock.assert_conformant();
}

/// closed → degraded → open (auto-paused) → resumed by resume-sync → closed, driven by
/// an injected outage and clock advances, seen through GET.
#[tokio::test]
async fn the_breakers_whole_cycle_through_an_outage_and_the_clock() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "healthy_key").await;
    let outage = json!({"rules": [{"match": {"provider": "wodify", "key": KEY}, "action": {"type": "provider_outage", "seconds": 7200}}]});
    admin(&mock, "POST", "/faults", Some(outage)).await;
    advance(&mock, 60).await;
    let w = integration(&mock, KEY, "wodify").await;
    assert_eq!(
        (w["syncHealth"].clone(), w["providerState"]["mode"].clone()),
        (json!("degraded"), json!("closed"))
    );
    advance(&mock, 3600).await;
    let w = integration(&mock, KEY, "wodify").await;
    assert_eq!(w["providerState"]["consecutiveErrors"], 5);
    assert_eq!(
        (w["syncHealth"].clone(), w["providerState"]["mode"].clone()),
        (json!("paused"), json!("open"))
    );
    let paused_at = w["lastSyncAt"].clone();
    advance(&mock, 3600).await;
    assert_eq!(
        integration(&mock, KEY, "wodify").await["lastSyncAt"],
        paused_at,
        "scheduled syncs skipped while open"
    );
    // The outage ended after two hours: resume-sync's trial succeeds.
    mock.call("POST", "/v2/integrations/wodify/resume-sync", KEY, None)
        .await;
    let w = integration(&mock, KEY, "wodify").await;
    assert_eq!(
        (
            w["syncHealth"].clone(),
            w["providerState"]["consecutiveErrors"].clone()
        ),
        (json!("healthy"), json!(0))
    );
    assert_eq!(w["status"], "connected");
    mock.assert_conformant();
}

#[tokio::test]
async fn with_a_cooldown_the_breaker_recovers_by_itself() {
    let mock = Mock::start_with(SimConfig {
        breaker: BreakerConfig {
            threshold: 2,
            cooldown: Some(std::time::Duration::from_secs(20 * 60)),
        },
        ..SimConfig::default()
    })
    .await;
    mock.activate(KEY, "terminal", "healthy_key").await;
    let outage = json!({"rules": [{"match": {"provider": "terminal"}, "action": {"type": "provider_outage", "syncs": 2}}]});
    admin(&mock, "POST", "/faults", Some(outage)).await;
    advance(&mock, 16 * 60).await;
    assert_eq!(
        integration(&mock, KEY, "terminal").await["providerState"]["mode"],
        "open"
    );
    // Opened at 09:16; the cool-down ends at 09:36; the next tick, the trial, is at 09:46.
    advance(&mock, 24 * 60).await;
    let t = integration(&mock, KEY, "terminal").await;
    assert_eq!(
        (t["providerState"]["mode"].clone(), t["syncHealth"].clone()),
        (json!("half_open"), json!("paused"))
    );
    advance(&mock, 6 * 60).await;
    let t = integration(&mock, KEY, "terminal").await;
    assert_eq!(
        (t["providerState"]["mode"].clone(), t["syncHealth"].clone()),
        (json!("closed"), json!("healthy"))
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn the_journal_lists_filters_counts_and_clears() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "k").await;
    mock.call("POST", "/v2/integrations/wodify/sync", KEY, None)
        .await;
    mock.get("/v2/integrations", OTHER_KEY).await;
    let all = admin(&mock, "GET", "/requests", None).await["data"].clone();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["path"], "/v2/integrations", "latest first");
    assert_eq!(all[2]["operationId"], "activateIntegration");
    let mine = admin(
        &mock,
        "GET",
        &format!("/requests?key={KEY}&path=/v2/integrations/wodify"),
        None,
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 2);
    let once = admin(
        &mock,
        "POST",
        "/requests/count",
        Some(json!({"method": "POST", "path": "/v2/integrations/wodify/sync", "status": 200})),
    )
    .await;
    assert_eq!(once, json!({"count": 1}));
    admin(&mock, "DELETE", "/requests", None).await;
    assert_eq!(
        admin(&mock, "GET", "/requests", None).await["data"],
        json!([])
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn every_built_in_fixture_loads_through_the_admin_api() {
    let mock = Mock::start().await;
    for (name, _) in fixture::BUILT_IN {
        let r = admin(&mock, "POST", &format!("/fixtures/{name}"), None).await;
        assert_eq!(r["success"], true, "{name}");
    }
    let h = admin(&mock, "GET", "/health", None).await;
    assert_eq!(h["fixture"], "fixtures/auth-cases.yaml");
    mock.get("/v2/integrations", "rk_sandbox_auth_revoked_00002")
        .await
        .expect_error(401, "revoked_api_key");
    mock.activate("rk_sandbox_auth_read_only_003", "terminal", "k")
        .await
        .expect_error(403, "insufficient_permissions");
    let worker = "rk_sandbox_auth_sync_worker_04";
    let r = mock
        .call(
            "PUT",
            "/v2/integrations/practicehub/status",
            worker,
            Some(json!({"status": "syncing"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    mock.assert_conformant();
}

#[tokio::test]
async fn the_dashboard_page_and_the_tenants_view_are_served() {
    let mock = Mock::start().await;
    let page = mock.send("GET", "/__mock/ui", &[], None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        String::from_utf8_lossy(&page.body).contains("/__mock"),
        "the page uses the admin API"
    );
    mock.activate(KEY, "wodify", "fail_sync_x").await;
    admin(&mock, "POST", "/faults", Some(json!({"rules": [{"match": {"provider": "terminal", "key": KEY}, "action": {"type": "provider_outage", "syncs": 2}}]}))).await;
    let t = admin(&mock, "GET", "/tenants", None).await;
    assert_eq!(t["data"][0]["key"], KEY);
    assert_eq!(t["data"][0]["integrations"][0]["provider"], "wodify");
    assert_eq!(t["data"][0]["integrations"][0]["syncHealth"], "healthy");
    assert_eq!(t["data"][0]["outages"], json!(["terminal"]));
    mock.assert_conformant();
}

/// The admin API reads bodies as the API does: a body that is not sent as JSON is 415
/// and changes nothing (a browser cannot send `application/json` to another origin
/// without asking first).
#[tokio::test]
async fn admin_bodies_must_be_sent_as_json() {
    let mock = Mock::start().await;
    let before = admin(&mock, "GET", "/clock", None).await["now"].clone();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|c| ("content-type", c))
            .into_iter()
            .collect();
        let r = mock
            .send(
                "POST",
                "/__mock/clock/advance",
                &headers,
                Some(r#"{"seconds": 3600}"#),
            )
            .await;
        r.expect_error(415, "unsupported_media_type");
    }
    assert_eq!(admin(&mock, "GET", "/clock", None).await["now"], before);
    mock.assert_conformant();
}

/// No other origin is granted the admin API: a page on another site can neither read
/// it nor pass the pre-flight of a write, while the API keeps its CORS answers.
#[tokio::test]
async fn the_admin_api_grants_no_other_origin() {
    let mock = Mock::start().await;
    let evil = ("origin", "https://evil.example");
    let r = mock.send("GET", "/__mock/state", &[evil], None).await;
    assert_eq!(r.status, 200, "non-browser callers are still answered");
    assert_eq!(r.header("access-control-allow-origin"), None);
    let preflight = mock
        .send(
            "OPTIONS",
            "/__mock/reset",
            &[
                evil,
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    assert_eq!(preflight.header("access-control-allow-methods"), None);
    let api = mock
        .send("GET", "/v2/integrations", &[evil, ("x-api-key", KEY)], None)
        .await;
    assert_eq!(
        api.header("access-control-allow-origin"),
        Some("https://evil.example"),
        "the API stays callable from any origin"
    );
    mock.assert_conformant();
}

/// DNS rebinding: a request addressed to a name the admin API does not answer for is
/// refused on every admin route, the dashboard included, and changes nothing; loopback
/// names are answered.
#[tokio::test]
async fn the_admin_api_refuses_hosts_it_does_not_answer_for() {
    let mock = Mock::start().await;
    let before = admin(&mock, "GET", "/clock", None).await["now"].clone();
    let json = ("content-type", "application/json");
    let routes = [
        ("GET", "/__mock/ui", None),
        ("GET", "/__mock/health", None),
        ("GET", "/__mock/state", None),
        ("GET", "/__mock/tenants", None),
        ("POST", "/__mock/reset", None),
        (
            "POST",
            "/__mock/clock/advance",
            Some(r#"{"seconds": 3600}"#),
        ),
        ("PUT", "/__mock/state", Some(r#"{}"#)),
        ("POST", "/__mock/faults", Some(r#"{"rules": []}"#)),
        ("DELETE", "/__mock/requests", None),
    ];
    for host in [
        "attacker.example:4010",
        "attacker.example",
        "10.0.0.7:4010",
        "localhost.attacker.example",
    ] {
        for (method, path, body) in routes {
            let r = mock.send(method, path, &[("host", host), json], body).await;
            let e = r.expect_error(403, "host_not_allowed");
            assert!(
                e["message"].as_str().unwrap().contains("--allowed-host"),
                "{method} {path} as {host}: {e}"
            );
        }
    }
    assert_eq!(
        admin(&mock, "GET", "/clock", None).await["now"],
        before,
        "nothing changed"
    );
    for host in ["localhost:4010", "127.0.0.1", "[::1]:4010", "LOCALHOST"] {
        let r = mock
            .send("GET", "/__mock/health", &[("host", host)], None)
            .await;
        assert_eq!(r.status, 200, "{host}");
    }
    // The API itself answers whatever the Host.
    let api = mock
        .send(
            "GET",
            "/v2/integrations",
            &[("host", "attacker.example"), ("x-api-key", KEY)],
            None,
        )
        .await;
    assert_eq!(api.status, 200);
    mock.assert_conformant();
}

/// Stored credentials do not leave through the admin API by default: a snapshot cuts
/// each `apiKey` to its last four characters and says so, and restoring it is refused
/// (it would lose them); `?full=true` is the backup.
#[tokio::test]
async fn snapshots_redact_credentials_unless_a_full_backup_is_asked_for() {
    let mock = Mock::start().await;
    let secret = "ph_live_like_secret_value_7f3a";
    mock.activate(KEY, "wodify", secret).await;
    let redacted = admin(&mock, "GET", "/state", None).await;
    assert_eq!(redacted["redacted"], true);
    let text = redacted.to_string();
    assert!(!text.contains(secret), "the secret leaked: {text}");
    let stored = &redacted["merchants"][KEY]["integrations"];
    assert!(
        stored.to_string().contains("\"apiKey\":\"…7f3a\""),
        "{stored}"
    );
    let full = admin(&mock, "GET", "/state?full=true", None).await;
    assert!(full.to_string().contains(secret));
    assert!(full.get("redacted").is_none());
    let r = mock
        .send(
            "PUT",
            "/__mock/state",
            &[("content-type", "application/json")],
            Some(&redacted.to_string()),
        )
        .await;
    let e = r.expect_error(400, "validation_error");
    assert!(e["message"].as_str().unwrap().contains("full=true"), "{e}");
    assert_eq!(
        admin(&mock, "GET", "/state?full=true", None).await,
        full,
        "a refused restore changes nothing"
    );
    mock.assert_conformant();
}

/// The journal shows each key as its last four characters, and still filters by the
/// whole key.
#[tokio::test]
async fn the_journal_shows_keys_by_their_last_four_characters() {
    let mock = Mock::start().await;
    mock.get("/v2/integrations", KEY).await;
    let journal = admin(&mock, "GET", &format!("/requests?key={KEY}"), None).await;
    let entry = &journal["data"][0];
    assert_eq!(entry["key"], format!("…{}", &KEY[KEY.len() - 4..]));
    assert!(!journal.to_string().contains(KEY), "{journal}");
    mock.assert_conformant();
}

/// Every route of the admin contract, with crafted requests: a foreign `Host` is 403
/// (token or not), a foreign `Origin` gets no grant, a body not sent as JSON is 415; and
/// none of these changes the state.
#[tokio::test]
async fn every_admin_route_refuses_foreign_hosts_origins_and_content_types() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "k").await;
    let before = admin(&mock, "GET", "/state?full=true", None).await;
    let ops: Vec<(String, String)> = mock
        .running
        .app
        .control
        .contract
        .operations
        .iter()
        .map(|op| {
            // Path parameters get a value that names nothing.
            let path = op.path.replace("{name}", "nope").replace("{id}", "nope");
            (op.method.as_str().to_owned(), format!("/__mock{path}"))
        })
        .collect();
    assert!(ops.len() >= 18, "every route: {ops:?}");
    for (method, path) in &ops {
        let r = mock
            .send(method, path, &[("host", "rebound.attacker.example")], None)
            .await;
        r.expect_error(403, "host_not_allowed");
        let r = mock
            .send(method, path, &[("origin", "https://evil.example")], None)
            .await;
        assert_eq!(
            r.header("access-control-allow-origin"),
            None,
            "{method} {path}"
        );
        if method != "GET" {
            // What a form or a "simple" request can send, with a body or without.
            for content_type in [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                Some("multipart/form-data; boundary=x"),
            ] {
                for body in [None, Some("{}")] {
                    let headers: Vec<(&str, &str)> = content_type
                        .map(|c| ("content-type", c))
                        .into_iter()
                        .collect();
                    let r = mock.send(method, path, &headers, body).await;
                    r.expect_error(415, "unsupported_media_type");
                }
            }
        }
        if method != "GET" {
            // Put back whatever a permitted write above changed (the state is compared below
            // only across refused requests).
            admin(&mock, "PUT", "/state", Some(before.clone())).await;
        }
    }
    // The refused requests alone, once more, against the restored state.
    for (method, path) in &ops {
        mock.send(
            method,
            path,
            &[("host", "rebound.attacker.example")],
            Some("{}"),
        )
        .await;
    }
    assert_eq!(admin(&mock, "GET", "/state?full=true", None).await, before);
}

/// `--admin-origin` grants one origin of the user's own, and no other.
#[tokio::test]
async fn an_admin_origin_is_granted_when_given() {
    let mut control = Control::new(AdminAccess::Open, 7);
    control.admin_origins = vec!["http://localhost:3000".into()];
    let mock = mock_with(control).await;
    let preflight = |origin: &'static str| {
        let mock = &mock;
        async move {
            mock.send(
                "OPTIONS",
                "/__mock/faults",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "DELETE"),
                ],
                None,
            )
            .await
        }
    };
    let mine = preflight("http://localhost:3000").await;
    assert_eq!(
        mine.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(
        mine.header("access-control-allow-methods")
            .unwrap()
            .contains("DELETE")
    );
    let other = preflight("https://evil.example").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    let r = mock
        .send(
            "GET",
            "/__mock/health",
            &[("origin", "http://localhost:3000")],
            None,
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    mock.assert_conformant();
}

/// With a token the same rules hold: a foreign `Host` is refused even with the right
/// token, a write without JSON is refused even with it, and the token opens the rest.
#[tokio::test]
async fn the_rules_hold_with_a_token_too() {
    let mock = mock_with(Control::new(AdminAccess::Token("s3cret".into()), 7)).await;
    let token = ("authorization", "Bearer s3cret");
    mock.send(
        "GET",
        "/__mock/state",
        &[token, ("host", "attacker.example")],
        None,
    )
    .await
    .expect_error(403, "host_not_allowed");
    mock.send("POST", "/__mock/reset", &[token], None)
        .await
        .expect_error(415, "unsupported_media_type");
    mock.send("GET", "/__mock/state", &[], None)
        .await
        .expect_error(401, "admin_token_required");
    let r = mock
        .send(
            "GET",
            "/__mock/state",
            &[token, ("origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = mock
        .send(
            "POST",
            "/__mock/reset",
            &[token, ("content-type", "application/json")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    mock.assert_conformant();
}

#[tokio::test]
async fn catalogs_and_products_are_set_and_cleared_through_the_admin_api() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "wod_admin_catalog").await;
    let derived = mock
        .get("/v2/integrations/wodify/packages", KEY)
        .await
        .json();
    let catalog = json!({
        "packages": [{"id": "pkg_a", "name": "Unlimited", "packageType": "membership",
                      "chargeType": "recurring", "priceMinor": 15000, "active": true}],
        "billableItems": [{"id": "item_b", "name": "Chalk", "itemType": "product",
                           "chargeType": "one_time", "priceMinor": 500}],
    });
    admin(
        &mock,
        "PUT",
        &format!("/tenants/{KEY}/catalogs/wodify"),
        Some(catalog),
    )
    .await;
    let set = mock
        .get("/v2/integrations/wodify/packages", KEY)
        .await
        .json();
    assert_eq!(set["data"][0]["id"], "pkg_a");
    assert_eq!(set["data"][0]["price"], 150.0);
    admin(
        &mock,
        "PUT",
        &format!("/tenants/{KEY}/products"),
        Some(
            json!({"products": [{"id": "prod_u", "name": "Unlimited Membership",
                                  "kind": "recurring", "amountMinor": 16900, "currency": "USD"}]}),
        ),
    )
    .await;
    let body = json!({"mappings": [{"externalId": "pkg_a", "internalId": "prod_u"}]});
    let r = mock
        .call(
            "PUT",
            "/v2/integrations/wodify/product-mappings",
            KEY,
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let listed = mock
        .get("/v2/integrations/wodify/product-mappings", KEY)
        .await
        .json();
    assert_eq!(
        (
            &listed["data"][0]["productName"],
            &listed["data"][0]["productCurrency"]
        ),
        (&json!("Unlimited Membership"), &json!("USD"))
    );
    // Duplicate ids are refused, naming them; nothing changes.
    let twice = json!({"billableItems": [
        {"id": "x", "name": "A", "itemType": "fee", "chargeType": "one_time", "priceMinor": 1},
        {"id": "x", "name": "B", "itemType": "fee", "chargeType": "one_time", "priceMinor": 1},
    ]});
    let r = mock
        .send(
            "PUT",
            &format!("/__mock/tenants/{KEY}/catalogs/wodify"),
            &[("content-type", "application/json")],
            Some(&twice.to_string()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x appears twice")
    );
    assert_eq!(
        mock.get("/v2/integrations/wodify/packages", KEY)
            .await
            .json(),
        set
    );
    // Cleared: the derived catalog again; the other tenant never saw any of it.
    admin(
        &mock,
        "DELETE",
        &format!("/tenants/{KEY}/catalogs/wodify"),
        None,
    )
    .await;
    assert_eq!(
        mock.get("/v2/integrations/wodify/packages", KEY)
            .await
            .json(),
        derived
    );
    admin(&mock, "DELETE", &format!("/tenants/{KEY}/products"), None).await;
    let listed = mock
        .get("/v2/integrations/wodify/product-mappings", KEY)
        .await
        .json();
    assert_eq!(listed["data"][0]["productName"], Value::Null);
    mock.get("/v2/integrations/wodify/packages", OTHER_KEY)
        .await
        .expect_error(404, "resource_not_found");
    // Payment mappings, which no API operation reads back, are on the tenant's listing.
    let methods = mock
        .get("/v2/integrations/wodify/payment-methods", KEY)
        .await
        .json();
    let method = methods["data"][0]["id"].to_string();
    let mapping = json!({"id": "m1", "revkeenMethod": "card", "practiceHubMethodId": method});
    let r = mock
        .call(
            "PUT",
            "/v2/integrations/wodify/payment-mappings",
            KEY,
            Some(json!({ "mappings": [mapping.clone()] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let t = admin(&mock, "GET", &format!("/tenants?key={KEY}"), None).await;
    assert_eq!(t["data"][0]["paymentMappings"]["wodify"], json!([mapping]));
    mock.assert_conformant();
}
