//! The sync-history check: a sync run must be logged (entries that name its job, one
//! per resource type, each readable by its id), `latestOnly` must keep one entry per
//! resource type, and the statistics must agree with the log. Against revkeen-mock
//! (`GET /__mock/health`) it also stages a provider that fails its first sync, to
//! check the retry rules: a failed entry is retried once, a second retry of the same
//! records is refused, and an unknown entry is not found.
//!
//! Everything it sends comes from the spec: an operation it needs and the spec lacks
//! skips the check (or that part of it), with why. The sources type sync logs as
//! unknown, so it reads only the fields it finds (`id`, `jobId`, `jobType`,
//! `resourceType`, `status`; `total`, `success`, `failed` in the statistics).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::breaker::{Verdict, no_answer};
use super::client::Response;
use super::model::{Op, PROVIDERS};
use super::requests::Planner;
use super::{Run, checks, rules};

/// What the check reports when it is skipped.
const WHAT: &str = "sync runs are logged, listed, counted and retried";
/// Waits between reads of the log while a run completes (the mock: at once).
const POLL_WAITS_MS: [u64; 6] = [0, 50, 100, 200, 400, 800];
/// A log entry no deployment has.
const UNKNOWN_LOG: &str = "00000000-0000-4000-8000-000000000000";

impl Run<'_> {
    /// Syncs a provider and follows its log; see the module's comment.
    pub(super) fn sync_history(&mut self) {
        let logs = "/integrations/practicehub/sync-logs";
        let routes = [
            ("GET", logs.to_owned()),
            ("GET", format!("{logs}/{UNKNOWN_LOG}")),
        ];
        let needed = [
            Op::Activate(0, None),
            Op::Get(0),
            Op::Sync(0),
            Op::Deactivate(0),
        ];
        let lacking = self.lacking(&needed, &routes);
        self.staged_check(checks::HISTORY, WHAT, lacking, |run, i, trail| {
            run.follow_history(i, trail)
        });
    }

    fn follow_history(&mut self, i: usize, trail: &mut Vec<String>) -> Result<(), Verdict> {
        let provider = PROVIDERS[i];
        let logs = format!("/integrations/{provider}/sync-logs");
        // Against the mock, a provider that fails its first sync and then recovers.
        let mock = self.mock_breaker_threshold().is_some();
        let mut credentials = self.cfg.credentials.clone();
        if !credentials.is_object() {
            credentials = json!({});
        }
        if mock {
            credentials["apiKey"] = json!("fail_first_1_conform_history");
        }
        let r = self.breaker_step(trail, &Op::Get(i), None)?;
        if r.json.as_ref().and_then(|j| j.pointer("/data/isActive")) == Some(&json!(true)) {
            self.breaker_step(trail, &Op::Deactivate(i), None)?;
        }
        let activate = Planner::new(&self.cfg.contract, credentials).plan(&Op::Activate(i, None));
        let r = self.breaker_step(trail, &Op::Activate(i, None), activate.body)?;
        self.ok_status(&Op::Activate(i, None), &r)?;
        let integration = r
            .json
            .as_ref()
            .and_then(|j| j.pointer("/data/id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let before: BTreeSet<String> = ids(&self.get_json(trail, &format!("{logs}?limit=100"))?);
        let r = self.breaker_step(trail, &Op::Sync(i), None)?;
        self.ok_status(&Op::Sync(i), &r)?;
        let job = r
            .json
            .as_ref()
            .and_then(|j| j.get("jobId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        // The run's entries: new ones, complete (neither pending nor syncing).
        let mut run = Vec::new();
        for wait in POLL_WAITS_MS {
            std::thread::sleep(Duration::from_millis(wait));
            let mut scratch = Vec::new();
            let record = if wait == 0 { &mut *trail } else { &mut scratch };
            let page = self.get_json(record, &format!("{logs}?limit=100"))?;
            run = entries(&page)
                .into_iter()
                .filter(|e| {
                    e.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| !before.contains(id))
                })
                .collect();
            let done = |e: &Value| {
                !matches!(
                    e.get("status").and_then(Value::as_str),
                    Some("pending" | "syncing")
                )
            };
            if !run.is_empty() && run.iter().all(done) {
                break;
            }
        }
        if run.is_empty() {
            return Err(Verdict::Fail(
                &rules::HISTORY_ENTRY,
                format!(
                    "POST /integrations/{provider}/sync answered {} yet GET {logs} shows no new entry",
                    r.status
                ),
            ));
        }
        let mut kinds = BTreeSet::new();
        for e in &run {
            let field = |name: &str| e.get(name).and_then(Value::as_str);
            if let (Some(j), Some(got)) = (&job, field("jobId"))
                && got != j
            {
                return Err(Verdict::Fail(
                    &rules::HISTORY_ENTRY,
                    format!(
                        "the sync answered jobId {j}, but its log entry {} names job {got}",
                        field("id").unwrap_or("?")
                    ),
                ));
            }
            if let Some(t) = field("jobType").filter(|t| *t != "manual") {
                return Err(Verdict::Fail(
                    &rules::HISTORY_ENTRY,
                    format!("a manual sync's log entry has jobType {t}, not manual"),
                ));
            }
            if let Some(kind) = field("resourceType")
                && !kinds.insert(kind.to_owned())
            {
                return Err(Verdict::Fail(
                    &rules::HISTORY_PER_RESOURCE,
                    format!("one sync run logged resource type {kind} twice"),
                ));
            }
            // Only the staged provider's outcome is known; a real one may fail or not.
            if mock && field("status") != Some("failed") {
                return Err(Verdict::Fail(
                    &rules::HISTORY_PER_RESOURCE,
                    format!(
                        "the staged provider fails its first sync, yet its entry {} is {:?}",
                        field("id").unwrap_or("?"),
                        field("status")
                    ),
                ));
            }
        }
        let first = run[0]
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let one = self.get_json(trail, &format!("{logs}/{first}"))?;
        if one.pointer("/data/id").and_then(Value::as_str) != Some(first.as_str()) {
            return Err(Verdict::Fail(
                &rules::HISTORY_ONE_ENTRY,
                format!("GET {logs}/{first} does not answer the entry the list shows: {one}"),
            ));
        }
        let latest = self.get_json(trail, &format!("{logs}?latestOnly=true&limit=100"))?;
        let mut seen = BTreeSet::new();
        for e in entries(&latest) {
            if let Some(kind) = e.get("resourceType").and_then(Value::as_str)
                && !seen.insert(kind.to_owned())
            {
                return Err(Verdict::Fail(
                    &rules::HISTORY_LATEST_ONLY,
                    format!("latestOnly=true lists resource type {kind} more than once"),
                ));
            }
        }
        if mock {
            self.retry_rules(trail, &logs, &first)?;
        }
        if let Some(id) = integration {
            self.stats_agree(trail, provider, &logs, &id)?;
        }
        Ok(())
    }

    /// A failed entry of a provider that has recovered is retried once; the same
    /// records again are refused; an unknown entry is not found.
    fn retry_rules(
        &mut self,
        trail: &mut Vec<String>,
        logs: &str,
        failed: &str,
    ) -> Result<(), Verdict> {
        let retry = format!("{logs}/{failed}/retry");
        let Some(op) = self.planner.operation("POST", &retry) else {
            return Ok(());
        };
        let refusals: Vec<u16> = op
            .statuses()
            .iter()
            .filter_map(|s| match s {
                crate::spec::StatusKey::Code(c @ 400..=499) if ![401, 403, 429].contains(c) => {
                    Some(*c)
                }
                _ => None,
            })
            .collect();
        let r = self.raw_step(trail, "POST", &retry, None)?;
        if !(200..300).contains(&r.status) {
            return Err(Verdict::Fail(
                &rules::HISTORY_RETRY,
                format!(
                    "POST {retry} of a failed entry, the provider recovered: expected 2xx, got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            ));
        }
        let r = self.raw_step(trail, "POST", &retry, None)?;
        if !refusals.contains(&r.status) || r.status == 404 {
            return Err(Verdict::Fail(
                &rules::HISTORY_RETRY_ONCE,
                format!(
                    "POST {retry} again, after a successful retry of the same records: expected a refusal ({refusals:?}, not 404), got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            ));
        }
        let unknown = format!("{logs}/{UNKNOWN_LOG}/retry");
        let r = self.raw_step(trail, "POST", &unknown, None)?;
        if refusals.contains(&404) && r.status != 404 {
            return Err(Verdict::Fail(
                &rules::HISTORY_RETRY,
                format!(
                    "POST {unknown}: expected 404, got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            ));
        }
        Ok(())
    }

    /// The statistics count what the log lists (when both show the counts).
    fn stats_agree(
        &mut self,
        trail: &mut Vec<String>,
        provider: &str,
        logs: &str,
        integration: &str,
    ) -> Result<(), Verdict> {
        let path = format!("/integrations/{provider}/sync-stats/{integration}");
        if self.planner.operation("GET", &path).is_none() {
            return Ok(());
        }
        let stats = self.get_json(trail, &path)?;
        let list = self.get_json(trail, &format!("{logs}?limit=100"))?;
        let listed = entries(&list);
        let total = list.pointer("/pagination/total").and_then(Value::as_u64);
        let Some(data) = stats.get("data") else {
            return Ok(());
        };
        // Whole log on one page: the counts can be checked one by one.
        let complete = total.is_none_or(|t| t as usize == listed.len());
        let count = |s: &str| {
            listed
                .iter()
                .filter(|e| e.get("status") == Some(&json!(s)))
                .count() as u64
        };
        let mut checks = vec![("total", total.or(complete.then_some(listed.len() as u64)))];
        if complete {
            checks.push(("success", Some(count("success"))));
            checks.push(("failed", Some(count("failed"))));
        }
        for (field, want) in checks {
            if let (Some(want), Some(got)) = (want, data.get(field).and_then(Value::as_u64))
                && want != got
            {
                return Err(Verdict::Fail(
                    &rules::HISTORY_STATS,
                    format!("GET {path} counts {field} {got}, but the log lists {want}"),
                ));
            }
        }
        Ok(())
    }

    /// The breaker threshold the target announces when it says it is revkeen-mock
    /// (`GET /__mock/health`), which lets a check stage the mock's test credentials.
    pub(super) fn mock_breaker_threshold(&mut self) -> Option<u64> {
        let left = self.cfg.max_time.saturating_sub(self.started.elapsed());
        let req = super::client::Request::new("GET", "/__mock/health", None, None);
        self.client
            .send_at_origin(&req, left)
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| r.json)
            .filter(|j| j.get("service") == Some(&json!("revkeen-mock")))
            .and_then(|h| h.pointer("/breaker/threshold").and_then(Value::as_u64))
    }

    /// Sends a request the spec may not know as a modelled operation, recording its
    /// `curl` in `trail`.
    pub(super) fn raw_step(
        &mut self,
        trail: &mut Vec<String>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Response, Verdict> {
        let req = self.key_request(method, path, body);
        trail.push(req.curl(self.client.target(), &self.cfg.api_key));
        self.send(&req)
            .map_err(|e| no_answer(&format!("{method} {path}"), e))
    }

    /// A GET that must succeed, as JSON.
    pub(super) fn get_json(
        &mut self,
        trail: &mut Vec<String>,
        path: &str,
    ) -> Result<Value, Verdict> {
        let r = self.raw_step(trail, "GET", path, None)?;
        if !(200..300).contains(&r.status) {
            return Err(Verdict::Fail(
                &rules::STEP_STATUS,
                format!(
                    "GET {path}: expected 2xx, got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            ));
        }
        Ok(r.json.unwrap_or(Value::Null))
    }
}

/// The entries of a list answer (`data`, an array; none when it is something else).
pub(super) fn entries(page: &Value) -> Vec<Value> {
    page.get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The ids of a list answer's entries.
fn ids(page: &Value) -> BTreeSet<String> {
    entries(page)
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}
