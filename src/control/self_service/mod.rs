//! The self-service API (`/__mock/self`, specs/self-service.yaml): what a partner on a
//! shared sandbox may do to its own merchant with its own sandbox key, as Stripe's test
//! clocks and test helpers allow. The key is authenticated as the API authenticates it
//! (the store's [`Store::authenticate`], the same refusals); the merchant is always the
//! key's, never one named by the request. As in the admin API, each `operationId` is
//! resolved once into an [`Op`] of one family, when the contract is compiled (on the
//! first self-service request; a unit test checks every operation has a handler):
//!
//! - [`clock`]: the merchant's own clock (`GET /self/clock`, `POST /self/clock/advance`);
//! - [`faults`]: fault rules on the caller's own requests, and its provider outages;
//! - [`merchant`]: the merchant itself (`GET /self`), its reset, a fixture's merchant
//!   loaded under the key, and the caller's own requests from the journal;
//! - [`coverage`]: what the caller's runs met.

mod clock;
mod coverage;
mod faults;
mod merchant;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::Control;
use crate::api::{ApiError, request};
use crate::sim::{MAX_CLOCK_STEP, Timestamp};
use crate::spec::{Contract, ParsedParams, load};
use crate::store::{Session, Store};

/// The self-service contract, embedded.
pub const SELF_SERVICE_SPEC: &str = include_str!("../../../specs/self-service.yaml");

/// [`SELF_SERVICE_SPEC`] as JSON, made by `build.rs`.
pub const SELF_SERVICE_SPEC_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/self-service.json"));

/// The name used in messages about the embedded contract.
const NAME: &str = "<embedded specs/self-service.yaml>";

/// What one merchant may stage, so a stranger with a key cannot grow the sandbox's
/// fault book, nor hold its connections, without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Fault rules per merchant.
    pub rules: usize,
    /// The longest latency a rule may add.
    pub latency: Duration,
    /// The longest provider outage (of the merchant's time).
    pub outage: Duration,
    /// The longest `Retry-After` of a `rate_limit` rule, in seconds.
    pub retry_after_secs: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            rules: 20,
            latency: Duration::from_secs(10),
            outage: MAX_CLOCK_STEP,
            retry_after_secs: 3600,
        }
    }
}

/// The self-service API: its contract (compiled on first use: a sandbox whose partners
/// never call it does not hold it), its operations resolved, its quotas.
pub struct SelfService {
    compiled: OnceLock<(Contract, Vec<Op>)>,
    /// What one merchant may stage.
    pub quotas: Quotas,
}

/// The path below which self-service answers (`/__mock/self`).
const BASE: &str = "/__mock/self";

impl SelfService {
    /// The self-service API of the embedded contract.
    pub fn new() -> Self {
        SelfService {
            compiled: OnceLock::new(),
            quotas: Quotas::default(),
        }
    }

    /// The compiled contract and its operations, compiled on first use.
    fn compiled(&self) -> &(Contract, Vec<Op>) {
        self.compiled.get_or_init(|| {
            let contract = load::parse_embedded(SELF_SERVICE_SPEC_JSON, SELF_SERVICE_SPEC, NAME)
                .and_then(|doc| Contract::load_value(&doc, NAME))
                .and_then(|c| c.into_servable())
                // The embedded contract is checked by the tests; it cannot fail here.
                .expect("the embedded self-service spec compiles");
            // Checked by the tests too (every operation has a handler).
            let ops = resolve(&contract).unwrap_or_else(|e| panic!("{e}"));
            (contract, ops)
        })
    }

    /// The compiled contract (routes and response validation).
    pub fn contract(&self) -> &Contract {
        &self.compiled().0
    }

    /// The operation at `index` of the contract.
    fn op(&self, index: usize) -> Option<Op> {
        self.compiled().1.get(index).copied()
    }

    /// Whether `path` is one of this API's (`/__mock/self` and below).
    pub fn owns(&self, path: &str) -> bool {
        path.strip_prefix(BASE)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

impl Default for SelfService {
    fn default() -> Self {
        Self::new()
    }
}

/// A self-service operation, by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `selfUi`: the dashboard in partner mode.
    Ui,
    Clock(clock::Op),
    Faults(faults::Op),
    Merchant(merchant::Op),
    Coverage(coverage::Op),
}

impl Op {
    fn resolve(operation_id: &str) -> Option<Self> {
        if operation_id == "selfUi" {
            return Some(Op::Ui);
        }
        clock::Op::resolve(operation_id)
            .map(Op::Clock)
            .or_else(|| faults::Op::resolve(operation_id).map(Op::Faults))
            .or_else(|| merchant::Op::resolve(operation_id).map(Op::Merchant))
            .or_else(|| coverage::Op::resolve(operation_id).map(Op::Coverage))
    }
}

/// Every operation of the contract, by index, or the ids without a handler.
fn resolve(contract: &Contract) -> Result<Vec<Op>, String> {
    super::resolve_operations(contract, Op::resolve, "self-service operations")
}

/// A self-service request, as the HTTP layer read it.
pub struct SelfRequest<'a> {
    /// The served API's contract.
    pub api: &'a Contract,
    /// The method.
    pub method: &'a str,
    /// The path (starting with `/__mock/self`).
    pub path: &'a str,
    /// The raw query.
    pub query: Option<&'a str>,
    /// The `x-api-key` header.
    pub api_key: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// The answer: the operation's index in the self-service contract when routed, and
/// its JSON or the refusal.
pub struct SelfAnswer {
    /// The operation answered.
    pub operation: Option<usize>,
    /// The result.
    pub result: Result<Value, ApiError>,
    /// A page to send instead of JSON (the dashboard in partner mode).
    pub html: Option<&'static str>,
}

/// What an operation runs with: the request routed, authenticated and checked.
struct Call<'a> {
    /// The served API's contract (coverage reports its operations).
    api: &'a Contract,
    control: &'a Control,
    service: &'a SelfService,
    store: &'a dyn Store,
    session: &'a Session,
    params: &'a ParsedParams<'a>,
    body: &'a [u8],
    /// The sandbox's time of the request (the merchant's is this plus its offset).
    now: Timestamp,
    /// Wall time.
    wall: Timestamp,
}

impl Call<'_> {
    /// The body, as the operation's type (the contract has already checked it).
    fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(self.body).map_err(|e| {
            ApiError::validation(vec![crate::spec::Violation {
                field: String::new(),
                message: format!("the body does not fit this operation: {e}"),
            }])
        })
    }

    /// A string parameter (path or query), `None` when absent.
    fn text(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }
}

/// `{"success": true, "message": ...}`.
fn done(message: impl Into<String>) -> Result<Value, ApiError> {
    Ok(serde_json::json!({ "success": true, "message": message.into() }))
}

/// Answers one self-service request at wall time `wall`.
pub async fn handle(
    control: &Control,
    service: &SelfService,
    store: &dyn Store,
    req: &SelfRequest<'_>,
    wall: Timestamp,
) -> SelfAnswer {
    let (index, path_params) = match request::route(service.contract(), req.method, req.path) {
        Ok(found) => found,
        Err(e) => {
            return SelfAnswer {
                operation: None,
                result: Err(e),
                html: None,
            };
        }
    };
    if service.op(index) == Some(Op::Ui) {
        // The page holds no data: it asks for the key itself.
        return SelfAnswer {
            operation: Some(index),
            result: Ok(Value::Null),
            html: Some(super::admin::DASHBOARD),
        };
    }
    let result = answer(control, service, store, req, wall, index, &path_params).await;
    SelfAnswer {
        operation: Some(index),
        result,
        html: None,
    }
}

async fn answer(
    control: &Control,
    service: &SelfService,
    store: &dyn Store,
    req: &SelfRequest<'_>,
    wall: Timestamp,
    index: usize,
    path_params: &[(String, String)],
) -> Result<Value, ApiError> {
    let op = &service.contract().operations[index];
    let Some(self_op) = service.op(index) else {
        return Err(ApiError::not_found(format!(
            "{} is not an operation this mock's self-service API carries out",
            op.id
        )));
    };
    // Who asks, exactly as the API checks it.
    let session = store.authenticate(req.api_key).await??;
    if let Some(missing) = op
        .required_scopes
        .iter()
        .find(|needed| !session.scopes.contains_named(needed))
    {
        return Err(ApiError::insufficient_scope(missing, &op.id));
    }
    let params = op
        .parse_params(path_params, req.query, &[][..])
        .map_err(ApiError::validation)?;
    request::json_body(op, req.content_type, req.body)?;
    let now = store.now_for(&session, wall).await?;
    let call = Call {
        api: req.api,
        control,
        service,
        store,
        session: &session,
        params: &params,
        body: req.body,
        now,
        wall,
    };
    match self_op {
        // Answered before authentication, in `handle`.
        Op::Ui => Ok(Value::Null),
        Op::Clock(op) => clock::answer(op, &call).await,
        Op::Faults(op) => faults::answer(op, &call).await,
        Op::Merchant(op) => merchant::answer(op, &call).await,
        Op::Coverage(op) => coverage::answer(op, &call).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_contract_has_a_handler_and_paths_are_owned() {
        let service = SelfService::new();
        assert_eq!(
            resolve(service.contract()).unwrap().len(),
            service.contract().operations.len()
        );
        assert_eq!(service.contract().base_path, "/__mock", "BASE is below it");
        for owned in [
            "/__mock/self",
            "/__mock/self/clock",
            "/__mock/self/faults/fault-1",
        ] {
            assert!(service.owns(owned), "{owned}");
        }
        for other in ["/__mock/selfish", "/__mock/clock", "/v2/self", "/__mock"] {
            assert!(!service.owns(other), "{other}");
        }
    }

    #[test]
    fn an_operation_without_a_handler_is_named() {
        let extended =
            SELF_SERVICE_SPEC.replace("operationId: selfReset", "operationId: selfDestruct");
        let contract = Contract::load_str(&extended, "extended")
            .and_then(|c| c.into_servable())
            .unwrap();
        let err = resolve(&contract).unwrap_err();
        assert!(err.contains("selfDestruct"), "{err}");
    }
}
