//! End-to-end journeys of the sync history over HTTP, in strict mode (every answer is
//! checked against the spec's exact reading): what a settings page shows after syncs,
//! retrying failures, statistics, sync states and the `/sync-state` watermarks.

use crate::common;

use common::{KEY, Mock, OTHER_KEY};
use revkeen_mock::sim::SimConfig;
use serde_json::{Value, json};

const P: &str = "/v2/integrations/wodify";

async fn logs(mock: &Mock, query: &str) -> Value {
    let r = mock.get(&format!("{P}/sync-logs{query}"), KEY).await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn syncs_write_the_history_a_settings_page_shows() {
    let mock = Mock::start().await;
    assert_eq!(logs(&mock, "").await["data"], json!([]), "never activated");
    let id = mock.activate(KEY, "wodify", "wod_key_0001").await.json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = mock
        .call("POST", &format!("{P}/sync"), KEY, None)
        .await
        .json()["jobId"]
        .clone();
    let page = logs(&mock, "").await;
    let entries = page["data"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["payments", "products", "invoices", "customers"],
        "newest first"
    );
    for e in entries {
        assert_eq!(
            (&e["jobId"], e["jobType"].as_str(), e["status"].as_str()),
            (&job, Some("manual"), Some("success"))
        );
        assert_eq!(e["integrationId"], id.as_str());
        assert_eq!(
            e["fullSync"], true,
            "the first sync of each resource is full"
        );
    }
    assert_eq!(page["pagination"]["total"], 4);

    // Scheduled runs as simulated time passes: 1 minute, then every 15.
    mock.advance(60 + 15 * 60).await;
    let scheduled = logs(&mock, "?jobType=scheduled").await;
    assert_eq!(scheduled["pagination"]["total"], 8);
    assert!(
        scheduled["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["fullSync"] == false)
    );
    // Any RFC 3339 time bounds the filter (Schemathesis found these refused once).
    let all = logs(&mock, "?createdAfter=0271-10-28T19:46:29%2B14:53&limit=100").await;
    assert_eq!(all["pagination"]["total"], 12);
    let none = logs(&mock, "?createdBefore=2026-05-01T10:00:00%2B09:00").await;
    assert_eq!(none["pagination"]["total"], 0);
    let latest = logs(&mock, "?latestOnly=true").await;
    assert_eq!(latest["pagination"]["total"], 4, "one per resource type");
    let page = logs(&mock, "?resourceType=invoices&limit=2&offset=1").await;
    assert_eq!(
        page["pagination"],
        json!({"limit": 2, "offset": 1, "total": 3, "hasMore": false})
    );
    let one = &page["data"][0];
    let got = mock
        .get(
            &format!("{P}/sync-logs/{}", one["id"].as_str().unwrap()),
            KEY,
        )
        .await;
    assert_eq!((got.status, &got.json()["data"]), (200, one));
    // Another merchant sees none of it.
    let r = mock.get(&format!("{P}/sync-logs"), OTHER_KEY).await;
    assert_eq!(r.json()["data"], json!([]));
    let r = mock
        .get(
            &format!("{P}/sync-logs/{}", one["id"].as_str().unwrap()),
            OTHER_KEY,
        )
        .await;
    r.expect_error(404, "resource_not_found");

    // Sync states: cursors at the last run, as many as the provider's resource types.
    let states = mock.get(&format!("{P}/sync-states"), KEY).await.json();
    assert_eq!(states["data"].as_array().unwrap().len(), 4);
    assert_eq!(states["data"][0]["lastSyncStatus"], "success");
    assert!(states["data"][0]["cursor"].is_string());
    mock.assert_conformant();
}

#[tokio::test]
async fn a_failed_sync_is_retried_once_and_stats_follow() {
    let mock = Mock::start().await;
    let id = mock
        .activate(KEY, "wodify", "fail_first_1_key")
        .await
        .json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    mock.call("POST", &format!("{P}/sync"), KEY, None).await;
    let failed = logs(&mock, "?status=failed").await;
    assert_eq!(failed["pagination"]["total"], 4);
    let first = &failed["data"][0];
    assert_eq!(first["retryable"], true);
    assert_eq!(first["error"], "wodify returned 503 Service Unavailable");
    let log_id = first["id"].as_str().unwrap();

    let r = mock
        .call("POST", &format!("{P}/sync-logs/{log_id}/retry"), KEY, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let retry = r.json()["data"].clone();
    assert_eq!(
        (&retry["jobType"], &retry["status"], &retry["retryOf"]),
        (&json!("single_retry"), &json!("success"), &json!(log_id))
    );
    assert_eq!(retry["idempotencyKey"], first["idempotencyKey"]);
    // Once through, the records are not retried again.
    let r = mock
        .call("POST", &format!("{P}/sync-logs/{log_id}/retry"), KEY, None)
        .await;
    let e = r.expect_error(400, "not_retryable");
    assert!(
        e["message"].as_str().unwrap().contains("already retried"),
        "{e}"
    );
    let r = mock
        .call(
            "POST",
            &format!("{P}/sync-logs/{}/retry", retry["id"].as_str().unwrap()),
            KEY,
            None,
        )
        .await;
    r.expect_error(400, "not_retryable");
    let unknown = "00000000-0000-4000-8000-000000000000";
    mock.call("POST", &format!("{P}/sync-logs/{unknown}/retry"), KEY, None)
        .await
        .expect_error(404, "resource_not_found");
    // A path parameter outside its schema names no resource.
    mock.call(
        "POST",
        &format!("{P}/sync-logs/not-a-uuid/retry"),
        KEY,
        None,
    )
    .await
    .expect_error(404, "resource_not_found");

    // Batch retry takes the other three (one per resource type).
    let r = mock
        .call(
            "POST",
            &format!("{P}/sync-logs/batch-retry"),
            KEY,
            Some(json!({"integrationId": id})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let d = r.json()["data"].clone();
    assert_eq!(
        (d["queued"].clone(), d["skipped"].clone()),
        (json!(3), json!(0))
    );
    assert!(
        logs(&mock, "?status=failed").await["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["retryable"] == false)
    );

    // Statistics agree with the log.
    let stats = mock.get(&format!("{P}/sync-stats/{id}"), KEY).await.json()["data"].clone();
    let all = logs(&mock, "?limit=100").await;
    let count = |s: &str| {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == s)
            .count()
    };
    assert_eq!(stats["total"], all["pagination"]["total"]);
    assert_eq!(stats["success"], count("success"));
    assert_eq!(stats["failed"], count("failed"));
    assert_eq!(stats["successRate"], json!(0.5));
    let items: u64 = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "success")
        .map(|e| e["itemsProcessed"].as_u64().unwrap())
        .sum();
    assert_eq!(stats["itemsProcessed"], items, "no record counted twice");
    let by_type = mock
        .get(&format!("{P}/sync-stats-by-type/{id}"), KEY)
        .await
        .json()["data"]
        .clone();
    let sum: u64 = by_type
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["total"].as_u64().unwrap())
        .sum();
    assert_eq!(json!(sum), stats["total"]);
    mock.get(
        &format!("{P}/sync-stats/00000000-0000-4000-8000-000000000000"),
        KEY,
    )
    .await
    .expect_error(404, "resource_not_found");
    mock.assert_conformant();
}

#[tokio::test]
async fn batch_retry_refuses_to_hammer_a_provider_behind_an_open_breaker() {
    let mock = Mock::start_with(SimConfig::default()).await;
    let id = mock.activate(KEY, "wodify", "fail_sync_key").await.json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Five scheduled failures open the breaker.
    mock.advance(60 + 4 * 15 * 60).await;
    let health = mock.get(P, KEY).await.json()["data"]["syncHealth"].clone();
    assert_eq!(health, "paused");
    let before = logs(&mock, "").await["pagination"]["total"].clone();
    let r = mock
        .call(
            "POST",
            &format!("{P}/sync-logs/batch-retry"),
            KEY,
            Some(json!({"integrationId": id, "resourceType": "invoices"})),
        )
        .await;
    let d = r.json()["data"].clone();
    assert_eq!(
        (d["queued"].clone(), d["skipped"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(d["skippedEntries"][0]["reason"], "breaker_open");
    assert_eq!(
        logs(&mock, "").await["pagination"]["total"],
        before,
        "nothing ran"
    );
    let failed = ids(&logs(&mock, "?status=failed&limit=1").await);
    mock.call(
        "POST",
        &format!("{P}/sync-logs/{}/retry", failed[0]),
        KEY,
        None,
    )
    .await
    .expect_error(400, "circuit_open");
    // A body naming another integration is not found; a bad body is a 400.
    mock.call(
        "POST",
        &format!("{P}/sync-logs/batch-retry"),
        KEY,
        Some(json!({"integrationId": "00000000-0000-4000-8000-000000000000"})),
    )
    .await
    .expect_error(404, "resource_not_found");
    mock.call(
        "POST",
        &format!("{P}/sync-logs/batch-retry"),
        KEY,
        Some(json!({"integrationId": id, "limit": 0})),
    )
    .await
    .expect_error(400, "validation_error");
    mock.assert_conformant();
}

#[tokio::test]
async fn deactivation_keeps_the_history_and_retries_of_its_entries_are_refused() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "fail_sync_key").await;
    mock.call("POST", &format!("{P}/sync"), KEY, None).await;
    let page = logs(&mock, "").await;
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["retryable"] == true)
    );
    let before = ids(&page);
    mock.call("POST", &format!("{P}/deactivate"), KEY, None)
        .await;
    let page = logs(&mock, "").await;
    assert_eq!(ids(&page), before);
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["retryable"] == false),
        "the same page, now of an inactive integration: nothing is retryable"
    );
    let e = mock
        .call(
            "POST",
            &format!("{P}/sync-logs/{}/retry", before[0]),
            KEY,
            None,
        )
        .await
        .expect_error(400, "not_retryable");
    assert!(e["message"].as_str().unwrap().contains("not active"), "{e}");
    mock.activate(KEY, "wodify", "wod_key_0002").await;
    assert_eq!(
        &ids(&logs(&mock, "").await),
        &before,
        "re-activation shows it again"
    );
    mock.assert_conformant();
}

#[tokio::test]
async fn sync_state_watermarks_are_the_keys_own_merchants() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "wod_key_0001").await;
    let tenants = mock.get("/__mock/tenants", KEY).await.json();
    let merchant = tenants["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == KEY)
        .unwrap()["merchantId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2/sync-state/wodify/{merchant}");
    let list = mock.get(&path, KEY).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 4);
    assert_eq!(list["data"][0]["lastSyncStatus"], "idle", "never synced");
    assert_eq!(list["data"][0]["merchantId"], merchant.as_str());

    let r = mock
        .call(
            "PUT",
            &format!("{path}/invoices"),
            KEY,
            Some(json!({"cursor": "2026-04-01T00:00:00Z", "lastSyncStatus": "failed", "lastSyncError": "worker crashed", "itemsSynced": 7})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let d = r.json()["data"].clone();
    assert_eq!(
        (
            &d["cursor"],
            &d["lastSyncStatus"],
            &d["lastSyncError"],
            &d["itemsSynced"]
        ),
        (
            &json!("2026-04-01T00:00:00Z"),
            &json!("failed"),
            &json!("worker crashed"),
            &json!(7)
        )
    );
    let states = mock.get(&format!("{P}/sync-states"), KEY).await.json();
    assert_eq!(states["data"][1]["cursor"], "2026-04-01T00:00:00Z");
    assert_eq!(states["data"][1]["lastSyncError"], "worker crashed");

    // Another merchant's id is forbidden; a resource the provider does not sync is not found.
    let other = "00000000-0000-4000-8000-000000000000";
    mock.get(&format!("/v2/sync-state/wodify/{other}"), KEY)
        .await
        .expect_error(403, "forbidden");
    mock.get(&path, OTHER_KEY)
        .await
        .expect_error(403, "forbidden");
    mock.call(
        "PUT",
        &format!("{path}/patients"),
        KEY,
        Some(json!({"itemsSynced": 1})),
    )
    .await
    .expect_error(404, "resource_not_found");
    mock.call("PUT", &format!("{path}/invoices"), KEY, Some(json!({})))
        .await
        .expect_error(400, "validation_error");
    mock.call(
        "PUT",
        &format!("{path}/invoices"),
        KEY,
        Some(json!({"cursor": "yesterday"})),
    )
    .await
    .expect_error(400, "validation_error");
    mock.get(&format!("/v2/sync-state/nope/{merchant}"), KEY)
        .await
        .expect_error(404, "resource_not_found");
    mock.assert_conformant();
}

#[tokio::test]
async fn the_admin_api_gives_one_tenants_last_runs_for_the_timeline() {
    let mock = Mock::start().await;
    mock.activate(KEY, "wodify", "fail_first_1_key").await;
    mock.activate(OTHER_KEY, "terminal", "term_key_0001").await;
    mock.call("POST", &format!("{P}/sync"), KEY, None).await;
    mock.call("POST", &format!("{P}/sync"), KEY, None).await;
    // The list of every tenant stays small: no runs in it.
    let all = mock.get("/__mock/tenants", KEY).await.json();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert!(
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("recentRuns").is_none())
    );
    // One tenant comes with its runs, newest first, each with its entries.
    let one = mock
        .get(&format!("/__mock/tenants?key={KEY}"), KEY)
        .await
        .json();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    let runs = one["data"][0]["recentRuns"]["wodify"]
        .as_array()
        .unwrap()
        .clone();
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["success", "failed"]);
    assert_eq!(runs[1]["entries"].as_array().unwrap().len(), 4);
    // The failures are covered by the later success: nothing to retry.
    assert!(
        runs[1]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["retryable"] == false && e["status"] == "failed")
    );
    let none = mock
        .get("/__mock/tenants?key=rk_sandbox_nobody_here_000001", KEY)
        .await
        .json();
    assert_eq!(none["data"], json!([]));
    mock.assert_conformant();
}
