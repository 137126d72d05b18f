//! The run's results: a summary table, failures with their minimal repro, and JSON and
//! JUnit XML reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::rules::{Rule, Source};

/// One failure, with its repro.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The check that failed.
    pub check: String,
    /// What was expected and what came instead.
    pub message: String,
    /// Numbered `curl` commands that reproduce it.
    pub repro: Vec<String>,
}

/// Where the target differs from the mock on a rule that rests on the mock's choice
/// (what the docs leave open): a note, not a failure, unless the run is `--exact`.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The rule's id (`docs/conformance.md`).
    pub rule: String,
    /// The check that reports it.
    pub check: String,
    /// What the mock chose.
    pub mock_choice: String,
    /// What the target did instead.
    pub message: String,
    /// The exchange that shows it, as numbered `curl` commands.
    pub repro: Vec<String>,
}

/// Counts per check, and the failures.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The seed, so the run can be repeated.
    pub seed: u64,
    /// The target.
    pub target: String,
    /// Check → (passed, failed).
    pub checks: BTreeMap<String, (u64, u64)>,
    /// Every failure (at most a few per check are kept).
    pub failures: Vec<Failure>,
    /// What answers held beyond what the exact reading knows (unknown fields, enum
    /// values, error codes), with how often each was seen: allowed by RevKeen's
    /// versioning policy, so warnings, not failures (`--exact` makes them failures).
    pub forward_compatible: BTreeMap<String, u64>,
    /// What could not run on this target, and why (a scenario the spec cannot
    /// express, a check the target cannot support).
    pub skipped: Vec<Skip>,
    /// Where the target differs from the mock's choices (the first few of each rule).
    pub differs_from_the_mock: Vec<Difference>,
    /// Rule id → how often it was seen to differ.
    pub difference_counts: BTreeMap<String, u64>,
    /// Why the run stopped before its end (`--max-time`, `--max-failures`), if it did.
    pub stopped: Option<String>,
    /// Requests sent.
    pub requests: u64,
    /// Seconds the run took.
    pub seconds: f64,
}

/// Something that could not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skip {
    /// The check.
    pub check: String,
    /// What was skipped (a scenario's name, a part of a check).
    pub what: String,
    /// Why.
    pub why: String,
}

/// How many failures of one check are kept in full.
const KEPT_PER_CHECK: usize = 5;

impl Report {
    /// Counts a pass.
    pub fn pass(&mut self, check: &str) {
        self.checks.entry(check.to_owned()).or_default().0 += 1;
    }

    /// Records something that could not run on this target.
    pub fn skip(&mut self, check: &str, what: &str, why: &str) {
        self.skipped.push(Skip {
            check: check.to_owned(),
            what: what.to_owned(),
            why: why.to_owned(),
        });
    }

    /// How many failures were counted.
    pub fn failure_count(&self) -> u64 {
        self.checks.values().map(|(_, f)| f).sum()
    }

    /// Counts a failure and keeps it (the first few of each check). Once the run has
    /// stopped, answers cut short by the stop are not failures of the target.
    pub fn fail(&mut self, check: &str, message: String, repro: Vec<String>) {
        if self.stopped.is_some() {
            return;
        }
        let entry = self.checks.entry(check.to_owned()).or_default();
        entry.1 += 1;
        if entry.1 as usize <= KEPT_PER_CHECK {
            self.failures.push(Failure {
                check: check.to_owned(),
                message,
                repro,
            });
        }
    }

    /// Counts a violation of `rule`: a failure of its check, or (a rule that rests on
    /// the mock's choice, outside `--exact`) a difference from the mock.
    pub fn violated(
        &mut self,
        check: &str,
        rule: &Rule,
        exact: bool,
        message: String,
        repro: Vec<String>,
    ) {
        if rule.source.fails(exact) {
            self.fail(check, format!("[{}] {message}", rule.id), repro);
            return;
        }
        if self.stopped.is_some() {
            return;
        }
        let n = self
            .difference_counts
            .entry(rule.id.to_owned())
            .or_default();
        *n += 1;
        if *n as usize <= KEPT_PER_CHECK {
            let Source::Mock(choice) = rule.source else {
                return;
            };
            self.differs_from_the_mock.push(Difference {
                rule: rule.id.to_owned(),
                check: check.to_owned(),
                mock_choice: choice.to_owned(),
                message,
                repro,
            });
        }
    }

    /// The differences from the mock, as lines (console and JUnit).
    fn difference_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.differs_from_the_mock {
            let seen = self.difference_counts.get(&d.rule).copied().unwrap_or(1);
            out.push(format!(
                "differs from the mock [{}] ({seen}x): {}
  the mock's choice: {}",
                d.rule, d.message, d.mock_choice
            ));
            for (n, step) in d.repro.iter().enumerate() {
                out.push(format!("  {}. {step}", n + 1));
            }
        }
        out
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.values().all(|(_, failed)| *failed == 0)
    }

    /// The summary table and every kept failure, for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n{:<24} {:>8} {:>8}", "check", "passed", "failed");
        for (check, (p, f)) in &self.checks {
            let _ = writeln!(out, "{check:<24} {p:>8} {f:>8}");
        }
        for s in &self.skipped {
            let _ = writeln!(out, "skipped [{}] {}: {}", s.check, s.what, s.why);
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(out, "stopped early: {why}");
        }
        if !self.forward_compatible.is_empty() {
            let _ = writeln!(
                out,
                "\nforward_compatible (warnings: additions the versioning policy allows; --exact fails on them):"
            );
            for (what, n) in &self.forward_compatible {
                let _ = writeln!(out, "  {what} ({n}x)");
            }
        }
        if !self.differs_from_the_mock.is_empty() {
            let _ = writeln!(
                out,
                "\ndiffers from the mock (choices the docs leave open, not failures; --exact fails on them):"
            );
            for line in self.difference_lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        for (i, f) in self.failures.iter().enumerate() {
            let _ = writeln!(out, "\nfailure {} [{}]: {}", i + 1, f.check, f.message);
            for (n, step) in f.repro.iter().enumerate() {
                let _ = writeln!(out, "  {}. {step}", n + 1);
            }
        }
        let _ = writeln!(
            out,
            "\n{} requests in {:.1} s; seed {} (repeat with --seed {}); {}",
            self.requests,
            self.seconds,
            self.seed,
            self.seed,
            if self.passed() {
                "every check passed"
            } else {
                "FAILED"
            }
        );
        out
    }

    /// JUnit XML: one test case per check.
    pub fn junit(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let failures: u64 = self.checks.values().map(|(_, f)| u64::from(*f > 0)).sum();
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"revkeen-mock conform\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
            self.checks.len(),
            self.seconds
        );
        for (check, (p, f)) in &self.checks {
            let _ = write!(
                out,
                "  <testcase classname=\"conform\" name=\"{}\">",
                esc(check)
            );
            if *f > 0 {
                let detail: Vec<String> = self
                    .failures
                    .iter()
                    .filter(|x| &x.check == check)
                    .map(|x| format!("{}\n{}", x.message, x.repro.join("\n")))
                    .collect();
                let _ = write!(
                    out,
                    "<failure message=\"{f} of {} failed\">{}</failure>",
                    p + f,
                    esc(&detail.join("\n\n"))
                );
            }
            out.push_str("</testcase>\n");
        }
        for s in &self.skipped {
            let _ = writeln!(
                out,
                "  <testcase classname=\"conform.{}\" name=\"{}\"><skipped message=\"{}\"/></testcase>",
                esc(&s.check),
                esc(&s.what),
                esc(&s.why)
            );
        }
        let mut lines: Vec<String> = self
            .forward_compatible
            .iter()
            .map(|(what, n)| format!("forward_compatible: {what} ({n}x)"))
            .collect();
        lines.extend(self.difference_lines());
        if !lines.is_empty() {
            let _ = writeln!(out, "  <system-out>{}</system-out>", esc(&lines.join("\n")));
        }
        out.push_str("</testsuite>\n");
        out
    }
}
