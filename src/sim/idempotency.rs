//! The idempotency store: one per API key, keyed by method + path + `Idempotency-Key`,
//! remembering a fingerprint of the body and the response for 24 simulated hours.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// How long a key is remembered.
pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a claim holds its key while its request runs, on the wall clock: a
/// replica that dies mid-request (or a process stopped while a request ran, its state
/// saved) leaves a claim nobody will finish; after this the key can be used again.
/// Wall time, not simulated time: it measures a real request, and a frozen simulated
/// clock must not keep a dead claim forever. Far longer than a claim is held: between
/// the claim and its answer a request only runs its command and writes its tenant
/// (injected delays come before the claim), milliseconds, or seconds while a shared
/// store is slow to answer.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// The most keys remembered per API key by default (`--max-idempotency-keys`); the
/// oldest are forgotten first ([`IdempotencyStore::forget_beyond`]), so a client that
/// sends a new key on every request cannot grow memory without bound.
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// A response as it was sent, replayed verbatim. Opaque to the simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// The status code.
    pub status: u16,
    /// The headers to replay (name, value).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// What a request with an `Idempotency-Key` should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key is new (or expired): run the request, then [`IdempotencyStore::finish`].
    FirstRun,
    /// The same key and body completed before: send this again, mutate nothing.
    Replay(StoredResponse),
    /// The same key with another body.
    Conflict,
    /// The same key while the first request is still running.
    InProgress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Slot {
    /// A request runs with the key; its claim lapses at `lease_until` (wall time;
    /// absent in state saved before leases: a claim that has lapsed).
    InFlight {
        #[serde(
            default,
            rename = "leaseUntil",
            skip_serializing_if = "Option::is_none"
        )]
        lease_until: Option<Timestamp>,
    },
    Done {
        response: StoredResponse,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    fingerprint: u64,
    expires_at: Timestamp,
    slot: Slot,
}

/// One API key's remembered idempotency keys. Kept with the tenant (a shared store
/// writes it with the merchant, so a claim is as atomic as a command), as the list of
/// [`Remembered`] keys in the order they were first used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<Remembered>", from = "Vec<Remembered>")]
pub struct IdempotencyStore {
    /// (scope = "METHOD path", key) → entry.
    entries: HashMap<(String, String), Entry>,
    /// Keys in the order they were first used, which is also their expiry order.
    order: VecDeque<(Timestamp, (String, String))>,
}

/// One remembered key, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remembered {
    scope: String,
    key: String,
    fingerprint: u64,
    expires_at: Timestamp,
    slot: Slot,
}

impl From<IdempotencyStore> for Vec<Remembered> {
    fn from(mut store: IdempotencyStore) -> Self {
        store
            .order
            .into_iter()
            .filter_map(|(expires_at, id)| {
                // A forgotten and reused key has a newer entry: only that one is kept.
                let e = store
                    .entries
                    .remove(&id)
                    .filter(|e| e.expires_at == expires_at)?;
                Some(Remembered {
                    scope: id.0,
                    key: id.1,
                    fingerprint: e.fingerprint,
                    expires_at,
                    slot: e.slot,
                })
            })
            .collect()
    }
}

impl From<Vec<Remembered>> for IdempotencyStore {
    fn from(list: Vec<Remembered>) -> Self {
        let mut store = IdempotencyStore::default();
        for r in list {
            let id = (r.scope, r.key);
            store.order.push_back((r.expires_at, id.clone()));
            store.entries.insert(
                id,
                Entry {
                    fingerprint: r.fingerprint,
                    expires_at: r.expires_at,
                    slot: r.slot,
                },
            );
        }
        store
    }
}

impl IdempotencyStore {
    /// Starts (or replays) a request. `scope` is the method and path; `fingerprint`
    /// identifies the body; `now` is simulated time (keys are kept [`TTL`] of it) and
    /// `wall` the wall clock (a claim's lease, [`CLAIM_LEASE`]).
    pub fn begin(
        &mut self,
        scope: &str,
        key: &str,
        fingerprint: u64,
        now: Timestamp,
        wall: Timestamp,
    ) -> Begin {
        self.expire(now);
        let id = (scope.to_owned(), key.to_owned());
        if let Some(entry) = self.entries.get(&id) {
            let lapsed = match entry.slot {
                Slot::InFlight { lease_until } => lease_until.is_none_or(|until| until <= wall),
                Slot::Done { .. } => false,
            };
            if !lapsed {
                return if entry.fingerprint != fingerprint {
                    Begin::Conflict
                } else {
                    match &entry.slot {
                        Slot::InFlight { .. } => Begin::InProgress,
                        Slot::Done { response } => Begin::Replay(response.clone()),
                    }
                };
            }
            // A claim nobody finished: the key is free again (its old place in the
            // expiry order no longer matches and is skipped).
            self.entries.remove(&id);
        }
        let expires_at = now.plus(TTL);
        self.entries.insert(
            id.clone(),
            Entry {
                fingerprint,
                expires_at,
                slot: Slot::InFlight {
                    lease_until: Some(wall.plus(CLAIM_LEASE)),
                },
            },
        );
        self.order.push_back((expires_at, id));
        Begin::FirstRun
    }

    /// Forgets the oldest keys until at most `max` are remembered (before their 24
    /// hours: the docs state it), so that memory per API key stays bounded.
    pub fn forget_beyond(&mut self, max: usize) {
        while self.entries.len() > max {
            let Some((expires_at, oldest)) = self.order.pop_front() else {
                break;
            };
            // A forgotten and reused key has a newer entry further on: keep that one.
            if self
                .entries
                .get(&oldest)
                .is_some_and(|e| e.expires_at == expires_at)
            {
                self.entries.remove(&oldest);
            }
        }
    }

    /// Completes a first run: `Some` stores the response for replays, `None` forgets
    /// the key (a response that must not be replayed, such as a 5xx or a 429).
    pub fn finish(&mut self, scope: &str, key: &str, response: Option<StoredResponse>) {
        let id = (scope.to_owned(), key.to_owned());
        match response {
            Some(r) => {
                if let Some(e) = self.entries.get_mut(&id) {
                    e.slot = Slot::Done { response: r };
                }
            }
            None => {
                self.entries.remove(&id);
            }
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some((expires_at, _)) = self.order.front() {
            if *expires_at > now {
                break;
            }
            if let Some((expires_at, id)) = self.order.pop_front() {
                // A forgotten and reused key has a newer entry: keep that one.
                if self
                    .entries
                    .get(&id)
                    .is_some_and(|e| e.expires_at == expires_at)
                {
                    self.entries.remove(&id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wall clock in these tests (claims' leases).
    const WALL: Timestamp = Timestamp(0);

    fn response(status: u16) -> StoredResponse {
        StoredResponse {
            status,
            headers: vec![],
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn first_run_then_replay_then_conflict() {
        let mut s = IdempotencyStore::default();
        let t = Timestamp(0);
        assert_eq!(s.begin("POST /a", "k", 1, t, WALL), Begin::FirstRun);
        assert_eq!(s.begin("POST /a", "k", 1, t, WALL), Begin::InProgress);
        s.finish("POST /a", "k", Some(response(200)));
        assert_eq!(
            s.begin("POST /a", "k", 1, t, WALL),
            Begin::Replay(response(200))
        );
        assert_eq!(s.begin("POST /a", "k", 2, t, WALL), Begin::Conflict);
    }

    #[test]
    fn keys_are_scoped_by_method_and_path() {
        let mut s = IdempotencyStore::default();
        assert_eq!(
            s.begin("POST /a", "k", 1, Timestamp(0), WALL),
            Begin::FirstRun
        );
        assert_eq!(
            s.begin("POST /b", "k", 2, Timestamp(0), WALL),
            Begin::FirstRun
        );
    }

    #[test]
    fn keys_expire_after_24_hours_of_simulated_time() {
        let mut s = IdempotencyStore::default();
        s.begin("POST /a", "k", 1, Timestamp(0), WALL);
        s.finish("POST /a", "k", Some(response(200)));
        let just_before = Timestamp(TTL.as_millis() as i64 - 1);
        assert!(matches!(
            s.begin("POST /a", "k", 1, just_before, WALL),
            Begin::Replay(_)
        ));
        let after = Timestamp(TTL.as_millis() as i64);
        assert_eq!(s.begin("POST /a", "k", 2, after, WALL), Begin::FirstRun);
    }

    #[test]
    fn unstored_outcomes_forget_the_key() {
        let mut s = IdempotencyStore::default();
        s.begin("POST /a", "k", 1, Timestamp(0), WALL);
        s.finish("POST /a", "k", None);
        assert_eq!(
            s.begin("POST /a", "k", 2, Timestamp(0), WALL),
            Begin::FirstRun
        );
    }

    #[test]
    fn a_stored_store_remembers_the_same_keys() {
        let mut s = IdempotencyStore::default();
        s.begin("POST /a", "k1", 1, Timestamp(0), WALL);
        s.finish("POST /a", "k1", Some(response(200)));
        s.begin("POST /a", "k2", 2, Timestamp(5), WALL);
        let text = serde_json::to_string(&s).unwrap();
        let mut back: IdempotencyStore = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.begin("POST /a", "k1", 1, Timestamp(9), WALL),
            Begin::Replay(response(200))
        );
        assert_eq!(
            back.begin("POST /a", "k2", 2, Timestamp(9), WALL),
            Begin::InProgress
        );
        assert_eq!(
            back.begin("POST /a", "k3", 3, Timestamp(9), WALL),
            Begin::FirstRun
        );
        let expired = Timestamp(TTL.as_millis() as i64);
        assert_eq!(
            back.begin("POST /a", "k1", 1, expired, WALL),
            Begin::FirstRun
        );
    }

    #[test]
    fn a_claim_nobody_finishes_lapses_after_its_lease_of_wall_time() {
        let mut s = IdempotencyStore::default();
        let frozen = Timestamp(0);
        assert_eq!(s.begin("POST /a", "k", 1, frozen, WALL), Begin::FirstRun);
        let lease = CLAIM_LEASE.as_millis() as i64;
        let just_before = Timestamp(lease - 1);
        assert_eq!(
            s.begin("POST /a", "k", 1, frozen, just_before),
            Begin::InProgress
        );
        assert_eq!(
            s.begin("POST /a", "k", 2, frozen, just_before),
            Begin::Conflict
        );
        // The simulated clock has not moved; the wall clock has: the key is free.
        let lapsed = Timestamp(lease);
        assert_eq!(s.begin("POST /a", "k", 2, frozen, lapsed), Begin::FirstRun);
        s.finish("POST /a", "k", Some(response(201)));
        let later = Timestamp(lease * 10);
        assert_eq!(
            s.begin("POST /a", "k", 2, frozen, later),
            Begin::Replay(response(201))
        );
        assert_eq!(s.len(), 1);
        let text = serde_json::to_string(&s).unwrap();
        let back: IdempotencyStore = serde_json::from_str(&text).unwrap();
        assert_eq!(back.len(), 1, "the key once, as last claimed: {text}");
    }

    #[test]
    fn a_claim_saved_before_leases_existed_has_lapsed() {
        let text = r#"[{"scope":"POST /a","key":"k","fingerprint":1,"expiresAt":86400000,"slot":{"state":"in_flight"}}]"#;
        let mut s: IdempotencyStore = serde_json::from_str(text).unwrap();
        assert_eq!(s.begin("POST /a", "k", 1, WALL, WALL), Begin::FirstRun);
    }

    /// Past the limit the oldest keys are forgotten first; the newest still replay.
    #[test]
    fn memory_is_bounded_and_the_oldest_keys_go_first() {
        let mut s = IdempotencyStore::default();
        for i in 0..150 {
            s.begin("POST /a", &i.to_string(), 1, Timestamp(i), WALL);
            s.finish("POST /a", &i.to_string(), Some(response(200)));
            s.forget_beyond(100);
        }
        assert_eq!(s.len(), 100);
        assert_eq!(
            s.begin("POST /a", "49", 1, Timestamp(200), WALL),
            Begin::FirstRun,
            "the oldest was forgotten"
        );
        assert!(matches!(
            s.begin("POST /a", "149", 1, Timestamp(200), WALL),
            Begin::Replay(_)
        ));
    }
}
