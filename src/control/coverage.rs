//! Coverage: what a consumer's tests actually met. Counted at request time (not from
//! the capped journal), per key and per run (`X-Mock-Run: NAME`; absent: the key's
//! `default` run): each operation × each status it answered, natural or injected by a
//! fault rule; the simulator states the answers showed (integration status, sync
//! health, breaker, sync log entries, a refused mapping, a second page, a replay); the
//! error classes. Counters, not entries, so a run's memory is bounded whatever it sends.
//!
//! In one process, counting costs a request a thread-local lookup and an uncontended
//! lock: each worker thread counts in a shard of its own, and a report adds the shards
//! up. With a store shared by replicas (Redis) the counters go to the store instead, in
//! the journal's round trip ([`Coverage::record_in`]), and a report reads them there.

use crate::fast_map::FastMap;
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::sim::{ApiKey, lock};
use crate::spec::{Contract, StatusKey};
use crate::store::{Counters, Store, StoreError};

/// The request header that names a run.
pub const RUN_HEADER: &str = "x-mock-run";

/// The run of requests that name none.
pub const DEFAULT_RUN: &str = "default";

/// The longest run name; longer ones, or ones with other characters than letters,
/// digits, `.`, `_`, `-` and `:`, count in the default run.
pub const MAX_RUN_NAME: usize = 64;

/// The statuses counted per operation; an operation answered with more distinct
/// statuses counts the rest under its last slot's neighbours (never happens with the
/// mock's own contract, whose operations document fewer than ten).
const MAX_STATUSES: usize = 16;

/// How many (key, run) pairs the sandbox counts at once; past it the least recently
/// used goes (a run is read soon after it ran).
pub const MAX_RUNS: usize = 2_000;

/// How many runs one key counts at once; past it its least recently used goes.
pub const MAX_RUNS_PER_KEY: usize = 32;

macro_rules! catalogue {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($variant:ident = ($text:literal, $hint:literal),)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($variant,)* }

        impl $name {
            /// Every one, in report order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// Its name in reports.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// How to stage it.
            pub fn hint(self) -> &'static str {
                match self { $($name::$variant => $hint,)* }
            }
        }
    };
}

catalogue! {
    /// A simulator state an answer showed.
    pub enum State {
        IntegrationConnected = ("integration.status.connected", "activate an integration (POST /v2/integrations/{provider}/activate)"),
        IntegrationError = ("integration.status.error", "a sync that fails: stage an outage (POST /__mock/self/faults {\"rules\": [{\"match\": {\"provider\": \"wodify\"}, \"action\": {\"type\": \"provider_outage\", \"syncs\": 1}}]}), then trigger a sync"),
        IntegrationSyncing = ("integration.status.syncing", "a sync still running: serve with --sync-duration 30s, trigger a sync and read the integration at once"),
        IntegrationIdle = ("integration.status.idle", "deactivate an integration (POST /v2/integrations/{provider}/deactivate), then read it"),
        HealthHealthy = ("syncHealth.healthy", "read an active integration whose last sync succeeded"),
        HealthDegraded = ("syncHealth.degraded", "failed syncs below the breaker's threshold: the degraded fixture (POST /__mock/self/fixtures/degraded), or an outage of 2 syncs and two triggered syncs"),
        HealthPaused = ("syncHealth.paused", "open the breaker (see breaker.open), or turn automatic sync off (PUT /v2/integrations/{provider}/sync-toggle {\"enabled\": false})"),
        BreakerClosed = ("breaker.closed", "read an active integration (providerState.mode)"),
        BreakerOpen = ("breaker.open", "five failed syncs: the breaker-open fixture (POST /__mock/self/fixtures/breaker-open), or an outage of 5 syncs and POST /__mock/self/clock/advance {\"seconds\": 7200}"),
        BreakerHalfOpen = ("breaker.half_open", "serve with --breaker-cooldown 15m, open the breaker, then advance your clock past the cool-down and read it before the next scheduled sync"),
        AutoSyncOff = ("integration.syncEnabled.false", "turn automatic sync off (PUT /v2/integrations/{provider}/sync-toggle {\"enabled\": false})"),
        LogSuccess = ("syncLog.success", "list the sync logs (GET /v2/integrations/{provider}/sync-logs) after a successful sync"),
        LogFailedRetryable = ("syncLog.failed.retryable", "list the sync logs after a failed sync (an outage, then POST .../sync)"),
        LogFailedFinal = ("syncLog.failed.notRetryable", "list the sync logs after a failed entry was retried or covered by a later success (its retryable is false)"),
        LogSyncing = ("syncLog.syncing", "list the sync logs while a sync runs (serve with --sync-duration 30s)"),
        LogSkipped = ("syncLog.skipped", "deactivate an integration while a sync runs (--sync-duration 30s), then list its sync logs"),
        MappingRefused = ("mapping.refused", "PUT /v2/integrations/{provider}/product-mappings with an externalId the catalog does not have, or the same one twice"),
        PageFollowed = ("pagination.followed", "ask for a second page (?offset=25, or the next offset a page's pagination gives)"),
        Replayed = ("idempotency.replayed", "send the same write twice with the same Idempotency-Key and body"),
    }
}

catalogue! {
    /// A class of refusal.
    pub enum ErrorClass {
        MissingKey = ("401.missing_api_key", "call without an x-api-key header"),
        InvalidKey = ("401.invalid_api_key", "call with a malformed key (x-api-key: not-a-key)"),
        RevokedKey = ("401.revoked_api_key", "call with a revoked key: the auth-cases fixture's rk_sandbox_auth_revoked_00002"),
        LiveKey = ("401.live_key_rejected", "call with an rk_live_ key"),
        Forbidden = ("403", "a write with a read-only key: the auth-cases fixture's rk_sandbox_auth_read_only_003"),
        NotFound = ("404", "read an integration never activated, or an unknown provider or id"),
        Conflict = ("409.conflict", "activate an integration that is already active"),
        IdempotencyConflict = ("409.idempotency", "reuse an Idempotency-Key with another body"),
        Validation = ("400/422.validation", "send a body the schema refuses (syncIntervalMinutes: 3)"),
        RateLimited = ("429", "a fault rule (POST /__mock/self/faults {\"rules\": [{\"action\": {\"type\": \"rate_limit\", \"retryAfter\": 1}, \"count\": 1}]}), or serve with --rate-limit"),
        ServerError = ("5xx", "a fault rule (POST /__mock/self/faults {\"rules\": [{\"action\": {\"type\": \"error\", \"status\": 503}, \"count\": 1}]})"),
    }
}

impl ErrorClass {
    /// The class of a refusal with `status` and envelope `code`.
    pub fn of(status: u16, code: &str) -> Option<Self> {
        Some(match (status, code) {
            (401, "missing_api_key") => ErrorClass::MissingKey,
            (401, "revoked_api_key") => ErrorClass::RevokedKey,
            (401, "live_key_rejected") => ErrorClass::LiveKey,
            (401, _) => ErrorClass::InvalidKey,
            (403, _) => ErrorClass::Forbidden,
            (404, _) => ErrorClass::NotFound,
            (409, c) if c.starts_with("idempotency") => ErrorClass::IdempotencyConflict,
            (409, _) => ErrorClass::Conflict,
            (400 | 422, _) => ErrorClass::Validation,
            (429, _) => ErrorClass::RateLimited,
            (500..=599, _) => ErrorClass::ServerError,
            _ => return None,
        })
    }
}

/// The states one answer showed: a bit per [`State`], marked by the operations as they
/// render (shared by reference across the answer's awaits, hence atomic).
#[derive(Debug, Default)]
pub struct Seen(AtomicU32);

impl Seen {
    /// Marks `state` as shown.
    pub fn mark(&self, state: State) {
        self.0.fetch_or(1 << state as u32, Ordering::Relaxed);
    }

    /// Marks the states `bits` holds (as [`Seen::bits`] gave them).
    pub fn mark_bits(&self, bits: u32) {
        self.0.fetch_or(bits, Ordering::Relaxed);
    }

    /// The states shown, as bits.
    pub fn bits(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One answered request, as coverage counts it.
#[derive(Debug, Clone, Copy)]
pub struct Met<'a> {
    /// The key it was authenticated with (`None`: refused before a key was known).
    pub key: Option<&'a ApiKey>,
    /// The `X-Mock-Run` header, as sent.
    pub run: Option<&'a str>,
    /// The operation answered, when the request was routed.
    pub operation: Option<usize>,
    /// The status sent.
    pub status: u16,
    /// Whether a fault rule made the answer.
    pub injected: bool,
    /// The states it showed ([`Seen::bits`]).
    pub states: u32,
    /// The envelope's `code`, for a refusal.
    pub error_code: Option<&'a str>,
}

/// A run's name, as counted: the header's when well formed, else the default.
fn run_name(header: Option<&str>) -> &str {
    match header {
        Some(r)
            if !r.is_empty()
                && r.len() <= MAX_RUN_NAME
                && r.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':')
                }) =>
        {
            r
        }
        _ => DEFAULT_RUN,
    }
}

/// One operation's statuses: `(status, natural, injected)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct OpCounts(Vec<(u16, u32, u32)>);

/// What one run met (or one shard's part of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// By operation index.
    ops: Vec<OpCounts>,
    /// Requests routed to no operation, by status.
    unrouted: OpCounts,
    states: [u32; 32],
    errors: [u32; 16],
    /// When the run last counted (the shard's tick), for eviction.
    used: u64,
}

impl Counts {
    fn count(&mut self, met: &Met<'_>) {
        let slot = match met.operation {
            Some(i) => {
                if self.ops.len() <= i {
                    self.ops.resize_with(i + 1, OpCounts::default);
                }
                &mut self.ops[i]
            }
            None => &mut self.unrouted,
        };
        let at = match slot.0.iter().position(|(s, ..)| *s == met.status) {
            Some(at) => at,
            None if slot.0.len() < MAX_STATUSES => {
                slot.0.push((met.status, 0, 0));
                slot.0.len() - 1
            }
            None => slot.0.len() - 1,
        };
        let entry = &mut slot.0[at];
        if met.injected {
            entry.2 = entry.2.saturating_add(1);
        } else {
            entry.1 = entry.1.saturating_add(1);
        }
        let mut bits = met.states;
        while bits != 0 {
            let n = &mut self.states[bits.trailing_zeros() as usize];
            *n = n.saturating_add(1);
            bits &= bits - 1;
        }
        if let Some(class) = met
            .error_code
            .and_then(|code| ErrorClass::of(met.status, code))
        {
            let n = &mut self.errors[class as usize];
            *n = n.saturating_add(1);
        }
    }

    fn add(&mut self, other: &Counts) {
        if self.ops.len() < other.ops.len() {
            self.ops.resize_with(other.ops.len(), OpCounts::default);
        }
        let merge = |into: &mut OpCounts, from: &OpCounts| {
            for &(status, natural, injected) in &from.0 {
                match into.0.iter_mut().find(|(s, ..)| *s == status) {
                    Some(e) => {
                        e.1 = e.1.saturating_add(natural);
                        e.2 = e.2.saturating_add(injected);
                    }
                    None => into.0.push((status, natural, injected)),
                }
            }
        };
        for (into, from) in self.ops.iter_mut().zip(&other.ops) {
            merge(into, from);
        }
        merge(&mut self.unrouted, &other.unrouted);
        for (a, b) in self.states.iter_mut().zip(other.states) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a = a.saturating_add(b);
        }
    }

    fn of(&self, operation: usize, status: u16) -> (u32, u32) {
        self.ops
            .get(operation)
            .and_then(|o| o.0.iter().find(|(s, ..)| *s == status))
            .map_or((0, 0), |&(_, n, i)| (n, i))
    }
}

/// A key's runs (or the runs of requests refused before a key was known), by name:
/// a few per key, so a list.
#[derive(Default)]
struct Runs(Vec<(Box<str>, Counts)>);

impl Runs {
    fn get(&self, run: &str) -> Option<&Counts> {
        self.0.iter().find(|(r, _)| &**r == run).map(|(_, c)| c)
    }
}

#[derive(Default)]
struct Shard {
    /// By key (`None`: refused before a key was known, counted in named runs only).
    keys: FastMap<ApiKey, Runs>,
    keyless: Runs,
    /// Runs held, over every key.
    held: usize,
    tick: u64,
}

/// Every run's counts, in shards (one per worker thread, as far as there are shards).
pub struct Coverage {
    shards: Box<[Mutex<Shard>]>,
    next: AtomicUsize,
    /// The runs one shard holds at most.
    per_shard: usize,
}

thread_local! {
    /// This thread's shard, chosen on its first count.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

impl Default for Coverage {
    fn default() -> Self {
        Self::new(MAX_RUNS)
    }
}

impl Coverage {
    /// Counts at most `max_runs` (key, run) pairs.
    pub fn new(max_runs: usize) -> Self {
        let shards = std::thread::available_parallelism()
            .map_or(4, usize::from)
            .clamp(2, 16);
        Coverage {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            next: AtomicUsize::new(0),
            per_shard: max_runs.div_ceil(shards).max(1),
        }
    }

    fn shard(&self) -> &Mutex<Shard> {
        let i = SHARD.with(|s| {
            if s.get() == usize::MAX {
                s.set(self.next.fetch_add(1, Ordering::Relaxed));
            }
            s.get()
        });
        &self.shards[i % self.shards.len()]
    }

    /// Counts one answered request: one lookup of the key, a short scan of its runs,
    /// no allocation but for a run met for the first time.
    pub fn record(&self, met: &Met<'_>) {
        let run = run_name(met.run);
        if met.key.is_none() && run == DEFAULT_RUN {
            // Refused before a key was known, in no named run: nobody's to count.
            return;
        }
        let mut shard = lock(self.shard());
        shard.tick += 1;
        let tick = shard.tick;
        let found = match met.key {
            Some(k) => shard.keys.get_mut(k.as_str()),
            None => Some(&mut shard.keyless),
        }
        .and_then(|runs| runs.0.iter_mut().find(|(r, _)| &**r == run))
        .map(|(_, c)| c);
        if let Some(counts) = found {
            counts.used = tick;
            counts.count(met);
            return;
        }
        let mut counts = Counts {
            used: tick,
            ..Counts::default()
        };
        counts.count(met);
        add_run(&mut shard, met.key, run, counts, self.per_shard);
    }

    /// What `key`'s run `run` (`None`: its default run) met, all shards added up; a
    /// named run also holds the requests of that name refused before a key was known.
    pub fn counts(&self, key: &ApiKey, run: Option<&str>) -> Counts {
        let run = run_name(run);
        let mut total = Counts::default();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            if let Some(c) = shard.keys.get(key.as_str()).and_then(|r| r.get(run)) {
                total.add(c);
            }
            if run != DEFAULT_RUN
                && let Some(c) = shard.keyless.get(run)
            {
                total.add(c);
            }
        }
        total
    }

    /// The runs `key` has counted, sorted.
    pub fn runs(&self, key: &ApiKey) -> Vec<String> {
        let mut runs: Vec<String> = self
            .shards
            .iter()
            .flat_map(|s| {
                lock(s)
                    .keys
                    .get(key.as_str())
                    .map(|r| r.0.iter().map(|(name, _)| name.to_string()).collect())
                    .unwrap_or_else(Vec::new)
            })
            .collect();
        runs.sort();
        runs.dedup();
        runs
    }

    /// Forgets `key`'s run `run` (every run of the key when `None`).
    pub fn forget(&self, key: &ApiKey, run: Option<&str>) {
        let run = run.map(|r| run_name(Some(r)));
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let Some(runs) = shard.keys.get_mut(key.as_str()) else {
                continue;
            };
            let before = runs.0.len();
            runs.0.retain(|(r, _)| run.is_some_and(|run| &**r != run));
            let removed = before - runs.0.len();
            if runs.0.is_empty() {
                shard.keys.remove(key.as_str());
            }
            shard.held -= removed;
        }
    }

    /// Forgets every run.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            *lock(shard) = Shard::default();
        }
    }

    /// Counts one answered request where the store keeps coverage: here, or, with a
    /// store shared by replicas, the counters to add there (in the journal's round
    /// trip, [`crate::control::journal::Journal::record_in`]).
    pub fn record_in(&self, store: &dyn Store, met: &Met<'_>) -> Option<Counters> {
        if store.shared().is_none() {
            self.record(met);
            return None;
        }
        let run = run_name(met.run);
        if met.key.is_none() && run == DEFAULT_RUN {
            return None;
        }
        Some(Counters {
            owner: met.key.map_or_else(String::new, |k| k.as_str().to_owned()),
            name: run.to_owned(),
            fields: fields(met),
            per_owner: MAX_RUNS_PER_KEY,
            in_all: MAX_RUNS,
        })
    }

    /// [`Coverage::counts`], wherever the store keeps coverage.
    pub async fn counts_in(
        &self,
        store: &dyn Store,
        key: &ApiKey,
        run: Option<&str>,
    ) -> Result<Counts, StoreError> {
        let Some(shared) = store.shared() else {
            return Ok(self.counts(key, run));
        };
        let run = run_name(run);
        let mut total = from_fields(&shared.read_counters(key.as_str(), run).await?);
        if run != DEFAULT_RUN {
            total.add(&from_fields(&shared.read_counters("", run).await?));
        }
        Ok(total)
    }

    /// [`Coverage::runs`], wherever the store keeps coverage.
    pub async fn runs_in(
        &self,
        store: &dyn Store,
        key: &ApiKey,
    ) -> Result<Vec<String>, StoreError> {
        match store.shared() {
            Some(shared) => shared.counter_names(key.as_str()).await,
            None => Ok(self.runs(key)),
        }
    }

    /// [`Coverage::forget`], wherever the store keeps coverage.
    pub async fn forget_in(
        &self,
        store: &dyn Store,
        key: &ApiKey,
        run: Option<&str>,
    ) -> Result<(), StoreError> {
        match store.shared() {
            Some(shared) => {
                let run = run.map(|r| run_name(Some(r)));
                shared.forget_counters(key.as_str(), run).await
            }
            None => {
                self.forget(key, run);
                Ok(())
            }
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.shards.iter().map(|s| lock(s).held).sum()
    }
}

/// Adds a run met for the first time, making room first: the key's least recently used
/// run past [`MAX_RUNS_PER_KEY`], and the shard's past `per_shard` (found by a scan:
/// a new run is rare next to a counted request).
fn add_run(shard: &mut Shard, key: Option<&ApiKey>, run: &str, counts: Counts, per_shard: usize) {
    let runs = match key {
        Some(k) => shard.keys.entry(k.clone()).or_default(),
        None => &mut shard.keyless,
    };
    let mut removed = 0;
    if runs.0.len() >= MAX_RUNS_PER_KEY
        && let Some(oldest) = (0..runs.0.len()).min_by_key(|&i| runs.0[i].1.used)
    {
        runs.0.swap_remove(oldest);
        removed += 1;
    }
    runs.0.push((run.into(), counts));
    shard.held = shard.held + 1 - removed;
    if shard.held > per_shard {
        let oldest = shard
            .keys
            .iter()
            .flat_map(|(k, runs)| runs.0.iter().map(move |(r, c)| (c.used, Some(k), r)))
            .chain(shard.keyless.0.iter().map(|(r, c)| (c.used, None, r)))
            .min_by_key(|(used, ..)| *used)
            .map(|(_, k, r)| (k.cloned(), r.clone()));
        if let Some((k, r)) = oldest {
            let runs = match &k {
                Some(k) => shard.keys.get_mut(k.as_str()),
                None => Some(&mut shard.keyless),
            };
            if let Some(runs) = runs {
                runs.0.retain(|(name, _)| *name != r);
                if runs.0.is_empty()
                    && let Some(k) = &k
                {
                    shard.keys.remove(k.as_str());
                }
            }
            shard.held -= 1;
        }
    }
}

/// The counters one request adds, as a shared store keeps them: `o{op}:{status}:n`
/// (natural) or `:i` (injected), `u:{status}:..` for an unrouted request, `s{bits}`
/// for the states shown together (hexadecimal), `e{class}` for its error class.
fn fields(met: &Met<'_>) -> Vec<String> {
    let kind = if met.injected { 'i' } else { 'n' };
    let mut out = vec![match met.operation {
        Some(op) => format!("o{op}:{}:{kind}", met.status),
        None => format!("u:{}:{kind}", met.status),
    }];
    if met.states != 0 {
        // The states shown together, as one counter (one HINCRBY, however many).
        out.push(format!("s{:x}", met.states));
    }
    if let Some(class) = met
        .error_code
        .and_then(|code| ErrorClass::of(met.status, code))
    {
        out.push(format!("e{}", class as usize));
    }
    out
}

/// The counts a shared store's counters hold ([`fields`]); fields it does not know are
/// left out.
fn from_fields(fields: &[(String, u64)]) -> Counts {
    let mut counts = Counts::default();
    for (field, n) in fields {
        let n = u32::try_from(*n).unwrap_or(u32::MAX);
        let mut parsed = || -> Option<()> {
            if let Some(bits) = field.strip_prefix('s') {
                let mut bits = u32::from_str_radix(bits, 16).ok()?;
                while bits != 0 {
                    let s = &mut counts.states[bits.trailing_zeros() as usize];
                    *s = s.saturating_add(n);
                    bits &= bits - 1;
                }
            } else if let Some(i) = field.strip_prefix('e') {
                let i: usize = i.parse().ok()?;
                *counts.errors.get_mut(i)? = n;
            } else {
                let (where_, rest) = field.split_at(1);
                let mut parts = rest.split(':');
                let op = parts.next()?;
                let status: u16 = parts.next()?.parse().ok()?;
                let injected = parts.next()? == "i";
                let slot = if where_ == "u" {
                    &mut counts.unrouted
                } else {
                    let op: usize = op.parse().ok()?;
                    if op > 10_000 {
                        return None;
                    }
                    if counts.ops.len() <= op {
                        counts.ops.resize_with(op + 1, OpCounts::default);
                    }
                    &mut counts.ops[op]
                };
                let at = match slot.0.iter().position(|(s, ..)| *s == status) {
                    Some(at) => at,
                    None => {
                        slot.0.push((status, 0, 0));
                        slot.0.len() - 1
                    }
                };
                if injected {
                    slot.0[at].2 = n;
                } else {
                    slot.0[at].1 = n;
                }
            }
            Some(())
        };
        let _ = parsed();
    }
    counts
}

/// What to require of a report (the `coverage` command's `--require`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// An operation answered with a status (`listIntegrations:200`).
    Status(String, u16),
    /// A state or error class met, by name (`breaker.open`, `429`).
    State(String),
}

/// The report of what `key`'s run `run` met (`counts`; `runs`: the key's runs) against
/// `contract` (the served API's): the JSON of
/// `GET /__mock/coverage` and `GET /__mock/self/coverage`.
pub fn report(
    contract: &Contract,
    counts: &Counts,
    runs: Vec<String>,
    key: &ApiKey,
    run: Option<&str>,
) -> Value {
    let mut documented = 0u32;
    let mut met = 0u32;
    let mut gaps = Vec::new();
    let operations: Vec<Value> = contract
        .operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let mut statuses: Vec<u16> = op
                .statuses()
                .into_iter()
                .filter_map(|s| match s {
                    StatusKey::Code(c) => Some(c),
                    _ => None,
                })
                .collect();
            let declared = statuses.clone();
            if let Some(o) = counts.ops.get(i) {
                statuses.extend(o.0.iter().map(|(s, ..)| *s));
            }
            statuses.sort_unstable();
            statuses.dedup();
            let rows: Vec<Value> = statuses
                .iter()
                .map(|&status| {
                    let (natural, injected) = counts.of(i, status);
                    let is_documented = declared.contains(&status);
                    let was_met = natural + injected > 0;
                    if is_documented {
                        documented += 1;
                        if was_met {
                            met += 1;
                        } else {
                            gaps.push(json!({
                                "item": format!("{}:{status}", op.id),
                                "hint": status_hint(op.method.as_str(), &op.path, status),
                            }));
                        }
                    }
                    json!({
                        "status": status,
                        "documented": is_documented,
                        "met": was_met,
                        "natural": natural,
                        "injected": injected,
                    })
                })
                .collect();
            json!({ "operationId": op.id, "statuses": rows })
        })
        .collect();
    let states: Vec<Value> = State::ALL
        .iter()
        .map(|&s| {
            let count = counts.states[s as usize];
            if count == 0 {
                gaps.push(json!({ "item": s.name(), "hint": s.hint() }));
            }
            json!({ "name": s.name(), "met": count > 0, "count": count, "hint": s.hint() })
        })
        .collect();
    let errors: Vec<Value> = ErrorClass::ALL
        .iter()
        .map(|&e| {
            let count = counts.errors[e as usize];
            if count == 0 {
                gaps.push(json!({ "item": e.name(), "hint": e.hint() }));
            }
            json!({ "name": e.name(), "met": count > 0, "count": count, "hint": e.hint() })
        })
        .collect();
    let unrouted: Vec<Value> = counts
        .unrouted
        .0
        .iter()
        .map(|&(status, natural, injected)| {
            json!({ "status": status, "natural": natural, "injected": injected })
        })
        .collect();
    let percent = if documented == 0 {
        100.0
    } else {
        (f64::from(met) * 1000.0 / f64::from(documented)).round() / 10.0
    };
    json!({
        "key": format!("…{}", key.last4()),
        "run": run_name(run),
        "runs": runs,
        "operations": operations,
        "unrouted": unrouted,
        "states": states,
        "errors": errors,
        "gaps": gaps,
        "summary": {
            "documented": documented,
            "met": met,
            "percent": percent,
            "statesMet": counts.states.iter().take(State::ALL.len()).filter(|n| **n > 0).count(),
            "states": State::ALL.len(),
            "errorsMet": counts.errors.iter().take(ErrorClass::ALL.len()).filter(|n| **n > 0).count(),
            "errors": ErrorClass::ALL.len(),
        },
    })
}

/// How to make `method path` answer `status`.
pub fn status_hint(method: &str, path: &str, status: u16) -> String {
    let call = format!("{method} /v2{path}");
    match status {
        200..=299 => format!("call {call} as documented"),
        400 | 422 => format!("call {call} with a body or parameter its schema refuses"),
        401 => {
            format!("call {call} without an x-api-key, or with a malformed, live or revoked key")
        }
        403 => format!(
            "call {call} with a key that lacks its scope (the auth-cases fixture's read-only key rk_sandbox_auth_read_only_003)"
        ),
        404 => format!(
            "call {call} for something that does not exist (an integration never activated, an unknown id)"
        ),
        409 => format!(
            "call {call} in a state it conflicts with (activate twice), or reuse an Idempotency-Key with another body"
        ),
        413 => format!("call {call} with a body over --body-limit"),
        415 => format!("call {call} with a body that is not application/json"),
        429 => format!(
            "a fault rule on {call}: POST /__mock/self/faults {{\"rules\": [{{\"match\": {{\"method\": \"{method}\", \"path\": \"{path}\"}}, \"action\": {{\"type\": \"rate_limit\", \"retryAfter\": 1}}, \"count\": 1}}]}}"
        ),
        500..=599 => format!(
            "a fault rule on {call}: POST /__mock/self/faults {{\"rules\": [{{\"match\": {{\"method\": \"{method}\", \"path\": \"{path}\"}}, \"action\": {{\"type\": \"error\", \"status\": {status}}}, \"count\": 1}}]}}"
        ),
        _ => format!("call {call} so that it answers {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ApiKey {
        ApiKey::parse(&format!("rk_sandbox_coverage_key_00000{n:02}")).unwrap()
    }

    fn met<'a>(key: Option<&'a ApiKey>, run: Option<&'a str>, status: u16) -> Met<'a> {
        Met {
            key,
            run,
            operation: Some(1),
            status,
            injected: false,
            states: 0,
            error_code: None,
        }
    }

    #[test]
    fn runs_of_a_key_do_not_mix_and_refused_requests_count_in_named_runs_only() {
        let c = Coverage::new(100);
        let (a, b) = (key(1), key(2));
        c.record(&met(Some(&a), None, 200));
        c.record(&met(Some(&a), Some("ci-42"), 404));
        c.record(&met(Some(&b), Some("ci-42"), 409));
        c.record(&Met {
            error_code: Some("missing_api_key"),
            ..met(None, Some("ci-42"), 401)
        });
        c.record(&met(None, None, 401));
        assert_eq!(c.counts(&a, None).of(1, 200), (1, 0));
        assert_eq!(c.counts(&a, None).of(1, 404), (0, 0));
        assert_eq!(c.counts(&a, None).of(1, 401), (0, 0));
        let named = c.counts(&a, Some("ci-42"));
        assert_eq!(named.of(1, 404), (1, 0));
        assert_eq!(named.of(1, 409), (0, 0), "another key's run");
        assert_eq!(named.of(1, 401), (1, 0), "refused before a key was known");
        assert_eq!(named.errors[ErrorClass::MissingKey as usize], 1);
        // A malformed run name counts in the default run.
        c.record(&met(Some(&a), Some("no spaces"), 201));
        assert_eq!(c.counts(&a, None).of(1, 201), (1, 0));
        assert_eq!(c.runs(&a), ["ci-42", "default"]);
        c.forget(&a, Some("ci-42"));
        assert_eq!(c.runs(&a), ["default"]);
    }

    #[test]
    fn counts_are_bounded_per_key_and_in_all() {
        let c = Coverage::new(40);
        let a = key(1);
        for n in 0..100 {
            let run = format!("run-{n}");
            c.record(&met(Some(&a), Some(&run), 200));
        }
        assert!(c.runs(&a).len() <= MAX_RUNS_PER_KEY, "{}", c.runs(&a).len());
        assert!(
            c.runs(&a).contains(&"run-99".to_owned()),
            "the newest stays"
        );
        for n in 0..100u8 {
            c.record(&met(Some(&key(n)), None, 200));
        }
        let held = c.held();
        let listed: usize = c
            .shards
            .iter()
            .map(|s| {
                let s = lock(s);
                s.keys.values().map(|r| r.0.len()).sum::<usize>() + s.keyless.0.len()
            })
            .sum();
        assert_eq!(held, listed);
        assert!(held <= 40 + c.shards.len(), "{held}");
        // Statuses per operation are bounded too.
        for status in 100..400 {
            c.record(&met(Some(&a), Some("statuses"), status));
        }
        let counted = c.counts(&a, Some("statuses"));
        assert!(counted.ops[1].0.len() <= MAX_STATUSES);
        c.forget(&a, None);
        assert!(c.runs(&a).is_empty());
        assert_eq!(c.held(), listed_after(&c));
    }

    fn listed_after(c: &Coverage) -> usize {
        c.shards
            .iter()
            .map(|s| {
                let s = lock(s);
                s.keys.values().map(|r| r.0.len()).sum::<usize>() + s.keyless.0.len()
            })
            .sum()
    }

    #[test]
    fn a_shared_stores_fields_read_back_as_the_counts_they_count() {
        let a = key(1);
        let mets = [
            Met {
                states: (1 << State::BreakerOpen as u32) | (1 << State::Replayed as u32),
                ..met(Some(&a), Some("r"), 200)
            },
            met(Some(&a), Some("r"), 200),
            Met {
                injected: true,
                error_code: Some("service_unavailable"),
                ..met(Some(&a), Some("r"), 503)
            },
            Met {
                operation: None,
                error_code: Some("route_not_found"),
                ..met(Some(&a), Some("r"), 404)
            },
        ];
        let local = Coverage::new(10);
        let mut shared: std::collections::HashMap<String, u64> = Default::default();
        for m in &mets {
            local.record(m);
            for f in fields(m) {
                *shared.entry(f).or_default() += 1;
            }
        }
        let mut read: Vec<(String, u64)> = shared.into_iter().collect();
        read.sort();
        let mut expected = local.counts(&a, Some("r"));
        expected.used = 0;
        let mut got = from_fields(&read);
        // The order statuses were met in is not kept.
        for o in expected.ops.iter_mut().chain([&mut expected.unrouted]) {
            o.0.sort_unstable();
        }
        for o in got.ops.iter_mut().chain([&mut got.unrouted]) {
            o.0.sort_unstable();
        }
        assert_eq!(got, expected);
        assert_eq!(
            from_fields(&[("nonsense".into(), 3), ("o99999999:1:n".into(), 1)]),
            Counts::default()
        );
    }

    #[test]
    fn error_classes_follow_status_and_code() {
        assert_eq!(
            ErrorClass::of(401, "revoked_api_key"),
            Some(ErrorClass::RevokedKey)
        );
        assert_eq!(
            ErrorClass::of(401, "invalid_api_key"),
            Some(ErrorClass::InvalidKey)
        );
        assert_eq!(
            ErrorClass::of(409, "idempotency_conflict"),
            Some(ErrorClass::IdempotencyConflict)
        );
        assert_eq!(
            ErrorClass::of(409, "integration_already_active"),
            Some(ErrorClass::Conflict)
        );
        assert_eq!(
            ErrorClass::of(503, "service_unavailable"),
            Some(ErrorClass::ServerError)
        );
        assert_eq!(ErrorClass::of(200, ""), None);
        assert!(State::ALL.len() <= 32 && ErrorClass::ALL.len() <= 16);
    }
}
