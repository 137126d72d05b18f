//! What the sync history's commands take and report (shared by the commands, which
//! carry them, and the retries and sync-state writes, which produce and apply them):
//! a batch retry's report and a sync-state update.

use serde::Serialize;
use uuid::Uuid;

use super::history::{LogStatus, SyncLogEntry};
use super::time::Timestamp;

/// Why a batch retry left an outstanding failure alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The batch already retried as many entries as the breaker's threshold allows.
    Capped,
    /// The circuit breaker is open (or opened during the batch).
    BreakerOpen,
    /// A permanent failure: no retry can help.
    Permanent,
}

/// What a batch retry did: the retries it ran, newest failure first, and the
/// outstanding failures it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// The batch's job id (shared by its retries).
    pub job_id: Uuid,
    /// The retry entries written.
    pub retried: Vec<SyncLogEntry>,
    /// Failed entries not retried, and why.
    pub skipped: Vec<(Uuid, SkipReason)>,
}

/// What `PUT /sync-state/{source}/{merchantId}/{resourceType}` changes; a field left
/// out keeps its value (`Some(None)` clears a nullable one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStateUpdate {
    /// The new watermark.
    pub cursor: Option<Option<Timestamp>>,
    /// The last sync's status (`None` inside: idle, never synced).
    pub last_sync_status: Option<Option<LogStatus>>,
    /// The last sync's error, as the worker words it.
    pub last_sync_error: Option<Option<String>>,
    /// Records synced so far.
    pub items_synced: Option<u64>,
}
