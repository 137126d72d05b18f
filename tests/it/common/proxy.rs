//! A proxy in front of a server under test, to build deployments that differ from the
//! mock: it may refuse requests itself, send every key as one (a target that serves
//! one merchant to everyone), change each JSON answer as a variant deployment would,
//! then break it on purpose.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

/// A refusal of a request the upstream would take: (status, JSON body).
pub type Refusal = Option<(u16, Value)>;
/// Decides a refusal from (method, path, JSON body).
pub type Refuse = fn(&str, &str, Option<&Value>) -> Refusal;
/// Changes a JSON answer as a variant deployment would: (method, path, status, body,
/// headers) → status. Called with `Null` for an answer that is not JSON, so headers
/// can still change.
pub type Answer = fn(&str, &str, u16, &mut Value, &mut hyper::HeaderMap) -> u16;
/// Breaks a JSON answer on purpose: (method, path, status, body) → status.
pub type Rewrite = fn(&str, &str, u16, &mut Value) -> u16;

/// What the proxy does.
#[derive(Clone, Copy)]
pub struct Proxy {
    pub refuse: Refuse,
    pub answer: Answer,
    pub breakage: Rewrite,
    /// Every keyed request is sent with this key instead.
    pub all_as: Option<&'static str>,
}

pub fn refuse_nothing(_: &str, _: &str, _: Option<&Value>) -> Refusal {
    None
}

pub fn same_answer(_: &str, _: &str, s: u16, _: &mut Value, _: &mut hyper::HeaderMap) -> u16 {
    s
}

pub fn unchanged(_: &str, _: &str, s: u16, _: &mut Value) -> u16 {
    s
}

impl Proxy {
    /// Passes everything through.
    pub const PLAIN: Proxy = Proxy {
        refuse: refuse_nothing,
        answer: same_answer,
        breakage: unchanged,
        all_as: None,
    };

    /// Passes everything through, breaking answers with `breakage`.
    pub fn breaking(breakage: Rewrite) -> Proxy {
        Proxy {
            breakage,
            ..Proxy::PLAIN
        }
    }
}

/// Starts the proxy in front of `upstream` on an ephemeral port.
pub async fn start(upstream: SocketAddr, proxy: Proxy) -> SocketAddr {
    start_round_robin(vec![upstream], proxy).await
}

/// Starts the proxy in front of several upstreams, each request to the next one in
/// turn (a load balancer in front of replicas).
pub async fn start_round_robin(upstreams: Vec<SocketAddr>, proxy: Proxy) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let upstreams = std::sync::Arc::new(upstreams);
    let turn = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let client = client.clone();
            let (upstreams, turn) = (upstreams.clone(), turn.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let client = client.clone();
                        let n = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let upstream = upstreams[n % upstreams.len()];
                        async move { Ok::<_, Infallible>(exchange(upstream, proxy, client, req).await) }
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

async fn exchange(
    upstream: SocketAddr,
    proxy: Proxy,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let body = body.collect().await.unwrap().to_bytes();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some((status, refusal)) = (proxy.refuse)(&method, &path, json.as_ref()) {
        let mut r = hyper::Response::new(Full::new(Bytes::from(refusal.to_string())));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r.headers_mut()
            .insert("revkeen-version", "2026-05-01".parse().unwrap());
        return r;
    }
    if let (Some(k), true) = (proxy.all_as, parts.headers.contains_key("x-api-key")) {
        parts.headers.insert("x-api-key", k.parse().unwrap());
    }
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = format!("http://{upstream}{pq}").parse().unwrap();
    let resp = client
        .request(hyper::Request::from_parts(parts, Full::new(body)))
        .await
        .unwrap();
    let (mut parts, body) = resp.into_parts();
    let mut body = body.collect().await.unwrap().to_bytes();
    let status = parts.status.as_u16();
    match serde_json::from_slice::<Value>(&body) {
        Ok(mut json) => {
            let status = (proxy.answer)(&method, &path, status, &mut json, &mut parts.headers);
            let status = (proxy.breakage)(&method, &path, status, &mut json);
            parts.status = hyper::StatusCode::from_u16(status).unwrap();
            body = Bytes::from(json.to_string());
            parts.headers.remove("content-length");
        }
        Err(_) => {
            (proxy.answer)(&method, &path, status, &mut Value::Null, &mut parts.headers);
        }
    }
    hyper::Response::from_parts(parts, Full::new(body))
}
