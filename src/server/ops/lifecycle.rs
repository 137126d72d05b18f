//! Reading and connecting integrations: `GET /integrations` (paginated),
//! `GET /integrations/{provider}`, `activate`, `deactivate` and `test`.

use bytes::Bytes;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, bounded, write};
use crate::api::ApiError;
use crate::api::render::{ActivatedBody, GetBody, ListBody, Pagination};
use crate::sim::{
    ActivateInput, Command, Credentials, Outcome, PaymentMapping, SyncIntervalMinutes,
};

/// The lifecycle operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `listIntegrations`.
    List,
    /// `getIntegration`.
    Get,
    /// `activateIntegration`.
    Activate,
    /// `deactivateIntegration`.
    Deactivate,
    /// `testIntegrationCredentials`.
    Test,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "listIntegrations" => Op::List,
            "getIntegration" => Op::Get,
            "activateIntegration" => Op::Activate,
            "deactivateIntegration" => Op::Deactivate,
            "testIntegrationCredentials" => Op::Test,
            _ => return None,
        })
    }
}

/// The largest page `GET /integrations` returns (the pagination guide's maximum).
pub const MAX_PAGE_SIZE: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivateBody {
    credentials: Credentials,
    sync_interval_minutes: Option<u32>,
    currency: Option<String>,
    sync_enabled: Option<bool>,
    auto_send_invoices: Option<bool>,
    payment_mappings: Option<Vec<PaymentMapping>>,
    /// The provider's own flags (`syncPatients`, ...), kept in `configuration`.
    #[serde(flatten)]
    flags: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DeactivateBody {
    #[serde(default)]
    delete_credentials: bool,
}

#[derive(Deserialize)]
struct TestBody {
    credentials: Credentials,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    match op {
        Op::List => list(call).await,
        Op::Get => {
            let provider = call.provider()?;
            let data = call
                .read(|view| {
                    view.integration(provider)
                        .map(|i| call.json(i, view.now()))
                        .transpose()
                })
                .await??;
            write(&GetBody { data })
        }
        Op::Activate => {
            let provider = call.provider()?;
            let a: ActivateBody = call.body()?;
            let sync_interval = a
                .sync_interval_minutes
                .map(|m| bounded(SyncIntervalMinutes::new(m), "syncIntervalMinutes"))
                .transpose()?;
            let flags = a
                .flags
                .into_iter()
                .filter_map(|(k, v)| v.as_bool().map(|b| (k, b)))
                .collect();
            let input = ActivateInput {
                credentials: a.credentials,
                sync_interval,
                currency: a.currency,
                sync_enabled: a.sync_enabled,
                auto_send_invoices: a.auto_send_invoices,
                flags,
                payment_mappings: a.payment_mappings,
            };
            match call
                .command_seen(provider, Command::Activate(input))
                .await?
            {
                (Outcome::Activated(i), now) => write(&ActivatedBody {
                    success: true,
                    data: call.json(&i, now)?,
                }),
                (other, _) => unexpected(other),
            }
        }
        Op::Deactivate => {
            let provider = call.provider()?;
            let d: DeactivateBody = call.body_or_default()?;
            let command = Command::Deactivate {
                delete_credentials: d.delete_credentials,
            };
            match call.command(provider, command).await? {
                Outcome::Deactivated {
                    credentials_deleted,
                } => write(&json!({
                    "success": true,
                    "message": format!(
                        "{provider} integration deactivated; stored credentials {}",
                        if credentials_deleted { "deleted" } else { "kept" }
                    ),
                })),
                other => unexpected(other),
            }
        }
        Op::Test => {
            let provider = call.provider()?;
            let t: TestBody = call.body()?;
            match call
                .command(provider, Command::TestCredentials(t.credentials))
                .await?
            {
                Outcome::Verdict(Ok(())) => write(&json!({ "valid": true })),
                Outcome::Verdict(Err(reason)) => write(&json!({ "valid": false, "error": reason })),
                other => unexpected(other),
            }
        }
    }
}

/// One page of the list, with the pagination guide's block.
async fn list(call: &Call<'_>) -> Result<Bytes, ApiError> {
    let (limit, offset) = call.page();
    let (data, total) = call
        .read(|view| {
            let page = view
                .integrations()
                .skip(offset)
                .take(limit)
                .map(|i| call.json(i, view.now()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, ApiError>((page, view.integrations().count()))
        })
        .await??;
    write(&ListBody {
        pagination: Pagination::new(limit, offset, total, data.len()),
        data,
    })
}

/// A command answered with another command's outcome: a bug of the simulator, still
/// an answer in the envelope.
pub(super) fn unexpected(outcome: Outcome) -> Result<Bytes, ApiError> {
    Err(ApiError::internal(format!(
        "the simulator answered with {outcome:?}, which this operation does not produce"
    )))
}
