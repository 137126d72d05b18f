//! The admin API's operations. The HTTP layer hands each `/__mock` request here,
//! already routed by the admin contract; every change goes through the simulator.

use std::time::Duration;

use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::error::ControlError;
use super::faults::{FaultAction, FaultBook, RuleInput};
use super::journal::Matcher;
use super::{AdminAccess, Control, fixture};
use crate::api::{ApiError, render, request};
use crate::sim::{
    ApiKey, Catalog, Clock, Outage, Product, Provider, Timestamp, WorldState, lock,
    validate_products,
};
use crate::spec::{Method, ParsedParams};
use crate::store::{Store, TenantRef};

/// An admin request, as the HTTP layer read it.
pub struct AdminRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The path (starting with `/__mock`).
    pub path: &'a str,
    /// The raw query.
    pub query: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header: a body must be JSON, as on the API.
    pub content_type: Option<&'a str>,
    /// The `Host` header: only loopback, the listening address and allowed names.
    pub host: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// The answer: status and JSON body, or an error; with the admin operation answered.
pub struct AdminAnswer {
    /// The admin operation's index in the admin contract, when routed.
    pub operation: Option<usize>,
    /// The result.
    pub result: Result<Value, ApiError>,
    /// A page to send instead of JSON (the dashboard).
    pub html: Option<&'static str>,
}

/// The dashboard: one page, embedded, that uses the admin API only.
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// Whether a path belongs to the admin API.
pub fn is_admin_path(control: &Control, path: &str) -> bool {
    control.access != AdminAccess::Off
        && path
            .strip_prefix(control.contract.base_path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(bytes).map_err(|e| ControlError::BadBody(e.to_string()))
}

fn done(message: impl Into<String>) -> Result<Value, ControlError> {
    Ok(json!({ "success": true, "message": message.into() }))
}

/// Answers one admin request at simulated time `now` (wall time `wall`).
pub async fn handle(
    control: &Control,
    store: &dyn Store,
    req: &AdminRequest<'_>,
    wall: Timestamp,
    spec_title: &str,
    uptime: Duration,
) -> AdminAnswer {
    let (index, path_params) = match request::route(&control.contract, req.method, req.path) {
        Ok(found) => found,
        Err(e) => {
            return AdminAnswer {
                operation: None,
                result: Err(e),
                html: None,
            };
        }
    };
    let answer = |result| AdminAnswer {
        operation: Some(index),
        result,
        html: None,
    };
    // Before anything else, the dashboard included: a request addressed to a name an
    // attacker controls (DNS rebinding) is refused, with or without a token.
    if !control.answers_host(req.host) {
        return answer(Err(ApiError::host_not_allowed(req.host.unwrap_or(""))));
    }
    if control.contract.operations[index].id == "adminUi" {
        // The page holds no data: it asks for the token itself when one is set.
        return AdminAnswer {
            operation: Some(index),
            result: Ok(Value::Null),
            html: Some(DASHBOARD),
        };
    }
    if let AdminAccess::Token(token) = &control.access {
        let sent = req
            .authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
            return answer(Err(ApiError::admin_token_required()));
        }
    }
    let op = &control.contract.operations[index];
    // Every write says it is JSON, body or not: a browser must then ask first (a
    // pre-flight, which no other origin is granted), so no form or "simple" request
    // from another site can reset, load a fixture or move the clock.
    if op.method != Method::Get && !req.content_type.is_some_and(crate::spec::is_json) {
        return answer(Err(ApiError::unsupported_media_type(req.content_type)));
    }
    let params = match op.parse_params(&path_params, req.query, &[][..]) {
        Ok(p) => p,
        Err(v) => return answer(Err(ApiError::validation(v))),
    };
    if let Err(e) = request::json_body(op, req.content_type, req.body) {
        return answer(Err(e));
    }
    let result = match store.now(wall).await {
        Ok(now) => run(
            &op.id, control, store, req, &params, now, wall, spec_title, uptime,
        )
        .await
        .map_err(ApiError::from),
        Err(e) => Err(e.into()),
    };
    answer(result)
}

fn key_param(params: &ParsedParams<'_>) -> Result<Option<ApiKey>, ControlError> {
    params
        .get("key")
        .and_then(Value::as_str)
        .map(|k| {
            ApiKey::parse(k).map_err(|reason| ControlError::BadKey {
                field: "key",
                reason,
            })
        })
        .transpose()
}

fn clock_view(clock: Clock, wall: Timestamp) -> Value {
    json!({ "now": clock.now(wall).to_string(), "frozen": clock.is_frozen() })
}

#[allow(clippy::too_many_arguments)]
async fn run(
    operation_id: &str,
    control: &Control,
    store: &dyn Store,
    req: &AdminRequest<'_>,
    params: &ParsedParams<'_>,
    now: Timestamp,
    wall: Timestamp,
    spec_title: &str,
    uptime: Duration,
) -> Result<Value, ControlError> {
    match operation_id {
        "adminHealth" => Ok(json!({
            "status": "ok",
            "service": "revkeen-mock",
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeSeconds": uptime.as_secs(),
            "specTitle": spec_title,
            "tenants": store.tenant_keys().await?.len(),
            "fixture": lock(&control.fixture).as_ref().map(|f| f.source.clone()),
            "now": now.to_string(),
            "breaker": {
                "threshold": store.config().breaker.threshold,
                "cooldownSeconds": store.config().breaker.cooldown.map(|c| c.as_secs()),
            },
        })),
        "adminReset" => {
            let fixture = lock(&control.fixture).clone();
            match key_param(params)? {
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
        "adminSetCatalog" | "adminClearCatalog" => {
            let key = key_param(params)?.ok_or(ControlError::BadBody("no key".into()))?;
            let provider: Provider = params
                .get("provider")
                .and_then(Value::as_str)
                .unwrap_or("")
                .parse()
                .map_err(ControlError::BadBody)?;
            let catalog = match operation_id {
                "adminSetCatalog" => {
                    let c = body::<Catalog>(req.body)?;
                    c.validate().map_err(ControlError::BadBody)?;
                    Some(c)
                }
                _ => None,
            };
            store
                .with_tenant(&TenantRef::of(key.clone()), |t| {
                    t.merchant.set_catalog(provider, catalog.clone());
                })
                .await?;
            done(format!("{provider} catalog of tenant {} set", key.last4()))
        }
        "adminSetProducts" | "adminClearProducts" => {
            let key = key_param(params)?.ok_or(ControlError::BadBody("no key".into()))?;
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct SetProducts {
                products: Vec<Product>,
            }
            let products = match operation_id {
                "adminSetProducts" => {
                    let p = body::<SetProducts>(req.body)?.products;
                    validate_products(&p).map_err(ControlError::BadBody)?;
                    Some(p)
                }
                _ => None,
            };
            store
                .with_tenant(&TenantRef::of(key.clone()), |t| {
                    t.merchant.set_products(products.clone());
                })
                .await?;
            done(format!("products of tenant {} set", key.last4()))
        }
        "adminLoadFixture" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            let f = fixture::named(name, control.fixtures_dir.as_deref())?;
            store.clear().await?;
            f.apply(store, now).await?;
            let source = f.source.clone();
            *lock(&control.fixture) = Some(f);
            if let Some(kept) = store.kept_control() {
                kept.keep(fixture::KEPT, name.as_bytes().to_vec()).await?;
            }
            done(format!("fixture {source} loaded"))
        }
        "adminListTenants" => {
            let mut data = Vec::new();
            let config = store.config();
            // One tenant (`key`) comes with its integrations' last runs, for the
            // dashboard's timeline; the whole list without them, so it stays small
            // however many tenants a shared sandbox has.
            let only = key_param(params)?;
            let keys = match &only {
                Some(k) => vec![k.clone()],
                None => store.tenant_keys().await?,
            };
            for key in keys {
                let found = store
                    .with_existing(&key, |t| {
                        let view = t.merchant.at(config, now);
                        let integrations: Vec<Value> = view
                            .integrations()
                            .filter_map(|i| {
                                serde_json::to_value(render::integration(i, &config.breaker, now))
                                    .ok()
                            })
                            .collect();
                        let runs: serde_json::Map<String, Value> = view
                            .integrations()
                            .filter(|_| only.is_some())
                            .map(|i| {
                                let h = view.history(i.provider);
                                let runs: Vec<Value> = h
                                    .recent_runs(RECENT_RUNS)
                                    .into_iter()
                                    .map(|run| run_json(&run, i))
                                    .collect();
                                (i.provider.as_str().to_owned(), Value::Array(runs))
                            })
                            .collect();
                        let outages: Vec<&str> = crate::sim::Provider::ALL
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
                        if only.is_some() {
                            tenant["recentRuns"] = Value::Object(runs);
                            // No API operation reads payment mappings back; the
                            // dashboard shows them beside the provider's methods.
                            let mappings: serde_json::Map<String, Value> = view
                                .integrations()
                                .map(|i| {
                                    let kept = serde_json::to_value(&i.payment_mappings)
                                        .unwrap_or_default();
                                    (i.provider.as_str().to_owned(), kept)
                                })
                                .collect();
                            tenant["paymentMappings"] = Value::Object(mappings);
                        }
                        tenant
                    })
                    .await?;
                // A tenant removed since the keys were listed is left out.
                data.extend(found);
            }
            Ok(json!({ "data": data }))
        }
        "adminGetState" => {
            let key = key_param(params)?;
            // Stored credentials stay inside unless a full backup is asked for.
            let full = params.get("full").and_then(Value::as_bool).unwrap_or(false);
            let mut state = store.snapshot(key.as_ref()).await?;
            if !full {
                state = state.redacted();
            }
            // A snapshot is plain data (strings, numbers, maps with string keys).
            Ok(serde_json::to_value(state).unwrap_or(Value::Null))
        }
        "adminPutState" => {
            let state: WorldState = body(req.body)?;
            store.restore(state).await?;
            done("state restored")
        }
        "adminGetClock" => Ok(clock_view(store.clock().await?, wall)),
        "adminSetClock" => {
            #[derive(serde::Deserialize)]
            struct SetClock {
                now: String,
            }
            let to = Timestamp::parse_rfc3339(&body::<SetClock>(req.body)?.now)
                .map_err(ControlError::BadTime)?;
            if !(Timestamp(0)..=Timestamp::LATEST).contains(&to) {
                return Err(ControlError::ClockPastLatest);
            }
            let clock = store.change_clock(wall, &|c| c.set(to, wall)).await?;
            Ok(clock_view(clock, wall))
        }
        "adminAdvanceClock" => {
            #[derive(serde::Deserialize)]
            struct Advance {
                seconds: u64,
            }
            let seconds = body::<Advance>(req.body)?.seconds;
            if now.plus(Duration::from_secs(seconds)) > Timestamp::LATEST {
                return Err(ControlError::ClockPastLatest);
            }
            let by = Duration::from_secs(seconds);
            let clock = store.change_clock(wall, &|c| c.advance(by)).await?;
            Ok(clock_view(clock, wall))
        }
        "adminFreezeClock" => {
            let clock = store.change_clock(wall, &|c| c.freeze(wall)).await?;
            Ok(clock_view(clock, wall))
        }
        "adminResumeClock" => {
            let clock = store.change_clock(wall, &|c| c.resume(wall)).await?;
            Ok(clock_view(clock, wall))
        }
        "adminListFaults" => Ok(control
            .faults
            .update(store, |book| json!({ "rules": book.rules() }))
            .await?),
        "adminAddFaults" => {
            #[derive(serde::Deserialize)]
            struct AddFaults {
                rules: Vec<RuleInput>,
            }
            let rules = body::<AddFaults>(req.body)?.rules;
            for r in &rules {
                FaultBook::validate(r).map_err(ControlError::BadFault)?;
                if matches!(r.action, FaultAction::ProviderOutage { .. })
                    && r.matcher.provider.is_none()
                {
                    return Err(ControlError::OutageWithoutProvider);
                }
            }
            let (outages, rules): (Vec<RuleInput>, Vec<RuleInput>) = rules
                .into_iter()
                .partition(|r| matches!(r.action, FaultAction::ProviderOutage { .. }));
            // Outages are tenant state: injected through the store, outside the book's lock.
            for r in &outages {
                if let FaultAction::ProviderOutage { syncs, seconds } = r.action {
                    let outage = match (syncs, seconds) {
                        (Some(n), _) => Outage::NextSyncs { remaining: n },
                        (None, s) => Outage::Until {
                            until: now.plus(Duration::from_secs(s.unwrap_or(0))),
                        },
                    };
                    inject_outage(store, r, outage).await?;
                }
            }
            Ok(control
                .faults
                .update(store, |book| {
                    for r in &rules {
                        book.add(r.clone());
                    }
                    json!({ "rules": book.rules() })
                })
                .await?)
        }
        "adminClearFaults" => {
            control.faults.update(store, FaultBook::clear).await?;
            for key in store.tenant_keys().await? {
                store
                    .with_existing(&key, |t| t.merchant.clear_outages())
                    .await?;
            }
            done("every fault rule and provider outage cleared")
        }
        "adminDeleteFault" => {
            let id = params.get("id").and_then(Value::as_str).unwrap_or("");
            if control.faults.update(store, |book| book.remove(id)).await? {
                done(format!("{id} deleted"))
            } else {
                Err(ControlError::NoSuchFault(id.to_owned()))
            }
        }
        "adminListRequests" => {
            let m = Matcher {
                key: params.get("key").and_then(Value::as_str).map(str::to_owned),
                path: params
                    .get("path")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                status: params
                    .get("status")
                    .and_then(Value::as_u64)
                    .map(|s| s as u16),
                since: params
                    .get("since")
                    .and_then(Value::as_str)
                    .map(Timestamp::parse_rfc3339)
                    .transpose()
                    .map_err(ControlError::BadTime)?,
                method: None,
            };
            let limit = params.get("limit").and_then(Value::as_u64).unwrap_or(1000) as usize;
            Ok(json!({ "data": control.journal.query_in(store, &m, limit).await? }))
        }
        "adminClearRequests" => {
            control.journal.clear_in(store).await?;
            done("journal cleared")
        }
        "adminCountRequests" => {
            let m: Matcher = body(req.body)?;
            Ok(json!({ "count": control.journal.count_in(store, &m).await? }))
        }
        // Every operation of the embedded admin contract is answered above.
        other => Err(ControlError::NoSuchOperation(other.to_owned())),
    }
}

/// Injects an outage into the tenants the rule's key selects (every existing tenant
/// when it names none).
async fn inject_outage(
    store: &dyn Store,
    rule: &RuleInput,
    outage: Outage,
) -> Result<(), ControlError> {
    let Some(provider) = rule.matcher.provider else {
        return Err(ControlError::OutageWithoutProvider);
    };
    let keys = match &rule.matcher.key {
        Some(k) => vec![ApiKey::parse(k).map_err(|reason| ControlError::BadKey {
            field: "match.key",
            reason,
        })?],
        None => store.tenant_keys().await?,
    };
    for key in keys {
        store
            .with_tenant(&TenantRef::of(key), |t| {
                t.merchant.inject_outage(provider, outage)
            })
            .await?;
    }
    Ok(())
}

/// Runs per integration the tenants listing shows.
const RECENT_RUNS: usize = 8;

/// One run of the timeline: its job, when it started, an overall status (`syncing`
/// while any entry runs, `success`, `failed` when every entry failed, `partial`, or
/// `skipped`) and its entries as the API shows them.
fn run_json(run: &[(&crate::sim::SyncLogEntry, bool)], integ: &crate::sim::Integration) -> Value {
    use crate::sim::LogStatus as S;
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
        "startedAt": crate::api::render::Rfc3339(first.started_at),
        "status": status,
        "entries": run
            .iter()
            .map(|&(e, retryable)| {
                crate::api::sync_log::log_view(e, crate::api::sync_log::Owner::of(integ), retryable)
            })
            .collect::<Vec<_>>(),
    })
}
