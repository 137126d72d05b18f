//! End-to-end journeys of a setup wizard over HTTP, in strict mode (every answer is
//! checked against the spec's exact reading): the provider's catalog, payment and
//! product mappings, suggestions, unmapped packages, and invoice payment requests.

use crate::common;

use common::{KEY, Mock, OTHER_KEY};
use serde_json::{Value, json};

const P: &str = "/v2/integrations/practicehub";

async fn ok(mock: &Mock, method: &str, path: &str, body: Option<Value>) -> Value {
    let r = mock.call(method, path, KEY, body).await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.json());
    r.json()
}

fn strings(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_wizard_reads_the_catalog_maps_packages_and_reads_them_back() {
    let mock = Mock::start().await;
    // Nothing to read before activation.
    mock.get(&format!("{P}/packages"), KEY)
        .await
        .expect_error(404, "resource_not_found");
    // The wizard's first step: payment methods with temporary credentials, nothing stored.
    let preview = ok(
        &mock,
        "POST",
        &format!("{P}/payment-methods"),
        Some(json!({"baseUrl": "https://clinic.example", "apiKey": "ph_wizard_key"})),
    )
    .await;
    let r = mock.get("/v2/integrations/practicehub", KEY).await;
    assert_eq!(r.json()["data"], Value::Null, "a preview activates nothing");
    mock.activate(KEY, "practicehub", "ph_wizard_key").await;
    let methods = ok(&mock, "GET", &format!("{P}/payment-methods"), None).await;
    assert_eq!(methods, preview, "the same account shows the same methods");
    assert!(methods["data"][0]["sort_order"].is_u64());

    // The same credentials always show the same catalog.
    let packages = ok(&mock, "GET", &format!("{P}/packages"), None).await;
    let again = Mock::start().await;
    again.activate(KEY, "practicehub", "ph_wizard_key").await;
    assert_eq!(
        ok(&again, "GET", &format!("{P}/packages"), None).await,
        packages
    );
    let ids = strings(&packages["data"], "id");
    assert!(ids.len() >= 3);
    let items = ok(&mock, "GET", &format!("{P}/billable-items"), None).await;
    assert!(
        items["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["source"] == "invoice")
    );

    // Map two packages (the replacement answers the count), then read them back.
    let body = json!({"mappings": [
        {"externalId": ids[0], "internalId": "prod_unknown_to_the_mock"},
        {"externalId": ids[1], "internalId": "prod_x", "metadata": {"name": "Second", "type": "service"}},
    ]});
    let put = ok(&mock, "PUT", &format!("{P}/product-mappings"), Some(body)).await;
    assert_eq!(put, json!({"success": true, "count": 2}));
    let listed = ok(&mock, "GET", &format!("{P}/product-mappings"), None).await;
    assert_eq!(strings(&listed["data"], "externalId"), ids[..2]);
    let first = &listed["data"][0];
    assert_eq!(first["externalName"], packages["data"][0]["name"]);
    assert_eq!(first["productName"], Value::Null, "unknown product");
    assert_eq!(listed["data"][1]["metadata"]["type"], "service");

    // Replace-all: sending one keeps one.
    let body = json!({"mappings": [{"externalId": ids[2], "internalId": "prod_y"}]});
    ok(&mock, "PUT", &format!("{P}/product-mappings"), Some(body)).await;
    let listed = ok(&mock, "GET", &format!("{P}/product-mappings"), None).await;
    assert_eq!(strings(&listed["data"], "externalId"), [ids[2].clone()]);

    // Delete, then the second delete is a 404.
    let path = format!("{P}/product-mappings/{}", ids[2]);
    ok(&mock, "DELETE", &path, None).await;
    mock.call("DELETE", &path, KEY, None)
        .await
        .expect_error(404, "resource_not_found");
    let listed = ok(&mock, "GET", &format!("{P}/product-mappings"), None).await;
    assert_eq!(listed["data"], json!([]));

    // Another merchant sees its own (empty) world.
    mock.get(&format!("{P}/product-mappings"), OTHER_KEY)
        .await
        .expect_error(404, "resource_not_found");
    mock.assert_conformant();
}

#[tokio::test]
async fn bad_mappings_are_refused_whole_and_nothing_is_written() {
    let mock = Mock::start().await;
    mock.activate(KEY, "practicehub", "ph_bad_mappings").await;
    let ids = strings(
        &ok(&mock, "GET", &format!("{P}/packages"), None).await["data"],
        "id",
    );
    let keep = json!({"mappings": [{"externalId": ids[0], "internalId": "prod_a"}]});
    ok(&mock, "PUT", &format!("{P}/product-mappings"), Some(keep)).await;
    let unknown = json!({"mappings": [
        {"externalId": ids[1], "internalId": "prod_a"},
        {"externalId": "pkg_nowhere", "internalId": "prod_b"},
    ]});
    let e = mock
        .call("PUT", &format!("{P}/product-mappings"), KEY, Some(unknown))
        .await
        .expect_error(400, "unknown_external_id");
    assert_eq!(e["param"], "mappings[1].externalId");
    let twice = json!({"mappings": [
        {"externalId": ids[1], "internalId": "prod_a"},
        {"externalId": ids[1], "internalId": "prod_b"},
    ]});
    mock.call("PUT", &format!("{P}/product-mappings"), KEY, Some(twice))
        .await
        .expect_error(400, "duplicate_mapping");
    let listed = ok(&mock, "GET", &format!("{P}/product-mappings"), None).await;
    assert_eq!(
        strings(&listed["data"], "externalId"),
        [ids[0].clone()],
        "the refused replacements wrote nothing"
    );

    // Payment mappings: provider method ids from the catalog, mapping ids once.
    let methods = ok(&mock, "GET", &format!("{P}/payment-methods"), None).await;
    let method = methods["data"][0]["id"].to_string();
    let good = json!({"mappings": [
        {"id": "m1", "revkeenMethod": "card", "practiceHubMethodId": method},
        {"id": "m2", "revkeenMethod": "cash", "practiceHubMethodId": method},
    ]});
    ok(&mock, "PUT", &format!("{P}/payment-mappings"), Some(good)).await;
    let bad =
        json!({"mappings": [{"id": "m1", "revkeenMethod": "card", "practiceHubMethodId": "1"}]});
    let e = mock
        .call("PUT", &format!("{P}/payment-mappings"), KEY, Some(bad))
        .await
        .expect_error(400, "unknown_external_id");
    assert_eq!(e["param"], "mappings[0].practiceHubMethodId");
    let dup = json!({"mappings": [
        {"id": "m1", "revkeenMethod": "card", "practiceHubMethodId": method},
        {"id": "m1", "revkeenMethod": "cash", "practiceHubMethodId": method},
    ]});
    mock.call("PUT", &format!("{P}/payment-mappings"), KEY, Some(dup))
        .await
        .expect_error(400, "duplicate_mapping");
    // Temporary credentials the provider rejects.
    let e = mock
        .call(
            "POST",
            &format!("{P}/payment-methods"),
            KEY,
            Some(json!({"baseUrl": "https://x.example", "apiKey": "invalid_key"})),
        )
        .await
        .expect_error(400, "credentials_rejected");
    assert_eq!(e["param"], "apiKey");
    mock.assert_conformant();
}

#[tokio::test]
async fn syncs_record_unmapped_packages_until_they_are_mapped_and_mappings_survive_deactivation() {
    let mock = Mock::start().await;
    mock.activate(KEY, "practicehub", "ph_unmapped_key").await;
    let packages = ok(&mock, "GET", &format!("{P}/packages"), None).await;
    let on_sale: Vec<String> = packages["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["active"] == true)
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    ok(&mock, "POST", &format!("{P}/sync"), None).await;
    ok(&mock, "POST", &format!("{P}/sync"), None).await;
    let attempts = ok(&mock, "GET", &format!("{P}/unmapped-attempts"), None).await;
    assert_eq!(attempts["totalCount"], on_sale.len());
    assert!(
        attempts["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["count"] == 2)
    );
    let log = ok(
        &mock,
        "GET",
        &format!("{P}/sync-logs?resourceType=invoices&limit=1"),
        None,
    )
    .await;
    assert_eq!(log["data"][0]["unmappedPackages"], on_sale.len());

    // Mapping one resolves its attempts and stops new ones.
    let body = json!({"mappings": [{"externalId": on_sale[0], "internalId": "prod_a"}]});
    ok(&mock, "PUT", &format!("{P}/product-mappings"), Some(body)).await;
    ok(&mock, "POST", &format!("{P}/sync"), None).await;
    let attempts = ok(&mock, "GET", &format!("{P}/unmapped-attempts"), None).await;
    let listed = strings(&attempts["data"], "externalPackageId");
    assert!(!listed.contains(&on_sale[0]));
    assert_eq!(listed.len(), on_sale.len() - 1);
    assert!(
        attempts["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["count"] == 3)
    );

    // Deactivation keeps the mappings; re-activation shows them again.
    ok(&mock, "POST", &format!("{P}/deactivate"), Some(json!({}))).await;
    mock.get(&format!("{P}/product-mappings"), KEY)
        .await
        .expect_error(404, "resource_not_found");
    mock.activate(KEY, "practicehub", "ph_unmapped_key").await;
    let kept = ok(&mock, "GET", &format!("{P}/product-mappings"), None).await;
    assert_eq!(strings(&kept["data"], "externalId"), [on_sale[0].clone()]);
    mock.assert_conformant();
}

#[tokio::test]
async fn suggestions_are_deterministic_and_write_nothing() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "wod_suggest_key").await;
    let packages = ok(&mock, "GET", "/v2/integrations/wodify/packages", None).await;
    let items: Vec<Value> = packages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"id": p["id"], "name": p["name"], "charge_type": p["charge_type"], "source": "package"}))
        .chain([json!({"id": 42, "name": "Qqqq Zzzz", "source": "unmapped"})])
        .collect();
    let body = json!({ "externalItems": items });
    let path = "/v2/integrations/wodify/suggest-mappings";
    let first = ok(&mock, "POST", path, Some(body.clone())).await;
    let second = ok(&mock, "POST", path, Some(body)).await;
    assert_eq!(first, second);
    let s = first["suggestions"].as_array().unwrap();
    assert!(!s.is_empty(), "{first}");
    assert!(
        s.iter().all(|x| x["externalId"] != "42"),
        "a name like no product gets none"
    );
    assert!(
        s.iter()
            .all(|x| (0.4..=1.0).contains(&x["confidence"].as_f64().unwrap()))
    );
    let listed = ok(
        &mock,
        "GET",
        "/v2/integrations/wodify/product-mappings",
        None,
    )
    .await;
    assert_eq!(listed["data"], json!([]), "suggestions write nothing");
    mock.assert_conformant();
}

#[tokio::test]
async fn invoice_payment_requests_need_a_key_and_read_back() {
    let mock = Mock::start().await;
    let path = "/v2/integrations/accounting/invoice-payment-requests";
    let body = json!({"invoice_id": "inv_1", "amount_minor": 8500, "currency": "GBP"});
    let e = mock
        .call("POST", path, KEY, Some(body.clone()))
        .await
        .expect_error(400, "validation_error");
    assert_eq!(e["param"], "Idempotency-Key");
    let text = body.to_string();
    let headers = [
        ("x-api-key", KEY),
        ("content-type", "application/json"),
        ("idempotency-key", "ipr-0001"),
    ];
    let r = mock.send("POST", path, &headers, Some(&text)).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let created = r.json();
    assert_eq!(created["data"]["status"], "pending");
    assert_eq!(created["data"]["customer_email"], Value::Null);
    let replay = mock.send("POST", path, &headers, Some(&text)).await;
    assert_eq!(replay.json(), created, "the key replays");
    let id = created["data"]["id"].as_str().unwrap();
    let read = mock.get(&format!("{path}/{id}"), KEY).await;
    assert_eq!(read.json(), created);
    mock.get(&format!("{path}/{id}"), OTHER_KEY)
        .await
        .expect_error(404, "resource_not_found");
    mock.get(&format!("{path}/not-a-uuid"), KEY)
        .await
        .expect_error(404, "resource_not_found");
    mock.assert_conformant();
}
