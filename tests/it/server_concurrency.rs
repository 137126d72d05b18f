//! Many tasks mutating one merchant at once: afterwards the state satisfies the
//! simulator's invariants and no acknowledged change is lost.

use crate::common;

use std::sync::Arc;

use common::{KEY, Mock, T0};
use revkeen_mock::sim::{ApiKey, Provider};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mutations_of_one_merchant_lose_nothing() {
    let mock = Arc::new(Mock::start().await);
    for p in ["practicehub", "wodify", "terminal"] {
        assert_eq!(mock.activate(KEY, p, "healthy_key").await.status, 200);
    }
    let tasks = 32;
    let per_task = 10;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let mock = Arc::clone(&mock);
        handles.push(tokio::spawn(async move {
            let provider = ["practicehub", "wodify", "terminal"][t % 3];
            let mut acknowledged_syncs = 0;
            for i in 0..per_task {
                let base = format!("/v2/integrations/{provider}");
                let r = mock.call("POST", &format!("{base}/sync"), KEY, None).await;
                assert_eq!(r.status, 200, "{}", r.json());
                acknowledged_syncs += 1;
                let minutes = 5 + (t * per_task + i) % 100;
                let r = mock
                    .call(
                        "PUT",
                        &format!("{base}/sync-interval"),
                        KEY,
                        Some(json!({"syncIntervalMinutes": minutes})),
                    )
                    .await;
                assert_eq!(r.status, 200);
                let r = mock
                    .call(
                        "PUT",
                        &format!("{base}/sync-toggle"),
                        KEY,
                        Some(json!({"enabled": i % 2 == 0})),
                    )
                    .await;
                assert_eq!(r.status, 200);
                assert_eq!(mock.get(&base, KEY).await.status, 200);
            }
            (provider, acknowledged_syncs)
        }));
    }
    let mut acknowledged = std::collections::HashMap::new();
    for h in handles {
        let (provider, n) = h.await.expect("task");
        *acknowledged.entry(provider).or_insert(0u64) += n;
    }

    let app = &mock.running.app;
    let key = ApiKey::parse(KEY).unwrap();
    let mut state = app.store.snapshot(Some(&key)).await.unwrap();
    let merchant = state.merchants.get_mut(&key).expect("tenant");
    // The clock is frozen at T0: reading at it applies nothing new.
    let view = merchant.at(app.store.config(), T0);
    assert_eq!(
        view.integrations().count(),
        3,
        "one integration per provider"
    );
    for p in Provider::ALL {
        let i = view.integration(p).unwrap();
        // The clock is frozen: every sync is a manual one this test acknowledged.
        assert_eq!(
            i.sync_attempts,
            acknowledged[p.as_str()],
            "{p}: a sync was lost or invented"
        );
        assert!(i.is_active && i.has_repeatable_job());
        assert_eq!(
            i.interval.millis(),
            u64::from(i.interval.minutes()) * 60_000
        );
        assert!(i.running_job.is_none());
    }
    mock.assert_conformant();
}
