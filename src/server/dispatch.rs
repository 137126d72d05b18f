//! Requests of the modelled operations turned into simulator commands, and outcomes
//! into the spec's response bodies. Operations are recognised by `operationId`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiError;
use crate::api::render::{self, IntegrationJson};
use crate::sim::{
    ActivateInput, Command, Credentials, Integration, IntegrationStatus, LookbackDays, Outcome,
    PaymentMapping, Provider, SimConfig, SyncIntervalMinutes, Tenant, Timestamp,
};
use crate::spec::{ParsedParams, Violation};

/// What a modelled operation does with the tenant.
pub enum Action {
    /// `GET /integrations`.
    List {
        /// Page size.
        limit: usize,
        /// First item.
        offset: usize,
    },
    /// `GET /integrations/{provider}`.
    Get(Provider),
    /// Any command on one provider.
    Run(Provider, Command),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivateBody {
    credentials: Credentials,
    sync_interval_minutes: Option<u32>,
    currency: Option<String>,
    sync_enabled: Option<bool>,
    auto_send_invoices: Option<bool>,
    payment_mappings: Option<Vec<PaymentMapping>>,
    #[serde(flatten)]
    flags: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DeactivateBody {
    #[serde(default)]
    delete_credentials: bool,
}

#[derive(Deserialize)]
struct TestBody {
    credentials: Credentials,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SyncBody {
    #[serde(default)]
    full_resync: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    status: IntegrationStatus,
    last_sync_error: Option<String>,
}

#[derive(Deserialize)]
struct ToggleBody {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntervalBody {
    sync_interval_minutes: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookbackBody {
    invoice_lookback_days: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoSendBody {
    auto_send_invoices: bool,
}

/// Reads a body the contract has already validated. A failure here means the spec
/// allows what the simulator's types do not; it is still the client's 400, never a 500.
fn body<T: for<'de> Deserialize<'de> + Default>(body: Option<&Value>) -> Result<T, ApiError> {
    match body {
        None => Ok(T::default()),
        Some(v) => required(v),
    }
}

fn required<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, ApiError> {
    serde_json::from_value(v.clone()).map_err(|e| {
        ApiError::validation(vec![Violation {
            field: String::new(),
            message: e.to_string(),
        }])
    })
}

fn required_body<T: for<'de> Deserialize<'de>>(b: Option<&Value>) -> Result<T, ApiError> {
    match b {
        Some(v) => required(v),
        None => Err(ApiError::validation(vec![Violation {
            field: String::new(),
            message: "a JSON body is required".into(),
        }])),
    }
}

fn bounded<T>(r: Result<T, String>, field: &str) -> Result<T, ApiError> {
    r.map_err(|message| {
        ApiError::validation(vec![Violation {
            field: field.to_owned(),
            message,
        }])
    })
}

/// The action of a modelled operation, or `None` for an operation the simulator does
/// not model (answered generically).
pub fn action(
    operation_id: &str,
    params: &ParsedParams<'_>,
    b: Option<&Value>,
) -> Option<Result<Action, ApiError>> {
    let provider = || -> Result<Provider, ApiError> {
        let name = params.get("provider").and_then(Value::as_str).unwrap_or("");
        name.parse().map_err(|message| {
            ApiError::unknown_path_param(vec![Violation {
                field: "provider".into(),
                message,
            }])
        })
    };
    let run = |command: Result<Command, ApiError>| -> Result<Action, ApiError> {
        Ok(Action::Run(provider()?, command?))
    };
    Some(match operation_id {
        "listIntegrations" => {
            // A whole number past 64 bits arrives as a float; it saturates.
            let num = |n: &str, d: u64| {
                params
                    .get(n)
                    .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
                    .unwrap_or(d) as usize
            };
            Ok(Action::List {
                // The pagination guide clamps a larger page size and echoes the result.
                limit: num("limit", 25).min(MAX_PAGE_SIZE),
                offset: num("offset", 0),
            })
        }
        "getIntegration" => provider().map(Action::Get),
        "activateIntegration" => run(required_body::<ActivateBody>(b).and_then(|a| {
            let sync_interval = match a.sync_interval_minutes {
                Some(m) => Some(bounded(SyncIntervalMinutes::new(m), "syncIntervalMinutes")?),
                None => None,
            };
            let flags = a
                .flags
                .into_iter()
                .filter_map(|(k, v)| v.as_bool().map(|b| (k, b)))
                .collect();
            Ok(Command::Activate(ActivateInput {
                credentials: a.credentials,
                sync_interval,
                currency: a.currency,
                sync_enabled: a.sync_enabled,
                auto_send_invoices: a.auto_send_invoices,
                flags,
                payment_mappings: a.payment_mappings,
            }))
        })),
        "deactivateIntegration" => run(body::<DeactivateBody>(b).map(|d| Command::Deactivate {
            delete_credentials: d.delete_credentials,
        })),
        "testIntegrationCredentials" => {
            run(required_body::<TestBody>(b).map(|t| Command::TestCredentials(t.credentials)))
        }
        "triggerIntegrationSync" => run(body::<SyncBody>(b).map(|s| Command::TriggerSync {
            full_resync: s.full_resync,
        })),
        "updateIntegrationStatus" => {
            run(
                required_body::<StatusBody>(b).map(|s| Command::UpdateStatus {
                    status: s.status,
                    last_sync_error: s.last_sync_error,
                }),
            )
        }
        "toggleIntegrationSync" => {
            run(required_body::<ToggleBody>(b).map(|t| Command::SetSyncEnabled(t.enabled)))
        }
        "updateIntegrationSyncInterval" => run(required_body::<IntervalBody>(b).and_then(|i| {
            Ok(Command::SetSyncInterval(bounded(
                SyncIntervalMinutes::new(i.sync_interval_minutes),
                "syncIntervalMinutes",
            )?))
        })),
        "updateIntegrationInvoiceLookback" => run(required_body::<LookbackBody>(b).and_then(|l| {
            Ok(Command::SetInvoiceLookback(bounded(
                LookbackDays::new(l.invoice_lookback_days),
                "invoiceLookbackDays",
            )?))
        })),
        "updateIntegrationAutoSendInvoices" => run(required_body::<AutoSendBody>(b)
            .map(|a| Command::SetAutoSendInvoices(a.auto_send_invoices))),
        "resumeIntegrationSync" => run(Ok(Command::ResumeSync)),
        _ => return None,
    })
}

/// What an action produced, taken out of the tenant so its lock is released before the
/// answer is written. Integrations that are read come out as their JSON: usually the
/// JSON this thread kept from an earlier read, which costs neither a render nor a copy
/// of the integration under the lock (see `render::integration_json`).
pub enum Done {
    /// A page of the list.
    List {
        /// The page's integrations.
        page: Vec<IntegrationJson>,
        /// Page size.
        limit: usize,
        /// First item.
        offset: usize,
        /// Integrations in all.
        total: usize,
    },
    /// One provider's integration, if any.
    Get(Option<IntegrationJson>),
    /// A command's outcome.
    Ran(Provider, Outcome),
}

/// The largest page `GET /integrations` returns (the pagination guide's maximum).
pub const MAX_PAGE_SIZE: usize = 100;

/// Runs an action on a tenant at `now` (the caller holds the tenant's lock).
pub fn perform(
    action: Action,
    tenant: &mut Tenant,
    config: &SimConfig,
    now: Timestamp,
) -> Result<Done, ApiError> {
    let merchant = &mut tenant.merchant;
    Ok(match action {
        Action::List { limit, offset } => {
            merchant.advance(config, now);
            Done::List {
                page: merchant
                    .integrations()
                    .skip(offset)
                    .take(limit)
                    .map(|i| json(i, config, now))
                    .collect::<Result<_, _>>()?,
                limit,
                offset,
                total: merchant.integrations().count(),
            }
        }
        Action::Get(provider) => {
            merchant.advance(config, now);
            let found = merchant.integration(provider);
            Done::Get(found.map(|i| json(i, config, now)).transpose()?)
        }
        Action::Run(provider, command) => {
            Done::Ran(provider, merchant.execute(config, now, provider, command)?)
        }
    })
}

/// An integration's JSON. Only a time past the years 1970-9999 cannot be written, and
/// the clock is never moved past 9999-01-01.
fn json(i: &Integration, config: &SimConfig, now: Timestamp) -> Result<IntegrationJson, ApiError> {
    render::integration_json(i, &config.breaker, now)
        .map_err(|e| ApiError::internal(format!("the integration cannot be written as JSON: {e}")))
}

/// The 200 body of what an action produced, as JSON bytes.
pub fn render(done: Done, config: &SimConfig, now: Timestamp) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(1024);
    let written = match done {
        Done::List {
            page,
            limit,
            offset,
            total,
        } => serde_json::to_writer(
            &mut out,
            &render::ListBody {
                pagination: render::Pagination {
                    limit,
                    offset,
                    total,
                    has_more: offset + page.len() < total,
                },
                data: page,
            },
        ),
        Done::Get(data) => serde_json::to_writer(&mut out, &render::GetBody { data }),
        Done::Ran(_, Outcome::Activated(i)) => serde_json::to_writer(
            &mut out,
            &render::ActivatedBody {
                success: true,
                data: json(&i, config, now)?,
            },
        ),
        Done::Ran(provider, outcome) => serde_json::to_writer(
            &mut out,
            &match outcome {
                Outcome::Deactivated {
                    credentials_deleted,
                } => json!({
                    "success": true,
                    "message": format!(
                        "{provider} integration deactivated; stored credentials {}",
                        if credentials_deleted { "deleted" } else { "kept" }
                    ),
                }),
                Outcome::Verdict(Ok(())) => json!({ "valid": true }),
                Outcome::Verdict(Err(reason)) => json!({ "valid": false, "error": reason }),
                Outcome::SyncEnqueued { job_id } => {
                    json!({ "success": true, "jobId": job_id.to_string() })
                }
                Outcome::Resumed { job_id } => json!({
                    "success": true,
                    "message": "circuit breaker reset; trial sync enqueued",
                    "jobId": job_id.to_string(),
                }),
                Outcome::Updated | Outcome::Activated(_) => json!({ "success": true }),
            },
        ),
    };
    // Plain structs, kept JSON and maps of strings: writing them to a Vec cannot fail.
    written
        .map_err(|e| ApiError::internal(format!("the answer cannot be written as JSON: {e}")))?;
    Ok(out)
}
