//! Unit tests of each rule of the integration lifecycle, and property tests over
//! random command sequences.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::sim::random_runs::{Step, T0, activate_with, active_at_t0, at, creds, run, steps};
use crate::sim::{
    BreakerConfig, BreakerState, IntegrationStatus, LookbackDays, SimConfig, SyncHealth,
    SyncIntervalMinutes,
};

const P: Provider = Provider::Practicehub;

fn active(api_key: &str) -> (Merchant, SimConfig) {
    active_at_t0(P, api_key)
}

fn get(m: &Merchant) -> &Integration {
    m.integration(P).unwrap()
}

#[test]
fn never_activated_gives_no_integration_and_is_left_out_of_the_list() {
    let m = Merchant::new(1);
    assert!(m.integration(P).is_none());
    assert_eq!(m.integrations().count(), 0);
}

#[test]
fn activate_makes_it_active_connected_and_schedules_the_first_sync() {
    let (m, config) = active("ph_key");
    let i = get(&m);
    assert!(i.is_active && i.sync_enabled);
    assert_eq!(i.status, IntegrationStatus::Connected);
    assert_eq!(i.health(&config.breaker, T0), SyncHealth::Healthy);
    assert!(i.has_repeatable_job());
    assert_eq!(i.interval, SyncIntervalMinutes::DEFAULT);
    assert_eq!(i.next_run, Some(T0.plus(FIRST_SYNC_DELAY)));
    assert_eq!((i.created_at, i.updated_at), (T0, T0));
}

#[test]
fn activating_an_active_integration_is_a_conflict() {
    let (mut m, config) = active("ph_key");
    let err = m
        .execute(&config, at(1), P, activate_with("ph_key"))
        .unwrap_err();
    assert_eq!(err, SimError::AlreadyActive { provider: P });
}

#[test]
fn rejected_credentials_fail_activation_and_change_nothing() {
    let config = SimConfig::default();
    let mut m = Merchant::new(1);
    let err = m
        .execute(&config, T0, P, activate_with("invalid_key"))
        .unwrap_err();
    assert!(matches!(err, SimError::CredentialsRejected { .. }));
    assert!(m.integration(P).is_none());
}

#[test]
fn test_credentials_gives_a_verdict_and_changes_no_state() {
    let (mut m, config) = active("ph_key");
    let before = m.clone();
    let ok = m
        .execute(&config, T0, P, Command::TestCredentials(creds("good")))
        .unwrap();
    assert_eq!(ok, Outcome::Verdict(Ok(())));
    let bad = m
        .execute(&config, T0, P, Command::TestCredentials(creds("invalid_x")))
        .unwrap();
    assert!(matches!(bad, Outcome::Verdict(Err(reason)) if reason.contains("rejected")));
    assert_eq!(m, before);
}

#[test]
fn deactivate_keeps_the_record_and_reactivation_keeps_its_id() {
    let (mut m, config) = active("ph_key");
    let id = get(&m).id;
    m.execute(
        &config,
        at(10),
        P,
        Command::Deactivate {
            delete_credentials: false,
        },
    )
    .unwrap();
    let i = get(&m);
    assert!(!i.is_active && !i.has_repeatable_job());
    assert_eq!(i.status, IntegrationStatus::Idle);
    assert!(
        i.credentials.is_some(),
        "deleteCredentials: false keeps them"
    );
    assert_eq!(m.integrations().count(), 1, "still listed");
    m.execute(&config, at(20), P, activate_with("ph_key"))
        .unwrap();
    assert_eq!(get(&m).id, id);
    assert_eq!(get(&m).created_at, T0);
}

#[test]
fn delete_credentials_purges_them() {
    let (mut m, config) = active("ph_key");
    m.execute(
        &config,
        at(1),
        P,
        Command::Deactivate {
            delete_credentials: true,
        },
    )
    .unwrap();
    assert!(get(&m).credentials.is_none());
}

#[test]
fn deactivating_an_inactive_integration_is_not_found() {
    let config = SimConfig::default();
    let mut m = Merchant::new(1);
    let cmd = Command::Deactivate {
        delete_credentials: false,
    };
    assert_eq!(
        m.execute(&config, T0, P, cmd.clone()),
        Err(SimError::NotFound { provider: P })
    );
    let (mut m, config) = active("ph_key");
    m.execute(&config, at(1), P, cmd.clone()).unwrap();
    assert_eq!(
        m.execute(&config, at(2), P, cmd),
        Err(SimError::NotFound { provider: P })
    );
}

#[test]
fn manual_sync_needs_an_active_integration_and_completes_at_once_by_default() {
    let config = SimConfig::default();
    let mut m = Merchant::new(1);
    let sync = Command::TriggerSync { full_resync: true };
    assert_eq!(
        m.execute(&config, T0, P, sync.clone()),
        Err(SimError::NotActive { provider: P })
    );
    let (mut m, config) = active("ph_key");
    let Ok(Outcome::SyncEnqueued { .. }) = m.execute(&config, at(5), P, sync) else {
        panic!()
    };
    let i = get(&m);
    assert_eq!(i.last_sync_at, Some(at(5)));
    assert_eq!(i.status, IntegrationStatus::Connected);
    assert_eq!(i.full_resyncs, 1, "fullResync is recorded");
}

#[test]
fn a_running_job_shows_syncing_and_a_second_sync_returns_its_id() {
    let config = SimConfig {
        sync_duration: Duration::from_secs(30),
        ..SimConfig::default()
    };
    let mut m = Merchant::new(1);
    m.execute(&config, T0, P, activate_with("ph_key")).unwrap();
    let sync = Command::TriggerSync { full_resync: false };
    let Ok(Outcome::SyncEnqueued { job_id: first }) = m.execute(&config, at(1), P, sync.clone())
    else {
        panic!()
    };
    assert_eq!(get(&m).status, IntegrationStatus::Syncing);
    let Ok(Outcome::SyncEnqueued { job_id: second }) = m.execute(&config, at(2), P, sync) else {
        panic!()
    };
    assert_eq!(first, second);
    m.advance(&config, at(31));
    assert_eq!(get(&m).status, IntegrationStatus::Connected);
    assert_eq!(get(&m).last_sync_at, Some(at(31)));
}

#[test]
fn scheduled_syncs_run_when_time_passes_next_run() {
    let (mut m, config) = active("ph_key");
    m.advance(&config, at(59));
    assert_eq!(get(&m).last_sync_at, None);
    m.advance(&config, at(60));
    assert_eq!(get(&m).last_sync_at, Some(at(60)));
    assert_eq!(get(&m).next_run, Some(at(60 + 15 * 60)));
}

#[test]
fn sync_toggle_off_skips_scheduled_syncs_but_not_manual_ones() {
    let (mut m, config) = active("ph_key");
    m.execute(&config, at(1), P, Command::SetSyncEnabled(false))
        .unwrap();
    assert_eq!(get(&m).health(&config.breaker, at(1)), SyncHealth::Paused);
    m.advance(&config, at(3600));
    assert_eq!(get(&m).last_sync_at, None, "scheduled syncs skipped");
    assert!(
        get(&m).next_run.unwrap() > at(3600),
        "nextRun keeps advancing"
    );
    m.execute(
        &config,
        at(3601),
        P,
        Command::TriggerSync { full_resync: false },
    )
    .unwrap();
    assert_eq!(get(&m).last_sync_at, Some(at(3601)));
}

#[test]
fn sync_interval_sets_interval_ms_and_applies_from_the_next_tick() {
    let (mut m, config) = active("ph_key");
    let thirty = SyncIntervalMinutes::new(30).unwrap();
    m.execute(&config, at(1), P, Command::SetSyncInterval(thirty))
        .unwrap();
    assert_eq!(get(&m).interval.millis(), 1_800_000);
    assert_eq!(
        get(&m).next_run,
        Some(at(60)),
        "the scheduled run keeps its time"
    );
    m.advance(&config, at(60));
    assert_eq!(get(&m).next_run, Some(at(60 + 30 * 60)));
}

#[test]
fn sync_interval_cannot_hold_less_than_five_minutes() {
    assert!(SyncIntervalMinutes::new(4).is_err());
    assert!(SyncIntervalMinutes::new(5).is_ok());
    assert!(SyncIntervalMinutes::new(1441).is_err());
}

#[test]
fn lookback_and_auto_send_live_in_configuration() {
    let (mut m, config) = active("ph_key");
    m.execute(
        &config,
        at(1),
        P,
        Command::SetInvoiceLookback(LookbackDays::new(180).unwrap()),
    )
    .unwrap();
    m.execute(&config, at(2), P, Command::SetAutoSendInvoices(true))
        .unwrap();
    assert_eq!(get(&m).configuration.invoice_lookback_days.days(), 180);
    assert!(get(&m).configuration.auto_send_invoices);
    assert_eq!(get(&m).updated_at, at(2));
}

#[test]
fn settings_on_an_inactive_integration_are_not_found() {
    let config = SimConfig::default();
    let mut m = Merchant::new(1);
    for cmd in [
        Command::SetSyncEnabled(true),
        Command::SetAutoSendInvoices(true),
        Command::UpdateStatus {
            status: IntegrationStatus::Idle,
            last_sync_error: None,
        },
    ] {
        assert_eq!(
            m.execute(&config, T0, P, cmd),
            Err(SimError::NotFound { provider: P })
        );
    }
}

#[test]
fn the_worker_status_update_sets_status_error_and_last_sync_time() {
    let (mut m, config) = active("ph_key");
    let cmd = Command::UpdateStatus {
        status: IntegrationStatus::Error,
        last_sync_error: Some("boom".into()),
    };
    m.execute(&config, at(7), P, cmd).unwrap();
    let i = get(&m);
    assert_eq!(
        (i.status, i.last_sync_error.as_deref(), i.last_sync_at),
        (IntegrationStatus::Error, Some("boom"), Some(at(7)))
    );
    m.execute(
        &config,
        at(8),
        P,
        Command::UpdateStatus {
            status: IntegrationStatus::Syncing,
            last_sync_error: None,
        },
    )
    .unwrap();
    assert_eq!(
        get(&m).last_sync_at,
        Some(at(7)),
        "syncing does not end a run"
    );
}

/// Drives `fail_sync` credentials through the whole breaker cycle.
#[test]
fn failing_syncs_degrade_then_open_the_breaker_and_resume_sync_runs_a_trial() {
    let (mut m, config) = active("fail_sync_demo");
    m.advance(&config, at(60));
    let i = get(&m);
    assert_eq!(i.breaker.consecutive_errors(), 1);
    assert_eq!(i.health(&config.breaker, at(60)), SyncHealth::Degraded);
    assert_eq!(i.status, IntegrationStatus::Error);
    assert!(i.last_sync_error.is_some());
    // Four more scheduled failures: the fifth opens the breaker.
    let fifth = at(60 + 4 * 15 * 60);
    m.advance(&config, fifth);
    let i = get(&m);
    assert_eq!(i.breaker.consecutive_errors(), 5);
    assert_eq!(i.breaker.state(&config.breaker, fifth), BreakerState::Open);
    assert_eq!(i.health(&config.breaker, fifth), SyncHealth::Paused);
    // Open: scheduled syncs are skipped, manual sync is refused.
    m.advance(&config, at(60 + 10 * 15 * 60));
    assert_eq!(get(&m).last_sync_at, Some(fifth));
    let err = m.execute(
        &config,
        at(9000),
        P,
        Command::TriggerSync { full_resync: false },
    );
    assert!(matches!(
        err,
        Err(SimError::CircuitOpen {
            consecutive_errors: 5,
            ..
        })
    ));
    // resume-sync resets and runs a trial; the provider still fails: counts from 1.
    m.execute(&config, at(9001), P, Command::ResumeSync)
        .unwrap();
    assert_eq!(get(&m).breaker.consecutive_errors(), 1);
    assert_eq!(
        get(&m).health(&config.breaker, at(9001)),
        SyncHealth::Degraded
    );
}

#[test]
fn resume_after_the_provider_recovers_closes_the_breaker() {
    let config = SimConfig {
        breaker: BreakerConfig {
            threshold: 2,
            cooldown: None,
        },
        ..SimConfig::default()
    };
    let mut m = Merchant::new(1);
    m.execute(&config, T0, P, activate_with("ph_key")).unwrap();
    m.inject_outage(P, Outage::NextSyncs { remaining: 2 });
    m.advance(&config, at(60 + 15 * 60));
    assert_eq!(
        get(&m).breaker.state(&config.breaker, at(60 + 15 * 60)),
        BreakerState::Open
    );
    assert!(m.outages[P.index()].is_none(), "the outage is used up");
    m.execute(&config, at(2000), P, Command::ResumeSync)
        .unwrap();
    let i = get(&m);
    assert_eq!(i.breaker.consecutive_errors(), 0);
    assert_eq!(i.health(&config.breaker, at(2000)), SyncHealth::Healthy);
    assert_eq!(i.status, IntegrationStatus::Connected);
}

#[test]
fn with_a_cooldown_the_next_scheduled_sync_after_it_is_the_trial() {
    let config = SimConfig {
        breaker: BreakerConfig {
            threshold: 1,
            cooldown: Some(Duration::from_secs(30 * 60)),
        },
        ..SimConfig::default()
    };
    let mut m = Merchant::new(1);
    m.execute(&config, T0, P, activate_with("ph_key")).unwrap();
    m.inject_outage(P, Outage::Until { until: at(20 * 60) });
    m.advance(&config, at(60));
    assert_eq!(
        get(&m).breaker.state(&config.breaker, at(60)),
        BreakerState::Open
    );
    // 16:00 is skipped (open), 31:00 is half-open: the trial runs and succeeds.
    m.advance(&config, at(16 * 60));
    assert_eq!(get(&m).last_sync_at, Some(at(60)));
    assert_eq!(
        get(&m).breaker.state(&config.breaker, at(31 * 60)),
        BreakerState::HalfOpen
    );
    m.advance(&config, at(31 * 60));
    assert_eq!(get(&m).last_sync_at, Some(at(31 * 60)));
    assert_eq!(
        get(&m).breaker.state(&config.breaker, at(31 * 60)),
        BreakerState::Closed
    );
}

#[test]
fn fail_first_n_recovers_and_flap_alternates() {
    let (mut m, config) = active("fail_first_2_demo");
    let tick = |k: i64| at(60 + k * 15 * 60);
    m.advance(&config, tick(1));
    assert_eq!(get(&m).breaker.consecutive_errors(), 2);
    m.advance(&config, tick(2));
    assert_eq!(get(&m).breaker.consecutive_errors(), 0);
    let (mut m, config) = active("flap_demo");
    let errors: Vec<u32> = (0..4)
        .map(|k| {
            m.advance(&config, tick(k));
            get(&m).breaker.consecutive_errors()
        })
        .collect();
    assert_eq!(errors, [1, 0, 1, 0]);
}

#[test]
fn timeouts_run_for_the_timeout_then_fail() {
    let (mut m, config) = active("timeout_demo");
    m.advance(&config, at(60));
    assert_eq!(get(&m).status, IntegrationStatus::Syncing);
    m.advance(&config, at(90));
    assert_eq!(get(&m).status, IntegrationStatus::Error);
    assert!(
        get(&m)
            .last_sync_error
            .as_deref()
            .unwrap()
            .contains("timed out")
    );
}

#[test]
fn a_huge_clock_jump_costs_bounded_work() {
    let (mut m, config) = active("ph_key");
    let years = Timestamp(T0.0 + 100 * 365 * 24 * 3_600_000);
    m.advance(&config, years);
    assert!(get(&m).sync_attempts <= MAX_CATCH_UP_RUNS as u64 + 1);
    assert!(get(&m).next_run.unwrap() > years);
}

// ---- property tests ----------------------------------------------------------------

fn check_invariants(m: &Merchant, config: &SimConfig, now: Timestamp) -> Result<(), TestCaseError> {
    let providers: Vec<Provider> = m.integrations().map(|i| i.provider).collect();
    let mut unique = providers.clone();
    unique.dedup();
    prop_assert_eq!(&providers, &unique, "at most one integration per provider");
    for i in m.integrations() {
        let errors = i.breaker.consecutive_errors();
        let state = i.breaker.state(&config.breaker, now);
        prop_assert_eq!(
            state == BreakerState::Closed,
            errors < config.breaker.threshold,
            "breaker agrees with the counter"
        );
        prop_assert_eq!(
            i.interval.millis(),
            u64::from(i.interval.minutes()) * 60_000
        );
        prop_assert!(i.interval.minutes() >= 5);
        prop_assert_eq!(
            i.has_repeatable_job(),
            i.is_active,
            "a repeatable job exactly while active"
        );
        prop_assert!(
            i.is_active || i.running_job.is_none(),
            "no job runs on an inactive integration"
        );
        prop_assert_eq!(
            i.status == IntegrationStatus::Syncing,
            i.running_job.is_some(),
            "syncing exactly while a job runs"
        );
        prop_assert_eq!(
            i.health(&config.breaker, now) == SyncHealth::Healthy,
            errors == 0 && i.sync_enabled && state == BreakerState::Closed
        );
        prop_assert!(i.created_at <= i.updated_at);
        if let Some(next) = i.next_run {
            prop_assert!(next > now, "every due tick has been applied");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// After every step of any sequence (several providers, two tenants, clock
    /// advances, outages): at most one integration per provider, the breaker state
    /// agrees with the counter, intervalMs is minutes × 60,000, and the derived fields
    /// agree with the record. No sequence panics.
    #[test]
    fn invariants_hold_after_every_step(steps in steps(), threshold in 1u32..6) {
        let config = SimConfig { breaker: BreakerConfig { threshold, cooldown: None }, sync_duration: Duration::from_secs(5), ..SimConfig::default() };
        for (tenants, now) in run(&steps, &config) {
            for m in &tenants {
                check_invariants(m, &config, now)?;
            }
        }
    }

    /// Replaying the same commands from the same start gives identical state.
    #[test]
    fn replays_are_deterministic(steps in steps()) {
        let config = SimConfig::default();
        prop_assert_eq!(run(&steps, &config), run(&steps, &config));
    }

    /// A merchant whose own clock was moved ahead by `d` (at any point of any
    /// sequence) answers every command, and ends in every state, as the same merchant
    /// does when the sandbox's time is `d` later: moving the clock runs what falls due
    /// as time passing would, and every entry point reads the merchant's own time.
    #[test]
    fn a_merchant_moved_ahead_is_the_same_merchant_later(
        steps in steps(),
        ahead in 0u64..200_000,
        at_step in 0usize..60,
    ) {
        let config = SimConfig { sync_duration: Duration::from_secs(5), ..SimConfig::default() };
        let d = Duration::from_secs(ahead);
        let (mut moved, mut later) = (Merchant::new(11), Merchant::new(11));
        let (mut now, mut extra) = (T0, Duration::ZERO);
        for (i, step) in steps.iter().enumerate() {
            if i == at_step.min(steps.len().saturating_sub(1)) {
                let to = moved.move_clock_ahead(&config, now, d).unwrap();
                extra = d;
                later.advance(&config, now.plus(extra));
                prop_assert_eq!(to, now.plus(extra));
            }
            match step {
                Step::Run(_, p, c) => {
                    let a = moved.execute(&config, now, *p, c.clone());
                    let b = later.execute(&config, now.plus(extra), *p, c.clone());
                    prop_assert_eq!(a, b);
                }
                Step::Advance(secs) => {
                    now = now.plus(Duration::from_secs(u64::from(*secs)));
                    moved.advance(&config, now);
                    later.advance(&config, now.plus(extra));
                }
                Step::Outage(_, p, n) => {
                    moved.inject_outage(*p, Outage::NextSyncs { remaining: *n });
                    later.inject_outage(*p, Outage::NextSyncs { remaining: *n });
                }
            }
            let mut seen = moved.clone();
            prop_assert_eq!(seen.clock_ahead(), extra);
            seen.clock_ahead_ms = 0;
            prop_assert_eq!(&seen, &later);
        }
    }
}

#[test]
fn a_merchants_clock_moves_at_most_ninety_days_a_call_and_never_past_9999() {
    let (mut m, config) = active("ph_key");
    assert_eq!(
        m.move_clock_ahead(&config, T0, MAX_CLOCK_STEP + Duration::from_secs(1)),
        Err(ClockRefusal::StepTooLong)
    );
    let near_the_end = Timestamp(Timestamp::LATEST.0 - 1000);
    let before = m.clone();
    assert_eq!(
        m.move_clock_ahead(&config, near_the_end, Duration::from_secs(2)),
        Err(ClockRefusal::PastLatest)
    );
    // A refused move changes nothing at all.
    assert_eq!(m, before);
    assert_eq!(
        m.move_clock_ahead(&config, T0, MAX_CLOCK_STEP),
        Ok(T0.plus(MAX_CLOCK_STEP))
    );
    assert_eq!(m.local_time(T0), T0.plus(MAX_CLOCK_STEP));
}
