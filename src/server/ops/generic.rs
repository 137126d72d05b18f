//! The answer of an operation the simulator does not model: the spec's own example of
//! its first success response, else a value generated from its schema (which the
//! schema accepts). A new operation in a user's spec is answered before it is modelled.

use serde_json::Value;

use crate::api::ApiError;
use crate::spec::{Operation, StatusKey};

/// The status and body of `op`'s first success response.
pub fn answer(op: &Operation) -> Result<(u16, Option<Value>), ApiError> {
    let response = op
        .responses
        .iter()
        .find(|r| matches!(r.status, StatusKey::Code(200..=299)))
        // Unreachable for a servable document (check-spec refuses an operation
        // without a 2xx answer).
        .ok_or_else(|| ApiError::route_not_found(op.method.as_str(), &op.path, ""))?;
    let status = match response.status {
        StatusKey::Code(c) => c,
        _ => 200,
    };
    let media = response
        .media
        .iter()
        .find(|m| crate::spec::is_json(&m.content_type));
    let Some(media) = media else {
        return Ok((status, None));
    };
    let value = media
        .examples
        .first()
        .map(|(_, v)| v.clone())
        .or_else(|| media.schema.as_ref().and_then(|s| s.sample()));
    value.map(|v| (status, Some(v))).ok_or_else(|| ApiError::internal(format!("{} has no example and no value could be generated from its schema: add an example to the spec", op.id)))
}
