//! The request journal: the latest requests, in bounded memory, for "was it called
//! exactly once?" assertions (as in WireMock's verification) and the dashboard.

use std::borrow::Cow;
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

/// One request as the pipeline reports it: borrowed from the request, copied into the
/// journal's slot (the request's own buffers are freed when it ends, so the allocator
/// hands the next request the blocks this one just used, still in cache).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Simulated time of the request.
    pub at: Timestamp,
    /// The method.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The query string.
    pub query: Option<&'a str>,
    /// The status answered (0: the connection was dropped).
    pub status: u16,
    /// The sandbox key that was authenticated.
    pub key: Option<&'a ApiKey>,
    /// The request id.
    pub request_id: &'a str,
    /// The operation answered, if any.
    pub operation_id: Option<&'a str>,
    /// How long the answer took.
    pub latency_micros: u64,
}

impl Record<'_> {
    /// A new entry holding this record (its `id` is given by the journal).
    fn entry(&self) -> Entry {
        Entry {
            id: 0,
            at: self.at,
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            query: self.query.map(str::to_owned),
            status: self.status,
            key: self.key.cloned(),
            request_id: self.request_id.to_owned(),
            operation_id: self.operation_id.map(str::to_owned),
            latency_micros: self.latency_micros,
        }
    }

    /// Overwrites `e` with this record, in the buffers `e` already has: a full shard
    /// reuses its oldest entry, so recording allocates nothing once the shard is full.
    fn overwrite(&self, e: &mut Entry) {
        fn text(slot: &mut String, value: &str) {
            slot.clear();
            slot.push_str(value);
        }
        fn optional(slot: &mut Option<String>, value: Option<&str>) {
            match (slot.as_mut(), value) {
                (Some(s), Some(v)) => text(s, v),
                (_, v) => *slot = v.map(str::to_owned),
            }
        }
        e.at = self.at;
        text(&mut e.method, self.method);
        text(&mut e.path, self.path);
        optional(&mut e.query, self.query);
        e.status = self.status;
        e.key = self.key.cloned();
        text(&mut e.request_id, self.request_id);
        optional(&mut e.operation_id, self.operation_id);
        e.latency_micros = self.latency_micros;
    }
}

/// An entry as a journal shared by replicas keeps it (JSON in the store): the whole
/// key, which filters and counts match; its number is the store's.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kept<'a> {
    at: Timestamp,
    method: Cow<'a, str>,
    path: Cow<'a, str>,
    query: Option<Cow<'a, str>>,
    status: u16,
    key: Option<Cow<'a, str>>,
    request_id: Cow<'a, str>,
    operation_id: Option<Cow<'a, str>>,
    latency_micros: u64,
}

impl<'a> Kept<'a> {
    fn of(r: &Record<'a>) -> Self {
        Kept {
            at: r.at,
            method: r.method.into(),
            path: r.path.into(),
            query: r.query.map(Cow::from),
            status: r.status,
            key: r.key.map(|k| k.as_str().into()),
            request_id: r.request_id.into(),
            operation_id: r.operation_id.map(Cow::from),
            latency_micros: r.latency_micros,
        }
    }

    fn entry(self, id: u64) -> Entry {
        Entry {
            id,
            at: self.at,
            method: self.method.into_owned(),
            path: self.path.into_owned(),
            query: self.query.map(Cow::into_owned),
            status: self.status,
            key: self.key.and_then(|k| ApiKey::parse(&k).ok()),
            request_id: self.request_id.into_owned(),
            operation_id: self.operation_id.map(Cow::into_owned),
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
    /// Records a request (its `id` is assigned here). A full shard overwrites its
    /// oldest entry in place.
    pub fn record(&self, record: &Record<'_>) {
        let id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let shard = SHARD.try_with(|s| *s).unwrap_or(0);
        let mut entries = lock(&self.shards[shard]);
        let mut entry = if entries.len() == CAPACITY {
            let mut oldest = entries.pop_front().expect("a full shard has entries");
            record.overwrite(&mut oldest);
            oldest
        } else {
            record.entry()
        };
        entry.id = id;
        entries.push_back(entry);
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
    pub async fn record_in(
        &self,
        store: &dyn Store,
        record: &Record<'_>,
        counted: Option<Counters>,
    ) {
        let Some(shared) = store.shared() else {
            self.record(record);
            return;
        };
        let written = match serde_json::to_vec(&Kept::of(record)) {
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

    const KEY: &str = "rk_sandbox_journal_test_key_0001";

    fn record<'a>(
        method: &'a str,
        path: &'a str,
        status: u16,
        at: i64,
        key: &'a ApiKey,
    ) -> Record<'a> {
        Record {
            at: Timestamp(at),
            method,
            path,
            query: None,
            status,
            key: Some(key),
            request_id: "r",
            operation_id: None,
            latency_micros: 1,
        }
    }

    #[test]
    fn queries_are_latest_first_and_filtered() {
        let j = Journal::default();
        let key = ApiKey::parse(KEY).unwrap();
        j.record(&record("GET", "/v2/integrations", 200, 1, &key));
        j.record(&record(
            "POST",
            "/v2/integrations/wodify/sync",
            400,
            2,
            &key,
        ));
        j.record(&record(
            "POST",
            "/v2/integrations/wodify/sync",
            200,
            3,
            &key,
        ));
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
        let key = ApiKey::parse(KEY).unwrap();
        for i in 0..(CAPACITY + 10) {
            j.record(&record("GET", "/", 200, i as i64, &key));
        }
        assert_eq!(j.count(&Matcher::default()), CAPACITY);
    }

    #[test]
    fn an_overwritten_entry_holds_only_the_new_request() {
        let j = Journal::default();
        let (old, new) = (
            ApiKey::parse(KEY).unwrap(),
            ApiKey::parse("rk_sandbox_journal_test_key_0002").unwrap(),
        );
        for i in 0..CAPACITY {
            j.record(&Record {
                query: Some("page=2&limit=50"),
                operation_id: Some("listIntegrations"),
                request_id: "an-older-and-longer-request-id",
                ..record(
                    "GET",
                    "/v2/integrations/practicehub/sync-logs",
                    200,
                    i as i64,
                    &old,
                )
            });
        }
        for i in 0..CAPACITY {
            let (query, operation_id) = if i.is_multiple_of(2) {
                (None, Some("syncIntegration"))
            } else {
                (Some("x=1"), None)
            };
            j.record(&Record {
                query,
                operation_id,
                key: (!i.is_multiple_of(3)).then_some(&new),
                ..record("POST", "/v2/x", 202, 10_000 + i as i64, &new)
            });
        }
        let all = j.query(&Matcher::default(), usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        for e in &all {
            let i = (e.at.0 - 10_000) as usize;
            let (query, operation_id) = if i.is_multiple_of(2) {
                (None, Some("syncIntegration"))
            } else {
                (Some("x=1"), None)
            };
            assert_eq!(
                (e.method.as_str(), e.path.as_str(), e.status),
                ("POST", "/v2/x", 202)
            );
            assert_eq!(
                (e.query.as_deref(), e.operation_id.as_deref()),
                (query, operation_id)
            );
            assert_eq!(e.key.as_ref(), (!i.is_multiple_of(3)).then_some(&new));
            assert_eq!(e.request_id, "r");
        }
    }

    #[test]
    fn records_of_many_threads_read_as_one_window_latest_first() {
        let j = Journal::default();
        let key = ApiKey::parse(KEY).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (j, key) = (&j, &key);
                s.spawn(move || {
                    for i in 0..CAPACITY {
                        j.record(&record("GET", &format!("/t{t}"), 200, i as i64, key));
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
