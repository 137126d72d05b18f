//! Coverage: `GET`/`DELETE /__mock/coverage?key=K[&run=NAME]`, what a key's run met
//! ([`crate::control::coverage`]).

use serde_json::Value;

use super::{Call, done};
use crate::control::ControlError;
use crate::control::coverage;

/// The coverage operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminGetCoverage`.
    Get,
    /// `adminClearCoverage`.
    Clear,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "adminGetCoverage" => Op::Get,
            "adminClearCoverage" => Op::Clear,
            _ => return None,
        })
    }
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    let key = call.required_key()?;
    let run = call.params.get("run").and_then(Value::as_str);
    let counted = &call.control.coverage;
    match op {
        Op::Get => Ok(coverage::report(
            call.facts.api,
            &counted.counts_in(call.store, &key, run).await?,
            counted.runs_in(call.store, &key).await?,
            &key,
            run,
        )),
        Op::Clear => {
            counted.forget_in(call.store, &key, run).await?;
            done(match run {
                Some(run) => format!("run {run} of {} forgotten", key.last4()),
                None => format!("every run of {} forgotten", key.last4()),
            })
        }
    }
}
