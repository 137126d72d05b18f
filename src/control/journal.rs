//! The request journal: the latest requests, in bounded memory, for "was it called
//! exactly once?" assertions (as in WireMock's verification) and the dashboard.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::sim::{ApiKey, Timestamp, lock};
use crate::store::{Counters, Store, StoreError};

/// How many requests are kept; older ones are forgotten first.
pub const CAPACITY: usize = 1000;

/// One request as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Increasing number.
    pub id: u64,
    /// Simulated time of the request.
    #[serde(serialize_with = "crate::sim::serialize_rfc3339")]
    pub at: Timestamp,
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string.
    pub query: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The `x-api-key` sent (sandbox keys only: live keys are never kept). Shown to
    /// people as its last four characters; filters and counts match the whole key.
    #[serde(serialize_with = "last4")]
    pub key: Option<ApiKey>,
    /// The request id.
    pub request_id: String,
    /// The operation answered, if any.
    pub operation_id: Option<String>,
    /// How long the answer took.
    pub latency_micros: u64,
}

/// An entry as a journal shared by replicas keeps it (JSON in the store): the whole
/// key, which filters and counts match; its number is the store's.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kept {
    at: Timestamp,
    method: String,
    path: String,
    query: Option<String>,
    status: u16,
    key: Option<String>,
    request_id: String,
    operation_id: Option<String>,
    latency_micros: u64,
}

impl Kept {
    fn of(e: Entry) -> Self {
        Kept {
            at: e.at,
            method: e.method,
            path: e.path,
            query: e.query,
            status: e.status,
            key: e.key.map(|k| k.as_str().to_owned()),
            request_id: e.request_id,
            operation_id: e.operation_id,
            latency_micros: e.latency_micros,
        }
    }

    fn entry(self, id: u64) -> Entry {
        Entry {
            id,
            at: self.at,
            method: self.method,
            path: self.path,
            query: self.query,
            status: self.status,
            key: self.key.and_then(|k| ApiKey::parse(&k).ok()),
            request_id: self.request_id,
            operation_id: self.operation_id,
            latency_micros: self.latency_micros,
        }
    }
}

/// A key as a journal reader sees it: `…` and its last four characters.
fn last4<S: serde::Serializer>(key: &Option<ApiKey>, s: S) -> Result<S::Ok, S::Error> {
    match key {
        Some(k) => s.serialize_str(&format!("…{}", k.last4())),
        None => s.serialize_none(),
    }
}

/// Which entries a query or count selects; every field given must match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// The method (any case).
    pub method: Option<String>,
    /// A path prefix.
    pub path: Option<String>,
    /// The key.
    pub key: Option<String>,
    /// The status.
    pub status: Option<u16>,
    /// Simulated time, inclusive.
    #[serde(default, deserialize_with = "opt_time")]
    pub since: Option<Timestamp>,
}

fn opt_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom))
        .transpose()
}

impl Matcher {
    /// Whether `e` is selected.
    pub fn matches(&self, e: &Entry) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&e.method))
            && self
                .path
                .as_ref()
                .is_none_or(|p| e.path.starts_with(p.as_str()))
            && self
                .key
                .as_ref()
                .is_none_or(|k| e.key.as_ref().map(ApiKey::as_str) == Some(k.as_str()))
            && self.status.is_none_or(|s| s == e.status)
            && self.since.is_none_or(|t| e.at >= t)
    }
}

/// How many shards the journal spreads its entries over (at least the worker threads).
const SHARDS: usize = 8;

/// The journal. Each thread records into a shard of its own, so recording a request
/// takes a lock no other worker is waiting on (one shared lock per request measurably
/// cut throughput, docs/performance.md); readers merge the shards by id. Every shard
/// keeps its latest [`CAPACITY`] entries, so the latest `CAPACITY` overall are always
/// among them, and that is the window queries see. Memory stays bounded: at most
/// `SHARDS × CAPACITY` entries, in practice one shard per worker thread.
pub struct Journal {
    shards: [Mutex<VecDeque<Entry>>; SHARDS],
    /// The last id given (ids start at 1 and order the entries).
    last_id: AtomicU64,
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(VecDeque::new())),
            last_id: AtomicU64::new(0),
        }
    }
}

thread_local! {
    /// The calling thread's shard, given round-robin on its first request.
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

impl Journal {
    /// Records a request (its `id` is assigned here), returning the entry it forgot to
    /// make room, if any, so the caller can drop it after the shard's lock is released.
    #[must_use = "the forgotten entry is returned to be dropped outside the lock"]
    pub fn record(&self, mut entry: Entry) -> Option<Entry> {
        entry.id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let shard = SHARD.try_with(|s| *s).unwrap_or(0);
        let mut entries = lock(&self.shards[shard]);
        let forgotten = if entries.len() == CAPACITY {
            entries.pop_front()
        } else {
            None
        };
        entries.push_back(entry);
        forgotten
    }

    /// Applies `f` to the latest [`CAPACITY`] entries, latest first.
    fn latest<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Entry>) -> R) -> R {
        let shards: Vec<_> = self.shards.iter().map(lock).collect();
        let mut all: Vec<&Entry> = shards.iter().flat_map(|s| s.iter()).collect();
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
        all.truncate(CAPACITY);
        f(&mut all.into_iter())
    }

    /// Matching entries, latest first, at most `limit`.
    pub fn query(&self, m: &Matcher, limit: usize) -> Vec<Entry> {
        self.latest(|entries| {
            entries
                .filter(|e| m.matches(e))
                .take(limit)
                .cloned()
                .collect()
        })
    }

    /// How many entries match.
    pub fn count(&self, m: &Matcher) -> usize {
        self.latest(|entries| entries.filter(|e| m.matches(e)).count())
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    /// Records a request wherever the journal is kept: here, or in a store shared by
    /// replicas ([`Store::shared`]: a capped stream every replica appends to, so a
    /// journal read through any replica sees the requests of all), with the request's
    /// coverage counters (`counted`) in the same round trip. A request is in the
    /// shared journal before it is answered; when the store cannot take it, the
    /// request is still answered and the loss logged.
    pub async fn record_in(&self, store: &dyn Store, entry: Entry, counted: Option<Counters>) {
        let Some(shared) = store.shared() else {
            drop(self.record(entry)); // the forgotten entry, freed outside the lock
            return;
        };
        let written = match serde_json::to_vec(&Kept::of(entry)) {
            Ok(bytes) => shared
                .append_journal(bytes, CAPACITY, counted)
                .await
                .map(drop),
            Err(e) => Err(StoreError::Invalid(e.to_string())),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "a request could not be written to the shared journal");
        }
    }

    /// The latest [`CAPACITY`] entries wherever the journal is kept, latest first.
    async fn latest_in(&self, store: &dyn Store) -> Result<Option<Vec<Entry>>, StoreError> {
        let Some(shared) = store.shared() else {
            return Ok(None);
        };
        let kept = shared.read_journal(CAPACITY).await?;
        kept.into_iter()
            .map(|(id, bytes)| {
                serde_json::from_slice::<Kept>(&bytes)
                    .map(|k| k.entry(id))
                    .map_err(|e| StoreError::Invalid(format!("a journal entry: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// [`Journal::query`], wherever the journal is kept.
    pub async fn query_in(
        &self,
        store: &dyn Store,
        m: &Matcher,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        Ok(match self.latest_in(store).await? {
            Some(all) => all
                .into_iter()
                .filter(|e| m.matches(e))
                .take(limit)
                .collect(),
            None => self.query(m, limit),
        })
    }

    /// [`Journal::count`], wherever the journal is kept.
    pub async fn count_in(&self, store: &dyn Store, m: &Matcher) -> Result<usize, StoreError> {
        Ok(match self.latest_in(store).await? {
            Some(all) => all.iter().filter(|e| m.matches(e)).count(),
            None => self.count(m),
        })
    }

    /// [`Journal::clear`], wherever the journal is kept.
    pub async fn clear_in(&self, store: &dyn Store) -> Result<(), StoreError> {
        match store.shared() {
            Some(shared) => shared.clear_journal().await,
            None => {
                self.clear();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, status: u16, at: i64) -> Entry {
        Entry {
            id: 0,
            at: Timestamp(at),
            method: method.into(),
            path: path.into(),
            query: None,
            status,
            key: ApiKey::parse("rk_sandbox_journal_test_key_0001").ok(),
            request_id: "r".into(),
            operation_id: None,
            latency_micros: 1,
        }
    }

    #[test]
    fn queries_are_latest_first_and_filtered() {
        let j = Journal::default();
        let _ = j.record(entry("GET", "/v2/integrations", 200, 1));
        let _ = j.record(entry("POST", "/v2/integrations/wodify/sync", 400, 2));
        let _ = j.record(entry("POST", "/v2/integrations/wodify/sync", 200, 3));
        let all = j.query(&Matcher::default(), 10);
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2, 1]);
        let m = Matcher {
            method: Some("post".into()),
            status: Some(200),
            ..Matcher::default()
        };
        assert_eq!(j.count(&m), 1);
        let m = Matcher {
            since: Some(Timestamp(2)),
            ..Matcher::default()
        };
        assert_eq!(j.count(&m), 2);
    }

    #[test]
    fn memory_is_bounded() {
        let j = Journal::default();
        for i in 0..(CAPACITY + 10) {
            let _ = j.record(entry("GET", "/", 200, i as i64));
        }
        assert_eq!(j.count(&Matcher::default()), CAPACITY);
    }

    #[test]
    fn records_of_many_threads_read_as_one_window_latest_first() {
        let j = Journal::default();
        std::thread::scope(|s| {
            for t in 0..4 {
                let j = &j;
                s.spawn(move || {
                    for i in 0..CAPACITY {
                        let _ = j.record(entry("GET", &format!("/t{t}"), 200, i as i64));
                    }
                });
            }
        });
        let all = j.query(&Matcher::default(), usize::MAX);
        assert_eq!(all.len(), CAPACITY, "the latest {CAPACITY} overall");
        let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
        let expected: Vec<u64> = (1..=4 * CAPACITY as u64).rev().take(CAPACITY).collect();
        assert_eq!(ids, expected, "latest first, none missing");
        j.clear();
        assert_eq!(j.count(&Matcher::default()), 0);
    }
}
