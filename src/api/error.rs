//! Errors in the API's own envelope: `{"error": {type, code, message, param, details,
//! request_id}}`. Every refusal the server makes is an [`ApiError`], built here from
//! the layer that refused (contract, authentication, simulator) so the mapping of a
//! domain rule to a status lives in one place.

use serde_json::{Map, Value, json};

use crate::sim::{AuthError, KeyError, Scope, SimError};
use crate::spec::Violation;
use crate::store::StoreError;

/// `error.type`: the family of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request is wrong.
    InvalidRequest,
    /// The key is missing, malformed, revoked or live.
    Authentication,
    /// The key lacks a scope.
    Permission,
    /// Too many requests.
    RateLimit,
    /// The server (or an injected fault) failed.
    Api,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::RateLimit => "rate_limit_error",
            ErrorType::Api => "api_error",
        }
    }
}

/// A refusal, ready to be rendered in the envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `error.type`.
    pub kind: ErrorType,
    /// `error.code`, one of the spec's enum.
    pub code: &'static str,
    /// `error.message`: what is wrong and what to do.
    pub message: String,
    /// `error.param`: the field at fault.
    pub param: Option<String>,
    /// `error.details.fields`: every problem, by field.
    pub fields: Vec<Violation>,
    /// Extra response headers (`Allow`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: u16, kind: ErrorType, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            param: None,
            fields: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Invalid query parameters, headers or body: 400 naming every field.
    pub fn validation(violations: Vec<Violation>) -> Self {
        Self::with_fields(400, "validation_error", violations)
    }

    /// A path parameter outside its schema (an unknown provider): the path names no
    /// resource, so 404.
    pub fn unknown_path_param(violations: Vec<Violation>) -> Self {
        Self::with_fields(404, "resource_not_found", violations)
    }

    fn with_fields(status: u16, code: &'static str, violations: Vec<Violation>) -> Self {
        let first = violations
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let more = violations.len().saturating_sub(1);
        let message = if more == 0 {
            first
        } else {
            format!(
                "{first} (and {more} more problem{}, listed in error.details.fields)",
                if more == 1 { "" } else { "s" }
            )
        };
        let mut e = Self::new(status, ErrorType::InvalidRequest, code, message);
        e.param = violations
            .first()
            .map(|v| v.field.clone())
            .filter(|f| !f.is_empty());
        e.fields = violations;
        e
    }

    /// A body that is not JSON.
    pub fn invalid_json(reason: &str) -> Self {
        Self::new(
            400,
            ErrorType::InvalidRequest,
            "invalid_json",
            format!("The body is not valid JSON: {reason}."),
        )
    }

    /// A body over the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            ErrorType::InvalidRequest,
            "payload_too_large",
            format!("The body is larger than the limit of {limit} bytes."),
        )
    }

    /// A body that is not `application/json`.
    pub fn unsupported_media_type(got: Option<&str>) -> Self {
        Self::new(
            415,
            ErrorType::InvalidRequest,
            "unsupported_media_type",
            format!(
                "Send the body as JSON with Content-Type: application/json (got {}).",
                got.unwrap_or("no Content-Type")
            ),
        )
    }

    /// No operation at this path; `base` is where the document's operations live
    /// (its first server's path, `/v2`).
    pub fn route_not_found(method: &str, path: &str, base: &str) -> Self {
        let base = if base.is_empty() { "/" } else { base };
        Self::new(
            404,
            ErrorType::InvalidRequest,
            "route_not_found",
            format!(
                "No operation at {method} {path}: the API's operations live under {base} (see the spec's paths)."
            ),
        )
    }

    /// The path exists with other methods.
    pub fn method_not_allowed(method: &str, allow: &str) -> Self {
        let mut e = Self::new(
            405,
            ErrorType::InvalidRequest,
            "method_not_allowed",
            format!("{method} is not allowed here; use {allow}."),
        );
        e.headers.push(("allow", allow.to_owned()));
        e
    }

    /// The key lacks a scope (`insufficient_permissions`, the Go SDK's code for it).
    pub fn insufficient_scope(scope: &str, operation: &str) -> Self {
        let hint = if scope == Scope::IntegrationsWorker.as_str() {
            " This is the internal sync worker's endpoint; use the worker key of your fixture."
        } else {
            ""
        };
        Self::new(
            403,
            ErrorType::Permission,
            "insufficient_permissions",
            format!("This key lacks the {scope} scope needed for {operation}.{hint}"),
        )
    }

    /// Past the rate limit.
    pub fn rate_limited(per_minute: u32, retry_after: u64) -> Self {
        Self::too_many(
            format!("Rate limit of {per_minute} requests per minute"),
            retry_after,
        )
    }

    /// A 429 with `Retry-After`; `what` names the limit that was exceeded.
    fn too_many(what: String, retry_after: u64) -> Self {
        let plural = if retry_after == 1 { "" } else { "s" };
        let mut e = Self::new(
            429,
            ErrorType::RateLimit,
            "rate_limit_exceeded",
            format!("{what} exceeded: retry after {retry_after} second{plural}."),
        );
        e.headers.push(("retry-after", retry_after.to_string()));
        e
    }

    /// `Idempotency-Key` reused with another body.
    pub fn idempotency_conflict() -> Self {
        Self::new(
            409,
            ErrorType::InvalidRequest,
            "idempotency_conflict",
            "This Idempotency-Key was already used with a different body on this endpoint: use a new key for a new request.",
        )
    }

    /// `Idempotency-Key` reused while the first request runs.
    pub fn idempotency_in_progress() -> Self {
        Self::new(
            409,
            ErrorType::InvalidRequest,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed: back off and retry.",
        )
    }

    /// A fault of the mock itself (the spec documents `500 internal_error`): an
    /// operation with nothing to answer with, or an answer that cannot be written.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, ErrorType::Api, "internal_error", message)
    }

    /// A resource of the admin API that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            404,
            ErrorType::InvalidRequest,
            "resource_not_found",
            message,
        )
    }

    /// The admin API without its token.
    pub fn admin_token_required() -> Self {
        Self::new(
            401,
            ErrorType::Authentication,
            "admin_token_required",
            "The admin API needs the token given to --admin-token, sent as Authorization: Bearer <token>.",
        )
    }

    /// An admin request addressed to a host the admin API does not answer for.
    pub fn host_not_allowed(host: &str) -> Self {
        Self::new(
            403,
            ErrorType::Permission,
            "host_not_allowed",
            format!(
                "The admin API answers only requests addressed to localhost, 127.0.0.1, [::1], the address it listens on, or a name given with --allowed-host; this one was addressed to '{host}'. (This keeps a web page from reaching it through a name of its own: DNS rebinding.)"
            ),
        )
    }

    /// A self-service request past one of its quotas (`field`: where the value is).
    pub fn quota_exceeded(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(422, ErrorType::InvalidRequest, "quota_exceeded", message);
        e.param = Some(field.to_owned());
        e
    }

    /// A self-service request naming a key that is not the caller's.
    pub fn key_not_yours(field: &str) -> Self {
        let mut e = Self::new(
            403,
            ErrorType::Permission,
            "key_not_yours",
            format!(
                "{field} names another key: the self-service API acts on the caller's own merchant only (leave it out, or name your own key)"
            ),
        );
        e.param = Some(field.to_owned());
        e
    }

    /// An injected fault's error.
    pub fn injected(status: u16) -> Self {
        let code = match status {
            502 => "bad_gateway",
            503 => "service_unavailable",
            504 => "gateway_timeout",
            _ => "internal_error",
        };
        Self::new(
            status,
            ErrorType::Api,
            code,
            format!(
                "Injected fault: the mock was told to answer {status} (see /__mock/faults). Retry with backoff."
            ),
        )
    }

    /// An injected 429.
    pub fn injected_rate_limit(retry_after: u64) -> Self {
        Self::too_many(
            "A rate limit (injected fault, see /__mock/faults)".into(),
            retry_after,
        )
    }

    /// Whether a first run that ended in this error may be replayed for its key.
    pub fn is_stored_for_idempotency(&self) -> bool {
        self.status < 500
            && !matches!(self.status, 401 | 429)
            && !self.code.starts_with("idempotency_")
    }

    /// The envelope, with the request id.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind.as_str()));
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if let Some(p) = &self.param {
            error.insert("param".into(), json!(p));
        }
        if !self.fields.is_empty() {
            let mut fields: Map<String, Value> = Map::new();
            for v in &self.fields {
                let list = fields.entry(v.field.clone()).or_insert_with(|| json!([]));
                if let Value::Array(items) = list {
                    items.push(json!(v.message));
                }
            }
            error.insert("details".into(), json!({ "fields": fields }));
        }
        error.insert("request_id".into(), json!(request_id));
        json!({ "error": error })
    }
}

/// A lower layer's error message as a sentence for the envelope: capitalised, with a
/// full stop (the layers' messages are written to be embedded, not to stand alone).
fn sentence(e: &impl std::fmt::Display) -> String {
    let m = e.to_string();
    let mut chars = m.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => m,
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::Key(KeyError::Missing) => "missing_api_key",
            AuthError::Key(KeyError::Malformed) | AuthError::Unknown => "invalid_api_key",
            AuthError::Revoked => "revoked_api_key",
            AuthError::Live => "live_key_rejected",
            AuthError::TenantLimit(_) => {
                return ApiError::new(
                    403,
                    ErrorType::Permission,
                    "tenant_limit_reached",
                    sentence(&e),
                );
            }
        };
        ApiError::new(401, ErrorType::Authentication, code, sentence(&e))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                let mut api =
                    ApiError::new(503, ErrorType::Api, "service_unavailable", sentence(&e));
                api.headers.push(("retry-after", "1".to_owned()));
                api
            }
            StoreError::Invalid(_) => ApiError::validation(vec![Violation {
                field: String::new(),
                message: e.to_string(),
            }]),
        }
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        use ErrorType::{InvalidRequest as Invalid, Permission};
        let message = sentence(&e);
        let (status, kind, code, param) = match &e {
            SimError::NotFound { .. } => (404, Invalid, "resource_not_found", Some("provider")),
            SimError::NotActive { .. } => {
                (400, Invalid, "integration_not_active", Some("provider"))
            }
            SimError::AlreadyActive { .. } => (409, Invalid, "integration_already_active", None),
            SimError::CredentialsRejected { .. } => (
                400,
                Invalid,
                "credentials_rejected",
                Some("credentials.apiKey"),
            ),
            SimError::CircuitOpen { .. } => (400, Invalid, "circuit_open", None),
            SimError::LogNotFound { .. } => (404, Invalid, "resource_not_found", Some("logId")),
            SimError::NotRetryable(_) => (400, Invalid, "not_retryable", Some("logId")),
            SimError::WrongIntegration { .. } => {
                (404, Invalid, "resource_not_found", Some("integrationId"))
            }
            SimError::NoSyncState { .. } => {
                (404, Invalid, "resource_not_found", Some("resourceType"))
            }
            // Another merchant's resource: the errors guide's 403 (the Go SDK's code).
            SimError::OtherMerchant { .. } => (403, Permission, "forbidden", Some("merchantId")),
            SimError::UnknownExternalId { index, field, .. } => {
                let mut api = ApiError::new(400, Invalid, "unknown_external_id", message);
                api.param = Some(format!("mappings[{index}].{field}"));
                return api;
            }
            SimError::DuplicateMapping { index, field, .. } => {
                let mut api = ApiError::new(400, Invalid, "duplicate_mapping", message);
                api.param = Some(format!("mappings[{index}].{field}"));
                return api;
            }
            SimError::MappingNotFound { .. } => {
                (404, Invalid, "resource_not_found", Some("externalId"))
            }
        };
        let mut api = ApiError::new(status, kind, code, message);
        api.param = param.map(str::to_owned);
        api
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_the_first_field_and_list_every_problem() {
        let e = ApiError::validation(vec![
            Violation {
                field: "a".into(),
                message: "is required".into(),
            },
            Violation {
                field: "b".into(),
                message: "bad".into(),
            },
            Violation {
                field: "b".into(),
                message: "worse".into(),
            },
        ]);
        let body = e.body("rid");
        assert_eq!(body["error"]["param"], "a");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("a: is required (and 2 more")
        );
        assert_eq!(
            body["error"]["details"]["fields"]["b"],
            json!(["bad", "worse"])
        );
        assert_eq!(body["error"]["request_id"], "rid");
    }
}
