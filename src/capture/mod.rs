//! `revkeen-mock capture`: reads one merchant's integrations from a deployment (the real
//! API, a partner sandbox, another mock) and writes them as a fixture, so the merchant's
//! *state* (not a recording of answers) replays offline and then behaves like any
//! merchant of the simulator.
//!
//! It only reads: [`Reader`] sends GET and nothing else (it has no way to say another
//! method), whatever the contract says. It follows the pages of the lists, keeps to
//! `--rate`, waits as `Retry-After` asks on a 429 or 503, and checks every answer
//! against the contract (the differences are reported as conform reports them). It
//! never reads credentials (the API never shows them) and never writes the key it used;
//! the names a provider's catalog holds (package and billable item names, which may
//! name people) become deterministic fakes unless `keep_names`.
//!
//! What the fixture holds and how loading it checks that the state is one the API could
//! reach: [`crate::sim::CapturedIntegration`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::conform::client::{Client, Request, Response, Target};
use crate::sim::{CapturedIntegration, Provider, Timestamp};
use crate::spec::{Contract, Reading};

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// The deployment's base URL (`https://api.revkeen.com/v2`).
    pub target: String,
    /// The merchant's API key (read-only use; never written).
    pub api_key: String,
    /// The providers to capture (empty: every integration the merchant has).
    pub providers: Vec<Provider>,
    /// The newest sync log entries kept per integration.
    pub logs: usize,
    /// Requests per second at most (`None`: 1 for a remote target, none on loopback).
    pub rate: Option<f64>,
    /// Reading with an `rk_live_` key was asked for explicitly.
    pub live_read_only: bool,
    /// Keep the catalog's names instead of fakes.
    pub keep_names: bool,
    /// The key the fixture gives the merchant.
    pub fixture_key: String,
    /// Per request.
    pub timeout: Duration,
    /// The moment the capture is taken as (`None`: the deployment's `Date`, or the
    /// newest time its answers hold if later). A mock whose clock was moved answers
    /// with the wall clock's `Date`: give its simulated time here.
    pub captured_at: Option<Timestamp>,
    /// The contract answers are checked against.
    pub contract: Contract,
}

impl CaptureConfig {
    /// A capture of the merchant behind `api_key` at `target`, checked against
    /// `contract`, with the command line's defaults: every provider, the newest 100 log
    /// entries, the rate by the target's place, names faked, a 30 s time-out, the
    /// moment from the deployment.
    pub fn new(target: impl Into<String>, api_key: impl Into<String>, contract: Contract) -> Self {
        CaptureConfig {
            target: target.into(),
            api_key: api_key.into(),
            providers: Vec::new(),
            logs: 100,
            rate: None,
            live_read_only: false,
            keep_names: false,
            fixture_key: DEFAULT_FIXTURE_KEY.to_owned(),
            timeout: Duration::from_secs(30),
            captured_at: None,
            contract,
        }
    }
}

/// The key a captured merchant gets in the fixture unless another is given.
pub const DEFAULT_FIXTURE_KEY: &str = "rk_sandbox_captured_merchant_01";

/// What a capture did.
#[derive(Debug, Clone, Default)]
pub struct CaptureReport {
    /// The fixture, as YAML.
    pub fixture: String,
    /// GET requests sent.
    pub requests: u64,
    /// Answers that differ from the contract: `GET path → status: field: message`.
    pub differences: Vec<String>,
    /// What the replay will show differently, and why (a cut log, defaults for fields
    /// a deployment left out).
    pub notes: Vec<String>,
    /// Integrations and log entries captured.
    pub integrations: usize,
    /// Log entries captured.
    pub log_entries: usize,
}

/// How many times a request is sent again after a 429 or 503 with `Retry-After`.
const RETRIES: u32 = 5;
/// The longest `Retry-After` honoured (a longer one fails the capture).
const LONGEST_WAIT: Duration = Duration::from_secs(120);
/// The page size of the lists.
const PAGE: usize = 100;

/// A client that can only read: [`Reader::get`] is the one way it sends anything.
struct Reader {
    client: Client,
    key: String,
    contract: Contract,
    differences: Vec<String>,
    /// The newest `Date` the deployment answered with.
    date: Option<Timestamp>,
}

/// An answer that is not a 2xx, or no answer.
#[derive(Debug)]
enum Miss {
    Status(u16, String),
    Failed(String),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Status(s, body) => write!(f, "answered {s}: {body}"),
            Miss::Failed(why) => f.write_str(why),
        }
    }
}

impl Reader {
    /// GETs `path` (under the base path), waiting out `Retry-After`; checks the answer
    /// against the contract and returns its JSON when it is a 2xx.
    fn get(&mut self, path: &str) -> Result<Value, Miss> {
        let request = Request::new("GET", path, Some(&self.key), None);
        let mut tries = 0;
        let response = loop {
            let r = self
                .client
                .send(&request, Duration::from_secs(3600))
                .map_err(|e| Miss::Failed(format!("GET {path}: {e:?}")))?;
            let wait = (matches!(r.status, 429 | 503) && tries < RETRIES)
                .then(|| retry_after(&r))
                .flatten();
            match wait {
                Some(w) if w <= LONGEST_WAIT => {
                    tries += 1;
                    std::thread::sleep(w);
                }
                _ => break r,
            }
        };
        self.check(&request, path, &response);
        if let Some(date) = response.header("date").and_then(http_date) {
            self.date = self.date.max(Some(date));
        }
        if !(200..300).contains(&response.status) {
            let body = String::from_utf8_lossy(&response.body);
            return Err(Miss::Status(
                response.status,
                body.chars().take(300).collect(),
            ));
        }
        response
            .json
            .ok_or_else(|| Miss::Failed(format!("GET {path}: the answer is not JSON")))
    }

    /// Checks an answer against the contract; each difference with a `curl` line that
    /// repeats the request (the key shown as `$REVKEEN_API_KEY`), as conform gives them.
    fn check(&mut self, request: &Request, path: &str, r: &Response) {
        let found: Vec<String> = match self
            .operation(path)
            .and_then(|i| self.contract.operations.get(i))
        {
            None => vec!["the contract has no such operation".to_owned()],
            Some(op) => self
                .contract
                .response_violations(
                    Some(op),
                    r.status,
                    &r.headers[..],
                    r.json.as_ref(),
                    Reading::Promised,
                )
                .into_iter()
                .map(|v| v.to_string())
                .collect(),
        };
        if found.is_empty() {
            return;
        }
        // Written only for an answer that differs: most reads need none.
        let repro = request.curl(self.client.target(), &self.key);
        for v in found {
            self.differences.push(format!(
                "GET {path} → {}: {v}\n    repro: {repro}",
                r.status
            ));
        }
    }

    /// The contract's GET operation at `path` (its query aside), by index.
    fn operation(&self, path: &str) -> Option<usize> {
        let bare = path.split('?').next().unwrap_or(path);
        let full = format!("{}{bare}", self.contract.base_path);
        match self.contract.resolve_text("GET", &full) {
            crate::spec::RouteMatch::Found { operation, .. } => Some(operation),
            _ => None,
        }
    }

    /// A read the deployment may not serve at all: `None`, with a note, when its
    /// contract has no such operation (then it is not sent) or it answers 404, 405 or
    /// 501 (an operation it left out); other failures stay failures.
    fn served<T>(
        &mut self,
        path: &str,
        notes: &mut Vec<String>,
        read: impl FnOnce(&mut Reader) -> Result<T, Miss>,
    ) -> Result<Option<T>, Miss> {
        if self.operation(path).is_none() {
            notes.push(format!(
                "the deployment does not serve GET {path} (its contract has no such operation): not read"
            ));
            return Ok(None);
        }
        match read(self) {
            Ok(v) => Ok(Some(v)),
            Err(Miss::Status(status @ (404 | 405 | 501), _)) => {
                notes.push(format!(
                    "the deployment does not serve GET {path} ({status}): nothing of it captured"
                ));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every item of a paged list (`limit`/`offset`, `pagination.total`), at most `most`.
    fn pages(&mut self, path: &str, most: usize) -> Result<Vec<Value>, Miss> {
        let mut items: Vec<Value> = Vec::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        while items.len() < most {
            let limit = PAGE.min(most - items.len()).max(1);
            let page = self.get(&format!("{path}{sep}limit={limit}&offset={}", items.len()))?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let got = data.len();
            items.extend(data);
            let total = page.pointer("/pagination/total").and_then(Value::as_u64);
            let more = page.pointer("/pagination/hasMore").and_then(Value::as_bool);
            let done = got == 0
                || more == Some(false)
                || total.is_some_and(|t| items.len() as u64 >= t)
                || (total.is_none() && more.is_none() && got < limit);
            if done {
                break;
            }
        }
        items.truncate(most);
        Ok(items)
    }
}

/// A `Retry-After` in seconds (the HTTP-date form is not used by the API).
fn retry_after(r: &Response) -> Option<Duration> {
    let s: f64 = r.header("retry-after")?.trim().parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s))
}

/// An HTTP `Date` (`Fri, 04 Dec 2026 22:49:50 GMT`: RFC 2822's form, which jiff reads).
fn http_date(text: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text)
        .ok()
        .map(|t| Timestamp(t.as_millisecond()))
}

/// The fields of `v` named in `keep` (the others, additions a deployment may send, are
/// not the fixture's).
fn pick(v: &Value, keep: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keep {
        if let Some(x) = v.get(*k) {
            out.insert((*k).to_owned(), x.clone());
        }
    }
    Value::Object(out)
}

/// The newest time `v` holds anywhere (RFC 3339 strings), for the capture's moment.
fn newest_time(v: &Value, newest: &mut Option<Timestamp>) {
    match v {
        Value::String(s) if s.len() >= 20 && s.as_bytes()[4] == b'-' => {
            if let Ok(t) = Timestamp::parse_rfc3339(s) {
                *newest = (*newest).max(Some(t));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| newest_time(x, newest)),
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| k.as_str() != "nextRun")
            .for_each(|(_, x)| newest_time(x, newest)),
        _ => {}
    }
}

/// Deterministic stand-ins for the names a catalog holds: `Membership 2`, `Fee 1`, by
/// kind, in the order the catalog lists them.
#[derive(Default)]
struct Fakes {
    by_id: HashMap<String, String>,
    counts: HashMap<String, usize>,
}

impl Fakes {
    fn name(&mut self, id: &str, kind: &str) -> String {
        if let Some(n) = self.by_id.get(id) {
            return n.clone();
        }
        let count = self.counts.entry(kind.to_owned()).or_default();
        *count += 1;
        let mut label: String = kind.replace('_', " ");
        if let Some(first) = label.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let name = format!("{label} {count}");
        self.by_id.insert(id.to_owned(), name.clone());
        name
    }
}

fn minor(price: &Value) -> Option<u64> {
    price.as_f64().map(|p| (p * 100.0).round().max(0.0) as u64)
}

/// Captures the merchant behind `cfg.api_key`.
pub fn capture(cfg: &CaptureConfig) -> Result<CaptureReport, String> {
    if cfg.api_key.starts_with("rk_live_") && !cfg.live_read_only {
        return Err("refusing an rk_live_ key without --live-read-only: capture only reads (GET), but it reads a production merchant; pass --live-read-only to say you mean it".into());
    }
    let target = Target::parse(&cfg.target)?;
    let rate = cfg.rate.or((!target.loopback).then_some(1.0));
    let client = Client::new(target, cfg.timeout, rate, 64 << 20)?;
    let mut reader = Reader {
        client,
        key: cfg.api_key.clone(),
        contract: cfg.contract.clone(),
        differences: Vec::new(),
        date: None,
    };
    let mut notes = Vec::new();
    let listed = reader
        .pages("/integrations", 1000)
        .map_err(|e| format!("cannot list the integrations: {e}"))?;
    let mut newest = None;
    let mut integrations = Vec::new();
    let mut products: BTreeMap<String, Value> = BTreeMap::new();
    let mut fakes = Fakes::default();
    let mut log_entries = 0;
    for item in &listed {
        let Some(provider) = item["provider"]
            .as_str()
            .and_then(|p| p.parse::<Provider>().ok())
        else {
            notes.push(format!(
                "an integration of provider {} is not one the mock simulates: left out",
                item["provider"]
            ));
            continue;
        };
        if !cfg.providers.is_empty() && !cfg.providers.contains(&provider) {
            continue;
        }
        let (fixture, entries) = capture_integration(
            &mut reader,
            cfg,
            provider,
            &mut fakes,
            &mut products,
            &mut notes,
        )?;
        newest_time(&fixture, &mut newest);
        log_entries += entries;
        integrations.push(fixture);
    }
    let captured_at = match cfg.captured_at {
        Some(at) if newest.is_some_and(|n| n > at) => {
            return Err(format!(
                "--captured-at: the answers hold times up to {}, after the moment given",
                newest
                    .and_then(|n| n.rfc3339().ok())
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default()
            ));
        }
        Some(at) => at,
        None => newest
            .max(reader.date)
            .unwrap_or_else(|| Timestamp::from_system(std::time::SystemTime::now())),
    };
    let at_text = captured_at
        .rfc3339()
        .map(|t| t.as_str().to_owned())
        .map_err(|_| "the capture's time is outside the years 1970-9999".to_owned())?;
    let count = integrations.len();
    let fixture = json!({
        "description": format!(
            "Captured from {} at {at_text} by revkeen-mock capture ({count} integration(s), {log_entries} sync log entries). Credentials are never captured: each integration keeps a placeholder that behaves as a healthy provider (add `credentials` to change that).",
            cfg.target
        ),
        "capturedAt": at_text,
        "capturedFrom": cfg.target,
        "merchants": [{
            "key": cfg.fixture_key,
            "name": format!("captured from {}", cfg.target),
            "products": products.into_values().collect::<Vec<_>>(),
            "integrations": integrations,
        }],
    });
    let yaml = serde_yaml_ng::to_string(&fixture).map_err(|e| e.to_string())?;
    // The fixture must load as it will be served: the same parser and checks.
    let parsed = crate::control::fixture::parse(&yaml, "the captured fixture")
        .map_err(|e| format!("the capture does not make a valid fixture: {e}"))?;
    let mut config = crate::sim::SimConfig::default();
    if cfg.logs > config.history_limit && log_entries > 0 {
        let most = parsed
            .merchants
            .iter()
            .flat_map(|m| &m.integrations)
            .filter_map(|i| i.captured.as_ref().map(|c| c.sync_logs.len()))
            .max()
            .unwrap_or(0);
        if most > config.history_limit {
            notes.push(format!(
                "an integration holds {most} sync log entries, more than the mock keeps by default ({}): serve the fixture with --sync-log-limit {most}",
                config.history_limit
            ));
            config.history_limit = most;
        }
    }
    parsed.validate(&config)?;
    for m in &parsed.merchants {
        parsed
            .stage(m, &config, captured_at)
            .map_err(|e| format!("the captured state cannot be restored: {e}"))?;
    }
    Ok(CaptureReport {
        fixture: yaml,
        requests: reader.client.sent,
        differences: reader.differences,
        notes,
        integrations: count,
        log_entries,
    })
}

/// One integration's record, log, states, catalog and mappings, as a fixture's
/// integration; and how many log entries it holds.
fn capture_integration(
    reader: &mut Reader,
    cfg: &CaptureConfig,
    provider: Provider,
    fakes: &mut Fakes,
    products: &mut BTreeMap<String, Value>,
    notes: &mut Vec<String>,
) -> Result<(Value, usize), String> {
    let base = format!("/integrations/{provider}");
    let fail = |what: &str, e: Miss| format!("{provider}: cannot read {what}: {e}");
    let record = reader.get(&base).map_err(|e| fail("the integration", e))?;
    let i = &record["data"];
    let mut config = Map::new();
    if let Some(c) = i["configuration"].as_object() {
        for (k, v) in c {
            let known = matches!(
                k.as_str(),
                "invoiceLookbackDays" | "autoSendInvoices" | "currency"
            );
            if known || v.is_boolean() {
                config.insert(k.clone(), v.clone());
            }
        }
    }
    let logs_path = format!("{base}/sync-logs");
    let logs = reader
        .served(&logs_path, notes, |r| r.pages(&logs_path, cfg.logs))
        .map_err(|e| fail("the sync logs", e))?
        .unwrap_or_default();
    let total_logs = logs.len();
    let states_path = format!("{base}/sync-states");
    let states = reader
        .served(&states_path, notes, |r| r.get(&states_path))
        .map_err(|e| fail("the sync states", e))?
        .unwrap_or(Value::Null);
    let active = i["isActive"] == true;
    let counter = i
        .pointer("/providerState/consecutiveErrors")
        .and_then(Value::as_u64);
    // A status the versioning policy lets a deployment add ("inactive") is one the mock
    // cannot hold: the nearest it knows stands in, and a note says so.
    let known = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.parse::<crate::sim::IntegrationStatus>().is_ok())
    };
    let status = if known(&i["status"]) {
        i["status"].clone()
    } else {
        let nearest = match (active, counter) {
            (false, _) => "idle",
            (true, Some(n)) if n > 0 => "error",
            _ => "connected",
        };
        notes.push(format!(
            "{provider}: status {} is not one the mock knows: restored as {nearest}",
            i["status"]
        ));
        json!(nearest)
    };
    let mut provider_state = pick(
        &i["providerState"],
        &["consecutiveErrors", "lastErrorAt", "lastSyncAt", "mode"],
    );
    let modes = ["closed", "open", "half_open"];
    if provider_state
        .get("mode")
        .is_some_and(|m| !m.as_str().is_some_and(|m| modes.contains(&m)))
    {
        notes.push(format!(
            "{provider}: breaker mode {} is not one the mock knows: derived from the counter",
            provider_state["mode"]
        ));
        provider_state.as_object_mut().map(|o| o.remove("mode"));
    }
    let mut captured = json!({
        "id": i["id"],
        "isActive": i["isActive"],
        "syncEnabled": i["syncEnabled"],
        "status": status,
        "lastSyncAt": i["lastSyncAt"],
        "lastSyncError": i["lastSyncError"],
        "providerState": provider_state,
        "syncInterval": pick(&i["syncInterval"], &["intervalMs", "nextRun"]),
        "configuration": config,
        "createdAt": i["createdAt"],
        "updatedAt": i["updatedAt"],
        "syncLogs": logs.iter().map(|l| pick(l, &[
            "id", "jobId", "jobType", "resourceType", "status", "itemsProcessed", "fullSync",
            "startedAt", "durationMs", "error", "retryable", "retryOf", "unmappedPackages",
        ])).collect::<Vec<_>>(),
        "syncStates": states["data"].as_array().map(|a| a.iter().map(|s| pick(s, &[
            "resourceType", "lastSyncAt", "lastSyncStatus", "itemsProcessed", "lastSyncError", "cursor",
        ])).collect::<Vec<_>>()).unwrap_or_default(),
    });
    // The statistics are recomputed from the captured entries: the same unless the log
    // was cut at --logs.
    if let Some(id) = i["id"].as_str() {
        let stats_path = format!("{base}/sync-stats/{id}");
        let stats = reader
            .served(&stats_path, notes, |r| r.get(&stats_path))
            .map_err(|e| fail("the sync statistics", e))?
            .unwrap_or(Value::Null);
        if let Some(total) = stats.pointer("/data/total").and_then(Value::as_u64)
            && total > total_logs as u64
        {
            notes.push(format!(
                "{provider}: {total_logs} of {total} sync log entries captured (--logs {}): the statistics will count those",
                cfg.logs
            ));
        }
    }
    let mut fixture = json!({ "provider": provider.as_str() });
    if active {
        let catalog = capture_catalog(reader, cfg, provider, fakes, notes)?;
        let mappings_path = format!("{base}/product-mappings");
        let mappings = reader
            .served(&mappings_path, notes, |r| r.get(&mappings_path))
            .map_err(|e| fail("the product mappings", e))?
            .unwrap_or(Value::Null);
        let mut product_mappings = Vec::new();
        for m in mappings["data"].as_array().into_iter().flatten() {
            let mut mapping = pick(m, &["externalId", "internalId", "metadata"]);
            if mapping["metadata"].is_null() {
                mapping.as_object_mut().map(|o| o.remove("metadata"));
            } else if !cfg.keep_names
                && let Some(name) = mapping.pointer_mut("/metadata/name")
                && let Some(id) = m["externalId"].as_str()
                && let Some(fake) = fakes.by_id.get(id)
            {
                *name = json!(fake);
            }
            product_mappings.push(mapping);
            if let (Some(id), Some(name)) = (m["internalId"].as_str(), m["productName"].as_str()) {
                products.entry(id.to_owned()).or_insert_with(|| {
                    json!({
                        "id": id,
                        "name": name,
                        "kind": m["productKind"].as_str().unwrap_or("one_time"),
                        "amountMinor": m["productAmountMinor"].as_u64().unwrap_or(0),
                        "currency": m["productCurrency"].as_str().unwrap_or("GBP"),
                    })
                });
            }
        }
        let unmapped_path = format!("{base}/unmapped-attempts");
        let unmapped = reader
            .served(&unmapped_path, notes, |r| r.get(&unmapped_path))
            .map_err(|e| fail("the unmapped attempts", e))?
            .unwrap_or(Value::Null);
        let attempts: Vec<Value> = unmapped["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                let mut a = pick(
                    u,
                    &[
                        "externalPackageId",
                        "externalPackageName",
                        "count",
                        "lastSeenAt",
                    ],
                );
                if !cfg.keep_names
                    && let Some(fake) = u["externalPackageId"]
                        .as_str()
                        .and_then(|id| fakes.by_id.get(id))
                {
                    a["externalPackageName"] = json!(fake);
                }
                a
            })
            .collect();
        captured["unmappedAttempts"] = json!(attempts);
        if let Some(catalog) = catalog {
            fixture["catalog"] = catalog;
        }
        fixture["productMappings"] = json!(product_mappings);
    }
    // Payment mappings are not captured: no GET shows them (activation's answer does).
    fixture["captured"] = captured;
    let _: CapturedIntegration =
        serde_json::from_value(fixture["captured"].clone()).map_err(|e| {
            format!("{provider}: the deployment's answers do not make a captured integration: {e}")
        })?;
    Ok((fixture, total_logs))
}

/// The provider account's catalog (payment methods, packages, billable items), in the
/// fixture's form; names faked unless `keep_names`.
fn capture_catalog(
    reader: &mut Reader,
    cfg: &CaptureConfig,
    provider: Provider,
    fakes: &mut Fakes,
    notes: &mut Vec<String>,
) -> Result<Option<Value>, String> {
    let base = format!("/integrations/{provider}");
    let mut any = false;
    let mut read = |what: &str, notes: &mut Vec<String>| {
        let path = format!("{base}/{what}");
        let found = reader
            .served(&path, notes, |r| r.get(&path))
            .map_err(|e| format!("{provider}: cannot read the {what}: {e}"))?;
        any |= found.is_some();
        Ok::<_, String>(
            found
                .and_then(|v| v["data"].as_array().cloned())
                .unwrap_or_default(),
        )
    };
    let methods = read("payment-methods", notes)?;
    let packages = read("packages", notes)?;
    let items = read("billable-items", notes)?;
    if !any {
        return Ok(None);
    }
    let mut defaulted = Vec::new();
    let mut field = |v: &Value, k: &str, default: Value, what: &str| -> Value {
        match v.get(k) {
            Some(x) if !x.is_null() => x.clone(),
            _ => {
                if !defaulted.contains(&format!("{what}.{k}")) {
                    defaulted.push(format!("{what}.{k}"));
                }
                default
            }
        }
    };
    // The item's name, or its fake (by kind, in the catalog's order).
    let mut name = |v: &Value, kind: &Value| {
        if cfg.keep_names {
            v["name"].clone()
        } else {
            let id = v["id"].as_str().unwrap_or_default();
            json!(fakes.name(id, kind.as_str().unwrap_or("item")))
        }
    };
    let methods: Vec<Value> = methods
        .iter()
        .map(|m| {
            json!({
                "id": m["id"],
                "name": m["name"],
                "active": field(m, "active", json!(true), "payment-methods"),
                "sortOrder": field(m, "sort_order", json!(0), "payment-methods"),
            })
        })
        .collect();
    let packages: Vec<Value> = packages
        .iter()
        .map(|p| {
            let kind = field(p, "package_type", json!("service"), "packages");
            let name = name(p, &kind);
            let public_name = match p.get("public_name").filter(|v| !v.is_null()) {
                Some(public) if cfg.keep_names => public.clone(),
                Some(_) => json!(format!("{} (public)", name.as_str().unwrap_or_default())),
                None => Value::Null,
            };
            let active = match field(p, "active", json!(true), "packages") {
                Value::Number(n) => json!(n.as_u64() != Some(0)),
                other => other,
            };
            let mut out = json!({
                "id": p["id"],
                "name": name,
                "packageType": kind,
                "chargeType": field(p, "charge_type", json!("one_time"), "packages"),
                "priceMinor": minor(&field(p, "price", json!(0), "packages")).unwrap_or(0),
                "active": active,
            });
            if !public_name.is_null() {
                out["publicName"] = public_name;
            }
            if let Some(v) = p.get("visits").filter(|v| !v.is_null()) {
                out["visits"] = v.clone();
            }
            out
        })
        .collect();
    let items: Vec<Value> = items
        .iter()
        .map(|it| {
            let kind = field(it, "type", json!("service"), "billable-items");
            json!({
                "id": it["id"],
                "name": name(it, &kind),
                "itemType": kind,
                "chargeType": field(it, "charge_type", json!("one_time"), "billable-items"),
                "priceMinor": minor(&field(it, "price", json!(0), "billable-items")).unwrap_or(0),
            })
        })
        .collect();
    if !defaulted.is_empty() {
        notes.push(format!(
            "{provider}: the deployment did not send {}: the mock's defaults stand in (service, one_time, price 0, active)",
            defaulted.join(", ")
        ));
    }
    Ok(Some(
        json!({ "paymentMethods": methods, "packages": packages, "billableItems": items }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_read_as_times() {
        let t = http_date("Fri, 04 Dec 2026 22:49:50 GMT").unwrap();
        assert_eq!(t, Timestamp::parse_rfc3339("2026-12-04T22:49:50Z").unwrap());
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn fakes_are_deterministic_by_kind_and_order() {
        let mut f = Fakes::default();
        assert_eq!(f.name("a", "class_pack"), "Class pack 1");
        assert_eq!(f.name("b", "membership"), "Membership 1");
        assert_eq!(f.name("c", "class_pack"), "Class pack 2");
        assert_eq!(
            f.name("a", "class_pack"),
            "Class pack 1",
            "the same id, the same fake"
        );
    }
}
