//! The stateful exploration: random operation sequences across providers (proptest,
//! seeded), each compared step by step with the reference model ([`model`]), and a
//! failing one shrunk to a minimal sequence printed as numbered `curl` commands.

use proptest::prelude::*;
use proptest::test_runner::{
    Config as PtConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::Value;

use super::client::Request;
use super::model::{self, Model, Op, PROVIDERS};
use super::{Run, checks, requests, rules};

impl Run<'_> {
    /// Runs the configured number of sequences; a failure is shrunk and reported.
    pub(super) fn stateful(&mut self) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.cfg.seed.to_le_bytes());
        let mut runner = TestRunner::new_with_rng(
            PtConfig {
                cases: self.cfg.cases,
                failure_persistence: None,
                ..PtConfig::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        let Some(ops) = op_strategy(&self.planner, self.cfg.read_only) else {
            self.report.skip(
                checks::STATEFUL,
                "the stateful sequences",
                "the document has none of the integration operations the reference model knows (or, read-only, none that only reads)",
            );
            return;
        };
        let strategy = proptest::collection::vec(ops, 1..16);
        let cell = std::cell::RefCell::new(self);
        let result = runner.run(&strategy, |ops| {
            let mut run = cell.borrow_mut();
            if run.stopped() {
                return Ok(());
            }
            match run.sequence(&ops) {
                Ok(()) => {
                    run.report.pass(checks::STATEFUL);
                    Ok(())
                }
                Err(e) => Err(TestCaseError::fail(e)),
            }
        });
        if let Err(TestError::Fail(reason, minimal)) = result {
            let run = cell.into_inner();
            let repro = run.repro(&minimal);
            run.report.fail(
                checks::STATEFUL,
                format!(
                    "minimal failing sequence of {} steps: {reason}",
                    minimal.len()
                ),
                repro,
            );
        }
    }

    /// Runs one sequence against the target and the model; `Err` describes the first
    /// disagreement.
    fn sequence(&mut self, ops: &[Op]) -> Result<(), String> {
        let list = self.key_request("GET", "/integrations", None);
        let observed = self
            .send(&list)
            .map_err(|e| format!("GET /integrations: no answer ({e:?})"))?;
        let mut model = observed
            .json
            .as_ref()
            .and_then(Model::observe)
            .ok_or("GET /integrations did not return a list")?;
        let second = match self.second_key.clone() {
            Some(k) => {
                let r = self
                    .send(&Request::new("GET", "/integrations", Some(&k), None))
                    .map_err(|e| format!("{e:?}"))?;
                r.json
            }
            None => None,
        };
        let default_interval = self.planner.default_interval_ms();
        for (n, op) in ops.iter().enumerate() {
            let planned = self.planner.plan(op);
            let before = model.clone();
            let outcomes = model.apply(&planned.sent, planned.valid, default_interval);
            let (method, path) = (planned.method, planned.path.clone());
            let expected: Vec<u16> = outcomes
                .iter()
                .flat_map(|o| self.planner.statuses(method, &path, *o))
                .collect();
            let req = self.key_request(method, &path, planned.body.clone());
            let r = self
                .send(&req)
                .map_err(|e| format!("step {}: {method} {path}: no answer ({e:?})", n + 1))?;
            // A real provider may reject the credentials: a documented alternative.
            if matches!(op, Op::Activate(..))
                && outcomes == [model::Outcome::Ok]
                && r.credentials_rejected()
            {
                model = before;
                continue;
            }
            if !expected.contains(&r.status) {
                let classes: Vec<&str> = outcomes.iter().map(|o| o.name()).collect();
                return Err(format!(
                    "[{}] step {}: {method} {path}: expected {} {expected:?}, got {} {}",
                    rules::MODEL_STATUS.id,
                    n + 1,
                    classes.join(" or "),
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            if !(200..300).contains(&r.status) {
                // Refused: whichever refusal it was, nothing changed.
                model = before;
                continue;
            }
            let json = r.json.clone().unwrap_or(Value::Null);
            let diffs = match op {
                Op::List => model.compare_list(&json),
                Op::Page(offset, limit) => model.compare_page(*offset, *limit, &json),
                Op::Get(i) => {
                    model.compare_one(PROVIDERS[*i], json.get("data").unwrap_or(&Value::Null))
                }
                Op::Activate(i, _) => {
                    model.compare_one(PROVIDERS[*i], json.get("data").unwrap_or(&Value::Null))
                }
                _ => Vec::new(),
            };
            self.weigh(
                diffs,
                &format!("step {}: {method} {path}", n + 1),
                &ops[..=n],
            )?;
        }
        let end = self
            .send(&list)
            .map_err(|e| format!("final GET /integrations: {e:?}"))?;
        let diffs = model.compare_list(&end.json.unwrap_or(Value::Null));
        self.weigh(diffs, "final state", ops)?;
        if let (Some(k), Some(before)) = (self.second_key.clone(), second) {
            let after = self
                .send(&Request::new("GET", "/integrations", Some(&k), None))
                .map_err(|e| format!("{e:?}"))?;
            if after.json.as_ref() != Some(&before) {
                return Err(format!(
                    "[{}] isolation: the second key's integrations changed while only the first key was used",
                    rules::MODEL_ISOLATION.id
                ));
            }
        }
        Ok(())
    }

    /// The first difference that fails the run, as the sequence's error; the others
    /// (rules that rest on the mock's choices) are reported as differences from the
    /// mock, with the sequence that shows them, and the sequence goes on.
    fn weigh(&mut self, diffs: Vec<model::Difference>, at: &str, ops: &[Op]) -> Result<(), String> {
        for (rule, message) in diffs {
            if rule.source.fails(self.cfg.exact) {
                return Err(format!("[{}] {at}: {message}", rule.id));
            }
            let repro = self.repro(ops);
            self.violated(checks::STATEFUL, rule, format!("{at}: {message}"), repro);
        }
        Ok(())
    }

    fn repro(&self, ops: &[Op]) -> Vec<String> {
        let mut out = vec![
            Request::new("GET", "/integrations", Some(&self.cfg.api_key), None)
                .curl(self.client.target(), &self.cfg.api_key),
        ];
        for op in ops {
            let p = self.planner.plan(op);
            out.push(
                Request::new(p.method, &p.path, Some(&self.cfg.api_key), p.body)
                    .curl(self.client.target(), &self.cfg.api_key),
            );
        }
        out
    }
}

/// Random operations, with values drawn around the bounds the spec gives, and only
/// the operations the spec has (a spec may describe fewer).
fn op_strategy(planner: &requests::Planner<'_>, read_only: bool) -> Option<BoxedStrategy<Op>> {
    let p = || 0usize..3;
    let (ilo, ihi) = planner.interval_bounds();
    let (llo, lhi) = planner.lookback_bounds();
    // An activation's interval is laid over only where the spec accepts it; drawn
    // from its range, kept short enough that scheduled syncs stay frequent.
    let activation =
        u32::try_from(ilo.max(1)).unwrap_or(1)..=u32::try_from(ihi.min(ilo + 115)).unwrap_or(120);
    // Each operation's weight, whether it only reads, and its strategy: one arm per
    // operation (exhaustive), for each of `Op::EXAMPLES`.
    let strategy = |example: &Op| -> (u32, bool, BoxedStrategy<Op>) {
        match example {
            Op::List => (1, true, Just(Op::List).boxed()),
            Op::Get(_) => (1, true, p().prop_map(Op::Get).boxed()),
            Op::Page(..) => (
                1,
                true,
                (0usize..4, 1usize..3)
                    .prop_map(|(o, l)| Op::Page(o, l))
                    .boxed(),
            ),
            Op::Activate(..) => (
                3,
                false,
                (p(), proptest::option::of(activation.clone()))
                    .prop_map(|(i, m)| Op::Activate(i, m))
                    .boxed(),
            ),
            Op::Deactivate(_) => (2, false, p().prop_map(Op::Deactivate).boxed()),
            Op::Sync(_) => (1, false, p().prop_map(Op::Sync).boxed()),
            Op::Toggle(..) => (
                1,
                false,
                (p(), any::<bool>())
                    .prop_map(|(i, b)| Op::Toggle(i, b))
                    .boxed(),
            ),
            Op::Interval(..) => (
                1,
                false,
                (
                    p(),
                    prop_oneof![3 => ilo..=ihi, 1 => (ilo - 3)..ilo, 1 => (ihi + 1)..(ihi + 500)],
                )
                    .prop_map(|(i, m)| Op::Interval(i, m))
                    .boxed(),
            ),
            Op::Lookback(..) => (
                1,
                false,
                (p(), prop_oneof![3 => llo..=lhi, 1 => (llo - 5)..llo])
                    .prop_map(|(i, d)| Op::Lookback(i, d))
                    .boxed(),
            ),
            Op::AutoSend(..) => (
                1,
                false,
                (p(), any::<bool>())
                    .prop_map(|(i, b)| Op::AutoSend(i, b))
                    .boxed(),
            ),
            Op::Resume(_) => (1, false, p().prop_map(Op::Resume).boxed()),
            Op::Test(_) => (1, false, p().prop_map(Op::Test).boxed()),
        }
    };
    let candidates = Op::EXAMPLES.map(|example| {
        let (weight, read, s) = strategy(&example);
        (weight, example, read, s)
    });
    let chosen: Vec<(u32, BoxedStrategy<Op>)> = candidates
        .into_iter()
        .filter(|(_, example, read, _)| (*read || !read_only) && planner.supports(example))
        .map(|(w, _, _, s)| (w, s))
        .collect();
    (!chosen.is_empty()).then(|| proptest::strategy::Union::new_weighted(chosen).boxed())
}
