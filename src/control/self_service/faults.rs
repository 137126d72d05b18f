//! Fault rules on the caller's own requests: `GET`/`POST`/`DELETE /__mock/self/faults`
//! and `DELETE /__mock/self/faults/{id}`. The admin API's rule language, with
//! `match.key` fixed to the caller's key; the rules go into the sandbox's one fault
//! book (so they fire on every replica), and a `provider_outage` into the caller's
//! merchant. Quotas bound what one merchant may stage.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, Quotas, done};
use crate::api::ApiError;
use crate::control::admin::inject_outage;
use crate::control::faults::{FaultAction, FaultBook, Rule, RuleInput};
use crate::spec::Violation;

/// The fault operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `selfListFaults`.
    List,
    /// `selfAddFaults`.
    Add,
    /// `selfClearFaults`.
    Clear,
    /// `selfDeleteFault`.
    Delete,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "selfListFaults" => Op::List,
            "selfAddFaults" => Op::Add,
            "selfClearFaults" => Op::Clear,
            "selfDeleteFault" => Op::Delete,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct AddFaults {
    rules: Vec<RuleInput>,
}

/// Whether `rule` is the caller's (`key`: its key as text).
fn owned_by(rule: &Rule, key: &str) -> bool {
    rule.matcher.key.as_deref() == Some(key)
}

/// The caller's rules, as `Rule`s in the contract.
pub(super) fn own_rules(book: &FaultBook, key: &str) -> Vec<Rule> {
    book.rules()
        .iter()
        .filter(|r| owned_by(r, key))
        .cloned()
        .collect()
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ApiError> {
    let (control, store) = (call.control, call.store);
    let key = call.session.key().as_str().to_owned();
    match op {
        Op::List => {
            let rules = control
                .faults
                .update(store, |book| own_rules(book, &key))
                .await?;
            Ok(json!({ "rules": rules }))
        }
        Op::Add => {
            let mut rules = call.body::<AddFaults>()?.rules;
            for (i, r) in rules.iter_mut().enumerate() {
                check(r, i, &key, &call.service.quotas)?;
                r.matcher.key = Some(key.clone());
            }
            let (outages, rules): (Vec<RuleInput>, Vec<RuleInput>) =
                rules.into_iter().partition(is_outage);
            let most = call.service.quotas.rules;
            let added = control
                .faults
                .update(store, |book| {
                    let held = book.rules().iter().filter(|r| owned_by(r, &key)).count();
                    if held + rules.len() > most {
                        return Err(held);
                    }
                    for r in &rules {
                        book.add(r.clone());
                    }
                    Ok(own_rules(book, &key))
                })
                .await?;
            let own = added.map_err(|held| {
                ApiError::quota_exceeded(
                    "rules",
                    format!(
                        "a merchant holds at most {most} fault rules: it holds {held}, and {} more would pass that (DELETE /__mock/self/faults removes them)",
                        rules.len()
                    ),
                )
            })?;
            // Outages are the merchant's state, as of its own time: injected as the
            // admin API injects them (the rule's key is the caller's).
            for r in &outages {
                inject_outage(store, r, call.now).await?;
            }
            Ok(json!({ "rules": own }))
        }
        Op::Clear => {
            let removed = control
                .faults
                .update(store, |book| book.retain(|r| !owned_by(r, &key)))
                .await?;
            store
                .with_tenant(&call.session.tenant, |t| t.merchant.clear_outages())
                .await?;
            done(format!(
                "{removed} fault rule{} removed and every provider outage ended",
                if removed == 1 { "" } else { "s" }
            ))
        }
        Op::Delete => {
            let id = call.text("id").unwrap_or("");
            // Another merchant's rule is answered as one that does not exist.
            let removed = control
                .faults
                .update(store, |book| {
                    book.retain(|r| !(r.id == id && owned_by(r, &key)))
                })
                .await?;
            if removed == 0 {
                return Err(ApiError::not_found(format!(
                    "no fault rule '{id}' of this merchant (GET /__mock/self/faults lists them)"
                )));
            }
            done(format!("{id} deleted"))
        }
    }
}

fn is_outage(rule: &RuleInput) -> bool {
    matches!(rule.action, FaultAction::ProviderOutage { .. })
}

/// Checks rule `i` as the admin API does, then against the caller's key and the quotas.
fn check(r: &RuleInput, i: usize, key: &str, quotas: &Quotas) -> Result<(), ApiError> {
    let field = |name: &str| format!("rules[{i}].{name}");
    if r.matcher.key.as_deref().is_some_and(|k| k.trim() != key) {
        return Err(ApiError::key_not_yours(&field("match.key")));
    }
    let invalid = |name: &str, message: String| {
        ApiError::validation(vec![Violation {
            field: field(name),
            message,
        }])
    };
    FaultBook::validate(r).map_err(|m| invalid("action", m))?;
    let over = |name: &str, limit: String| {
        ApiError::quota_exceeded(
            &field(name),
            format!("{} is past the self-service limit of {limit}", field(name)),
        )
    };
    match &r.action {
        FaultAction::Latency { ms, max_ms, .. } => {
            let longest = Duration::from_millis(ms.or(*max_ms).unwrap_or(0));
            if longest > quotas.latency {
                let name = if ms.is_some() {
                    "action.ms"
                } else {
                    "action.maxMs"
                };
                return Err(over(name, format!("{} ms", quotas.latency.as_millis())));
            }
        }
        FaultAction::RateLimit { retry_after } if *retry_after > quotas.retry_after_secs => {
            return Err(over(
                "action.retryAfter",
                format!("{} seconds", quotas.retry_after_secs),
            ));
        }
        FaultAction::ProviderOutage { seconds, .. } => {
            if r.matcher.provider.is_none() {
                return Err(invalid(
                    "match.provider",
                    "a provider_outage rule needs match.provider".into(),
                ));
            }
            if seconds.is_some_and(|s| Duration::from_secs(s) > quotas.outage) {
                return Err(over(
                    "action.seconds",
                    format!("{} seconds", quotas.outage.as_secs()),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}
