//! The world: every tenant (one merchant per sandbox key), the keys fixtures declare,
//! and the virtual clock they share.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};

use super::idempotency::IdempotencyStore;
use super::key::{ApiKey, Environment, KeyError, Scopes};
use super::merchant::Merchant;
use super::rate_limit::{Bucket, RateDecision};
use super::time::{Clock, Timestamp};
use super::{SimConfig, lock, read, write};

/// What a declared key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The scopes it holds.
    pub scopes: Scopes,
    /// A revoked key is refused with 401.
    pub revoked: bool,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            scopes: Scopes::default_sandbox(),
            revoked: false,
        }
    }
}

/// One tenant's state: its merchant and the per-key stores around it.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The merchant's integrations.
    pub merchant: Merchant,
    /// Remembered `Idempotency-Key`s.
    pub idempotency: IdempotencyStore,
    /// The rate limiter's bucket, created on first use when limiting is on.
    pub bucket: Option<Bucket>,
}

impl Tenant {
    /// Takes a token from the key's bucket, when rate limiting is on.
    pub fn take_token(&mut self, config: &SimConfig, now: Timestamp) -> Option<RateDecision> {
        let limit = config.rate_limit?;
        let bucket = self.bucket.get_or_insert_with(|| Bucket::full(limit, now));
        Some(bucket.take(limit, now))
    }
}

/// A declared key, as kept in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredKey {
    /// The key.
    pub key: ApiKey,
    /// Its scopes.
    pub scopes: Scopes,
    /// Whether it is revoked.
    #[serde(default)]
    pub revoked: bool,
}

/// Everything that defines a world's state, in the state file's and the admin API's
/// format. Idempotency keys and rate-limit buckets are not kept: they are transient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorldState {
    /// The format's version (1).
    pub version: u32,
    /// The clock.
    pub clock: Clock,
    /// Keys declared by fixtures.
    pub keys: Vec<DeclaredKey>,
    /// Merchants by key.
    pub merchants: std::collections::BTreeMap<ApiKey, Merchant>,
}

impl WorldState {
    /// The current format version.
    pub const VERSION: u32 = 1;
}

/// Why a request's key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key, or an empty one.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// An `rk_live_` key.
    #[error(
        "live keys (rk_live_) are never accepted by the mock, which serves the sandbox environment only: use an rk_sandbox_ key"
    )]
    Live,
    /// A key a fixture declared revoked.
    #[error("this API key has been revoked: create a new rk_sandbox_ key")]
    Revoked,
    /// In strict mode, a key the loaded fixture does not declare.
    #[error("unknown API key: strict mode only accepts the keys of the loaded fixture")]
    Unknown,
}

/// An authenticated request's view of the world.
#[derive(Debug, Clone)]
pub struct Session {
    /// The key.
    pub key: ApiKey,
    /// What it may do.
    pub scopes: Scopes,
    /// Its tenant. A `std::sync::Mutex`: it is held only while a command runs, never
    /// across an `.await`, so an async mutex would only add cost.
    pub tenant: Arc<Mutex<Tenant>>,
}

/// Every tenant. The map has its own lock, taken briefly to find or create a tenant;
/// each tenant has its own, so requests of different keys never wait on each other.
///
/// Each thread also remembers the sessions it authenticated (key, scopes, tenant),
/// valid while the world's `generation` is unchanged: every change to the keys or the
/// tenant map moves it on. A request of a known key then takes neither map's lock
/// (read locks are atomic writes to a line every worker shares, docs/performance.md).
#[derive(Debug)]
pub struct World {
    /// Settings of the simulation.
    pub config: SimConfig,
    /// Simulated time.
    clock: RwLock<Clock>,
    /// Keys declared by the fixture (scopes, revocation).
    keys: RwLock<HashMap<ApiKey, KeyPolicy>>,
    /// Tenants by key.
    tenants: RwLock<HashMap<ApiKey, Arc<Mutex<Tenant>>>>,
    /// This world among the process's worlds (tests run several), for the session caches.
    id: u64,
    /// Moved on, under the changed map's write lock, by every change to `keys` or
    /// `tenants`.
    generation: AtomicU64,
}

/// A write guard on one of the world's maps that moves the generation on when dropped,
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

/// The sessions a thread authenticated in one world at one generation.
#[derive(Default)]
struct Sessions {
    world: u64,
    generation: u64,
    by_key: HashMap<ApiKey, (Scopes, Arc<Mutex<Tenant>>)>,
}

/// How many sessions a thread remembers; past that it starts afresh.
const REMEMBERED_SESSIONS: usize = 1024;

thread_local! {
    static SESSIONS: RefCell<Sessions> = RefCell::new(Sessions::default());
}

impl World {
    /// An empty world.
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

    /// Simulated time, given the wall time now.
    pub fn now(&self, wall: Timestamp) -> Timestamp {
        read(&self.clock).now(wall)
    }

    /// Changes the clock (advance, set, freeze, resume).
    pub fn with_clock<R>(&self, f: impl FnOnce(&mut Clock) -> R) -> R {
        f(&mut write(&self.clock))
    }

    /// A copy of the clock.
    pub fn clock(&self) -> Clock {
        *read(&self.clock)
    }

    /// Declares a key (fixtures): its scopes and whether it is revoked.
    pub fn declare_key(&self, key: ApiKey, policy: KeyPolicy) {
        self.change_keys().insert(key, policy);
    }

    /// Checks the `x-api-key` value and finds (or creates) the key's tenant.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Session, AuthError> {
        let text = header.unwrap_or("").trim();
        // Read before the maps: a change made after it makes what is remembered below
        // stale at once, never valid under a generation it does not belong to.
        let generation = self.generation.load(Ordering::Acquire);
        let remembered = SESSIONS.try_with(|sessions| {
            let sessions = sessions.borrow();
            if sessions.world != self.id || sessions.generation != generation {
                return None;
            }
            let (key, (scopes, tenant)) = sessions.by_key.get_key_value(text)?;
            Some(Session {
                key: key.clone(),
                scopes: *scopes,
                tenant: Arc::clone(tenant),
            })
        });
        if let Ok(Some(session)) = remembered {
            return Ok(session);
        }
        let session = self.authenticate_afresh(text)?;
        let _ = SESSIONS.try_with(|sessions| {
            let mut sessions = sessions.borrow_mut();
            if sessions.world != self.id
                || sessions.generation != generation
                || sessions.by_key.len() >= REMEMBERED_SESSIONS
            {
                sessions.by_key.clear();
                sessions.world = self.id;
                sessions.generation = generation;
            }
            sessions.by_key.insert(
                session.key.clone(),
                (session.scopes, Arc::clone(&session.tenant)),
            );
        });
        Ok(session)
    }

    /// [`World::authenticate`] from the maps.
    fn authenticate_afresh(&self, text: &str) -> Result<Session, AuthError> {
        let key = ApiKey::parse(text)?;
        if key.environment() == Environment::Live {
            return Err(AuthError::Live);
        }
        let policy = match read(&self.keys).get(&key) {
            Some(p) if p.revoked => return Err(AuthError::Revoked),
            Some(p) => p.clone(),
            None if self.config.strict_keys => return Err(AuthError::Unknown),
            None => KeyPolicy::default(),
        };
        let tenant = self.tenant_or_create(&key);
        Ok(Session {
            key,
            scopes: policy.scopes,
            tenant,
        })
    }

    /// The tenant of `key`, created empty on first use.
    pub fn tenant_or_create(&self, key: &ApiKey) -> Arc<Mutex<Tenant>> {
        if let Some(t) = read(&self.tenants).get(key) {
            return Arc::clone(t);
        }
        let mut tenants = self.change_tenants();
        Arc::clone(tenants.entry(key.clone()).or_insert_with(|| {
            Arc::new(Mutex::new(Tenant {
                merchant: Merchant::new(self.tenant_seed(key)),
                idempotency: IdempotencyStore::default(),
                bucket: None,
            }))
        }))
    }

    /// The tenant of `key`, if it exists.
    pub fn tenant(&self, key: &ApiKey) -> Option<Arc<Mutex<Tenant>>> {
        read(&self.tenants).get(key).cloned()
    }

    /// Every tenant's key, sorted.
    pub fn tenant_keys(&self) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = read(&self.tenants).keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Applies what time has brought to every tenant (after a clock change).
    pub fn advance_all(&self, now: Timestamp) {
        let tenants: Vec<_> = read(&self.tenants).values().cloned().collect();
        for t in tenants {
            lock(&t).merchant.advance(&self.config, now);
        }
    }

    /// A snapshot of every tenant (or only `only`), with the clock and declared keys.
    pub fn snapshot(&self, only: Option<&ApiKey>) -> WorldState {
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
            clock: self.clock(),
            keys,
            merchants,
        }
    }

    /// Replaces the whole state with a snapshot.
    pub fn restore(&self, state: WorldState) -> Result<(), String> {
        if state.version != WorldState::VERSION {
            return Err(format!(
                "state format version {} is not supported (expected {})",
                state.version,
                WorldState::VERSION
            ));
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
            tenants.insert(
                key,
                Arc::new(Mutex::new(Tenant {
                    merchant,
                    idempotency: IdempotencyStore::default(),
                    bucket: None,
                })),
            );
        }
        Ok(())
    }

    /// Forgets every tenant and declared key.
    pub fn clear(&self) {
        self.change_tenants().clear();
        self.change_keys().clear();
    }

    /// Forgets one tenant and its declared key.
    pub fn remove_tenant(&self, key: &ApiKey) {
        self.change_tenants().remove(key);
        self.change_keys().remove(key);
    }

    /// The seed of a tenant's id generator: a function of the world's seed and the key
    /// only, so a tenant's ids do not depend on the order tenants were created.
    fn tenant_seed(&self, key: &ApiKey) -> u64 {
        key.as_str().bytes().fold(self.config.seed, |acc, b| {
            fastrand::Rng::with_seed(acc ^ u64::from(b)).u64(..)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Scope;

    fn world(strict: bool) -> World {
        World::new(
            SimConfig {
                strict_keys: strict,
                ..SimConfig::default()
            },
            Clock::frozen(Timestamp(0)),
        )
    }

    const KEY: &str = "rk_sandbox_partner_one_000001";

    fn revoke(w: &World, key: &ApiKey) {
        let revoked = KeyPolicy {
            revoked: true,
            ..KeyPolicy::default()
        };
        w.declare_key(key.clone(), revoked);
    }

    #[test]
    fn a_new_sandbox_key_gets_an_empty_merchant() {
        let w = world(false);
        let s = w.authenticate(Some(KEY)).unwrap();
        assert_eq!(lock(&s.tenant).merchant.integrations().count(), 0);
        assert!(s.scopes.contains(Scope::IntegrationsWrite));
        assert!(!s.scopes.contains(Scope::IntegrationsWorker));
    }

    #[test]
    fn missing_malformed_live_revoked_and_unknown_keys_are_refused() {
        let w = world(true);
        assert_eq!(
            w.authenticate(None).unwrap_err(),
            AuthError::Key(KeyError::Missing)
        );
        assert_eq!(
            w.authenticate(Some("nope")).unwrap_err(),
            AuthError::Key(KeyError::Malformed)
        );
        assert_eq!(
            w.authenticate(Some("rk_live_abcdefghijklmnop"))
                .unwrap_err(),
            AuthError::Live
        );
        assert_eq!(w.authenticate(Some(KEY)).unwrap_err(), AuthError::Unknown);
        let key = ApiKey::parse(KEY).unwrap();
        revoke(&w, &key);
        assert_eq!(w.authenticate(Some(KEY)).unwrap_err(), AuthError::Revoked);
        w.declare_key(key, KeyPolicy::default());
        assert!(w.authenticate(Some(KEY)).is_ok());
    }

    /// The sessions a thread remembers never outlive a change of the keys or tenants.
    #[test]
    fn remembered_sessions_follow_every_change_of_keys_and_tenants() {
        let w = world(false);
        let key = ApiKey::parse(KEY).unwrap();
        let first = w.authenticate(Some(KEY)).unwrap();
        let again = w.authenticate(Some(KEY)).unwrap();
        assert!(Arc::ptr_eq(&first.tenant, &again.tenant), "the same tenant");

        w.declare_key(
            key.clone(),
            KeyPolicy {
                scopes: [Scope::IntegrationsRead].into_iter().collect(),
                revoked: false,
            },
        );
        let narrowed = w.authenticate(Some(KEY)).unwrap();
        assert!(
            !narrowed.scopes.contains(Scope::IntegrationsWrite),
            "new scopes seen"
        );
        revoke(&w, &key);
        assert_eq!(w.authenticate(Some(KEY)).unwrap_err(), AuthError::Revoked);

        w.declare_key(key.clone(), KeyPolicy::default());
        let before = w.authenticate(Some(KEY)).unwrap();
        w.remove_tenant(&key);
        let after = w.authenticate(Some(KEY)).unwrap();
        assert!(
            !Arc::ptr_eq(&before.tenant, &after.tenant),
            "a new tenant after removal"
        );
        assert!(Arc::ptr_eq(&after.tenant, &w.tenant(&key).unwrap()));

        w.restore(w.snapshot(None)).unwrap();
        let restored = w.authenticate(Some(KEY)).unwrap();
        assert!(
            Arc::ptr_eq(&restored.tenant, &w.tenant(&key).unwrap()),
            "the restored tenant"
        );

        // Two worlds at the same generation: what one thread remembers of one is never
        // taken for the other.
        let (a, b) = (world(false), world(false));
        for w in [&a, &b, &a, &b] {
            w.authenticate(Some(KEY)).unwrap();
        }
        assert_eq!(
            a.generation.load(Ordering::Relaxed),
            b.generation.load(Ordering::Relaxed)
        );
        let from_a = a.authenticate(Some(KEY)).unwrap();
        assert!(Arc::ptr_eq(&from_a.tenant, &a.tenant(&key).unwrap()));
        let from_b = b.authenticate(Some(KEY)).unwrap();
        assert!(Arc::ptr_eq(&from_b.tenant, &b.tenant(&key).unwrap()));
    }

    #[test]
    fn a_snapshot_restores_to_an_identical_world() {
        let w = world(false);
        let key = ApiKey::parse(KEY).unwrap();
        revoke(&w, &key);
        w.tenant_or_create(&ApiKey::parse("rk_sandbox_partner_two_000002").unwrap());
        let snap = w.snapshot(None);
        let json = serde_json::to_string(&snap).unwrap();
        let other = world(false);
        other.restore(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(other.snapshot(None), snap);
        assert_eq!(w.snapshot(Some(&key)).keys.len(), 1);
    }

    #[test]
    fn tenant_seeds_depend_on_the_key_only() {
        let a = world(false);
        let b = world(false);
        let k1 = ApiKey::parse(KEY).unwrap();
        let k2 = ApiKey::parse("rk_sandbox_partner_two_000002").unwrap();
        b.tenant_or_create(&k2);
        assert_eq!(a.tenant_seed(&k1), b.tenant_seed(&k1));
        assert_ne!(a.tenant_seed(&k1), a.tenant_seed(&k2));
    }
}
