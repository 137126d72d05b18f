//! The request journal: the latest requests, in bounded memory, for "was it called
//! exactly once?" assertions (as in WireMock's verification) and the dashboard.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::sim::{ApiKey, Timestamp, lock};

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
