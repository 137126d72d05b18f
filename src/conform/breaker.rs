//! The circuit-breaker check: a provider whose syncs keep failing must be counted
//! (`providerState.consecutiveErrors` grows with each failed sync), shown (`syncHealth`
//! degraded, then paused once syncing auto-pauses) and recovered by `resume-sync`
//! (the counter reset: a trial that fails counts again from 1, one that succeeds is
//! healthy).
//!
//! It needs a provider that fails on purpose: the credentials of
//! `--failing-credentials FILE` (a sandbox's documented failing test credentials), or,
//! when the target says it is revkeen-mock (`GET /__mock/health`), the mock's own
//! `fail_first_<N>` test credentials with N one past its breaker threshold, so that
//! every count is predicted exactly and the recovery must come. Without either, and in
//! a read-only run, the check is skipped, with why.

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Failure, Response};
use super::model::{Model, Op, Outcome, PROVIDERS};
use super::requests::Planner;
use super::rules::{self, Rule};
use super::{Run, checks};

/// What the check reports when it is skipped or passes.
const WHAT: &str = "a failing provider is counted, auto-paused and resumed";
/// Failed syncs sent before giving up on seeing an auto-pause, when the threshold is
/// not known (the docs do not give it).
const MAX_FAILED_SYNCS: u32 = 20;
/// `resume-sync` trials sent before giving up on seeing a staged provider recover.
const MAX_RESUMES: u32 = 3;
/// Waits between reads of a state a sync changes: a real deployment applies a sync's
/// outcome when its job ends; the mock at once, so the first read sees it.
const POLL_WAITS_MS: [u64; 6] = [0, 50, 100, 200, 400, 800];

/// How the failing provider is staged.
struct Staging {
    /// Credentials the target accepts and whose syncs fail.
    credentials: Value,
    /// The breaker threshold, when the target is the mock and says it: every count is
    /// then predicted exactly, and the credentials recover after that many failures
    /// plus one, so the recovery must be seen.
    threshold: Option<u32>,
}

/// One read of the integration.
#[derive(Debug, Clone, Default)]
struct Seen {
    active: bool,
    errors: Option<u64>,
    health: Option<String>,
}

impl Seen {
    fn paused(&self) -> bool {
        self.health.as_deref() == Some("paused")
    }

    fn describe(&self) -> String {
        format!(
            "syncHealth {}, consecutiveErrors {}",
            self.health.as_deref().unwrap_or("absent"),
            self.errors.map_or("absent".to_owned(), |e| e.to_string())
        )
    }
}

/// Why a check ended before passing.
pub(super) enum Verdict {
    /// A rule that fails the run was broken (the message says how).
    Fail(&'static Rule, String),
    Skip(String),
    /// The run's budget is spent (the report already says so).
    Stopped,
}

impl Run<'_> {
    /// Stages a failing provider and follows its breaker; see the module's comment.
    pub(super) fn circuit_breaker(&mut self) {
        let needed = [
            Op::Activate(0, None),
            Op::Get(0),
            Op::Sync(0),
            Op::Resume(0),
            Op::Deactivate(0),
        ];
        let lacking = self.lacking(&needed, &[]);
        self.staged_check(checks::BREAKER, WHAT, lacking, |run, i, trail| {
            let staging = run.staging().map_err(Verdict::Skip)?;
            run.stage_and_follow(i, &staging, trail)
        });
    }

    /// What the spec lacks of `ops` (modelled operations) and `routes` (method and
    /// concrete path), said as a reason to skip.
    pub(super) fn lacking(&self, ops: &[Op], routes: &[(&str, String)]) -> Option<String> {
        ops.iter()
            .find(|op| !self.planner.supports(op))
            .map(|op| op.route())
            .map(|(m, p)| format!("the spec has no {m} {p}"))
            .or_else(|| {
                routes
                    .iter()
                    .find(|(m, p)| self.planner.operation(m, p).is_none())
                    .map(|(m, p)| format!("the spec has no {m} {p}"))
            })
    }

    /// Runs a check that stages a provider (one not active, else the last) and follows
    /// it with `follow`, then leaves it inactive, whatever happened. Skipped, with why,
    /// in a read-only run or when the spec `lacking` something it needs.
    pub(super) fn staged_check(
        &mut self,
        check: &str,
        what: &str,
        lacking: Option<String>,
        follow: impl FnOnce(&mut Self, usize, &mut Vec<String>) -> Result<(), Verdict>,
    ) {
        if !self.enabled(check) || self.stopped() {
            return;
        }
        if self.cfg.read_only {
            self.report
                .skip(check, what, "a read-only run sends no writes");
            return;
        }
        if let Some(why) = lacking {
            self.report.skip(check, what, &why);
            return;
        }
        let mut trail = Vec::new();
        let verdict = match self.breaker_provider() {
            Ok(i) => {
                let verdict = follow(self, i, &mut trail);
                let _ = self.breaker_step(&mut Vec::new(), &Op::Deactivate(i), None);
                verdict
            }
            Err(v) => Err(v),
        };
        match verdict {
            Ok(()) => self.report.pass(check),
            Err(Verdict::Fail(rule, message)) => self.violated(check, rule, message, trail),
            Err(Verdict::Skip(why)) => self.report.skip(check, what, &why),
            Err(Verdict::Stopped) => {}
        }
    }

    /// The failing credentials: `--failing-credentials`, else the mock's test
    /// credentials when the target says it is revkeen-mock.
    fn staging(&mut self) -> Result<Staging, String> {
        if let Some(credentials) = &self.cfg.failing_credentials {
            return Ok(Staging {
                credentials: credentials.clone(),
                threshold: None,
            });
        }
        let threshold = self
            .mock_breaker_threshold()
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t >= 1)
            .ok_or("no failing provider to stage: pass --failing-credentials FILE with credentials the target accepts and whose syncs fail (a sandbox's documented failing test credentials); against revkeen-mock (its admin API open to this run) they are staged without it")?;
        let mut credentials = self.cfg.credentials.clone();
        if !credentials.is_object() {
            credentials = json!({});
        }
        credentials["apiKey"] = json!(format!("fail_first_{}_conform_breaker", threshold + 1));
        Ok(Staging {
            credentials,
            threshold: Some(threshold),
        })
    }

    /// The provider to stage: one that is not active, so activating starts it afresh;
    /// else the last.
    pub(super) fn breaker_provider(&mut self) -> Result<usize, Verdict> {
        let list = self.key_request("GET", "/integrations", None);
        let observed = self
            .send(&list)
            .map_err(|e| no_answer("GET /integrations", e))?;
        let model = observed.json.as_ref().and_then(Model::observe);
        Ok((0..PROVIDERS.len())
            .find(|i| {
                model
                    .as_ref()
                    .is_some_and(|m| m.integrations.get(PROVIDERS[*i]).is_none_or(|k| !k.active))
            })
            .unwrap_or(PROVIDERS.len() - 1))
    }

    /// Follows provider `i` through failing syncs, the auto-pause and `resume-sync`.
    fn stage_and_follow(
        &mut self,
        i: usize,
        staging: &Staging,
        trail: &mut Vec<String>,
    ) -> Result<(), Verdict> {
        let provider = PROVIDERS[i];
        if self.read(i, trail)?.active {
            self.expect_ok(trail, &Op::Deactivate(i), None)?;
        }
        let activate = Planner::new(&self.cfg.contract, staging.credentials.clone())
            .plan(&Op::Activate(i, None));
        let r = self.breaker_step(trail, &Op::Activate(i, None), activate.body)?;
        if r.credentials_rejected() {
            return Err(Verdict::Skip(format!(
                "the target rejected the failing credentials when activating {provider}: they must pass the credential check and fail syncs"
            )));
        }
        self.ok_status(&Op::Activate(i, None), &r)?;
        let mut seen = self.read(i, trail)?;
        match seen.errors {
            None => {
                return Err(Verdict::Skip(format!(
                    "{provider} shows no providerState.consecutiveErrors (optional in the docs): the counter cannot be watched"
                )));
            }
            Some(e) => self.expect_rule(
                &rules::BREAKER_STARTS_AT_ZERO,
                e == 0,
                || format!("{provider} was just activated, yet providerState.consecutiveErrors is {e}, not 0"),
                trail,
            )?,
        }
        // The count the failures add to (0 on the mock; a deployment may carry the
        // counter over from an earlier activation).
        let start = seen.errors.unwrap_or(0);
        let limit = staging.threshold.unwrap_or(MAX_FAILED_SYNCS);
        let mut failed = 0u32;
        while !seen.paused() && failed < limit {
            let before = seen.errors.unwrap_or(0);
            let r = self.breaker_step(trail, &Op::Sync(i), None)?;
            if !self.allowed(&Op::Sync(i), Outcome::Ok).contains(&r.status) {
                // Refused: only an auto-paused integration may refuse a manual sync.
                seen = self.read(i, trail)?;
                if seen.paused() {
                    break;
                }
                return Err(Verdict::Fail(
                    &rules::BREAKER_MANUAL_SYNC,
                    format!(
                        "POST /integrations/{provider}/sync answered {} {} while {}: only a paused integration may refuse a manual sync",
                        r.status,
                        String::from_utf8_lossy(&r.body),
                        seen.describe()
                    ),
                ));
            }
            failed += 1;
            seen = self.read_until(i, trail, |s| s.errors != Some(before))?;
            let errors = seen.errors.unwrap_or(0);
            if errors <= before {
                return Err(Verdict::Fail(
                    &rules::BREAKER_COUNTS,
                    format!(
                        "a failed sync was not counted: after failing sync {failed} of {provider}, providerState.consecutiveErrors is {errors} (before it: {before})"
                    ),
                ));
            }
            if staging.threshold.is_some() && errors != start + u64::from(failed) {
                return Err(Verdict::Fail(
                    &rules::BREAKER_COUNTS,
                    format!(
                        "after {failed} consecutive failed syncs of {provider} (from {start}), providerState.consecutiveErrors is {errors}"
                    ),
                ));
            }
            let expected = match staging.threshold {
                _ if seen.health.is_none() => None,
                Some(t) if errors >= u64::from(t) => Some("paused"),
                Some(_) => Some("degraded"),
                // Without the threshold: anything but healthy while failing.
                None if seen.health.as_deref() == Some("healthy") => Some("degraded"),
                None => None,
            };
            if let Some(h) = expected {
                let describe = seen.describe();
                self.expect_rule(
                    &rules::BREAKER_HEALTH,
                    seen.health.as_deref() == Some(h),
                    || format!("after {failed} consecutive failed syncs of {provider}: expected syncHealth {h}, got {describe}"),
                    trail,
                )?;
            }
        }
        if !seen.paused() {
            return Err(match staging.threshold {
                Some(t) => Verdict::Fail(
                    &rules::BREAKER_AUTO_PAUSE,
                    format!(
                        "{t} consecutive failed syncs of {provider} (the target's breaker threshold) did not auto-pause syncing: {}",
                        seen.describe()
                    ),
                ),
                None => Verdict::Skip(format!(
                    "{failed} consecutive failed syncs of {provider} did not auto-pause syncing ({}); the docs do not give the threshold, so this run cannot tell whether the pause is late or missing",
                    seen.describe()
                )),
            });
        }
        // Paused: a manual sync is refused, or runs and fails (the docs do not say).
        let r = self.breaker_step(trail, &Op::Sync(i), None)?;
        let mut allowed = self.allowed(&Op::Sync(i), Outcome::Ok);
        allowed.extend(self.allowed(&Op::Sync(i), Outcome::BreakerOpen));
        if !allowed.contains(&r.status) {
            return Err(Verdict::Fail(
                &rules::BREAKER_MANUAL_SYNC,
                format!(
                    "POST /integrations/{provider}/sync while syncing is auto-paused: expected one of {allowed:?}, got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            ));
        }
        for _ in 0..MAX_RESUMES {
            self.expect_ok(trail, &Op::Resume(i), None)?;
            seen = self.read_until(i, trail, |s| !s.paused())?;
            let errors = seen.errors.unwrap_or(0);
            if seen.paused() || errors > 1 {
                return Err(Verdict::Fail(
                    &rules::BREAKER_RESUME_RESETS,
                    format!(
                        "after POST /integrations/{provider}/resume-sync: expected the counter reset (0, or 1 after a failed trial) and syncing no longer paused, got {}",
                        seen.describe()
                    ),
                ));
            }
            if errors == 0 {
                let describe = seen.describe();
                return self.expect_rule(
                    &rules::BREAKER_HEALTH,
                    seen.health.as_deref().is_none_or(|h| h == "healthy"),
                    || format!("after a successful resume-sync trial of {provider}: expected syncHealth healthy, got {describe}"),
                    trail,
                );
            }
        }
        match staging.threshold {
            // The staged credentials recover one failure after the threshold.
            Some(t) => Err(Verdict::Fail(
                &rules::BREAKER_TRIAL,
                format!(
                    "{provider}'s credentials stop failing after {} syncs, yet {MAX_RESUMES} resume-sync trials did not bring it back to healthy: {}",
                    t + 1,
                    seen.describe()
                ),
            )),
            // Credentials that always fail: leaving the pause is all there is to see.
            None => Ok(()),
        }
    }

    /// Sends `op` as the spec plans it (with `body` instead, when given), recording
    /// its `curl` in `trail`.
    pub(super) fn breaker_step(
        &mut self,
        trail: &mut Vec<String>,
        op: &Op,
        body: Option<Value>,
    ) -> Result<Response, Verdict> {
        let planned = self.planner.plan(op);
        self.raw_step(trail, planned.method, &planned.path, body.or(planned.body))
    }

    /// The statuses the spec allows for `outcome` of `op`.
    fn allowed(&self, op: &Op, outcome: Outcome) -> Vec<u16> {
        let (method, path) = op.route();
        self.planner.statuses(method, &path, outcome)
    }

    pub(super) fn ok_status(&self, op: &Op, r: &Response) -> Result<(), Verdict> {
        let ok = self.allowed(op, Outcome::Ok);
        if ok.contains(&r.status) {
            return Ok(());
        }
        let (method, path) = op.route();
        Err(Verdict::Fail(
            &rules::STEP_STATUS,
            format!(
                "{method} {path}: expected {ok:?}, got {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        ))
    }

    fn expect_ok(
        &mut self,
        trail: &mut Vec<String>,
        op: &Op,
        body: Option<Value>,
    ) -> Result<(), Verdict> {
        let r = self.breaker_step(trail, op, body)?;
        self.ok_status(op, &r)
    }

    /// Reads the integration once.
    fn read(&mut self, i: usize, trail: &mut Vec<String>) -> Result<Seen, Verdict> {
        let r = self.breaker_step(trail, &Op::Get(i), None)?;
        self.ok_status(&Op::Get(i), &r)?;
        let data = r
            .json
            .as_ref()
            .and_then(|j| j.get("data"))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(Seen {
            active: data.get("isActive") == Some(&json!(true)),
            errors: data
                .pointer("/providerState/consecutiveErrors")
                .and_then(Value::as_f64)
                .map(|e| e as u64),
            health: data
                .get("syncHealth")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Reads the integration until `done` holds, waiting a little longer each time;
    /// returns the last read either way.
    fn read_until(
        &mut self,
        i: usize,
        trail: &mut Vec<String>,
        done: impl Fn(&Seen) -> bool,
    ) -> Result<Seen, Verdict> {
        let mut seen = Seen::default();
        for wait in POLL_WAITS_MS {
            std::thread::sleep(Duration::from_millis(wait));
            // Only the first read of a poll goes into the repro.
            let mut scratch = Vec::new();
            let record = if wait == 0 { &mut *trail } else { &mut scratch };
            seen = self.read(i, record)?;
            if done(&seen) {
                break;
            }
        }
        Ok(seen)
    }
}

pub(super) fn no_answer(what: &str, e: Failure) -> Verdict {
    match e {
        Failure::Stopped => Verdict::Stopped,
        e => Verdict::Fail(
            &rules::ANSWER_CONTRACT,
            format!("{what}: no answer ({e:?})"),
        ),
    }
}
