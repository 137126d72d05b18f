//! The simulated clock: `GET /__mock/clock`, and setting, advancing, freezing and
//! resuming it. Every tenant's time moves with it.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use crate::control::ControlError;
use crate::sim::{Clock, Timestamp};

/// The clock operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminGetClock`.
    Get,
    /// `adminSetClock`.
    Set,
    /// `adminAdvanceClock`.
    Advance,
    /// `adminFreezeClock`.
    Freeze,
    /// `adminResumeClock`.
    Resume,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "adminGetClock" => Op::Get,
            "adminSetClock" => Op::Set,
            "adminAdvanceClock" => Op::Advance,
            "adminFreezeClock" => Op::Freeze,
            "adminResumeClock" => Op::Resume,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct SetClock {
    now: String,
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

/// `{"now", "frozen"}`.
fn view(clock: Clock, wall: Timestamp) -> Value {
    json!({ "now": clock.now(wall).to_string(), "frozen": clock.is_frozen() })
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    let (store, wall) = (call.store, call.wall);
    let clock = match op {
        Op::Get => store.clock().await?,
        Op::Set => {
            let to = Timestamp::parse_rfc3339(&call.body::<SetClock>()?.now)
                .map_err(ControlError::BadTime)?;
            if !(Timestamp(0)..=Timestamp::LATEST).contains(&to) {
                return Err(ControlError::ClockPastLatest);
            }
            store.change_clock(wall, &|c| c.set(to, wall)).await?
        }
        Op::Advance => {
            let by = Duration::from_secs(call.body::<Advance>()?.seconds);
            if call.now.plus(by) > Timestamp::LATEST {
                return Err(ControlError::ClockPastLatest);
            }
            store.change_clock(wall, &|c| c.advance(by)).await?
        }
        Op::Freeze => store.change_clock(wall, &|c| c.freeze(wall)).await?,
        Op::Resume => store.change_clock(wall, &|c| c.resume(wall)).await?,
    };
    Ok(view(clock, wall))
}
