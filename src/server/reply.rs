//! What the pipeline decided to send, before and after the common headers: a
//! [`Reply`] (status, headers, body, and the operation it answers, for strict mode),
//! and the header names and helpers every part of the pipeline uses.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::api::ApiError;

/// What the pipeline decided to send, before the common headers are added.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    /// The JSON body, kept as a value for strict mode (absent for replays and 204s).
    pub(super) json: Option<Value>,
    /// The bytes sent.
    pub(super) body: Bytes,
    /// The operation answered, for strict mode (`None`: an answer outside any operation).
    pub(super) operation: Option<usize>,
}

impl Reply {
    /// A reply without a body.
    pub(super) fn empty(status: u16, operation: Option<usize>) -> Self {
        Self {
            status,
            headers: HeaderMap::with_capacity(12),
            json: None,
            body: Bytes::new(),
            operation,
        }
    }

    /// A JSON reply, the value kept for strict mode.
    pub(super) fn json(status: u16, value: Value, operation: Option<usize>) -> Self {
        let mut r = Self::empty(status, operation);
        r.body = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        r.json = Some(value);
        r.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    }

    /// A page (the dashboard).
    pub(super) fn html(page: &'static str, operation: Option<usize>) -> Self {
        let mut r = Self::empty(200, operation);
        r.body = Bytes::from_static(page.as_bytes());
        r.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }

    /// A refusal in the envelope, with its extra headers.
    pub(super) fn error(e: &ApiError, request_id: &str, operation: Option<usize>) -> Self {
        let mut r = Self::json(e.status, e.body(request_id), operation);
        for (k, v) in &e.headers {
            put(&mut r.headers, k, v);
        }
        r
    }
}

/// Header names the pipeline reads or writes on every request, parsed once.
pub(super) mod names {
    use hyper::header::HeaderName;

    pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
    pub const X_MOCK_RUN: HeaderName = HeaderName::from_static("x-mock-run");
    pub const REVKEEN_VERSION: HeaderName = HeaderName::from_static("revkeen-version");
    pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
    pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
    pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
}

/// A header's value as text, by a name parsed once.
pub(super) fn text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Sets a header whose name is a lower-case literal. A value that cannot be a header
/// value (this server never makes one) is skipped rather than failing the answer.
pub(super) fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// The reply as hyper's response.
pub(super) fn into_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = reply.headers;
    response
}

/// A reply of JSON bytes already written (the simulator's answers, rendered without an
/// intermediate value).
pub(super) fn json_bytes(status: u16, bytes: Bytes, operation: Option<usize>) -> Reply {
    let mut r = Reply::empty(status, operation);
    r.body = bytes;
    r.headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
