//! Changing how an active integration syncs: `sync-toggle`, `sync-interval`,
//! `invoice-lookback` and `auto-send-invoices`. Each answers `{"success": true}`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::lifecycle::unexpected;
use super::{Call, bounded, write};
use crate::api::ApiError;
use crate::sim::{Command, LookbackDays, Outcome, SyncIntervalMinutes};

/// The settings operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `toggleIntegrationSync`.
    Toggle,
    /// `updateIntegrationSyncInterval`.
    Interval,
    /// `updateIntegrationInvoiceLookback`.
    Lookback,
    /// `updateIntegrationAutoSendInvoices`.
    AutoSend,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "toggleIntegrationSync" => Op::Toggle,
            "updateIntegrationSyncInterval" => Op::Interval,
            "updateIntegrationInvoiceLookback" => Op::Lookback,
            "updateIntegrationAutoSendInvoices" => Op::AutoSend,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct ToggleBody {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntervalBody {
    sync_interval_minutes: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookbackBody {
    invoice_lookback_days: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoSendBody {
    auto_send_invoices: bool,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Bytes, ApiError> {
    let provider = call.provider()?;
    let command = match op {
        Op::Toggle => Command::SetSyncEnabled(call.body::<ToggleBody>()?.enabled),
        Op::Interval => Command::SetSyncInterval(bounded(
            SyncIntervalMinutes::new(call.body::<IntervalBody>()?.sync_interval_minutes),
            "syncIntervalMinutes",
        )?),
        Op::Lookback => Command::SetInvoiceLookback(bounded(
            LookbackDays::new(call.body::<LookbackBody>()?.invoice_lookback_days),
            "invoiceLookbackDays",
        )?),
        Op::AutoSend => {
            Command::SetAutoSendInvoices(call.body::<AutoSendBody>()?.auto_send_invoices)
        }
    };
    match call.command(provider, command).await? {
        Outcome::Updated => write(&json!({ "success": true })),
        other => unexpected(other),
    }
}
