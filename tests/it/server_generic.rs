//! Operations of a larger spec that the simulator does not model are answered from
//! their examples or from values generated from their schemas, after the usual
//! request validation.

use crate::common;

use common::{KEY, Resp};
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::{Clock, SimConfig};
use revkeen_mock::spec::{Contract, load};
use revkeen_mock::store::MemoryStore;
use serde_json::json;

/// The embedded spec plus two operations the simulator knows nothing of: one with an
/// example, one with only a schema.
fn larger_spec() -> Contract {
    let mut doc = load::parse_text(load::EMBEDDED_SPEC, "embedded").unwrap();
    doc["paths"]["/integrations/{provider}/sync-states"] = json!({
        "parameters": [{"$ref": "#/components/parameters/Provider"}],
        "get": {
            "operationId": "listSyncStates",
            "x-required-scopes": ["sync:read"],
            "responses": {
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "404": {"$ref": "#/components/responses/NotFound"},
                "200": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "object", "additionalProperties": false, "required": ["success", "data"],
                    "properties": {"success": {"type": "boolean"}, "data": {"type": "array", "items": {
                        "type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}}}}},
                "example": {"success": true, "data": [{"resourceType": "invoices"}]}}}}}
        }
    });
    doc["paths"]["/integrations/{provider}/payment-mappings"] = json!({
        "parameters": [{"$ref": "#/components/parameters/Provider"}],
        "put": {
            "operationId": "updatePaymentMappings",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["mappings"], "additionalProperties": false,
                "properties": {"mappings": {"type": "array", "items": {"type": "string"}}}}}}},
            "responses": {
                "400": {"$ref": "#/components/responses/BadRequest"},
                "200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "updatedAt"],
                "properties": {"success": {"type": "boolean"}, "updatedAt": {"type": "string", "format": "date-time"}}}}}}}
        }
    });
    Contract::load_str(&doc.to_string(), "larger.json")
        .unwrap()
        .into_servable()
        .unwrap()
}

#[tokio::test]
async fn unmodelled_operations_answer_with_examples_or_generated_values() {
    let app = App::new(
        larger_spec(),
        MemoryStore::new(SimConfig::default(), Clock::default()),
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        Control::new(AdminAccess::Open, 7),
    );
    let mock = common::Mock::start_app(app).await;

    let r: Resp = mock.get("/v2/integrations/wodify/sync-states", KEY).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"success": true, "data": [{"resourceType": "invoices"}]})
    );

    let path = "/v2/integrations/wodify/payment-mappings";
    let r = mock
        .call("PUT", path, KEY, Some(json!({"mappings": ["a"]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["success"], true);
    assert!(r.json()["updatedAt"].is_string());

    let e = mock
        .call("PUT", path, KEY, Some(json!({"mappings": [1]})))
        .await
        .expect_error(400, "validation_error");
    assert_eq!(e["param"], "mappings.0");
    mock.get("/v2/integrations/nope/sync-states", KEY)
        .await
        .expect_error(404, "resource_not_found");
    mock.send("GET", "/v2/integrations/wodify/sync-states", &[], None)
        .await
        .expect_error(401, "missing_api_key");
    mock.assert_conformant();
}
