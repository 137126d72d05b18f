//! The request journal: `GET`/`DELETE /__mock/requests` and
//! `POST /__mock/requests/count`.

use serde_json::{Value, json};

use super::{Call, done};
use crate::control::ControlError;
use crate::control::journal::Matcher;
use crate::sim::Timestamp;

/// The journal operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminListRequests`.
    List,
    /// `adminClearRequests`.
    Clear,
    /// `adminCountRequests`.
    Count,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "adminListRequests" => Op::List,
            "adminClearRequests" => Op::Clear,
            "adminCountRequests" => Op::Count,
            _ => return None,
        })
    }
}

/// The journal's listing shows at most this many entries unless `limit` says otherwise.
const DEFAULT_LIMIT: u64 = 1000;

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    let (journal, store) = (&call.control.journal, call.store);
    match op {
        Op::List => {
            let text = |name| call.params.get(name).and_then(Value::as_str);
            let m = Matcher {
                key: text("key").map(str::to_owned),
                path: text("path").map(str::to_owned),
                status: call
                    .params
                    .get("status")
                    .and_then(Value::as_u64)
                    .map(|s| s as u16),
                since: text("since")
                    .map(Timestamp::parse_rfc3339)
                    .transpose()
                    .map_err(ControlError::BadTime)?,
                method: None,
            };
            let limit = call
                .params
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_LIMIT) as usize;
            Ok(json!({ "data": journal.query_in(store, &m, limit).await? }))
        }
        Op::Clear => {
            journal.clear_in(store).await?;
            done("journal cleared")
        }
        Op::Count => {
            let m: Matcher = call.body()?;
            Ok(json!({ "count": journal.count_in(store, &m).await? }))
        }
    }
}
