//! The reference model: the documented behaviour of the Integrations API, written from
//! the spec's descriptions and independent of `src/sim`, so a bug shared by the mock
//! and the model is unlikely. It predicts each answer's outcome class (which the spec
//! maps to statuses, see `requests.rs`) and the fields the docs pin down, starting
//! from the state observed on the target.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rules::{self, Rule};

/// The providers, in list order.
pub const PROVIDERS: [&str; 3] = ["practicehub", "wodify", "terminal"];

/// What the docs pin down about one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// `isActive`.
    pub active: bool,
    /// `syncEnabled`.
    pub sync_enabled: bool,
    /// `syncInterval.intervalMs`, when the spec lets the model know it (a first
    /// activation's default is only known when the spec declares one).
    pub interval_ms: Option<u64>,
    /// Activated by this sequence (with healthy credentials), not found so: only then
    /// does the model know where the breaker's counter starts (a choice of the mock).
    pub fresh: bool,
    /// `resume-sync` ran since it was found or activated: the docs say it resets the
    /// counter, and the run's healthy credentials never fail, so it stays at 0.
    pub reset: bool,
}

/// A difference between an answer and the model, with the rule it breaks.
pub type Difference = (&'static Rule, String);

/// The class of an answer, as the docs describe it. The spec maps each class to
/// statuses per operation (`x-outcomes`, else every documented status the docs allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (2xx).
    Ok,
    /// The integration is not active (never activated, or deactivated).
    NotActive,
    /// Activation of an integration that is already active.
    AlreadyActive,
    /// The request breaks the spec's schema.
    Invalid,
    /// The provider in the path is not one the spec lists.
    UnknownProvider,
    /// The key lacks a scope the operation needs (an internal operation's worker scope).
    Forbidden,
    /// A manual sync while the circuit breaker has auto-paused syncing (the docs do not
    /// say whether it is refused or runs and fails again).
    BreakerOpen,
}

impl Outcome {
    /// The name used in `x-outcomes`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotActive => "not_active",
            Outcome::AlreadyActive => "already_active",
            Outcome::Invalid => "invalid",
            Outcome::UnknownProvider => "unknown_provider",
            Outcome::Forbidden => "forbidden",
            Outcome::BreakerOpen => "breaker_open",
        }
    }

    /// Whether the docs allow `status` for this class (the status table of the errors
    /// guide, and the integration pages' own statuses).
    pub fn candidates(self, status: u16) -> bool {
        match self {
            Outcome::Ok => (200..300).contains(&status),
            Outcome::NotActive => matches!(status, 400 | 404 | 409 | 422),
            Outcome::AlreadyActive => matches!(status, 409 | 400 | 422),
            Outcome::Invalid => matches!(status, 400 | 422),
            Outcome::UnknownProvider => matches!(status, 400 | 404),
            Outcome::Forbidden => status == 403,
            Outcome::BreakerOpen => matches!(status, 400 | 409 | 422 | 423 | 429 | 503),
        }
    }
}

/// One key's integrations, by provider; absent = never activated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    /// Provider → state.
    pub integrations: BTreeMap<&'static str, Known>,
}

/// An operation the stateful check sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `GET /integrations`.
    List,
    /// `GET /integrations?limit=L&offset=O`: one page.
    Page(usize, usize),
    /// `GET /integrations/{p}`.
    Get(usize),
    /// `POST .../activate` with optional minutes.
    Activate(usize, Option<u32>),
    /// `POST .../deactivate`.
    Deactivate(usize),
    /// `POST .../sync`.
    Sync(usize),
    /// `PUT .../sync-toggle`.
    Toggle(usize, bool),
    /// `PUT .../sync-interval` (possibly out of range).
    Interval(usize, i64),
    /// `PUT .../invoice-lookback`.
    Lookback(usize, i64),
    /// `PUT .../auto-send-invoices`.
    AutoSend(usize, bool),
    /// `POST .../resume-sync`.
    Resume(usize),
    /// `POST .../test`.
    Test(usize),
}

impl Op {
    /// One example of each operation, in the order of [`Op::kind`]: the stateful
    /// exploration draws from each (`conform/stateful.rs`), so an operation missing here
    /// would never be generated. A new variant breaks the exhaustive matches of `kind`
    /// and of the exploration's strategy; a unit test checks that this list follows
    /// `kind`.
    pub const EXAMPLES: [Op; 12] = [
        Op::List,
        Op::Get(0),
        Op::Page(0, 1),
        Op::Activate(0, None),
        Op::Deactivate(0),
        Op::Sync(0),
        Op::Toggle(0, true),
        Op::Interval(0, 0),
        Op::Lookback(0, 0),
        Op::AutoSend(0, true),
        Op::Resume(0),
        Op::Test(0),
    ];

    /// The operation's place in [`Op::EXAMPLES`] (exhaustive: a new variant must be
    /// placed).
    pub const fn kind(&self) -> usize {
        match self {
            Op::List => 0,
            Op::Get(_) => 1,
            Op::Page(..) => 2,
            Op::Activate(..) => 3,
            Op::Deactivate(_) => 4,
            Op::Sync(_) => 5,
            Op::Toggle(..) => 6,
            Op::Interval(..) => 7,
            Op::Lookback(..) => 8,
            Op::AutoSend(..) => 9,
            Op::Resume(_) => 10,
            Op::Test(_) => 11,
        }
    }

    /// The provider the operation acts on (none for the list).
    pub fn provider(&self) -> Option<usize> {
        match self {
            Op::List | Op::Page(..) => None,
            Op::Get(i)
            | Op::Activate(i, _)
            | Op::Deactivate(i)
            | Op::Sync(i)
            | Op::Toggle(i, _)
            | Op::Interval(i, _)
            | Op::Lookback(i, _)
            | Op::AutoSend(i, _)
            | Op::Resume(i)
            | Op::Test(i) => Some(*i),
        }
    }

    /// Method and path (under the base, with any query); the body comes from the
    /// spec (`requests.rs`).
    pub fn route(&self) -> (&'static str, String) {
        let p = |i: &usize| format!("/integrations/{}", PROVIDERS[*i]);
        match self {
            Op::List => ("GET", "/integrations".into()),
            Op::Page(offset, limit) => (
                "GET",
                format!("/integrations?limit={limit}&offset={offset}"),
            ),
            Op::Get(i) => ("GET", p(i)),
            Op::Activate(i, _) => ("POST", format!("{}/activate", p(i))),
            Op::Deactivate(i) => ("POST", format!("{}/deactivate", p(i))),
            Op::Sync(i) => ("POST", format!("{}/sync", p(i))),
            Op::Toggle(i, _) => ("PUT", format!("{}/sync-toggle", p(i))),
            Op::Interval(i, _) => ("PUT", format!("{}/sync-interval", p(i))),
            Op::Lookback(i, _) => ("PUT", format!("{}/invoice-lookback", p(i))),
            Op::AutoSend(i, _) => ("PUT", format!("{}/auto-send-invoices", p(i))),
            Op::Resume(i) => ("POST", format!("{}/resume-sync", p(i))),
            Op::Test(i) => ("POST", format!("{}/test", p(i))),
        }
    }
}

impl Model {
    /// Builds the model from `GET /integrations` as observed.
    pub fn observe(list: &Value) -> Option<Model> {
        let mut m = Model::default();
        for item in list.get("data")?.as_array()? {
            let name = item.get("provider")?.as_str()?;
            let provider = PROVIDERS.iter().find(|p| **p == name)?;
            m.integrations.insert(
                provider,
                Known {
                    active: item.get("isActive")?.as_bool()?,
                    sync_enabled: item
                        .get("syncEnabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    interval_ms: item
                        .pointer("/syncInterval/intervalMs")
                        .and_then(Value::as_f64)
                        .map(|ms| ms as u64),
                    fresh: false,
                    reset: false,
                },
            );
        }
        Some(m)
    }

    fn active(&self, i: usize) -> bool {
        self.integrations
            .get(PROVIDERS[i])
            .is_some_and(|k| k.active)
    }

    /// The outcomes the docs allow for `op` (more than one where the order of the
    /// checks is not documented), applying its effect to the model when it is `Ok`.
    /// `valid` says whether the spec's schema accepts the request's body;
    /// `default_interval_ms` is a first activation's interval, when the spec gives it.
    pub fn apply(
        &mut self,
        op: &Op,
        valid: bool,
        default_interval_ms: Option<u64>,
    ) -> Vec<Outcome> {
        use Outcome::*;
        // The docs do not say whether a body is validated before the state is looked
        // at: an invalid body may get either answer.
        if !valid {
            return match op {
                Op::Activate(i, _) if self.active(*i) => vec![Invalid, AlreadyActive],
                Op::Activate(..) | Op::Test(_) => vec![Invalid],
                _ if op.provider().is_some_and(|i| !self.active(i)) => vec![Invalid, NotActive],
                _ => vec![Invalid],
            };
        }
        match op {
            Op::List | Op::Page(..) | Op::Get(_) | Op::Test(_) => vec![Ok],
            Op::Activate(i, m) => {
                if self.active(*i) {
                    return vec![AlreadyActive];
                }
                let entry = self.integrations.entry(PROVIDERS[*i]).or_insert(Known {
                    active: false,
                    sync_enabled: true,
                    interval_ms: default_interval_ms,
                    fresh: true,
                    reset: false,
                });
                entry.active = true;
                entry.fresh = true;
                entry.reset = false;
                entry.sync_enabled = true;
                if let Some(m) = m {
                    entry.interval_ms = Some(u64::from(*m) * 60_000);
                }
                vec![Ok]
            }
            // Every other operation acts on an active integration.
            _ => {
                let Some(k) = op
                    .provider()
                    .and_then(|i| self.integrations.get_mut(PROVIDERS[i]))
                    .filter(|k| k.active)
                else {
                    return vec![NotActive];
                };
                match op {
                    Op::Deactivate(_) => k.active = false,
                    Op::Resume(_) => k.reset = true,
                    Op::Toggle(_, on) => k.sync_enabled = *on,
                    Op::Interval(_, m) => {
                        k.interval_ms = u64::try_from(*m).ok().map(|m| m * 60_000)
                    }
                    _ => {}
                }
                vec![Ok]
            }
        }
    }

    /// Differences between an observed integration object (or null) and the model.
    pub fn compare_one(&self, provider: &str, data: &Value) -> Vec<Difference> {
        let mut out = Vec::new();
        match (self.integrations.get(provider), data) {
            (None, Value::Null) => {}
            (None, _) => out.push((
                &rules::MODEL_LIST,
                format!("{provider}: expected no integration (data: null), got one"),
            )),
            (Some(_), Value::Null) => out.push((
                &rules::MODEL_LIST,
                format!("{provider}: expected an integration, got data: null"),
            )),
            (Some(k), d) => {
                let field = |name: &str| d.pointer(name).cloned().unwrap_or(Value::Null);
                if field("/isActive") != json!(k.active) {
                    out.push((
                        &rules::MODEL_ACTIVE,
                        format!(
                            "{provider}.isActive: expected {}, got {}",
                            k.active,
                            field("/isActive")
                        ),
                    ));
                }
                if k.active && field("/syncEnabled") != json!(k.sync_enabled) {
                    out.push((
                        &rules::MODEL_SYNC_ENABLED,
                        format!(
                            "{provider}.syncEnabled: expected {}, got {}",
                            k.sync_enabled,
                            field("/syncEnabled")
                        ),
                    ));
                }
                if let Some(ms) = k.interval_ms
                    && field("/syncInterval/intervalMs").as_f64() != Some(ms as f64)
                {
                    out.push((
                        &rules::MODEL_INTERVAL,
                        format!(
                            "{provider}.syncInterval.intervalMs: expected {ms}, got {}",
                            field("/syncInterval/intervalMs")
                        ),
                    ));
                }
                if k.active && field("/syncInterval/hasRepeatableJob") != json!(true) {
                    out.push((&rules::MODEL_REPEATABLE_JOB, format!(
                        "{provider}: isActive is true, yet syncInterval.hasRepeatableJob is {} (expected true while active)",
                        field("/syncInterval/hasRepeatableJob")
                    )));
                }
                // Healthy credentials never fail, so the counter stays where resume-sync
                // reset it (the docs) or where an activation started it (the mock).
                let counter = field("/providerState/consecutiveErrors");
                if k.active && counter.as_f64().unwrap_or(0.0) != 0.0 {
                    if k.reset {
                        out.push((&rules::MODEL_COUNTER_AFTER_RESUME, format!("{provider}.providerState.consecutiveErrors: expected 0 after resume-sync with healthy credentials, got {counter}")));
                    } else if k.fresh {
                        out.push((&rules::MODEL_COUNTER_ON_ACTIVATION, format!("{provider}.providerState.consecutiveErrors: expected 0 after an activation with healthy credentials, got {counter}")));
                    }
                }
            }
        }
        out
    }

    /// Differences between an observed list and the model (contents and pagination).
    pub fn compare_list(&self, list: &Value) -> Vec<Difference> {
        let mut out = Vec::new();
        let data = list
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // The docs give no order for the list (the mock's is by provider): compare sets.
        let mut providers: Vec<&str> = data
            .iter()
            .filter_map(|i| i.get("provider")?.as_str())
            .collect();
        providers.sort_unstable();
        let mut expected: Vec<&str> = self.integrations.keys().copied().collect();
        expected.sort_unstable();
        if providers != expected {
            out.push((
                &rules::MODEL_LIST,
                format!("list: expected providers {expected:?}, got {providers:?}"),
            ));
        }
        if let Some(total) = list.pointer("/pagination/total")
            && total != &json!(expected.len())
        {
            out.push((
                &rules::MODEL_PAGINATION,
                format!(
                    "list: pagination.total expected {}, got {total}",
                    expected.len()
                ),
            ));
        }
        for item in &data {
            if let Some(p) = item.get("provider").and_then(Value::as_str) {
                out.extend(self.compare_one(p, item));
            }
        }
        out
    }

    /// Differences between one observed page (`limit`, `offset`) and the model: its
    /// size, that it holds known integrations, and the pagination block the guide
    /// describes (`limit` echoed, `offset`, `total`, `hasMore` when
    /// `offset + data.length < total`).
    pub fn compare_page(&self, offset: usize, limit: usize, page: &Value) -> Vec<Difference> {
        let mut out = Vec::new();
        let total = self.integrations.len();
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let want = limit.min(total.saturating_sub(offset));
        if data.len() != want {
            out.push((&rules::MODEL_PAGINATION, format!(
                "page limit={limit} offset={offset}: expected {want} of {total} integrations, got {}",
                data.len()
            )));
        }
        for item in &data {
            match item.get("provider").and_then(Value::as_str) {
                Some(p) if self.integrations.contains_key(p) => {
                    out.extend(self.compare_one(p, item))
                }
                other => out.push((&rules::MODEL_LIST, format!(
                    "page limit={limit} offset={offset}: an integration the list does not have: {other:?}"
                ))),
            }
        }
        if let Some(p) = page.get("pagination") {
            let expected = json!({
                "limit": limit, "offset": offset, "total": total,
                "hasMore": offset + data.len() < total,
            });
            for field in ["limit", "offset", "total", "hasMore"] {
                let got = p.get(field).cloned().unwrap_or(Value::Null);
                let got_num = got.as_f64();
                let want = &expected[field];
                let same = match (got_num, want.as_f64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => &got == want,
                };
                if !same {
                    out.push((&rules::MODEL_PAGINATION, format!(
                        "page limit={limit} offset={offset}: pagination.{field} expected {want}, got {got}"
                    )));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_list_every_operation_in_the_order_of_kind() {
        for (i, example) in Op::EXAMPLES.iter().enumerate() {
            assert_eq!(example.kind(), i, "{example:?}");
        }
    }

    #[test]
    fn the_model_follows_the_documented_lifecycle() {
        use Outcome::*;
        let mut m = Model::default();
        let fifteen = Some(900_000);
        assert_eq!(m.apply(&Op::Deactivate(0), true, fifteen), vec![NotActive]);
        assert_eq!(m.apply(&Op::Sync(0), true, fifteen), vec![NotActive]);
        assert_eq!(m.apply(&Op::Activate(0, Some(30)), true, fifteen), vec![Ok]);
        assert_eq!(
            m.apply(&Op::Activate(0, None), true, fifteen),
            vec![AlreadyActive]
        );
        assert_eq!(m.apply(&Op::Interval(0, 4), false, fifteen), vec![Invalid]);
        assert_eq!(
            m.apply(&Op::Interval(1, 4), false, fifteen),
            vec![Invalid, NotActive]
        );
        assert_eq!(
            m.apply(&Op::Interval(1, 10), true, fifteen),
            vec![NotActive]
        );
        assert_eq!(m.apply(&Op::Toggle(0, false), true, fifteen), vec![Ok]);
        assert_eq!(
            m.integrations["practicehub"],
            Known {
                active: true,
                sync_enabled: false,
                interval_ms: Some(1_800_000),
                fresh: true,
                reset: false,
            }
        );
        assert_eq!(m.apply(&Op::Deactivate(0), true, fifteen), vec![Ok]);
        assert_eq!(
            m.apply(&Op::Toggle(0, true), true, fifteen),
            vec![NotActive]
        );
        assert_eq!(m.apply(&Op::Activate(1, None), true, None), vec![Ok]);
        assert_eq!(m.integrations["wodify"].interval_ms, None);
    }

    /// The mock's choices are differences, not failures: an integration found active
    /// with its counter at 3 and no repeatable job breaks no rule that fails a run; one
    /// this sequence activated with healthy credentials shows a counter at 3 as a
    /// difference from the mock.
    #[test]
    fn differences_name_their_rule_and_only_spec_and_docs_rules_fail() {
        let list = json!({"data": [{"provider": "wodify", "isActive": true, "syncEnabled": false,
            "syncInterval": {"hasRepeatableJob": false}, "providerState": {"consecutiveErrors": 3}}]});
        let mut m = Model::observe(&list).unwrap();
        let diffs = m.compare_list(&list);
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(diffs[0].0.id, rules::MODEL_REPEATABLE_JOB.id);
        assert!(!diffs[0].0.source.fails(false) && diffs[0].0.source.fails(true));
        m.apply(&Op::Deactivate(1), true, None);
        m.apply(&Op::Activate(1, None), true, None);
        let again = json!({"provider": "wodify", "isActive": true, "syncEnabled": true,
            "syncInterval": {"hasRepeatableJob": true}, "providerState": {"consecutiveErrors": 3}});
        let diffs = m.compare_one("wodify", &again);
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(diffs[0].0.id, rules::MODEL_COUNTER_ON_ACTIVATION.id);
        let inactive = json!({"provider": "wodify", "isActive": false});
        assert!(
            m.compare_one("wodify", &inactive)
                .iter()
                .any(|(r, _)| r.source.fails(false))
        );
    }

    #[test]
    fn pages_are_checked_against_the_guide() {
        let mut m = Model::default();
        m.apply(&Op::Activate(0, None), true, None);
        m.apply(&Op::Activate(1, None), true, None);
        let item = |p: &str| {
            json!({"provider": p, "isActive": true, "syncEnabled": true,
            "syncInterval": {"hasRepeatableJob": true}, "providerState": {"consecutiveErrors": 0}})
        };
        let good = json!({"data": [item("wodify")], "pagination": {"limit": 1, "offset": 0, "total": 2, "hasMore": true}});
        assert!(m.compare_page(0, 1, &good).is_empty());
        let mut bad = good.clone();
        bad["pagination"]["hasMore"] = json!(false);
        let (rule, message) = &m.compare_page(0, 1, &bad)[0];
        assert!(message.contains("hasMore"));
        assert_eq!(rule.id, rules::MODEL_PAGINATION.id);
        assert!(!m.compare_page(1, 1, &json!({"data": []})).is_empty());
    }
}
