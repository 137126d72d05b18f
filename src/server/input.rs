//! What every request brings in, for the pipeline and the admin API alike (a leaf:
//! it imports nothing of the server's): its body, read within the limit, and the wall
//! time it arrived.

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::body::Body as HttpBody;

use crate::api::ApiError;
use crate::sim::Timestamp;
use crate::spec::HeaderLookup;

/// A request body: hyper's `Incoming` when serving, any `http-body` (such as `Full`)
/// when the pipeline is called in-process, as `benches/pipeline.rs` does.
pub trait RequestBody: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send {}

impl<B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send> RequestBody for B {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The wall time now (the simulator's clock is derived from it by the store).
pub(super) fn wall_now() -> Timestamp {
    Timestamp::from_system(SystemTime::now())
}

/// Reads the body within the limit: a declared length over it is refused before
/// reading; a body that turns out longer is cut off and refused.
pub(super) async fn read_body(
    body: impl RequestBody,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    if body.is_end_stream() {
        // No body (a GET): nothing to collect.
        return Ok(Bytes::new());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::payload_too_large(limit))
        }
        Err(e) => Err(ApiError::invalid_json(&format!(
            "the body could not be read ({e})"
        ))),
    }
}
