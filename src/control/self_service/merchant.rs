//! The caller's merchant itself: `GET /__mock/self`, `POST /__mock/self/reset`,
//! `POST /__mock/self/fixtures/{name}` and `GET /__mock/self/requests`. A merchant
//! replaced (a reset, a fixture) keeps its clock: a merchant's time never goes back.

use serde_json::{Value, json};

use super::faults::own_rules;
use super::{Call, clock, done};
use crate::api::ApiError;
use crate::control::admin::tenant_view;
use crate::control::fixture::{self, Fixture, MerchantFixture};
use crate::control::journal::Matcher;
use crate::sim::{Tenant, lock};
use crate::spec::Violation;

/// The merchant operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `selfGetMerchant`.
    Get,
    /// `selfReset`.
    Reset,
    /// `selfLoadFixture`.
    LoadFixture,
    /// `selfListRequests`.
    Requests,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "selfGetMerchant" => Op::Get,
            "selfReset" => Op::Reset,
            "selfLoadFixture" => Op::LoadFixture,
            "selfListRequests" => Op::Requests,
            _ => return None,
        })
    }
}

/// The journal's entries a listing shows unless `limit` says otherwise.
const DEFAULT_LIMIT: u64 = 100;

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ApiError> {
    let (control, store) = (call.control, call.store);
    let key = call.session.key();
    match op {
        Op::Get => {
            let (config, now) = (store.config(), call.now);
            // The merchant as the operator's listing shows one tenant (its integrations
            // as the API shows them, outages, recent runs, payment mappings).
            let mut view = store
                .with_tenant(&call.session.tenant, |t| {
                    tenant_view(key, t.merchant.at(config, now), config, true)
                })
                .await?;
            let rules = control
                .faults
                .update(store, |book| own_rules(book, key.as_str()))
                .await?;
            let quotas = call.service.quotas;
            view["key"] = json!(format!("…{}", key.last4()));
            view["clock"] = clock::view(call).await?;
            view["rules"] = json!(rules);
            view["quotas"] = json!({
                    "rules": quotas.rules,
                    "latencyMs": quotas.latency.as_millis() as u64,
                    "outageSeconds": quotas.outage.as_secs(),
                    "retryAfterSeconds": quotas.retry_after_secs,
                    "clockStepSeconds": crate::sim::MAX_CLOCK_STEP.as_secs(),
            });
            Ok(view)
        }
        Op::Reset => {
            let fixture = lock(&control.fixture).clone();
            let staged = fixture
                .as_ref()
                .and_then(|f| Some((f, f.merchants.iter().find(|m| &m.key == key)?)));
            replace(call, staged).await?;
            control
                .faults
                .update(store, |book| {
                    book.retain(|r| r.matcher.key.as_deref() != Some(key.as_str()))
                })
                .await?;
            done(match staged {
                Some((f, _)) => format!("merchant reset to what {} gives its key", f.source),
                None => "merchant reset to empty".to_owned(),
            })
        }
        Op::LoadFixture => {
            let name = call.text("name").unwrap_or("");
            let f = fixture::named(name, control.fixtures_dir.as_deref())?;
            f.validate(store.config()).map_err(|m| {
                ApiError::validation(vec![Violation {
                    field: "name".into(),
                    message: m,
                }])
            })?;
            let m = match call.text("merchant") {
                Some(wanted) => f.merchants.iter().find(|m| m.key.as_str() == wanted),
                None => f.merchants.first(),
            };
            let Some(m) = m else {
                return Err(ApiError::not_found(format!(
                    "the fixture {} has no merchant{}: its merchants are {}",
                    f.source,
                    call.text("merchant")
                        .map_or(String::new(), |w| format!(" of key {w}")),
                    f.merchants
                        .iter()
                        .map(|m| m.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            replace(call, Some((&f, m))).await?;
            done(format!(
                "the merchant of {} in {} loaded under this key",
                m.key.as_str(),
                f.source
            ))
        }
        Op::Requests => {
            let limit = call
                .params
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_LIMIT) as usize;
            let m = Matcher {
                key: Some(key.as_str().to_owned()),
                method: None,
                path: None,
                status: None,
                since: None,
            };
            Ok(json!({ "data": control.journal.query_in(store, &m, limit).await? }))
        }
    }
}

/// Replaces the caller's merchant, in one update, by `staged`'s merchant built under
/// the caller's key (its ids derive from the caller's key, as its own would) as of the
/// merchant's own time, or by an empty one; its idempotency keys and rate-limit bucket
/// go with it, its clock stays. The key's scopes are the caller's, whatever the
/// fixture says of its own key.
async fn replace(
    call: &Call<'_>,
    staged: Option<(&Fixture, &MerchantFixture)>,
) -> Result<(), ApiError> {
    let (store, now) = (call.store, call.now);
    let config = store.config();
    let key = call.session.key();
    let under_key = staged.map(|(f, m)| {
        let mut m = m.clone();
        m.key = key.clone();
        (f, m)
    });
    store
        .with_tenant(&call.session.tenant, |t| {
            let local = t.now(now);
            let merchant = match &under_key {
                Some((f, m)) => f.stage(m, config, local)?,
                None => Tenant::new(config, key).merchant,
            };
            let mut fresh = Tenant::with(merchant);
            fresh.merchant.keep_clock_of(&t.merchant);
            *t = fresh;
            Ok::<_, crate::control::ControlError>(())
        })
        .await??;
    Ok(())
}
