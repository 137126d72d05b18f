//! The caller's coverage: `GET`/`DELETE /__mock/self/coverage[?run=NAME]`, what its
//! runs met ([`crate::control::coverage`]).

use serde_json::Value;

use super::{Call, done};
use crate::api::ApiError;
use crate::control::coverage;

/// The coverage operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `selfGetCoverage`.
    Get,
    /// `selfClearCoverage`.
    Clear,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "selfGetCoverage" => Op::Get,
            "selfClearCoverage" => Op::Clear,
            _ => return None,
        })
    }
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ApiError> {
    let key = call.session.key();
    let run = call.text("run");
    let counted = &call.control.coverage;
    match op {
        Op::Get => Ok(coverage::report(
            call.api,
            &counted.counts_in(call.store, key, run).await?,
            counted.runs_in(call.store, key).await?,
            key,
            run,
        )),
        Op::Clear => {
            counted.forget_in(call.store, key, run).await?;
            done(match run {
                Some(run) => format!("run {run} forgotten"),
                None => "every run of this key forgotten".to_owned(),
            })
        }
    }
}
