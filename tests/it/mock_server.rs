//! `revkeen_mock::MockServer`, the mock inside a Rust test: it serves a fixture on a free
//! port, remembers, moves its clock, resets, and checks its expectations on drop.

use std::time::Duration;

use crate::common::exchange;
use revkeen_mock::control::journal::Matcher;
use revkeen_mock::{Expectation, MockServer};
use serde_json::Value;

const DEMO: &str = "rk_sandbox_demo_merchant_key_01";

/// One request to the mock on a connection of its own (off the runtime's threads).
async fn call(mock: &MockServer, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (addr, method, path, body) = (
        mock.addr().to_string(),
        method.to_owned(),
        path.to_owned(),
        body.to_owned(),
    );
    let (status, text) =
        tokio::task::spawn_blocking(move || exchange(&addr, &method, &path, DEMO, &body))
            .await
            .unwrap()
            .unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn active(list: &Value, provider: &str) -> bool {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["provider"] == provider && i["isActive"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_is_served_remembered_and_reset_and_expectations_met_pass_on_drop() {
    let mock = MockServer::builder().fixture("default").start().await;
    mock.expect(Expectation::request("GET", "/v2/integrations").times(3));
    mock.expect(Expectation::request("POST", "/v2/integrations/wodify/activate").times(1));
    mock.expect(Expectation::request("DELETE", "/v2").never());
    assert!(mock.api_url().ends_with("/v2"));
    assert!(mock.admin_url().ends_with("/__mock"));

    let (status, list) = call(&mock, "GET", "/v2/integrations", "").await;
    assert_eq!(status, 200);
    assert!(active(&list, "practicehub"));
    let creds = r#"{"credentials": {"apiKey": "wod_key", "baseUrl": "https://gym.example"}}"#;
    let (status, _) = call(&mock, "POST", "/v2/integrations/wodify/activate", creds).await;
    assert_eq!(status, 200);
    let (_, list) = call(&mock, "GET", "/v2/integrations", "").await;
    assert!(active(&list, "wodify"));

    mock.reset().await;
    let (_, list) = call(&mock, "GET", "/v2/integrations", "").await;
    assert!(!active(&list, "wodify"), "back to the fixture");
    assert!(active(&list, "practicehub"));
    assert_eq!(
        mock.received(&Matcher {
            status: Some(200),
            ..Matcher::default()
        }),
        4
    );
    assert!(mock.check().is_ok(), "{:?}", mock.check());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_starts_frozen_and_moves_when_told() {
    let mock = MockServer::start().await;
    let clock = |mock: &MockServer| {
        let addr = mock.addr().to_string();
        async move {
            let (_, body) = tokio::task::spawn_blocking(move || {
                exchange(&addr, "GET", "/__mock/clock", "", "")
            })
            .await
            .unwrap()
            .unwrap();
            serde_json::from_str::<Value>(&body).unwrap()["now"].clone()
        }
    };
    assert_eq!(clock(&mock).await, "2026-05-01T09:00:00Z");
    mock.advance_clock(Duration::from_secs(90 * 60)).await;
    assert_eq!(clock(&mock).await, "2026-05-01T10:30:00Z");
}

#[test]
fn an_unmet_expectation_fails_the_test_when_the_mock_is_dropped_naming_it() {
    let outcome = std::thread::spawn(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let mock = MockServer::start().await;
            mock.expect(Expectation::request("POST", "/v2/integrations/wodify/sync").times(1));
            mock.expect(Expectation::request("GET", "/v2/integrations").at_most(5));
            let (status, _) = call(&mock, "GET", "/v2/integrations", "").await;
            assert_eq!(status, 200);
            let why = mock.check().unwrap_err();
            assert!(
                why.contains("expected POST /v2/integrations/wodify/sync, 1 time(s); received 0"),
                "{why}"
            );
            assert!(
                !why.contains("at most 5"),
                "a met expectation is not listed: {why}"
            );
            assert!(why.contains("GET /v2/integrations -> 200"), "{why}");
        });
    })
    .join();
    let panic = outcome.expect_err("dropping the mock panics");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("wodify/sync"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_that_cannot_start_says_why() {
    let err = MockServer::builder()
        .fixture("no-such-fixture")
        .try_start()
        .await
        .err()
        .expect("refused");
    assert!(err.contains("no-such-fixture"), "{err}");
    let err = MockServer::builder()
        .spec("tests/data/not-yaml.yaml")
        .try_start()
        .await
        .err()
        .expect("refused");
    assert!(err.contains("not-yaml"), "{err}");
}
