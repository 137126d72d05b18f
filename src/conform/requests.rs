//! Requests drawn from the spec being checked: every body the runner sends starts as
//! the smallest value the operation's schema accepts (its required fields, bounds,
//! enums and formats), and the runner's own meaningful values (credentials whose
//! `apiKey` picks the simulated provider's behaviour, an interval the model can
//! predict) are laid over it only where that schema still accepts the result. The
//! statuses expected for each outcome come from the same spec.

use serde_json::{Map, Value, json};

use super::model::{Op, Outcome};
use crate::spec::{Contract, Operation, ParamLocation, RouteMatch, StatusKey};

/// A request the runner will send, planned from the spec.
#[derive(Debug, Clone)]
pub struct Planned {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The path under the base, with any query.
    pub path: String,
    /// The JSON body, if the operation takes one.
    pub body: Option<Value>,
    /// The operation as it was sent: an overlay the schema refused is dropped, so the
    /// model predicts what the request actually asked for.
    pub sent: Op,
    /// Whether the body is one the spec's schema accepts.
    pub valid: bool,
}

/// What the runner derives from the spec once per run.
pub struct Planner<'c> {
    contract: &'c Contract,
    /// The credentials laid over each credentials object the spec describes.
    credentials: Value,
}

impl<'c> Planner<'c> {
    /// A planner for `contract`, laying `credentials` over the spec's credentials.
    pub fn new(contract: &'c Contract, credentials: Value) -> Self {
        Planner {
            contract,
            credentials,
        }
    }

    /// The operation a method and a path under the base (with any query) resolve to.
    pub fn operation(&self, method: &str, path: &str) -> Option<&'c Operation> {
        self.route(method, path).map(|(op, _)| op)
    }

    /// The operation and its path parameters, as the contract's matcher resolves them.
    pub fn route(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&'c Operation, Vec<(String, String)>)> {
        let path = path.split('?').next().unwrap_or("");
        match self
            .contract
            .resolve_text(method, &format!("{}{path}", self.contract.base_path))
        {
            RouteMatch::Found { operation, params } => {
                Some((&self.contract.operations[operation], params))
            }
            _ => None,
        }
    }

    /// Whether the spec has the operation `op` needs (a spec may describe fewer),
    /// and for a page, declares `limit` and `offset` on the list.
    pub fn supports(&self, op: &Op) -> bool {
        let (method, path) = op.route();
        let Some(operation) = self.operation(method, &path) else {
            return false;
        };
        !matches!(op, Op::Page(..))
            || ["limit", "offset"].iter().all(|n| {
                operation
                    .parameters
                    .iter()
                    .any(|p| p.location == ParamLocation::Query && p.name == *n)
            })
    }

    /// The smallest body `operation`'s schema accepts, with each `(pointer, value)`
    /// laid over it where the schema still accepts the result; with `force`, laid
    /// over regardless (a probe for an invalid value). `None` when the operation
    /// declares no JSON body.
    pub fn body(
        &self,
        operation: &Operation,
        overlays: &[(String, Value)],
        force: bool,
    ) -> Option<(Value, Vec<String>)> {
        let schema = operation.json_body_schema()?;
        let mut body = schema.sample().unwrap_or_else(|| json!({}));
        let mut laid = Vec::new();
        for (pointer, value) in overlays {
            let mut candidate = body.clone();
            set(&mut candidate, pointer, value.clone());
            if force || schema.is_valid(&candidate) {
                body = candidate;
                laid.push(pointer.clone());
            }
        }
        Some((body, laid))
    }

    /// The credentials overlays: every field of the run's credentials under `at`.
    fn credential_overlays(&self, at: &str) -> Vec<(String, Value)> {
        self.credentials
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (format!("{at}/{}", escape(k)), v.clone()))
            .collect()
    }

    /// Plans `op`: its request from the spec, and the operation as sent.
    pub fn plan(&self, op: &Op) -> Planned {
        let (method, path) = op.route();
        let Some(operation) = self.operation(method, &path) else {
            return Planned {
                method,
                path,
                body: None,
                sent: op.clone(),
                valid: true,
            };
        };
        let (overlays, force): (Vec<(String, Value)>, bool) = match op {
            Op::Activate(_, m) => {
                let mut o = self.credential_overlays("/credentials");
                if let Some(m) = m {
                    o.push(("/syncIntervalMinutes".into(), json!(m)));
                }
                (o, false)
            }
            Op::Test(_) => (self.credential_overlays("/credentials"), false),
            Op::Sync(_) => (vec![("/fullResync".into(), json!(false))], false),
            Op::Toggle(_, on) => (vec![("/enabled".into(), json!(on))], false),
            Op::Interval(_, m) => (vec![("/syncIntervalMinutes".into(), json!(m))], true),
            Op::Lookback(_, d) => (vec![("/invoiceLookbackDays".into(), json!(d))], true),
            Op::AutoSend(_, on) => (vec![("/autoSendInvoices".into(), json!(on))], false),
            _ => (Vec::new(), false),
        };
        let planned = self.body(operation, &overlays, force);
        let sent = match (op, &planned) {
            // The spec does not let activation set the interval: the model must not
            // expect it.
            (Op::Activate(i, Some(_)), Some((_, laid)))
                if !laid.iter().any(|p| p == "/syncIntervalMinutes") =>
            {
                Op::Activate(*i, None)
            }
            _ => op.clone(),
        };
        let body = planned.map(|(b, _)| b);
        let valid = operation.body_violations(body.as_ref()).is_empty();
        Planned {
            method,
            path,
            body,
            sent,
            valid,
        }
    }

    /// The statuses the spec allows for `outcome` of the operation at `method path`:
    /// what the operation pins in `x-outcomes`, else every documented status the docs
    /// allow for that outcome.
    pub fn statuses(&self, method: &str, path: &str, outcome: Outcome) -> Vec<u16> {
        let Some(op) = self.operation(method, path) else {
            return vec![404, 405];
        };
        statuses(op, outcome)
    }

    /// The smallest interval the spec accepts for `sync-interval`, and the largest.
    pub fn interval_bounds(&self) -> (i64, i64) {
        self.bounds(
            "PUT",
            "/integrations/practicehub/sync-interval",
            "syncIntervalMinutes",
        )
        .unwrap_or((1, 1440))
    }

    /// The smallest lookback the spec accepts, and the largest.
    pub fn lookback_bounds(&self) -> (i64, i64) {
        self.bounds(
            "PUT",
            "/integrations/practicehub/invoice-lookback",
            "invoiceLookbackDays",
        )
        .unwrap_or((1, 3650))
    }

    fn bounds(&self, method: &str, path: &str, field: &str) -> Option<(i64, i64)> {
        let schema = self.operation(method, path)?.json_body_schema()?;
        let node = schema.resolve(schema.json());
        let prop = schema.resolve(node.pointer(&format!("/properties/{field}"))?);
        Some((
            prop.get("minimum").and_then(Value::as_i64).unwrap_or(1),
            prop.get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(1440 * 30),
        ))
    }

    /// The interval a first activation without one gets, when the spec says
    /// (`default` of activation's `syncIntervalMinutes`), in milliseconds.
    pub fn default_interval_ms(&self) -> Option<u64> {
        let op = self.operation("POST", "/integrations/practicehub/activate")?;
        let schema = op.json_body_schema()?;
        let node = schema.resolve(schema.json());
        let prop = schema.resolve(node.pointer("/properties/syncIntervalMinutes")?);
        prop.get("default")?.as_u64().map(|m| m * 60_000)
    }
}

/// The statuses `op` allows for `outcome`: pinned by `x-outcomes`, else the docs'
/// candidates it documents (every documented 4xx when it documents none of them).
pub fn statuses(op: &Operation, outcome: Outcome) -> Vec<u16> {
    if let Some((_, pinned)) = op.outcomes.iter().find(|(n, _)| n == outcome.name()) {
        return pinned.clone();
    }
    let documented: Vec<u16> = op
        .statuses()
        .iter()
        .filter_map(|s| match s {
            StatusKey::Code(c) => Some(*c),
            _ => None,
        })
        .collect();
    let allowed: Vec<u16> = documented
        .iter()
        .copied()
        .filter(|c| outcome.candidates(*c))
        .collect();
    match (allowed.is_empty(), outcome) {
        (false, _) => allowed,
        (true, Outcome::Ok) => vec![200],
        (true, _) => documented
            .into_iter()
            .filter(|c| (400..500).contains(c))
            .collect(),
    }
}

/// Sets `value` at a JSON pointer, creating objects on the way.
fn set(target: &mut Value, pointer: &str, value: Value) {
    let mut node = target;
    let parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (n, part) in parts.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if n + 1 == parts.len() {
            map.insert(part.clone(), value);
            return;
        }
        node = map.entry(part.clone()).or_insert_with(|| json!({}));
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_only_the_overlays_the_spec_accepts() {
        let contract = Contract::embedded().unwrap();
        let planner = Planner::new(
            &contract,
            json!({"apiKey": "fail_sync_x", "baseUrl": "https://x.example"}),
        );
        let p = planner.plan(&Op::Activate(1, Some(30)));
        assert_eq!(p.body.unwrap()["credentials"]["apiKey"], "fail_sync_x");
        assert_eq!(p.sent, Op::Activate(1, Some(30)));
        // Under the spec's minimum, the interval is not laid over an activation...
        let p = planner.plan(&Op::Activate(1, Some(2)));
        assert_eq!(p.sent, Op::Activate(1, None));
        assert!(p.valid);
        // ...but a sync-interval probe sends it, and knows it is invalid.
        let p = planner.plan(&Op::Interval(1, 2));
        assert_eq!(p.body.unwrap()["syncIntervalMinutes"], 2);
        assert!(!p.valid);
        assert_eq!(planner.interval_bounds(), (5, 1440));
    }

    #[test]
    fn outcomes_map_to_pinned_or_documented_statuses() {
        let contract = Contract::embedded().unwrap();
        let planner = Planner::new(&contract, json!({}));
        let s = |m, p, o| planner.statuses(m, p, o);
        assert_eq!(
            s(
                "POST",
                "/integrations/wodify/deactivate",
                Outcome::NotActive
            ),
            vec![404]
        );
        assert_eq!(
            s("POST", "/integrations/wodify/sync", Outcome::NotActive),
            vec![400]
        );
        assert_eq!(
            s("GET", "/integrations/stripe", Outcome::UnknownProvider),
            vec![400, 404]
        );
        assert_eq!(s("GET", "/nowhere", Outcome::Ok), vec![404, 405]);
        assert_eq!(s("GET", "/integrations", Outcome::Ok), vec![200]);
    }
}
