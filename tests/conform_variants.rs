//! conform against *variant deployments*: servers that differ from the mock only where
//! RevKeen's docs allow, each described by its own spec. conform must report no
//! failure on any of them (no false alarms), and must still catch real breakage
//! behind them. Each variant is a proxy in front of the mock that changes what the
//! docs leave open: the integration pages' error codes, 400 for an unknown provider,
//! required `appName`/`appEmail` and no interval on activation, additions the
//! versioning policy allows, no `X-Request-Id`.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::Mock;
use http_body_util::{BodyExt, Full};
use revkeen_mock::conform::{Config, report::Report, run};
use revkeen_mock::spec::Contract;
use serde_json::{Value, json};

const KEY: &str = "rk_sandbox_conform_variant_key_01";
const EMBEDDED: &str = include_str!("../specs/revkeen-integrations.yaml");

/// A refusal of a request the mock would take: (status, error body).
type Refusal = Option<(u16, Value)>;

/// What a variant changes.
#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    /// Its spec, from the embedded one.
    spec: fn(&mut Value),
    /// A refusal of a request the mock would take: (status, error body).
    refuse: fn(&str, &str, Option<&Value>) -> Refusal,
    /// Changes to each JSON answer (method, path, status, body, headers) → status.
    answer: fn(&str, &str, u16, &mut Value, &mut hyper::HeaderMap) -> u16,
}

fn same_spec(_: &mut Value) {}
fn refuse_nothing(_: &str, _: &str, _: Option<&Value>) -> Refusal {
    None
}
fn unchanged(_: &str, _: &str, s: u16, _: &mut Value, _: &mut hyper::HeaderMap) -> u16 {
    s
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"type": "invalid_request_error", "code": code, "message": message}})
}

const OTHER_FAMILY: Variant = Variant {
    name: "the integration pages' error codes",
    spec: |doc| {
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["x-extensible-enum"] =
            json!([
                "invalid_request",
                "unauthenticated",
                "permission_denied",
                "resource_missing",
                "conflict",
                "rate_limited",
                "internal_error"
            ]);
    },
    refuse: refuse_nothing,
    answer: |_, _, s, body, _| {
        if let Some(code) = body.pointer_mut("/error/code") {
            let family = match (s, code.as_str().unwrap_or("")) {
                (400, _) => "invalid_request",
                (401, _) => "unauthenticated",
                (403, _) => "permission_denied",
                (404, _) => "resource_missing",
                (409, _) => "conflict",
                (429, _) => "rate_limited",
                _ => "internal_error",
            };
            *code = json!(family);
        }
        s
    },
};

const PROVIDER_400: Variant = Variant {
    name: "400 for an unknown provider",
    spec: |doc| {
        doc["components"]["parameters"]["Provider"]["description"] =
            json!("The external system. Any other value is 400.");
    },
    refuse: refuse_nothing,
    answer: |_, path, s, body, _| {
        let provider = path.split('/').nth(3).unwrap_or("");
        let known = ["practicehub", "wodify", "terminal"].contains(&provider);
        if s == 404 && !known && body.pointer("/error/param") == Some(&json!("provider")) {
            *body = error(
                "validation_error",
                "provider: not one of practicehub, wodify, terminal",
            );
            return 400;
        }
        s
    },
};

const APP_FIELDS: Variant = Variant {
    name: "appName and appEmail required, no interval on activation",
    spec: |doc| {
        let schemas = &mut doc["components"]["schemas"];
        schemas["Credentials"]["required"] = json!(["apiKey", "baseUrl", "appName", "appEmail"]);
        schemas["ActivateRequest"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("syncIntervalMinutes");
    },
    refuse: |method, path, body| {
        if method != "POST" || !(path.ends_with("/activate") || path.ends_with("/test")) {
            return None;
        }
        let body = body?;
        let creds = body.get("credentials")?;
        if creds.get("appName").is_none() || creds.get("appEmail").is_none() {
            return Some((
                400,
                error(
                    "validation_error",
                    "credentials.appName and credentials.appEmail are required",
                ),
            ));
        }
        if path.ends_with("/activate") && body.get("syncIntervalMinutes").is_some() {
            return Some((
                400,
                error("validation_error", "syncIntervalMinutes: unknown field"),
            ));
        }
        None
    },
    answer: unchanged,
};

const ADDITIONS: Variant = Variant {
    name: "new fields and a new enum value (the embedded spec)",
    spec: same_spec,
    refuse: refuse_nothing,
    answer: |_, _, s, body, _| {
        fn add(i: &mut Value) {
            if let Some(o) = i.as_object_mut() {
                o.insert("webhookUrl".into(), Value::Null);
                if o.get("status") == Some(&json!("idle")) {
                    o.insert("status".into(), json!("inactive"));
                }
            }
        }
        match body.get_mut("data") {
            Some(Value::Array(items)) => items.iter_mut().for_each(add),
            Some(d) if d.is_object() => add(d),
            _ => {}
        }
        if let Some(o) = body.as_object_mut() {
            o.insert("requestId".into(), json!("req_123"));
        }
        s
    },
};

const NO_REQUEST_ID: Variant = Variant {
    name: "no X-Request-Id (the embedded spec)",
    spec: same_spec,
    refuse: refuse_nothing,
    answer: |_, _, s, body, headers| {
        headers.remove("x-request-id");
        if let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) {
            e.remove("request_id");
        }
        s
    },
};

/// A breakage laid over a variant's answers (method, path, status, body).
type Breakage = fn(&str, &str, u16, &mut Value);

fn no_breakage(_: &str, _: &str, _: u16, _: &mut Value) {}

/// Starts the variant in front of `upstream`; `all_as` sends every keyed request as
/// that key (one merchant for every key).
async fn start(
    upstream: std::net::SocketAddr,
    variant: Variant,
    breakage: Breakage,
    all_as: Option<&'static str>,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let client = client.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let client = client.clone();
                        async move {
                            let (mut parts, body) = req.into_parts();
                            let method = parts.method.to_string();
                            let path = parts.uri.path().to_owned();
                            let body = body.collect().await.unwrap().to_bytes();
                            let json: Option<Value> = serde_json::from_slice(&body).ok();
                            if let Some((status, refusal)) =
                                (variant.refuse)(&method, &path, json.as_ref())
                            {
                                let mut r = hyper::Response::new(Full::new(Bytes::from(
                                    refusal.to_string(),
                                )));
                                *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                                r.headers_mut()
                                    .insert("content-type", "application/json".parse().unwrap());
                                r.headers_mut()
                                    .insert("revkeen-version", "2026-05-01".parse().unwrap());
                                return Ok::<_, Infallible>(r);
                            }
                            if let (Some(k), true) =
                                (all_as, parts.headers.contains_key("x-api-key"))
                            {
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
                            if let Ok(mut json) = serde_json::from_slice::<Value>(&body) {
                                let status = (variant.answer)(
                                    &method,
                                    &path,
                                    parts.status.as_u16(),
                                    &mut json,
                                    &mut parts.headers,
                                );
                                breakage(&method, &path, status, &mut json);
                                parts.status = hyper::StatusCode::from_u16(status).unwrap();
                                body = Bytes::from(json.to_string());
                                parts.headers.remove("content-length");
                            } else {
                                let _ = (variant.answer)(
                                    &method,
                                    &path,
                                    parts.status.as_u16(),
                                    &mut Value::Null,
                                    &mut parts.headers,
                                );
                            }
                            Ok(hyper::Response::from_parts(parts, Full::new(body)))
                        }
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

fn contract(variant: Variant) -> Contract {
    let mut doc: Value = serde_yaml_ng::from_str(EMBEDDED).unwrap();
    (variant.spec)(&mut doc);
    Contract::load_str(&doc.to_string(), variant.name)
        .unwrap()
        .into_servable()
        .unwrap()
}

fn config(target: String, contract: Contract, seed: u64, cases: u32) -> Config {
    Config {
        target,
        api_key: KEY.into(),
        second_key: None,
        contract,
        seed,
        cases,
        max_time: Duration::from_secs(120),
        checks: Vec::new(),
        scenarios: None,
        read_only: false,
        allow_live: false,
        rate: None,
        timeout: Duration::from_secs(5),
        credentials: json!({"apiKey": "conform_healthy_key", "baseUrl": "https://conform.example", "appName": "conform", "appEmail": "conform@example.com"}),
        exact: false,
        max_failures: None,
    }
}

async fn conform(cfg: Config) -> Report {
    tokio::task::spawn_blocking(move || run(&cfg).expect("the run starts"))
        .await
        .unwrap()
}

const VARIANTS: [Variant; 5] = [
    OTHER_FAMILY,
    PROVIDER_400,
    APP_FIELDS,
    ADDITIONS,
    NO_REQUEST_ID,
];

/// Every variant, checked with its own spec, passes every check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_false_alarm_against_any_variant_deployment() {
    for variant in VARIANTS {
        let mock = Mock::start().await;
        let addr = start(mock.running.addr, variant, no_breakage, None).await;
        let report = conform(config(
            format!("http://{addr}/v2"),
            contract(variant),
            21,
            150,
        ))
        .await;
        assert!(report.passed(), "{}:{}", variant.name, report.text());
        assert!(
            report.checks["stateful"].0 >= 150,
            "{}:{}",
            variant.name,
            report.text()
        );
        if variant.name == ADDITIONS.name {
            assert!(
                report
                    .forward_compatible
                    .keys()
                    .any(|w| w.contains("webhookUrl"))
                    && report
                        .forward_compatible
                        .keys()
                        .any(|w| w.contains("inactive")),
                "additions are listed as warnings: {}",
                report.text()
            );
        }
    }
}

/// The variant of the docs' other error family, additions and no X-Request-Id, checked
/// with the embedded spec (what RevKeen promises): no failure, the additions warned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_promise_accepts_every_allowed_difference() {
    for variant in [OTHER_FAMILY, ADDITIONS, NO_REQUEST_ID] {
        let mock = Mock::start().await;
        let addr = start(mock.running.addr, variant, no_breakage, None).await;
        let report = conform(config(
            format!("http://{addr}/v2"),
            Contract::embedded().unwrap(),
            22,
            80,
        ))
        .await;
        assert!(report.passed(), "{}:{}", variant.name, report.text());
    }
    // --exact (the mock's own promise) fails on the same answers.
    let mock = Mock::start().await;
    let addr = start(mock.running.addr, ADDITIONS, no_breakage, None).await;
    let mut cfg = config(
        format!("http://{addr}/v2"),
        Contract::embedded().unwrap(),
        22,
        20,
    );
    cfg.exact = true;
    let report = conform(cfg).await;
    assert!(report.checks["response_schema"].1 > 0, "{}", report.text());
}

/// Each breakage, behind the mock alone and behind the variant most unlike it, is caught
/// with a repro.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakage_is_caught_behind_the_mock_and_a_variant() {
    let breakages: [(&str, Breakage, Option<&'static str>, &str); 3] = [
        (
            "hasMore",
            |m, p, _, j| {
                if m == "GET"
                    && p.ends_with("/v2/integrations")
                    && let Some(h) = j.pointer_mut("/pagination/hasMore")
                {
                    *h = json!(false);
                }
            },
            None,
            "stateful",
        ),
        (
            "credentials echoed",
            |m, p, _, j| {
                if m == "POST"
                    && p.ends_with("/activate")
                    && let Some(c) = j.pointer_mut("/data/configuration")
                {
                    c["apiKey"] = json!("conform_healthy_key");
                }
            },
            None,
            "no_secret_echo",
        ),
        (
            "one merchant for every key",
            no_breakage,
            Some(KEY),
            "stateful",
        ),
    ];
    let plain = Variant {
        name: "the mock",
        spec: same_spec,
        refuse: refuse_nothing,
        answer: unchanged,
    };
    for (what, breakage, all_as, check) in breakages {
        for variant in [plain, APP_FIELDS] {
            let mock = Mock::start().await;
            let addr = start(mock.running.addr, variant, breakage, all_as).await;
            let report = conform(config(
                format!("http://{addr}/v2"),
                contract(variant),
                23,
                200,
            ))
            .await;
            let f = report
                .failures
                .iter()
                .find(|f| f.check == check)
                .unwrap_or_else(|| {
                    panic!(
                        "{what} behind {}: not caught:{}",
                        variant.name,
                        report.text()
                    )
                });
            assert!(
                f.repro.iter().any(|c| c.starts_with("curl -i -X")),
                "{what}: a curl repro: {f:?}"
            );
        }
    }
}
