//! The request journal: the latest requests, in bounded memory, for "was it called
//! exactly once?" assertions (as in WireMock's verification) and the dashboard.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::sim::Timestamp;

/// How many requests are kept; older ones are forgotten first.
pub const CAPACITY: usize = 1000;

/// One request as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Increasing number.
    pub id: u64,
    /// Simulated time of the request.
    #[serde(serialize_with = "rfc3339")]
    pub at: Timestamp,
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string.
    pub query: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The `x-api-key` sent (sandbox keys only: live keys are never kept).
    pub key: Option<String>,
    /// The request id.
    pub request_id: String,
    /// The operation answered, if any.
    pub operation_id: Option<String>,
    /// How long the answer took.
    pub latency_micros: u64,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
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
                .is_none_or(|k| e.key.as_deref() == Some(k.as_str()))
            && self.status.is_none_or(|s| s == e.status)
            && self.since.is_none_or(|t| e.at >= t)
    }
}

/// The journal.
#[derive(Debug, Default)]
pub struct Journal {
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl Journal {
    /// Records a request (its `id` is assigned here).
    pub fn record(&mut self, mut entry: Entry) {
        self.next_id += 1;
        entry.id = self.next_id;
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Matching entries, latest first, at most `limit`.
    pub fn query(&self, m: &Matcher, limit: usize) -> Vec<Entry> {
        self.entries
            .iter()
            .rev()
            .filter(|e| m.matches(e))
            .take(limit)
            .cloned()
            .collect()
    }

    /// How many entries match.
    pub fn count(&self, m: &Matcher) -> usize {
        self.entries.iter().filter(|e| m.matches(e)).count()
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
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
            key: Some("k".into()),
            request_id: "r".into(),
            operation_id: None,
            latency_micros: 1,
        }
    }

    #[test]
    fn queries_are_latest_first_and_filtered() {
        let mut j = Journal::default();
        j.record(entry("GET", "/v2/integrations", 200, 1));
        j.record(entry("POST", "/v2/integrations/wodify/sync", 400, 2));
        j.record(entry("POST", "/v2/integrations/wodify/sync", 200, 3));
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
        let mut j = Journal::default();
        for i in 0..(CAPACITY + 10) {
            j.record(entry("GET", "/", 200, i as i64));
        }
        assert_eq!(j.count(&Matcher::default()), CAPACITY);
    }
}
