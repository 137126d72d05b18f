//! The Redis store (`serve --store redis://HOST:PORT/DB`): tenants, declared keys and
//! the clock kept in Redis (or Valkey, the same protocol), so several replicas behind a
//! load balancer serve one world. Chosen client: the `redis` crate's tokio
//! `ConnectionManager` (one multiplexed connection per replica that reconnects on its
//! own; docs/scale-out.md says why).
//!
//! Layout, under a prefix (`revkeen-mock:`):
//! - `tenant:{key}`: a hash, `v` (its version: chosen by the writer, never used twice,
//!   see [`writes::Versions`]) and `t` (the tenant as JSON: merchant,
//!   idempotency keys, rate-limit bucket);
//! - `tenants`: the set of tenant keys; `keys`: a hash of declared keys' policies;
//! - `clock`: a hash, `v` and `c` (the clock as JSON); `init`: set once a fixture was
//!   applied, so a replica that (re)starts never applies it over the shared state;
//! - `faults`: a hash, `v` and `b` (the control plane's fault book as JSON);
//! - `journal`: a stream capped near the journal's capacity, each entry `n` (its
//!   number, from the counter `journal:n`) and `e` (the request as JSON);
//! - coverage's counters: `cov:{owner}|{name}` a hash of counters (a key's run),
//!   `cov:runs:{owner}` and `cov:all` the sets of names, bounded (past a bound, another
//!   name drawn at random goes); added to in the journal's round trip.
//!
//! An update is optimistic: read the tenant and its version (authentication's round
//! trip already did), apply the pure command to it, and, only if it changed, write it
//! with a compare-and-set script that refuses when the version moved; on a refusal the
//! update runs again on the tenant as it now is. So two replicas writing one merchant
//! at once lose no update, and a replica that dies between the read and the write
//! leaves nothing half-written. Within a replica the writes of one tenant are
//! pipelined, one round trip for many: [`writes`] (with its tests, which need no
//! server).

mod writes;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::Either;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{Counters, Session, SharedControl, Store, StoreError, StoreFuture, TenantRef};
use crate::sim::{
    ApiKey, AuthError, Clock, DeclaredKey, KeyPolicy, SimConfig, Tenant, Timestamp, WorldState,
    admit, lock,
};
use writes::{Backend, MAX_ATTEMPTS, Stored, Writes};

/// Sets `KEYS[1]`'s field `ARGV[3]` (`t`, or `c` for the clock) to `ARGV[2]` under
/// the version `ARGV[4]` if its version is still `ARGV[1]` (`0`: absent); 1 if it did,
/// 0 if it refused; adds `ARGV[5]` to the set `KEYS[2]` when given. The writer
/// chooses the new version (so the next write can be sent before this one's answer,
/// see [`writes::Versions`]); no version is ever used twice, even for a tenant
/// deleted and written again, so "version N is this content" stays true. Versions are
/// compared as the decimal strings they are stored as (Lua's numbers lose 64-bit ones).
const CAS: &str = r"
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[4], ARGV[3], ARGV[2])
if KEYS[2] then redis.call('SADD', KEYS[2], ARGV[5]) end
return 1
";

/// What authentication read in its one round trip (the key's policy, the clock and
/// the tenant), carried by the request's `TenantRef`: the request's clock reading, and
/// its first update's starting point (taken once; a conflict reads afresh).
struct Prefetch {
    clock: Clock,
    book_version: u64,
    tenant: Mutex<Option<Stored>>,
}

/// Appends `ARGV[1]` to the stream `KEYS[1]` as entry number `INCR KEYS[2]`, which it
/// returns, keeping about `ARGV[2]` entries (`MAXLEN ~`: trimmed a node at a time).
const APPEND: &str = r"
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'n', n, 'e', ARGV[1])
return n
";

/// [`APPEND`] (`KEYS[1..2]`, `ARGV[1..2]`), then adds one to each field `ARGV[8..]` of
/// the counters hash `KEYS[3]` (owner `ARGV[7]`, name `ARGV[4]`, member `ARGV[3]` =
/// `owner|name`). A name new to its owner joins the owner's set `KEYS[4]` and the set
/// of all `KEYS[5]`; past `ARGV[5]` names per owner or `ARGV[6]` in all, one other
/// (drawn by `SRANDMEMBER`) is forgotten (its hash `ARGV[9]..member`). A request costs
/// two or three `HINCRBY`s and one `SADD` beside the journal's; the bounds are checked
/// only for a new name. One script, so one round trip, kept by Redis by its hash.
const APPEND_AND_COUNT: &str = r"
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'n', n, 'e', ARGV[1])
local prefix = ARGV[8]
for i = 9, #ARGV do redis.call('HINCRBY', KEYS[3], ARGV[i], 1) end
if redis.call('SADD', KEYS[4], ARGV[4]) == 1 then
  redis.call('SADD', KEYS[5], ARGV[3])
  if redis.call('SCARD', KEYS[4]) > tonumber(ARGV[5]) then
    local old = ARGV[4]
    while old == ARGV[4] do old = redis.call('SRANDMEMBER', KEYS[4]) end
    redis.call('SREM', KEYS[4], old)
    redis.call('SREM', KEYS[5], ARGV[7] .. '|' .. old)
    redis.call('DEL', prefix .. ARGV[7] .. '|' .. old)
  end
  if redis.call('SCARD', KEYS[5]) > tonumber(ARGV[6]) then
    local old = ARGV[3]
    while old == ARGV[3] do old = redis.call('SRANDMEMBER', KEYS[5]) end
    redis.call('SREM', KEYS[5], old)
    redis.call('DEL', prefix .. old)
    local bar = string.find(old, '|', 1, true)
    redis.call('SREM', prefix .. 'runs:' .. string.sub(old, 1, bar - 1), string.sub(old, bar + 1))
  end
end
return n
";

/// Tenants, keys and the clock in Redis; see the module's comment.
pub struct RedisStore {
    config: SimConfig,
    conn: ConnectionManager,
    prefix: String,
    cas: Script,
    append: Script,
    append_and_count: Script,
    /// This replica's writes of tenants, pipelined per tenant, and its versions.
    writes: Writes<Tenant>,
}

fn unavailable(e: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("Redis: {e}"))
}

fn corrupt(e: impl fmt::Display) -> StoreError {
    StoreError::Invalid(format!("a value in Redis cannot be read: {e}"))
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT/DB`); the keys go under `prefix`.
    pub async fn connect(url: &str, prefix: &str, config: SimConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        // Fail fast while Redis is away (the API answers 503 and the client retries);
        // the manager reconnects on its own when it is back.
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            config,
            conn,
            prefix: prefix.to_owned(),
            cas: Script::new(CAS),
            append: Script::new(APPEND),
            append_and_count: Script::new(APPEND_AND_COUNT),
            writes: Writes::new(uuid::Uuid::new_v4().as_u64_pair().0),
        })
    }

    fn tenant_key(&self, key: &ApiKey) -> String {
        format!("{}tenant:{}", self.prefix, key.as_str())
    }

    fn name(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    /// Whether this replica is the first to start on this Redis (it then applies the
    /// fixture); later replicas, and restarts, find the state as it is.
    pub async fn claim_initialization(&self) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let set: bool = redis::cmd("SET")
            .arg(self.name("init"))
            .arg("1")
            .arg("NX")
            .query_async::<Option<String>>(&mut c)
            .await
            .map_err(unavailable)?
            .is_some();
        Ok(set)
    }

    /// The clock and its version (the default clock, version 0, before any is set).
    async fn read_clock(&self) -> Result<(u64, Clock), StoreError> {
        let mut c = self.conn.clone();
        let (v, text): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.name("clock"))
            .arg("v")
            .arg("c")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        let clock = match text {
            Some(t) => serde_json::from_str(&t).map_err(corrupt)?,
            None => Clock::default(),
        };
        Ok((v.unwrap_or(0), clock))
    }

    /// Applies `apply` to the tenant of `key` (a new one when `create`, else only an
    /// existing one), through this replica's write pipeline; whether there was a tenant
    /// to apply it to.
    async fn apply(
        &self,
        key: &ApiKey,
        create: bool,
        apply: &mut (dyn FnMut(&mut Tenant) + Send),
        prefetched: Option<&Prefetch>,
    ) -> Result<bool, StoreError> {
        let read = prefetched.and_then(|p| lock(&p.tenant).take());
        let fresh = || Tenant::new(&self.config, key);
        let create = create.then_some(&fresh as &(dyn Fn() -> Tenant + Sync));
        self.writes.apply(self, key, create, apply, read).await
    }

    /// The compare-and-set ([`CAS`]) of every versioned value (a tenant, the clock,
    /// the fault book): the hash's `field` set to `value` under version `new` if its
    /// version is still `expected` (0: absent), and a tenant's key added to the set of
    /// tenants; whether it was set.
    async fn cas(
        &self,
        hash: String,
        field: &str,
        expected: u64,
        value: Vec<u8>,
        new: u64,
        tenant: Option<&ApiKey>,
    ) -> Result<bool, StoreError> {
        let mut call = self.cas.prepare_invoke();
        call.key(hash);
        if tenant.is_some() {
            call.key(self.name("tenants"));
        }
        call.arg(expected).arg(value).arg(field).arg(new);
        if let Some(key) = tenant {
            call.arg(key.as_str());
        }
        let mut c = self.conn.clone();
        let done: u8 = call.invoke_async(&mut c).await.map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn keys_sorted(&self) -> Result<Vec<ApiKey>, StoreError> {
        let mut c = self.conn.clone();
        let members: Vec<String> = c
            .smembers(self.name("tenants"))
            .await
            .map_err(unavailable)?;
        let mut keys: Vec<ApiKey> = members
            .iter()
            .filter_map(|k| ApiKey::parse(k).ok())
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn advance_every(&self, now: Timestamp) -> Result<(), StoreError> {
        let config = &self.config;
        for key in self.keys_sorted().await? {
            self.apply(&key, false, &mut |t| t.merchant.advance(config, now), None)
                .await?;
        }
        Ok(())
    }

    async fn change(
        &self,
        wall: Timestamp,
        change: &(dyn Fn(&mut Clock) + Send + Sync),
    ) -> Result<Clock, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let (version, mut clock) = self.read_clock().await?;
            change(&mut clock);
            let text = serde_json::to_vec(&clock).map_err(corrupt)?;
            let new = self.writes.versions.next();
            if self
                .cas(self.name("clock"), "c", version, text, new, None)
                .await?
            {
                // Every tenant brought up to the new time, once: each through its own
                // compare-and-set, so a replica moving the clock at the same time
                // applies nothing twice.
                self.advance_every(clock.now(wall)).await?;
                return Ok(clock);
            }
        }
        Err(StoreError::Unavailable(
            "the clock kept changing under this update".into(),
        ))
    }

    async fn take_snapshot(&self, only: Option<&ApiKey>) -> Result<WorldState, StoreError> {
        let mut c = self.conn.clone();
        let declared: Vec<(String, String)> =
            c.hgetall(self.name("keys")).await.map_err(unavailable)?;
        let mut keys = Vec::new();
        for (k, p) in declared {
            let Ok(key) = ApiKey::parse(&k) else { continue };
            if only.is_some_and(|o| *o != key) {
                continue;
            }
            let policy: KeyPolicy = serde_json::from_str(&p).map_err(corrupt)?;
            keys.push(DeclaredKey {
                key,
                scopes: policy.scopes,
                revoked: policy.revoked,
            });
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        let mut merchants = BTreeMap::new();
        for key in self.keys_sorted().await? {
            if only.is_some_and(|o| *o != key) {
                continue;
            }
            let stored: Option<Vec<u8>> = c
                .hget(self.tenant_key(&key), "t")
                .await
                .map_err(unavailable)?;
            if let Some(bytes) = stored {
                let tenant: Tenant = serde_json::from_slice(&bytes).map_err(corrupt)?;
                merchants.insert(key, tenant.merchant);
            }
        }
        Ok(WorldState {
            version: WorldState::VERSION,
            clock: self.read_clock().await?.1,
            keys,
            merchants,
            redacted: false,
        })
    }

    async fn forget_all(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut names: Vec<String> = self
            .keys_sorted()
            .await?
            .iter()
            .map(|k| self.tenant_key(k))
            .collect();
        names.push(self.name("tenants"));
        names.push(self.name("keys"));
        let _: () = c.del(names).await.map_err(unavailable)?;
        Ok(())
    }

    async fn restore_now(&self, state: WorldState) -> Result<(), StoreError> {
        if let Some(why) = state.unrestorable() {
            return Err(StoreError::Invalid(why));
        }
        self.forget_all().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        // Written under new versions (see CAS): the clock and every tenant as if
        // written by the compare-and-set of a fresh value.
        let clock = serde_json::to_string(&state.clock).map_err(corrupt)?;
        pipe.cmd("DEL").arg(self.name("clock")).ignore();
        pipe.cmd("EVAL")
            .arg(CAS)
            .arg(1)
            .arg(self.name("clock"))
            .arg(0)
            .arg(clock)
            .arg("c")
            .arg(self.writes.versions.next())
            .ignore();
        for k in &state.keys {
            let policy = KeyPolicy {
                scopes: k.scopes,
                revoked: k.revoked,
            };
            let text = serde_json::to_string(&policy).map_err(corrupt)?;
            pipe.hset(self.name("keys"), k.key.as_str(), text).ignore();
        }
        for (key, merchant) in state.merchants {
            let tenant = serde_json::to_vec(&Tenant::with(merchant)).map_err(corrupt)?;
            pipe.cmd("EVAL")
                .arg(CAS)
                .arg(2)
                .arg(self.tenant_key(&key))
                .arg(self.name("tenants"))
                .arg(0)
                .arg(tenant)
                .arg("t")
                .arg(self.writes.versions.next())
                .arg(key.as_str())
                .ignore();
        }
        let mut c = self.conn.clone();
        let _: () = pipe.query_async(&mut c).await.map_err(unavailable)?;
        Ok(())
    }
}

/// Tenants, for the write pipeline: read with their version, and compare-and-set.
impl Backend for RedisStore {
    fn read(&self, key: &ApiKey) -> impl Future<Output = Result<Stored, StoreError>> + Send {
        let mut c = self.conn.clone();
        let hash = self.tenant_key(key);
        async move {
            redis::cmd("HMGET")
                .arg(hash)
                .arg("v")
                .arg("t")
                .query_async(&mut c)
                .await
                .map_err(unavailable)
        }
    }

    fn compare_and_set(
        &self,
        key: &ApiKey,
        expected: Option<u64>,
        written: Vec<u8>,
        new: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let hash = self.tenant_key(key);
        self.cas(hash, "t", expected.unwrap_or(0), written, new, Some(key))
    }
}

/// A store future that waits on Redis.
fn boxed<'a, T: Send + 'a>(
    f: impl Future<Output = Result<T, StoreError>> + Send + 'a,
) -> StoreFuture<'a, T> {
    Either::Right(Box::pin(f))
}

impl Store for RedisStore {
    fn config(&self) -> &SimConfig {
        &self.config
    }

    fn now(&self, wall: Timestamp) -> StoreFuture<'_, Timestamp> {
        boxed(async move { Ok(self.read_clock().await?.1.now(wall)) })
    }

    fn now_for<'a>(&'a self, session: &'a Session, wall: Timestamp) -> StoreFuture<'a, Timestamp> {
        match session.tenant.handle::<Prefetch>() {
            Some(p) => Either::Left(futures_util::future::ready(Ok(p.clock.now(wall)))),
            None => self.now(wall),
        }
    }

    fn clock(&self) -> StoreFuture<'_, Clock> {
        boxed(async move { Ok(self.read_clock().await?.1) })
    }

    fn change_clock<'a>(
        &'a self,
        wall: Timestamp,
        change: &'a (dyn Fn(&mut Clock) + Send + Sync),
    ) -> StoreFuture<'a, Clock> {
        boxed(self.change(wall, change))
    }

    fn authenticate<'a>(
        &'a self,
        header: Option<&'a str>,
    ) -> StoreFuture<'a, Result<Session, AuthError>> {
        boxed(async move {
            let text = header.unwrap_or("").trim();
            let Ok(key) = ApiKey::parse(text) else {
                let refused = admit(text, |_| None, &self.config);
                return Ok(refused.map(|(key, scopes)| Session {
                    tenant: TenantRef::of(key),
                    scopes,
                }));
            };
            // One round trip: the key's policy, the clock and the tenant.
            let mut c = self.conn.clone();
            type Read = (
                Option<String>,
                (Option<u64>, Option<String>),
                Stored,
                Option<u64>,
            );
            let (policy, (_, clock), tenant, book_version): Read = redis::pipe()
                .hget(self.name("keys"), key.as_str())
                .cmd("HMGET")
                .arg(self.name("clock"))
                .arg("v")
                .arg("c")
                .cmd("HMGET")
                .arg(self.tenant_key(&key))
                .arg("v")
                .arg("t")
                .hget(self.name("faults"), "v")
                .query_async(&mut c)
                .await
                .map_err(unavailable)?;
            let policy: Option<KeyPolicy> = policy
                .map(|t| serde_json::from_str(&t).map_err(corrupt))
                .transpose()?;
            let declared = policy.is_some();
            let new_tenant = tenant.0.is_none();
            let clock = match clock {
                Some(t) => serde_json::from_str(&t).map_err(corrupt)?,
                None => Clock::default(),
            };
            let prefetch = Arc::new(Prefetch {
                clock,
                book_version: book_version.unwrap_or(0),
                tenant: Mutex::new(Some(tenant)),
            });
            let mut admitted = admit(text, |_| policy, &self.config);
            if admitted.is_ok() && new_tenant && !declared {
                // A stranger's new key: one more round trip, on its first request only.
                // Replicas count apart, so concurrent first requests on several may pass
                // the limit by as many (docs/security.md).
                let count: usize = c.scard(self.name("tenants")).await.map_err(unavailable)?;
                if count >= self.config.max_tenants {
                    admitted = Err(AuthError::TenantLimit(self.config.max_tenants));
                }
            }
            Ok(admitted.map(|(key, scopes)| Session {
                tenant: TenantRef::with_handle(key, prefetch),
                scopes,
            }))
        })
    }

    fn update<'a>(
        &'a self,
        tenant: &'a TenantRef,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, ()> {
        boxed(async move {
            self.apply(tenant.key(), true, apply, tenant.handle::<Prefetch>())
                .await?;
            Ok(())
        })
    }

    fn update_existing<'a>(
        &'a self,
        key: &'a ApiKey,
        apply: &'a mut (dyn FnMut(&mut Tenant) + Send),
    ) -> StoreFuture<'a, bool> {
        boxed(self.apply(key, false, apply, None))
    }

    fn tenant_keys(&self) -> StoreFuture<'_, Vec<ApiKey>> {
        boxed(self.keys_sorted())
    }

    fn declare_key(&self, key: ApiKey, policy: KeyPolicy) -> StoreFuture<'_, ()> {
        boxed(async move {
            let text = serde_json::to_string(&policy).map_err(corrupt)?;
            let mut c = self.conn.clone();
            let _: () = c
                .hset(self.name("keys"), key.as_str(), text)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn snapshot<'a>(&'a self, only: Option<&'a ApiKey>) -> StoreFuture<'a, WorldState> {
        boxed(self.take_snapshot(only))
    }

    fn restore(&self, state: WorldState) -> StoreFuture<'_, ()> {
        boxed(self.restore_now(state))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        boxed(self.forget_all())
    }

    fn remove_tenant<'a>(&'a self, key: &'a ApiKey) -> StoreFuture<'a, ()> {
        boxed(async move {
            let mut pipe = redis::pipe();
            pipe.atomic()
                .del(self.tenant_key(key))
                .ignore()
                .srem(self.name("tenants"), key.as_str())
                .ignore()
                .hdel(self.name("keys"), key.as_str())
                .ignore();
            let mut c = self.conn.clone();
            let _: () = pipe.query_async(&mut c).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn advance_all(&self, now: Timestamp) -> StoreFuture<'_, ()> {
        boxed(self.advance_every(now))
    }

    fn shared(&self) -> Option<&dyn SharedControl> {
        Some(self)
    }
}

impl SharedControl for RedisStore {
    fn book_version<'a>(&'a self, session: Option<&'a Session>) -> StoreFuture<'a, u64> {
        if let Some(p) = session.and_then(|s| s.tenant.handle::<Prefetch>()) {
            return Either::Left(futures_util::future::ready(Ok(p.book_version)));
        }
        boxed(async move {
            let mut c = self.conn.clone();
            let v: Option<u64> = c
                .hget(self.name("faults"), "v")
                .await
                .map_err(unavailable)?;
            Ok(v.unwrap_or(0))
        })
    }

    fn read_book(&self) -> StoreFuture<'_, (u64, Option<Vec<u8>>)> {
        boxed(async move {
            let mut c = self.conn.clone();
            let (v, b): (Option<u64>, Option<Vec<u8>>) = redis::cmd("HMGET")
                .arg(self.name("faults"))
                .arg("v")
                .arg("b")
                .query_async(&mut c)
                .await
                .map_err(unavailable)?;
            Ok((v.unwrap_or(0), b))
        })
    }

    fn write_book(&self, version: u64, book: Vec<u8>) -> StoreFuture<'_, Option<u64>> {
        boxed(async move {
            let new = self.writes.versions.next();
            let set = self.cas(self.name("faults"), "b", version, book, new, None);
            Ok(set.await?.then_some(new))
        })
    }

    fn append_journal(
        &self,
        entry: Vec<u8>,
        capacity: usize,
        counted: Option<Counters>,
    ) -> StoreFuture<'_, u64> {
        boxed(async move {
            let mut c = self.conn.clone();
            let Some(counted) = counted else {
                return self
                    .append
                    .key(self.name("journal"))
                    .key(self.name("journal:n"))
                    .arg(entry)
                    .arg(capacity)
                    .invoke_async(&mut c)
                    .await
                    .map_err(unavailable);
            };
            let member = format!("{}|{}", counted.owner, counted.name);
            self.append_and_count
                .key(self.name("journal"))
                .key(self.name("journal:n"))
                .key(self.name(&format!("cov:{member}")))
                .key(self.name(&format!("cov:runs:{}", counted.owner)))
                .key(self.name("cov:all"))
                .arg(entry)
                .arg(capacity)
                .arg(&member)
                .arg(&counted.name)
                .arg(counted.per_owner)
                .arg(counted.in_all)
                .arg(&counted.owner)
                .arg(self.name("cov:"))
                .arg(&counted.fields)
                .invoke_async(&mut c)
                .await
                .map_err(unavailable)
        })
    }

    fn read_counters<'a>(
        &'a self,
        owner: &'a str,
        name: &'a str,
    ) -> StoreFuture<'a, Vec<(String, u64)>> {
        boxed(async move {
            let mut c = self.conn.clone();
            let all: Vec<(String, u64)> = c
                .hgetall(self.name(&format!("cov:{owner}|{name}")))
                .await
                .map_err(unavailable)?;
            Ok(all)
        })
    }

    fn counter_names<'a>(&'a self, owner: &'a str) -> StoreFuture<'a, Vec<String>> {
        boxed(async move {
            let mut c = self.conn.clone();
            let mut names: Vec<String> = c
                .smembers(self.name(&format!("cov:runs:{owner}")))
                .await
                .map_err(unavailable)?;
            names.sort();
            Ok(names)
        })
    }

    fn forget_counters<'a>(&'a self, owner: &'a str, name: Option<&'a str>) -> StoreFuture<'a, ()> {
        boxed(async move {
            let mut c = self.conn.clone();
            let set = self.name(&format!("cov:runs:{owner}"));
            let names: Vec<String> = match name {
                Some(n) => vec![n.to_owned()],
                None => c.smembers(&set).await.map_err(unavailable)?,
            };
            let mut pipe = redis::pipe();
            pipe.atomic();
            for n in &names {
                let member = format!("{owner}|{n}");
                pipe.del(self.name(&format!("cov:{member}"))).ignore();
                pipe.srem(self.name("cov:all"), member).ignore();
                pipe.srem(&set, n).ignore();
            }
            let _: () = pipe.query_async(&mut c).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn read_journal(&self, n: usize) -> StoreFuture<'_, Vec<(u64, Vec<u8>)>> {
        boxed(async move {
            let mut c = self.conn.clone();
            // Each entry: its stream id, then its fields and values (n, number, e, JSON).
            let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XREVRANGE")
                .arg(self.name("journal"))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(n)
                .query_async(&mut c)
                .await
                .map_err(unavailable)?;
            entries
                .into_iter()
                .map(|(_, fields)| {
                    let field = |name: &[u8]| {
                        fields
                            .chunks(2)
                            .find(|f| f[0] == name)
                            .and_then(|f| f.get(1).cloned())
                            .ok_or_else(|| corrupt("a journal entry without its fields"))
                    };
                    let number = String::from_utf8(field(b"n")?)
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| corrupt("a journal entry's number"))?;
                    Ok((number, field(b"e")?))
                })
                .collect()
        })
    }

    fn clear_journal(&self) -> StoreFuture<'_, ()> {
        boxed(async move {
            let mut c = self.conn.clone();
            let _: () = c.del(self.name("journal")).await.map_err(unavailable)?;
            Ok(())
        })
    }
}
