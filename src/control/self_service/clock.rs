//! The merchant's own clock: `GET /__mock/self/clock` and
//! `POST /__mock/self/clock/advance`. A merchant's time is the sandbox's plus an offset
//! that only grows; advancing it runs what falls due for that merchant alone.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use crate::api::ApiError;
use crate::spec::Violation;

/// The clock operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `selfGetClock`.
    Get,
    /// `selfAdvanceClock`.
    Advance,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "selfGetClock" => Op::Get,
            "selfAdvanceClock" => Op::Advance,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ApiError> {
    match op {
        Op::Get => view(call).await,
        Op::Advance => {
            let by = Duration::from_secs(call.body::<Advance>()?.seconds);
            let (config, now) = (call.store.config(), call.now);
            call.store
                .with_tenant(&call.session.tenant, |t| {
                    t.merchant.move_clock_ahead(config, now, by)
                })
                .await?
                .map_err(|refusal| {
                    ApiError::validation(vec![Violation {
                        field: "seconds".into(),
                        message: refusal.to_string(),
                    }])
                })?;
            view(call).await
        }
    }
}

/// The caller's merchant's clock, as `Clock` in the contract:
/// `{"now", "sandboxNow", "aheadSeconds", "frozen"}`.
pub(super) async fn view(call: &Call<'_>) -> Result<Value, ApiError> {
    let clock = call.store.clock().await?;
    let sandbox = clock.now(call.wall);
    let (now, ahead) = call
        .store
        .with_tenant(&call.session.tenant, |t| {
            (t.now(sandbox), t.merchant.clock_ahead())
        })
        .await?;
    Ok(json!({
        "now": now.to_string(),
        "sandboxNow": sandbox.to_string(),
        "aheadSeconds": ahead.as_secs(),
        "frozen": clock.is_frozen(),
    }))
}
