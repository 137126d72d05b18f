//! The admin API's operations. The HTTP layer hands each `/__mock` request here; every
//! change goes through the simulator. As in [`crate::server`]'s operations, each
//! `operationId` of the admin contract is resolved once, when the control plane is
//! built, into an [`AdminOp`] of one family (an operation without a handler stops the
//! start, never a request); a request then goes to its family with a [`Call`], and the
//! match over the families is exhaustive:
//!
//! - [`state`]: health, reset, snapshots of the state;
//! - [`clock`]: the simulated clock;
//! - [`faults`]: fault rules and provider outages;
//! - [`journal`]: the request journal;
//! - [`tenants`]: the tenants listing and the catalogs and products staged per tenant;
//! - [`fixtures`]: loading a fixture by name;
//! - [`coverage`]: what a key's runs met.

mod clock;
mod coverage;
mod faults;
mod fixtures;
mod journal;
mod state;
mod tenants;

pub(super) use faults::inject_outage;
pub(super) use tenants::tenant_view;

use std::time::Duration;

use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::error::ControlError;
use super::{AdminAccess, Control};
use crate::api::{ApiError, request};
use crate::sim::{ApiKey, Timestamp};
use crate::spec::{Contract, Method, ParsedParams};
use crate::store::Store;

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

/// What the server tells the admin API about itself (for `/__mock/health`).
pub struct ServerFacts<'a> {
    /// The served contract (coverage reports its operations).
    pub api: &'a Contract,
    /// The served spec's title.
    pub spec_title: &'a str,
    /// How long the server has run.
    pub uptime: Duration,
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
pub const DASHBOARD: &str = include_str!("../dashboard.html");

/// An admin operation, by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOp {
    /// `adminUi`: the dashboard page.
    Ui,
    /// Health, reset and snapshots.
    State(state::Op),
    /// The simulated clock.
    Clock(clock::Op),
    /// Fault rules and outages.
    Faults(faults::Op),
    /// The request journal.
    Journal(journal::Op),
    /// Tenants, their catalogs and products.
    Tenants(tenants::Op),
    /// Fixtures.
    Fixtures(fixtures::Op),
    /// Coverage.
    Coverage(coverage::Op),
}

impl AdminOp {
    /// The admin operation an `operationId` names, if any.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        if operation_id == "adminUi" {
            return Some(AdminOp::Ui);
        }
        state::Op::resolve(operation_id)
            .map(AdminOp::State)
            .or_else(|| clock::Op::resolve(operation_id).map(AdminOp::Clock))
            .or_else(|| faults::Op::resolve(operation_id).map(AdminOp::Faults))
            .or_else(|| journal::Op::resolve(operation_id).map(AdminOp::Journal))
            .or_else(|| tenants::Op::resolve(operation_id).map(AdminOp::Tenants))
            .or_else(|| fixtures::Op::resolve(operation_id).map(AdminOp::Fixtures))
            .or_else(|| coverage::Op::resolve(operation_id).map(AdminOp::Coverage))
    }
}

/// Every operation of the admin contract, by its index.
#[derive(Debug, Clone)]
pub struct AdminOps(Vec<AdminOp>);

impl AdminOps {
    /// Resolves every operation of the admin contract, or names those without a handler.
    pub fn resolve(contract: &Contract) -> Result<Self, String> {
        super::resolve_operations(contract, AdminOp::resolve, "admin operations").map(AdminOps)
    }

    /// The operation at `index` of the admin contract.
    fn get(&self, index: usize) -> Option<AdminOp> {
        self.0.get(index).copied()
    }
}

/// What an admin operation runs with: the request, already routed, authorized and
/// checked against the admin contract.
struct Call<'a> {
    control: &'a Control,
    store: &'a dyn Store,
    params: &'a ParsedParams<'a>,
    body: &'a [u8],
    /// Simulated time of the request.
    now: Timestamp,
    /// Wall time of the request (the clock's operations are relative to it).
    wall: Timestamp,
    facts: &'a ServerFacts<'a>,
}

impl Call<'_> {
    /// The body, as the operation's type.
    fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, ControlError> {
        serde_json::from_slice(self.body).map_err(|e| ControlError::BadBody(e.to_string()))
    }

    /// A string parameter (path or query), `""` when absent.
    fn text(&self, name: &str) -> &str {
        self.params.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The `key` parameter, if given: a well-formed key or the refusal naming it.
    fn key(&self) -> Result<Option<ApiKey>, ControlError> {
        self.params
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

    /// The `key` parameter, which the operation requires.
    fn required_key(&self) -> Result<ApiKey, ControlError> {
        self.key()?
            .ok_or_else(|| ControlError::BadBody("no key".into()))
    }
}

/// `{"success": true, "message": ...}`.
fn done(message: impl Into<String>) -> Result<Value, ControlError> {
    Ok(json!({ "success": true, "message": message.into() }))
}

/// Whether a path belongs to the admin API.
pub fn is_admin_path(control: &Control, path: &str) -> bool {
    control.access != AdminAccess::Off
        && path
            .strip_prefix(control.contract.base_path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Answers one admin request at wall time `wall`.
pub async fn handle(
    control: &Control,
    store: &dyn Store,
    req: &AdminRequest<'_>,
    wall: Timestamp,
    facts: &ServerFacts<'_>,
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
    // Resolved when the control plane was built, for every operation of the contract.
    let Some(admin_op) = control.ops.get(index) else {
        let id = control.contract.operations[index].id.clone();
        return answer(Err(ControlError::NoSuchOperation(id).into()));
    };
    // Before anything else, the dashboard included: a request addressed to a name an
    // attacker controls (DNS rebinding) is refused, with or without a token.
    if !control.answers_host(req.host) {
        return answer(Err(ApiError::host_not_allowed(req.host.unwrap_or(""))));
    }
    if admin_op == AdminOp::Ui {
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
    let now = match store.now(wall).await {
        Ok(now) => now,
        Err(e) => return answer(Err(e.into())),
    };
    let call = Call {
        control,
        store,
        params: &params,
        body: req.body,
        now,
        wall,
        facts,
    };
    answer(run(admin_op, &call).await.map_err(ApiError::from))
}

/// Runs a resolved operation: one arm per family, exhaustive.
async fn run(op: AdminOp, call: &Call<'_>) -> Result<Value, ControlError> {
    match op {
        // Answered before authorization, in `handle`.
        AdminOp::Ui => Ok(Value::Null),
        AdminOp::State(op) => state::answer(op, call).await,
        AdminOp::Clock(op) => clock::answer(op, call).await,
        AdminOp::Faults(op) => faults::answer(op, call).await,
        AdminOp::Journal(op) => journal::answer(op, call).await,
        AdminOp::Tenants(op) => tenants::answer(op, call).await,
        AdminOp::Fixtures(op) => fixtures::answer(op, call).await,
        AdminOp::Coverage(op) => coverage::answer(op, call).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_admin_contract_has_a_handler() {
        let control = Control::new(AdminAccess::Open, 1);
        let ops = AdminOps::resolve(&control.contract).unwrap();
        assert_eq!(ops.0.len(), control.contract.operations.len());
        assert_eq!(
            ops.get(
                control
                    .contract
                    .operations
                    .iter()
                    .position(|o| o.id == "adminUi")
                    .unwrap()
            ),
            Some(AdminOp::Ui)
        );
    }

    #[test]
    fn an_operation_without_a_handler_is_named_when_the_ops_are_resolved() {
        let extended = super::super::ADMIN_SPEC
            .replace("operationId: adminHealth", "operationId: adminSelfDestruct");
        let contract = Contract::load_str(&extended, "extended")
            .and_then(|c| c.into_servable())
            .unwrap();
        let err = AdminOps::resolve(&contract).unwrap_err();
        assert!(err.contains("adminSelfDestruct"), "{err}");
    }
}
