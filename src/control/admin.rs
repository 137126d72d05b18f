//! The admin API's operations. The HTTP layer hands each `/__mock` request here,
//! already routed by the admin contract; every change goes through the simulator.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::error::ControlError;
use super::faults::{FaultAction, FaultBook, RuleInput};
use super::journal::Matcher;
use super::{AdminAccess, Control, fixture};
use crate::api::{ApiError, render, request};
use crate::sim::{ApiKey, Outage, Timestamp, World, WorldState, lock};
use crate::spec::{Method, ParsedParams};

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
pub fn handle(
    control: &Control,
    world: &World,
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
    let params = match op.parse_params(&path_params, req.query, &[][..]) {
        Ok(p) => p,
        Err(v) => return answer(Err(ApiError::validation(v))),
    };
    if let Err(e) = request::json_body(op, req.content_type, req.body) {
        return answer(Err(e));
    }
    let now = world.now(wall);
    let result = run(
        &op.id, control, world, req, &params, now, wall, spec_title, uptime,
    )
    .map_err(ApiError::from);
    if result.is_ok() && op.method != Method::Get {
        control.dirty.store(true, Ordering::Relaxed);
    }
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

fn clock_view(world: &World, wall: Timestamp) -> Value {
    json!({ "now": world.now(wall).to_string(), "frozen": world.clock().is_frozen() })
}

#[allow(clippy::too_many_arguments)]
fn run(
    operation_id: &str,
    control: &Control,
    world: &World,
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
            "tenants": world.tenant_keys().len(),
            "fixture": lock(&control.fixture).as_ref().map(|f| f.source.clone()),
            "now": now.to_string(),
            "breaker": {
                "threshold": world.config.breaker.threshold,
                "cooldownSeconds": world.config.breaker.cooldown.map(|c| c.as_secs()),
            },
        })),
        "adminReset" => {
            let fixture = lock(&control.fixture).clone();
            match key_param(params)? {
                Some(key) => {
                    world.remove_tenant(&key);
                    if let Some(f) = &fixture {
                        f.apply_key(&key, world, now)?;
                    }
                    done(format!("tenant {} reset", key.last4()))
                }
                None => {
                    world.clear();
                    if let Some(f) = &fixture {
                        f.apply(world, now)?;
                    }
                    done("every tenant reset")
                }
            }
        }
        "adminLoadFixture" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("");
            let f = fixture::find(name)?;
            world.clear();
            f.apply(world, now)?;
            let source = f.source.clone();
            *lock(&control.fixture) = Some(f);
            done(format!("fixture {source} loaded"))
        }
        "adminListTenants" => {
            let mut data = Vec::new();
            for key in world.tenant_keys() {
                let Some(tenant) = world.tenant(&key) else {
                    continue;
                };
                let mut t = lock(&tenant);
                let view = t.merchant.at(&world.config, now);
                let integrations: Vec<Value> = view
                    .integrations()
                    .filter_map(|i| {
                        serde_json::to_value(render::integration(i, &world.config.breaker, now))
                            .ok()
                    })
                    .collect();
                let outages: Vec<String> = crate::sim::Provider::ALL
                    .into_iter()
                    .filter(|p| view.outage(*p).is_some())
                    .map(|p| p.as_str().to_owned())
                    .collect();
                data.push(json!({ "key": key.as_str(), "integrations": integrations, "outages": outages }));
            }
            Ok(json!({ "data": data }))
        }
        "adminGetState" => {
            let key = key_param(params)?;
            // A snapshot is plain data (strings, numbers, maps with string keys).
            Ok(serde_json::to_value(world.snapshot(key.as_ref())).unwrap_or(Value::Null))
        }
        "adminPutState" => {
            let state: WorldState = body(req.body)?;
            world.restore(state).map_err(ControlError::BadState)?;
            done("state restored")
        }
        "adminGetClock" => Ok(clock_view(world, wall)),
        "adminSetClock" => {
            #[derive(serde::Deserialize)]
            struct SetClock {
                now: String,
            }
            let to = Timestamp::parse_rfc3339(&body::<SetClock>(req.body)?.now)
                .map_err(ControlError::BadTime)?;
            if to > Timestamp::LATEST {
                return Err(ControlError::ClockPastLatest);
            }
            world.with_clock(|c| c.set(to, wall));
            world.advance_all(world.now(wall));
            Ok(clock_view(world, wall))
        }
        "adminAdvanceClock" => {
            #[derive(serde::Deserialize)]
            struct Advance {
                seconds: u64,
            }
            let seconds = body::<Advance>(req.body)?.seconds;
            if world.now(wall).plus(Duration::from_secs(seconds)) > Timestamp::LATEST {
                return Err(ControlError::ClockPastLatest);
            }
            world.with_clock(|c| c.advance(Duration::from_secs(seconds)));
            world.advance_all(world.now(wall));
            Ok(clock_view(world, wall))
        }
        "adminFreezeClock" => {
            world.with_clock(|c| c.freeze(wall));
            Ok(clock_view(world, wall))
        }
        "adminResumeClock" => {
            world.with_clock(|c| c.resume(wall));
            Ok(clock_view(world, wall))
        }
        "adminListFaults" => Ok(control.faults.with(|book| json!({ "rules": book.rules() }))),
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
            control.faults.with(|book| {
                for r in rules {
                    match r.action {
                        FaultAction::ProviderOutage { syncs, seconds } => {
                            let outage = match (syncs, seconds) {
                                (Some(n), _) => Outage::NextSyncs { remaining: n },
                                (None, s) => Outage::Until {
                                    until: now.plus(Duration::from_secs(s.unwrap_or(0))),
                                },
                            };
                            inject_outage(world, &r, outage)?;
                        }
                        _ => {
                            book.add(r);
                        }
                    }
                }
                Ok(json!({ "rules": book.rules() }))
            })
        }
        "adminClearFaults" => {
            control.faults.with(FaultBook::clear);
            for key in world.tenant_keys() {
                if let Some(t) = world.tenant(&key) {
                    lock(&t).merchant.clear_outages();
                }
            }
            done("every fault rule and provider outage cleared")
        }
        "adminDeleteFault" => {
            let id = params.get("id").and_then(Value::as_str).unwrap_or("");
            if control.faults.with(|book| book.remove(id)) {
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
            Ok(json!({ "data": control.journal.query(&m, limit) }))
        }
        "adminClearRequests" => {
            control.journal.clear();
            done("journal cleared")
        }
        "adminCountRequests" => {
            let m: Matcher = body(req.body)?;
            Ok(json!({ "count": control.journal.count(&m) }))
        }
        // Every operation of the embedded admin contract is answered above.
        other => Err(ControlError::BadBody(format!(
            "{other} is not an operation of this mock's admin API"
        ))),
    }
}

/// Injects an outage into the tenants the rule's key selects (every existing tenant
/// when it names none).
fn inject_outage(world: &World, rule: &RuleInput, outage: Outage) -> Result<(), ControlError> {
    let Some(provider) = rule.matcher.provider else {
        return Err(ControlError::OutageWithoutProvider);
    };
    let keys = match &rule.matcher.key {
        Some(k) => vec![ApiKey::parse(k).map_err(|reason| ControlError::BadKey {
            field: "match.key",
            reason,
        })?],
        None => world.tenant_keys(),
    };
    for key in keys {
        let tenant = world.tenant_or_create(&key);
        lock(&tenant).merchant.inject_outage(provider, outage);
    }
    Ok(())
}
