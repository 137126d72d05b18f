//! Sync history: the log entries every sync run writes (one per resource type), the
//! per-resource cursors (`sync-states`), the statistics over the log, and the rules for
//! retrying a failed entry.
//!
//! A run over a provider processes each of the provider's resource types. How many
//! records it meets comes from the provider's [`dataset`](ResourceType::created_between):
//! records appear at a steady, seeded rate per integration and resource type, so the same
//! seed and the same clock give the same counts on every machine. An incremental run
//! fetches what appeared since the resource's cursor; a full run (the first one, or
//! `fullResync`) fetches everything, except that the first full sync of invoices only
//! reaches back the invoice lookback.
//!
//! History is kept apart from the [`Integration`](super::Integration) record on purpose:
//! reads of the record (the hot path) compare and render a few hundred bytes, not the
//! log; and the log is bounded ([`SimConfig::history_limit`](super::SimConfig)), the oldest
//! entries going first, so memory stays flat however long a merchant runs.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::integration::JobKind;
use super::provider::{Failure, Provider, ResourceType};
use super::time::Timestamp;

super::wire::wire_enum! {
    /// `jobType`: what started the run an entry belongs to.
    pub enum JobType ("job type") {
        /// The repeatable job's tick.
        Scheduled = "scheduled",
        /// `POST .../sync`, and `resume-sync`'s trial (a manual run by another door).
        Manual = "manual",
        /// `POST .../sync-logs/{logId}/retry`.
        SingleRetry = "single_retry",
        /// `POST .../sync-logs/batch-retry`.
        BatchRetry = "batch_retry",
    }
}

impl From<JobKind> for JobType {
    fn from(kind: JobKind) -> Self {
        match kind {
            JobKind::Scheduled => JobType::Scheduled,
            JobKind::Manual | JobKind::Resume => JobType::Manual,
        }
    }
}

super::wire::wire_enum! {
    /// An entry's `status` (statistics list them in this order).
    pub enum LogStatus ("sync log status") {
        /// Waiting to run (not produced by the simulator today: runs start at once).
        Pending = "pending",
        /// The run is in progress (simulated time has not reached its end).
        Syncing = "syncing",
        /// Done.
        Success = "success",
        /// The provider failed; see the entry's failure.
        Failed = "failed",
        /// Not run: the integration was deactivated while the run was in progress.
        Skipped = "skipped",
    }
}

/// One resource type's part of one run. Kept small (about 72 bytes): ids, times and
/// counts only, messages written when rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncLogEntry {
    /// `logId`.
    pub id: Uuid,
    /// The run; every entry of a run shares it (the `jobId` a sync call answered).
    pub job_id: Uuid,
    /// For a retry, the entry first retried (a retry of a retry names the first one):
    /// the idempotency key of every attempt at the same records derives from it.
    pub retry_of: Option<Uuid>,
    /// When the run started.
    pub started_at: Timestamp,
    /// How long it ran; `None` while it runs.
    pub duration_ms: Option<u32>,
    /// Records fetched and applied (0 when it failed).
    pub items_processed: u32,
    /// What started it.
    pub job_type: JobType,
    /// Which records.
    pub resource_type: ResourceType,
    /// Where it stands.
    pub status: LogStatus,
    /// Why it failed (`status: failed` or `skipped`).
    pub failure: Option<Failure>,
    /// Whether it ignored the cursor (a full resync, or the first sync).
    pub full: bool,
    /// Packages the run met with no product mapping (its `invoices` entry only).
    #[serde(default)]
    pub unmapped_packages: u16,
}

impl SyncLogEntry {
    /// The entry whose records this one is an attempt at (itself, unless a retry).
    pub fn root(&self) -> Uuid {
        self.retry_of.unwrap_or(self.id)
    }

    /// When it finished, if it has.
    pub fn completed_at(&self) -> Option<Timestamp> {
        self.duration_ms.map(|d| {
            self.started_at
                .plus(std::time::Duration::from_millis(u64::from(d)))
        })
    }

    /// Whether a retry may take it up: it failed transiently and, with `covered`, no
    /// later attempt at its resource type succeeded (a success moves the cursor past its
    /// records). The integration's activity and the breaker are the caller's to check.
    pub fn retryable(&self, covered: bool) -> bool {
        self.status == LogStatus::Failed
            && self.failure.is_some_and(Failure::is_transient)
            && !covered
    }

    /// The idempotency key the sync worker applies the records under: the same for an
    /// entry and every retry of it, so records that already went through are not
    /// applied twice.
    pub fn idempotency_key(&self) -> String {
        format!("sync_{}", self.root().simple())
    }
}

/// Where one resource type's sync stands (`sync-states`, `/sync-state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    /// The sync-state record's id (`/sync-state` shows it).
    pub id: Uuid,
    /// Which records.
    pub resource_type: ResourceType,
    /// The watermark: records that appeared after it are fetched by the next incremental
    /// run. `None` until the first successful sync (so that one is a full sync).
    pub cursor: Option<Timestamp>,
    /// When the last sync of this resource finished.
    pub last_sync_at: Option<Timestamp>,
    /// That sync's status.
    pub last_sync_status: Option<LogStatus>,
    /// Records that sync processed.
    pub items_processed: Option<u32>,
    /// Its failure, if it failed.
    pub last_failure: Option<Failure>,
    /// The last error a worker wrote through `PUT /sync-state` (free text).
    pub reported_error: Option<String>,
    /// Records synced over the integration's life.
    pub items_synced: u64,
    /// When activation created the record.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Why an entry cannot be retried (each a `400` with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryRefusal {
    /// Only failed entries are retried.
    #[error("sync log {id} is {status}: only failed entries can be retried")]
    NotFailed {
        /// The entry.
        id: Uuid,
        /// Its status.
        status: &'static str,
    },
    /// A permanent failure.
    #[error("sync log {id} failed permanently ({message}): retrying cannot help")]
    Permanent {
        /// The entry.
        id: Uuid,
        /// Why it failed.
        message: String,
    },
    /// A retry of these records already succeeded (its idempotency key went through).
    #[error(
        "sync log {id} was already retried successfully by {by} (same idempotency key): its records are synced"
    )]
    AlreadyRetried {
        /// The entry.
        id: Uuid,
        /// The successful retry.
        by: Uuid,
    },
    /// A later sync of the same resource succeeded and moved its cursor past these records.
    #[error(
        "a later sync of {resource} succeeded ({by}) and already covered the records of sync log {id}"
    )]
    Superseded {
        /// The entry.
        id: Uuid,
        /// The resource type.
        resource: ResourceType,
        /// The later entry.
        by: Uuid,
    },
    /// The integration is not active: the records have nowhere to go.
    #[error(
        "the {provider} integration of sync log {id} is not active, so its target is gone: activate it, then retry"
    )]
    TargetGone {
        /// The entry.
        id: Uuid,
        /// The provider.
        provider: Provider,
    },
}

/// Counts over a set of entries (`sync-stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Entries counted.
    pub total: u32,
    /// Entries by status, in [`LogStatus::ALL`] order.
    pub by_status: [u32; 5],
    /// Records processed by the successful entries.
    pub items_processed: u64,
    /// The newest successful entry's completion.
    pub last_success_at: Option<Timestamp>,
    /// The newest failed entry's completion, and its failure.
    pub last_failure: Option<(Timestamp, Failure)>,
    /// That entry's id (its message may be a captured deployment's own words:
    /// [`SyncHistory::message`]).
    pub last_failure_entry: Option<Uuid>,
}

impl LogStats {
    /// Entries with `status`.
    pub fn count(&self, status: LogStatus) -> u32 {
        self.by_status[status as usize]
    }

    /// Successes over finished attempts (success + failed); `None` before any.
    pub fn success_rate(&self) -> Option<f64> {
        let (ok, failed) = (
            self.count(LogStatus::Success),
            self.count(LogStatus::Failed),
        );
        (ok + failed > 0).then(|| f64::from(ok) / f64::from(ok + failed))
    }

    fn add(&mut self, e: &SyncLogEntry) {
        self.total += 1;
        self.by_status[e.status as usize] += 1;
        let done = e.completed_at();
        match (e.status, done) {
            (LogStatus::Success, Some(at)) => {
                self.items_processed += u64::from(e.items_processed);
                self.last_success_at = self.last_success_at.max(Some(at));
            }
            (LogStatus::Failed, Some(at)) if self.last_failure.is_none_or(|(t, _)| at >= t) => {
                self.last_failure = e.failure.map(|f| (at, f));
                self.last_failure_entry = Some(e.id);
            }
            _ => {}
        }
    }
}

/// One integration's history: its log (oldest first) and its resources' states.
/// Equal when the log and the states are (whatever the revisions).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncHistory {
    /// The log, oldest first, at most the configured limit.
    entries: VecDeque<SyncLogEntry>,
    /// One state per resource type of the provider, created at first activation.
    states: Vec<ResourceState>,
    /// Errors in a captured deployment's own words, by entry (an entry restored by
    /// `capture` whose error the mock would not write itself); empty otherwise, so an
    /// entry stays small.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    messages: Vec<(Uuid, Box<str>)>,
    /// Changes with every change of this history, to a value no other history state in
    /// this process had: what a rendered page of the log may be kept by (the server
    /// keeps the pages a polling client asks for again). 0, the value of a history
    /// restored from a snapshot and not changed since, keeps nothing. Not part of the
    /// state: it only names a version.
    #[serde(skip)]
    revision: u64,
}

impl PartialEq for SyncHistory {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
            && self.states == other.states
            && self.messages == other.messages
    }
}

impl Eq for SyncHistory {}

/// The source of [`SyncHistory::revision`]s (process-wide, so no two histories share one).
static REVISIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl SyncHistory {
    /// The version of this history (see the field); 0 for one that names none.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Marks a change.
    fn touch(&mut self) {
        self.revision = REVISIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The log, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &SyncLogEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// The log newest first, each entry with whether a later attempt at its resource
    /// type succeeded (`covered`, see [`SyncLogEntry::retryable`]), in one pass: what
    /// [`SyncHistory::retry_refusal`] finds for one entry, for all of them.
    pub fn newest_first(&self) -> impl Iterator<Item = (&SyncLogEntry, bool)> {
        let mut covered = [false; ResourceType::ALL.len()];
        self.entries.iter().rev().map(move |e| {
            let slot = &mut covered[e.resource_type as usize];
            let was = *slot;
            *slot |= e.status == LogStatus::Success;
            (e, was)
        })
    }

    /// The newest `n` runs (a job's entries together), newest first, each entry with
    /// whether it may be retried: what a timeline shows.
    pub fn recent_runs(&self, n: usize) -> Vec<Vec<(&SyncLogEntry, bool)>> {
        let mut runs: Vec<Vec<(&SyncLogEntry, bool)>> = Vec::new();
        for (e, covered) in self.newest_first() {
            let retryable = e.retryable(covered);
            match runs.iter().position(|r| r[0].0.job_id == e.job_id) {
                Some(k) => runs[k].push((e, retryable)),
                None if runs.len() < n => runs.push(vec![(e, retryable)]),
                None => {}
            }
        }
        for run in &mut runs {
            run.reverse();
        }
        runs
    }

    /// The entry `id`, if it is still kept.
    pub fn entry(&self, id: Uuid) -> Option<&SyncLogEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The error of entry `id` in a captured deployment's own words, if it has one.
    pub fn message(&self, id: Uuid) -> Option<&str> {
        if self.messages.is_empty() {
            return None;
        }
        self.messages
            .iter()
            .find(|(e, _)| *e == id)
            .map(|(_, m)| &**m)
    }

    /// Keeps a captured entry's error in the deployment's words.
    pub(super) fn set_message(&mut self, id: Uuid, message: String) {
        self.touch();
        self.messages.retain(|(e, _)| *e != id);
        self.messages.push((id, message.into_boxed_str()));
    }

    /// Marks captured entries as failed for good (the deployment said they could not be
    /// retried).
    pub(super) fn mark_permanent(&mut self, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        self.touch();
        for e in self.entries.iter_mut().filter(|e| ids.contains(&e.id)) {
            e.failure = Some(Failure::Rejected);
        }
    }

    /// The resources' states, in the provider's order.
    pub fn states(&self) -> &[ResourceState] {
        &self.states
    }

    /// The state of `resource`, if the provider syncs it.
    pub fn state(&self, resource: ResourceType) -> Option<&ResourceState> {
        self.states.iter().find(|s| s.resource_type == resource)
    }

    /// The state of `resource`, to change (a change of the history).
    pub(super) fn state_mut(&mut self, resource: ResourceType) -> Option<&mut ResourceState> {
        self.touch();
        self.states.iter_mut().find(|s| s.resource_type == resource)
    }

    /// Creates the resources' states on first activation (re-activation keeps them, with
    /// their cursors), with one fresh id from `ids` per resource type.
    pub(super) fn seed_states(&mut self, provider: Provider, now: Timestamp, ids: Vec<Uuid>) {
        if !self.states.is_empty() {
            return;
        }
        self.touch();
        self.states = ResourceType::of(provider)
            .iter()
            .zip(ids)
            .map(|(&resource_type, id)| ResourceState {
                id,
                resource_type,
                cursor: None,
                last_sync_at: None,
                last_sync_status: None,
                items_processed: None,
                last_failure: None,
                reported_error: None,
                items_synced: 0,
                created_at: now,
                updated_at: now,
            })
            .collect();
    }

    /// Appends an entry, dropping the oldest past `limit`.
    pub(super) fn push(&mut self, entry: SyncLogEntry, limit: usize) {
        self.touch();
        let limit = limit.max(1);
        while self.entries.len() >= limit {
            if let Some(gone) = self.entries.pop_front()
                && !self.messages.is_empty()
            {
                self.messages.retain(|(e, _)| *e != gone.id);
            }
        }
        // Grow by doubling up to the limit, never past it: a full log holds exactly
        // `limit` entries' room (doubling alone would leave up to half of it unused).
        if self.entries.len() == self.entries.capacity() {
            let room = (self.entries.capacity() * 2).clamp(4, limit);
            self.entries.reserve_exact(room - self.entries.len());
        }
        self.entries.push_back(entry);
    }

    /// The entries of run `job`, to complete or cancel them.
    pub(super) fn job_entries_mut(&mut self, job: Uuid) -> impl Iterator<Item = &mut SyncLogEntry> {
        self.touch();
        // Retries may have written entries after a slow run's: look at all of them.
        self.entries.iter_mut().filter(move |e| e.job_id == job)
    }

    /// Completes the entries of run `job` at `at`: `outcome` gives each its records
    /// processed, or its failure, from the entry and its resource's cursor; the cursors
    /// then move to the run's start (the watermark), for the successful ones.
    pub(super) fn finish(
        &mut self,
        job: Uuid,
        at: Timestamp,
        mut outcome: impl FnMut(&SyncLogEntry, Option<Timestamp>) -> Result<u32, Failure>,
    ) {
        self.touch();
        for k in 0..self.entries.len() {
            if self.entries[k].job_id != job {
                continue;
            }
            let cursor = self
                .state(self.entries[k].resource_type)
                .and_then(|s| s.cursor);
            let e = &mut self.entries[k];
            e.duration_ms = Some(super::time::duration_ms(e.started_at, at));
            match outcome(e, cursor) {
                Ok(n) => {
                    e.status = LogStatus::Success;
                    e.items_processed = n;
                }
                Err(failure) => {
                    e.status = LogStatus::Failed;
                    e.failure = Some(failure);
                }
            }
            let e = e.clone();
            self.record(&e, e.started_at);
        }
    }

    /// Records a finished attempt at `resource` in its state (and moves its cursor to
    /// `cursor` when the attempt succeeded).
    pub(super) fn record(&mut self, e: &SyncLogEntry, cursor: Timestamp) {
        let at = e.completed_at().unwrap_or(e.started_at);
        if let Some(s) = self.state_mut(e.resource_type) {
            s.last_sync_at = Some(at);
            s.last_sync_status = Some(e.status);
            s.items_processed = Some(e.items_processed);
            s.last_failure = e.failure;
            s.reported_error = None;
            s.updated_at = at;
            if e.status == LogStatus::Success {
                s.cursor = Some(s.cursor.map_or(cursor, |c| c.max(cursor)));
                s.items_synced += u64::from(e.items_processed);
            }
        }
    }

    /// Why entry `id` cannot be retried, if it cannot (the integration's activity is
    /// the caller's to check). `None` for an unknown entry too.
    pub fn retry_refusal(&self, provider: Provider, id: Uuid) -> Option<RetryRefusal> {
        let pos = self.entries.iter().position(|e| e.id == id)?;
        let e = &self.entries[pos];
        if e.status != LogStatus::Failed {
            return Some(RetryRefusal::NotFailed {
                id,
                status: e.status.as_str(),
            });
        }
        if let Some(f) = e.failure.filter(|f| !f.is_transient()) {
            return Some(RetryRefusal::Permanent {
                id,
                message: f.message(provider, Some(e.resource_type)),
            });
        }
        let later = self.entries.iter().skip(pos + 1);
        let mut superseded = None;
        for l in later.filter(|l| l.status == LogStatus::Success) {
            if l.retry_of == Some(e.root()) {
                return Some(RetryRefusal::AlreadyRetried { id, by: l.id });
            }
            if l.resource_type == e.resource_type && superseded.is_none() {
                superseded = Some(l.id);
            }
        }
        superseded.map(|by| RetryRefusal::Superseded {
            id,
            resource: e.resource_type,
            by,
        })
    }

    /// Statistics over the kept entries, of one resource type or all.
    pub fn stats(&self, resource: Option<ResourceType>) -> LogStats {
        let mut stats = LogStats::default();
        for e in self
            .entries
            .iter()
            .filter(|e| resource.is_none_or(|r| e.resource_type == r))
        {
            stats.add(e);
        }
        stats
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod merchant_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn datasets_are_deterministic_additive_and_grow_with_time() {
        let id = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        let origin = Timestamp(0);
        let r = ResourceType::Patients;
        let a = r.created_between(id, origin, Timestamp(0), Timestamp(100 * DAY));
        assert_eq!(
            a,
            r.created_between(id, origin, Timestamp(0), Timestamp(100 * DAY))
        );
        let (x, y) = (
            r.created_between(id, origin, Timestamp(0), Timestamp(40 * DAY)),
            r.created_between(id, origin, Timestamp(40 * DAY), Timestamp(100 * DAY)),
        );
        assert_eq!(x + y, a, "counts over adjacent windows add up");
        assert!(
            (50..=4_000).contains(&a),
            "0.5 to 40 a day over 100 days: {a}"
        );
        assert_eq!(
            r.created_between(id, origin, Timestamp(-5 * DAY), Timestamp(0)),
            0,
            "nothing before the provider's history starts"
        );
    }

    fn entry(id: u128, resource: ResourceType, status: LogStatus) -> SyncLogEntry {
        SyncLogEntry {
            id: Uuid::from_u128(id),
            job_id: Uuid::from_u128(id + 1000),
            retry_of: None,
            started_at: Timestamp(id as i64),
            duration_ms: Some(0),
            items_processed: 0,
            job_type: JobType::Scheduled,
            resource_type: resource,
            status,
            failure: (status == LogStatus::Failed).then_some(Failure::Unavailable),
            unmapped_packages: 0,
            full: false,
        }
    }

    #[test]
    fn retry_rules_refuse_what_cannot_or_need_not_be_retried() {
        let p = Provider::Wodify;
        let mut h = SyncHistory::default();
        h.push(entry(1, ResourceType::Invoices, LogStatus::Failed), 10);
        h.push(entry(2, ResourceType::Payments, LogStatus::Failed), 10);
        h.push(entry(3, ResourceType::Customers, LogStatus::Success), 10);
        let mut permanent = entry(4, ResourceType::Products, LogStatus::Failed);
        permanent.failure = Some(Failure::Rejected);
        h.push(permanent, 10);
        assert_eq!(h.retry_refusal(p, Uuid::from_u128(1)), None);
        assert!(matches!(
            h.retry_refusal(p, Uuid::from_u128(3)),
            Some(RetryRefusal::NotFailed { .. })
        ));
        assert!(matches!(
            h.retry_refusal(p, Uuid::from_u128(4)),
            Some(RetryRefusal::Permanent { .. })
        ));
        // A retry of entry 1 that succeeds: entry 1 is done, under the same key.
        let mut retry = entry(5, ResourceType::Invoices, LogStatus::Success);
        retry.retry_of = Some(Uuid::from_u128(1));
        assert_eq!(retry.idempotency_key(), h.entries[0].idempotency_key());
        h.push(retry, 10);
        assert!(matches!(
            h.retry_refusal(p, Uuid::from_u128(1)),
            Some(RetryRefusal::AlreadyRetried { .. })
        ));
        // A later successful payments sync covers entry 2.
        h.push(entry(6, ResourceType::Payments, LogStatus::Success), 10);
        assert!(matches!(
            h.retry_refusal(p, Uuid::from_u128(2)),
            Some(RetryRefusal::Superseded { .. })
        ));
    }

    proptest::proptest! {
        /// The one-pass retryability of a listing agrees with the rules of a single retry.
        #[test]
        fn newest_first_agrees_with_retry_refusal(
            steps in proptest::collection::vec((0usize..3, 0usize..4, 0usize..4), 0..40)
        ) {
            let mut h = SyncHistory::default();
            let resources = [ResourceType::Invoices, ResourceType::Payments, ResourceType::Products];
            let statuses = [LogStatus::Success, LogStatus::Failed, LogStatus::Skipped, LogStatus::Failed];
            for (k, &(r, st, f)) in steps.iter().enumerate() {
                let mut e = entry(k as u128 + 1, resources[r], statuses[st]);
                if e.status == LogStatus::Failed {
                    e.failure = Some([Failure::Unavailable, Failure::Rejected, Failure::TimedOut, Failure::Outage][f]);
                }
                // Now and then a retry of an earlier entry.
                if f == 3 && k > 0 {
                    let earlier = &h.entries[(k * 7) % h.entries.len()];
                    e.retry_of = Some(earlier.root());
                    e.resource_type = earlier.resource_type;
                }
                h.push(e, 100);
            }
            for (e, covered) in h.newest_first() {
                proptest::prop_assert_eq!(
                    e.retryable(covered),
                    h.retry_refusal(Provider::Wodify, e.id).is_none(),
                    "{:?}", e
                );
            }
        }
    }

    #[test]
    fn the_log_is_bounded_and_stats_count_what_is_kept() {
        let mut h = SyncHistory::default();
        for i in 0..10 {
            let status = if i % 2 == 0 {
                LogStatus::Success
            } else {
                LogStatus::Failed
            };
            let mut e = entry(i, ResourceType::Payments, status);
            e.items_processed = 3;
            h.push(e, 4);
        }
        assert_eq!(h.entries().len(), 4);
        assert_eq!(h.entries().next().unwrap().id, Uuid::from_u128(6));
        let s = h.stats(None);
        assert_eq!((s.total, s.count(LogStatus::Success)), (4, 2));
        assert_eq!(s.items_processed, 6);
        assert_eq!(s.success_rate(), Some(0.5));
        assert_eq!(s.last_success_at, Some(Timestamp(8)));
        assert_eq!(s.last_failure, Some((Timestamp(9), Failure::Unavailable)));
        assert_eq!(h.stats(Some(ResourceType::Invoices)).total, 0);
    }

    #[test]
    fn an_entry_stays_small() {
        assert!(
            std::mem::size_of::<SyncLogEntry>() <= 80,
            "{} bytes",
            std::mem::size_of::<SyncLogEntry>()
        );
    }
}
