//! What a stranger can do to a mock (issue #35): the admin API reads no file but the
//! built-in fixtures and those of `--fixtures-dir`, by name, and no answer carries a
//! file's contents, whatever name, separator, `..`, encoding or absolute path is tried
//! (a canary file outside the folder proves it); new keys past `--max-tenants` are
//! refused while known keys keep working; idempotency keys past
//! `--max-idempotency-keys` forget the oldest. Every answer conforms to the spec (the
//! test mock checks on drop).

use crate::common;

use std::path::PathBuf;

use common::{KEY, Mock, T0};
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::{App, ServerConfig};
use revkeen_mock::sim::{Clock, SimConfig};
use revkeen_mock::store::MemoryStore;
use serde_json::json;

/// The canary's contents: found in no answer.
const CANARY: &str = "canary-7f3a9c2e-do-not-echo";

/// A folder with a fixture file (`mine.yaml`), a link out of it (`escape.yaml` to the
/// canary), a canary beside the folder and one in a subfolder; the folder's path.
fn fixtures_dir() -> (PathBuf, PathBuf) {
    let root = std::env::temp_dir().join(format!(
        "revkeen-security-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let dir = root.join("fixtures");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(root.join("canary.yaml"), CANARY).unwrap();
    std::fs::write(root.join("canary.txt"), CANARY).unwrap();
    std::fs::write(dir.join("sub").join("canary.yaml"), CANARY).unwrap();
    std::fs::write(dir.join("broken.yaml"), format!("description: [{CANARY}")).unwrap();
    std::fs::write(
        dir.join("mine.yaml"),
        "description: a fixture of the operator's own\nmerchants: []\n",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("canary.yaml"), dir.join("escape.yaml")).unwrap();
    (root, dir)
}

async fn mock_with_fixtures(dir: PathBuf) -> Mock {
    let mut control = Control::new(AdminAccess::Open, 7);
    control.fixtures_dir = Some(dir);
    Mock::start_app(App::new(
        common::contract(),
        MemoryStore::new(SimConfig::default(), Clock::frozen(T0)),
        ServerConfig {
            strict: true,
            ..ServerConfig::default()
        },
        control,
    ))
    .await
}

/// Names an attacker would try, as they go into a path segment.
fn hostile_names(root: &std::path::Path) -> Vec<String> {
    let canary = root.join("canary.yaml").display().to_string();
    let encoded = canary.replace('/', "%2F");
    let mut names = vec![
        "..%2Fcanary".to_owned(),
        "..%2Fcanary.yaml".to_owned(),
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd".to_owned(),
        "%2Fetc%2Fhostname".to_owned(),
        "%2Fetc%2Fpasswd".to_owned(),
        encoded.clone(),
        format!("{encoded}%00"),
        "%2e%2e%2fcanary".to_owned(),
        "%252e%252e%252fcanary".to_owned(),
        "..%5Ccanary".to_owned(),
        "sub%2Fcanary".to_owned(),
        "sub%2F..%2F..%2Fcanary".to_owned(),
        "escape".to_owned(),
        "broken".to_owned(),
        "canary".to_owned(),
        "canary.txt".to_owned(),
        "mine.yaml".to_owned(),
        ".".to_owned(),
        "..".to_owned(),
        "%2E%2E".to_owned(),
        "~%2F.bashrc".to_owned(),
        "x".repeat(300),
        "%C3%A9t%C3%A9".to_owned(),
        "mine%00".to_owned(),
    ];
    names.push(format!("file:%2F%2F{encoded}"));
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_admin_route_reads_a_file_outside_the_fixtures_or_echoes_one() {
    let (root, dir) = fixtures_dir();
    let mock = mock_with_fixtures(dir).await;
    let json = [("content-type", "application/json")];
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let root_line = passwd.lines().next().unwrap_or("root:x:0:0").to_owned();
    for name in hostile_names(&root) {
        let r = mock
            .send(
                "POST",
                &format!("/__mock/fixtures/{name}"),
                &json,
                Some("{}"),
            )
            .await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(!body.contains(CANARY), "{name}: {body}");
        assert!(!body.contains(&root_line), "{name}: {body}");
        assert!(
            matches!(r.status, 400 | 404),
            "{name}: a name that is not a fixture is refused, not loaded: {} {body}",
            r.status
        );
        // The other routes that take a name in the path.
        for path in [
            format!("/__mock/faults/{name}"),
            format!("/__mock/tenants/{name}/products"),
            format!("/__mock/tenants/{name}/catalogs/practicehub"),
        ] {
            for method in ["GET", "PUT", "DELETE", "POST"] {
                let r = mock.send(method, &path, &json, Some("{}")).await;
                let body = String::from_utf8_lossy(&r.body).into_owned();
                assert!(!body.contains(CANARY), "{method} {path}: {body}");
                assert!(r.status < 500, "{method} {path}: {} {body}", r.status);
            }
        }
    }
    // A broken fixture of the folder is named, never quoted.
    let r = mock
        .send("POST", "/__mock/fixtures/broken", &json, Some("{}"))
        .await;
    assert_eq!(r.status, 400);
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains("broken.yaml") && !body.contains(CANARY),
        "{body}"
    );
    // An unknown name lists the available ones, the folder's included.
    let r = mock
        .send("POST", "/__mock/fixtures/nope", &json, Some("{}"))
        .await;
    let e = r.expect_error(404, "resource_not_found");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("breaker-open") && message.contains("mine"),
        "{message}"
    );
    // A fixture of the folder loads by its name.
    let r = mock
        .send("POST", "/__mock/fixtures/mine", &json, Some("{}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_fixtures_dir_only_built_in_names_load() {
    let (root, dir) = fixtures_dir();
    let mock = Mock::start().await;
    let json = [("content-type", "application/json")];
    let path = dir
        .join("mine.yaml")
        .display()
        .to_string()
        .replace('/', "%2F");
    let r = mock
        .send(
            "POST",
            &format!("/__mock/fixtures/{path}"),
            &json,
            Some("{}"),
        )
        .await;
    r.expect_error(404, "resource_not_found");
    let r = mock
        .send("POST", "/__mock/fixtures/degraded", &json, Some("{}"))
        .await;
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_dir_all(&root);
}

fn key(n: usize) -> String {
    format!("rk_sandbox_stranger_key_{n:08}")
}

/// Past `--max-tenants` a new key is refused with `403 tenant_limit_reached`; every
/// earlier merchant, and a key the fixture declares, still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keys_past_the_tenant_limit_are_refused_and_known_keys_keep_working() {
    let mock = Mock::start_with(SimConfig {
        max_tenants: 5,
        ..SimConfig::default()
    })
    .await;
    for n in 0..5 {
        let r = mock.activate(&key(n), "wodify", "key_one").await;
        assert_eq!(r.status, 200, "{}", r.json());
    }
    for n in 5..8 {
        let r = mock.get("/v2/integrations", &key(n)).await;
        let e = r.expect_error(403, "tenant_limit_reached");
        assert!(
            e["message"].as_str().unwrap().contains("--max-tenants"),
            "{e}"
        );
    }
    for n in 0..5 {
        let r = mock.get("/v2/integrations/wodify", &key(n)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["data"]["isActive"], true);
    }
    // Concurrent new keys cannot pass the limit together.
    let many = Mock::start_with(SimConfig {
        max_tenants: 10,
        ..SimConfig::default()
    })
    .await;
    let calls = (100..160).map(|n| {
        let many = &many;
        async move { many.get("/v2/integrations", &key(n)).await.status }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 50);
    // A key a fixture declares is let in however full the sandbox is.
    let json = [("content-type", "application/json")];
    let r = many
        .send("POST", "/__mock/fixtures/partners", &json, Some("{}"))
        .await;
    assert_eq!(r.status, 200);
    let health = many.send("GET", "/__mock/health", &[], None).await.json();
    assert!(health["tenants"].as_u64().unwrap() >= 1, "{health}");
}

/// Past `--max-idempotency-keys` the oldest key is forgotten: reusing it performs a new
/// mutation; the newest still replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_past_the_limit_forget_the_oldest() {
    let mock = Mock::start_with(SimConfig {
        max_idempotency_keys: 5,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(mock.activate(KEY, "wodify", "key_one").await.status, 200);
    let put = |n: usize| {
        let mock = &mock;
        async move {
            let idem = format!("idem-{n}");
            let headers = [
                ("x-api-key", KEY),
                ("content-type", "application/json"),
                ("idempotency-key", idem.as_str()),
            ];
            let body = json!({"syncIntervalMinutes": 30}).to_string();
            mock.send(
                "PUT",
                "/v2/integrations/wodify/sync-interval",
                &headers,
                Some(&body),
            )
            .await
        }
    };
    for n in 0..7 {
        assert_eq!(put(n).await.status, 200);
    }
    assert_eq!(
        put(0).await.header("idempotency-replayed"),
        None,
        "the oldest key was forgotten"
    );
    assert_eq!(
        put(6).await.header("idempotency-replayed"),
        Some("true"),
        "the newest replays"
    );
}
