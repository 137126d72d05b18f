//! The `SyncLog` object (one resource type's part of one sync run), as the API's
//! sync-history operations and the dashboard's timeline show it.

use serde::Serialize;
use uuid::Uuid;

use super::render::Rfc3339;
use crate::sim::{Integration, Provider, ResourceType, SyncHistory, SyncLogEntry};

/// A `SyncLog`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    id: Uuid,
    integration_id: Uuid,
    provider: Provider,
    job_id: Uuid,
    job_type: &'static str,
    resource_type: ResourceType,
    status: &'static str,
    items_processed: u32,
    full_sync: bool,
    started_at: Rfc3339,
    completed_at: Option<Rfc3339>,
    duration_ms: Option<u32>,
    error: Option<String>,
    retryable: bool,
    retry_of: Option<Uuid>,
    idempotency_key: String,
}

/// The view of entry `e` of `integ`; `retryable` as the history says (the integration
/// must be active too).
pub fn log_view(e: &SyncLogEntry, integ: &Integration, retryable: bool) -> LogView {
    LogView {
        id: e.id,
        integration_id: integ.id,
        provider: integ.provider,
        job_id: e.job_id,
        job_type: e.job_type.as_str(),
        resource_type: e.resource_type,
        status: e.status.as_str(),
        items_processed: e.items_processed,
        full_sync: e.full,
        started_at: Rfc3339(e.started_at),
        completed_at: e.completed_at().map(Rfc3339),
        duration_ms: e.duration_ms,
        error: e
            .failure
            .map(|f| f.message(integ.provider, Some(e.resource_type))),
        retryable: integ.is_active && retryable,
        retry_of: e.retry_of,
        idempotency_key: e.idempotency_key(),
    }
}

/// The view of one entry, looked up.
pub fn one_view(e: &SyncLogEntry, integ: &Integration, h: &SyncHistory) -> LogView {
    log_view(e, integ, h.retry_refusal(integ.provider, e.id).is_none())
}
