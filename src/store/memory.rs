//! The in-memory store (the default): every tenant in this process, each behind its
//! own lock, in a map with its own lock, and a per-thread memory of the sessions a
//! thread authenticated so that a request of a known key takes neither map's lock.
//!
//! With a [`Database`] (`--store sqlite:PATH`, [`MemoryStore::open_sqlite`]) it writes
//! through: every change goes to the database before its call completes, and reads
//! stay in memory. A tenant's slot keeps what its row was last written as, so an
//! update that changed nothing (most reads) writes nothing; it still waits until the
//! last write of that tenant is committed, so no answer shows a state that a crash
//! could take back.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::fast_map::FastMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures_util::future::Either;

use super::sqlite::{self, Change, Database, Synchronous, Written};
use super::{KeptControl, Session, Store, StoreError, StoreFuture, TenantRef, ready};
use crate::sim::{
    ApiKey, AuthError, Clock, DeclaredKey, KeyPolicy, Scopes, SimConfig, Tenant, Timestamp,
    WorldState, admit, lock,
};

/// Every tenant of this process. The map has its own lock, taken briefly to find or
/// create a tenant; each tenant has its own, a `std::sync::Mutex`: it is held only
/// while a command runs, never across an `.await`, so an async mutex would only add
/// cost. Requests of different keys never wait on each other.
///
/// Each thread also remembers the sessions it authenticated (key, scopes, tenant),
/// valid while the store's `generation` is unchanged: every change to the keys or the
/// tenant map moves it on. A request of a known key then takes neither map's lock
/// (read locks are atomic writes to a line every worker shares, docs/performance.md).
#[derive(Debug)]
pub struct MemoryStore {
    /// Settings of the simulation.
    pub config: SimConfig,
    /// Simulated time.
    clock: RwLock<Clock>,
    /// Keys declared by the fixture (scopes, revocation).
    keys: RwLock<HashMap<ApiKey, KeyPolicy>>,
    /// Tenants by key.
    tenants: RwLock<HashMap<ApiKey, Arc<Mutex<Slot>>>>,
    /// This store among the process's stores (tests run several), for the session caches.
    id: u64,
    /// Moved on, under the changed map's write lock, by every change to `keys` or
    /// `tenants`.
    generation: AtomicU64,
    /// The database written through to (`--store sqlite:`), if any.
    db: Option<Database>,
    /// What the database held of the control plane at start (`faults`, `fixture`).
    kept: std::collections::BTreeMap<String, Vec<u8>>,
    /// Changes of the clock, keys and whole state take turns with a database, so that
    /// memory and the database see them in the same order.
    turns: tokio::sync::Mutex<()>,
}

/// A tenant as this store holds it.
#[derive(Debug)]
pub(super) struct Slot {
    /// The tenant.
    tenant: Tenant,
    /// With a database: the tenant as its row was last written (`None`: no row yet).
    written: Option<Box<Written>>,
    /// Replaced by a reset, a restore or a removal: its changes are not written.
    detached: bool,
}

impl Slot {
    fn new(tenant: Tenant) -> Arc<Mutex<Slot>> {
        Arc::new(Mutex::new(Slot {
            tenant,
            written: None,
            detached: false,
        }))
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A write guard on one of the store's maps that moves the generation on when dropped,
/// while the lock is still held (its `Drop` runs before its fields'), so no thread can
/// read the change and remember it under the old generation.
struct Changing<'a, T> {
    guard: RwLockWriteGuard<'a, T>,
    generation: &'a AtomicU64,
}

impl<T> Deref for Changing<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for Changing<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Changing<'_, T> {
    fn drop(&mut self) {
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The sessions a thread authenticated in one store at one generation.
#[derive(Default)]
struct Sessions {
    store: u64,
    generation: u64,
    by_key: FastMap<ApiKey, (Scopes, Arc<Mutex<Slot>>)>,
}

/// How many sessions a thread remembers; past that it starts afresh.
const REMEMBERED_SESSIONS: usize = 1024;

thread_local! {
    static SESSIONS: RefCell<Sessions> = RefCell::new(Sessions::default());
}

fn session(key: ApiKey, scopes: Scopes, tenant: Arc<Mutex<Slot>>) -> Session {
    Session {
        tenant: TenantRef::with_handle(key, tenant as Arc<dyn Any + Send + Sync>),
        scopes,
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new(config: SimConfig, clock: Clock) -> Self {
        Self {
            config,
            clock: RwLock::new(clock),
            keys: RwLock::new(HashMap::new()),
            tenants: RwLock::new(HashMap::new()),
            id: {
                static NEXT: AtomicU64 = AtomicU64::new(1);
                NEXT.fetch_add(1, Ordering::Relaxed)
            },
            generation: AtomicU64::new(0),
            db: None,
            kept: std::collections::BTreeMap::new(),
            turns: tokio::sync::Mutex::new(()),
        }
    }

    /// A store written through to the SQLite database at `path` (created when absent),
    /// holding what the database holds (emptied first with `reset`); see
    /// [`Database::open`]. The second value: whether the database was new (or reset),
    /// so the start fixture should be applied, and the JSON state file imported, if one
    /// was.
    pub fn open_sqlite(
        config: SimConfig,
        path: &std::path::Path,
        synchronous: Synchronous,
        reset: bool,
    ) -> Result<(Self, sqlite::Opened), String> {
        let (db, loaded) = Database::open(path, synchronous, reset)?;
        let mut store = Self::new(config, loaded.clock.unwrap_or_default());
        let opened = sqlite::Opened {
            new: loaded.is_new(),
            imported_from: loaded.imported_from,
        };
        store.restore_memory(loaded.keys, loaded.tenants, |tenant| {
            Some(Database::written_at_start(tenant))
        });
        store.kept = loaded.control;
        store.db = Some(db);
        Ok((store, opened))
    }

    fn change_keys(&self) -> Changing<'_, HashMap<ApiKey, KeyPolicy>> {
        Changing {
            guard: write(&self.keys),
            generation: &self.generation,
        }
    }

    fn change_tenants(&self) -> Changing<'_, HashMap<ApiKey, Arc<Mutex<Slot>>>> {
        Changing {
            guard: write(&self.tenants),
            generation: &self.generation,
        }
    }

    fn now_at(&self, wall: Timestamp) -> Timestamp {
        read(&self.clock).now(wall)
    }

    fn declare(&self, key: ApiKey, policy: KeyPolicy) {
        self.change_keys().insert(key, policy);
    }

    /// Checks the `x-api-key` value and finds (or creates) the key's tenant.
    fn authenticate_now(&self, header: Option<&str>) -> Result<Session, AuthError> {
        let text = header.unwrap_or("").trim();
        // Read before the maps: a change made after it makes what is remembered below
        // stale at once, never valid under a generation it does not belong to.
        let generation = self.generation.load(Ordering::Acquire);
        let remembered = SESSIONS.try_with(|sessions| {
            let sessions = sessions.borrow();
            if sessions.store != self.id || sessions.generation != generation {
                return None;
            }
            let (key, (scopes, tenant)) = sessions.by_key.get_key_value(text)?;
            Some(session(key.clone(), *scopes, Arc::clone(tenant)))
        });
        if let Ok(Some(session)) = remembered {
            return Ok(session);
        }
        let mut declared = false;
        let (key, scopes) = admit(
            text,
            |k| {
                let policy = read(&self.keys).get(k).cloned();
                declared = policy.is_some();
                policy
            },
            &self.config,
        )?;
        let tenant = match self.tenant(&key) {
            Some(t) => t,
            None => self.tenant_for_new_key(&key, declared)?,
        };
        let _ = SESSIONS.try_with(|sessions| {
            let mut sessions = sessions.borrow_mut();
            if sessions.store != self.id
                || sessions.generation != generation
                || sessions.by_key.len() >= REMEMBERED_SESSIONS
            {
                sessions.by_key.clear();
                sessions.store = self.id;
                sessions.generation = generation;
            }
            sessions
                .by_key
                .insert(key.clone(), (scopes, Arc::clone(&tenant)));
        });
        Ok(session(key, scopes, tenant))
    }

    /// The tenant of `key`, created empty on first use.
    fn tenant_or_create(&self, key: &ApiKey) -> Arc<Mutex<Slot>> {
        if let Some(t) = read(&self.tenants).get(key) {
            return Arc::clone(t);
        }
        let mut tenants = self.change_tenants();
        Arc::clone(
            tenants
                .entry(key.clone())
                .or_insert_with(|| Slot::new(Tenant::new(&self.config, key))),
        )
    }

    /// The tenant of a key seen for the first time, created unless the store holds its
    /// most tenants (`max_tenants`) and the key is not one a fixture declared. Counted
    /// under the map's write lock, so concurrent new keys cannot pass the limit.
    fn tenant_for_new_key(
        &self,
        key: &ApiKey,
        declared: bool,
    ) -> Result<Arc<Mutex<Slot>>, AuthError> {
        let full = || AuthError::TenantLimit(self.config.max_tenants);
        // Refused without the write lock (which would move the generation on and make
        // every thread forget its sessions) while the store is full.
        if !declared && read(&self.tenants).len() >= self.config.max_tenants {
            return self.tenant(key).ok_or_else(full);
        }
        let mut tenants = self.change_tenants();
        if let Some(t) = tenants.get(key) {
            return Ok(Arc::clone(t));
        }
        if !declared && tenants.len() >= self.config.max_tenants {
            return Err(full());
        }
        let slot = Slot::new(Tenant::new(&self.config, key));
        tenants.insert(key.clone(), Arc::clone(&slot));
        Ok(slot)
    }

    fn tenant(&self, key: &ApiKey) -> Option<Arc<Mutex<Slot>>> {
        read(&self.tenants).get(key).cloned()
    }

    fn keys_sorted(&self) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = read(&self.tenants).keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Applies `apply` to a slot's tenant under its lock and, with a database, sends
    /// the tenant's row when it changed: the number of the write to wait for (0: none).
    fn apply_to(
        &self,
        key: &ApiKey,
        slot: &Mutex<Slot>,
        apply: &mut (dyn FnMut(&mut Tenant) + Send),
    ) -> Result<u64, StoreError> {
        let mut slot = lock(slot);
        apply(&mut slot.tenant);
        match &self.db {
            Some(db) if !slot.detached => {
                let Slot {
                    tenant, written, ..
                } = &mut *slot;
                db.write_tenant(key, tenant, written)
            }
            _ => Ok(0),
        }
    }

    /// Completes once the write numbered `seq` is durable: at once without a database
    /// or when it already is (a read that changed nothing allocates nothing).
    fn durable(&self, seq: Result<u64, StoreError>) -> StoreFuture<'_, ()> {
        match (&self.db, seq) {
            (_, Err(e)) => ready(Err(e)),
            (None, Ok(_)) => ready(Ok(())),
            (Some(db), Ok(seq)) => match db.is_durable(seq) {
                Ok(true) => ready(Ok(())),
                Ok(false) => Either::Right(Box::pin(db.durable(seq))),
                Err(e) => ready(Err(e)),
            },
        }
    }

    /// Brings every tenant up to `now`; the number of the last write it sent.
    fn advance_every(&self, now: Timestamp) -> Result<u64, StoreError> {
        let tenants: Vec<_> = read(&self.tenants)
            .iter()
            .map(|(k, t)| (k.clone(), Arc::clone(t)))
            .collect();
        let mut last = 0;
        for (key, t) in tenants {
            let seq = self.apply_to(&key, &t, &mut |t| t.merchant.advance(&self.config, now))?;
            last = last.max(seq);
        }
        Ok(last)
    }

    fn take_snapshot(&self, only: Option<&ApiKey>) -> WorldState {
        let mut keys: Vec<DeclaredKey> = read(&self.keys)
            .iter()
            .filter(|(k, _)| only.is_none_or(|o| o == *k))
            .map(|(k, p)| DeclaredKey {
                key: k.clone(),
                scopes: p.scopes,
                revoked: p.revoked,
            })
            .collect();
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        let tenants: Vec<(ApiKey, Arc<Mutex<Slot>>)> = read(&self.tenants)
            .iter()
            .filter(|(k, _)| only.is_none_or(|o| o == *k))
            .map(|(k, t)| (k.clone(), Arc::clone(t)))
            .collect();
        let merchants = tenants
            .into_iter()
            .map(|(k, t)| (k, lock(&t).tenant.merchant.clone()))
            .collect();
        WorldState {
            version: WorldState::VERSION,
            clock: *read(&self.clock),
            keys,
            merchants,
            redacted: false,
        }
    }

    /// Replaces the keys and tenants in memory; `written` says what each tenant's row
    /// holds (`None`: no database).
    fn restore_memory(
        &self,
        keys: Vec<DeclaredKey>,
        tenants: Vec<(ApiKey, Tenant)>,
        written: impl Fn(&Tenant) -> Option<Box<Written>>,
    ) {
        let mut kept = self.change_keys();
        kept.clear();
        for k in keys {
            kept.insert(
                k.key,
                KeyPolicy {
                    scopes: k.scopes,
                    revoked: k.revoked,
                },
            );
        }
        drop(kept);
        let mut map = self.change_tenants();
        map.clear();
        for (key, tenant) in tenants {
            let written = written(&tenant);
            map.insert(
                key,
                Arc::new(Mutex::new(Slot {
                    tenant,
                    written,
                    detached: false,
                })),
            );
        }
    }

    fn restore_now(&self, state: WorldState) -> Result<(), StoreError> {
        if let Some(why) = state.unrestorable() {
            return Err(StoreError::Invalid(why));
        }
        *write(&self.clock) = state.clock;
        let tenants = state
            .merchants
            .into_iter()
            .map(|(k, m)| (k, Tenant::with(m)))
            .collect();
        let durable = self.db.is_some();
        self.restore_memory(state.keys, tenants, |t| {
            durable.then(|| Database::written_at_start(t))
        });
        Ok(())
    }

    fn forget(&self, key: &ApiKey) {
        self.change_tenants().remove(key);
        self.change_keys().remove(key);
    }

    /// Runs `change` on memory, under the store's turn when there is a database, after
    /// committing `changes` (built from memory as it is, under the same turn).
    fn durably<'a>(
        &'a self,
        changes: impl FnOnce(&Self) -> Result<Vec<Change>, StoreError> + Send + 'a,
        change: impl FnOnce(&Self) -> Result<(), StoreError> + Send + 'a,
    ) -> StoreFuture<'a, ()> {
        let Some(db) = &self.db else {
            return ready(change(self));
        };
        Either::Right(Box::pin(async move {
            let _turn = self.turns.lock().await;
            db.commit(changes(self)?).await?;
            change(self)
        }))
    }
}

impl Store for MemoryStore {
    fn config(&self) -> &SimConfig {
        &self.config
    }

    fn now(&self, wall: Timestamp) -> StoreFuture<'_, Timestamp> {
        ready(Ok(self.now_at(wall)))
    }

    fn clock(&self) -> StoreFuture<'_, Clock> {
        ready(Ok(*read(&self.clock)))
    }

    fn change_clock<'a>(
        &'a self,
        wall: Timestamp,
        change: &'a (dyn Fn(&mut Clock) + Send + Sync),
    ) -> StoreFuture<'a, Clock> {
        let Some(db) = &self.db else {
            let clock = {
                let mut clock = write(&self.clock);
                change(&mut clock);
                *clock
            };
            return ready(self.advance_every(clock.now(wall)).map(|_| clock));
        };
        Either::Right(Box::pin(async move {
            let _turn = self.turns.lock().await;
            let mut clock = *read(&self.clock);
            change(&mut clock);
            db.commit(vec![sqlite::clock_change(&clock)?]).await?;
            *write(&self.clock) = clock;
            let last = self.advance_every(clock.now(wall))?;
            db.durable(last).await?;
            Ok(clock)
        }))
    }

    fn authenticate<'a>(
        &'a self,
        header: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Session, AuthError>> {
        if let Some(db) = &self.db
            && let Err(e) = db.usable()
        {
            return ready(Err(e));
        }
        ready(Ok(self.authenticate_now(header)))
    }

    fn update<'a>(
        &'a self,
        tenant: &'a TenantRef,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, ()> {
        let seq = match tenant.handle::<Mutex<Slot>>() {
            Some(t) => self.apply_to(tenant.key(), t, apply),
            None => self.apply_to(tenant.key(), &self.tenant_or_create(tenant.key()), apply),
        };
        self.durable(seq)
    }

    fn update_existing<'a>(
        &'a self,
        key: &'a ApiKey,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, bool> {
        let Some(found) = self.tenant(key) else {
            return ready(Ok(false));
        };
        let seq = self.apply_to(key, &found, apply);
        match self.durable(seq) {
            Either::Left(done) => ready(done.into_inner().map(|()| true)),
            Either::Right(wait) => {
                Either::Right(Box::pin(async move { wait.await.map(|()| true) }))
            }
        }
    }

    fn tenant_keys(&self) -> StoreFuture<'_, Vec<ApiKey>> {
        ready(Ok(self.keys_sorted()))
    }

    fn declare_key(&self, key: ApiKey, policy: KeyPolicy) -> StoreFuture<'_, ()> {
        let row = DeclaredKey {
            key: key.clone(),
            scopes: policy.scopes,
            revoked: policy.revoked,
        };
        self.durably(
            move |_| Ok(vec![sqlite::key_change(&row)?]),
            move |s| {
                s.declare(key, policy);
                Ok(())
            },
        )
    }

    fn snapshot<'a>(&'a self, only: Option<&'a ApiKey>) -> StoreFuture<'a, WorldState> {
        ready(Ok(self.take_snapshot(only)))
    }

    fn restore(&self, state: WorldState) -> StoreFuture<'_, ()> {
        if let Some(why) = state.unrestorable() {
            return ready(Err(StoreError::Invalid(why)));
        }
        let rows = self.db.as_ref().map(|_| {
            let mut changes = Vec::new();
            sqlite::state_changes(&state, &mut changes).map(|()| changes)
        });
        self.durably(
            move |_| rows.unwrap_or_else(|| Ok(Vec::new())),
            move |s| {
                s.detach_all();
                s.restore_now(state)
            },
        )
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.durably(
            |_| Ok(vec![Change::Clear]),
            |s| {
                s.detach_all();
                s.change_tenants().clear();
                s.change_keys().clear();
                Ok(())
            },
        )
    }

    fn remove_tenant<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()> {
        self.durably(
            move |_| {
                Ok(vec![
                    Change::ForgetTenant(key.as_str().to_owned()),
                    Change::ForgetKey(key.as_str().to_owned()),
                ])
            },
            move |s| {
                if let Some(t) = s.tenant(key) {
                    lock(&t).detach();
                }
                s.forget(key);
                Ok(())
            },
        )
    }

    fn advance_all(&self, now: Timestamp) -> StoreFuture<'_, ()> {
        let seq = self.advance_every(now);
        self.durable(seq)
    }

    fn kept_control(&self) -> Option<&dyn KeptControl> {
        self.db.as_ref().map(|_| self as &dyn KeptControl)
    }

    fn close(&self) {
        if let Some(db) = &self.db {
            db.close();
        }
    }
}

impl MemoryStore {
    /// Every slot in the map marked as no longer the tenant's (before the map is
    /// replaced): an update still running on one writes no row.
    fn detach_all(&self) {
        for t in read(&self.tenants).values() {
            lock(t).detach();
        }
    }
}

impl Slot {
    /// Marks the slot as replaced: its later changes are not written to the database
    /// (an update that raced a reset is lost with the state it changed, as in memory).
    fn detach(&mut self) {
        self.detached = true;
    }
}

impl KeptControl for MemoryStore {
    fn keep(&self, name: &'static str, value: Vec<u8>) -> StoreFuture<'_, ()> {
        let Some(db) = &self.db else {
            return ready(Ok(()));
        };
        let change = String::from_utf8(value).map(|value| Change::Meta {
            name: name.to_owned(),
            value,
        });
        match change {
            Ok(change) => Either::Right(Box::pin(db.commit(vec![change]))),
            Err(e) => ready(Err(StoreError::Invalid(e.to_string()))),
        }
    }

    fn kept(&self, name: &str) -> Option<Vec<u8>> {
        self.kept.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sim::random_runs::{Step, T0, steps};
    use crate::sim::{KeyError, Outage, Scope};

    fn world(strict: bool) -> MemoryStore {
        MemoryStore::new(
            SimConfig {
                strict_keys: strict,
                ..SimConfig::default()
            },
            Clock::frozen(Timestamp(0)),
        )
    }

    const KEY: &str = "rk_sandbox_partner_one_000001";

    /// The tenant a session holds.
    fn held(s: &Session) -> &Mutex<Slot> {
        s.tenant
            .handle::<Mutex<Slot>>()
            .expect("the memory store's own handle")
    }

    fn revoke(w: &MemoryStore, key: &ApiKey) {
        let revoked = KeyPolicy {
            revoked: true,
            ..KeyPolicy::default()
        };
        w.declare(key.clone(), revoked);
    }

    #[test]
    fn a_new_sandbox_key_gets_an_empty_merchant() {
        let w = world(false);
        let s = w.authenticate_now(Some(KEY)).unwrap();
        let tenant = s.tenant.handle::<Mutex<Slot>>().unwrap();
        assert_eq!(
            lock(tenant)
                .tenant
                .merchant
                .at(&w.config, Timestamp(0))
                .integrations()
                .count(),
            0
        );
        assert!(s.scopes.contains(Scope::IntegrationsWrite));
        assert!(!s.scopes.contains(Scope::IntegrationsWorker));
    }

    #[test]
    fn missing_malformed_live_revoked_and_unknown_keys_are_refused() {
        let w = world(true);
        assert_eq!(
            w.authenticate_now(None).unwrap_err(),
            AuthError::Key(KeyError::Missing)
        );
        assert_eq!(
            w.authenticate_now(Some("nope")).unwrap_err(),
            AuthError::Key(KeyError::Malformed)
        );
        assert_eq!(
            w.authenticate_now(Some("rk_live_abcdefghijklmnop"))
                .unwrap_err(),
            AuthError::Live
        );
        assert_eq!(
            w.authenticate_now(Some(KEY)).unwrap_err(),
            AuthError::Unknown
        );
        let key = ApiKey::parse(KEY).unwrap();
        revoke(&w, &key);
        assert_eq!(
            w.authenticate_now(Some(KEY)).unwrap_err(),
            AuthError::Revoked
        );
        w.declare(key, KeyPolicy::default());
        assert!(w.authenticate_now(Some(KEY)).is_ok());
    }

    /// The sessions a thread remembers never outlive a change of the keys or tenants.
    #[test]
    fn remembered_sessions_follow_every_change_of_keys_and_tenants() {
        let w = world(false);
        let key = ApiKey::parse(KEY).unwrap();
        let first = w.authenticate_now(Some(KEY)).unwrap();
        let again = w.authenticate_now(Some(KEY)).unwrap();
        assert!(std::ptr::eq(held(&first), held(&again)), "the same tenant");

        w.declare(
            key.clone(),
            KeyPolicy {
                scopes: [Scope::IntegrationsRead].into_iter().collect(),
                revoked: false,
            },
        );
        let narrowed = w.authenticate_now(Some(KEY)).unwrap();
        assert!(
            !narrowed.scopes.contains(Scope::IntegrationsWrite),
            "new scopes seen"
        );
        revoke(&w, &key);
        assert_eq!(
            w.authenticate_now(Some(KEY)).unwrap_err(),
            AuthError::Revoked
        );

        w.declare(key.clone(), KeyPolicy::default());
        let before = w.authenticate_now(Some(KEY)).unwrap();
        w.forget(&key);
        let after = w.authenticate_now(Some(KEY)).unwrap();
        assert!(
            !std::ptr::eq(held(&before), held(&after)),
            "a new tenant after removal"
        );
        assert!(std::ptr::eq(held(&after), &*w.tenant(&key).unwrap()));

        w.restore_now(w.take_snapshot(None)).unwrap();
        let restored = w.authenticate_now(Some(KEY)).unwrap();
        assert!(
            std::ptr::eq(held(&restored), &*w.tenant(&key).unwrap()),
            "the restored tenant"
        );

        // Two worlds at the same generation: what one thread remembers of one is never
        // taken for the other.
        let (a, b) = (world(false), world(false));
        for w in [&a, &b, &a, &b] {
            w.authenticate_now(Some(KEY)).unwrap();
        }
        assert_eq!(
            a.generation.load(Ordering::Relaxed),
            b.generation.load(Ordering::Relaxed)
        );
        let from_a = a.authenticate_now(Some(KEY)).unwrap();
        assert!(std::ptr::eq(held(&from_a), &*a.tenant(&key).unwrap()));
        let from_b = b.authenticate_now(Some(KEY)).unwrap();
        assert!(std::ptr::eq(held(&from_b), &*b.tenant(&key).unwrap()));
    }

    #[test]
    fn a_snapshot_restores_to_an_identical_world() {
        let w = world(false);
        let key = ApiKey::parse(KEY).unwrap();
        revoke(&w, &key);
        w.tenant_or_create(&ApiKey::parse("rk_sandbox_partner_two_000002").unwrap());
        let snap = w.take_snapshot(None);
        let json = serde_json::to_string(&snap).unwrap();
        let other = world(false);
        other
            .restore_now(serde_json::from_str(&json).unwrap())
            .unwrap();
        assert_eq!(other.take_snapshot(None), snap);
        assert_eq!(w.take_snapshot(Some(&key)).keys.len(), 1);
    }

    proptest::proptest! {
    /// One tenant's commands never change another's state: driven through the
    /// in-memory store (key lookup, tenant map, id seeds, clock), with keys that share their
    /// last four characters, tenant 1 ends the same whether or not tenant 0's commands
    /// ran.
    #[test]
    fn tenants_are_isolated(steps in steps()) {
        const KEYS: [&str; 2] = ["rk_sandbox_aaaaaaaaaaaaaaaa_0001", "rk_sandbox_bbbbbbbbbbbbbbbb_0001"];
        let run_world = |steps: &[Step]| {
            let store = MemoryStore::new(SimConfig::default(), Clock::frozen(T0));
            for step in steps {
                match step {
                    Step::Run(t, p, c) => {
                        let session = store.authenticate_now(Some(KEYS[*t])).unwrap();
                        let now = store.now_at(T0);
                        let _ = lock(held(&session)).tenant.merchant.execute(&store.config, now, *p, c.clone());
                    }
                    Step::Advance(secs) => {
                        write(&store.clock).advance(Duration::from_secs(u64::from(*secs)));
                        store.advance_every(store.now_at(T0)).unwrap();
                    }
                    Step::Outage(t, p, n) => {
                        let session = store.authenticate_now(Some(KEYS[*t])).unwrap();
                        lock(held(&session)).tenant.merchant.inject_outage(*p, Outage::NextSyncs { remaining: *n });
                    }
                }
            }
            store.authenticate_now(Some(KEYS[1])).unwrap();
            store.advance_every(store.now_at(T0)).unwrap();
            store.take_snapshot(Some(&ApiKey::parse(KEYS[1]).unwrap())).merchants
        };
        let without_tenant_0: Vec<Step> = steps.iter().filter(|s| !matches!(s, Step::Run(0, ..) | Step::Outage(0, ..))).cloned().collect();
        proptest::prop_assert_eq!(run_world(&steps), run_world(&without_tenant_0));
    }
    }
}
