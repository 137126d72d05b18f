//! Domain values rendered as the spec's JSON shapes. Every field written here is one the
//! spec's `Integration` schema describes; strict mode proves it on every response.

use serde_json::{Map, Value, json};

use crate::sim::{BreakerConfig, Integration, Timestamp};

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

/// The `Integration` object at `now` (derived fields such as `syncHealth` and the
/// breaker's `mode` depend on the time).
pub fn integration(i: &Integration, breaker: &BreakerConfig, now: Timestamp) -> Value {
    let mut configuration = Map::new();
    configuration.insert(
        "invoiceLookbackDays".into(),
        json!(i.configuration.invoice_lookback_days.days()),
    );
    configuration.insert(
        "autoSendInvoices".into(),
        json!(i.configuration.auto_send_invoices),
    );
    if let Some(c) = &i.configuration.currency {
        configuration.insert("currency".into(), json!(c));
    }
    for (flag, on) in &i.configuration.flags {
        configuration.insert(flag.clone(), json!(on));
    }
    json!({
        "id": i.id.to_string(),
        "provider": i.provider.as_str(),
        "isActive": i.is_active,
        "syncEnabled": i.sync_enabled,
        "status": i.status.as_str(),
        "lastSyncAt": time(i.last_sync_at),
        "lastSyncError": i.last_sync_error,
        "syncHealth": i.health(breaker, now).as_str(),
        "providerState": {
            "consecutiveErrors": i.breaker.consecutive_errors(),
            "lastErrorAt": time(i.last_error_at),
            "lastSyncAt": time(i.last_success_at),
            "mode": i.breaker.state(breaker, now).as_str(),
        },
        "syncInterval": {
            "hasRepeatableJob": i.has_repeatable_job(),
            "intervalMs": i.interval.millis(),
            "nextRun": time(i.next_run),
        },
        "configuration": configuration,
        "createdAt": i.created_at.to_string(),
        "updatedAt": i.updated_at.to_string(),
    })
}
