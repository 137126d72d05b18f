//! Running the scenarios against the spec being checked: each step's body is laid
//! over the smallest body that spec accepts, and a step is sent in the first of its
//! forms the spec can express (its route exists, one of its statuses is documented,
//! the spec accepts the request when a success is expected and refuses it when only
//! a refusal is, and every expected value is one the spec can hold). A scenario with
//! a step the spec cannot express is reported as skipped, with why, never as failed.

use serde_json::Value;

use super::client::Request;
use super::requests::Planner;
use super::scenario::{self, Alternative, Step};
use super::{Run, checks, rules};
use crate::spec::{Operation, Schema, StatusKey};

/// One form of a step, ready to send.
struct Form {
    body: Option<Value>,
    status: Vec<u16>,
    /// Values the spec or the docs fix.
    expect: Vec<(String, Value)>,
    /// Values the mock chose (a difference, not a failure, outside `--exact`).
    mock_expect: Vec<(String, Value)>,
}

impl Run<'_> {
    pub(super) fn scenarios(&mut self) -> Result<(), String> {
        if !self.enabled(checks::SCENARIOS) {
            return Ok(());
        }
        for s in scenario::load(self.cfg.scenarios.as_deref())? {
            if self.cfg.read_only && s.steps.iter().any(|st| !st.request.starts_with("GET ")) {
                self.report.skip(
                    checks::SCENARIOS,
                    &s.name,
                    "a read-only run sends no writes",
                );
                continue;
            }
            let planned: Result<Vec<Vec<Form>>, String> = s
                .steps
                .iter()
                .map(|step| {
                    expressible(&self.planner, step)
                        .map_err(|why| format!("step \"{}\": {why}", step.name))
                })
                .collect();
            let planned = match planned {
                Ok(p) => p,
                Err(why) => {
                    self.report.skip(checks::SCENARIOS, &s.name, &why);
                    continue;
                }
            };
            let mut repro = Vec::new();
            for (step, forms) in s.steps.iter().zip(planned) {
                if self.stopped() {
                    return Ok(());
                }
                let (method, path) = step
                    .request
                    .split_once(' ')
                    .unwrap_or(("GET", &step.request));
                let key = match step.key.as_str() {
                    "primary" => Some(self.cfg.api_key.as_str()),
                    "none" => None,
                    other => Some(other),
                };
                let req = Request::new(method, path, key, forms[0].body.clone());
                repro.push(req.curl(self.client.target(), &self.cfg.api_key));
                let result = self.send(&req);
                let sent = &forms[0].body;
                let problem = match &result {
                    Err(e) => Some((&rules::SCENARIO_OUTCOME, format!("no answer ({e:?})"))),
                    Ok(r) => {
                        // The answer passes when it matches any form sent with this
                        // body (a `None` from one form makes the whole collect `None`).
                        let problems: Vec<(&'static rules::Rule, String)> = forms
                            .iter()
                            .filter(|f| &f.body == sent)
                            .map(|f| mismatch(f, r.status, r.json.as_ref()))
                            .collect::<Option<Vec<_>>>()
                            .unwrap_or_default();
                        let rule = problems
                            .iter()
                            .map(|(rule, _)| *rule)
                            .find(|rule| rule.id == rules::SCENARIO_OUTCOME.id)
                            .or_else(|| problems.first().map(|(rule, _)| *rule));
                        rule.map(|rule| {
                            let all: Vec<&str> = problems.iter().map(|(_, p)| p.as_str()).collect();
                            (rule, all.join("; or "))
                        })
                    }
                };
                let body = result
                    .as_ref()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .unwrap_or_default();
                match problem {
                    None => self.report.pass(checks::SCENARIOS),
                    Some(_) if self.stopped() => return Ok(()),
                    Some((rule, p)) => {
                        let message = format!("{} / {}: {p} ({body})", s.name, step.name);
                        self.violated(checks::SCENARIOS, rule, message, repro.clone());
                        break;
                    }
                }
                // Values the mock chose: a difference when the answer does not hold
                // them; the journey goes on.
                if let Ok(r) = &result
                    && let Some(form) = forms
                        .iter()
                        .find(|f| &f.body == sent && f.status.contains(&r.status))
                {
                    for (ptr, want) in &form.mock_expect {
                        let got = r
                            .json
                            .as_ref()
                            .and_then(|j| j.pointer(ptr))
                            .cloned()
                            .unwrap_or(Value::Null);
                        if &got != want {
                            let message = format!(
                                "{} / {}: expected {ptr} = {want}, got {got}",
                                s.name, step.name
                            );
                            self.violated(
                                checks::SCENARIOS,
                                &rules::SCENARIO_MOCK_VALUE,
                                message,
                                repro.clone(),
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// What is wrong with an answer for one form (and the rule it breaks), or `None` when
/// it matches.
fn mismatch(
    form: &Form,
    status: u16,
    json: Option<&Value>,
) -> Option<(&'static rules::Rule, String)> {
    if !form.status.contains(&status) {
        return Some((
            &rules::SCENARIO_OUTCOME,
            format!("expected status {:?}, got {status}", form.status),
        ));
    }
    form.expect.iter().find_map(|(ptr, want)| {
        let got = json
            .and_then(|j| j.pointer(ptr))
            .cloned()
            .unwrap_or(Value::Null);
        (got != *want).then(|| {
            (
                &rules::SCENARIO_VALUE,
                format!("expected {ptr} = {want}, got {got}"),
            )
        })
    })
}

/// The forms of `step` the spec can express, the first to be sent; `Err` says why
/// none can be.
fn expressible(planner: &Planner<'_>, step: &Step) -> Result<Vec<Form>, String> {
    let (method, path) = step
        .request
        .split_once(' ')
        .unwrap_or(("GET", &step.request));
    let Some((op, params)) = planner.route(method, path) else {
        return Err(format!("the spec has no operation for {method} {path}"));
    };
    let query = path.split_once('?').map(|(_, q)| q);
    let params_ok = op.parse_params(&params, query, &[][..]).is_ok();
    let mut why = Vec::new();
    let mut forms = Vec::new();
    for alt in step.forms() {
        match form(planner, op, query.is_some(), params_ok, &alt) {
            Ok(f) => forms.push(f),
            Err(e) => why.push(e),
        }
    }
    if forms.is_empty() {
        Err(why.join("; "))
    } else {
        Ok(forms)
    }
}

/// One form of a step, unless the spec cannot express it. `params_ok` says whether
/// the spec accepts the step's path and query.
fn form(
    planner: &Planner<'_>,
    op: &Operation,
    has_query: bool,
    params_ok: bool,
    alt: &Alternative,
) -> Result<Form, String> {
    // The statuses the operation documents, each one concrete (`2XX` is every 2xx).
    let documented: Vec<u16> = op
        .statuses()
        .iter()
        .flat_map(|k| match k {
            StatusKey::Code(c) => vec![*c],
            StatusKey::Range(r) => (r * 100..r * 100 + 100).collect(),
            StatusKey::Default => Vec::new(),
        })
        .collect();
    let wanted = |c: u16| {
        (alt.outcome.0.is_empty() || alt.outcome.0.iter().any(|o| o.admits(c)))
            && (alt.status.is_empty() || alt.status.contains(&c))
    };
    let status: Vec<u16> = documented.iter().copied().filter(|c| wanted(*c)).collect();
    if status.is_empty() {
        let asked = if alt.outcome.0.is_empty() {
            format!("{:?}", alt.status)
        } else {
            format!("{:?}", alt.outcome.0)
        };
        return Err(format!("{} documents no status for {asked}", op.id));
    }
    let success = status.iter().any(|c| (200..300).contains(c));
    let refusal_only = status.iter().all(|c| (400..500).contains(c));
    let body = alt.body.as_ref().map(|b| {
        let mut overlays = Vec::new();
        leaves(b, "", &mut overlays);
        planner
            .body(op, &overlays, true)
            .map_or_else(|| b.clone(), |(body, _)| body)
    });
    let violations = op.body_violations(body.as_ref());
    let body_ok = violations.is_empty();
    if success && !(params_ok && body_ok) {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        return Err(format!(
            "the spec refuses this request, expected to succeed ({})",
            if list.is_empty() {
                "a parameter".to_owned()
            } else {
                list.join(", ")
            }
        ));
    }
    // A refusal of input the spec accepts cannot be expected; a refusal of a request
    // without input (or one that may come from the state: 404, 409) can.
    let has_input = body.is_some() || has_query;
    let input_refusal = status.iter().all(|c| matches!(c, 400 | 422));
    if refusal_only && input_refusal && has_input && params_ok && body_ok {
        return Err("the spec accepts this input, expected to be refused".into());
    }
    let schema = status
        .iter()
        .find_map(|c| op.response_for(*c))
        .and_then(|r| r.media.first())
        .and_then(|m| m.schema.as_ref());
    let mut expect = Vec::new();
    for (ptr, want) in &alt.expect {
        if let Some(schema) = schema
            && let Err(e) = holds(schema, ptr, want)
        {
            return Err(e);
        }
        expect.push((ptr.clone(), want.clone()));
    }
    // A value of the mock's the spec cannot hold is not asked for.
    let mock_expect = alt
        .mock_expect
        .iter()
        .filter(|(ptr, want)| schema.is_none_or(|s| holds(s, ptr, want).is_ok()))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    Ok(Form {
        body,
        status,
        expect,
        mock_expect,
    })
}

/// Every leaf of a scenario body, as (pointer, value), so each is laid over the
/// spec's smallest body.
fn leaves(value: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                leaves(
                    v,
                    &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        other if !at.is_empty() => out.push((at.to_owned(), other.clone())),
        _ => {}
    }
}

/// Whether the response schema declares the field at `pointer` and can hold `want`
/// (a value outside a closed enum cannot be expected; an extensible one is open).
fn holds(schema: &Schema, pointer: &str, want: &Value) -> Result<(), String> {
    let mut node = schema.resolve(schema.json());
    for part in pointer.split('/').skip(1) {
        node = find_property(schema, node, part)
            .ok_or_else(|| format!("the response schema does not declare {pointer}"))?;
    }
    if let Some(Value::Array(values)) = node.get("enum")
        && !values.contains(want)
    {
        return Err(format!(
            "{pointer} cannot be {want} under this spec (it lists {values:?})"
        ));
    }
    Ok(())
}

fn find_property<'a>(schema: &'a Schema, node: &'a Value, name: &str) -> Option<&'a Value> {
    let node = schema.resolve(node);
    if let Some(p) = node.pointer(&format!("/properties/{name}")) {
        return Some(schema.resolve(p));
    }
    ["allOf", "anyOf", "oneOf"].iter().find_map(|k| {
        node.get(*k)?
            .as_array()?
            .iter()
            .find_map(|sub| find_property(schema, sub, name))
    })
}
