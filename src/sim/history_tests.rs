//! Unit tests of sync history as the merchant writes it: entries per run, cursors,
//! the invoice lookback, retries and batch retries, deactivation and the bound.

use std::time::Duration;

use uuid::Uuid;

use super::*;
use crate::sim::random_runs::{T0, activate_with, active_at_t0, at};
use crate::sim::{
    BatchReport, Command, LogStatus, Merchant, Outcome, Provider, RetryRefusal, SimConfig,
    SimError, SkipReason, Timestamp,
};

const P: Provider = Provider::Practicehub;

fn active(api_key: &str) -> (Merchant, SimConfig) {
    active_at_t0(P, api_key)
}

fn sync(m: &mut Merchant, config: &SimConfig, now: Timestamp, full: bool) -> Uuid {
    match m
        .execute(config, now, P, Command::TriggerSync { full_resync: full })
        .unwrap()
    {
        Outcome::SyncEnqueued { job_id } => job_id,
        other => panic!("{other:?}"),
    }
}

fn log(m: &Merchant) -> Vec<SyncLogEntry> {
    m.histories[P.index()].entries().cloned().collect()
}

fn retry(
    m: &mut Merchant,
    config: &SimConfig,
    now: Timestamp,
    id: Uuid,
) -> Result<Outcome, SimError> {
    m.execute(config, now, P, Command::RetryLog { log_id: id })
}

#[test]
fn a_run_writes_one_entry_per_resource_type_and_moves_the_cursors() {
    let (mut m, config) = active("ph_key");
    // Only manual runs here.
    m.execute(&config, T0, P, Command::SetSyncEnabled(false))
        .unwrap();
    let job = sync(&mut m, &config, at(10), false);
    let entries = log(&m);
    let kinds: Vec<_> = entries.iter().map(|e| e.resource_type).collect();
    assert_eq!(kinds, ResourceType::of(P));
    for e in &entries {
        assert_eq!(
            (e.job_id, e.status, e.job_type),
            (job, LogStatus::Success, JobType::Manual)
        );
        assert!(e.full, "the first sync of each resource is a full one");
        assert!(e.items_processed > 0, "three years of records: {e:?}");
    }
    let h = &m.histories[P.index()];
    for s in h.states() {
        assert_eq!(s.cursor, Some(at(10)));
        assert_eq!(s.last_sync_status, Some(LogStatus::Success));
    }
    // An incremental run a day later fetches one day's records; a full resync all.
    let day = 86_400;
    sync(&mut m, &config, at(10 + day), false);
    sync(&mut m, &config, at(10 + day + 1), true);
    let e = log(&m);
    let patients: Vec<_> = e
        .iter()
        .filter(|x| x.resource_type == ResourceType::Patients)
        .collect();
    assert_eq!(patients.len(), 3);
    assert!(!patients[1].full && patients[2].full);
    assert!(
        patients[1].items_processed <= 40,
        "one day: {}",
        patients[1].items_processed
    );
    assert!(patients[2].items_processed >= patients[0].items_processed);
}

#[test]
fn the_first_sync_of_invoices_reaches_back_the_lookback_only() {
    let count = |days: u32| {
        let (mut m, config) = active("ph_key");
        let lookback = crate::sim::LookbackDays::new(days).unwrap();
        m.execute(&config, T0, P, Command::SetInvoiceLookback(lookback))
            .unwrap();
        sync(&mut m, &config, at(5), false);
        let invoices = |m: &Merchant| {
            log(m)
                .into_iter()
                .filter(|e| e.resource_type == ResourceType::Invoices)
                .map(|e| e.items_processed)
                .collect::<Vec<_>>()
        };
        sync(&mut m, &config, at(6), true);
        invoices(&m)
    };
    let (short, long) = (count(30), count(365));
    assert!(short[0] < long[0], "{short:?} {long:?}");
    // A later full resync ignores the lookback: the whole history, the same either way.
    assert_eq!(short[1], long[1]);
    assert!(long[1] > long[0]);
}

#[test]
fn failed_runs_leave_failed_entries_that_a_retry_fixes_once() {
    let (mut m, config) = active("fail_first_1_key");
    sync(&mut m, &config, at(10), false);
    let failed = log(&m);
    assert!(failed.iter().all(|e| e.status == LogStatus::Failed
        && e.failure == Some(Failure::Unavailable)
        && e.items_processed == 0));
    let target = failed[1].id;
    let Outcome::Retried { entry: r, .. } = retry(&mut m, &config, at(20), target).unwrap() else {
        panic!()
    };
    assert_eq!(
        (r.status, r.job_type, r.retry_of),
        (LogStatus::Success, JobType::SingleRetry, Some(target))
    );
    assert_eq!(r.idempotency_key(), failed[1].idempotency_key());
    assert!(r.items_processed > 0);
    // The records went through under the entry's key: no second retry counts them again.
    let err = retry(&mut m, &config, at(30), target).unwrap_err();
    assert!(matches!(
        err,
        SimError::NotRetryable(RetryRefusal::AlreadyRetried { .. })
    ));
    let err = retry(&mut m, &config, at(30), r.id).unwrap_err();
    assert!(matches!(
        err,
        SimError::NotRetryable(RetryRefusal::NotFailed { .. })
    ));
    let err = retry(&mut m, &config, at(30), Uuid::from_u128(7)).unwrap_err();
    assert!(matches!(err, SimError::LogNotFound { .. }));
    // The success reset the breaker's counter.
    assert_eq!(m.integration(P).unwrap().breaker.consecutive_errors(), 0);
}

#[test]
fn permanent_failures_and_gone_targets_are_not_retried() {
    let (mut m, config) = active("reject_payments_key");
    sync(&mut m, &config, at(10), false);
    let payments = log(&m)
        .into_iter()
        .find(|e| e.resource_type == ResourceType::Payments)
        .unwrap();
    assert_eq!(payments.failure, Some(Failure::Rejected));
    assert!(
        log(&m)
            .iter()
            .filter(|e| e.id != payments.id)
            .all(|e| e.status == LogStatus::Success)
    );
    assert_eq!(
        m.integration(P).unwrap().breaker.consecutive_errors(),
        0,
        "the provider is up"
    );
    let err = retry(&mut m, &config, at(20), payments.id).unwrap_err();
    assert!(matches!(
        err,
        SimError::NotRetryable(RetryRefusal::Permanent { .. })
    ));

    let (mut m, config) = active("fail_sync_key");
    sync(&mut m, &config, at(10), false);
    let first = log(&m)[0].id;
    m.execute(
        &config,
        at(11),
        P,
        Command::Deactivate {
            delete_credentials: false,
        },
    )
    .unwrap();
    let err = retry(&mut m, &config, at(12), first).unwrap_err();
    assert!(matches!(
        err,
        SimError::NotRetryable(RetryRefusal::TargetGone { .. })
    ));
    // Deactivation keeps the log and the cursors; re-activation shows them again.
    m.execute(&config, at(13), P, activate_with("fail_sync_key"))
        .unwrap();
    assert_eq!(log(&m)[0].id, first);
}

#[test]
fn batch_retry_honours_the_breaker_and_caps_at_the_threshold() {
    let mut config = SimConfig::default();
    config.breaker.threshold = 3;
    let mut m = Merchant::new(1);
    m.execute(&config, T0, P, activate_with("fail_first_2_key"))
        .unwrap();
    let id = m.integration(P).unwrap().id;
    sync(&mut m, &config, at(10), false);
    sync(&mut m, &config, at(20), false);
    // Eight failed entries (two runs × four resources). The newest of each resource is
    // retried (the provider is back, so each succeeds and covers the older failure of
    // its resource), at most three: the fourth resource is capped.
    let batch = |m: &mut Merchant, limit| match m
        .execute(
            &config,
            at(30),
            P,
            Command::BatchRetry {
                integration_id: id,
                resource_type: None,
                limit,
            },
        )
        .unwrap()
    {
        Outcome::BatchRetried(r) => *r,
        other => panic!("{other:?}"),
    };
    let BatchReport {
        retried, skipped, ..
    } = batch(&mut m, None);
    assert_eq!(retried.len(), 3);
    assert!(
        retried
            .iter()
            .all(|e| e.status == LogStatus::Success && e.job_type == JobType::BatchRetry)
    );
    assert_eq!(
        skipped
            .iter()
            .filter(|(_, r)| *r == SkipReason::Capped)
            .count(),
        1,
        "{skipped:?}"
    );
    // The rest: one outstanding failure left, retried by the next batch.
    let second = batch(&mut m, Some(10));
    assert_eq!((second.retried.len(), second.skipped.len()), (1, 0));
    let third = batch(&mut m, None);
    assert_eq!((third.retried.len(), third.skipped.len()), (0, 0));
    // Another integration's id is not found.
    let err = m
        .execute(
            &config,
            at(40),
            P,
            Command::BatchRetry {
                integration_id: Uuid::from_u128(1),
                resource_type: None,
                limit: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, SimError::WrongIntegration { .. }));
}

#[test]
fn batch_retry_with_the_breaker_open_skips_everything() {
    let (mut m, config) = active("fail_sync_key");
    let id = m.integration(P).unwrap().id;
    // Scheduled runs open the breaker (five failures by default).
    let later = at(60 + 5 * 15 * 60);
    let _ = m.at(&config, later);
    let failures = log(&m).len();
    assert_eq!(failures, 5 * 4);
    let Outcome::BatchRetried(r) = m
        .execute(
            &config,
            later,
            P,
            Command::BatchRetry {
                integration_id: id,
                resource_type: None,
                limit: None,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(r.retried.is_empty());
    // One per set of records; the older attempts at the same resource are not repeated.
    assert!(
        r.skipped
            .iter()
            .all(|(_, why)| *why == SkipReason::BreakerOpen)
    );
    assert_eq!(log(&m).len(), failures, "nothing written");
}

#[test]
fn deactivating_during_a_slow_run_skips_its_entries() {
    let (mut m, config) = active("slow_key");
    sync(&mut m, &config, at(10), false);
    assert!(
        log(&m)
            .iter()
            .all(|e| e.status == LogStatus::Syncing && e.duration_ms.is_none())
    );
    m.execute(
        &config,
        at(20),
        P,
        Command::Deactivate {
            delete_credentials: false,
        },
    )
    .unwrap();
    assert!(log(&m).iter().all(|e| e.status == LogStatus::Skipped
        && e.failure == Some(Failure::Cancelled)
        && e.duration_ms == Some(10_000)));
    assert!(
        m.histories[P.index()]
            .states()
            .iter()
            .all(|s| s.cursor.is_none())
    );
}

#[test]
fn history_is_bounded_per_integration() {
    let config = SimConfig {
        history_limit: 10,
        ..Default::default()
    };
    let mut m = Merchant::new(1);
    m.execute(&config, T0, P, activate_with("ph_key")).unwrap();
    let _ = m.at(&config, T0.plus(Duration::from_secs(24 * 3600)));
    let kept = log(&m);
    assert_eq!(kept.len(), 10);
    assert!(kept.windows(2).all(|w| w[0].started_at <= w[1].started_at));
}

#[test]
fn the_sync_worker_sets_a_watermark_and_the_next_run_fetches_from_it() {
    let (mut m, config) = active("ph_key");
    sync(&mut m, &config, at(10), false);
    let update = crate::sim::SyncStateUpdate {
        cursor: Some(Some(at(10 - 86_400 * 30))),
        ..Default::default()
    };
    let Outcome::SyncStateSet(s) = m
        .execute(
            &config,
            at(11),
            P,
            Command::PutSyncState {
                merchant_id: m.id,
                resource_type: ResourceType::Patients,
                update,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(s.cursor, Some(at(10 - 86_400 * 30)));
    sync(&mut m, &config, at(12), false);
    let last = log(&m)
        .into_iter()
        .rev()
        .find(|e| e.resource_type == ResourceType::Patients)
        .unwrap();
    assert!(
        last.items_processed >= 15,
        "thirty days of patients: {}",
        last.items_processed
    );
    let err = m
        .execute(
            &config,
            at(13),
            P,
            Command::PutSyncState {
                merchant_id: m.id,
                resource_type: ResourceType::Customers,
                update: Default::default(),
            },
        )
        .unwrap_err();
    assert!(matches!(err, SimError::NoSyncState { .. }));
    let err = m
        .execute(
            &config,
            at(14),
            P,
            Command::PutSyncState {
                merchant_id: Uuid::from_u128(9),
                resource_type: ResourceType::Patients,
                update: Default::default(),
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, SimError::OtherMerchant { .. }),
        "another merchant's state"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// A history's revision names one content: two moments of a run whose histories
    /// have the same (non-zero) revision have the same log and states. What the
    /// server's kept pages of the log rely on.
    #[test]
    fn a_revision_names_one_content(steps in crate::sim::random_runs::steps()) {
        let config = SimConfig::default();
        let mut seen: std::collections::HashMap<u64, SyncHistory> = Default::default();
        for (tenants, _) in crate::sim::random_runs::run(&steps, &config) {
            for m in &tenants {
                for h in &m.histories {
                    if h.revision() == 0 {
                        proptest::prop_assert!(h.entries().len() == 0 && h.states().is_empty());
                        continue;
                    }
                    let first = seen.entry(h.revision()).or_insert_with(|| h.clone());
                    proptest::prop_assert_eq!(&*first, h);
                }
            }
        }
    }
}
