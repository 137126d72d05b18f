//! Fault rules and provider outages: `GET`/`POST`/`DELETE /__mock/faults` and
//! `DELETE /__mock/faults/{id}`. A `provider_outage` rule is tenant state (the
//! provider's answers to syncs), injected through the store; every other rule goes to
//! the fault book.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, done};
use crate::control::ControlError;
use crate::control::faults::{FaultAction, FaultBook, RuleInput};
use crate::sim::{ApiKey, Outage, Timestamp};
use crate::store::{Store, TenantRef};

/// The fault operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `adminListFaults`.
    List,
    /// `adminAddFaults`.
    Add,
    /// `adminClearFaults`.
    Clear,
    /// `adminDeleteFault`.
    Delete,
}

impl Op {
    /// The operation an `operationId` names.
    pub fn resolve(operation_id: &str) -> Option<Self> {
        Some(match operation_id {
            "adminListFaults" => Op::List,
            "adminAddFaults" => Op::Add,
            "adminClearFaults" => Op::Clear,
            "adminDeleteFault" => Op::Delete,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct AddFaults {
    rules: Vec<RuleInput>,
}

fn is_outage(rule: &RuleInput) -> bool {
    matches!(rule.action, FaultAction::ProviderOutage { .. })
}

pub(super) async fn answer(op: Op, call: &Call<'_>) -> Result<Value, ControlError> {
    let (control, store) = (call.control, call.store);
    match op {
        Op::List => Ok(control
            .faults
            .update(store, |book| json!({ "rules": book.rules() }))
            .await?),
        Op::Add => {
            let rules = call.body::<AddFaults>()?.rules;
            for r in &rules {
                FaultBook::validate(r).map_err(ControlError::BadFault)?;
                if is_outage(r) && r.matcher.provider.is_none() {
                    return Err(ControlError::OutageWithoutProvider);
                }
            }
            let (outages, rules): (Vec<RuleInput>, Vec<RuleInput>) =
                rules.into_iter().partition(is_outage);
            // Outages are tenant state: injected through the store, outside the book's lock.
            for r in &outages {
                inject_outage(store, r, call.now).await?;
            }
            Ok(control
                .faults
                .update(store, |book| {
                    for r in &rules {
                        book.add(r.clone());
                    }
                    json!({ "rules": book.rules() })
                })
                .await?)
        }
        Op::Clear => {
            control.faults.update(store, FaultBook::clear).await?;
            for key in store.tenant_keys().await? {
                store
                    .with_existing(&key, |t| t.merchant.clear_outages())
                    .await?;
            }
            done("every fault rule and provider outage cleared")
        }
        Op::Delete => {
            let id = call.text("id");
            if control.faults.update(store, |book| book.remove(id)).await? {
                done(format!("{id} deleted"))
            } else {
                Err(ControlError::NoSuchFault(id.to_owned()))
            }
        }
    }
}

/// Injects a `provider_outage` rule's outage, as of `now` (each merchant's own time),
/// into the tenants the rule's key selects (every existing tenant when it names none);
/// self-service's rules name the caller's key.
pub(in crate::control) async fn inject_outage(
    store: &dyn Store,
    rule: &RuleInput,
    now: Timestamp,
) -> Result<(), ControlError> {
    let (Some(provider), FaultAction::ProviderOutage { syncs, seconds }) =
        (rule.matcher.provider, &rule.action)
    else {
        return Err(ControlError::OutageWithoutProvider);
    };
    // As of each merchant's own time (its clock may run ahead of the sandbox's).
    let outage = |t: &crate::sim::Tenant| match (syncs, seconds) {
        (Some(n), _) => Outage::NextSyncs { remaining: *n },
        (None, s) => Outage::Until {
            until: t.now(now).plus(Duration::from_secs(s.unwrap_or(0))),
        },
    };
    let keys = match &rule.matcher.key {
        Some(k) => vec![ApiKey::parse(k).map_err(|reason| ControlError::BadKey {
            field: "match.key",
            reason,
        })?],
        None => store.tenant_keys().await?,
    };
    for key in keys {
        store
            .with_tenant(&TenantRef::of(key), |t| {
                let outage = outage(t);
                t.merchant.inject_outage(provider, outage)
            })
            .await?;
    }
    Ok(())
}
