//! Sync runs: a job starts, writes one log entry per resource type, and completes (at
//! once, or when simulated time reaches its end) through the provider simulation and
//! the circuit breaker. Retries of single entries go through the same two steps.

use std::time::Duration;

use uuid::Uuid;

use super::SimConfig;
use super::history::{JobType, LogStatus, SyncLogEntry};
use super::integration::{Integration, IntegrationStatus, JobKind, SyncJob};
use super::merchant::Merchant;
use super::provider::{Behaviour, Provider};
use super::provider::{Failure, ResourceType};
use super::time::{Timestamp, duration_ms};

/// How far back a provider's records go before the integration was created: the
/// reach of a full resync.
const PROVIDER_HISTORY: Duration = Duration::from_secs(3 * 365 * 86_400);

impl Merchant {
    /// Starts a job and writes its entries (`syncing`); one of duration zero completes
    /// at once.
    pub(super) fn start_job(
        &mut self,
        config: &SimConfig,
        provider: Provider,
        kind: JobKind,
        full_resync: bool,
        at: Timestamp,
    ) -> Uuid {
        let id = self.next_id();
        let resources = ResourceType::of(provider);
        let entry_ids: Vec<Uuid> = resources.iter().map(|_| self.next_id()).collect();
        let i = provider.index();
        let Some(integ) = self.integrations[i].as_mut() else {
            return id;
        };
        let duration = behaviour(integ).duration(config.sync_duration);
        integ.status = IntegrationStatus::Syncing;
        integ.updated_at = at;
        integ.full_resyncs += u64::from(full_resync);
        integ.running_job = Some(SyncJob {
            id,
            kind,
            full_resync,
            completes_at: at.plus(duration),
        });
        let history = &mut self.histories[i];
        for (&resource_type, entry_id) in resources.iter().zip(entry_ids) {
            let first = history
                .state(resource_type)
                .is_none_or(|s| s.cursor.is_none());
            let entry = SyncLogEntry {
                id: entry_id,
                job_id: id,
                retry_of: None,
                started_at: at,
                duration_ms: None,
                items_processed: 0,
                job_type: JobType::from(kind),
                resource_type,
                status: LogStatus::Syncing,
                failure: None,
                full: full_resync || first,
                unmapped_packages: 0,
            };
            history.push(entry, config.history_limit);
        }
        if duration.is_zero() {
            self.complete_job(config, provider, at);
        }
        id
    }

    /// Whether the provider answers a sync at `at`: an injected outage first (which a
    /// strike may end), then the credentials' behaviour for this attempt. Counts the
    /// attempt.
    fn attempt(&mut self, provider: Provider, at: Timestamp) -> Result<(), Failure> {
        let i = provider.index();
        let outage_failure = match &mut self.outages[i] {
            Some(outage) => {
                let (fails, over) = outage.strike(at);
                if over {
                    self.outages[i] = None;
                }
                fails
            }
            None => false,
        };
        let Some(integ) = self.integrations[i].as_mut() else {
            return Ok(());
        };
        let result = if outage_failure {
            Err(Failure::Outage)
        } else {
            behaviour(integ).sync_outcome(integ.sync_attempts)
        };
        integ.sync_attempts += 1;
        result
    }

    /// Completes the running job at `at`: its entries get their outcome and counts, the
    /// cursors move, and the integration and its breaker record the result.
    pub(super) fn complete_job(&mut self, config: &SimConfig, provider: Provider, at: Timestamp) {
        let result = self.attempt(provider, at);
        let i = provider.index();
        let Some(integ) = self.integrations[i].as_mut() else {
            return;
        };
        let Some(job) = integ.running_job.take() else {
            return;
        };
        settle(integ, config, at, result);
        let behaviour = behaviour(integ);
        self.histories[i].finish(job.id, at, |e, cursor| {
            result?;
            match behaviour.refuses(e.resource_type) {
                Some(failure) => Err(failure),
                None => Ok(fetched(e, cursor, integ, e.started_at)),
            }
        });
        // A run that read invoices met the packages sold on them: the unmapped ones are
        // recorded, and its invoices entry says how many there were.
        if result.is_ok()
            && let Some(credentials) = &integ.credentials
            && ResourceType::of(provider).contains(&ResourceType::Invoices)
        {
            let unmapped = self.setups[i].meet_packages(config.seed, provider, credentials, at);
            if unmapped > 0
                && let Some(e) = self.histories[i]
                    .job_entries_mut(job.id)
                    .find(|e| e.resource_type == ResourceType::Invoices)
            {
                e.unmapped_packages = unmapped;
            }
        }
    }

    /// Ends the running job of `provider` without an outcome (deactivation): its entries
    /// are `skipped`, the cursors stay.
    pub(super) fn cancel_job(&mut self, provider: Provider, at: Timestamp) {
        let i = provider.index();
        let Some(job) = self.integrations[i]
            .as_mut()
            .and_then(|x| x.running_job.take())
        else {
            return;
        };
        for e in self.histories[i].job_entries_mut(job.id) {
            e.status = LogStatus::Skipped;
            e.failure = Some(Failure::Cancelled);
            e.duration_ms = Some(duration_ms(e.started_at, at));
        }
    }

    /// One attempt at the records of a failed entry (`retry_of` names the entry first
    /// retried), at `at`: through the provider and the breaker, written to the log.
    pub(super) fn retry_entry(
        &mut self,
        config: &SimConfig,
        provider: Provider,
        retry_of: Uuid,
        resource_type: ResourceType,
        (job_id, job_type): (Uuid, JobType),
        at: Timestamp,
    ) -> SyncLogEntry {
        let id = self.next_id();
        let result = self.attempt(provider, at);
        let i = provider.index();
        let history = &mut self.histories[i];
        let cursor = history.state(resource_type).and_then(|s| s.cursor);
        let mut entry = SyncLogEntry {
            id,
            job_id,
            retry_of: Some(retry_of),
            // A retry runs to its end at once: it is one resource's records.
            started_at: at,
            duration_ms: Some(0),
            items_processed: 0,
            job_type,
            resource_type,
            status: LogStatus::Success,
            failure: None,
            full: cursor.is_none(),
            unmapped_packages: 0,
        };
        if let Some(integ) = self.integrations[i].as_mut() {
            let running = integ.running_job.is_some();
            let status = integ.status;
            settle(integ, config, at, result);
            if running {
                // The running job writes the status when it completes.
                integ.status = status;
            }
            let outcome = result
                .err()
                .or_else(|| behaviour(integ).refuses(resource_type));
            match outcome {
                Some(failure) => {
                    entry.status = LogStatus::Failed;
                    entry.failure = Some(failure);
                }
                None => entry.items_processed = fetched(&entry, cursor, integ, at),
            }
        }
        history.push(entry.clone(), config.history_limit);
        history.record(&entry, at);
        entry
    }
}

/// The credentials' behaviour (a healthy provider once they are deleted).
fn behaviour(integ: &Integration) -> Behaviour {
    integ
        .credentials
        .as_ref()
        .map_or(Behaviour::Healthy, |c| Behaviour::of(&c.api_key))
}

/// The integration records a sync's result at `at`: status, error, times and breaker.
fn settle(integ: &mut Integration, config: &SimConfig, at: Timestamp, result: Result<(), Failure>) {
    integ.last_sync_at = Some(at);
    integ.updated_at = at;
    match result {
        Ok(()) => {
            integ.status = IntegrationStatus::Connected;
            integ.last_sync_error = None;
            integ.last_success_at = Some(at);
            integ.breaker.record_success();
        }
        Err(failure) => {
            integ.status = IntegrationStatus::Error;
            integ.last_sync_error = Some(failure.message(integ.provider, None));
            integ.last_error_at = Some(at);
            integ.breaker.record_failure(&config.breaker, at);
        }
    }
}

/// The records a successful entry processed: everything that appeared at the provider
/// since the resource's `cursor`, up to the watermark `to` (the run's start). A full run
/// reaches back the provider's whole history, except the first sync of invoices (no
/// cursor yet), which reaches back the invoice lookback only.
fn fetched(e: &SyncLogEntry, cursor: Option<Timestamp>, integ: &Integration, to: Timestamp) -> u32 {
    let origin = Timestamp(integ.created_at.0 - PROVIDER_HISTORY.as_millis() as i64);
    let from = match cursor {
        None if e.resource_type == ResourceType::Invoices => {
            let days = u64::from(integ.configuration.invoice_lookback_days.days());
            Timestamp(to.0 - Duration::from_secs(days * 86_400).as_millis() as i64)
        }
        Some(c) if !e.full => c,
        _ => origin,
    };
    e.resource_type.created_between(integ.id, origin, from, to)
}
