//! Domain values rendered as the spec's JSON shapes, serialized straight to bytes (no
//! intermediate `Value`: this is the costly part of a read). Every field written here
//! is one the spec's `Integration` schema describes; strict mode proves it.
//!
//! Rendering an `Integration` was the largest cost of a read (about a third of the
//! pipeline's instructions), and a polling client reads the same unchanged integration
//! again and again: [`integration_json`] keeps, per thread, the JSON of the
//! integrations it rendered lately, keyed by everything that JSON is made from.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::fast_map::{FastMap, fast_map};
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::sim::{BreakerConfig, Integration, Provider, Timestamp};

/// A time as RFC 3339, formatted on the stack (no intermediate `String`).
pub struct Rfc3339(pub Timestamp);

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
    /// Optional, never null (as the SDK types it): left out when nothing is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// An `Integration` object's JSON, rendered once and shared.
#[derive(Clone)]
pub struct IntegrationJson(Arc<RawValue>);

impl Serialize for IntegrationJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// An integration this thread rendered, and everything its JSON was made from.
struct Rendered {
    /// The integration as it was rendered (the JSON reads only its fields...).
    integration: Integration,
    /// ...and two fields derived from it at a time: `syncHealth` and the breaker's mode.
    sync_health: &'static str,
    mode: &'static str,
    json: IntegrationJson,
}

/// How many rendered integrations a thread keeps; past that it starts afresh.
const KEPT: usize = 256;

thread_local! {
    /// This thread's rendered integrations, by id. Per thread, so reading it takes no
    /// lock another worker could hold.
    static RENDERED: RefCell<FastMap<uuid::Uuid, Rendered>> = RefCell::new(fast_map());
}

/// The JSON of [`integration`]`(i, breaker, now)`: the one this thread rendered before
/// when the integration and its derived `syncHealth` and mode are the same (the view
/// reads nothing else, so the bytes are the same), else rendered now and kept.
pub fn integration_json(
    i: &Integration,
    breaker: &BreakerConfig,
    now: Timestamp,
) -> Result<IntegrationJson, serde_json::Error> {
    let view = integration(i, breaker, now);
    let (sync_health, mode) = (view.sync_health, view.provider_state.mode);
    let kept = RENDERED.with_borrow(|kept| {
        kept.get(&i.id)
            .filter(|r| r.sync_health == sync_health && r.mode == mode && r.integration == *i)
            .map(|r| r.json.clone())
    });
    if let Some(json) = kept {
        return Ok(json);
    }
    let json = IntegrationJson(Arc::from(serde_json::value::to_raw_value(&view)?));
    RENDERED.with_borrow_mut(|kept| {
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(
            i.id,
            Rendered {
                integration: i.clone(),
                sync_health,
                mode,
                json: json.clone(),
            },
        );
    });
    Ok(json)
}

/// `{"data": [...], "pagination": {...}}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBody {
    /// The page.
    pub data: Vec<IntegrationJson>,
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

impl Pagination {
    /// The block of a page of `shown` items from `offset`, of `total` in all.
    pub fn new(limit: usize, offset: usize, total: usize, shown: usize) -> Self {
        Pagination {
            limit,
            offset,
            total,
            has_more: offset + shown < total,
        }
    }
}

/// `{"data": Integration | null}`.
#[derive(Serialize)]
pub struct GetBody {
    /// The integration, or null.
    pub data: Option<IntegrationJson>,
}

/// `{"success": true, "data": Integration}`.
#[derive(Serialize)]
pub struct ActivatedBody {
    /// Always true.
    pub success: bool,
    /// The integration.
    pub data: IntegrationJson,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::sim::SimConfig;
    use crate::sim::random_runs::{run, steps};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The JSON a thread kept for an integration is, byte for byte, what rendering
        /// it afresh gives, after any sequence of commands, outages and clock advances
        /// (with a cool-down, so the breaker's mode also changes with time alone). Runs
        /// repeat the same ids with other states, so a changed integration answered
        /// from what was kept would show here.
        #[test]
        fn kept_json_is_always_what_a_fresh_render_gives(steps in steps(), threshold in 1u32..4) {
            let config = SimConfig {
                breaker: BreakerConfig { threshold, cooldown: Some(Duration::from_secs(600)) },
                ..SimConfig::default()
            };
            for (mut tenants, now) in run(&steps, &config) {
                for m in &mut tenants {
                    for i in m.at(&config, now).integrations() {
                        let kept = integration_json(i, &config.breaker, now).unwrap();
                        let fresh = serde_json::to_string(&integration(i, &config.breaker, now)).unwrap();
                        prop_assert_eq!(kept.0.get(), fresh.as_str());
                    }
                }
            }
        }
    }
}
