//! The reference model: the documented behaviour of the Integrations API, written from
//! the spec's descriptions and independent of `src/sim`, so a bug shared by the mock
//! and the model is unlikely. It predicts each answer's status and the fields the docs
//! pin down, starting from the state observed on the target.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The providers, in list order.
pub const PROVIDERS: [&str; 3] = ["practicehub", "wodify", "terminal"];

/// What the docs pin down about one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// `isActive`.
    pub active: bool,
    /// `syncEnabled`.
    pub sync_enabled: bool,
    /// `syncInterval.intervalMs`.
    pub interval_ms: u64,
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

/// The default interval of a first activation (spec: 15 minutes).
pub const DEFAULT_INTERVAL_MS: u64 = 15 * 60_000;

impl Op {
    /// Whether the operation only reads.
    pub fn is_read(&self) -> bool {
        matches!(self, Op::List | Op::Get(_))
    }

    /// Method, path (under the base) and body.
    pub fn request(&self, credentials: &Value) -> (&'static str, String, Option<Value>) {
        let p = |i: &usize| format!("/integrations/{}", PROVIDERS[*i]);
        match self {
            Op::List => ("GET", "/integrations".into(), None),
            Op::Get(i) => ("GET", p(i), None),
            Op::Activate(i, m) => {
                let mut body = json!({ "credentials": credentials });
                if let Some(m) = m {
                    body["syncIntervalMinutes"] = json!(m);
                }
                ("POST", format!("{}/activate", p(i)), Some(body))
            }
            Op::Deactivate(i) => ("POST", format!("{}/deactivate", p(i)), Some(json!({}))),
            Op::Sync(i) => (
                "POST",
                format!("{}/sync", p(i)),
                Some(json!({ "fullResync": false })),
            ),
            Op::Toggle(i, on) => (
                "PUT",
                format!("{}/sync-toggle", p(i)),
                Some(json!({ "enabled": on })),
            ),
            Op::Interval(i, m) => (
                "PUT",
                format!("{}/sync-interval", p(i)),
                Some(json!({ "syncIntervalMinutes": m })),
            ),
            Op::Lookback(i, d) => (
                "PUT",
                format!("{}/invoice-lookback", p(i)),
                Some(json!({ "invoiceLookbackDays": d })),
            ),
            Op::AutoSend(i, on) => (
                "PUT",
                format!("{}/auto-send-invoices", p(i)),
                Some(json!({ "autoSendInvoices": on })),
            ),
            Op::Resume(i) => ("POST", format!("{}/resume-sync", p(i)), None),
            Op::Test(i) => (
                "POST",
                format!("{}/test", p(i)),
                Some(json!({ "credentials": credentials })),
            ),
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
                        .and_then(Value::as_u64)
                        .unwrap_or(DEFAULT_INTERVAL_MS),
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

    /// The documented status of `op`, applying its effect to the model.
    pub fn apply(&mut self, op: &Op) -> u16 {
        let bounded = |v: i64, lo: i64, hi: i64| (lo..=hi).contains(&v);
        match op {
            Op::List | Op::Get(_) | Op::Test(_) => 200,
            Op::Activate(i, m) => {
                if self.active(*i) {
                    return 409;
                }
                let entry = self.integrations.entry(PROVIDERS[*i]).or_insert(Known {
                    active: false,
                    sync_enabled: true,
                    interval_ms: DEFAULT_INTERVAL_MS,
                });
                entry.active = true;
                entry.sync_enabled = true;
                if let Some(m) = m {
                    entry.interval_ms = u64::from(*m) * 60_000;
                }
                200
            }
            Op::Deactivate(i) => {
                if !self.active(*i) {
                    return 404;
                }
                if let Some(k) = self.integrations.get_mut(PROVIDERS[*i]) {
                    k.active = false;
                }
                200
            }
            Op::Sync(i) | Op::Resume(i) => {
                if self.active(*i) {
                    200
                } else {
                    400
                }
            }
            Op::Interval(_, m) if !bounded(*m, 5, 1440) => 400,
            Op::Lookback(_, d) if !bounded(*d, 1, 3650) => 400,
            Op::Toggle(i, _) | Op::Interval(i, _) | Op::Lookback(i, _) | Op::AutoSend(i, _)
                if !self.active(*i) =>
            {
                404
            }
            Op::Toggle(i, on) => {
                if let Some(k) = self.integrations.get_mut(PROVIDERS[*i]) {
                    k.sync_enabled = *on;
                }
                200
            }
            Op::Interval(i, m) => {
                if let Some(k) = self.integrations.get_mut(PROVIDERS[*i]) {
                    k.interval_ms = *m as u64 * 60_000;
                }
                200
            }
            Op::Lookback(..) | Op::AutoSend(..) => 200,
        }
    }

    /// Differences between an observed integration object (or null) and the model.
    pub fn compare_one(&self, provider: &str, data: &Value) -> Vec<String> {
        let mut out = Vec::new();
        match (self.integrations.get(provider), data) {
            (None, Value::Null) => {}
            (None, _) => out.push(format!(
                "{provider}: expected no integration (data: null), got one"
            )),
            (Some(_), Value::Null) => out.push(format!(
                "{provider}: expected an integration, got data: null"
            )),
            (Some(k), d) => {
                let field = |name: &str| d.pointer(name).cloned().unwrap_or(Value::Null);
                if field("/isActive") != json!(k.active) {
                    out.push(format!(
                        "{provider}.isActive: expected {}, got {}",
                        k.active,
                        field("/isActive")
                    ));
                }
                if k.active && field("/syncEnabled") != json!(k.sync_enabled) {
                    out.push(format!(
                        "{provider}.syncEnabled: expected {}, got {}",
                        k.sync_enabled,
                        field("/syncEnabled")
                    ));
                }
                if field("/syncInterval/intervalMs") != json!(k.interval_ms) {
                    out.push(format!(
                        "{provider}.syncInterval.intervalMs: expected {}, got {}",
                        k.interval_ms,
                        field("/syncInterval/intervalMs")
                    ));
                }
                if k.active && field("/syncInterval/hasRepeatableJob") != json!(true) {
                    out.push(format!(
                        "{provider}.syncInterval.hasRepeatableJob: expected true while active"
                    ));
                }
                // A healthy provider never fails: the counter stays at zero.
                if field("/providerState/consecutiveErrors") != json!(0) {
                    out.push(format!("{provider}.providerState.consecutiveErrors: expected 0 with healthy credentials, got {}", field("/providerState/consecutiveErrors")));
                }
            }
        }
        out
    }

    /// Differences between an observed list and the model (contents and pagination).
    pub fn compare_list(&self, list: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let data = list
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let providers: Vec<&str> = data
            .iter()
            .filter_map(|i| i.get("provider")?.as_str())
            .collect();
        let expected: Vec<&str> = PROVIDERS
            .iter()
            .copied()
            .filter(|p| self.integrations.contains_key(p))
            .collect();
        if providers != expected {
            out.push(format!(
                "list: expected providers {expected:?}, got {providers:?}"
            ));
        }
        if let Some(total) = list.pointer("/pagination/total")
            && total != &json!(expected.len())
        {
            out.push(format!(
                "list: pagination.total expected {}, got {total}",
                expected.len()
            ));
        }
        for item in &data {
            if let Some(p) = item.get("provider").and_then(Value::as_str) {
                out.extend(self.compare_one(p, item));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_follows_the_documented_lifecycle() {
        let mut m = Model::default();
        assert_eq!(m.apply(&Op::Deactivate(0)), 404);
        assert_eq!(m.apply(&Op::Sync(0)), 400);
        assert_eq!(m.apply(&Op::Activate(0, Some(30))), 200);
        assert_eq!(m.apply(&Op::Activate(0, None)), 409);
        assert_eq!(m.apply(&Op::Interval(0, 4)), 400);
        assert_eq!(m.apply(&Op::Interval(1, 10)), 404);
        assert_eq!(m.apply(&Op::Toggle(0, false)), 200);
        assert_eq!(
            m.integrations["practicehub"],
            Known {
                active: true,
                sync_enabled: false,
                interval_ms: 1_800_000
            }
        );
        assert_eq!(m.apply(&Op::Deactivate(0)), 200);
        assert_eq!(m.apply(&Op::Toggle(0, true)), 404);
    }
}
