//! The Redis store (`serve --store redis://HOST:PORT/DB`): tenants, declared keys and
//! the clock kept in Redis (or Valkey, the same protocol), so several replicas behind a
//! load balancer serve one world. Chosen client: the `redis` crate's tokio
//! `ConnectionManager` (one multiplexed connection per replica that reconnects on its
//! own; docs/scale-out.md says why).
//!
//! Layout, under a prefix (`revkeen-mock:`):
//! - `tenant:{key}`: a hash, `v` (its version: chosen by the writer, never used twice,
//!   see [`RedisStore::next_version`]) and `t` (the tenant as JSON: merchant,
//!   idempotency keys, rate-limit bucket);
//! - `tenants`: the set of tenant keys; `keys`: a hash of declared keys' policies;
//! - `clock`: a hash, `v` and `c` (the clock as JSON); `init`: set once a fixture was
//!   applied, so a replica that (re)starts never applies it over the shared state;
//! - `faults`: a hash, `v` and `b` (the control plane's fault book as JSON);
//! - `journal`: a stream capped near the journal's capacity, each entry `n` (its
//!   number, from the counter `journal:n`) and `e` (the request as JSON).
//!
//! An update is optimistic: read the tenant and its version (authentication's round
//! trip already did), apply the pure command to it, and, only if it changed, write it
//! with a compare-and-set script that refuses when the version moved; on a refusal the
//! update runs again on the tenant as it now is. So two replicas writing one merchant
//! at once lose no update, and a replica that dies between the read and the write
//! leaves nothing half-written. Within a replica the writers of one tenant take turns,
//! each applying its command to the tenant as the write before it leaves it and
//! sending its compare-and-set right behind that one, without waiting for its answer
//! (Redis runs one connection's commands in order): a replica's writes of one merchant
//! are pipelined, one round trip for many. A refusal (another replica wrote in
//! between) fails the writes built on it too, and each reads afresh.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{Session, SharedControl, Store, StoreError, StoreFuture, TenantRef};
use crate::sim::{
    ApiKey, AuthError, Clock, DeclaredKey, KeyPolicy, SimConfig, Tenant, Timestamp, WorldState,
    admit,
};
use futures_util::future::Either;

/// How often an update is tried again when another writer got there first.
const MAX_ATTEMPTS: usize = 64;

/// Tenants whose writers' turns and last write a replica keeps.
const KEPT_WRITERS: usize = 4096;

/// Sets `KEYS[1]`'s field `ARGV[3]` (`t`, or `c` for the clock) to `ARGV[2]` under
/// the version `ARGV[4]` if its version is still `ARGV[1]` (`0`: absent); 1 if it did,
/// 0 if it refused; adds `ARGV[5]` to the set `KEYS[2]` when given. The writer
/// chooses the new version (so the next write can be sent before this one's answer,
/// see [`RedisStore::next_version`]); no version is ever used twice, even for a tenant
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
    tenant: std::sync::Mutex<Option<Stored>>,
}

/// Appends `ARGV[1]` to the stream `KEYS[1]` as entry number `INCR KEYS[2]`, which it
/// returns, keeping about `ARGV[2]` entries (`MAXLEN ~`: trimmed a node at a time).
const APPEND: &str = r"
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'n', n, 'e', ARGV[1])
return n
";

/// A tenant as read: its version and JSON (both absent before its first write).
type Stored = (Option<u64>, Option<Vec<u8>>);

/// Tenants, keys and the clock in Redis; see the module's comment.
pub struct RedisStore {
    config: SimConfig,
    conn: ConnectionManager,
    prefix: String,
    cas: Script,
    append: Script,
    /// Per tenant: this replica's writers take turns, and the tenant as the last of
    /// them wrote it.
    writers: std::sync::Mutex<std::collections::HashMap<ApiKey, Writer>>,
    /// This replica's versions: a random start, and how many it has used.
    nonce: u64,
    written: std::sync::atomic::AtomicU64,
}

/// One tenant's writers on this replica: their turns, and the last write.
type Writer = std::sync::Arc<tokio::sync::Mutex<Turn>>;

/// What the writers of one tenant on this replica share, under their turn.
#[derive(Default)]
struct Turn {
    /// The tenant as the last write sent leaves it (maybe not yet answered).
    last: Option<Change>,
    /// The versions of the current chain: the one read, then each this replica wrote
    /// on top of it, each write built on the previous one (at most [`CHAIN`]).
    chain: std::collections::VecDeque<u64>,
}

/// The most versions of a chain remembered (older ones are simply not recognized).
const CHAIN: usize = 64;

/// A tenant as a write leaves it: the version it was read at (then the one it was
/// written at), its JSON, the tenant itself (so the next writer need not parse it),
/// and, once sent, whether its compare-and-set landed (`None` until it is answered).
struct Change {
    version: Option<u64>,
    written: Vec<u8>,
    tenant: Tenant,
    landed: Option<tokio::sync::watch::Receiver<Option<bool>>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("Redis: {e}"))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("a value in Redis cannot be read: {e}"))
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
            writers: std::sync::Mutex::new(std::collections::HashMap::new()),
            nonce: uuid::Uuid::new_v4().as_u64_pair().0,
            written: std::sync::atomic::AtomicU64::new(0),
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
    /// existing one), with compare-and-set; whether there was a tenant to apply it to.
    async fn apply(
        &self,
        key: &ApiKey,
        create: bool,
        apply: &mut (dyn FnMut(&mut Tenant) + Send),
        prefetched: Option<&Prefetch>,
    ) -> Result<bool, StoreError> {
        // Without a lock first: most requests read and change nothing (one round trip,
        // or none after authentication's), and readers never wait on each other.
        let read = match prefetched.and_then(|p| crate::sim::lock(&p.tenant).take()) {
            Some(read) => read,
            None => self.read_tenant(key).await?,
        };
        let Some(change) = self.applied(key, create, apply, &read)? else {
            return Ok(read.1.is_some() || create);
        };
        // A change: this replica's writers of the tenant take turns, each building on
        // the write sent before it, and send their compare-and-sets one after another
        // on the one connection without waiting for the previous answer (pipelined):
        // Redis runs them in order, so each finds the version the previous one wrote.
        // A refusal (another replica wrote in between) fails the writes built on it
        // too; each then reads afresh and tries again. Replicas still race, and the
        // compare-and-set settles it.
        let turn = self.writer(key);
        let mut ready = Some(change);
        let mut refused = false;
        for _ in 0..MAX_ATTEMPTS {
            let mut t = turn.lock().await;
            let (change, chained) = match (refused, t.last.take(), ready.take()) {
                (false, Some(known), _) => match self.reapplied(known, apply)? {
                    Ok(change) => (Some(change), true),
                    Err(known) => {
                        // Nothing to change from the last write sent. If this update's
                        // read found a version of this chain, no other replica wrote
                        // since: the answer stands once that write has landed.
                        let trusted = read.0.is_some_and(|v| t.chain.contains(&v));
                        let landed = known.landed.clone();
                        t.last = Some(known);
                        if let (true, Some(mut landed)) = (trusted, landed) {
                            drop(t);
                            match landed.wait_for(Option::is_some).await.as_deref() {
                                Ok(Some(true)) => return Ok(true),
                                _ => {
                                    refused = true;
                                    continue;
                                }
                            }
                        }
                        (None, false)
                    }
                },
                // The first attempt, computed on this update's own read.
                (false, None, Some(change)) => (Some(change), false),
                // After a refusal: read afresh.
                _ => (None, false),
            };
            let change = match change {
                Some(change) => change,
                None => {
                    // Read after every write sent before it (one connection, in
                    // order): the tenant as it now is.
                    let read = self.read_tenant(key).await?;
                    match self.applied(key, create, apply, &read)? {
                        Some(change) => change,
                        None => return Ok(read.1.is_some() || create),
                    }
                }
            };
            let version = self.next_version();
            if !chained {
                t.chain.clear();
                t.chain.extend(change.version);
            }
            t.chain.push_back(version);
            if t.chain.len() > CHAIN {
                t.chain.pop_front();
            }
            let (landed_tx, landed) = tokio::sync::watch::channel(None);
            let mut cas = std::pin::pin!(self.compare_and_set(
                key,
                change.version,
                change.written.clone(),
                version,
            ));
            // Polled once under the turn: the command is queued on the connection
            // before the next writer's.
            let first =
                std::future::poll_fn(|cx| std::task::Poll::Ready(cas.as_mut().poll(cx))).await;
            t.last = Some(Change {
                version: Some(version),
                landed: Some(landed),
                ..change
            });
            drop(t);
            let done = match first {
                std::task::Poll::Ready(done) => done,
                std::task::Poll::Pending => cas.await,
            };
            landed_tx.send_replace(Some(matches!(done, Ok(true))));
            if done? {
                return Ok(true);
            }
            refused = true;
        }
        Err(StoreError::Unavailable(format!(
            "the tenant {} changed {MAX_ATTEMPTS} times while one update was being applied",
            key.last4()
        )))
    }

    /// The tenant of `key` as stored.
    async fn read_tenant(&self, key: &ApiKey) -> Result<Stored, StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HMGET")
            .arg(self.tenant_key(key))
            .arg("v")
            .arg("t")
            .query_async(&mut c)
            .await
            .map_err(unavailable)
    }

    /// `apply` run on the tenant as `read`: `None` when it changed nothing (or there
    /// is no tenant and `create` is off), else the change to write.
    fn applied(
        &self,
        key: &ApiKey,
        create: bool,
        apply: &mut (dyn FnMut(&mut Tenant) + Send),
        (version, stored): &Stored,
    ) -> Result<Option<Change>, StoreError> {
        let mut tenant = match stored {
            Some(bytes) => serde_json::from_slice(bytes).map_err(corrupt)?,
            None if create => Tenant::new(&self.config, key),
            None => return Ok(None),
        };
        let (written, changed) = run(apply, &mut tenant, stored.as_deref())?;
        Ok(changed.then_some(Change {
            version: *version,
            written,
            tenant,
            landed: None,
        }))
    }

    /// `apply` run on the tenant as the last write sent left it: the change to write
    /// on top of it, or (`Err`) that write back when it changes nothing from there.
    fn reapplied(
        &self,
        known: Change,
        apply: &mut (dyn FnMut(&mut Tenant) + Send),
    ) -> Result<Result<Change, Change>, StoreError> {
        let Change {
            version,
            written: before,
            mut tenant,
            landed,
        } = known;
        let (written, changed) = run(apply, &mut tenant, Some(&before))?;
        let change = Change {
            version,
            written,
            tenant,
            landed: if changed { None } else { landed },
        };
        Ok(if changed { Ok(change) } else { Err(change) })
    }

    /// A version no write has used: this replica's random start moved on by a counter
    /// (scrambled by an odd multiplier), so two replicas' versions meet with a chance
    /// of about one in 2^64 / writes; never 0, which stands for "absent".
    fn next_version(&self) -> u64 {
        loop {
            let n = self
                .written
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let v = self
                .nonce
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            if v != 0 {
                return v;
            }
        }
    }

    /// Writes `written` under version `new` if the tenant is still at `version`;
    /// `false` when another write came first.
    async fn compare_and_set(
        &self,
        key: &ApiKey,
        version: Option<u64>,
        written: Vec<u8>,
        new: u64,
    ) -> Result<bool, StoreError> {
        let hash = self.tenant_key(key);
        self.cas(hash, "t", version.unwrap_or(0), written, new, Some(key))
            .await
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

    /// This replica's turn-taking for the writers of `key`, with the tenant as the last
    /// of them wrote it (a starting point the compare-and-set checks; dropped when one
    /// is refused, so the next reads afresh). At most
    /// [`KEPT_WRITERS`] tenants are kept; past that it starts afresh.
    fn writer(&self, key: &ApiKey) -> Writer {
        let mut writers = crate::sim::lock(&self.writers);
        if writers.len() >= KEPT_WRITERS && !writers.contains_key(key) {
            writers.clear();
        }
        std::sync::Arc::clone(writers.entry(key.clone()).or_default())
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
            let new = self.next_version();
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
        let mut merchants = std::collections::BTreeMap::new();
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
            .arg(self.next_version())
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
                .arg(self.next_version())
                .arg(key.as_str())
                .ignore();
        }
        let mut c = self.conn.clone();
        let _: () = pipe.query_async(&mut c).await.map_err(unavailable)?;
        Ok(())
    }
}

/// `apply` run on `tenant`, whose JSON was `before` (`None`: never written): its JSON
/// after, and whether that differs (the same JSON is the same tenant).
fn run(
    apply: &mut (dyn FnMut(&mut Tenant) + Send),
    tenant: &mut Tenant,
    before: Option<&[u8]>,
) -> Result<(Vec<u8>, bool), StoreError> {
    apply(tenant);
    let written = serde_json::to_vec(tenant).map_err(corrupt)?;
    let changed = before != Some(written.as_slice());
    Ok((written, changed))
}

/// A store future that waits on Redis.
fn boxed<'a, T: Send + 'a>(
    f: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'a,
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
            let prefetch = std::sync::Arc::new(Prefetch {
                clock,
                book_version: book_version.unwrap_or(0),
                tenant: std::sync::Mutex::new(Some(tenant)),
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
            let new = self.next_version();
            let set = self.cas(self.name("faults"), "b", version, book, new, None);
            Ok(set.await?.then_some(new))
        })
    }

    fn append_journal(&self, entry: Vec<u8>, capacity: usize) -> StoreFuture<'_, u64> {
        boxed(async move {
            let mut c = self.conn.clone();
            self.append
                .key(self.name("journal"))
                .key(self.name("journal:n"))
                .arg(entry)
                .arg(capacity)
                .invoke_async(&mut c)
                .await
                .map_err(unavailable)
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
