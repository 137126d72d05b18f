//! End-to-end journeys against a real server: what a frontend developer does, in order.

use crate::common;

use common::{KEY, Mock, OTHER_KEY};
use revkeen_mock::sim::{RateLimit, SimConfig};
use serde_json::json;

#[tokio::test]
async fn activate_get_list_configure_sync_deactivate_get() {
    let mock = Mock::start().await;
    let p = "/v2/integrations/practicehub";

    let r = mock.activate(KEY, "practicehub", "ph_live_3f9a2b7c").await;
    assert_eq!(r.status, 200, "{}", r.json());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["data"]["isActive"], true);

    let got = mock.get(p, KEY).await.json();
    assert_eq!(got["data"]["id"], id.as_str());
    assert_eq!(got["data"]["status"], "connected");
    assert_eq!(got["data"]["syncInterval"]["intervalMs"], 900_000);

    let list = mock.get("/v2/integrations", KEY).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["pagination"],
        json!({"limit": 25, "offset": 0, "total": 1, "hasMore": false})
    );

    let r = mock
        .call(
            "PUT",
            &format!("{p}/sync-interval"),
            KEY,
            Some(json!({"syncIntervalMinutes": 30})),
        )
        .await;
    assert_eq!((r.status, r.json()), (200, json!({"success": true})));
    assert_eq!(
        mock.get(p, KEY).await.json()["data"]["syncInterval"]["intervalMs"],
        1_800_000
    );

    let r = mock
        .call(
            "PUT",
            &format!("{p}/sync-toggle"),
            KEY,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, 200);
    let got = mock.get(p, KEY).await.json();
    assert_eq!(
        (
            got["data"]["syncEnabled"].clone(),
            got["data"]["syncHealth"].clone()
        ),
        (json!(false), json!("paused"))
    );

    let r = mock
        .call(
            "POST",
            &format!("{p}/sync"),
            KEY,
            Some(json!({"fullResync": true})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(uuid::Uuid::parse_str(r.json()["jobId"].as_str().unwrap()).is_ok());
    assert_eq!(
        mock.get(p, KEY).await.json()["data"]["lastSyncAt"],
        "2026-05-01T09:00:00Z"
    );

    let r = mock
        .call("POST", &format!("{p}/deactivate"), KEY, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let got = mock.get(p, KEY).await.json();
    assert_eq!(got["data"]["isActive"], false);
    assert_eq!(got["data"]["status"], "idle");
    assert_eq!(got["data"]["id"], id.as_str(), "the record is kept");
    mock.call("POST", &format!("{p}/deactivate"), KEY, None)
        .await
        .expect_error(404, "resource_not_found");
    mock.assert_conformant();
}

#[tokio::test]
async fn a_provider_never_activated_reads_as_null() {
    let mock = Mock::start().await;
    let r = mock.get("/v2/integrations/wodify", KEY).await;
    assert_eq!((r.status, r.json()), (200, json!({"data": null})));
    mock.assert_conformant();
}

#[tokio::test]
async fn failing_sync_credentials_open_the_breaker_and_resume_sync_recovers() {
    let mock = Mock::start().await;
    let p = "/v2/integrations/wodify";
    assert_eq!(
        mock.activate(KEY, "wodify", "fail_sync_demo").await.status,
        200
    );
    mock.advance(60).await;
    let d = mock.get(p, KEY).await.json()["data"].clone();
    assert_eq!(
        (
            d["syncHealth"].clone(),
            d["providerState"]["consecutiveErrors"].clone()
        ),
        (json!("degraded"), json!(1))
    );
    assert_eq!(d["status"], "error");
    mock.advance(4 * 15 * 60).await;
    let d = mock.get(p, KEY).await.json()["data"].clone();
    assert_eq!(d["providerState"]["consecutiveErrors"], 5);
    assert_eq!(
        (d["syncHealth"].clone(), d["providerState"]["mode"].clone()),
        (json!("paused"), json!("open"))
    );
    let e = mock
        .call("POST", &format!("{p}/sync"), KEY, None)
        .await
        .expect_error(400, "circuit_open");
    assert!(e["message"].as_str().unwrap().contains("resume-sync"));

    let r = mock
        .call("POST", &format!("{p}/resume-sync"), KEY, None)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["jobId"].is_string());
    let d = mock.get(p, KEY).await.json()["data"].clone();
    assert_eq!(
        d["providerState"]["consecutiveErrors"], 1,
        "the trial failed: counting from 1"
    );
    assert_eq!(d["syncHealth"], "degraded");
    mock.assert_conformant();
}

#[tokio::test]
async fn two_keys_never_see_each_others_state() {
    let mock = Mock::start().await;
    mock.activate(KEY, "terminal", "term_key").await;
    assert_eq!(
        mock.get("/v2/integrations", OTHER_KEY).await.json()["data"],
        json!([])
    );
    assert_eq!(
        mock.get("/v2/integrations/terminal", OTHER_KEY)
            .await
            .json()["data"],
        json!(null)
    );
    assert_eq!(
        mock.activate(OTHER_KEY, "terminal", "term_key")
            .await
            .status,
        200,
        "its own merchant"
    );
    let mine = mock.get("/v2/integrations/terminal", KEY).await.json();
    let theirs = mock
        .get("/v2/integrations/terminal", OTHER_KEY)
        .await
        .json();
    assert_ne!(mine["data"]["id"], theirs["data"]["id"]);
    mock.assert_conformant();
}

#[tokio::test]
async fn idempotent_replay_and_conflict() {
    let mock = Mock::start().await;
    let body = r#"{"credentials":{"apiKey":"ph_k","baseUrl":"https://clinic.example"}}"#;
    let headers = [
        ("x-api-key", KEY),
        ("content-type", "application/json"),
        ("idempotency-key", "key-1"),
    ];
    let path = "/v2/integrations/practicehub/activate";
    let first = mock.send("POST", path, &headers, Some(body)).await;
    assert_eq!(first.status, 200);
    assert!(first.header("idempotency-replayed").is_none());
    let again = mock.send("POST", path, &headers, Some(body)).await;
    assert_eq!(again.status, 200, "a replay, not a 409 already-active");
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    let other = r#"{"credentials":{"apiKey":"other","baseUrl":"https://clinic.example"}}"#;
    mock.send("POST", path, &headers, Some(other))
        .await
        .expect_error(409, "idempotency_conflict");
    let too_long = "k".repeat(256);
    let bad = [
        ("x-api-key", KEY),
        ("content-type", "application/json"),
        ("idempotency-key", too_long.as_str()),
    ];
    let e = mock
        .send("POST", path, &bad, Some(body))
        .await
        .expect_error(400, "validation_error");
    assert_eq!(e["param"], "Idempotency-Key");
    mock.assert_conformant();
}

#[tokio::test]
async fn a_burst_past_the_limit_gets_429_with_retry_after() {
    let mock = Mock::start_with(SimConfig {
        rate_limit: Some(RateLimit {
            per_minute: 60,
            burst: 5,
        }),
        ..SimConfig::default()
    })
    .await;
    for remaining in (0..5).rev() {
        let r = mock.get("/v2/integrations", KEY).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), Some("60"));
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
    }
    let r = mock.get("/v2/integrations", KEY).await;
    r.expect_error(429, "rate_limit_exceeded");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        mock.get("/v2/integrations", OTHER_KEY).await.status,
        200,
        "limits are per key"
    );
    mock.advance(1).await;
    assert_eq!(
        mock.get("/v2/integrations", KEY).await.status,
        200,
        "refilled by simulated time"
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn a_cors_preflight_from_a_dev_server_is_answered() {
    let mock = Mock::start().await;
    let r = mock
        .send(
            "OPTIONS",
            "/v2/integrations/practicehub/activate",
            &[
                ("origin", "http://localhost:5173"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "x-api-key, content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("x-api-key")
    );
    let r = mock
        .send(
            "GET",
            "/v2/integrations",
            &[("x-api-key", KEY), ("origin", "http://localhost:5173")],
            None,
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let exposed = r.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("X-Request-Id") && exposed.contains("RateLimit-Remaining"));
    mock.assert_conformant();
}

#[tokio::test]
async fn the_request_id_is_echoed_or_made() {
    let mock = Mock::start().await;
    let r = mock
        .send(
            "GET",
            "/v2/integrations",
            &[("x-api-key", KEY), ("x-request-id", "trace-123")],
            None,
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-123"));
    let r = mock.get("/v2/integrations", KEY).await;
    assert!(uuid::Uuid::parse_str(r.header("x-request-id").unwrap()).is_ok());
    assert_eq!(r.header("revkeen-version"), Some("2026-05-01"));
    mock.assert_conformant();
}
