//! Health, reset and snapshots: `GET /__mock/health`, `POST /__mock/reset`,
//! `GET`/`PUT /__mock/state`.

use serde_json::{Value, json};

use super::{Call, done};
use crate::control::ControlError;
use crate::sim::{WorldState, lock};

/// The state operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminHealth`.
    Health,
    /// `adminReset`.
    Reset,
    /// `adminGetState`.
    Get,
    /// `adminPutState`.
    Put,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "adminHealth" => Op::Health,
            "adminReset" => Op::Reset,
            "adminGetState" => Op::Get,
            "adminPutState" => Op::Put,
            _ => return None,
        })
    }
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    let (control, store, now) = (call.control, call.store, call.now);
    match op {
        Op::Health => Ok(json!({
            "status": "ok",
            "service": "revkeen-mock",
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeSeconds": call.facts.uptime.as_secs(),
            "specTitle": call.facts.spec_title,
            "tenants": store.tenant_keys().await?.len(),
            "fixture": lock(&control.fixture).as_ref().map(|f| f.source.clone()),
            "now": now.to_string(),
            "breaker": {
                "threshold": store.config().breaker.threshold,
                "cooldownSeconds": store.config().breaker.cooldown.map(|c| c.as_secs()),
            },
        })),
        Op::Reset => {
            let fixture = lock(&control.fixture).clone();
            match call.key()? {
                Some(key) => {
                    store.remove_tenant(&key).await?;
                    if let Some(f) = &fixture {
                        f.apply_key(&key, store, now).await?;
                    }
                    done(format!("tenant {} reset", key.last4()))
                }
                None => {
                    store.clear().await?;
                    if let Some(f) = &fixture {
                        f.apply(store, now).await?;
                    }
                    done("every tenant reset")
                }
            }
        }
        Op::Get => {
            let key = call.key()?;
            // Stored credentials stay inside unless a full backup is asked for.
            let full = call
                .params
                .get("full")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut state = store.snapshot(key.as_ref()).await?;
            if !full {
                state = state.redacted();
            }
            // A snapshot is plain data (strings, numbers, maps with string keys).
            Ok(serde_json::to_value(state).unwrap_or(Value::Null))
        }
        Op::Put => {
            let state: WorldState = call.body()?;
            store.restore(state).await?;
            done("state restored")
        }
    }
}
