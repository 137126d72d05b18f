//! Running syncs and recording their results: `sync` (a manual sync), `resume-sync`
//! (out of an auto-pause: the breaker reset, a trial enqueued) and the internal
//! worker's `status` update.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::lifecycle::unexpected;
use super::{Call, write};
use crate::api::ApiError;
use crate::sim::{Command, IntegrationStatus, Outcome};

/// The sync operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `triggerIntegrationSync`.
    Trigger,
    /// `resumeIntegrationSync`.
    Resume,
    /// `updateIntegrationStatus` (internal: the sync worker's).
    Status,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "triggerIntegrationSync" => Op::Trigger,
            "resumeIntegrationSync" => Op::Resume,
            "updateIntegrationStatus" => Op::Status,
            _ => return None,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SyncBody {
    #[serde(default)]
    full_resync: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    status: IntegrationStatus,
    last_sync_error: Option<String>,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    let provider = call.provider()?;
    let command = match op {
        Op::Trigger => Command::TriggerSync {
            full_resync: call.body_or_default::<SyncBody>()?.full_resync,
        },
        Op::Resume => Command::ResumeSync,
        Op::Status => {
            let s: StatusBody = call.body()?;
            Command::UpdateStatus {
                status: s.status,
                last_sync_error: s.last_sync_error,
            }
        }
    };
    match call.command(provider, command).await? {
        Outcome::SyncEnqueued { job_id } => {
            write(&json!({ "success": true, "jobId": job_id.to_string() }))
        }
        Outcome::Resumed { job_id } => write(&json!({
            "success": true,
            "message": "circuit breaker reset; trial sync enqueued",
            "jobId": job_id.to_string(),
        })),
        Outcome::Updated => write(&json!({ "success": true })),
        other => unexpected(other),
    }
}
