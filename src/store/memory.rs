//! The in-memory store (the default): every tenant in this process, each behind its
//! own lock, in a map with its own lock, and a per-thread memory of the sessions a
//! thread authenticated so that a request of a known key takes neither map's lock.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{Session, Store, StoreError, StoreFuture, TenantRef, ready};
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
    tenants: RwLock<HashMap<ApiKey, Arc<Mutex<Tenant>>>>,
    /// This store among the process's stores (tests run several), for the session caches.
    id: u64,
    /// Moved on, under the changed map's write lock, by every change to `keys` or
    /// `tenants`.
    generation: AtomicU64,
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
    by_key: HashMap<ApiKey, (Scopes, Arc<Mutex<Tenant>>)>,
}

/// How many sessions a thread remembers; past that it starts afresh.
const REMEMBERED_SESSIONS: usize = 1024;

thread_local! {
    static SESSIONS: RefCell<Sessions> = RefCell::new(Sessions::default());
}

fn session(key: ApiKey, scopes: Scopes, tenant: Arc<Mutex<Tenant>>) -> Session {
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
        }
    }

    fn change_keys(&self) -> Changing<'_, HashMap<ApiKey, KeyPolicy>> {
        Changing {
            guard: write(&self.keys),
            generation: &self.generation,
        }
    }

    fn change_tenants(&self) -> Changing<'_, HashMap<ApiKey, Arc<Mutex<Tenant>>>> {
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
        let (key, scopes) = admit(text, |k| read(&self.keys).get(k).cloned(), &self.config)?;
        let tenant = self.tenant_or_create(&key);
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
    fn tenant_or_create(&self, key: &ApiKey) -> Arc<Mutex<Tenant>> {
        if let Some(t) = read(&self.tenants).get(key) {
            return Arc::clone(t);
        }
        let mut tenants = self.change_tenants();
        Arc::clone(
            tenants
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Mutex::new(Tenant::new(&self.config, key)))),
        )
    }

    fn tenant(&self, key: &ApiKey) -> Option<Arc<Mutex<Tenant>>> {
        read(&self.tenants).get(key).cloned()
    }

    fn keys_sorted(&self) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = read(&self.tenants).keys().cloned().collect();
        keys.sort();
        keys
    }

    fn advance_every(&self, now: Timestamp) {
        let tenants: Vec<_> = read(&self.tenants).values().cloned().collect();
        for t in tenants {
            lock(&t).merchant.advance(&self.config, now);
        }
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
        let tenants: Vec<(ApiKey, Arc<Mutex<Tenant>>)> = read(&self.tenants)
            .iter()
            .filter(|(k, _)| only.is_none_or(|o| o == *k))
            .map(|(k, t)| (k.clone(), Arc::clone(t)))
            .collect();
        let merchants = tenants
            .into_iter()
            .map(|(k, t)| (k, lock(&t).merchant.clone()))
            .collect();
        WorldState {
            version: WorldState::VERSION,
            clock: *read(&self.clock),
            keys,
            merchants,
            redacted: false,
        }
    }

    fn restore_now(&self, state: WorldState) -> Result<(), StoreError> {
        if let Some(why) = state.unrestorable() {
            return Err(StoreError::Invalid(why));
        }
        *write(&self.clock) = state.clock;
        let mut keys = self.change_keys();
        keys.clear();
        for k in state.keys {
            keys.insert(
                k.key,
                KeyPolicy {
                    scopes: k.scopes,
                    revoked: k.revoked,
                },
            );
        }
        drop(keys);
        let mut tenants = self.change_tenants();
        tenants.clear();
        for (key, merchant) in state.merchants {
            tenants.insert(key, Arc::new(Mutex::new(Tenant::with(merchant))));
        }
        Ok(())
    }

    fn forget(&self, key: &ApiKey) {
        self.change_tenants().remove(key);
        self.change_keys().remove(key);
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
        let clock = {
            let mut clock = write(&self.clock);
            change(&mut clock);
            *clock
        };
        self.advance_every(clock.now(wall));
        ready(Ok(clock))
    }

    fn authenticate<'a>(
        &'a self,
        header: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Session, AuthError>> {
        ready(Ok(self.authenticate_now(header)))
    }

    fn update<'a>(
        &'a self,
        tenant: &'a TenantRef,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, ()> {
        match tenant.handle::<Mutex<Tenant>>() {
            Some(t) => apply(&mut lock(t)),
            None => apply(&mut lock(&self.tenant_or_create(tenant.key()))),
        }
        ready(Ok(()))
    }

    fn update_existing<'a>(
        &'a self,
        key: &'a ApiKey,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, bool> {
        let found = self.tenant(key);
        if let Some(t) = &found {
            apply(&mut lock(t));
        }
        ready(Ok(found.is_some()))
    }

    fn tenant_keys(&self) -> StoreFuture<'_, Vec<ApiKey>> {
        ready(Ok(self.keys_sorted()))
    }

    fn declare_key(&self, key: ApiKey, policy: KeyPolicy) -> StoreFuture<'_, ()> {
        self.declare(key, policy);
        ready(Ok(()))
    }

    fn snapshot<'a>(&'a self, only: Option<&'a ApiKey>) -> StoreFuture<'a, WorldState> {
        ready(Ok(self.take_snapshot(only)))
    }

    fn restore(&self, state: WorldState) -> StoreFuture<'_, ()> {
        ready(self.restore_now(state))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.change_tenants().clear();
        self.change_keys().clear();
        ready(Ok(()))
    }

    fn remove_tenant<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()> {
        self.forget(key);
        ready(Ok(()))
    }

    fn advance_all(&self, now: Timestamp) -> StoreFuture<'_, ()> {
        self.advance_every(now);
        ready(Ok(()))
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
    fn held(s: &Session) -> &Mutex<Tenant> {
        s.tenant
            .handle::<Mutex<Tenant>>()
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
        let tenant = s.tenant.handle::<Mutex<Tenant>>().unwrap();
        assert_eq!(
            lock(tenant)
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
                        let _ = lock(held(&session)).merchant.execute(&store.config, now, *p, c.clone());
                    }
                    Step::Advance(secs) => {
                        write(&store.clock).advance(Duration::from_secs(u64::from(*secs)));
                        store.advance_every(store.now_at(T0));
                    }
                    Step::Outage(t, p, n) => {
                        let session = store.authenticate_now(Some(KEYS[*t])).unwrap();
                        lock(held(&session)).merchant.inject_outage(*p, Outage::NextSyncs { remaining: *n });
                    }
                }
            }
            store.authenticate_now(Some(KEYS[1])).unwrap();
            store.advance_every(store.now_at(T0));
            store.take_snapshot(Some(&ApiKey::parse(KEYS[1]).unwrap())).merchants
        };
        let without_tenant_0: Vec<Step> = steps.iter().filter(|s| !matches!(s, Step::Run(0, ..) | Step::Outage(0, ..))).cloned().collect();
        proptest::prop_assert_eq!(run_world(&steps), run_world(&without_tenant_0));
    }
    }
}
