//! One request, start to finish: request id, CORS, route, authentication, scopes, rate
//! limit, body limits, parameters, idempotency (`idempotency.rs`), the simulator, strict
//! self-check, log.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Response};
use serde_json::Value;

use super::input::{RequestBody, read_body, wall_now};
use super::reply::{self, Reply, names, put, text};
use super::{API_VERSION, App, cors, idempotency, ops, strict};
use crate::api::{ApiError, request};
use crate::control::coverage::{Met, Seen, State};
use crate::control::{admin, journal};
use crate::sim::{RateDecision, Timestamp};
use crate::spec::{HeaderLookup, Operation, ParamLocation};
use crate::store::Session;

impl HeaderLookup for HeaderMap {
    /// A walk over the request's few headers, comparing names: `HeaderMap::get` with
    /// text would first parse the name (lower-casing it through a table) and hash it,
    /// several times the cost for the handful of headers a request carries
    /// (docs/performance.md, "The log line and header lookups").
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }
}

/// The merchant of callers without a key, on operations whose document requires none
/// (`security: []`, or a document that declares no security).
pub const ANONYMOUS_KEY: &str = "rk_sandbox_anonymous_caller_0000";

/// What the log line and the journal report beyond method, path and status.
#[derive(Default)]
pub(super) struct Context {
    /// The authenticated key (logs show only its last four characters).
    key: Option<crate::sim::ApiKey>,
    /// Simulated time of the request, once known (the journal records it).
    now: Option<Timestamp>,
    rate: Option<RateDecision>,
    /// An injected fault asked for the connection to be dropped.
    pub(super) drop: bool,
    /// The older `RevKeen-Version` the request pinned, echoed instead of the current.
    version: Option<HeaderValue>,
    /// A fault rule made the answer (coverage counts it as injected).
    pub(super) injected: bool,
    /// The states the answer showed (coverage).
    seen: Seen,
}

/// The connection is dropped without an answer (an injected fault).
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// The client's `X-Request-Id` when it is short visible ASCII, else a new UUID (v4
/// layout from a fast thread-local generator: ids must be unique, not secret).
fn request_id(headers: &HeaderMap) -> String {
    text(headers, &names::X_REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
                .into_uuid()
                .to_string()
        })
}

/// Which of the mock's three APIs a request is for (each has its own contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Surface {
    /// The API the spec describes (`/v2/...`).
    Api,
    /// The operator's admin API (`/__mock`).
    Admin,
    /// The partner's self-service API (`/__mock/self`).
    SelfService,
}

/// Answers one request. Every problem becomes an answer in the envelope; the only
/// error is an injected `drop_connection` fault. `app` is `&App`, or an `Arc<App>` the
/// future keeps (the server's connections).
///
/// Not an `async fn`, and hyper is given this future itself, not a block awaiting it:
/// each layer holds its arguments again (an async function's future holds them as
/// passed and as the locals its body moves them into), and the request is 248 bytes.
/// This future holds it as captured and as the head and body it is split into. The
/// split is done inside the future, not before it: a future returned by a call that is
/// not inlined is copied whole into hyper's slot for the connection (kilobytes), where
/// one built in place writes only what it captured (docs/performance.md, "The request
/// future's layers").
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would hold the request once more (see above)"
)]
pub fn handle<A, B>(
    app: A,
    req: Request<B>,
) -> impl Future<Output = Result<Response<Full<Bytes>>, Dropped>>
where
    A: std::ops::Deref<Target = App>,
    B: RequestBody,
{
    async move {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let (app, parts) = (&*app, &parts);
        let rid = request_id(&parts.headers);
        let (method_text, path) = (parts.method.as_str(), parts.uri.path());
        let origin = text(&parts.headers, &hyper::header::ORIGIN);
        let mut ctx = Context::default();

        let run = text(&parts.headers, &names::X_MOCK_RUN);
        let preflight = parts.method == hyper::Method::OPTIONS
            && parts
                .headers
                .contains_key(hyper::header::ACCESS_CONTROL_REQUEST_METHOD);
        // The admin API answers its own page and non-browser callers only: no other origin
        // is granted CORS (but those of `--admin-origin`), so a page the developer visits
        // can neither read it nor send it a JSON write (the browser's pre-flight is answered
        // without a grant). The API itself (`/v2/...`) stays callable from any origin.
        // The self-service API (`/__mock/self`) is the partner's, with its key: like the
        // API, callable from any origin.
        let self_service = app.control.self_service.as_ref().filter(|s| s.owns(path));
        let admin_path = self_service.is_none() && admin::is_admin_path(&app.control, path);
        let admin = !preflight && admin_path;
        let surface = match (admin_path, self_service.is_some()) {
            (true, _) => Surface::Admin,
            (false, true) => Surface::SelfService,
            (false, false) => Surface::Api,
        };
        let granted = origin
            .as_deref()
            .filter(|o| !admin_path || app.control.admin_origins.iter().any(|a| a == o));
        // The admin and self-service answers are boxed: their futures are kilobytes and
        // rare, and inline they would make every API request's future as large
        // (docs/performance.md, "Where the rest went"; tests/it/request_future.rs).
        let mut reply = if admin {
            Box::pin(super::admin::admin_request(app, parts, body, &rid)).await
        } else if preflight {
            let requested = parts.headers.header("access-control-request-headers");
            let mut r = Reply::empty(204, None);
            if let Some(origin) = granted {
                let methods = match surface {
                    Surface::Admin => cors::ADMIN_METHODS,
                    Surface::SelfService => cors::SELF_SERVICE_METHODS,
                    Surface::Api => cors::ALLOW_METHODS,
                };
                for (k, v) in cors::preflight_headers(origin, methods, requested) {
                    put(&mut r.headers, k, &v);
                }
            }
            r
        } else if let Some(service) = self_service {
            Box::pin(super::self_service::self_request(
                app, service, parts, body, &rid,
            ))
            .await
        } else {
            api(app, parts, body, path, &rid, &mut ctx).await
        };

        if let Ok(v) = HeaderValue::from_str(&rid) {
            reply.headers.insert(names::X_REQUEST_ID, v);
        }
        // The version in effect: the one the request pinned (validated), else the current.
        reply.headers.insert(
            names::REVKEEN_VERSION,
            ctx.version
                .take()
                .unwrap_or(HeaderValue::from_static(API_VERSION)),
        );
        if let Some(decision) = ctx.rate {
            let (limit, remaining, reset) = match decision {
                RateDecision::Allowed {
                    limit,
                    remaining,
                    reset_secs,
                } => (limit, remaining, reset_secs),
                RateDecision::Limited {
                    limit,
                    retry_after_secs,
                } => (limit, 0, retry_after_secs),
            };
            reply
                .headers
                .insert(names::RATELIMIT_LIMIT, HeaderValue::from(limit));
            reply
                .headers
                .insert(names::RATELIMIT_REMAINING, HeaderValue::from(remaining));
            reply
                .headers
                .insert(names::RATELIMIT_RESET, HeaderValue::from(reset));
        }
        if let (Some(origin), false) = (granted, preflight) {
            for (k, v) in cors::response_headers(origin) {
                put(&mut reply.headers, k, &v);
            }
        }

        if app.config.strict && !preflight && !ctx.drop {
            strict::strict_check(app, &reply, surface, method_text, path, &rid);
        }

        let latency = started.elapsed();
        // Plain `&str` and integer fields: the log formatter writes them without `fmt::Debug`.
        tracing::info!(
            method = method_text,
            path = path,
            status = reply.status,
            latency_us = latency.as_micros() as u64,
            request_id = rid.as_str(),
            key_last4 = ctx.key.as_ref().map_or("-", |k| k.last4()),
            "request"
        );
        // Coverage and the journal count the API's requests (neither the admin API's nor
        // self-service's).
        if surface == Surface::Api && !preflight {
            let code = reply
                .json
                .as_ref()
                .filter(|_| reply.status >= 400)
                .and_then(|v| v["error"]["code"].as_str());
            if matches!(code, Some("unknown_external_id" | "duplicate_mapping")) {
                ctx.seen.mark(State::MappingRefused);
            }
            let counted = app.control.coverage.record_in(
                &*app.store,
                &Met {
                    key: ctx.key.as_ref(),
                    run: run.as_deref(),
                    operation: reply.operation,
                    status: if ctx.drop { 0 } else { reply.status },
                    injected: ctx.injected,
                    states: ctx.seen.bits(),
                    error_code: code,
                },
            );
            let record = journal::Record {
                at: match ctx.now {
                    Some(now) => now,
                    // Refused before the clock was read: read it now (the wall clock if
                    // the store cannot say).
                    None => app
                        .store
                        .now(wall_now())
                        .await
                        .unwrap_or_else(|_| wall_now()),
                },
                method: method_text,
                path,
                query: parts.uri.query(),
                status: if ctx.drop { 0 } else { reply.status },
                key: ctx.key.as_ref(),
                request_id: &rid,
                operation_id: reply
                    .operation
                    .map(|i| app.contract.operations[i].id.as_str()),
                latency_micros: latency.as_micros() as u64,
            };
            app.control
                .journal
                .record_in(&*app.store, &record, counted)
                .await;
        }
        if ctx.drop {
            return Err(Dropped);
        }
        Ok(reply::into_response(reply))
    }
}

/// The API proper: everything but pre-flights and common headers.
async fn api(
    app: &App,
    parts: &hyper::http::request::Parts,
    body: impl RequestBody,
    path: &str,
    rid: &str,
    ctx: &mut Context,
) -> Reply {
    let (index, path_params) = match request::route(&app.contract, parts.method.as_str(), path) {
        Ok(found) => found,
        Err(e) => return Reply::error(&e, rid, None),
    };
    let op = &app.contract.operations[index];
    let fail = |e: ApiError| Reply::error(&e, rid, Some(index));

    let key = parts
        .headers
        .get(names::X_API_KEY)
        .and_then(|v| v.to_str().ok());
    // Read first (a shared store reads the fault book's version in the same round
    // trip), acted on after the faults: a staged fault answers whatever the key.
    let mut authenticated = app.store.authenticate(key).await;
    if !op.requires_key && !matches!(authenticated, Ok(Ok(_))) {
        // The document asks no credential here: a caller without a (valid) key is
        // the anonymous merchant, as a deployment of that document would serve it.
        authenticated = app.store.authenticate(Some(ANONYMOUS_KEY)).await;
    }
    let session = match &authenticated {
        Ok(Ok(s)) => Some(s),
        _ => None,
    };
    if super::faults::may_inject(app)
        && let Some(reply) = Box::pin(super::faults::inject_faults(
            app,
            index,
            &path_params,
            &parts.headers,
            rid,
            ctx,
            session,
        ))
        .await
    {
        return reply;
    }
    let session = match authenticated {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail(e.into()),
        Err(e) => return fail(e.into()),
    };
    ctx.key = Some(session.key().clone());
    let now = match app.store.now_for(&session, wall_now()).await {
        Ok(now) => now,
        Err(e) => return fail(e.into()),
    };
    ctx.now = Some(now);
    let config = app.store.config();
    let decision = match config.rate_limit {
        Some(_) => match app
            .store
            .with_tenant(&session.tenant, |t| t.take_token(config, now))
            .await
        {
            Ok(decision) => decision,
            Err(e) => return fail(e.into()),
        },
        None => None,
    };
    ctx.rate = decision;
    if let Some(RateDecision::Limited {
        limit,
        retry_after_secs,
    }) = decision
    {
        return fail(ApiError::rate_limited(limit, retry_after_secs));
    }

    let bytes = match read_body(body, &parts.headers, app.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    // Invalid parameters (query, headers, path) are refused before the idempotency
    // store is consulted: a replay is the same request again, and a request with an
    // invalid header is not (the key and body alone would otherwise replay it).
    let params = match op.parse_params(&path_params, parts.uri.query(), &parts.headers) {
        Ok(p) => p,
        Err(violations) => return fail(parameter_error(op, violations)),
    };
    ctx.version = pinned_version(&params);
    if params
        .get("offset")
        .and_then(Value::as_u64)
        .is_some_and(|o| o > 0)
    {
        ctx.seen.mark(State::PageFollowed);
    }
    let claim = match idempotency::begin(app, op, path, &parts.headers, &bytes, &session, now).await
    {
        idempotency::Start::Run(claim) => claim,
        idempotency::Start::Replay(stored) => {
            ctx.seen.mark(State::Replayed);
            return idempotency::replay(stored, index);
        }
        idempotency::Start::Refused(e) => return fail(e),
    };

    // A missing scope is a permission answer, stored for replay as the guide says.
    let result = match op
        .required_scopes
        .iter()
        .find(|needed| !session.scopes.contains_named(needed))
    {
        Some(missing) => Err(ApiError::insufficient_scope(missing, &op.id)),
        None => {
            let asker = Asker {
                session: &session,
                now,
                seen: &ctx.seen,
            };
            evaluate(app, index, params, &parts.headers, &bytes, asker).await
        }
    };
    let store = match &result {
        Ok(_) => true,
        Err(e) => e.is_stored_for_idempotency(),
    };
    let reply = result.unwrap_or_else(fail);
    if let Some(claim) = claim {
        idempotency::finish(app, claim, &reply, store, &session).await;
    }
    reply
}

/// The `RevKeen-Version` a request pinned, when it is older than the current: it is
/// honoured (answered as the current, the only behaviour the mock knows) and echoed.
/// A later one, or one that is not a `YYYY-MM-DD` date, is answered by the latest
/// version, which the echo then names.
fn pinned_version(params: &crate::spec::ParsedParams<'_>) -> Option<HeaderValue> {
    let pinned = params.get("RevKeen-Version").and_then(Value::as_str)?;
    let is_date = pinned.len() == 10
        && pinned.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if is_date && pinned < API_VERSION {
        HeaderValue::from_str(pinned).ok()
    } else {
        None
    }
}

/// A parameter problem: a path parameter outside its schema (an unknown provider) is
/// 404, anything else 400.
fn parameter_error(op: &Operation, violations: Vec<crate::spec::Violation>) -> ApiError {
    let (path, other): (Vec<_>, Vec<_>) = violations.into_iter().partition(|v| {
        op.parameters
            .iter()
            .any(|p| p.location == ParamLocation::Path && p.name == v.field)
    });
    if path.is_empty() {
        ApiError::validation(other)
    } else {
        ApiError::unknown_path_param(path)
    }
}

/// Validates the body against the operation and runs it: the success's reply, or the
/// refusal.
/// Who asks: the request's session, its simulated time, and the states its answer shows.
struct Asker<'a> {
    session: &'a Session,
    now: Timestamp,
    seen: &'a Seen,
}

async fn evaluate(
    app: &App,
    index: usize,
    params: crate::spec::ParsedParams<'_>,
    headers: &HeaderMap,
    bytes: &Bytes,
    asker: Asker<'_>,
) -> Result<Reply, ApiError> {
    let op = &app.contract.operations[index];
    // The content type matters only for a body (and a header lookup by name costs a
    // parse and a hash: a GET skips it).
    let content_type = if bytes.is_empty() {
        None
    } else {
        headers.header("content-type")
    };
    let body = request::json_body(op, content_type, bytes)?;
    match app.operations.get(index) {
        Some(modelled) => {
            let call = ops::Call {
                params: &params,
                body: body.as_ref(),
                store: &*app.store,
                tenant: &asker.session.tenant,
                now: asker.now,
                seen: asker.seen,
            };
            Ok(reply::json_bytes(
                200,
                ops::answer(modelled, &call).await?,
                Some(index),
            ))
        }
        None => {
            let (status, value) = ops::generic::answer(op)?;
            Ok(match value {
                Some(v) => Reply::json(status, v, Some(index)),
                None => Reply::empty(status, Some(index)),
            })
        }
    }
}
