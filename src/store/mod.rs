//! Where tenants live: the seam between the simulator (`sim`, pure and synchronous)
//! and the layers that serve it (`server`, `control`). Every tenant read and write,
//! the keys, the shared clock, snapshots and resets go through [`Store`]; nothing
//! above it holds a tenant's lock or knows how tenants are kept.
//!
//! [`MemoryStore`] (the default) keeps them in this process. A store shared by
//! replicas (Redis) can implement the same trait: the simulator's commands are pure and
//! deterministic functions of a tenant and a time, so an update can read the tenant,
//! apply the command to a copy, and compare-and-set, retrying on a conflict.
//!
//! # The contract
//!
//! - **Atomicity.** [`Store::update`] applies its closure to one tenant as one step:
//!   no other update of that tenant lands between the state the closure sees and the
//!   write of what it leaves. Updates of one tenant are linearizable; different
//!   tenants are independent, and there is no transaction across tenants.
//! - **Retries.** An implementation may run the closure more than once, each time on
//!   a fresh copy of the tenant as stored; only the last run takes effect. A closure
//!   must therefore be deterministic and change nothing but the tenant it is given
//!   (what it returns through captured variables is overwritten by each run). The
//!   simulator's commands and queries are such functions.
//! - **Ordering.** A change is visible to every later call, on every replica, once
//!   its future has completed. Idempotency claims and rate-limit tokens are part of
//!   the tenant, taken and released by `update`, so they are exactly as atomic as a
//!   command.
//! - **Time.** One clock for every replica: [`Store::now`] reads it, and
//!   [`Store::change_clock`] changes it and brings every tenant up to the new time, so
//!   due syncs run once, wherever the clock was moved.
//! - **Failure.** An `Err(StoreError::Unavailable)` means the store could not be
//!   reached or did not answer: nothing was written (a half-applied update is never
//!   left behind) and the caller may retry. The API answers 503 with `Retry-After`.

mod memory;
mod redis;
mod sqlite;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::{Either, Ready};

pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use sqlite::{Opened, Synchronous};

use crate::sim::{
    ApiKey, AuthError, Clock, KeyPolicy, Scopes, SimConfig, Tenant, Timestamp, WorldState,
};

/// What a store's call resolves to: an answer ready at once (the in-memory store's,
/// which then costs no allocation on the request path), or a boxed future
/// (`Either::Right(Box::pin(...))`, a store that waits on the network).
pub type StoreFuture<'a, T> = Either<
    Ready<Result<T, StoreError>>,
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>,
>;

/// Why a store could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer; nothing was written.
    #[error("the state store is unavailable ({0}); nothing was changed, retry shortly")]
    Unavailable(String),
    /// A snapshot the store cannot take (another format version).
    #[error("{0}")]
    Invalid(String),
}

/// A tenant, as a store finds it again: its key, and what the store that made it
/// keeps to find it faster (the in-memory store: the tenant itself).
#[derive(Clone)]
pub struct TenantRef {
    key: ApiKey,
    handle: Option<Arc<dyn Any + Send + Sync>>,
}

impl TenantRef {
    /// The tenant of `key`, found by its key.
    pub fn of(key: ApiKey) -> Self {
        TenantRef { key, handle: None }
    }

    /// The tenant of `key`, with a store's own handle to it.
    pub fn with_handle(key: ApiKey, handle: Arc<dyn Any + Send + Sync>) -> Self {
        TenantRef {
            key,
            handle: Some(handle),
        }
    }

    /// The tenant's key.
    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// The store's handle, if it is of type `T`.
    pub fn handle<T: Any>(&self) -> Option<&T> {
        self.handle.as_deref()?.downcast_ref()
    }
}

impl std::fmt::Debug for TenantRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRef")
            .field("key", &self.key.last4())
            .finish_non_exhaustive()
    }
}

/// An authenticated request's key: its tenant and what it may do.
#[derive(Debug, Clone)]
pub struct Session {
    /// The key's tenant.
    pub tenant: TenantRef,
    /// What the key may do.
    pub scopes: Scopes,
}

impl Session {
    /// The key.
    pub fn key(&self) -> &ApiKey {
        self.tenant.key()
    }
}

/// Where tenants, keys and the clock are kept; see the module's contract.
pub trait Store: Send + Sync {
    /// The simulation's settings (the same on every replica).
    fn config(&self) -> &SimConfig;

    /// Simulated time, given the wall time now.
    fn now(&self, wall: Timestamp) -> StoreFuture<'_, Timestamp>;

    /// Simulated time for a request of `session`: by default [`Store::now`]; a store
    /// that read the clock while authenticating the request (in the same round trip)
    /// answers with that reading.
    fn now_for<'a>(&'a self, session: &'a Session, wall: Timestamp) -> StoreFuture<'a, Timestamp> {
        let _ = session;
        self.now(wall)
    }

    /// The clock as it is.
    fn clock(&self) -> StoreFuture<'_, Clock>;

    /// Changes the clock (advance, set, freeze, resume) and brings every tenant up to
    /// the new simulated time; returns the clock as changed.
    fn change_clock<'a>(
        &'a self,
        wall: Timestamp,
        change: &'a (dyn Fn(&mut Clock) + Send + Sync),
    ) -> StoreFuture<'a, Clock>;

    /// Checks an `x-api-key` value: the key's session (its tenant created empty on
    /// first use), or why it is refused.
    fn authenticate<'a>(
        &'a self,
        header: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Session, AuthError>>;

    /// Applies `apply` to the tenant (created empty if it does not exist), atomically.
    fn update<'a>(
        &'a self,
        tenant: &'a TenantRef,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, ()>;

    /// Applies `apply` to the tenant of `key` if it exists, atomically; whether it did.
    fn update_existing<'a>(
        &'a self,
        key: &'a ApiKey,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, bool>;

    /// Every tenant's key, sorted.
    fn tenant_keys(&self) -> StoreFuture<'_, Vec<ApiKey>>;

    /// Declares a key (fixtures): its scopes and whether it is revoked.
    fn declare_key(&self, key: ApiKey, policy: KeyPolicy) -> StoreFuture<'_, ()>;

    /// A snapshot of every tenant (or only `only`), with the clock and declared keys,
    /// as stored (tenants are not brought up to now first).
    fn snapshot<'a>(&'a self, only: Option<&'a ApiKey>) -> StoreFuture<'a, WorldState>;

    /// Replaces the whole state with a snapshot.
    fn restore(&self, state: WorldState) -> StoreFuture<'_, ()>;

    /// Forgets every tenant and declared key.
    fn clear(&self) -> StoreFuture<'_, ()>;

    /// Forgets one tenant and its declared key.
    fn remove_tenant<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()>;

    /// Brings every tenant up to `now` (before a snapshot is written).
    fn advance_all(&self, now: Timestamp) -> StoreFuture<'_, ()>;

    /// What the control plane shares between replicas through this store (the fault
    /// book, the request journal), or `None` when it keeps them itself (the in-memory
    /// store: one process).
    fn shared(&self) -> Option<&dyn SharedControl> {
        None
    }

    /// Where the control plane keeps what must outlive the process (the fault book,
    /// the loaded fixture's name), or `None` when nothing outlives it (the in-memory
    /// store) or it is shared otherwise ([`Store::shared`]).
    fn kept_control(&self) -> Option<&dyn KeptControl> {
        None
    }

    /// Finishes what was sent and lets go of what the store holds (on shutdown, after
    /// the last request was answered).
    fn close(&self) {}
}

/// The control plane's values a store keeps across restarts (the SQLite store): opaque
/// bytes under a name, written durably before the call completes.
pub trait KeptControl: Send + Sync {
    /// Keeps `value` under `name` (replacing what was kept).
    fn keep(&self, name: &'static str, value: Vec<u8>) -> StoreFuture<'_, ()>;

    /// What was kept under `name` when the store was opened.
    fn kept(&self, name: &str) -> Option<Vec<u8>>;
}

/// The control plane's state kept for every replica (docs/scale-out.md): the fault
/// book, a versioned document replaced by compare-and-set, and the request journal, a
/// capped log. Both are opaque JSON to the store; `control` gives them meaning.
pub trait SharedControl: Send + Sync {
    /// The fault book's version (0: there is none), as `session`'s authentication
    /// read it in its round trip, or read now.
    fn book_version<'a>(&'a self, session: Option<&'a Session>) -> StoreFuture<'a, u64>;

    /// The fault book: its version (0: none) and JSON.
    fn read_book(&self) -> StoreFuture<'_, (u64, Option<Vec<u8>>)>;

    /// Replaces the fault book if it is still at `version`: its new version, or `None`
    /// when another replica changed it first.
    fn write_book(&self, version: u64, book: Vec<u8>) -> StoreFuture<'_, Option<u64>>;

    /// Appends a request to the journal, the oldest forgotten past `capacity`, and adds
    /// `counted` to its counters in the same round trip; the entry's number
    /// (increasing across replicas).
    fn append_journal(
        &self,
        entry: Vec<u8>,
        capacity: usize,
        counted: Option<Counters>,
    ) -> StoreFuture<'_, u64>;

    /// The counters `name` of `owner` (coverage's runs of a key), field by field.
    fn read_counters<'a>(
        &'a self,
        owner: &'a str,
        name: &'a str,
    ) -> StoreFuture<'a, Vec<(String, u64)>>;

    /// The names of `owner`'s counters, sorted.
    fn counter_names<'a>(&'a self, owner: &'a str) -> StoreFuture<'a, Vec<String>>;

    /// Forgets `owner`'s counters `name`, or all of them.
    fn forget_counters<'a>(&'a self, owner: &'a str, name: Option<&'a str>) -> StoreFuture<'a, ()>;

    /// The latest `n` journal entries, latest first, with their numbers.
    fn read_journal(&self, n: usize) -> StoreFuture<'_, Vec<(u64, Vec<u8>)>>;

    /// Forgets every journal entry.
    fn clear_journal(&self) -> StoreFuture<'_, ()>;
}

/// Counters to add to, shared by replicas (coverage's counts of one run): opaque field
/// names, each incremented by one. An owner keeps at most `per_owner` sets of counters
/// and the store at most `in_all`, the least recently added to forgotten first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Whose (a key; empty: requests refused before a key was known).
    pub owner: String,
    /// Which of the owner's sets (a run).
    pub name: String,
    /// The fields to increment.
    pub fields: Vec<String>,
    /// The most sets one owner keeps.
    pub per_owner: usize,
    /// The most sets kept in all.
    pub in_all: usize,
}

impl dyn Store + '_ {
    /// [`Store::update`] with a result: what `apply`'s last (effective) run returned.
    pub async fn with_tenant<R: Send>(
        &self,
        tenant: &TenantRef,
        mut apply: impl FnMut(&mut Tenant) -> R + Send,
    ) -> Result<R, StoreError> {
        let mut out = None;
        self.update(tenant, &mut |t| out = Some(apply(t))).await?;
        // A successful update ran `apply` at least once.
        out.ok_or_else(|| StoreError::Unavailable("the update did not run".into()))
    }

    /// [`Store::update_existing`] with a result; `None` when there is no such tenant.
    pub async fn with_existing<R: Send>(
        &self,
        key: &ApiKey,
        mut apply: impl FnMut(&mut Tenant) -> R + Send,
    ) -> Result<Option<R>, StoreError> {
        let mut out = None;
        self.update_existing(key, &mut |t| out = Some(apply(t)))
            .await?;
        Ok(out)
    }
}

/// A store's answer that is ready at once (the in-memory store's).
fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Either::Left(futures_util::future::ready(value))
}
