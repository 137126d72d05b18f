//! OpenAPI 3.1: the project's own contract rendered in 3.1 (checked in under
//! `tests/data`) gives exactly the behaviour of the 3.0 document: the same contract,
//! the same answers to the same journey, and `conform` passes against the mock with
//! either.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{KEY, Mock, OTHER_KEY};
use revkeen_mock::sim::SimConfig;
use revkeen_mock::spec::Contract;
use revkeen_mock::spec::load::{EMBEDDED_NAME, EMBEDDED_SPEC, parse_text};
use serde_json::{Value, json};

const RENDERING: &str = "tests/data/revkeen-integrations-3.1.json";

fn rendering_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(RENDERING)
}

fn contract_31() -> Contract {
    Contract::load_file(&rendering_path())
        .expect("the 3.1 rendering loads")
        .into_servable()
        .expect("the 3.1 rendering is servable")
}

#[test]
fn the_checked_in_rendering_is_the_embedded_contract_converted() {
    let doc = parse_text(EMBEDDED_SPEC, EMBEDDED_NAME).unwrap();
    let converted = common::openapi31::to_31(&doc);
    let text = serde_json::to_string_pretty(&converted).unwrap() + "\n";
    if std::env::var_os("REVKEEN_REGENERATE").is_some() {
        std::fs::write(rendering_path(), &text).unwrap();
    }
    let kept = std::fs::read_to_string(rendering_path()).unwrap_or_default();
    assert!(
        kept == text,
        "{RENDERING} is not the embedded contract converted: run `REVKEEN_REGENERATE=1 cargo test --test spec_31 the_checked_in` and commit it"
    );
    // The 2020-12 forms are there, not only the 3.0 ones renamed.
    for idiom in ["\"null\"", "\"examples\"", "\"anyOf\""] {
        assert!(text.contains(idiom), "{idiom}");
    }
    assert!(!text.contains("\"nullable\""));
}

#[test]
fn the_rendering_compiles_to_the_same_contract_without_problems() {
    let compiled = Contract::load_file(&rendering_path()).unwrap();
    assert!(compiled.problems.is_empty(), "{:#?}", compiled.problems);
    let c31 = compiled.contract;
    let c30 = Contract::embedded().unwrap();
    assert_eq!(c31.openapi, "3.1.0");
    assert_eq!(c31.operations.len(), c30.operations.len());
    for (a, b) in c30.operations.iter().zip(&c31.operations) {
        assert_eq!((a.method, &a.path, &a.id), (b.method, &b.path, &b.id));
        let names = |o: &revkeen_mock::spec::Operation| {
            o.parameters
                .iter()
                .map(|p| (p.name.clone(), p.required, p.scalar_type.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(a), names(b), "{}", a.id);
        let statuses = |o: &revkeen_mock::spec::Operation| {
            o.responses
                .iter()
                .map(|r| r.status.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(statuses(a), statuses(b), "{}", a.id);
        // Each schema accepts the other document's samples (and its own).
        if let (Some(x), Some(y)) = (a.json_body_schema(), b.json_body_schema()) {
            for sample in [x.sample(), y.sample()].into_iter().flatten() {
                assert!(
                    x.is_valid(&sample) && y.is_valid(&sample),
                    "{}: {sample}",
                    a.id
                );
            }
        }
    }
}

/// One request of the journey, and what is compared of its answer: status, the
/// headers the API defines, and the body without the request id (new every time).
async fn answer(mock: &Mock, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
    let r = mock.call(method, path, key, body).await;
    let mut body = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    if let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) {
        e.remove("request_id");
    }
    let headers: Vec<(String, Option<&str>)> = [
        "content-type",
        "retry-after",
        "allow",
        "revkeen-version",
        "idempotency-replayed",
    ]
    .iter()
    .map(|h| (h.to_string(), r.header(h)))
    .collect();
    json!({"status": r.status, "headers": format!("{headers:?}"), "body": body})
}

#[tokio::test]
async fn a_journey_answers_the_same_with_either_document() {
    let m30 = Mock::start_with(SimConfig::default()).await;
    let m31 = Mock::start_with_contract(SimConfig::default(), contract_31()).await;
    let creds =
        |k: &str| json!({"credentials": {"apiKey": k, "baseUrl": "https://clinic.example"}});
    let journey: Vec<(&str, &str, &str, Option<Value>)> = vec![
        ("GET", "/v2/integrations", KEY, None),
        ("GET", "/v2/integrations/practicehub", KEY, None),
        (
            "POST",
            "/v2/integrations/practicehub/activate",
            KEY,
            Some(creds("ph_key_1")),
        ),
        (
            "POST",
            "/v2/integrations/practicehub/activate",
            KEY,
            Some(creds("ph_key_1")),
        ),
        (
            "POST",
            "/v2/integrations/wodify/activate",
            KEY,
            Some(json!({"credentials": {}})),
        ),
        (
            "POST",
            "/v2/integrations/wodify/activate",
            KEY,
            Some(json!({"credentials": {"apiKey": 5}})),
        ),
        (
            "POST",
            "/v2/integrations/practicehub/test",
            KEY,
            Some(creds("ph_key_1")),
        ),
        (
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            KEY,
            Some(json!({"syncIntervalMinutes": 30})),
        ),
        (
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            KEY,
            Some(json!({"syncIntervalMinutes": 4})),
        ),
        (
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            KEY,
            Some(json!({"syncIntervalMinutes": "x"})),
        ),
        (
            "POST",
            "/v2/integrations/practicehub/sync",
            KEY,
            Some(json!({})),
        ),
        (
            "GET",
            "/v2/integrations/practicehub/sync-logs?limit=5",
            KEY,
            None,
        ),
        (
            "GET",
            "/v2/integrations/practicehub/sync-logs?limit=0",
            KEY,
            None,
        ),
        (
            "POST",
            "/v2/integrations/practicehub/pause-sync",
            KEY,
            Some(json!({})),
        ),
        (
            "POST",
            "/v2/integrations/practicehub/resume-sync",
            KEY,
            Some(json!({})),
        ),
        ("GET", "/v2/integrations/practicehub/packages", KEY, None),
        (
            "GET",
            "/v2/integrations/practicehub/product-mappings",
            KEY,
            None,
        ),
        (
            "GET",
            "/v2/integrations/practicehub/suggest-mappings",
            KEY,
            None,
        ),
        ("GET", "/v2/integrations/nope", KEY, None),
        ("DELETE", "/v2/integrations", KEY, None),
        (
            "GET",
            "/v2/integrations",
            "rk_live_not_a_sandbox_key_00001",
            None,
        ),
        ("GET", "/v2/integrations", "", None),
        ("GET", "/v2/integrations?limit=abc", KEY, None),
        (
            "POST",
            "/v2/integrations/practicehub/deactivate",
            KEY,
            Some(json!({})),
        ),
        ("GET", "/v2/integrations", OTHER_KEY, None),
        ("GET", "/v2/integrations", KEY, None),
    ];
    let mut differences = Vec::new();
    for (method, path, key, body) in journey {
        m30.advance(61).await;
        m31.advance(61).await;
        let a = answer(&m30, method, path, key, body.clone()).await;
        let b = answer(&m31, method, path, key, body).await;
        if a != b {
            differences.push(format!("{method} {path}:\n  3.0: {a}\n  3.1: {b}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    m30.assert_conformant();
    m31.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conform_passes_against_the_mock_with_the_3_1_document() {
    let mock = Mock::start_with_contract(SimConfig::default(), contract_31()).await;
    let cfg = revkeen_mock::conform::Config {
        seed: 31,
        cases: 60,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_secs(5),
        ..revkeen_mock::conform::Config::new(
            mock.url("/v2"),
            "rk_sandbox_conform_openapi31_key_01",
            contract_31(),
        )
    };
    let report = common::conform(cfg).await;
    assert!(report.passed(), "{}", report.text());
    mock.assert_conformant();
}

/// The large generated 3.1 document, written once per test process.
fn large_file() -> std::path::PathBuf {
    static WRITTEN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    WRITTEN
        .get_or_init(|| {
            let path = std::env::temp_dir().join(format!(
                "revkeen-large-openapi31-{}.json",
                std::process::id()
            ));
            let doc = common::large31::large_document(100);
            std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
            path
        })
        .clone()
}

#[test]
fn a_large_3_1_document_loads_in_check_spec_with_its_webhooks() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .arg("check-spec")
        .arg(large_file())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("(OpenAPI 3.1.0)"), "{text}");
    assert!(text.contains("300 operations"), "{text}");
    assert!(text.contains("2 webhook operations"), "{text}");
    assert!(
        text.contains("resourceDeleted"),
        "the one behind a $ref: {text}"
    );
    assert!(text.contains("no problems found"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_3_1_document_is_served_from_its_examples_and_conform_read_only_passes() {
    let contract = || {
        Contract::load_file(&large_file())
            .unwrap()
            .into_servable()
            .unwrap()
    };
    let mock = Mock::start_with_contract(SimConfig::default(), contract()).await;
    let doc = common::large31::large_document(100);
    let example = &doc["paths"]["/resources7/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
        ["example"];
    let r = mock
        .get("/v1/resources7/00000000-0000-4000-8000-000000000001", KEY)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.json(), example, "the operation's example");
    let r = mock.get("/v1/resources7?limit=0", KEY).await;
    r.expect_error(400, "validation_error");
    let r = mock.get("/v1/resources7/not-a-uuid", KEY).await;
    assert_eq!(r.status, 404, "{}", r.json());
    let r = mock
        .call("POST", "/v1/resources7", KEY, Some(example.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let mut unknown = example.clone();
    unknown["colour"] = json!("red");
    let e = mock
        .call("POST", "/v1/resources7", KEY, Some(unknown))
        .await
        .expect_error(400, "validation_error");
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    let mut wrong_kind = example.clone();
    wrong_kind["kind"] = json!("resource_3");
    mock.call("POST", "/v1/resources7", KEY, Some(wrong_kind))
        .await
        .expect_error(400, "validation_error");
    let cfg = revkeen_mock::conform::Config {
        seed: 31,
        cases: 20,
        read_only: true,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_secs(5),
        ..revkeen_mock::conform::Config::new(
            mock.url("/v1"),
            "rk_sandbox_conform_large31_key_0001",
            contract(),
        )
    };
    let report = common::conform(cfg).await;
    assert!(report.passed(), "{}", report.text());
    mock.assert_conformant();
}

/// conform's strategies agree with the schemas they come from: every value drawn as
/// valid validates and every value drawn as invalid does not, for each body of the
/// embedded 3.0 contract, of its 3.1 rendering and of the large 3.1 document (type
/// lists, const, `$ref` with siblings, tuples, closed by `unevaluatedProperties`).
#[test]
fn conform_draws_valid_and_invalid_bodies_from_2020_12_schemas() {
    use proptest::strategy::{Strategy, ValueTree};
    use revkeen_mock::conform::strategy::{invalid, valid};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let large = Contract::load_file(&large_file())
        .unwrap()
        .into_servable()
        .unwrap();
    let mut bodies = 0;
    for contract in [Contract::embedded().unwrap(), contract_31(), large] {
        for op in &contract.operations {
            let Some(schema) = op.json_body_schema() else {
                continue;
            };
            bodies += 1;
            let good = valid(schema, schema.json());
            let bad = invalid(schema, schema.json());
            for _ in 0..20 {
                let v = good.new_tree(&mut runner).unwrap().current();
                assert!(
                    schema.is_valid(&v),
                    "{}: {v} should be valid: {:?}",
                    op.id,
                    schema.violations(&v)
                );
                let (v, what) = bad.new_tree(&mut runner).unwrap().current();
                assert!(
                    !schema.is_valid(&v),
                    "{}: {v} ({what}) should be invalid",
                    op.id
                );
            }
        }
    }
    assert!(bodies > 100, "{bodies}");
}

/// A document that declares no security is served without an API key, as a deployment
/// of that document would serve it; an operation that declares a requirement in it
/// still answers 401 without a key (issue #27).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_without_security_is_served_without_keys() {
    let mut doc = common::large31::large_document(20);
    assert!(doc.get("security").is_none());
    doc["components"]["securitySchemes"] =
        json!({"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}});
    doc["paths"]["/resources3/{id}"]["get"]["security"] = json!([{"apiKey": []}]);
    doc["paths"]["/resources3/{id}"]["get"]["responses"]["401"] = json!({
        "description": "No key.",
        "content": {"application/json": {"schema": {"type": "object"}}}
    });
    let contract = Contract::load_str(&doc.to_string(), "no-security.json")
        .unwrap()
        .into_servable()
        .unwrap();
    let mock = Mock::start_with_contract(SimConfig::default(), contract).await;
    let id = "00000000-0000-4000-8000-000000000001";
    let r = mock
        .send("GET", &format!("/v1/resources7/{id}"), &[], None)
        .await;
    assert_eq!(r.status, 200, "no key needed: {}", r.json());
    let r = mock.send("GET", "/v1/resources7", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = mock.get(&format!("/v1/resources7/{id}"), KEY).await;
    assert_eq!(r.status, 200, "a key is still accepted");
    let r = mock
        .send("GET", &format!("/v1/resources3/{id}"), &[], None)
        .await;
    assert_eq!(
        r.status,
        401,
        "the operation that requires a key: {}",
        r.json()
    );
    let r = mock.get(&format!("/v1/resources3/{id}"), KEY).await;
    assert_eq!(r.status, 200);
}
