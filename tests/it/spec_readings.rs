//! The contract's two readings: what RevKeen promises (open to the additions its
//! versioning policy allows) and what the mock sends, exactly (`x-mock-exact`,
//! closed `x-extensible-enum`), which `serve --strict` enforces.

use crate::common;

use common::{KEY, Mock};
use revkeen_mock::sim::SimConfig;
use revkeen_mock::spec::{Contract, Reading};
use serde_json::{Value, json};

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn integration() -> Value {
    json!({
        "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "provider": "practicehub",
        "isActive": true, "syncEnabled": true, "status": "connected",
        "lastSyncAt": null, "lastSyncError": null, "syncHealth": "healthy",
        "providerState": {"consecutiveErrors": 0, "lastErrorAt": null, "lastSyncAt": null, "mode": "closed"},
        "syncInterval": {"hasRepeatableJob": true, "intervalMs": 900000},
        "configuration": {"invoiceLookbackDays": 90, "autoSendInvoices": false},
        "createdAt": "2026-05-01T09:00:00Z", "updatedAt": "2026-05-01T09:00:00Z"
    })
}

#[test]
fn unknown_fields_and_enum_values_break_only_the_exact_reading() {
    let c = Contract::embedded().unwrap();
    let op = c.operation("getIntegration").unwrap();
    let h = headers(&[
        ("content-type", "application/json"),
        ("x-request-id", "r1"),
        ("revkeen-version", "2026-05-01"),
    ]);
    let plain = json!({ "data": integration() });
    for reading in [Reading::Promised, Reading::Exact] {
        assert_eq!(
            c.response_violations(Some(op), 200, &h[..], Some(&plain), reading),
            vec![],
            "{reading:?}"
        );
    }
    let mut newer = plain.clone();
    newer["data"]["syncHealth"] = json!("recovering");
    newer["data"]["webhookUrl"] = json!("https://hooks.example");
    newer["data"]["provider"] = json!("mindbody");
    assert_eq!(
        c.response_violations(Some(op), 200, &h[..], Some(&newer), Reading::Promised),
        vec![]
    );
    let exact = c.response_violations(Some(op), 200, &h[..], Some(&newer), Reading::Exact);
    assert_eq!(exact.len(), 3, "{exact:?}");
    let unknowns = c.response_unknowns(Some(op), 200, Some("application/json"), Some(&newer));
    let fields: Vec<&str> = unknowns.iter().map(|v| v.field.as_str()).collect();
    assert!(
        fields.contains(&"body.data.syncHealth")
            && fields.contains(&"body.data.webhookUrl")
            && fields.contains(&"body.data.provider"),
        "{unknowns:?}"
    );
    // A change of type is no addition: both readings refuse it.
    let mut broken = plain;
    broken["data"]["isActive"] = json!("yes");
    assert!(
        !c.response_violations(Some(op), 200, &h[..], Some(&broken), Reading::Promised)
            .is_empty()
    );
}

#[test]
fn the_other_error_family_and_no_request_id_are_promised_answers() {
    let c = Contract::embedded().unwrap();
    let op = c.operation("deactivateIntegration").unwrap();
    let h = headers(&[
        ("content-type", "application/json"),
        ("revkeen-version", "2026-05-01"),
    ]);
    let body = json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No active integration"}});
    assert_eq!(
        c.response_violations(Some(op), 404, &h[..], Some(&body), Reading::Promised),
        vec![]
    );
    let exact = c.response_violations(Some(op), 404, &h[..], Some(&body), Reading::Exact);
    let fields: Vec<&str> = exact.iter().map(|v| v.field.as_str()).collect();
    assert!(
        fields.contains(&"header X-Request-Id")
            && fields.contains(&"body.error.code")
            && fields.contains(&"body.error.request_id"),
        "{exact:?}"
    );
}

#[test]
fn a_405_must_carry_allow() {
    let c = Contract::embedded().unwrap();
    let body = json!({"error": {"type": "invalid_request_error", "code": "method_not_allowed", "message": "no"}});
    let without = headers(&[
        ("content-type", "application/json"),
        ("revkeen-version", "2026-05-01"),
    ]);
    let v = c.response_violations(None, 405, &without[..], Some(&body), Reading::Promised);
    assert!(v.iter().any(|v| v.field == "header Allow"), "{v:?}");
}

/// `serve --strict` checks the exact reading: a spec whose exact reading lacks a field
/// the mock renders makes every answer with it a logged breach.
#[tokio::test]
async fn strict_mode_flags_a_field_the_exact_reading_does_not_have() {
    let text = include_str!("../../specs/revkeen-integrations.yaml");
    let mut doc: Value = serde_yaml_ng::from_str(text).unwrap();
    doc["components"]["schemas"]["Integration"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("syncHealth");
    let contract = Contract::load_str(&doc.to_string(), "variant.json")
        .unwrap()
        .into_servable()
        .unwrap();
    let mock = Mock::start_with_contract(SimConfig::default(), contract).await;
    assert_eq!(mock.activate(KEY, "wodify", "healthy").await.status, 200);
    let log = mock.provoked_violations();
    assert!(!log.is_empty());
    assert!(log.iter().any(|l| l.contains("syncHealth")), "{log:?}");
}
