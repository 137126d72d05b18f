//! The sync worker's watermarks, `GET /sync-state/{source}/{merchantId}` and
//! `PUT /sync-state/{source}/{merchantId}/{resourceType}` (scopes `sync:read` and
//! `sync:write`): the same per-resource states `sync-states` shows, addressed by
//! merchant.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::history::{parse_uuid, state_error};
use super::lifecycle::unexpected;
use super::{Call, Data, invalid, write};
use crate::api::ApiError;
use crate::api::render::Rfc3339;
use crate::sim::{
    Command, LogStatus, Outcome, Provider, ResourceState, ResourceType, SimError, SyncStateUpdate,
    Timestamp,
};

/// The sync-state operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `listSyncState`.
    List,
    /// `updateSyncState`.
    Update,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "listSyncState" => Op::List,
            "updateSyncState" => Op::Update,
            _ => return None,
        })
    }
}

/// A `SyncStateRecord`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordView {
    id: Uuid,
    merchant_id: Uuid,
    provider: Provider,
    resource_type: ResourceType,
    last_sync_at: Option<Rfc3339>,
    last_sync_status: &'static str,
    last_sync_error: Option<String>,
    cursor: Option<Rfc3339>,
    items_synced: u64,
    created_at: Rfc3339,
    updated_at: Rfc3339,
}

fn record(s: &ResourceState, merchant_id: Uuid, provider: Provider) -> RecordView {
    RecordView {
        id: s.id,
        merchant_id,
        provider,
        resource_type: s.resource_type,
        last_sync_at: s.last_sync_at.map(Rfc3339),
        // The docs' example: `idle` before any sync.
        last_sync_status: s.last_sync_status.map_or("idle", LogStatus::as_str),
        last_sync_error: state_error(s, provider),
        cursor: s.cursor.map(Rfc3339),
        items_synced: s.items_synced,
        created_at: Rfc3339(s.created_at),
        updated_at: Rfc3339(s.updated_at),
    }
}

/// The body of the PUT: a field left out is `None`, one sent as null `Some(None)`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    #[serde(default, deserialize_with = "present")]
    cursor: Option<Option<String>>,
    last_sync_status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    last_sync_error: Option<Option<String>>,
    items_synced: Option<u64>,
}

/// A field that was sent (null or not), as `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    let provider = call.path_provider("source")?;
    let asked = parse_uuid(
        call.params
            .get("merchantId")
            .and_then(Value::as_str)
            .unwrap_or(""),
        "merchantId",
    )?;
    match op {
        Op::List => {
            let data = call
                .read(|v| {
                    (v.merchant_id() == asked).then(|| {
                        v.history(provider)
                            .states()
                            .iter()
                            .map(|s| record(s, asked, provider))
                            .collect::<Vec<_>>()
                    })
                })
                .await?
                .ok_or_else(|| ApiError::from(SimError::OtherMerchant { merchant_id: asked }))?;
            write(&Data::ok(data))
        }
        Op::Update => {
            let resource_type: ResourceType = call
                .params
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or("")
                .parse()
                .map_err(|m| invalid("resourceType".into(), m))?;
            let b: UpdateBody = call.body()?;
            let cursor = b
                .cursor
                .map(|c| {
                    c.map(|t| Timestamp::parse_rfc3339(&t).map(Timestamp::clamped))
                        .transpose()
                        .map_err(|m| invalid("cursor".into(), m))
                })
                .transpose()?;
            let last_sync_status = b
                .last_sync_status
                .map(|s| match s.as_str() {
                    "idle" => Ok(None),
                    other => other
                        .parse::<LogStatus>()
                        .map(Some)
                        .map_err(|m| invalid("lastSyncStatus".into(), m)),
                })
                .transpose()?;
            let update = SyncStateUpdate {
                cursor,
                last_sync_status,
                last_sync_error: b.last_sync_error,
                items_synced: b.items_synced,
            };
            let command = Command::PutSyncState {
                merchant_id: asked,
                resource_type,
                update,
            };
            match call.command(provider, command).await? {
                Outcome::SyncStateSet(s) => write(&Data::ok(record(&s, asked, provider))),
                other => unexpected(other),
            }
        }
    }
}
