//! Sync history: the sync logs (list, one, retry, batch retry), their statistics and
//! the per-resource sync states of `/integrations/{provider}/...`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::lifecycle::unexpected;
use super::{Call, Data, invalid, write};
use crate::api::ApiError;
use crate::api::render::Pagination;
use crate::api::render::Rfc3339;
use crate::api::sync_log::{LogView, Owner, PageKey, kept_page, log_view, one_view, retry_view};
use crate::control::coverage::{Seen, State};
use crate::sim::{
    Command, LogStats, LogStatus, Outcome, Provider, ResourceState, ResourceType, SkipReason,
    SyncHistory, SyncLogEntry, Timestamp,
};

/// The sync-history operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `listIntegrationSyncLogs`.
    Logs,
    /// `getIntegrationSyncLog`.
    Log,
    /// `retryIntegrationSyncLog`.
    Retry,
    /// `batchRetryIntegrationSyncLogs`.
    BatchRetry,
    /// `getIntegrationSyncStats`.
    Stats,
    /// `getIntegrationSyncStatsByType`.
    StatsByType,
    /// `listIntegrationSyncStates`.
    States,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "listIntegrationSyncLogs" => Op::Logs,
            "getIntegrationSyncLog" => Op::Log,
            "retryIntegrationSyncLog" => Op::Retry,
            "batchRetryIntegrationSyncLogs" => Op::BatchRetry,
            "getIntegrationSyncStats" => Op::Stats,
            "getIntegrationSyncStatsByType" => Op::StatsByType,
            "listIntegrationSyncStates" => Op::States,
            _ => return None,
        })
    }
}

/// The counts of `SyncStats` and `SyncResourceStats`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatsView {
    #[serde(skip_serializing_if = "Option::is_none")]
    integration_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type: Option<ResourceType>,
    total: u32,
    pending: u32,
    syncing: u32,
    success: u32,
    failed: u32,
    skipped: u32,
    success_rate: Option<f64>,
    items_processed: u64,
    last_success_at: Option<Rfc3339>,
    last_failure_at: Option<Rfc3339>,
    last_error: Option<String>,
}

/// The view of statistics `s` of a history `h` of `provider`.
fn stats_view(s: &LogStats, h: &SyncHistory, provider: Provider) -> StatsView {
    StatsView {
        integration_id: None,
        resource_type: None,
        total: s.total,
        pending: s.count(LogStatus::Pending),
        syncing: s.count(LogStatus::Syncing),
        success: s.count(LogStatus::Success),
        failed: s.count(LogStatus::Failed),
        skipped: s.count(LogStatus::Skipped),
        success_rate: s.success_rate(),
        items_processed: s.items_processed,
        last_success_at: s.last_success_at.map(Rfc3339),
        last_failure_at: s.last_failure.map(|(t, _)| Rfc3339(t)),
        last_error: match s.last_failure_entry.and_then(|id| h.message(id)) {
            Some(text) => Some(text.to_owned()),
            None => s.last_failure.map(|(_, f)| f.message(provider, None)),
        },
    }
}

/// A `SyncState` (`/integrations/{provider}/sync-states`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateView {
    resource_type: ResourceType,
    last_sync_at: Option<Rfc3339>,
    last_sync_status: Option<&'static str>,
    items_processed: Option<u32>,
    last_sync_error: Option<String>,
    cursor: Option<Rfc3339>,
}

/// The last error of a resource's sync: the worker's words, else the failure's.
pub(super) fn state_error(s: &ResourceState, provider: Provider) -> Option<String> {
    s.reported_error.clone().or_else(|| {
        s.last_failure
            .map(|f| f.message(provider, Some(s.resource_type)))
    })
}

#[derive(Serialize)]
struct Page<T> {
    success: bool,
    data: Vec<T>,
    pagination: Pagination,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchView {
    queued: usize,
    skipped: usize,
    retried: Vec<LogView>,
    skipped_entries: Vec<SkippedView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SkippedView {
    log_id: Uuid,
    reason: SkipReason,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    integration_id: String,
    resource_type: Option<ResourceType>,
    limit: Option<u32>,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    let provider = call.provider()?;
    match op {
        Op::Logs => list(call, provider).await,
        Op::Log => {
            let id = uuid_param(call, "logId")?;
            let view = call
                .read(|v| {
                    let h = v.history(provider);
                    let integ = v.integration(provider)?;
                    h.entry(id).map(|e| one_view(e, integ, h))
                })
                .await?;
            if let Some(e) = &view {
                mark_entry(call.seen, e);
            }
            let data = view.ok_or_else(|| {
                ApiError::from(crate::sim::SimError::LogNotFound {
                    provider,
                    log_id: id,
                })
            })?;
            write(&Data::ok(data))
        }
        Op::Retry => {
            let log_id = uuid_param(call, "logId")?;
            match call.command(provider, Command::RetryLog { log_id }).await? {
                Outcome::Retried {
                    entry,
                    integration_id,
                } => write(&Data::ok(retry_view(&entry, integration_id, provider))),
                other => unexpected(other),
            }
        }
        Op::BatchRetry => {
            let b: BatchBody = call.body()?;
            let integration_id = parse_uuid(&b.integration_id, "integrationId")?;
            let command = Command::BatchRetry {
                integration_id,
                resource_type: b.resource_type,
                limit: b.limit,
            };
            let Outcome::BatchRetried(report) = call.command(provider, command).await? else {
                return Err(ApiError::internal("batch retry answered another outcome"));
            };
            let retried: Vec<LogView> = report
                .retried
                .iter()
                .map(|e| retry_view(e, integration_id, provider))
                .collect();
            write(&Data::ok(BatchView {
                queued: retried.len(),
                skipped: report.skipped.len(),
                retried,
                skipped_entries: report
                    .skipped
                    .iter()
                    .map(|&(log_id, reason)| SkippedView { log_id, reason })
                    .collect(),
            }))
        }
        Op::Stats | Op::StatsByType => {
            let id = uuid_param(call, "integrationId")?;
            let by_type = op == Op::StatsByType;
            let found = call
                .read(|v| {
                    let integ = v.integration(provider).filter(|i| i.id == id)?;
                    let h = v.history(provider);
                    Some(if by_type {
                        let per_type = ResourceType::of(provider).iter().map(|&r| StatsView {
                            resource_type: Some(r),
                            ..stats_view(&h.stats(Some(r)), h, provider)
                        });
                        write(&Data::ok(per_type.collect::<Vec<_>>()))
                    } else {
                        write(&Data::ok(StatsView {
                            integration_id: Some(integ.id),
                            ..stats_view(&h.stats(None), h, provider)
                        }))
                    })
                })
                .await?;
            found.unwrap_or_else(|| {
                Err(ApiError::from(crate::sim::SimError::WrongIntegration {
                    provider,
                    integration_id: id,
                }))
            })
        }
        Op::States => {
            let data = call
                .read(|v| {
                    v.history(provider)
                        .states()
                        .iter()
                        .map(|s| StateView {
                            resource_type: s.resource_type,
                            last_sync_at: s.last_sync_at.map(Rfc3339),
                            last_sync_status: s.last_sync_status.map(LogStatus::as_str),
                            items_processed: s.items_processed,
                            last_sync_error: state_error(s, provider),
                            cursor: s.cursor.map(Rfc3339),
                        })
                        .collect::<Vec<_>>()
                })
                .await?;
            write(&Data::ok(data))
        }
    }
}

/// The filters of `GET .../sync-logs`.
#[derive(Debug)]
struct Filter {
    integration_id: Option<Uuid>,
    resource_type: Option<ResourceType>,
    status: Option<LogStatus>,
    job_type: Option<crate::sim::JobType>,
    after: Option<Timestamp>,
    before: Option<Timestamp>,
    latest_only: bool,
}

impl Filter {
    fn of(call: &Call<'_>) -> Result<Self, ApiError> {
        let text = |name: &str| call.params.get(name).and_then(Value::as_str);
        fn parsed<T: std::str::FromStr<Err = String>>(
            text: Option<&str>,
            name: &str,
        ) -> Result<Option<T>, ApiError> {
            text.map(|t| t.parse().map_err(|m| invalid(name.to_owned(), m)))
                .transpose()
        }
        let time = |name: &str| -> Result<_, ApiError> {
            text(name)
                .map(|t| {
                    Timestamp::parse_rfc3339(t)
                        .map(Timestamp::clamped)
                        .map_err(|m| invalid(name.to_owned(), m))
                })
                .transpose()
        };
        Ok(Filter {
            integration_id: text("integrationId")
                .map(|t| parse_uuid(t, "integrationId"))
                .transpose()?,
            resource_type: parsed(text("resourceType"), "resourceType")?,
            status: parsed(text("status"), "status")?,
            job_type: parsed(text("jobType"), "jobType")?,
            after: time("createdAfter")?,
            before: time("createdBefore")?,
            latest_only: text("latestOnly") == Some("true"),
        })
    }

    fn keeps(&self, e: &SyncLogEntry) -> bool {
        self.resource_type.is_none_or(|r| e.resource_type == r)
            && self.status.is_none_or(|s| e.status == s)
            && self.job_type.is_none_or(|j| e.job_type == j)
            && self.after.is_none_or(|t| e.started_at >= t)
            && self.before.is_none_or(|t| e.started_at < t)
    }
}

/// One page of the log, newest first (kept per thread while the log does not change).
async fn list(call: &Call<'_>, provider: Provider) -> Result<Bytes, ApiError> {
    let filter = Filter::of(call)?;
    let (limit, offset) = call.page();
    let page = call
        .read(|v| {
            let h = v.history(provider);
            let Some(integ) = v
                .integration(provider)
                .filter(|i| filter.integration_id.is_none_or(|id| id == i.id))
            else {
                return render_page(Vec::new(), limit, offset, 0).map(|b| (b, 0));
            };
            let key = PageKey {
                integration: integ.id,
                active: integ.is_active,
                revision: h.revision(),
                query: format!("{limit}/{offset}/{filter:?}"),
            };
            kept_page(key, || {
                let mut seen = [false; ResourceType::ALL.len()];
                let owner = Owner::of(integ);
                let kept: Vec<(&SyncLogEntry, bool)> = h
                    .newest_first()
                    .filter(|(e, _)| filter.keeps(e))
                    .filter(|(e, _)| {
                        !filter.latest_only
                            || !std::mem::replace(&mut seen[e.resource_type as usize], true)
                    })
                    .collect();
                let page: Vec<LogView> = kept
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|&(e, covered)| log_view(e, owner, e.retryable(covered), h.message(e.id)))
                    .collect();
                let shown = Seen::default();
                page.iter().for_each(|e| mark_entry(&shown, e));
                Ok((render_page(page, limit, offset, kept.len())?, shown.bits()))
            })
        })
        .await??;
    call.seen.mark_bits(page.1);
    // The kept bytes themselves, shared: a page is tens of KB.
    Ok(page.0)
}

/// Marks the states a sync log entry shows, for coverage.
fn mark_entry(seen: &Seen, e: &LogView) {
    seen.mark(match (e.status, e.retryable) {
        ("success", _) => State::LogSuccess,
        ("failed", true) => State::LogFailedRetryable,
        ("failed", false) => State::LogFailedFinal,
        ("skipped", _) => State::LogSkipped,
        _ => State::LogSyncing,
    });
}

/// `{"success": true, "data": [...], "pagination": {...}}`.
fn render_page(
    data: Vec<LogView>,
    limit: usize,
    offset: usize,
    total: usize,
) -> Result<Bytes, ApiError> {
    write(&Page {
        success: true,
        pagination: Pagination::new(limit, offset, total, data.len()),
        data,
    })
}

/// A path or query parameter the contract checked as a UUID.
fn uuid_param(call: &Call<'_>, name: &str) -> Result<Uuid, ApiError> {
    let text = call.params.get(name).and_then(Value::as_str).unwrap_or("");
    parse_uuid(text, name)
}

pub(super) fn parse_uuid(text: &str, field: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|e| invalid(field.to_owned(), format!("not a UUID: {e}")))
}
