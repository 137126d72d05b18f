//! The input checks of a run: authentication negatives, negative inputs (enumerated
//! from the schemas, then drawn from strategies derived from them), valid inputs, and
//! idempotency.

use proptest::test_runner::{
    Config as PtConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::{Value, json};

use super::client::Request;
use super::model::{Op, Outcome, PROVIDERS};
use super::requests::Planner;
use crate::spec::{Method, Operation, ParamLocation, Schema, StatusKey};

/// What a request with input the spec refuses may get: invalid, or, as the docs do not
/// say whether the state is checked first, the state's refusal (already active for an
/// activation, not active elsewhere).
fn invalid_input(path: &str) -> &'static [Outcome] {
    if path.ends_with("/activate") {
        &[Outcome::Invalid, Outcome::AlreadyActive]
    } else {
        &[Outcome::Invalid, Outcome::NotActive]
    }
}
use super::{Run, checks, negative, rules, strategy};

impl Run<'_> {
    pub(super) fn authentication(&mut self) {
        if !self.enabled(checks::AUTHENTICATION) {
            return;
        }
        let keys: [(Option<&str>, &str); 4] = [
            (None, "no key"),
            (Some(""), "an empty key"),
            (Some("not-a-revkeen-key"), "a malformed key"),
            (
                Some("rk_live_conform_wrong_environment_0"),
                "a key of the wrong environment",
            ),
        ];
        let targets = self.auth_targets();
        if targets.is_empty() {
            self.report.skip(
                checks::AUTHENTICATION,
                "requests without a valid key",
                "no operation of the document has a 401 answer",
            );
            return;
        }
        for (key, what) in keys {
            for (method, path, body) in &targets {
                let (method, path) = (method.as_str(), path);
                let req = Request::new(method, path, key, body.clone());
                let curl = req.curl(self.client.target(), &self.cfg.api_key);
                match self.send(&req) {
                    Ok(r) if r.status == 401 && r.json.as_ref().and_then(|j| j.pointer("/error/code")).is_some() => {
                        self.report.pass(checks::AUTHENTICATION)
                    }
                    Ok(r) => self.violated(checks::AUTHENTICATION, &rules::AUTH_401,
                        format!("{what} on {method} {path}: expected 401 in the error envelope, got {} {}", r.status, String::from_utf8_lossy(&r.body)),
                        vec![curl],
                    ),
                    Err(e) => self.violated(checks::AUTHENTICATION, &rules::AUTH_401, format!("{what}: no answer ({e:?})"), vec![curl]),
                }
            }
        }
    }

    /// What the authentication check sends without a valid key, from the document:
    /// its first read without path parameters, its first read with them (filled from
    /// their schemas) and its first mutation (with a body its schema accepts), each
    /// among the operations that document a 401 (a 401 is not asked of an operation
    /// whose answers do not include one). For RevKeen's document: the list, a read of
    /// `practicehub` and its activation.
    fn auth_targets(&self) -> Vec<(String, String, Option<Value>)> {
        let ops: Vec<&Operation> = self
            .cfg
            .contract
            .operations
            .iter()
            .filter(|op| {
                op.responses
                    .iter()
                    .any(|r| matches!(r.status, StatusKey::Code(401) | StatusKey::Range(4)))
            })
            .collect();
        let has_path_params = |op: &Operation| {
            op.parameters
                .iter()
                .any(|p| p.location == ParamLocation::Path)
        };
        let picks = [
            ops.iter()
                .find(|op| op.method == Method::Get && !has_path_params(op)),
            ops.iter()
                .find(|op| op.method == Method::Get && has_path_params(op)),
            ops.iter().find(|op| op.method.is_mutation()),
        ];
        picks
            .into_iter()
            .flatten()
            .filter_map(|op| {
                let path = negative::concrete_path(op, None)?;
                let body = op.json_body_schema().and_then(Schema::sample);
                Some((op.method.as_str().to_owned(), path, body))
            })
            .collect()
    }

    pub(super) fn negative_inputs(&mut self) {
        if !self.enabled(checks::NEGATIVE_INPUTS) {
            return;
        }
        let mut cases: Vec<(Request, String, &[Outcome])> = Vec::new();
        for v in negative::variants(&self.cfg.contract, !self.cfg.read_only) {
            let mut req = self.key_request(&v.method, &v.path, None);
            if let Some(name) = &v.without {
                req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            }
            if let Some(body) = v.body {
                req.headers
                    .push(("content-type".into(), "application/json".into()));
                req.body = Some(body);
            }
            // A broken path parameter names no resource: answered like an unknown
            // provider (400 or 404), or as invalid input.
            let outcomes = if v.in_path {
                &[Outcome::UnknownProvider, Outcome::Invalid]
            } else {
                invalid_input(&v.path)
            };
            cases.push((
                req,
                format!("{} {}: {}", v.method, v.path, v.what),
                outcomes,
            ));
        }
        for (req, what, outcomes) in cases {
            let curl = req.curl(self.client.target(), &self.cfg.api_key);
            let expected = self.refusals(&req.method, &req.path, outcomes);
            match self.send(&req) {
                Ok(r) if expected.contains(&r.status) => self.report.pass(checks::NEGATIVE_INPUTS),
                Ok(r) => self.violated(
                    checks::NEGATIVE_INPUTS,
                    &rules::INPUT_REFUSED,
                    format!(
                        "{what}: expected {expected:?}, got {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    ),
                    vec![curl],
                ),
                Err(e) => self.violated(
                    checks::NEGATIVE_INPUTS,
                    &rules::INPUT_REFUSED,
                    format!("{what}: no answer ({e:?})"),
                    vec![curl],
                ),
            }
        }
    }

    /// Bodies drawn from proptest strategies derived from each operation's schema:
    /// invalid ones must get a documented 4xx (`negative_inputs`), valid ones must never
    /// be refused as invalid (`valid_inputs`). A failure is shrunk to a minimal body.
    pub(super) fn generated_bodies(&mut self) {
        if self.cfg.read_only {
            return;
        }
        let ops: Vec<(String, String, crate::spec::Schema)> = self
            .cfg
            .contract
            .operations
            .iter()
            .filter_map(|op| {
                let schema = op.json_body_schema()?.clone();
                let path = op.path.replace("{provider}", PROVIDERS[0]);
                Some((op.method.as_str().to_owned(), path, schema))
            })
            .collect();
        let cases = (self.cfg.cases / 10).clamp(5, 50);
        for (n, (method, path, schema)) in ops.iter().enumerate() {
            if self.stopped() {
                return;
            }
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&self.cfg.seed.wrapping_add(n as u64).to_le_bytes());
            let config = PtConfig {
                cases,
                failure_persistence: None,
                ..PtConfig::default()
            };
            if self.enabled(checks::NEGATIVE_INPUTS) {
                let mut runner = TestRunner::new_with_rng(
                    config.clone(),
                    TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
                );
                let documented = self.refusals(method, path, invalid_input(path));
                let cell = std::cell::RefCell::new(&mut *self);
                let result =
                    runner.run(&strategy::invalid(schema, schema.json()), |(body, what)| {
                        let mut run = cell.borrow_mut();
                        let req = run.key_request(method, path, Some(body));
                        match run.send(&req) {
                            Ok(r) if documented.contains(&r.status) => {
                                run.report.pass(checks::NEGATIVE_INPUTS);
                                Ok(())
                            }
                            Ok(r) => Err(TestCaseError::fail(format!(
                                "{method} {path} with {what}: expected {documented:?}, got {}",
                                r.status
                            ))),
                            Err(e) => Err(TestCaseError::fail(format!(
                                "{method} {path} with {what}: no answer ({e:?})"
                            ))),
                        }
                    });
                if let Err(TestError::Fail(reason, (body, _))) = result {
                    let req = self.key_request(method, path, Some(body));
                    let curl = req.curl(self.client.target(), &self.cfg.api_key);
                    self.violated(
                        checks::NEGATIVE_INPUTS,
                        &rules::INPUT_REFUSED,
                        format!("minimal failing body: {reason}"),
                        vec![curl],
                    );
                }
            }
            if self.enabled(checks::VALID_INPUTS) {
                let mut runner = TestRunner::new_with_rng(
                    config,
                    TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
                );
                let cell = std::cell::RefCell::new(&mut *self);
                let result = runner.run(&strategy::valid(schema, schema.json()), |body| {
                    let mut run = cell.borrow_mut();
                    let req = run.key_request(method, path, Some(body));
                    let r = run
                        .send(&req)
                        .map_err(|e| TestCaseError::fail(format!("no answer ({e:?})")))?;
                    let code = r
                        .json
                        .as_ref()
                        .and_then(|j| j.pointer("/error/code"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if r.status == 400 && matches!(code, "validation_error" | "invalid_json") {
                        return Err(TestCaseError::fail(format!(
                            "{method} {path}: a body its schema accepts was refused as invalid: {}",
                            String::from_utf8_lossy(&r.body)
                        )));
                    }
                    run.report.pass(checks::VALID_INPUTS);
                    Ok(())
                });
                if let Err(TestError::Fail(reason, body)) = result {
                    let req = self.key_request(method, path, Some(body));
                    let curl = req.curl(self.client.target(), &self.cfg.api_key);
                    self.violated(
                        checks::VALID_INPUTS,
                        &rules::INPUT_ACCEPTED,
                        format!("minimal failing body: {reason}"),
                        vec![curl],
                    );
                }
            }
        }
    }

    /// The statuses the spec allows for a refusal with any of `outcomes`. An internal
    /// operation (`x-internal`) needs a scope the run's key may lack, so its refusal
    /// may be that.
    fn refusals(&self, method: &str, path: &str, outcomes: &[Outcome]) -> Vec<u16> {
        let internal = self
            .planner
            .operation(method, path)
            .is_some_and(|op| op.internal)
            .then_some(Outcome::Forbidden);
        outcomes
            .iter()
            .copied()
            .chain(internal)
            .flat_map(|o| self.planner.statuses(method, path, o))
            .collect()
    }

    pub(super) fn idempotency(&mut self) {
        if !self.enabled(checks::IDEMPOTENCY) || self.cfg.read_only {
            return;
        }
        let key = format!("conform-{}-{}", self.cfg.seed, self.client.sent);
        let test = self.planner.plan(&Op::Test(1));
        let req = self
            .key_request("POST", &test.path, test.body)
            .header("idempotency-key", &key);
        let curl = req.curl(self.client.target(), &self.cfg.api_key);
        let (Ok(first), Ok(second)) = (self.send(&req), self.send(&req)) else {
            self.violated(
                checks::IDEMPOTENCY,
                &rules::IDEMPOTENT_REPLAY,
                "no answer to a replay".into(),
                vec![curl],
            );
            return;
        };
        if first.status == second.status
            && first.body == second.body
            && second.header("idempotency-replayed") == Some("true")
        {
            self.report.pass(checks::IDEMPOTENCY);
        } else {
            self.violated(checks::IDEMPOTENCY, &rules::IDEMPOTENT_REPLAY,
                format!(
                    "a replay must return the stored answer with Idempotency-Replayed: true; got {} then {} (replayed: {:?})",
                    first.status,
                    second.status,
                    second.header("idempotency-replayed")
                ),
                vec![curl.clone(), curl.clone()],
            );
        }
        let mut other_credentials = self.cfg.credentials.clone();
        other_credentials["apiKey"] = json!("conform_other_key");
        let other = Planner::new(&self.cfg.contract, other_credentials).plan(&Op::Test(1));
        let req2 = self
            .key_request("POST", &other.path, other.body)
            .header("idempotency-key", &key);
        let curl2 = req2.curl(self.client.target(), &self.cfg.api_key);
        match self.send(&req2) {
            Ok(r) if r.status == 409 => self.report.pass(checks::IDEMPOTENCY),
            Ok(r) => self.violated(
                checks::IDEMPOTENCY,
                &rules::IDEMPOTENT_REPLAY,
                format!(
                    "reusing a key with another body must be 409, got {}",
                    r.status
                ),
                vec![curl, curl2],
            ),
            Err(e) => self.violated(
                checks::IDEMPOTENCY,
                &rules::IDEMPOTENT_REPLAY,
                format!("no answer ({e:?})"),
                vec![curl, curl2],
            ),
        }
    }
}
