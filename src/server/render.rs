//! Domain values rendered as the spec's JSON shapes, serialized straight to bytes (no
//! intermediate `Value`: this is the costly part of a read). Every field written here
//! is one the spec's `Integration` schema describes; strict mode proves it.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::sim::{BreakerConfig, Integration, Provider, Timestamp};

/// A time as RFC 3339, formatted on the stack (no intermediate `String`).
struct Rfc3339(Timestamp);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::sim::serialize_rfc3339(&self.0, s)
    }
}

fn time(t: Option<Timestamp>) -> Option<Rfc3339> {
    t.map(Rfc3339)
}

/// The `Integration` object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView<'a> {
    id: uuid::Uuid,
    provider: Provider,
    is_active: bool,
    sync_enabled: bool,
    status: &'static str,
    last_sync_at: Option<Rfc3339>,
    last_sync_error: Option<&'a str>,
    sync_health: &'static str,
    provider_state: ProviderStateView,
    sync_interval: SyncIntervalView,
    configuration: ConfigurationView<'a>,
    created_at: Rfc3339,
    updated_at: Rfc3339,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderStateView {
    consecutive_errors: u32,
    last_error_at: Option<Rfc3339>,
    last_sync_at: Option<Rfc3339>,
    mode: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncIntervalView {
    has_repeatable_job: bool,
    interval_ms: u64,
    next_run: Option<Rfc3339>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigurationView<'a> {
    invoice_lookback_days: u32,
    auto_send_invoices: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    /// Activation flags (`syncPatients`, ...), at the top level of `configuration`.
    #[serde(flatten)]
    flags: &'a BTreeMap<String, bool>,
}

/// The view of `i` at `now` (derived fields such as `syncHealth` and the breaker's
/// `mode` depend on the time).
pub fn integration<'a>(
    i: &'a Integration,
    breaker: &BreakerConfig,
    now: Timestamp,
) -> IntegrationView<'a> {
    IntegrationView {
        id: i.id,
        provider: i.provider,
        is_active: i.is_active,
        sync_enabled: i.sync_enabled,
        status: i.status.as_str(),
        last_sync_at: time(i.last_sync_at),
        last_sync_error: i.last_sync_error.as_deref(),
        sync_health: i.health(breaker, now).as_str(),
        provider_state: ProviderStateView {
            consecutive_errors: i.breaker.consecutive_errors(),
            last_error_at: time(i.last_error_at),
            last_sync_at: time(i.last_success_at),
            mode: i.breaker.state(breaker, now).as_str(),
        },
        sync_interval: SyncIntervalView {
            has_repeatable_job: i.has_repeatable_job(),
            interval_ms: i.interval.millis(),
            next_run: time(i.next_run),
        },
        configuration: ConfigurationView {
            invoice_lookback_days: i.configuration.invoice_lookback_days.days(),
            auto_send_invoices: i.configuration.auto_send_invoices,
            currency: i.configuration.currency.as_deref(),
            flags: &i.configuration.flags,
        },
        created_at: Rfc3339(i.created_at),
        updated_at: Rfc3339(i.updated_at),
    }
}

/// `{"data": [...], "pagination": {...}}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBody<'a> {
    /// The page.
    pub data: Vec<IntegrationView<'a>>,
    /// Where the page sits.
    pub pagination: Pagination,
}

/// The pagination block.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Page size.
    pub limit: usize,
    /// First item.
    pub offset: usize,
    /// Items in all.
    pub total: usize,
    /// `offset + data.len() < total`.
    pub has_more: bool,
}

/// `{"data": Integration | null}`.
#[derive(Serialize)]
pub struct GetBody<'a> {
    /// The integration, or null.
    pub data: Option<IntegrationView<'a>>,
}

/// `{"success": true, "data": Integration}`.
#[derive(Serialize)]
pub struct ActivatedBody<'a> {
    /// Always true.
    pub success: bool,
    /// The integration.
    pub data: IntegrationView<'a>,
}
