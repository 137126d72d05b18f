//! The request checks the API and the admin API share: one route resolver (404 for an
//! unknown path, 405 with `Allow` for a known path and another method) and one body
//! reader (a JSON content type, well-formed JSON, the operation's schema).

use serde_json::Value;

use super::ApiError;
use crate::spec::{Contract, Operation, RouteMatch, is_json};

/// The operation `method path` resolves to in `contract`, with its path parameters.
pub fn route(
    contract: &Contract,
    method: &str,
    path: &str,
) -> Result<(usize, Vec<(String, String)>), ApiError> {
    match contract.resolve_text(method, path) {
        RouteMatch::Found { operation, params } => Ok((operation, params)),
        RouteMatch::MethodNotAllowed { allow } => {
            let allow: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
            Err(ApiError::method_not_allowed(method, &allow.join(", ")))
        }
        RouteMatch::NotFound => Err(ApiError::route_not_found(method, path, &contract.base_path)),
    }
}

/// The request's JSON body as `op` accepts it: `None` when it sent none (or the
/// operation takes none); refused when the content type is not JSON (415), the JSON
/// is malformed (400) or the schema refuses it (400, naming every field).
pub fn json_body(
    op: &Operation,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Option<Value>, ApiError> {
    let body = if op.accepts_body() && !bytes.is_empty() {
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::unsupported_media_type(content_type));
        }
        Some(
            serde_json::from_slice::<Value>(bytes)
                .map_err(|e| ApiError::invalid_json(&e.to_string()))?,
        )
    } else {
        None
    };
    let violations = op.body_violations(body.as_ref());
    if violations.is_empty() {
        Ok(body)
    } else {
        Err(ApiError::validation(violations))
    }
}
