//! `Idempotency-Key` on the request path: a mutation sent with a key is claimed in the
//! tenant's store before it runs and its answer stored after; the same key and body
//! again is answered from the store (`Idempotency-Replayed: true`), another body with
//! the key is 409, and a request still running with it is 409 too.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::App;
use super::reply::{Reply, put, text};
use crate::api::ApiError;
use crate::sim::{Begin, StoredResponse, Timestamp};
use crate::spec::Operation;
use crate::store::Session;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A claimed key: the request runs, then [`finish`] stores its answer.
pub(super) struct Claim {
    /// Method and path: the same key on another endpoint is another claim.
    scope: String,
    key: String,
}

/// What to do with a request, as far as its idempotency key goes.
pub(super) enum Start {
    /// Run it, and [`finish`] the claim if there is one.
    Run(Option<Claim>),
    /// Answer with this stored response ([`replay`]).
    Replay(StoredResponse),
    /// Refuse it (409).
    Refused(ApiError),
}

/// Claims the request's key, when it is a mutation that sent one.
pub(super) async fn begin(
    app: &App,
    op: &Operation,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    session: &Session,
    now: Timestamp,
) -> Start {
    if !op.method.is_mutation() {
        return Start::Run(None);
    }
    let Some(key) = text(headers, &IDEMPOTENCY_KEY) else {
        return Start::Run(None);
    };
    let scope = format!("{} {path}", op.method);
    let fingerprint = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        h.finish()
    };
    let begun = app
        .store
        .with_tenant(&session.tenant, |t| {
            let now = t.now(now);
            let begun =
                t.idempotency
                    .begin(&scope, &key, fingerprint, now, super::input::wall_now());
            t.idempotency
                .forget_beyond(app.store.config().max_idempotency_keys);
            begun
        })
        .await;
    let begun = match begun {
        Ok(b) => b,
        Err(e) => return Start::Refused(e.into()),
    };
    match begun {
        Begin::FirstRun => Start::Run(Some(Claim { scope, key })),
        Begin::Replay(stored) => Start::Replay(stored),
        Begin::Conflict => Start::Refused(ApiError::idempotency_conflict()),
        Begin::InProgress => Start::Refused(ApiError::idempotency_in_progress()),
    }
}

/// Stores the answer of a claimed request (`store`: a refusal that is not kept frees
/// the key instead).
pub(super) async fn finish(app: &App, claim: Claim, reply: &Reply, store: bool, session: &Session) {
    let stored = store.then(|| StoredResponse {
        status: reply.status,
        headers: reply
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: reply.body.to_vec(),
    });
    let finished = app
        .store
        .with_tenant(&session.tenant, |t| {
            t.idempotency
                .finish(&claim.scope, &claim.key, stored.clone())
        })
        .await;
    if let Err(e) = finished {
        // The claim stays taken until its lease lapses (sim::idempotency::CLAIM_LEASE).
        tracing::warn!(error = %e, "the idempotency key's answer could not be stored");
    }
}

/// The stored answer of operation `index`, marked as a replay.
pub(super) fn replay(stored: StoredResponse, index: usize) -> Reply {
    let mut reply = Reply::empty(stored.status, Some(index));
    for (k, v) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            reply.headers.insert(name, value);
        }
    }
    put(&mut reply.headers, "idempotency-replayed", "true");
    reply.body = Bytes::from(stored.body);
    reply
}
