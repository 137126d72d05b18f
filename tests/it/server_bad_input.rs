//! Every kind of bad input gets a 4xx in the envelope that names the field, never a 5xx
//! or a dropped connection, and loses no state.

use crate::common;

use common::{KEY, Mock};
use revkeen_mock::server::App;
use revkeen_mock::sim::{ApiKey, KeyPolicy, Scope};
use serde_json::json;

const ACTIVATE: &str = "/v2/integrations/practicehub/activate";

async fn declare(app: &App, key: &str, scopes: &[Scope], revoked: bool) {
    app.store
        .declare_key(
            ApiKey::parse(key).unwrap(),
            KeyPolicy {
                scopes: scopes.iter().copied().collect(),
                revoked,
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn authentication_failures_are_401_in_the_envelope() {
    let mock = Mock::start().await;
    let r = mock.send("GET", "/v2/integrations", &[], None).await;
    r.expect_error(401, "missing_api_key");
    mock.send("GET", "/v2/integrations", &[("x-api-key", "")], None)
        .await
        .expect_error(401, "missing_api_key");
    mock.get("/v2/integrations", "not-a-key")
        .await
        .expect_error(401, "invalid_api_key");
    mock.get("/v2/integrations", "rk_sandbox_short")
        .await
        .expect_error(401, "invalid_api_key");
    let e = mock
        .get("/v2/integrations", "rk_live_abcdefghijklmnopqrst")
        .await
        .expect_error(401, "live_key_rejected");
    assert!(
        e["message"].as_str().unwrap().contains("rk_sandbox_"),
        "{e}"
    );
    assert_eq!(e["type"], "authentication_error");
    declare(
        &mock.running.app,
        "rk_sandbox_revoked_key_000000001",
        &Scope::DEFAULT,
        true,
    )
    .await;
    mock.get("/v2/integrations", "rk_sandbox_revoked_key_000000001")
        .await
        .expect_error(401, "revoked_api_key");
    mock.assert_conformant();
}

#[tokio::test]
async fn missing_scopes_are_403_and_the_status_endpoint_needs_the_worker_key() {
    let mock = Mock::start().await;
    let read_only = "rk_sandbox_read_only_key_0000001";
    declare(
        &mock.running.app,
        read_only,
        &[Scope::IntegrationsRead, Scope::SyncRead],
        false,
    )
    .await;
    assert_eq!(mock.get("/v2/integrations", read_only).await.status, 200);
    let e = mock
        .activate(read_only, "practicehub", "k")
        .await
        .expect_error(403, "insufficient_permissions");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("integrations:write")
    );
    // The idempotency guide stores permission (and validation) answers for replay.
    for (api_key, body, status) in [
        (
            read_only,
            json!({"credentials": {"apiKey": "k", "baseUrl": "https://x.example"}}),
            403,
        ),
        (KEY, json!({"credentials": {}}), 400),
    ] {
        let text = body.to_string();
        let key = format!("idem-{}", text.len());
        let headers = [
            ("x-api-key", api_key),
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ];
        let path = "/v2/integrations/practicehub/activate";
        let first = mock.send("POST", path, &headers, Some(&text)).await;
        let again = mock.send("POST", path, &headers, Some(&text)).await;
        assert_eq!(
            first.status,
            status,
            "{}",
            String::from_utf8_lossy(&first.body)
        );
        assert_eq!((again.status, &again.body), (status, &first.body));
        assert_eq!(again.header("idempotency-replayed"), Some("true"));
    }

    mock.activate(KEY, "practicehub", "k").await;
    let status = "/v2/integrations/practicehub/status";
    let body = json!({"status": "idle"});
    let e = mock
        .call("PUT", status, KEY, Some(body.clone()))
        .await
        .expect_error(403, "insufficient_permissions");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("integrations:worker")
    );
    // The worker key acts on its own merchant; here it has none, so: not found.
    let worker = "rk_sandbox_sync_worker_key_00001";
    declare(
        &mock.running.app,
        worker,
        &[Scope::IntegrationsWorker],
        false,
    )
    .await;
    mock.call("PUT", status, worker, Some(body))
        .await
        .expect_error(404, "resource_not_found");
    mock.assert_conformant();
}

#[tokio::test]
async fn an_unknown_provider_is_404_naming_the_provider() {
    let mock = Mock::start().await;
    for path in [
        "/v2/integrations/stripe",
        "/v2/integrations/stripe/sync",
        "/v2/integrations/PRACTICEHUB",
    ] {
        let method = if path.ends_with("sync") {
            "POST"
        } else {
            "GET"
        };
        let e = mock
            .call(method, path, KEY, None)
            .await
            .expect_error(404, "resource_not_found");
        assert_eq!(e["param"], "provider", "{path}");
    }
    mock.assert_conformant();
}

#[tokio::test]
async fn bad_pagination_is_400_naming_the_parameter() {
    let mock = Mock::start().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ] {
        let e = mock
            .get(&format!("/v2/integrations?{query}"), KEY)
            .await
            .expect_error(400, "validation_error");
        assert_eq!(e["param"], field, "{query}");
        assert!(e["details"]["fields"][field].is_array(), "{query}: {e}");
    }
    mock.assert_conformant();
}

/// The pagination guide clamps a page size over the maximum and echoes the clamped value.
#[tokio::test]
async fn a_limit_over_100_is_clamped_and_echoed() {
    let mock = Mock::start().await;
    for (query, echoed) in [
        ("limit=101", 100),
        ("limit=100000", 100),
        ("limit=123456789012345678901234567890", 100),
        ("limit=7", 7),
    ] {
        let r = mock.get(&format!("/v2/integrations?{query}"), KEY).await;
        assert_eq!(r.status, 200, "{query}");
        assert_eq!(r.json()["pagination"]["limit"], echoed, "{query}");
    }
    mock.assert_conformant();
}

/// An older pinned version is honoured and echoed; a later or malformed one is answered
/// (and echoed) as the latest.
#[tokio::test]
async fn an_older_revkeen_version_is_echoed_and_others_answered_as_the_latest() {
    let mock = Mock::start().await;
    let r = mock
        .send(
            "GET",
            "/v2/integrations",
            &[("x-api-key", KEY), ("revkeen-version", "2025-01-15")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("revkeen-version"), Some("2025-01-15"));
    let r = mock.get("/v2/integrations", KEY).await;
    assert_eq!(r.header("revkeen-version"), Some("2026-05-01"));
    for other in ["2031-01-01", "latest", "2025-1-1", "0"] {
        let r = mock
            .send(
                "GET",
                "/v2/integrations",
                &[("x-api-key", KEY), ("revkeen-version", other)],
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.header("revkeen-version")),
            (200, Some("2026-05-01")),
            "{other}"
        );
    }
    mock.assert_conformant();
}

#[tokio::test]
async fn bodies_that_break_the_schema_are_400_listing_every_problem() {
    let mock = Mock::start().await;
    let cases = [
        (json!({}), "credentials"),
        (
            json!({"credentials": {"baseUrl": "https://x.example"}}),
            "credentials.apiKey",
        ),
        (
            json!({"credentials": {"apiKey": 5, "baseUrl": "https://x.example"}}),
            "credentials.apiKey",
        ),
        (
            json!({"credentials": {"apiKey": "k", "baseUrl": "https://x.example"}, "colour": "red"}),
            "colour",
        ),
        (
            json!({"credentials": {"apiKey": "k", "baseUrl": "https://x.example"}, "syncIntervalMinutes": 4}),
            "syncIntervalMinutes",
        ),
        (
            json!({"credentials": {"apiKey": "k", "baseUrl": "https://x.example"}, "currency": "pounds"}),
            "currency",
        ),
        (json!([1, 2]), ""),
    ];
    for (body, field) in cases {
        let e = mock
            .call("POST", ACTIVATE, KEY, Some(body.clone()))
            .await
            .expect_error(400, "validation_error");
        if field.is_empty() {
            assert!(e.get("param").is_none(), "{e}");
        } else {
            assert_eq!(e["param"], field, "{body}: {e}");
            assert!(e["message"].as_str().unwrap().starts_with(field), "{e}");
        }
    }
    let two = json!({"credentials": {"apiKey": 1}, "syncIntervalMinutes": "often"});
    let e = mock
        .call("POST", ACTIVATE, KEY, Some(two))
        .await
        .expect_error(400, "validation_error");
    let fields = e["details"]["fields"].as_object().unwrap();
    for f in [
        "credentials.apiKey",
        "credentials.baseUrl",
        "syncIntervalMinutes",
    ] {
        assert!(fields.contains_key(f), "{f} missing from {e}");
    }
    assert!(
        mock.get("/v2/integrations/practicehub", KEY).await.json()["data"].is_null(),
        "no state changed"
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn malformed_json_non_json_and_oversized_bodies() {
    let mock = Mock::start().await;
    let json_headers = [("x-api-key", KEY), ("content-type", "application/json")];
    mock.send("POST", ACTIVATE, &json_headers, Some("{\"credentials\": "))
        .await
        .expect_error(400, "invalid_json");
    let text = [("x-api-key", KEY), ("content-type", "text/plain")];
    mock.send("POST", ACTIVATE, &text, Some("hello"))
        .await
        .expect_error(415, "unsupported_media_type");
    mock.send("POST", ACTIVATE, &[("x-api-key", KEY)], Some("{}"))
        .await
        .expect_error(415, "unsupported_media_type");
    let big = format!(
        "{{\"credentials\": {{\"apiKey\": \"{}\", \"baseUrl\": \"https://x.example\"}}}}",
        "k".repeat(1024 * 1024)
    );
    mock.send("POST", ACTIVATE, &json_headers, Some(&big))
        .await
        .expect_error(413, "payload_too_large");
    mock.send("POST", ACTIVATE, &json_headers, None)
        .await
        .expect_error(400, "validation_error");
    assert_eq!(
        mock.get("/v2/integrations", KEY).await.status,
        200,
        "the server still answers"
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let mock = Mock::start().await;
    for path in [
        "/",
        "/v1/integrations",
        "/v2/integrationz",
        "/v2/integrations/practicehub/nope",
        "/v2/integrations/practicehub/sync/extra",
    ] {
        mock.get(path, KEY)
            .await
            .expect_error(404, "route_not_found");
    }
    let r = mock.call("GET", ACTIVATE, KEY, None).await;
    r.expect_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = mock.call("BREW", "/v2/integrations", KEY, None).await;
    r.expect_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    mock.assert_conformant();
}

#[tokio::test]
async fn domain_refusals_use_the_documented_statuses() {
    let mock = Mock::start().await;
    let p = "/v2/integrations/terminal";
    mock.call("POST", &format!("{p}/sync"), KEY, None)
        .await
        .expect_error(400, "integration_not_active");
    mock.call("POST", &format!("{p}/resume-sync"), KEY, None)
        .await
        .expect_error(400, "integration_not_active");
    let toggle = Some(json!({"enabled": true}));
    mock.call("PUT", &format!("{p}/sync-toggle"), KEY, toggle)
        .await
        .expect_error(404, "resource_not_found");
    let e = mock
        .activate(KEY, "terminal", "invalid_creds")
        .await
        .expect_error(400, "credentials_rejected");
    assert_eq!(e["param"], "credentials.apiKey");
    assert_eq!(mock.activate(KEY, "terminal", "good").await.status, 200);
    mock.activate(KEY, "terminal", "good")
        .await
        .expect_error(409, "integration_already_active");
    let r = mock
        .call(
            "POST",
            &format!("{p}/test"),
            KEY,
            Some(json!({"credentials": {"apiKey": "invalid_x", "baseUrl": "https://t.example"}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["valid"], false);
    assert!(r.json()["error"].as_str().unwrap().contains("rejected"));
    mock.assert_conformant();
}
