//! Coverage: what a consumer's tests met, counted at request time per key and run
//! (`X-Mock-Run`), read with the key (`GET /__mock/self/coverage`) or by the operator
//! (`GET /__mock/coverage?key=`), and checked by `revkeen-mock coverage`.

use crate::common;

use std::collections::BTreeSet;

use common::Mock;
use revkeen_mock::cli::{CoverageArgs, CoverageFormat, run_coverage};
use serde_json::{Value, json};

const KEY: &str = "rk_sandbox_coverage_journey_0001";

/// A request of run `run` with the key.
async fn call(mock: &Mock, run: &str, method: &str, path: &str, body: Option<Value>) -> u16 {
    let text = body.map(|b| b.to_string());
    let mut headers = vec![("x-api-key", KEY), ("x-mock-run", run)];
    if text.is_some() {
        headers.push(("content-type", "application/json"));
    }
    mock.send(method, path, &headers, text.as_deref())
        .await
        .status
}

async fn report(mock: &Mock, run: Option<&str>) -> Value {
    let path = match run {
        Some(r) => format!("/__mock/self/coverage?run={r}"),
        None => "/__mock/self/coverage".to_owned(),
    };
    let r = mock.get(&path, KEY).await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

/// Every (operationId, status, natural, injected) the report says was met.
fn met(report: &Value) -> BTreeSet<(String, u64, u64, u64)> {
    report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|op| {
            op["statuses"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["met"] == true)
                .map(|s| {
                    (
                        op["operationId"].as_str().unwrap().to_owned(),
                        s["status"].as_u64().unwrap(),
                        s["natural"].as_u64().unwrap(),
                        s["injected"].as_u64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names_met(report: &Value, kind: &str) -> BTreeSet<String> {
    report[kind]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["met"] == true)
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn the_report_lists_exactly_what_a_journey_met() {
    let mock = Mock::start().await;
    let activate =
        json!({"credentials": {"apiKey": "ph_cov", "baseUrl": "https://clinic.example"}});
    let run = "journey";
    assert_eq!(
        call(
            &mock,
            run,
            "POST",
            "/v2/integrations/practicehub/activate",
            Some(activate.clone())
        )
        .await,
        200
    );
    assert_eq!(
        call(
            &mock,
            run,
            "POST",
            "/v2/integrations/practicehub/activate",
            Some(activate)
        )
        .await,
        409
    );
    assert_eq!(
        call(&mock, run, "GET", "/v2/integrations/practicehub", None).await,
        200
    );
    assert_eq!(
        call(&mock, run, "GET", "/v2/integrations/nope", None).await,
        404
    );
    assert_eq!(
        call(&mock, run, "GET", "/v2/integrations?offset=1", None).await,
        200
    );
    assert_eq!(
        call(
            &mock,
            run,
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            Some(json!({"syncIntervalMinutes": 3}))
        )
        .await,
        400
    );
    // A mapping the catalog refuses.
    let unknown = json!({"mappings": [{"externalId": "no_such_package", "internalId": "prod_x"}]});
    assert_eq!(
        call(
            &mock,
            run,
            "PUT",
            "/v2/integrations/practicehub/product-mappings",
            Some(unknown)
        )
        .await,
        400
    );
    // Without a key: refused before a key is known, counted in the run it names.
    let r = mock
        .send("GET", "/v2/integrations", &[("x-mock-run", run)], None)
        .await;
    assert_eq!(r.status, 401);
    // A fault rule's answer counts as injected.
    let rule = json!({"rules": [{"match": {"method": "POST", "path": "/integrations/{provider}/sync"}, "action": {"type": "error", "status": 503}, "count": 1}]});
    let r = mock
        .call("POST", "/__mock/self/faults", KEY, Some(rule))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call(
            &mock,
            run,
            "POST",
            "/v2/integrations/practicehub/sync",
            None
        )
        .await,
        503
    );
    assert_eq!(
        call(
            &mock,
            run,
            "POST",
            "/v2/integrations/practicehub/sync",
            None
        )
        .await,
        200
    );
    assert_eq!(
        call(
            &mock,
            run,
            "GET",
            "/v2/integrations/practicehub/sync-logs",
            None
        )
        .await,
        200
    );
    assert_eq!(call(&mock, run, "GET", "/v2/nowhere", None).await, 404);

    let r = report(&mock, Some(run)).await;
    let expected: BTreeSet<(String, u64, u64, u64)> = [
        ("activateIntegration", 200, 1, 0),
        ("activateIntegration", 409, 1, 0),
        ("getIntegration", 200, 1, 0),
        ("getIntegration", 404, 1, 0),
        ("listIntegrations", 200, 1, 0),
        ("listIntegrations", 401, 1, 0),
        ("updateIntegrationSyncInterval", 400, 1, 0),
        ("replaceIntegrationProductMappings", 400, 1, 0),
        ("triggerIntegrationSync", 503, 0, 1),
        ("triggerIntegrationSync", 200, 1, 0),
        ("listIntegrationSyncLogs", 200, 1, 0),
    ]
    .into_iter()
    .map(|(o, s, n, i)| (o.to_owned(), s, n, i))
    .collect();
    assert_eq!(met(&r), expected, "{r:#}");
    assert_eq!(
        names_met(&r, "states"),
        set([
            "integration.status.connected",
            "syncHealth.healthy",
            "breaker.closed",
            "pagination.followed",
            "syncLog.success",
            "mapping.refused",
        ]),
        "{r:#}"
    );
    assert_eq!(
        names_met(&r, "errors"),
        set([
            "401.missing_api_key",
            "404",
            "409.conflict",
            "400/422.validation",
            "5xx"
        ]),
    );
    assert_eq!(
        r["unrouted"],
        json!([{"status": 404, "natural": 1, "injected": 0}])
    );
    assert_eq!(r["summary"]["met"], 11);
    // Every documented status not met is a gap with a hint; nothing met is one.
    let gaps: BTreeSet<String> = r["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert!(!g["hint"].as_str().unwrap().is_empty(), "{g}");
            g["item"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(gaps.contains("getIntegration:401"));
    assert!(gaps.contains("breaker.open"));
    assert!(!gaps.contains("getIntegration:200"));
    assert!(!gaps.contains("pagination.followed"));
    assert_eq!(
        r["summary"]["documented"].as_u64().unwrap() - 11,
        gaps.iter().filter(|g| g.contains(':')).count() as u64
    );
    // The operator reads the same.
    let by_operator = mock
        .send(
            "GET",
            &format!("/__mock/coverage?key={KEY}&run={run}"),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(by_operator, r);
}

#[tokio::test]
async fn runs_of_one_key_do_not_mix_and_replays_show() {
    let mock = Mock::start().await;
    let activate =
        json!({"credentials": {"apiKey": "ph_cov", "baseUrl": "https://clinic.example"}})
            .to_string();
    let send = |run: &'static str| {
        let (mock, activate) = (&mock, activate.clone());
        async move {
            mock.send(
                "POST",
                "/v2/integrations/wodify/activate",
                &[
                    ("x-api-key", KEY),
                    ("x-mock-run", run),
                    ("content-type", "application/json"),
                    ("idempotency-key", "once"),
                ],
                Some(&activate),
            )
            .await
            .status
        }
    };
    assert_eq!(send("a").await, 200);
    assert_eq!(send("a").await, 200, "a replay");
    assert_eq!(
        call(&mock, "b", "GET", "/v2/integrations/nope", None).await,
        404
    );
    assert_eq!(mock.get("/v2/integrations", KEY).await.status, 200);
    let a = report(&mock, Some("a")).await;
    let b = report(&mock, Some("b")).await;
    let default = report(&mock, None).await;
    assert_eq!(
        met(&a),
        [("activateIntegration".to_owned(), 200, 2, 0)].into()
    );
    assert!(names_met(&a, "states").contains("idempotency.replayed"));
    assert_eq!(met(&b), [("getIntegration".to_owned(), 404, 1, 0)].into());
    assert_eq!(
        met(&default),
        [("listIntegrations".to_owned(), 200, 1, 0)].into()
    );
    assert_eq!(default["run"], "default");
    // Another key's run of the same name is its own.
    let other = mock
        .send(
            "GET",
            "/__mock/self/coverage?run=a",
            &[("x-api-key", common::OTHER_KEY)],
            None,
        )
        .await
        .json();
    assert_eq!(met(&other), BTreeSet::new());
    // Forgotten on request.
    let r = mock
        .call("DELETE", "/__mock/self/coverage?run=a", KEY, None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(met(&report(&mock, Some("a")).await), BTreeSet::new());
    assert_eq!(met(&report(&mock, Some("b")).await).len(), 1);
}

fn args(mock: &Mock, run: &str, format: CoverageFormat) -> CoverageArgs {
    CoverageArgs {
        url: mock.url(""),
        key: KEY.to_owned(),
        run: Some(run.to_owned()),
        format,
        fail_under: None,
        require: Vec::new(),
        require_state: Vec::new(),
        timeout: std::time::Duration::from_secs(5),
    }
}

/// `revkeen-mock coverage` (its client runs a runtime of its own: on a thread of its own).
fn coverage(args: CoverageArgs) -> Result<revkeen_mock::cli::CoverageOutcome, String> {
    std::thread::spawn(move || run_coverage(&args))
        .join()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requirement_not_met_fails_naming_the_gap_and_following_its_hint_closes_it() {
    let mock = Mock::start().await;
    let run = "ci-7";
    assert_eq!(call(&mock, run, "GET", "/v2/integrations", None).await, 200);
    let mut required = args(&mock, run, CoverageFormat::Markdown);
    required.require = vec!["listIntegrations:200".into(), "getIntegration:200".into()];
    required.require_state = vec!["breaker.open".into()];
    let out = coverage(required.clone()).unwrap();
    assert!(!out.passed);
    assert!(
        out.output.contains("| `listIntegrations:200` | ✅ |"),
        "{}",
        out.output
    );
    assert!(
        out.output.contains("| `getIntegration:200` | ❌ |"),
        "{}",
        out.output
    );
    assert!(
        out.output
            .contains("| `breaker.open` | ❌ | five failed syncs: the breaker-open fixture"),
        "{}",
        out.output
    );

    // Follow the hints: the breaker-open fixture's merchant under the key, then read it.
    let r = mock
        .call("POST", "/__mock/self/fixtures/breaker-open", KEY, None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call(&mock, run, "GET", "/v2/integrations/wodify", None).await,
        200
    );
    required.require = vec!["listIntegrations:200".into(), "getIntegration:200".into()];
    let out = coverage(required.clone()).unwrap();
    assert!(out.passed, "{}", out.output);

    // JUnit: one test case per requirement; JSON: the report with them checked.
    required.format = CoverageFormat::Junit;
    required.fail_under = Some(99.0);
    let out = coverage(required.clone()).unwrap();
    assert!(!out.passed);
    assert!(
        out.output.contains("tests=\"4\" failures=\"1\""),
        "{}",
        out.output
    );
    assert!(
        out.output
            .contains("<testcase classname=\"coverage\" name=\"breaker.open\"/>")
    );
    required.format = CoverageFormat::Json;
    required.fail_under = None;
    let out = coverage(required.clone()).unwrap();
    let json: Value = serde_json::from_str(&out.output).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["requirements"].as_array().unwrap().len(), 3);

    // What the report cannot know is an error, not a failure.
    required.require = vec!["noSuchOperation:200".into()];
    let err = coverage(required.clone()).err().unwrap();
    assert!(err.contains("noSuchOperation"), "{err}");
    required.require = Vec::new();
    required.require_state = vec!["breaker.sideways".into()];
    let err = coverage(required.clone()).err().unwrap();
    assert!(err.contains("breaker.open"), "names the known ones: {err}");
    required.require_state = Vec::new();
    required.key = "rk_live_not_a_sandbox_key_001".into();
    let err = coverage(required).err().unwrap();
    assert!(err.contains("401"), "{err}");
}
