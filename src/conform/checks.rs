//! The checks, by name, and the conformance of one exchange to the contract.

use std::time::Duration;

use super::client::{Failure, Response};
use crate::spec::{Contract, Reading, RouteMatch};

/// The checks every answer goes through ([`exchange`]).
pub const PER_ANSWER: [&str; 8] = [
    "status_documented",
    "content_type",
    "response_schema",
    "documented_headers",
    "no_server_error",
    "no_dropped_connection",
    "response_time",
    "response_size",
];

/// No credential value the run sent comes back in an answer (body or header).
pub const NO_SECRET_ECHO: &str = "no_secret_echo";

/// The stateful check's name.
pub const STATEFUL: &str = "stateful";

/// The circuit-breaker check's name (`breaker.rs`).
pub const BREAKER: &str = "circuit_breaker";

/// The sync-history check's name (`history.rs`).
pub const HISTORY: &str = "sync_history";

/// The product-mappings check's name (`mappings.rs`).
pub const MAPPINGS: &str = "product_mappings";

/// The scenarios' check name.
pub const SCENARIOS: &str = "scenarios";

/// The authentication negatives' check name.
pub const AUTHENTICATION: &str = "authentication";

/// Inputs the spec refuses must be refused.
pub const NEGATIVE_INPUTS: &str = "negative_inputs";

/// Inputs the spec accepts must not be refused as invalid.
pub const VALID_INPUTS: &str = "valid_inputs";

/// The idempotency check's name.
pub const IDEMPOTENCY: &str = "idempotency";

/// The checks a run makes beside the per-answer ones (what `--checks` may name).
pub const RUN_CHECKS: [&str; 10] = [
    SCENARIOS,
    AUTHENTICATION,
    NEGATIVE_INPUTS,
    VALID_INPUTS,
    IDEMPOTENCY,
    BREAKER,
    HISTORY,
    MAPPINGS,
    STATEFUL,
    NO_SECRET_ECHO,
];

/// Whether `name` is a check `--checks` may name.
pub fn known(name: &str) -> bool {
    PER_ANSWER.contains(&name) || RUN_CHECKS.contains(&name)
}

/// What one exchange showed: the problems, and what the answer holds beyond what the
/// exact reading knows (warnings under the promised reading).
#[derive(Debug, Default)]
pub struct Checked {
    /// The failed checks.
    pub findings: Vec<Finding>,
    /// Unknown fields, enum values and error codes: allowed by the versioning policy.
    pub forward_compatible: Vec<String>,
}

/// A problem found by a check in one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check.
    pub check: &'static str,
    /// What is wrong.
    pub message: String,
}

fn finding(check: &'static str, message: impl Into<String>) -> Finding {
    Finding {
        check,
        message: message.into(),
    }
}

/// Checks one exchange against the contract in `reading`: transport, time, status,
/// content type, headers and body. `path` is the path under the base (with no query).
pub fn exchange(
    contract: &Contract,
    method: &str,
    path: &str,
    result: &Result<Response, Failure>,
    timeout: Duration,
    reading: Reading,
) -> Checked {
    let resp = match result {
        Err(Failure::Connection(e) | Failure::Unreachable(e)) => {
            return Checked {
                findings: vec![finding("no_dropped_connection", format!("no answer: {e}"))],
                ..Checked::default()
            };
        }
        Err(Failure::Timeout(t)) => {
            return Checked {
                findings: vec![finding("response_time", format!("no answer within {t:?}"))],
                ..Checked::default()
            };
        }
        Err(Failure::TooLarge(cap)) => {
            return Checked {
                findings: vec![finding(
                    "response_size",
                    format!(
                        "the answer is larger than --max-response-size ({cap} bytes); the rest was not read"
                    ),
                )],
                ..Checked::default()
            };
        }
        Err(Failure::Stopped) => return Checked::default(),
        Ok(r) => r,
    };
    let mut out = Vec::new();
    if resp.elapsed > timeout {
        out.push(finding(
            "response_time",
            format!("answered in {:?}, over {timeout:?}", resp.elapsed),
        ));
    }
    if resp.status >= 500 {
        out.push(finding(
            "no_server_error",
            format!("{} {}", resp.status, String::from_utf8_lossy(&resp.body)),
        ));
    }
    let full_path = format!("{}{}", contract.base_path, path);
    let op = match contract.resolve_text(method, &full_path) {
        RouteMatch::Found { operation, .. } => Some(&contract.operations[operation]),
        _ => None,
    };
    let headers = resp.headers.clone();
    for v in
        contract.response_violations(op, resp.status, &headers[..], resp.json.as_ref(), reading)
    {
        let check = if v.field == "status" {
            "status_documented"
        } else if v.field == "header content-type" {
            "content_type"
        } else if v.field.starts_with("header ") {
            "documented_headers"
        } else {
            "response_schema"
        };
        out.push(finding(check, v.to_string()));
    }
    let forward_compatible = match reading {
        Reading::Exact => Vec::new(),
        Reading::Promised => contract
            .response_unknowns(
                op,
                resp.status,
                resp.header("content-type"),
                resp.json.as_ref(),
            )
            .into_iter()
            .map(|v| {
                let at = op.map_or("an unmatched path", |o| o.id.as_str());
                format!("{at} {}: {v}", resp.status)
            })
            .collect(),
    };
    Checked {
        findings: out,
        forward_compatible,
    }
}
