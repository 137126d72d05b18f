//! An independent deployment of the Integrations API's lifecycle (issue #27): written
//! from RevKeen's docs (`shared/reference/api-facts.md`), not from the simulator, and not
//! the mock behind a proxy. It serves its own document (the embedded contract's
//! lifecycle, settings, sync and resume operations, with 201 on creation) and makes the
//! choices the docs leave open differently from the mock: 201 when an integration is
//! created and 200 when a deactivated one is re-activated; no repeatable job while
//! automatic sync is off; the breaker's counter kept across a deactivation; the
//! integration pages' error codes (`resource_missing`, `conflict`, `invalid_request`,
//! `unauthenticated`); a paused integration's manual sync runs (and fails again); no
//! `X-Request-Id`. It validates requests against its document, as an OpenAPI
//! validation layer in front of a real service would.
//!
//! Credentials whose `apiKey` starts with `fail` fail every sync (the deployment's
//! documented failing test credentials, given to conform as `--failing-credentials`);
//! `test` says `valid: false` for an `apiKey` starting with `invalid`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use revkeen_mock::spec::{Contract, RouteMatch};
use serde_json::{Value, json};

/// The providers, in list order.
const PROVIDERS: [&str; 3] = ["practicehub", "wodify", "terminal"];

/// Consecutive failed syncs that pause syncing (the deployment's breaker).
const THRESHOLD: u64 = 5;

/// The operations this deployment serves, as paths of the embedded contract.
const SERVED: [&str; 11] = [
    "/integrations",
    "/integrations/{provider}",
    "/integrations/{provider}/activate",
    "/integrations/{provider}/deactivate",
    "/integrations/{provider}/test",
    "/integrations/{provider}/sync",
    "/integrations/{provider}/sync-toggle",
    "/integrations/{provider}/sync-interval",
    "/integrations/{provider}/invoice-lookback",
    "/integrations/{provider}/auto-send-invoices",
    "/integrations/{provider}/resume-sync",
];

/// The deployment's own document: the embedded contract's served paths, activation
/// documenting 201 (created) beside 200 (re-activated).
pub fn document() -> Value {
    let mut doc: Value =
        serde_yaml_ng::from_str(include_str!("../../../specs/revkeen-integrations.yaml")).unwrap();
    let paths = doc["paths"].as_object_mut().unwrap();
    paths.retain(|p, _| SERVED.contains(&p.as_str()));
    let responses = &mut doc["paths"]["/integrations/{provider}/activate"]["post"]["responses"];
    let ok = responses["200"].clone();
    responses["201"] = ok;
    responses["201"]["description"] = json!("The integration was created and activated.");
    responses["200"]["description"] = json!("A deactivated integration was re-activated.");
    doc
}

/// The deployment's document, compiled.
pub fn contract() -> Contract {
    Contract::load_str(&document().to_string(), "independent deployment")
        .unwrap()
        .into_servable()
        .unwrap()
}

/// One integration, as this deployment keeps it.
#[derive(Debug, Clone)]
struct Record {
    id: String,
    active: bool,
    sync_enabled: bool,
    interval_minutes: u64,
    lookback_days: u64,
    auto_send: bool,
    failing: bool,
    counter: u64,
    last_error: Option<String>,
}

impl Record {
    fn json(&self, provider: &str) -> Value {
        let paused = self.counter >= THRESHOLD;
        let health = match self.counter {
            0 => "healthy",
            _ if paused => "paused",
            _ => "degraded",
        };
        json!({
            "id": self.id,
            "provider": provider,
            "isActive": self.active,
            "syncEnabled": self.sync_enabled,
            "status": if self.counter > 0 { "error" } else { "connected" },
            "lastSyncAt": null,
            "lastSyncError": self.last_error,
            "syncHealth": health,
            "providerState": {
                "consecutiveErrors": self.counter,
                "lastErrorAt": null,
                "lastSyncAt": null,
                "mode": if paused { "open" } else { "closed" },
            },
            "syncInterval": {
                "hasRepeatableJob": self.active && self.sync_enabled && !paused,
                "intervalMs": self.interval_minutes * 60_000,
                "nextRun": "2026-05-01T09:15:00Z",
            },
            "configuration": {
                "invoiceLookbackDays": self.lookback_days,
                "autoSendInvoices": self.auto_send,
            },
            "createdAt": "2026-05-01T09:00:00Z",
            "updatedAt": "2026-05-01T09:00:00Z",
        })
    }
}

/// What the deployment keeps.
#[derive(Default)]
struct Kept {
    /// Every merchant's integrations: key → provider → record.
    merchants: HashMap<String, BTreeMap<&'static str, Record>>,
    /// Idempotency keys (the idempotency guide).
    idempotency: HashMap<IdempotencyId, Stored>,
}

/// An idempotency key's scope: API key, method, path and the key.
type IdempotencyId = (String, String, String, String);

/// What a first request with a key sent (its body) and got (status and body).
type Stored = (Bytes, u16, Bytes);

/// An authenticated request, routed to its operation.
#[derive(Clone, Copy)]
struct Call<'a> {
    index: usize,
    params: &'a [(String, String)],
    query: Option<&'a str>,
    key: &'a str,
    method: &'a str,
    path: &'a str,
    bytes: &'a Bytes,
}

type State = Arc<Mutex<Kept>>;

/// Starts the deployment on an ephemeral port.
pub async fn start() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let contract = Arc::new(contract());
    let state: State = Arc::default();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (contract, state) = (Arc::clone(&contract), Arc::clone(&state));
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (contract, state) = (Arc::clone(&contract), Arc::clone(&state));
                        async move { Ok::<_, Infallible>(handle(&contract, &state, req).await) }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn reply(status: u16, body: &Value) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r.headers_mut()
        .insert("revkeen-version", "2026-05-01".parse().unwrap());
    r
}

/// The integration pages' error envelope.
fn error(status: u16, code: &str, message: &str) -> hyper::Response<Full<Bytes>> {
    let kind = match status {
        401 => "authentication_error",
        _ => "invalid_request_error",
    };
    reply(
        status,
        &json!({"error": {"type": kind, "code": code, "message": message}}),
    )
}

async fn handle(
    contract: &Contract,
    state: &State,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|_| method == "POST" || method == "PUT")
        .map(str::to_owned);
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    let (index, params) = match contract.resolve_text(&method, &path) {
        RouteMatch::Found { operation, params } => (operation, params),
        RouteMatch::MethodNotAllowed { .. } => {
            return error(405, "invalid_request", "method not allowed");
        }
        RouteMatch::NotFound => return error(404, "resource_missing", "no such route"),
    };
    // Authentication first: a missing or malformed key, or a live one, is 401.
    let key = match key {
        Some(k)
            if k.starts_with("rk_sandbox_")
                && k.len() >= 27
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            k
        }
        _ => {
            return error(
                401,
                "unauthenticated",
                "send a sandbox API key in x-api-key",
            );
        }
    };
    let call = Call {
        index,
        params: &params,
        query: query.as_deref(),
        key: &key,
        method: &method,
        path: &path,
        bytes: &bytes,
    };
    if let Some(k) = &idempotency_key {
        let id = (key.clone(), method.clone(), path.clone(), k.clone());
        let kept = state.lock().unwrap().idempotency.get(&id).cloned();
        if let Some((sent, status, answer)) = kept {
            if sent != bytes {
                return error(
                    409,
                    "idempotency_conflict",
                    "this key was used with another body",
                );
            }
            let mut r = hyper::Response::new(Full::new(answer));
            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r.headers_mut()
                .insert("revkeen-version", "2026-05-01".parse().unwrap());
            r.headers_mut()
                .insert("idempotency-replayed", "true".parse().unwrap());
            return r;
        }
        let answer = serve(contract, state, call);
        let status = answer.status().as_u16();
        if status < 500 && status != 401 && status != 429 {
            let (parts, body) = answer.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            state
                .lock()
                .unwrap()
                .idempotency
                .insert(id, (bytes.clone(), status, body.clone()));
            return hyper::Response::from_parts(parts, Full::new(body));
        }
        return answer;
    }
    serve(contract, state, call)
}

/// Serves an authenticated request.
fn serve(contract: &Contract, state: &State, call: Call<'_>) -> hyper::Response<Full<Bytes>> {
    let Call {
        index,
        params,
        query,
        key,
        method,
        path,
        bytes,
    } = call;
    let op = &contract.operations[index];
    let parsed = match op.parse_params(params, query, &[][..]) {
        Ok(p) => p,
        Err(v) if v.iter().any(|v| v.field == "provider") => {
            return error(404, "resource_missing", "no such provider");
        }
        Err(_) => return error(400, "invalid_request", "invalid parameters"),
    };
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(_) => return error(400, "invalid_request", "malformed JSON"),
        }
    };
    if !op.body_violations(body.as_ref()).is_empty() {
        return error(400, "invalid_request", "the body breaks the schema");
    }
    let number = |name: &str, default: u64| {
        parsed.get(name).and_then(Value::as_u64).unwrap_or(default) as usize
    };
    let provider = params
        .iter()
        .find(|(n, _)| n == "provider")
        .and_then(|(_, v)| PROVIDERS.iter().copied().find(|p| p == v));
    let mut all = state.lock().unwrap();
    let merchant = all.merchants.entry(key.to_owned()).or_default();
    let Some(provider) = provider else {
        // GET /integrations.
        let (limit, offset) = (number("limit", 25).min(100), number("offset", 0));
        let items: Vec<Value> = merchant.iter().map(|(p, r)| r.json(p)).collect();
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
        let has_more = offset + page.len() < total;
        return reply(
            200,
            &json!({"data": page, "pagination": {"limit": limit, "offset": offset, "total": total, "hasMore": has_more}}),
        );
    };
    let action = path.rsplit('/').next().unwrap_or("");
    let body = body.unwrap_or(Value::Null);
    let not_active = |status| error(status, "resource_missing", "the integration is not active");
    match (method, action) {
        ("GET", _) => reply(
            200,
            &json!({"data": merchant.get(provider).map(|r| r.json(provider))}),
        ),
        ("POST", "activate") => {
            let credentials = &body["credentials"];
            let api_key = credentials["apiKey"].as_str().unwrap_or("");
            let minutes = body["syncIntervalMinutes"].as_u64();
            match merchant.get_mut(provider) {
                Some(r) if r.active => error(409, "conflict", "already active"),
                Some(r) => {
                    // Re-activated: the counter is kept (a choice the docs leave open).
                    r.active = true;
                    r.sync_enabled = true;
                    r.failing = api_key.starts_with("fail");
                    if let Some(m) = minutes {
                        r.interval_minutes = m;
                    }
                    reply(200, &json!({"success": true, "data": r.json(provider)}))
                }
                None => {
                    let r = Record {
                        id: uuid::Uuid::new_v4().to_string(),
                        active: true,
                        sync_enabled: true,
                        interval_minutes: minutes.unwrap_or(15),
                        lookback_days: 90,
                        auto_send: false,
                        failing: api_key.starts_with("fail"),
                        counter: 0,
                        last_error: None,
                    };
                    let out = json!({"success": true, "data": r.json(provider)});
                    merchant.insert(provider, r);
                    reply(201, &out)
                }
            }
        }
        ("POST", "test") => {
            let api_key = body["credentials"]["apiKey"].as_str().unwrap_or("");
            if api_key.starts_with("invalid") {
                reply(
                    200,
                    &json!({"valid": false, "error": "the provider refused these credentials"}),
                )
            } else {
                reply(200, &json!({"valid": true}))
            }
        }
        (_, action) => {
            let Some(r) = merchant.get_mut(provider).filter(|r| r.active) else {
                // The sync and resume pages document 400 for an inactive integration.
                return match action {
                    "sync" | "resume-sync" => {
                        error(400, "invalid_request", "the integration is not active")
                    }
                    _ => not_active(404),
                };
            };
            let sync = |r: &mut Record| {
                if r.failing {
                    r.counter += 1;
                    r.last_error = Some("the provider refused the request".into());
                } else {
                    r.counter = 0;
                    r.last_error = None;
                }
            };
            match action {
                "deactivate" => {
                    r.active = false;
                    reply(200, &json!({"success": true, "message": "deactivated"}))
                }
                "sync" => {
                    sync(r);
                    reply(
                        200,
                        &json!({"success": true, "jobId": uuid::Uuid::new_v4().to_string()}),
                    )
                }
                "resume-sync" => {
                    r.counter = 0;
                    sync(r);
                    reply(
                        200,
                        &json!({"success": true, "message": "resumed", "jobId": uuid::Uuid::new_v4().to_string()}),
                    )
                }
                "sync-toggle" => {
                    r.sync_enabled = body["enabled"].as_bool().unwrap_or(true);
                    reply(200, &json!({"success": true}))
                }
                "sync-interval" => {
                    r.interval_minutes = body["syncIntervalMinutes"].as_u64().unwrap_or(15);
                    reply(200, &json!({"success": true}))
                }
                "invoice-lookback" => {
                    r.lookback_days = body["invoiceLookbackDays"].as_u64().unwrap_or(90);
                    reply(200, &json!({"success": true}))
                }
                "auto-send-invoices" => {
                    r.auto_send = body["autoSendInvoices"].as_bool().unwrap_or(false);
                    reply(200, &json!({"success": true}))
                }
                _ => error(404, "resource_missing", "no such route"),
            }
        }
    }
}
