//! The compiled contract of the embedded spec, and `check-spec` on broken documents.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use revkeen_mock::spec::{Contract, Method, RouteMatch, StatusKey};

/// Compiled once for the whole file: compiling costs far more than any check here.
fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        Contract::embedded().expect("the embedded spec compiles without blocking problems")
    })
}

fn check_spec(path: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"));
    cmd.arg("check-spec");
    if let Some(p) = path {
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(p));
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn embedded_spec_is_clean_for_check_spec() {
    let (code, stdout, _) = check_spec(None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("33 operations"), "{stdout}");
    assert!(stdout.contains("no problems found"), "{stdout}");
}

#[test]
fn the_file_in_specs_is_the_embedded_one() {
    let on_disk = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/revkeen-integrations.yaml"),
    )
    .unwrap();
    assert_eq!(on_disk, revkeen_mock::spec::load::EMBEDDED_SPEC);
}

/// The build embeds each default contract pre-parsed (build.rs): the JSON must be what
/// loading the YAML gives, key order included (operations are listed in it).
#[test]
fn the_embedded_json_is_the_yaml_parsed() {
    use revkeen_mock::control::self_service::{SELF_SERVICE_SPEC, SELF_SERVICE_SPEC_JSON};
    use revkeen_mock::control::{ADMIN_SPEC, ADMIN_SPEC_JSON};
    use revkeen_mock::spec::load::{EMBEDDED_SPEC, EMBEDDED_SPEC_JSON, parse_embedded, parse_text};
    for (json, yaml) in [
        (EMBEDDED_SPEC_JSON, EMBEDDED_SPEC),
        (ADMIN_SPEC_JSON, ADMIN_SPEC),
        (SELF_SERVICE_SPEC_JSON, SELF_SERVICE_SPEC),
    ] {
        assert!(!json.is_empty(), "the build parsed the YAML");
        let from_json: serde_json::Value = serde_json::from_str(json).unwrap();
        let from_yaml = parse_text(yaml, "yaml").unwrap();
        assert_eq!(from_json, from_yaml);
        assert_eq!(
            serde_json::to_string(&from_json).unwrap(),
            serde_json::to_string(&from_yaml).unwrap(),
            "the same order"
        );
    }
    // A build that could not parse the YAML leaves the JSON empty: the YAML is read
    // at run time, and its error names the line.
    assert_eq!(
        parse_embedded("", EMBEDDED_SPEC, "e").unwrap(),
        parse_text(EMBEDDED_SPEC, "e").unwrap()
    );
    let broken = parse_embedded("", "a: [1\nb: c\n", "broken.yaml").unwrap_err();
    assert!(broken.to_string().contains("broken.yaml"), "{broken}");
}

#[test]
fn every_operation_is_in_the_table_with_the_statuses_the_docs_give() {
    let c = contract();
    let expected: [(&str, Method, &str, &[u16]); 33] = [
        (
            "listIntegrations",
            Method::Get,
            "/integrations",
            &[200, 400, 401, 403, 429, 500],
        ),
        (
            "getIntegration",
            Method::Get,
            "/integrations/{provider}",
            &[200, 401, 404, 500],
        ),
        (
            "activateIntegration",
            Method::Post,
            "/integrations/{provider}/activate",
            &[200, 400, 401, 404, 409, 413, 415, 429],
        ),
        (
            "deactivateIntegration",
            Method::Post,
            "/integrations/{provider}/deactivate",
            &[200, 404, 409],
        ),
        (
            "testIntegrationCredentials",
            Method::Post,
            "/integrations/{provider}/test",
            &[200, 400, 401],
        ),
        (
            "triggerIntegrationSync",
            Method::Post,
            "/integrations/{provider}/sync",
            &[200, 400, 404],
        ),
        (
            "updateIntegrationStatus",
            Method::Put,
            "/integrations/{provider}/status",
            &[200, 401, 403, 404, 500],
        ),
        (
            "toggleIntegrationSync",
            Method::Put,
            "/integrations/{provider}/sync-toggle",
            &[200, 400, 404],
        ),
        (
            "updateIntegrationSyncInterval",
            Method::Put,
            "/integrations/{provider}/sync-interval",
            &[200, 400, 404],
        ),
        (
            "updateIntegrationInvoiceLookback",
            Method::Put,
            "/integrations/{provider}/invoice-lookback",
            &[200, 400, 404],
        ),
        (
            "updateIntegrationAutoSendInvoices",
            Method::Put,
            "/integrations/{provider}/auto-send-invoices",
            &[200, 400, 404],
        ),
        (
            "resumeIntegrationSync",
            Method::Post,
            "/integrations/{provider}/resume-sync",
            &[200, 400, 401],
        ),
        (
            "listIntegrationSyncLogs",
            Method::Get,
            "/integrations/{provider}/sync-logs",
            &[200, 401, 500],
        ),
        (
            "getIntegrationSyncLog",
            Method::Get,
            "/integrations/{provider}/sync-logs/{logId}",
            &[200, 404],
        ),
        (
            "retryIntegrationSyncLog",
            Method::Post,
            "/integrations/{provider}/sync-logs/{logId}/retry",
            &[200, 400, 404],
        ),
        (
            "batchRetryIntegrationSyncLogs",
            Method::Post,
            "/integrations/{provider}/sync-logs/batch-retry",
            &[200, 401, 500],
        ),
        (
            "getIntegrationSyncStats",
            Method::Get,
            "/integrations/{provider}/sync-stats/{integrationId}",
            &[200, 401, 500],
        ),
        (
            "getIntegrationSyncStatsByType",
            Method::Get,
            "/integrations/{provider}/sync-stats-by-type/{integrationId}",
            &[200, 401, 500],
        ),
        (
            "listIntegrationSyncStates",
            Method::Get,
            "/integrations/{provider}/sync-states",
            &[200, 401, 500],
        ),
        (
            "listSyncState",
            Method::Get,
            "/sync-state/{source}/{merchantId}",
            &[200, 403],
        ),
        (
            "updateSyncState",
            Method::Put,
            "/sync-state/{source}/{merchantId}/{resourceType}",
            &[200, 403],
        ),
        // Catalogs and mappings (api-facts 4 and 4.1).
        (
            "listIntegrationPaymentMethods",
            Method::Get,
            "/integrations/{provider}/payment-methods",
            &[200, 404],
        ),
        (
            "previewIntegrationPaymentMethods",
            Method::Post,
            "/integrations/{provider}/payment-methods",
            &[200, 401, 500],
        ),
        (
            "updateIntegrationPaymentMappings",
            Method::Put,
            "/integrations/{provider}/payment-mappings",
            &[200, 404],
        ),
        (
            "listIntegrationPackages",
            Method::Get,
            "/integrations/{provider}/packages",
            &[200, 404],
        ),
        (
            "listIntegrationBillableItems",
            Method::Get,
            "/integrations/{provider}/billable-items",
            &[200],
        ),
        (
            "listIntegrationProductMappings",
            Method::Get,
            "/integrations/{provider}/product-mappings",
            &[200, 404],
        ),
        (
            "replaceIntegrationProductMappings",
            Method::Put,
            "/integrations/{provider}/product-mappings",
            &[200, 400, 404],
        ),
        (
            "deleteIntegrationProductMapping",
            Method::Delete,
            "/integrations/{provider}/product-mappings/{externalId}",
            &[200, 404],
        ),
        (
            "suggestIntegrationMappings",
            Method::Post,
            "/integrations/{provider}/suggest-mappings",
            &[200, 401],
        ),
        (
            "listIntegrationUnmappedAttempts",
            Method::Get,
            "/integrations/{provider}/unmapped-attempts",
            &[200],
        ),
        (
            "createInvoicePaymentRequest",
            Method::Post,
            "/integrations/accounting/invoice-payment-requests",
            &[200, 400, 409],
        ),
        (
            "getInvoicePaymentRequest",
            Method::Get,
            "/integrations/accounting/invoice-payment-requests/{id}",
            &[200, 404],
        ),
    ];
    assert_eq!(c.operations.len(), 33);
    for (id, method, path, statuses) in expected {
        let op = c.operation(id).unwrap_or_else(|| panic!("{id} is missing"));
        assert_eq!((op.method, op.path.as_str()), (method, path), "{id}");
        for s in statuses {
            assert!(
                op.statuses().contains(&StatusKey::Code(*s)),
                "{id} lacks {s}"
            );
        }
        assert!(!op.required_scopes.is_empty(), "{id} names its scope");
    }
    assert!(c.operation("updateIntegrationStatus").unwrap().internal);
    assert_eq!(c.base_path, "/v2");
}

#[test]
fn activate_links_to_the_operations_on_the_same_provider() {
    let c = contract();
    let activate = c.operation("activateIntegration").unwrap();
    let links = &activate.response_for(200).unwrap().links;
    for target in [
        "getIntegration",
        "deactivateIntegration",
        "triggerIntegrationSync",
        "resumeIntegrationSync",
    ] {
        assert!(links.iter().any(|l| l == target), "no link to {target}");
        assert!(c.operation(target).is_some());
    }
}

#[test]
fn every_example_validates_against_its_schema() {
    let c = contract();
    let mut checked = 0;
    for op in &c.operations {
        let bodies = op.request_body.iter().flat_map(|b| b.media.iter());
        let responses = op.responses.iter().flat_map(|r| r.media.iter());
        for media in bodies.chain(responses) {
            let schema = media.schema.as_ref().expect("every body has a schema");
            assert!(
                !media.examples.is_empty(),
                "{}: a body without an example",
                op.id
            );
            for (name, value) in &media.examples {
                assert!(
                    schema.is_valid(value),
                    "{} example {name}: {:?}",
                    op.id,
                    schema.violations(value)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} examples checked");
}

#[test]
fn the_matcher_resolves_sync_toggle_and_rejects_an_unknown_provider() {
    let c = contract();
    let RouteMatch::Found { operation, params } =
        c.resolve(Method::Put, "/v2/integrations/wodify/sync-toggle")
    else {
        panic!("sync-toggle does not resolve");
    };
    let op = &c.operations[operation];
    assert_eq!(op.id, "toggleIntegrationSync");
    let parsed = op
        .parse_params(&params, None, &[][..])
        .expect("wodify is a provider");
    assert_eq!(parsed.get("provider"), Some(&serde_json::json!("wodify")));

    let RouteMatch::Found { operation, params } =
        c.resolve(Method::Put, "/v2/integrations/stripe/sync-toggle")
    else {
        panic!("the template matches any provider segment");
    };
    let violations = c.operations[operation]
        .parse_params(&params, None, &[][..])
        .unwrap_err();
    assert_eq!(violations[0].field, "provider", "{violations:?}");
}

#[test]
fn query_parameters_are_typed_bounded_and_defaulted() {
    let c = contract();
    let list = c.operation("listIntegrations").unwrap();
    let parsed = list.parse_params(&[], None, &[][..]).unwrap();
    assert_eq!(parsed.get("limit"), Some(&serde_json::json!(25)));
    assert_eq!(parsed.get("offset"), Some(&serde_json::json!(0)));
    for bad in ["limit=0", "limit=abc", "offset=-1", "offset=1.5"] {
        let v = list.parse_params(&[], Some(bad), &[][..]).unwrap_err();
        let field = bad.split('=').next().unwrap();
        assert_eq!(v[0].field, field, "{bad}: {v:?}");
    }
}

#[test]
fn check_spec_finds_an_operation_without_success() {
    let (code, out, _) = check_spec(Some("tests/data/no-success-response.yaml"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no 2xx response") && out.contains("/paths/~1things/get/responses"),
        "{out}"
    );
}

#[test]
fn check_spec_finds_an_example_that_breaks_its_schema() {
    let (code, out, _) = check_spec(Some("tests/data/bad-example.yaml"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("example does not validate") && out.contains("count"),
        "{out}"
    );
}

#[test]
fn check_spec_finds_an_unresolvable_ref() {
    let (code, out, _) = check_spec(Some("tests/data/dangling-ref.yaml"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("#/components/schemas/Missing") && out.contains("does not resolve"),
        "{out}"
    );
    assert_eq!(out.matches("error at").count(), 1, "reported once: {out}");
}

#[test]
fn check_spec_finds_an_undeclared_path_parameter() {
    let (code, out, _) = check_spec(Some("tests/data/undeclared-path-param.yaml"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("'{thingId}'") && out.contains("not declared"),
        "{out}"
    );
}

#[test]
fn check_spec_reads_openapi_3_1() {
    let (code, out, err) = check_spec(Some("tests/data/openapi-3-1.yaml"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(OpenAPI 3.1.0)"), "{out}");
}

/// Each broken 3.1 document: exit 1, the problem named at its file and JSON pointer.
#[test]
fn check_spec_names_the_problems_of_broken_3_1_documents() {
    let schema = "/paths/~1things/get/responses/200/content/application~1json";
    for (file, pointer, words) in [
        (
            "openapi31-bad-type.yaml",
            format!("{schema}/schema/properties/name/type"),
            "[\"string\",\"nul\"]",
        ),
        (
            "openapi31-bad-prefix-items.yaml",
            format!("{schema}/schema/prefixItems"),
            "is not of type \"array\"",
        ),
        (
            "openapi31-dangling-ref.yaml",
            format!("{schema}/schema"),
            "'#/components/schemas/Missing' does not resolve",
        ),
        (
            "openapi31-bad-webhooks.yaml",
            "/webhooks".to_owned(),
            "must be an object",
        ),
        (
            "openapi31-example-breaks-const.yaml",
            format!("{schema}/example"),
            "kind: \"thing\" was expected",
        ),
    ] {
        let path = format!("tests/data/{file}");
        let (code, out, err) = check_spec(Some(&path));
        assert_eq!(code, 1, "{file}: {out}{err}");
        let at = format!("{file}#{pointer}:");
        let line = out
            .lines()
            .find(|l| l.contains(&at))
            .unwrap_or_else(|| panic!("{file}: no problem at {pointer}: {out}"));
        assert!(line.contains(words), "{file}: {line}");
    }
}

#[test]
fn check_spec_exits_2_on_unreadable_or_unparsable_files() {
    let (code, _, err) = check_spec(Some("tests/data/not-yaml.yaml"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line"), "{err}");
    let (code, _, err) = check_spec(Some("tests/data/does-not-exist.yaml"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

proptest::proptest! {
    /// Whatever the path (empty segments, `%2F`, invalid escapes, thousands of
    /// characters), resolving it and parsing its parameters answers without panicking.
    #[test]
    fn odd_paths_never_panic(path in "(/|/v2|integrations|practicehub|%2F|%C3|%|//|[ -~]{0,8}){0,400}") {
        let c = contract();
        for method in Method::ALL {
            if let RouteMatch::Found { operation, params } = c.resolve(method, &path) {
                let _ = c.operations[operation].parse_params(&params, Some(&path), &[][..]);
            }
        }
    }
}

#[test]
fn a_method_no_operation_can_have_is_405_on_a_known_path_and_404_elsewhere() {
    let c = contract();
    assert_eq!(
        c.resolve_text("BREW", "/v2/integrations"),
        RouteMatch::MethodNotAllowed {
            allow: vec![Method::Get]
        }
    );
    assert_eq!(c.resolve_text("BREW", "/v2/nowhere"), RouteMatch::NotFound);
    assert!(matches!(
        c.resolve_text("GET", "/v2/integrations"),
        RouteMatch::Found { .. }
    ));
}
