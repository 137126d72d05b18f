//! Thousands of random requests, valid, almost valid and garbage: the server never
//! answers 5xx, never drops a connection, never panics, and every answer conforms.

use crate::common;

use std::sync::OnceLock;

use common::{KEY, Mock, OTHER_KEY};
use proptest::prelude::*;
use serde_json::{Value, json};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn mock() -> &'static Mock {
    static MOCK: OnceLock<Mock> = OnceLock::new();
    MOCK.get_or_init(|| runtime().block_on(Mock::start()))
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("GET".to_owned()),
        4 => Just("POST".to_owned()),
        3 => Just("PUT".to_owned()),
        1 => Just("DELETE".to_owned()),
        1 => Just("PATCH".to_owned()),
        1 => Just("OPTIONS".to_owned()),
        1 => Just("HEAD".to_owned()),
        1 => "[A-Z]{1,8}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    let provider = prop_oneof![
        6 => Just("practicehub".to_owned()),
        3 => Just("wodify".to_owned()),
        3 => Just("terminal".to_owned()),
        2 => "[a-zA-Z0-9%._~-]{0,12}",
    ];
    let action = prop_oneof![
        Just(""),
        Just("/activate"),
        Just("/deactivate"),
        Just("/test"),
        Just("/sync"),
        Just("/status"),
        Just("/sync-toggle"),
        Just("/sync-interval"),
        Just("/invoice-lookback"),
        Just("/auto-send-invoices"),
        Just("/resume-sync"),
        Just("/unknown"),
        Just("//"),
    ];
    prop_oneof![
        2 => Just("/v2/integrations".to_owned()),
        1 => "(/v2/integrations)?\\?(limit|offset|x)=[-0-9a-z]{0,4}".prop_map(|q| format!("/v2/integrations{q}")),
        8 => (provider, action).prop_map(|(p, a)| format!("/v2/integrations/{p}{a}")),
        1 => "/[ -~&&[^?#]]{0,40}",
    ]
}

/// A value that is valid for some operation, or close to it, or not at all.
fn body() -> impl Strategy<Value = Option<String>> {
    let creds = prop_oneof![
        Just(json!({"apiKey": "ph_key", "baseUrl": "https://clinic.example"})),
        Just(json!({"apiKey": "fail_sync_x", "baseUrl": "https://clinic.example"})),
        Just(json!({"apiKey": "invalid_x", "baseUrl": "https://clinic.example"})),
        Just(json!({"apiKey": 3})),
        Just(json!("creds")),
    ];
    let valid: BoxedStrategy<Value> = prop_oneof![
        creds.clone().prop_map(|c| json!({"credentials": c})),
        (creds, 0u32..2000).prop_map(|(c, m)| json!({"credentials": c, "syncIntervalMinutes": m})),
        any::<bool>().prop_map(|b| json!({"enabled": b})),
        (-5i64..2000).prop_map(|m| json!({"syncIntervalMinutes": m})),
        (-5i64..4000).prop_map(|d| json!({"invoiceLookbackDays": d})),
        any::<bool>().prop_map(|b| json!({"autoSendInvoices": b})),
        any::<bool>().prop_map(|b| json!({"fullResync": b})),
        any::<bool>().prop_map(|b| json!({"deleteCredentials": b})),
        prop_oneof![
            Just("connected"),
            Just("error"),
            Just("idle"),
            Just("bogus")
        ]
        .prop_map(|s| json!({"status": s})),
        Just(json!({"unexpected": [1, {"a": null}]})),
        Just(json!(null)),
    ]
    .boxed();
    prop_oneof![
        2 => Just(None),
        6 => valid.prop_map(|v| Some(v.to_string())),
        1 => "\\PC{0,64}".prop_map(Some),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Some(String::from_utf8_lossy(&b).into_owned())),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        6 => Just(Some(KEY.to_owned())),
        2 => Just(Some(OTHER_KEY.to_owned())),
        1 => Just(None),
        1 => Just(Some("rk_live_abcdefghijklmnopqrst".to_owned())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ];
    let content_type = prop_oneof![
        6 => Just(Some("application/json".to_owned())),
        1 => Just(Some("application/json; charset=utf-8".to_owned())),
        1 => Just(Some("text/plain".to_owned())),
        1 => Just(None),
    ];
    let idempotency = prop_oneof![
        6 => Just(None),
        2 => "[a-z0-9]{1,6}".prop_map(Some),
        1 => Just(Some(String::new())),
        1 => Just(Some("k".repeat(300))),
    ];
    let version = prop_oneof![8 => Just(None), 1 => Just(Some("2026-05-01".to_owned())), 1 => Just(Some("1999-01-01".to_owned()))];
    (key, content_type, idempotency, version).prop_map(|(k, c, i, v)| {
        let mut h = Vec::new();
        h.extend(k.map(|k| ("x-api-key".to_owned(), k)));
        h.extend(c.map(|c| ("content-type".to_owned(), c)));
        h.extend(i.map(|i| ("idempotency-key".to_owned(), i)));
        h.extend(v.map(|v| ("revkeen-version".to_owned(), v)));
        h
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Whatever arrives, the answer is a non-5xx, the connection stays up, and the
    /// answer conforms to the spec (strict mode counts every breach).
    #[test]
    fn random_requests_never_break_the_server(method in method(), path in path(), headers in headers(), body in body()) {
        let mock = mock();
        let r = runtime().block_on(async {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            mock.try_send(&method, &path, &h, body.as_deref()).await
        });
        prop_assume!(r.is_some(), "not a sendable request");
        let r = r.unwrap();
        prop_assert!(r.status < 500, "{method} {path} {headers:?} {body:?} → {} {}", r.status, String::from_utf8_lossy(&r.body));
        let app = &mock.running.app;
        prop_assert_eq!(app.strict_violations(), 0, "{:#?}", app.violation_log());
    }
}

fn admin_mock() -> &'static Mock {
    static MOCK: OnceLock<Mock> = OnceLock::new();
    activated_mock(&MOCK)
}

/// The mock kept in `slot`: started once, with `KEY`'s wodify active.
fn activated_mock(slot: &'static OnceLock<Mock>) -> &'static Mock {
    slot.get_or_init(|| {
        runtime().block_on(async {
            let m = Mock::start().await;
            m.activate(KEY, "wodify", "fuzz_secret_key_0001").await;
            m
        })
    })
}

fn admin_path() -> impl Strategy<Value = String> {
    let route = prop_oneof![
        Just("/health"),
        Just("/ui"),
        Just("/tenants"),
        Just("/reset"),
        Just("/fixtures/default"),
        Just("/fixtures/nope"),
        Just("/state"),
        Just("/clock"),
        Just("/clock/advance"),
        Just("/clock/freeze"),
        Just("/clock/resume"),
        Just("/faults"),
        Just("/faults/fault-1"),
        Just("/requests"),
        Just("/requests/count"),
        Just("/coverage"),
        Just("/nowhere"),
    ];
    let query = prop_oneof![
        4 => Just(String::new()),
        1 => Just(format!("?key={KEY}")),
        1 => Just("?key=not-a-key".to_owned()),
        1 => Just("?full=true".to_owned()),
        1 => Just("?full=maybe".to_owned()),
        1 => "\\?(limit|status|since|key|path|run)=[-0-9a-zA-Z:%]{0,12}",
    ];
    prop_oneof![
        9 => (route, query).prop_map(|(r, q)| format!("/__mock{r}{q}")),
        1 => "/__mock/[ -~&&[^?#]]{0,30}",
    ]
}

fn admin_body() -> impl Strategy<Value = Option<String>> {
    let valid = prop_oneof![
        (0u64..100_000_000_000).prop_map(|s| json!({"seconds": s})),
        Just(json!({"now": "9999-06-01T00:00:00Z"})),
        Just(json!({"now": "2026-05-01T10:00:00Z"})),
        Just(json!({"now": "yesterday"})),
        Just(
            json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "provider_outage", "syncs": 2}}]})
        ),
        Just(json!({"rules": [{"match": {}, "action": {"type": "error", "status": 418}}]})),
        Just(json!({"rules": [{"match": {"key": "bad"}, "action": {"type": "provider_outage"}}]})),
        Just(json!({"version": 2, "clock": {}, "keys": [], "merchants": {}})),
        Just(
            json!({"version": 1, "clock": {"mode": "frozen", "at_ms": 5}, "keys": [], "merchants": {}, "redacted": true})
        ),
        Just(json!({"method": "GET", "key": KEY})),
        Just(json!([1, 2, 3])),
    ];
    prop_oneof![
        3 => Just(None),
        6 => valid.prop_map(|v| Some(v.to_string())),
        1 => "\\PC{0,48}".prop_map(Some),
    ]
}

fn admin_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let content_type = prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(None),
    ];
    let host: BoxedStrategy<Option<String>> = prop_oneof![
        6 => Just(None),
        1 => Just(Some("localhost:4010".to_owned())),
        2 => Just(Some("attacker.example".to_owned())),
        1 => "[a-z0-9.:\\[\\]]{0,20}".prop_map(Some),
    ]
    .boxed();
    let origin = prop_oneof![4 => Just(None), 1 => Just(Some("https://evil.example"))];
    (content_type, host, origin).prop_map(|(c, h, o)| {
        let mut out = Vec::new();
        out.extend(c.map(|c| ("content-type".to_owned(), c.to_owned())));
        out.extend(h.map(|h| ("host".to_owned(), h)));
        out.extend(o.map(|o| ("origin".to_owned(), o.to_owned())));
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Whatever reaches the admin API, the answer is a non-5xx that conforms to the
    /// admin spec; a refused request changes nothing; no other origin is ever granted.
    #[test]
    fn random_admin_requests_never_break_it_and_refusals_change_nothing(
        method in method(), path in admin_path(), headers in admin_headers(), body in admin_body()
    ) {
        let mock = admin_mock();
        let store = &mock.running.app.store;
        let (before, r, after) = runtime().block_on(async {
            let before = store.snapshot(None).await.unwrap();
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = mock.try_send(&method, &path, &h, body.as_deref()).await;
            let after = store.snapshot(None).await.unwrap();
            (before, r, after)
        });
        prop_assume!(r.is_some(), "not a sendable request");
        let r = r.unwrap();
        prop_assert!(r.status < 500, "{method} {path} {headers:?} {body:?} → {} {}", r.status, String::from_utf8_lossy(&r.body));
        if r.status >= 400 {
            prop_assert_eq!(&before, &after, "{} {} {:?} {:?} was refused ({}) but changed the state", method, path, headers, body, r.status);
        }
        prop_assert_eq!(r.header("access-control-allow-origin"), None);
        let app = &mock.running.app;
        prop_assert_eq!(app.strict_violations(), 0, "{:#?}", app.violation_log());
    }
}

/// A mock of its own (the admin fuzz runs at the same time, and changes its state).
fn self_service_mock() -> &'static Mock {
    static MOCK: OnceLock<Mock> = OnceLock::new();
    activated_mock(&MOCK)
}

fn self_service_path() -> impl Strategy<Value = String> {
    let route = prop_oneof![
        Just(""),
        Just("/clock"),
        Just("/clock/advance"),
        Just("/faults"),
        Just("/faults/fault-1"),
        Just("/reset"),
        Just("/fixtures/breaker-open"),
        Just("/fixtures/nope"),
        Just("/fixtures/partners"),
        Just("/requests"),
        Just("/coverage"),
        Just("/nowhere"),
    ];
    let query = prop_oneof![
        4 => Just(String::new()),
        1 => Just("?merchant=rk_sandbox_partner_bravo_0002".to_owned()),
        1 => Just("?run=ci-1".to_owned()),
        1 => "\\?(limit|merchant|key)=[-0-9a-zA-Z:%]{0,12}",
    ];
    prop_oneof![
        9 => (route, query).prop_map(|(r, q)| format!("/__mock/self{r}{q}")),
        1 => "/__mock/self/[ -~&&[^?#]]{0,30}",
    ]
}

fn self_service_body() -> impl Strategy<Value = Option<String>> {
    let valid = prop_oneof![
        (0u64..20_000_000).prop_map(|s| json!({"seconds": s})),
        Just(json!({"seconds": -1})),
        Just(
            json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "provider_outage", "syncs": 2}}]})
        ),
        (0u64..20_000).prop_map(|ms| json!({"rules": [{"action": {"type": "latency", "ms": ms}}]})),
        Just(
            json!({"rules": [{"match": {"key": OTHER_KEY}, "action": {"type": "error", "status": 503}}]})
        ),
        Just(json!({"rules": [{"action": {"type": "error", "status": 418}}]})),
        Just(
            json!({"rules": [{"match": {"provider": "wodify"}, "action": {"type": "provider_outage"}}]})
        ),
        Just(json!([1, 2, 3])),
    ];
    prop_oneof![
        3 => Just(None),
        6 => valid.prop_map(|v| Some(v.to_string())),
        1 => "\\PC{0,48}".prop_map(Some),
    ]
}

fn self_service_key() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        6 => Just(Some(KEY)),
        1 => Just(None),
        1 => Just(Some("rk_live_fuzz_live_key_0000001")),
        1 => Just(Some("not a key")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// Whatever reaches self-service, the answer is a non-5xx that conforms to its
    /// spec, and a refused request changes neither the state nor the fault rules.
    #[test]
    fn random_self_service_requests_never_break_it_and_refusals_change_nothing(
        method in method(), path in self_service_path(), key in self_service_key(),
        json_type in any::<bool>(), body in self_service_body()
    ) {
        let mock = self_service_mock();
        let app = &mock.running.app;
        let rules = || serde_json::to_value(app.control.faults.with(|b| b.rules().to_vec())).unwrap();
        let (before, rules_before, r, after, rules_after) = runtime().block_on(async {
            let before = app.store.snapshot(None).await.unwrap();
            let rules_before = rules();
            let mut h = Vec::new();
            h.extend(key.map(|k| ("x-api-key", k)));
            if json_type {
                h.push(("content-type", "application/json"));
            }
            let r = mock.try_send(&method, &path, &h, body.as_deref()).await;
            (before, rules_before, r, app.store.snapshot(None).await.unwrap(), rules())
        });
        prop_assume!(r.is_some(), "not a sendable request");
        let r = r.unwrap();
        prop_assert!(r.status < 500, "{method} {path} {key:?} {body:?} → {} {}", r.status, String::from_utf8_lossy(&r.body));
        if r.status >= 400 {
            prop_assert_eq!(&before, &after, "{} {} {:?} was refused ({}) but changed the state", method, path, body, r.status);
            prop_assert_eq!(rules_before, rules_after, "{} {} {:?} was refused ({}) but changed the rules", method, path, body, r.status);
        }
        prop_assert_eq!(app.strict_violations(), 0, "{:#?}", app.violation_log());
    }
}
