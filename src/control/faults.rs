//! Fault injection: rules that make matching requests slow, fail, drop, or hit a rate
//! limit, and provider outages that make syncs fail. Random choices come from one
//! seeded generator, so a run with the same seed and requests repeats.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sim::{Provider, lock};
use crate::store::{Session, Store, StoreError};

/// What a rule matches; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultMatch {
    /// The method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The operation's path template (`/integrations/{provider}/sync`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The provider in the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// The API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// A delay before the answer: fixed (`ms`) or drawn from `minMs..=maxMs`.
    Latency {
        /// Fixed delay.
        #[serde(skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
        /// Range low end.
        #[serde(rename = "minMs", skip_serializing_if = "Option::is_none")]
        min_ms: Option<u64>,
        /// Range high end.
        #[serde(rename = "maxMs", skip_serializing_if = "Option::is_none")]
        max_ms: Option<u64>,
    },
    /// An error in the API's envelope: 500, 502, 503 or 504.
    Error {
        /// The status.
        status: u16,
    },
    /// The connection is closed without an answer.
    DropConnection,
    /// `429` with `Retry-After`.
    RateLimit {
        /// Retry-After seconds.
        #[serde(rename = "retryAfter", default = "one")]
        retry_after: u64,
    },
    /// The provider's syncs fail: the next `syncs`, or all for `seconds` of simulated time.
    ProviderOutage {
        /// The next N syncs fail.
        #[serde(skip_serializing_if = "Option::is_none")]
        syncs: Option<u32>,
        /// Every sync fails for this long.
        #[serde(skip_serializing_if = "Option::is_none")]
        seconds: Option<u64>,
    },
}

fn one() -> u64 {
    1
}

/// A rule as submitted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// What it matches.
    #[serde(default, rename = "match")]
    pub matcher: FaultMatch,
    /// What it does.
    pub action: FaultAction,
    /// The chance it fires on a match.
    #[serde(default = "certain")]
    pub probability: f64,
    /// Stop after this many hits.
    pub count: Option<u32>,
}

fn certain() -> f64 {
    1.0
}

/// An active rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    /// Its id (`fault-N`).
    pub id: String,
    /// What it matches.
    #[serde(rename = "match")]
    pub matcher: FaultMatch,
    /// What it does.
    pub action: FaultAction,
    /// The chance it fires on a match.
    pub probability: f64,
    /// Hits left; `None` for unlimited.
    pub remaining: Option<u32>,
    /// Times it fired.
    pub hits: u64,
}

/// What a request is about, for matching.
pub struct RequestFacts<'a> {
    /// The method.
    pub method: &'a str,
    /// The operation's path template.
    pub template: &'a str,
    /// The provider in the path, if valid.
    pub provider: Option<Provider>,
    /// The key sent.
    pub key: Option<&'a str>,
}

/// A fault to apply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer with this error status.
    Error(u16),
    /// Close the connection.
    Drop,
    /// Answer 429.
    RateLimit(u64),
}

/// The fault book behind its lock, with a flag every request reads instead of taking
/// the lock: most runs have no rules, and a lock taken by every request on every
/// worker thread is a measurable cost (docs/performance.md).
///
/// With a store shared by replicas ([`Store::shared`]) the book is kept there instead,
/// so a rule added through one replica fires on all, its count and its draws shared:
/// each request learns the book's version from its authentication's round trip and
/// reads the book only when that version is new to this replica; a request that a
/// rule matches changes the book (hits, count, the generator) by compare-and-set.
pub struct FaultRules {
    book: Mutex<FaultBook>,
    /// Whether the book holds a rule; updated under the lock after every change.
    armed: AtomicBool,
    /// The seed a shared book starts from when there is none yet.
    seed: u64,
    /// The shared book's version this replica last read, and whether it held a rule.
    seen: Mutex<(u64, bool)>,
}

/// The name under which a store that outlives the process keeps the book.
const KEPT: &str = "faults";

/// How often a change of the shared book is tried again when another replica changed
/// it first.
const MAX_ATTEMPTS: usize = 64;

impl FaultRules {
    /// An empty book whose probabilities draw from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            book: Mutex::new(FaultBook::new(seed)),
            armed: AtomicBool::new(false),
            seed,
            seen: Mutex::new((0, false)),
        }
    }

    /// Runs `f` on the book, wherever it is kept: this process's (as [`Self::with`]),
    /// or the store's, read and written back by compare-and-set when `f` changed it
    /// (`f` may then run more than once; its last run counts).
    pub async fn update<R>(
        &self,
        store: &dyn Store,
        mut f: impl FnMut(&mut FaultBook) -> R,
    ) -> Result<R, StoreError> {
        let Some(shared) = store.shared() else {
            let result = self.with(f);
            self.keep_in(store).await?;
            return Ok(result);
        };
        for _ in 0..MAX_ATTEMPTS {
            let (version, stored) = shared.read_book().await?;
            let mut book = match &stored {
                Some(bytes) => serde_json::from_slice::<FaultBook>(bytes)
                    .map_err(|e| StoreError::Invalid(format!("the fault book: {e}")))?,
                None => FaultBook::new(self.seed),
            };
            let result = f(&mut book);
            let written = serde_json::to_vec(&book)
                .map_err(|e| StoreError::Invalid(format!("the fault book: {e}")))?;
            let version = if stored.as_deref() == Some(written.as_slice()) {
                version
            } else {
                match shared.write_book(version, written).await? {
                    Some(new) => new,
                    None => continue,
                }
            };
            *lock(&self.seen) = (version, !book.rules.is_empty());
            return Ok(result);
        }
        Err(StoreError::Unavailable(
            "the fault book kept changing under this update".into(),
        ))
    }

    /// The effects of the rules that fire for a request (of `session`, when it was
    /// authenticated), wherever the book is kept.
    pub async fn effects(
        &self,
        store: &dyn Store,
        session: Option<&Session>,
        facts: &RequestFacts<'_>,
    ) -> Result<Vec<Effect>, StoreError> {
        let Some(shared) = store.shared() else {
            if !self.armed() {
                return Ok(Vec::new());
            }
            let effects = self.with(|book| book.effects(facts));
            if !effects.is_empty() {
                // A rule fired: its count may have moved on.
                self.keep_in(store).await?;
            }
            return Ok(effects);
        };
        let version = shared.book_version(session).await?;
        let seen = *lock(&self.seen);
        if version == 0 || (version == seen.0 && !seen.1) {
            // No book, or one this replica knows has no rule.
            return Ok(Vec::new());
        }
        self.update(store, |book| book.effects(facts)).await
    }

    /// Keeps the book where the store keeps what outlives the process (the SQLite
    /// store), if it does.
    async fn keep_in(&self, store: &dyn Store) -> Result<(), StoreError> {
        let Some(kept) = store.kept_control() else {
            return Ok(());
        };
        let book = self
            .with(|book| serde_json::to_vec(book))
            .map_err(|e| StoreError::Invalid(format!("the fault book: {e}")))?;
        kept.keep(KEPT, book).await
    }

    /// The book a store kept across a restart, if it kept one.
    pub fn restore_kept(&self, store: &dyn Store) -> Result<(), String> {
        let Some(bytes) = store.kept_control().and_then(|k| k.kept(KEPT)) else {
            return Ok(());
        };
        let kept: FaultBook = serde_json::from_slice(&bytes)
            .map_err(|e| format!("the kept fault rules are damaged ({e}); start with --reset-state to discard the saved state"))?;
        self.with(|book| *book = kept);
        Ok(())
    }

    /// Whether any rule exists (read without the lock).
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// Runs `f` on the book under its lock, then records whether a rule remains.
    pub fn with<R>(&self, f: impl FnOnce(&mut FaultBook) -> R) -> R {
        let mut book = lock(&self.book);
        let result = f(&mut book);
        self.armed.store(!book.rules.is_empty(), Ordering::Release);
        result
    }
}

/// The rules and the seeded generator (kept as JSON by a shared store: the generator
/// as its state, so draws go on where another replica left them).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultBook {
    rules: Vec<Rule>,
    next_id: u64,
    #[serde(with = "rng_state")]
    rng: fastrand::Rng,
}

/// A generator as its state.
mod rng_state {
    pub fn serialize<S: serde::Serializer>(rng: &fastrand::Rng, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(rng.get_seed())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<fastrand::Rng, D::Error> {
        Ok(fastrand::Rng::with_seed(serde::Deserialize::deserialize(
            d,
        )?))
    }
}

impl FaultBook {
    /// An empty book whose random choices derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            next_id: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Checks and adds a rule; provider outages are not kept as rules (the caller
    /// injects them into the simulator at once).
    pub fn validate(input: &RuleInput) -> Result<(), String> {
        if !(0.0..=1.0).contains(&input.probability) {
            return Err("probability must be between 0 and 1".into());
        }
        match &input.action {
            FaultAction::Latency { ms, min_ms, max_ms } => match (ms, min_ms, max_ms) {
                (Some(_), None, None) => Ok(()),
                (None, Some(lo), Some(hi)) if lo <= hi => Ok(()),
                _ => Err("latency takes either ms, or minMs and maxMs with minMs <= maxMs".into()),
            },
            FaultAction::Error { status } if ![500, 502, 503, 504].contains(status) => Err(
                format!("error status must be 500, 502, 503 or 504, not {status}"),
            ),
            FaultAction::ProviderOutage { syncs, seconds } => match (syncs, seconds) {
                (Some(_), None) | (None, Some(_)) => Ok(()),
                _ => Err("provider_outage takes either syncs or seconds".into()),
            },
            _ => Ok(()),
        }
    }

    /// Adds a request rule; returns it.
    pub fn add(&mut self, input: RuleInput) -> Rule {
        self.next_id += 1;
        let rule = Rule {
            id: format!("fault-{}", self.next_id),
            matcher: input.matcher,
            action: input.action,
            probability: input.probability,
            remaining: input.count,
            hits: 0,
        };
        self.rules.push(rule.clone());
        rule
    }

    /// The active rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Keeps only the rules `keep` says to keep; how many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&Rule) -> bool) -> usize {
        let before = self.rules.len();
        self.rules.retain(|r| keep(r));
        before - self.rules.len()
    }

    /// Removes one rule; whether it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    /// The effects of every rule that fires for this request, in rule order. Rules that
    /// reach their count are removed.
    pub fn effects(&mut self, facts: &RequestFacts<'_>) -> Vec<Effect> {
        let mut out = Vec::new();
        for rule in &mut self.rules {
            let m = &rule.matcher;
            let matches = m
                .method
                .as_ref()
                .is_none_or(|x| x.eq_ignore_ascii_case(facts.method))
                && m.path.as_ref().is_none_or(|x| x == facts.template)
                && m.provider.is_none_or(|p| Some(p) == facts.provider)
                && m.key.as_ref().is_none_or(|k| Some(k.as_str()) == facts.key);
            if !matches || self.rng.f64() >= rule.probability {
                continue;
            }
            rule.hits += 1;
            if let Some(r) = &mut rule.remaining {
                *r = r.saturating_sub(1);
            }
            out.push(match &rule.action {
                FaultAction::Latency { ms: Some(ms), .. } => {
                    Effect::Delay(Duration::from_millis(*ms))
                }
                FaultAction::Latency { min_ms, max_ms, .. } => {
                    let (lo, hi) = (min_ms.unwrap_or(0), max_ms.unwrap_or(0));
                    Effect::Delay(Duration::from_millis(self.rng.u64(lo..=hi.max(lo))))
                }
                FaultAction::Error { status } => Effect::Error(*status),
                FaultAction::DropConnection => Effect::Drop,
                FaultAction::RateLimit { retry_after } => Effect::RateLimit(*retry_after),
                FaultAction::ProviderOutage { .. } => continue,
            });
        }
        self.rules.retain(|r| r.remaining != Some(0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(provider: Provider) -> RequestFacts<'static> {
        RequestFacts {
            method: "GET",
            template: "/integrations/{provider}",
            provider: Some(provider),
            key: Some("k"),
        }
    }

    fn rule(provider: Provider, count: Option<u32>, probability: f64) -> RuleInput {
        RuleInput {
            matcher: FaultMatch {
                provider: Some(provider),
                ..FaultMatch::default()
            },
            action: FaultAction::Error { status: 503 },
            probability,
            count,
        }
    }

    #[test]
    fn rules_touch_only_what_they_match_and_stop_after_their_count() {
        let mut book = FaultBook::new(1);
        book.add(rule(Provider::Wodify, Some(2), 1.0));
        assert!(book.effects(&facts(Provider::Practicehub)).is_empty());
        assert_eq!(book.effects(&facts(Provider::Wodify)), [Effect::Error(503)]);
        assert_eq!(book.effects(&facts(Provider::Wodify)), [Effect::Error(503)]);
        assert!(book.effects(&facts(Provider::Wodify)).is_empty());
        assert!(book.rules().is_empty());
    }

    #[test]
    fn probabilities_repeat_with_the_seed() {
        let run = |seed| {
            let mut book = FaultBook::new(seed);
            book.add(rule(Provider::Wodify, None, 0.5));
            (0..64)
                .map(|_| book.effects(&facts(Provider::Wodify)).len())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let fired: usize = run(7).iter().sum();
        assert!((16..48).contains(&fired), "{fired}");
    }

    #[test]
    fn a_book_kept_as_json_goes_on_drawing_where_it_left_off() {
        let mut book = FaultBook::new(7);
        book.add(rule(Provider::Wodify, Some(40), 0.5));
        let mut straight = FaultBook::new(7);
        straight.add(rule(Provider::Wodify, Some(40), 0.5));
        let mut through_json = Vec::new();
        let mut direct = Vec::new();
        for _ in 0..32 {
            // As a shared store keeps it: read, applied, written back each time.
            let text = serde_json::to_string(&book).unwrap();
            book = serde_json::from_str(&text).unwrap();
            through_json.push(book.effects(&facts(Provider::Wodify)).len());
            direct.push(straight.effects(&facts(Provider::Wodify)).len());
        }
        assert_eq!(through_json, direct);
        assert_eq!(book.rules()[0].hits, straight.rules()[0].hits);
        assert_eq!(book.rules()[0].remaining, straight.rules()[0].remaining);
    }

    #[test]
    fn invalid_rules_are_explained() {
        let mut r = rule(Provider::Wodify, None, 1.0);
        r.action = FaultAction::Error { status: 418 };
        assert!(FaultBook::validate(&r).unwrap_err().contains("500, 502"));
        r.action = FaultAction::ProviderOutage {
            syncs: None,
            seconds: None,
        };
        assert!(FaultBook::validate(&r).is_err());
    }
}
