//! Retrying failed sync log entries (one, or a batch that honours the circuit breaker)
//! and the sync worker's writes to a resource's watermark (`PUT /sync-state`).

use std::collections::BTreeSet;

use uuid::Uuid;

use super::SimConfig;
use super::breaker::BreakerState;
use super::command::Outcome;
use super::error::SimError;
use super::history::{JobType, LogStatus, ResourceState, RetryRefusal};
use super::merchant::Merchant;
use super::provider::Provider;
use super::provider::{Failure, ResourceType};
use super::reports::{BatchReport, SkipReason, SyncStateUpdate};
use super::time::Timestamp;

impl Merchant {
    /// `POST .../sync-logs/{logId}/retry`.
    pub(super) fn retry_log(
        &mut self,
        config: &SimConfig,
        now: Timestamp,
        provider: Provider,
        log_id: Uuid,
    ) -> Result<Outcome, SimError> {
        let i = provider.index();
        let entry = self.histories[i]
            .entry(log_id)
            .ok_or(SimError::LogNotFound { provider, log_id })?;
        let (root, resource) = (entry.root(), entry.resource_type);
        let integ =
            self.integration(provider)
                .filter(|x| x.is_active)
                .ok_or(SimError::NotRetryable(RetryRefusal::TargetGone {
                    id: log_id,
                    provider,
                }))?;
        if let Some(refusal) = self.histories[i].retry_refusal(provider, log_id) {
            return Err(SimError::NotRetryable(refusal));
        }
        if integ.breaker.state(&config.breaker, now) == BreakerState::Open {
            return Err(SimError::CircuitOpen {
                provider,
                consecutive_errors: integ.breaker.consecutive_errors(),
            });
        }
        let integration_id = integ.id;
        let job = (self.next_id(), JobType::SingleRetry);
        let entry = self.retry_entry(config, provider, root, resource, job, now);
        Ok(Outcome::Retried {
            entry: Box::new(entry),
            integration_id,
        })
    }

    /// `POST .../sync-logs/batch-retry`: retries the outstanding failures (failed entries
    /// no later success covers), the newest of each resource type (its retry fetches
    /// everything since the cursor, so the older ones' records too), at most `limit` and
    /// never more than the breaker's threshold; stops retrying once the breaker is open.
    pub(super) fn batch_retry(
        &mut self,
        config: &SimConfig,
        now: Timestamp,
        provider: Provider,
        (integration_id, resource, limit): (Uuid, Option<ResourceType>, Option<u32>),
    ) -> Result<Outcome, SimError> {
        let i = provider.index();
        let integ = self
            .integration(provider)
            .filter(|x| x.id == integration_id)
            .ok_or(SimError::WrongIntegration {
                provider,
                integration_id,
            })?;
        if !integ.is_active {
            return Err(SimError::NotActive { provider });
        }
        // Outstanding: failed, and no later success of its resource type.
        let outstanding: Vec<(Uuid, Uuid, ResourceType, Option<Failure>)> = self.histories[i]
            .newest_first()
            .filter(|(e, covered)| e.status == LogStatus::Failed && !covered)
            .filter(|(e, _)| resource.is_none_or(|r| e.resource_type == r))
            .map(|(e, _)| (e.id, e.root(), e.resource_type, e.failure))
            .collect();
        let cap = limit
            .unwrap_or(config.breaker.threshold)
            .min(config.breaker.threshold) as usize;
        let job_id = self.next_id();
        let mut report = BatchReport {
            job_id,
            retried: Vec::new(),
            skipped: Vec::new(),
        };
        let mut seen = BTreeSet::new();
        for (id, root, resource, failure) in outstanding {
            if !failure.is_some_and(Failure::is_transient) {
                report.skipped.push((id, SkipReason::Permanent));
                continue;
            }
            if !seen.insert(resource) {
                // An older failure of the same records: the cursor has not moved since
                // it, so the retry of the newest one fetches its records too.
                continue;
            }
            let open = self.integrations[i]
                .as_ref()
                .is_some_and(|x| x.breaker.state(&config.breaker, now) == BreakerState::Open);
            if report.retried.len() >= cap {
                report.skipped.push((id, SkipReason::Capped));
            } else if open {
                report.skipped.push((id, SkipReason::BreakerOpen));
            } else {
                let job = (job_id, JobType::BatchRetry);
                let e = self.retry_entry(config, provider, root, resource, job, now);
                report.retried.push(e);
            }
        }
        Ok(Outcome::BatchRetried(Box::new(report)))
    }

    /// `PUT /sync-state/{source}/{merchantId}/{resourceType}`.
    pub(super) fn put_sync_state(
        &mut self,
        now: Timestamp,
        provider: Provider,
        resource: ResourceType,
        update: SyncStateUpdate,
    ) -> Result<Outcome, SimError> {
        let state = self.histories[provider.index()]
            .state_mut(resource)
            .ok_or(SimError::NoSyncState { provider, resource })?;
        apply(state, update, now);
        Ok(Outcome::SyncStateSet(Box::new(state.clone())))
    }
}

fn apply(state: &mut ResourceState, update: SyncStateUpdate, now: Timestamp) {
    if let Some(cursor) = update.cursor {
        state.cursor = cursor;
    }
    if let Some(status) = update.last_sync_status {
        state.last_sync_status = status;
        state.last_sync_at = status.map(|_| now);
    }
    if let Some(error) = update.last_sync_error {
        state.reported_error = error;
        state.last_failure = None;
    }
    if let Some(n) = update.items_synced {
        state.items_synced = n;
    }
    state.updated_at = now;
}
