//! The operations the simulator models, as types: each spec operation's `operationId`
//! is resolved once, when the application is built, into a [`Modelled`] operation of
//! one family; a request then goes straight to its family with no string matching.
//! Each family keeps an operation's input parsing, its command or query, and its
//! rendering together in one file, the way mini-redis keeps one command per file:
//!
//! - [`lifecycle`]: list, get, activate, deactivate, test credentials;
//! - [`settings`]: sync toggle, sync interval, invoice lookback, auto-send;
//! - [`sync`]: trigger a sync, resume after an auto-pause, the worker's status update;
//! - [`history`]: sync logs, retries, statistics and per-resource sync states;
//! - [`sync_state`]: the sync worker's watermarks under `/sync-state`;
//! - [`catalog`]: the provider's catalog, payment and product mappings, suggestions and
//!   unmapped packages;
//! - [`accounting`]: the accounting integration's invoice payment requests.
//!
//! Operations the simulator does not model get the spec's example ([`generic`]).

mod accounting;
mod catalog;
pub mod generic;
mod history;
mod lifecycle;
mod settings;
mod sync;
mod sync_state;

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

use crate::api::ApiError;
use crate::api::render::{self, IntegrationJson};
use crate::control::coverage::{Seen, State};
use crate::sim::{
    BreakerConfig, BreakerState, Command, Integration, IntegrationStatus, MerchantView, Outcome,
    Provider, SyncHealth, Timestamp,
};
use crate::spec::{Contract, ParsedParams, Violation};
use crate::store::{Store, TenantRef};

/// An operation the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modelled {
    /// Reading and connecting integrations.
    Lifecycle(lifecycle::Op),
    /// Changing how an active integration syncs.
    Settings(settings::Op),
    /// Running syncs and recording their results.
    Sync(sync::Op),
    /// What the syncs did, and retrying what failed.
    History(history::Op),
    /// The sync worker's watermarks.
    SyncState(sync_state::Op),
    /// Catalogs and mappings.
    Catalog(catalog::Op),
    /// Invoice payment requests.
    Accounting(accounting::Op),
}

impl Modelled {
    /// The modelled operation an `operationId` names, if any.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        lifecycle::Op::resolve(operation_id)
            .map(Modelled::Lifecycle)
            .or_else(|| settings::Op::resolve(operation_id).map(Modelled::Settings))
            .or_else(|| sync::Op::resolve(operation_id).map(Modelled::Sync))
            .or_else(|| history::Op::resolve(operation_id).map(Modelled::History))
            .or_else(|| sync_state::Op::resolve(operation_id).map(Modelled::SyncState))
            .or_else(|| catalog::Op::resolve(operation_id).map(Modelled::Catalog))
            .or_else(|| accounting::Op::resolve(operation_id).map(Modelled::Accounting))
    }
}

/// Every operation of a contract, by its index: modelled, or answered generically.
#[derive(Debug, Clone, Default)]
pub struct Operations(Vec<Option<Modelled>>);

impl Operations {
    /// Resolves every operation of `contract` once.
    pub fn resolve(contract: &Contract) -> Self {
        Operations(
            contract
                .operations
                .iter()
                .map(|op| Modelled::resolve(&op.id))
                .collect(),
        )
    }

    /// The modelled operation at `index`, if the simulator models it.
    pub fn get(&self, index: usize) -> Option<Modelled> {
        self.0.get(index).copied().flatten()
    }
}

/// What a modelled operation runs with: the request, already checked against the
/// contract, and the tenant at the request's simulated time.
pub struct Call<'a> {
    /// Path, query and header parameters, parsed by the contract.
    pub params: &'a ParsedParams<'a>,
    /// The JSON body the contract accepted, if one was sent.
    pub body: Option<&'a Value>,
    /// Where the tenant lives.
    pub store: &'a dyn Store,
    /// The key's tenant. It is held (locked, or read for a compare-and-set) only while
    /// the simulator runs, never while an answer is written.
    pub tenant: &'a TenantRef,
    /// Simulated time of the request.
    pub now: Timestamp,
    /// The states the answer shows, for coverage.
    pub seen: &'a Seen,
}

/// Answers a modelled operation: the 200 body, as JSON bytes.
pub async fn answer(op: Modelled, call: &Call<'_>) -> Result<Bytes, ApiError> {
    match op {
        Modelled::Lifecycle(op) => lifecycle::answer(op, call).await,
        Modelled::Settings(op) => settings::answer(op, call).await,
        Modelled::Sync(op) => sync::answer(op, call).await,
        Modelled::History(op) => history::answer(op, call).await,
        Modelled::SyncState(op) => sync_state::answer(op, call).await,
        Modelled::Catalog(op) => catalog::answer(op, call).await,
        Modelled::Accounting(op) => accounting::answer(op, call).await,
    }
}

impl Call<'_> {
    /// The provider in the path. The contract has checked it against the spec's enum;
    /// one the simulator does not know is still the client's 404, never a 500.
    fn provider(&self) -> Result<Provider, ApiError> {
        self.path_provider("provider")
    }

    /// A provider in the path parameter `name` (`provider`, or `/sync-state`'s `source`).
    fn path_provider(&self, name: &str) -> Result<Provider, ApiError> {
        let text = self.params.get(name).and_then(Value::as_str).unwrap_or("");
        text.parse().map_err(|message| {
            ApiError::unknown_path_param(vec![Violation {
                field: name.into(),
                message,
            }])
        })
    }

    /// `limit` and `offset` of a paginated list: `limit` 25 by default and clamped to
    /// [`lifecycle::MAX_PAGE_SIZE`] (the pagination guide clamps a larger page size and
    /// echoes the result), `offset` 0. A whole number past 64 bits arrives as a float;
    /// it saturates.
    fn page(&self) -> (usize, usize) {
        let num = |n: &str, d: u64| {
            self.params
                .get(n)
                .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
                .unwrap_or(d) as usize
        };
        (
            num("limit", 25).min(lifecycle::MAX_PAGE_SIZE),
            num("offset", 0),
        )
    }

    /// The body, which the operation requires.
    fn body<T: for<'de> Deserialize<'de>>(&self) -> Result<T, ApiError> {
        match self.body {
            Some(v) => typed(v),
            None => Err(invalid(String::new(), "a JSON body is required".into())),
        }
    }

    /// The body, or its default when none was sent.
    fn body_or_default<T: for<'de> Deserialize<'de> + Default>(&self) -> Result<T, ApiError> {
        self.body.map_or_else(|| Ok(T::default()), typed)
    }

    /// Runs `command` on `provider`'s integration, as one update of the tenant.
    async fn command(&self, provider: Provider, command: Command) -> Result<Outcome, ApiError> {
        Ok(self.command_seen(provider, command).await?.0)
    }

    /// [`Call::command`], with the merchant's own time it ran at (to render with).
    async fn command_seen(
        &self,
        provider: Provider,
        command: Command,
    ) -> Result<(Outcome, Timestamp), ApiError> {
        let (config, now) = (self.store.config(), self.now);
        let (outcome, seen) = self
            .store
            .with_tenant(self.tenant, |t| {
                // A store may run this more than once (on a conflict): each run gets
                // its own copy of the command.
                let outcome = t.merchant.execute(config, now, provider, command.clone());
                (outcome, t.now(now))
            })
            .await?;
        Ok((outcome?, seen))
    }

    /// Runs `query` on the merchant as of the request's time (brought up to it first).
    async fn read<R: Send>(
        &self,
        mut query: impl FnMut(MerchantView<'_>) -> R + Send,
    ) -> Result<R, ApiError> {
        let (config, now) = (self.store.config(), self.now);
        Ok(self
            .store
            .with_tenant(self.tenant, |t| query(t.merchant.at(config, now)))
            .await?)
    }

    /// An integration's JSON at the merchant's own time `now` (a view's, or the one a
    /// command ran at; usually kept from an earlier read, see `render`). Only a time
    /// past the years 1970-9999 cannot be written, and the clock never goes there.
    fn json(&self, i: &Integration, now: Timestamp) -> Result<IntegrationJson, ApiError> {
        let breaker = &self.store.config().breaker;
        mark_integration(self.seen, i, breaker, now);
        render::integration_json(i, breaker, now).map_err(|e| {
            ApiError::internal(format!("the integration cannot be written as JSON: {e}"))
        })
    }
}

/// Marks the states an integration shows at `now`, for coverage.
fn mark_integration(seen: &Seen, i: &Integration, breaker: &BreakerConfig, now: Timestamp) {
    seen.mark(match i.status {
        IntegrationStatus::Connected => State::IntegrationConnected,
        IntegrationStatus::Error => State::IntegrationError,
        IntegrationStatus::Syncing => State::IntegrationSyncing,
        IntegrationStatus::Idle => State::IntegrationIdle,
    });
    seen.mark(match i.health(breaker, now) {
        SyncHealth::Healthy => State::HealthHealthy,
        SyncHealth::Degraded => State::HealthDegraded,
        SyncHealth::Paused => State::HealthPaused,
    });
    seen.mark(match i.breaker.state(breaker, now) {
        BreakerState::Closed => State::BreakerClosed,
        BreakerState::Open => State::BreakerOpen,
        BreakerState::HalfOpen => State::BreakerHalfOpen,
    });
    if !i.sync_enabled {
        seen.mark(State::AutoSyncOff);
    }
}

/// The `{success: true, data}` answer of most sync-history operations.
#[derive(Serialize)]
struct Data<T> {
    success: bool,
    data: T,
}

impl<T> Data<T> {
    /// A successful answer with `data`.
    fn ok(data: T) -> Self {
        Data {
            success: true,
            data,
        }
    }
}

/// Reads a body the contract has already validated, straight from the parsed value
/// (no copy of it: a body of 500 mappings is 30 KB of JSON). A failure here means the
/// spec allows what the simulator's types do not; it is still the client's 400.
fn typed<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, ApiError> {
    T::deserialize(v).map_err(|e| invalid(String::new(), e.to_string()))
}

/// A 400 naming `field`.
fn invalid(field: String, message: String) -> ApiError {
    ApiError::validation(vec![Violation { field, message }])
}

/// A bounded value (`SyncIntervalMinutes::new`, ...), or the 400 naming its field.
fn bounded<T>(r: Result<T, String>, field: &str) -> Result<T, ApiError> {
    r.map_err(|message| invalid(field.to_owned(), message))
}

/// Writes an answer. Plain structs, kept JSON and maps of strings: writing them to a
/// `Vec` cannot fail, but a failure would still be an answer, never a panic.
fn write(body: &impl Serialize) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity(1024);
    serde_json::to_writer(&mut out, body)
        .map_err(|e| ApiError::internal(format!("the answer cannot be written as JSON: {e}")))?;
    Ok(Bytes::from(out))
}
