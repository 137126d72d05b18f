//! Tenants: `GET /__mock/tenants` (the dashboard's listing), and a provider catalog or
//! product list staged per tenant (`PUT`/`DELETE /__mock/tenants/{key}/catalog/...` and
//! `.../products`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Call, done};
use crate::api::render;
use crate::api::sync_log::{Owner, log_view};
use crate::control::ControlError;
use crate::sim::{
    ApiKey, Catalog, Integration, LogStatus, MerchantView, Product, Provider, SimConfig,
    SyncHistory, SyncLogEntry, validate_products,
};
use crate::store::TenantRef;

/// The tenant operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminListTenants`.
    List,
    /// `adminSetCatalog`.
    SetCatalog,
    /// `adminClearCatalog`.
    ClearCatalog,
    /// `adminSetProducts`.
    SetProducts,
    /// `adminClearProducts`.
    ClearProducts,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "adminListTenants" => Op::List,
            "adminSetCatalog" => Op::SetCatalog,
            "adminClearCatalog" => Op::ClearCatalog,
            "adminSetProducts" => Op::SetProducts,
            "adminClearProducts" => Op::ClearProducts,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetProducts {
    products: Vec<Product>,
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    match op {
        Op::List => list(call).await,
        Op::SetCatalog | Op::ClearCatalog => {
            let key = call.required_key()?;
            let provider: Provider = call
                .text("provider")
                .parse()
                .map_err(ControlError::BadBody)?;
            let catalog = match op {
                Op::SetCatalog => {
                    let c = call.body::<Catalog>()?;
                    c.validate().map_err(ControlError::BadBody)?;
                    Some(c)
                }
                _ => None,
            };
            call.store
                .with_tenant(&TenantRef::of(key.clone()), |t| {
                    t.merchant.set_catalog(provider, catalog.clone());
                })
                .await?;
            done(format!("{provider} catalog of tenant {} set", key.last4()))
        }
        Op::SetProducts | Op::ClearProducts => {
            let key = call.required_key()?;
            let products = match op {
                Op::SetProducts => {
                    let p = call.body::<SetProducts>()?.products;
                    validate_products(&p).map_err(ControlError::BadBody)?;
                    Some(p)
                }
                _ => None,
            };
            call.store
                .with_tenant(&TenantRef::of(key.clone()), |t| {
                    t.merchant.set_products(products.clone());
                })
                .await?;
            done(format!("products of tenant {} set", key.last4()))
        }
    }
}

/// Every tenant, or one (`key`) with its integrations' last runs and payment mappings
/// for the dashboard's timeline; the whole list without them, so it stays small however
/// many tenants a shared sandbox has.
async fn list(call: &Call<'_>) -> Result<Value, ControlError> {
    let (store, now) = (call.store, call.now);
    let config = store.config();
    let only = call.key()?;
    let keys = match &only {
        Some(k) => vec![k.clone()],
        None => store.tenant_keys().await?,
    };
    let mut data = Vec::new();
    for key in keys {
        let found = store
            .with_existing(&key, |t| {
                tenant_view(&key, t.merchant.at(config, now), config, only.is_some())
            })
            .await?;
        // A tenant removed since the keys were listed is left out.
        data.extend(found);
    }
    Ok(json!({ "data": data }))
}

/// Runs per integration the listing of one tenant shows.
const RECENT_RUNS: usize = 8;

/// One tenant of the listing: its key, merchant, integrations as the API shows them (at
/// the merchant's own time, the view's) and the providers it has taken down;
/// `detailed`, also the recent runs and the payment mappings (no API operation reads
/// those back; the dashboard shows them, self-service's `GET /__mock/self` too).
pub(in crate::control) fn tenant_view(
    key: &ApiKey,
    view: MerchantView<'_>,
    config: &SimConfig,
    detailed: bool,
) -> Value {
    let now = view.now();
    let integrations: Vec<Value> = view
        .integrations()
        .filter_map(|i| serde_json::to_value(render::integration(i, &config.breaker, now)).ok())
        .collect();
    let outages: Vec<&str> = Provider::ALL
        .into_iter()
        .filter(|p| view.outage(*p).is_some())
        .map(|p| p.as_str())
        .collect();
    let mut tenant = json!({
        "key": key.as_str(),
        "merchantId": view.merchant_id(),
        "integrations": integrations,
        "outages": outages,
    });
    if detailed {
        let per_integration = |f: &dyn Fn(&Integration) -> Value| -> Value {
            Value::Object(
                view.integrations()
                    .map(|i| (i.provider.as_str().to_owned(), f(i)))
                    .collect::<Map<String, Value>>(),
            )
        };
        tenant["recentRuns"] = per_integration(&|i| {
            let h = view.history(i.provider);
            let runs = h.recent_runs(RECENT_RUNS);
            Value::Array(runs.iter().map(|run| run_view(run, i, h)).collect())
        });
        tenant["paymentMappings"] =
            per_integration(&|i| serde_json::to_value(&i.payment_mappings).unwrap_or_default());
    }
    tenant
}

/// One run of the timeline: its job, when it started, an overall status (`syncing`
/// while any entry runs, `success`, `failed` when every entry failed, `partial`, or
/// `skipped`) and its entries as the API shows them.
fn run_view(run: &[(&SyncLogEntry, bool)], integ: &Integration, h: &SyncHistory) -> Value {
    use LogStatus as S;
    let has = |s: S| run.iter().any(|(e, _)| e.status == s);
    let all = |s: S| run.iter().all(|(e, _)| e.status == s);
    let status = if has(S::Syncing) || has(S::Pending) {
        "syncing"
    } else if all(S::Skipped) {
        "skipped"
    } else if all(S::Failed) {
        "failed"
    } else if has(S::Failed) {
        "partial"
    } else {
        "success"
    };
    let first = run[0].0;
    json!({
        "jobId": first.job_id,
        "jobType": first.job_type.as_str(),
        "startedAt": render::Rfc3339(first.started_at),
        "status": status,
        "entries": run
            .iter()
            .map(|&(e, retryable)| log_view(e, Owner::of(integ), retryable, h.message(e.id)))
            .collect::<Vec<_>>(),
    })
}
