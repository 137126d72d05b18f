//! Strict mode (`serve --strict`, on in tests): every answer is checked against the
//! spec's exact reading before it is sent; a breach is logged and counted, and the
//! answer still goes out (the client is not the one at fault).

use serde_json::Value;

use super::App;
use super::pipeline::Surface;
use super::reply::Reply;

/// Checks `reply` against the contract of the API it came from.
pub(super) fn strict_check(
    app: &App,
    reply: &Reply,
    surface: Surface,
    method: &str,
    path: &str,
    rid: &str,
) {
    let contract = match (surface, &app.control.self_service) {
        (Surface::Admin, _) => &app.control.contract,
        (Surface::SelfService, Some(service)) => service.contract(),
        _ => &app.contract,
    };
    let op = reply.operation.map(|i| &contract.operations[i]);
    let parsed;
    let body = match &reply.json {
        Some(v) => Some(v),
        None if reply.body.is_empty() => None,
        None => {
            parsed = serde_json::from_slice::<Value>(&reply.body).ok();
            parsed.as_ref()
        }
    };
    let violations = contract.response_violations(
        op,
        reply.status,
        &reply.headers,
        body,
        crate::spec::Reading::Exact,
    );
    if !violations.is_empty() {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        let description = format!("{method} {path} → {}: {}", reply.status, list.join("; "));
        tracing::error!(request_id = %rid, violations = %description, "response breaks the spec (strict mode)");
        app.record_violation(description);
    }
}
