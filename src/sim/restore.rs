//! An integration restored from what the API showed of it (`revkeen-mock capture`): the
//! record, its sync log, its resources' states and its unmapped packages, as a capture
//! wrote them into a fixture (the API's own field names, times in RFC 3339).
//!
//! A fixture must not describe a state the API could not reach, so everything is
//! checked before anything changes, and an error names the field (`syncLogs[3].status`).
//! What is checked (the rules the simulator itself keeps):
//! - every time is at or before the capture's, and a record is not changed before it
//!   was created; no log entry started before the integration was created;
//! - the breaker: `mode` agrees with the counter, and the counter is at most the
//!   failed attempts the log shows since its newest successful one (a success resets
//!   it; resets by `resume-sync` and activation leave no entry, so it may be lower);
//! - the log: ids unique, a finished entry has a duration, a failed or skipped one an
//!   error and a successful one none, retries name another entry and only retries do,
//!   at most one run is in progress (and then the integration is active);
//! - resources' states: only the provider's resource types, each once;
//! - unmapped packages: once each, met at least once, and packages of the catalog that
//!   no mapping covers (when the catalog was captured).
//!
//! The provider is not read again: the restored integration keeps the credentials the
//! fixture gives it (a placeholder that behaves as a healthy provider, unless the
//! fixture names others), so later syncs, resumes and retries behave as the
//! credentials say, as for any merchant.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::SimConfig;
use super::breaker::{BreakerState, CircuitBreaker};
use super::catalog::{Catalog, ProductMapping, UnmappedAttempt};
use super::history::{JobType, LogStatus, ResourceState, SyncLogEntry};
use super::integration::{
    Configuration, Integration, IntegrationStatus, JobKind, LookbackDays, PaymentMapping,
    SyncIntervalMinutes, SyncJob,
};
use super::merchant::Merchant;
use super::provider::{Credentials, Failure, Provider, ResourceType};
use super::time::{Timestamp, serialize_rfc3339};

/// A time written as RFC 3339 text (`2026-05-01T09:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct At(pub Timestamp);

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_rfc3339(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let t = Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)?;
        if t.clamped() != t {
            return Err(serde::de::Error::custom(format!(
                "'{text}' is outside the years 1970-9999"
            )));
        }
        Ok(At(t))
    }
}

fn at(t: Option<At>) -> Option<Timestamp> {
    t.map(|a| a.0)
}

/// One integration as a capture read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturedIntegration {
    /// `id`.
    pub id: Uuid,
    /// `isActive`.
    pub is_active: bool,
    /// `syncEnabled`.
    pub sync_enabled: bool,
    /// `status`.
    pub status: IntegrationStatus,
    /// `lastSyncAt`.
    #[serde(default)]
    pub last_sync_at: Option<At>,
    /// `lastSyncError`.
    #[serde(default)]
    pub last_sync_error: Option<String>,
    /// `providerState`.
    pub provider_state: CapturedProviderState,
    /// `syncInterval`.
    pub sync_interval: CapturedInterval,
    /// `configuration`.
    pub configuration: CapturedConfiguration,
    /// `createdAt`.
    pub created_at: At,
    /// `updatedAt`.
    pub updated_at: At,
    /// The sync log, newest first (as the API lists it).
    #[serde(default)]
    pub sync_logs: Vec<CapturedLog>,
    /// `sync-states`.
    #[serde(default)]
    pub sync_states: Vec<CapturedState>,
    /// `unmapped-attempts`.
    #[serde(default)]
    pub unmapped_attempts: Vec<CapturedUnmapped>,
}

/// `providerState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturedProviderState {
    /// The breaker's counter.
    pub consecutive_errors: u32,
    /// The last failure.
    #[serde(default)]
    pub last_error_at: Option<At>,
    /// The last success.
    #[serde(default)]
    pub last_sync_at: Option<At>,
    /// The breaker's state as shown (checked against the counter; derived on restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// `syncInterval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturedInterval {
    /// The cadence in milliseconds (whole minutes).
    pub interval_ms: u64,
    /// The next scheduled run, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<At>,
}

/// `configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapturedConfiguration {
    /// `invoiceLookbackDays`.
    pub invoice_lookback_days: LookbackDays,
    /// `autoSendInvoices`.
    pub auto_send_invoices: bool,
    /// `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The activation flags (`syncPatients`, ...).
    #[serde(flatten)]
    pub flags: BTreeMap<String, bool>,
}

/// One `SyncLog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturedLog {
    /// `id`.
    pub id: Uuid,
    /// `jobId`.
    pub job_id: Uuid,
    /// `jobType`.
    pub job_type: JobType,
    /// `resourceType`.
    pub resource_type: ResourceType,
    /// `status`.
    pub status: LogStatus,
    /// `itemsProcessed`.
    #[serde(default)]
    pub items_processed: u32,
    /// `fullSync`.
    #[serde(default)]
    pub full_sync: bool,
    /// `startedAt`.
    pub started_at: At,
    /// `durationMs`; none while the entry runs.
    #[serde(default)]
    pub duration_ms: Option<u32>,
    /// `error`.
    #[serde(default)]
    pub error: Option<String>,
    /// `retryable`, as the deployment said (it decides whether an error the mock does
    /// not write itself is a transient or a permanent failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// `retryOf`.
    #[serde(default)]
    pub retry_of: Option<Uuid>,
    /// `unmappedPackages`.
    #[serde(default)]
    pub unmapped_packages: u16,
}

/// One `SyncState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturedState {
    /// `resourceType`.
    pub resource_type: ResourceType,
    /// `lastSyncAt`.
    #[serde(default)]
    pub last_sync_at: Option<At>,
    /// `lastSyncStatus`.
    #[serde(default)]
    pub last_sync_status: Option<LogStatus>,
    /// `itemsProcessed`.
    #[serde(default)]
    pub items_processed: Option<u32>,
    /// `lastSyncError`.
    #[serde(default)]
    pub last_sync_error: Option<String>,
    /// `cursor`.
    #[serde(default)]
    pub cursor: Option<At>,
}

/// One `UnmappedAttempt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturedUnmapped {
    /// `externalPackageId`.
    pub external_package_id: String,
    /// `externalPackageName`.
    #[serde(default)]
    pub external_package_name: Option<String>,
    /// `count`.
    pub count: u32,
    /// `lastSeenAt` (a deployment that leaves it out: the capture's moment).
    #[serde(default)]
    pub last_seen_at: Option<At>,
}

/// What restoring one integration takes beside the captured record.
#[derive(Debug, Clone)]
pub struct Restore<'a> {
    /// Which provider.
    pub provider: Provider,
    /// The record, its log, states and unmapped packages.
    pub captured: &'a CapturedIntegration,
    /// The credentials it keeps (they decide how later syncs go).
    pub credentials: Credentials,
    /// The provider account's catalog (`None`: derived from the credentials).
    pub catalog: Option<Catalog>,
    /// The product mappings.
    pub product_mappings: Vec<ProductMapping>,
    /// The payment mappings.
    pub payment_mappings: Vec<PaymentMapping>,
    /// When the capture read it.
    pub captured_at: Timestamp,
}

/// The failure whose message the mock writes as `text`, if any.
fn failure_of(text: &str, provider: Provider, resource: Option<ResourceType>) -> Option<Failure> {
    [
        Failure::Unavailable,
        Failure::Outage,
        Failure::TimedOut,
        Failure::Rejected,
        Failure::Cancelled,
    ]
    .into_iter()
    .find(|f| f.message(provider, resource) == text)
}

/// A failed attempt at the provider, for the breaker (a permanent refusal of records
/// is not: the provider answered).
fn failed_attempt(status: LogStatus, failure: Option<Failure>) -> bool {
    status == LogStatus::Failed && failure != Some(Failure::Rejected)
}

type Checked<T> = Result<T, String>;

fn not_after(t: Option<At>, limit: Timestamp, field: &str) -> Checked<()> {
    match t {
        Some(At(t)) if t > limit => Err(format!(
            "{field}: {} is after the capture ({})",
            text(t),
            text(limit)
        )),
        _ => Ok(()),
    }
}

fn text(t: Timestamp) -> String {
    t.rfc3339()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_else(|_| t.0.to_string())
}

impl Merchant {
    /// Restores `r.provider`'s integration from a capture (see the module's doc for
    /// what is checked). Nothing changes unless every check passes; an error names the
    /// field, relative to the captured integration.
    pub fn restore(&mut self, config: &SimConfig, r: Restore<'_>) -> Result<(), String> {
        let c = r.captured;
        let provider = r.provider;
        let limit = r.captured_at;
        // Times.
        not_after(Some(c.created_at), limit, "createdAt")?;
        not_after(Some(c.updated_at), limit, "updatedAt")?;
        if c.updated_at < c.created_at {
            return Err("updatedAt: before createdAt".to_owned());
        }
        not_after(c.last_sync_at, limit, "lastSyncAt")?;
        let ps = &c.provider_state;
        not_after(ps.last_error_at, limit, "providerState.lastErrorAt")?;
        not_after(ps.last_sync_at, limit, "providerState.lastSyncAt")?;
        // The record. Its `status` is not checked against the rest: the sync worker
        // writes any value at any time (`PUT .../status`).
        let ms = c.sync_interval.interval_ms;
        let interval = ms
            .is_multiple_of(60_000)
            .then_some(ms / 60_000)
            .and_then(|m| u32::try_from(m).ok())
            .ok_or_else(|| format!("syncInterval.intervalMs: {ms} is not whole minutes"))
            .and_then(|m| {
                SyncIntervalMinutes::new(m).map_err(|e| format!("syncInterval.intervalMs: {e}"))
            })?;
        // The breaker.
        // A counter past the threshold is not refused: the mock refuses a manual sync
        // while the breaker is open, but a deployment that runs it (the docs leave it
        // open) counts its failure; the breaker is open either way.
        let threshold = config.breaker.threshold;
        let counter = ps.consecutive_errors;
        let opened_at = (counter >= threshold).then(|| at(ps.last_error_at).unwrap_or(limit));
        let breaker = CircuitBreaker::restored(counter, opened_at);
        if let Some(mode) = &ps.mode {
            let derived = breaker.state(&config.breaker, limit);
            let plausible = mode == derived.as_str()
                || (derived == BreakerState::Open && mode == BreakerState::HalfOpen.as_str());
            if !plausible {
                return Err(format!(
                    "providerState.mode: {mode} does not go with {counter} consecutive errors (the breaker opens at {threshold}): it is {}",
                    derived.as_str()
                ));
            }
        }
        // The log, oldest first.
        let entries = restored_entries(provider, c, limit, config.history_limit)?;
        check_counter(&entries, c)?;
        let running: Vec<&SyncLogEntry> = entries
            .iter()
            .map(|(e, _)| e)
            .filter(|e| e.duration_ms.is_none())
            .collect();
        let running_job = match running.last() {
            None => None,
            Some(&first) => {
                // Named by its place in the captured (newest first) list.
                let place = |id: Uuid| c.sync_logs.iter().position(|l| l.id == id).unwrap_or(0);
                if let Some(other) = running.iter().find(|e| e.job_id != first.job_id) {
                    return Err(format!(
                        "syncLogs[{}].status: {} runs while the run {} does; an integration runs one at a time",
                        place(other.id),
                        other.status,
                        first.job_id
                    ));
                }
                if !c.is_active {
                    return Err(format!(
                        "isActive: the run {} is in progress (syncLogs[{}]), so the integration is active (deactivating ends a run)",
                        first.job_id,
                        place(first.id)
                    ));
                }
                let kind = match first.job_type {
                    JobType::Scheduled => JobKind::Scheduled,
                    JobType::Manual => JobKind::Manual,
                    JobType::SingleRetry | JobType::BatchRetry => {
                        return Err(format!(
                            "syncLogs: the retry {} is in progress; the mock runs a retry to its end at once",
                            first.id
                        ));
                    }
                };
                Some(SyncJob {
                    id: first.job_id,
                    kind,
                    full_resync: running.iter().any(|e| e.full),
                    // Running at the capture's moment, whatever its length: it ends the
                    // first moment after, at the earliest.
                    completes_at: limit
                        .plus(std::time::Duration::from_millis(1))
                        .max(first.started_at.plus(config.sync_duration)),
                })
            }
        };
        // Resources' states.
        let resources = ResourceType::of(provider);
        let mut seen = HashSet::new();
        for (k, s) in c.sync_states.iter().enumerate() {
            let field = format!("syncStates[{k}]");
            if !resources.contains(&s.resource_type) {
                return Err(format!(
                    "{field}.resourceType: {provider} does not sync {}",
                    s.resource_type
                ));
            }
            if !seen.insert(s.resource_type) {
                return Err(format!(
                    "{field}.resourceType: {} appears twice",
                    s.resource_type
                ));
            }
            not_after(s.last_sync_at, limit, &format!("{field}.lastSyncAt"))?;
            not_after(s.cursor, limit, &format!("{field}.cursor"))?;
        }
        // Catalog, mappings and unmapped packages.
        let known = r.catalog.as_ref().map(|cat| {
            cat.check_product_mappings(provider, &r.product_mappings)
                .and_then(|()| cat.check_payment_mappings(provider, &r.payment_mappings))
                .map(|()| {
                    cat.packages
                        .iter()
                        .map(|p| p.id.clone())
                        .collect::<HashSet<_>>()
                })
        });
        let packages = known.transpose().map_err(|e| e.to_string())?;
        let mapped: HashSet<&str> = r
            .product_mappings
            .iter()
            .map(|m| m.external_id.as_str())
            .collect();
        let mut unmapped_seen = HashSet::new();
        for (k, u) in c.unmapped_attempts.iter().enumerate() {
            let field = format!("unmappedAttempts[{k}]");
            let id = u.external_package_id.as_str();
            if !unmapped_seen.insert(id) {
                return Err(format!("{field}.externalPackageId: {id} appears twice"));
            }
            if u.count == 0 {
                return Err(format!(
                    "{field}.count: a package listed was met at least once"
                ));
            }
            if mapped.contains(id) {
                return Err(format!(
                    "{field}.externalPackageId: {id} has a product mapping, so no sync meets it unmapped"
                ));
            }
            if packages.as_ref().is_some_and(|p| !p.contains(id)) {
                return Err(format!(
                    "{field}.externalPackageId: {id} is not a package of the catalog"
                ));
            }
            not_after(u.last_seen_at, limit, &format!("{field}.lastSeenAt"))?;
        }

        // Every check passed: build.
        let i = provider.index();
        let attempts = entries.iter().filter(|(e, _)| e.retry_of.is_some()).count()
            + entries
                .iter()
                .filter(|(e, _)| e.retry_of.is_none())
                .map(|(e, _)| e.job_id)
                .collect::<HashSet<_>>()
                .len();
        let integration = Integration {
            id: c.id,
            provider,
            is_active: c.is_active,
            sync_enabled: c.sync_enabled,
            status: c.status,
            last_sync_at: at(c.last_sync_at),
            last_sync_error: c.last_sync_error.clone(),
            last_error_at: at(ps.last_error_at),
            last_success_at: at(ps.last_sync_at),
            breaker,
            interval,
            // An overdue run (a next run at or before the capture) runs once, the first
            // moment after it (so the capture's moment itself shows what was read), not
            // as a backlog of every interval since.
            next_run: c.is_active.then(|| {
                let first_after = limit.plus(std::time::Duration::from_millis(1));
                at(c.sync_interval.next_run)
                    .map_or(limit.plus(interval.duration()), |t| t.max(first_after))
            }),
            running_job,
            sync_attempts: attempts as u64,
            full_resyncs: 0,
            configuration: Configuration {
                invoice_lookback_days: c.configuration.invoice_lookback_days,
                auto_send_invoices: c.configuration.auto_send_invoices,
                currency: c.configuration.currency.clone(),
                flags: c.configuration.flags.clone(),
            },
            credentials: Some(r.credentials),
            payment_mappings: r.payment_mappings,
            created_at: c.created_at.0,
            updated_at: c.updated_at.0,
        };
        self.put_integration(integration);
        self.set_catalog(provider, r.catalog);
        let setup = &mut self.setups[i];
        setup.replace_product_mappings(r.product_mappings);
        setup.unmapped = c
            .unmapped_attempts
            .iter()
            .map(|u| UnmappedAttempt {
                external_package_id: u.external_package_id.clone(),
                external_package_name: u.external_package_name.clone(),
                count: u.count,
                last_seen_at: at(u.last_seen_at).unwrap_or(limit),
            })
            .collect();
        let ids: Vec<Uuid> = resources.iter().map(|_| self.next_id()).collect();
        let history = &mut self.histories[i];
        *history = Default::default();
        history.seed_states(provider, c.created_at.0, ids);
        for (e, said) in entries {
            let id = e.id;
            history.push(e, config.history_limit);
            if let Some(said) = said {
                history.set_message(id, said);
            }
        }
        for s in &c.sync_states {
            let synced: u64 = history
                .entries()
                .filter(|e| e.resource_type == s.resource_type && e.status == LogStatus::Success)
                .map(|e| u64::from(e.items_processed))
                .sum();
            let failure = s
                .last_sync_error
                .as_deref()
                .and_then(|t| failure_of(t, provider, Some(s.resource_type)));
            let reported = s.last_sync_error.clone().filter(|_| failure.is_none());
            let created = c.created_at.0;
            if let Some(state) = history.state_mut(s.resource_type) {
                *state = ResourceState {
                    id: state.id,
                    resource_type: s.resource_type,
                    cursor: at(s.cursor),
                    last_sync_at: at(s.last_sync_at),
                    last_sync_status: s.last_sync_status,
                    items_processed: s.items_processed,
                    last_failure: failure,
                    reported_error: reported,
                    items_synced: synced,
                    created_at: created,
                    updated_at: at(s.last_sync_at).unwrap_or(created),
                };
            }
        }
        // An error the mock does not write itself counts as transient unless the
        // deployment said the entry could not be retried where the mock would.
        let permanent: Vec<Uuid> = c
            .sync_logs
            .iter()
            .filter(|l| l.retryable == Some(false))
            .map(|l| l.id)
            .filter(|&id| history.message(id).is_some())
            .filter(|&id| c.is_active && history.retry_refusal(provider, id).is_none())
            .collect();
        history.mark_permanent(&permanent);
        Ok(())
    }
}

/// The captured log as entries, oldest first, each with the error text when the
/// mock would not write it itself; checks each entry.
fn restored_entries(
    provider: Provider,
    c: &CapturedIntegration,
    limit: Timestamp,
    limit_entries: usize,
) -> Checked<Vec<(SyncLogEntry, Option<String>)>> {
    if c.sync_logs.len() > limit_entries {
        return Err(format!(
            "syncLogs: {} entries, more than the mock keeps per integration ({limit_entries}): serve with --sync-log-limit {} or more",
            c.sync_logs.len(),
            c.sync_logs.len()
        ));
    }
    let mut ids = HashSet::new();
    for (k, l) in c.sync_logs.iter().enumerate() {
        if !ids.insert(l.id) {
            return Err(format!("syncLogs[{k}].id: {} appears twice", l.id));
        }
    }
    let mut out = Vec::with_capacity(c.sync_logs.len());
    for (k, l) in c.sync_logs.iter().enumerate().rev() {
        let field = format!("syncLogs[{k}]");
        if !ResourceType::of(provider).contains(&l.resource_type) {
            return Err(format!(
                "{field}.resourceType: {provider} does not sync {}",
                l.resource_type
            ));
        }
        if l.started_at < c.created_at {
            return Err(format!(
                "{field}.startedAt: {} is before the integration was created ({})",
                text(l.started_at.0),
                text(c.created_at.0)
            ));
        }
        let finished = matches!(
            l.status,
            LogStatus::Success | LogStatus::Failed | LogStatus::Skipped
        );
        if finished != l.duration_ms.is_some() {
            return Err(format!(
                "{field}.durationMs: a {} entry {} a duration",
                l.status,
                if finished { "has" } else { "has no" }
            ));
        }
        let end = l
            .started_at
            .0
            .plus(std::time::Duration::from_millis(u64::from(
                l.duration_ms.unwrap_or(0),
            )));
        if end > limit {
            return Err(format!(
                "{field}.startedAt: the entry ends at {}, after the capture ({})",
                text(end),
                text(limit)
            ));
        }
        let needs_error = matches!(l.status, LogStatus::Failed | LogStatus::Skipped);
        if needs_error != l.error.is_some() {
            return Err(format!(
                "{field}.error: a {} entry {} an error",
                l.status,
                if needs_error { "has" } else { "has no" }
            ));
        }
        let retry = matches!(l.job_type, JobType::SingleRetry | JobType::BatchRetry);
        if retry != l.retry_of.is_some() {
            return Err(format!(
                "{field}.retryOf: a {} entry {} the entry it retries",
                l.job_type,
                if retry { "names" } else { "names no" }
            ));
        }
        if l.retry_of == Some(l.id) {
            return Err(format!("{field}.retryOf: an entry does not retry itself"));
        }
        let (failure, said) = match (&l.error, l.status) {
            (None, _) => (None, None),
            (Some(t), LogStatus::Skipped) => (
                Some(Failure::Cancelled),
                failure_of(t, provider, Some(l.resource_type))
                    .is_none()
                    .then(|| t.clone()),
            ),
            (Some(t), _) => match failure_of(t, provider, Some(l.resource_type)) {
                Some(f) => (Some(f), None),
                None => (Some(Failure::Unavailable), Some(t.clone())),
            },
        };
        let entry = SyncLogEntry {
            id: l.id,
            job_id: l.job_id,
            retry_of: l.retry_of,
            started_at: l.started_at.0,
            duration_ms: l.duration_ms,
            items_processed: l.items_processed,
            job_type: l.job_type,
            resource_type: l.resource_type,
            status: l.status,
            failure,
            full: l.full_sync,
            unmapped_packages: l.unmapped_packages,
        };
        out.push((entry, said));
    }
    Ok(out)
}

/// The breaker's counter against the log: at most the failed attempts since the newest
/// successful attempt the log shows (a run is one attempt, whatever its entries; a retry
/// is one).
fn check_counter(
    entries: &[(SyncLogEntry, Option<String>)],
    c: &CapturedIntegration,
) -> Checked<()> {
    // Attempts, newest first: (failed, id of an entry); a run's entries fold into one.
    let mut attempts: Vec<(bool, Uuid)> = Vec::new();
    let mut runs: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
    for (e, _) in entries.iter().rev() {
        if e.duration_ms.is_none() || e.status == LogStatus::Skipped {
            continue;
        }
        let failed = failed_attempt(e.status, e.failure);
        if e.retry_of.is_some() {
            attempts.push((failed, e.id));
        } else if let Some(&k) = runs.get(&e.job_id) {
            // The run failed only if every entry of it did.
            attempts[k].0 &= failed;
        } else {
            runs.insert(e.job_id, attempts.len());
            attempts.push((failed, e.id));
        }
    }
    let Some(success) = attempts.iter().position(|(failed, _)| !failed) else {
        return Ok(());
    };
    let counter = c.provider_state.consecutive_errors;
    if counter as usize > success {
        let id = attempts[success].1;
        return Err(format!(
            "providerState.consecutiveErrors: {counter} consecutive errors, but the log shows {success} failed attempts since the successful one of entry {id} (a success resets the counter)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Merchant;
    use serde_json::json;

    const AT: &str = "2026-05-01T10:00:00Z";

    fn captured(logs: serde_json::Value, counter: u32) -> CapturedIntegration {
        serde_json::from_value(json!({
            "id": "7d0c3f5e-8a51-4d0c-9a77-0d1f0c6f1a01",
            "isActive": true, "syncEnabled": true,
            "status": if counter > 0 { "error" } else { "connected" },
            "lastSyncAt": "2026-05-01T09:45:00Z", "lastSyncError": null,
            "providerState": {"consecutiveErrors": counter, "lastErrorAt": "2026-05-01T09:45:00Z", "lastSyncAt": "2026-05-01T09:30:00Z"},
            "syncInterval": {"intervalMs": 900000, "nextRun": "2026-05-01T10:10:00Z"},
            "configuration": {"invoiceLookbackDays": 90, "autoSendInvoices": false, "syncPatients": true},
            "createdAt": "2026-05-01T09:00:00Z", "updatedAt": "2026-05-01T09:45:00Z",
            "syncLogs": logs,
        }))
        .unwrap()
    }

    fn entry(
        id: u32,
        job: u32,
        status: &str,
        error: Option<&str>,
        retryable: bool,
    ) -> serde_json::Value {
        json!({
            "id": format!("00000000-0000-4000-8000-{id:012}"),
            "jobId": format!("00000000-0000-4000-9000-{job:012}"),
            "jobType": "scheduled", "resourceType": "customers", "status": status,
            "startedAt": format!("2026-05-01T09:{:02}:00Z", 10 + job % 3 * 10), "durationMs": 100,
            "error": error, "retryable": retryable,
        })
    }

    fn restore(c: &CapturedIntegration) -> Result<Merchant, String> {
        restore_with(c, &SimConfig::default())
    }

    fn restore_with(c: &CapturedIntegration, config: &SimConfig) -> Result<Merchant, String> {
        let mut m = Merchant::new(1);
        m.restore(
            config,
            Restore {
                provider: Provider::Terminal,
                captured: c,
                credentials: Credentials {
                    api_key: "captured".into(),
                    base_url: "https://t.example".into(),
                    app_name: None,
                    app_email: None,
                },
                catalog: None,
                product_mappings: Vec::new(),
                payment_mappings: Vec::new(),
                captured_at: Timestamp::parse_rfc3339(AT).unwrap(),
            },
        )?;
        Ok(m)
    }

    #[test]
    fn a_deployments_own_error_text_is_kept_and_its_retryable_word_taken() {
        let logs = json!([
            entry(
                2,
                2,
                "failed",
                Some("Wodify says: upstream gateway hiccup"),
                true
            ),
            entry(1, 1, "failed", Some("Record 17 has no customer"), false),
        ]);
        let c = captured(logs, 2);
        let mut m = restore(&c).unwrap();
        let config = SimConfig::default();
        let view = m.at(&config, Timestamp::parse_rfc3339(AT).unwrap());
        let h = view.history(Provider::Terminal);
        let [newer, older] = [2u32, 1]
            .map(|k| Uuid::parse_str(&format!("00000000-0000-4000-8000-{k:012}")).unwrap());
        assert_eq!(
            h.message(newer),
            Some("Wodify says: upstream gateway hiccup")
        );
        assert_eq!(h.message(older), Some("Record 17 has no customer"));
        // The deployment said the older one cannot be retried, where the mock would
        // have: it is a permanent failure now; the newer one stays retryable.
        assert!(h.retry_refusal(Provider::Terminal, newer).is_none());
        assert!(matches!(
            h.retry_refusal(Provider::Terminal, older),
            Some(crate::sim::RetryRefusal::Permanent { .. })
        ));
        assert_eq!(h.stats(None).last_failure_entry, Some(newer));
        // The activation flag stays among the configuration's flags.
        let integ = view.integration(Provider::Terminal).unwrap();
        assert_eq!(integ.configuration.flags.get("syncPatients"), Some(&true));
    }

    #[test]
    fn a_run_in_progress_is_restored_running_and_completes_as_the_credentials_say() {
        let mut running = entry(3, 3, "syncing", None, false);
        running["durationMs"] = serde_json::Value::Null;
        running["startedAt"] = json!("2026-05-01T09:59:00Z");
        let mut c = captured(json!([running, entry(1, 1, "success", None, false)]), 0);
        c.status = IntegrationStatus::Syncing;
        let config = SimConfig {
            sync_duration: std::time::Duration::from_secs(120),
            ..SimConfig::default()
        };
        let mut m = restore_with(&c, &config).unwrap();
        let at = Timestamp::parse_rfc3339(AT).unwrap();
        let job = Uuid::parse_str("00000000-0000-4000-9000-000000000003").unwrap();
        let view = m.at(&config, at);
        let integ = view.integration(Provider::Terminal).unwrap();
        assert_eq!(integ.running_job.as_ref().map(|j| j.id), Some(job));
        assert_eq!(integ.status, IntegrationStatus::Syncing);
        // Two minutes after it started (the configured duration), it has completed.
        let later = at.plus(std::time::Duration::from_secs(61));
        let view = m.at(&config, later);
        let integ = view.integration(Provider::Terminal).unwrap();
        assert_eq!(integ.running_job, None);
        assert_eq!(integ.status, IntegrationStatus::Connected);
        let done = view.history(Provider::Terminal).entries().last().unwrap();
        assert_eq!((done.job_id, done.status), (job, LogStatus::Success));
        // A run in progress on an inactive integration is refused.
        let mut c = c.clone();
        c.is_active = false;
        let e = restore(&c).unwrap_err();
        assert!(e.starts_with("isActive:"), "{e}");
    }

    #[test]
    fn the_counter_cannot_pass_the_failures_since_the_last_success() {
        let logs = json!([
            entry(2, 2, "failed", Some("down"), true),
            entry(1, 1, "success", None, false),
        ]);
        assert!(restore(&captured(logs.clone(), 1)).is_ok());
        let e = restore(&captured(logs, 2)).unwrap_err();
        assert!(e.starts_with("providerState.consecutiveErrors"), "{e}");
        // Past the threshold (a deployment that runs a manual sync while paused counts
        // its failure): open, not refused.
        let mut past = restore(&captured(json!([]), 6)).unwrap();
        let config = SimConfig::default();
        let at = Timestamp::parse_rfc3339(AT).unwrap();
        let view = past.at(&config, at);
        let integ = view.integration(Provider::Terminal).unwrap();
        assert_eq!(integ.breaker.state(&config.breaker, at), BreakerState::Open);
        let mut many = Vec::new();
        for k in 0..201 {
            many.push(entry(1000 + k, 1000 + k, "success", None, false));
        }
        let e = restore(&captured(json!(many), 0)).unwrap_err();
        assert!(
            e.starts_with("syncLogs:") && e.contains("--sync-log-limit 201"),
            "{e}"
        );
    }
}
