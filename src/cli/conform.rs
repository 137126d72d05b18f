//! `revkeen-mock conform`: build the run from the flags, print and write the reports.

use std::io::IsTerminal;
use std::path::Path;

use serde_json::Value;

use crate::conform::{Config, Feedback, default_credentials, run};
use crate::spec::Contract;

use super::ConformArgs;

/// Runs the conformance checks; the exit status is 0 when every check passed.
pub fn run_conform(args: &ConformArgs) -> Result<bool, String> {
    let contract = match &args.spec {
        Some(path) => Contract::load_file(path).and_then(|c| c.into_servable()),
        None => Contract::embedded(),
    }
    .map_err(|e| e.to_string())?;
    let credentials = match &args.credentials {
        Some(path) => read_credentials(path)?,
        None => default_credentials(),
    };
    let failing_credentials = args
        .failing_credentials
        .as_deref()
        .map(read_credentials)
        .transpose()?;
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    println!(
        "revkeen-mock conform: seed {seed} (repeat with --seed {seed}), target {}",
        args.target
    );
    let reports: Vec<(String, String)> = args
        .report
        .iter()
        .map(|r| {
            r.split_once(':')
                .filter(|(k, _)| *k == "junit" || *k == "json")
                .map(|(k, p)| (k.to_owned(), p.to_owned()))
                .ok_or_else(|| format!("--report {r}: use junit:PATH or json:PATH"))
        })
        .collect::<Result<_, _>>()?;
    let report = run(&Config {
        target: args.target.clone(),
        api_key: args.api_key.clone(),
        second_key: args.second_key.clone(),
        contract,
        seed,
        cases: args.cases,
        max_time: args.max_time,
        checks: args.checks.clone(),
        scenarios: args.scenarios.clone(),
        read_only: args.read_only,
        allow_live: args.allow_live,
        rate: args.rate,
        timeout: args.timeout,
        max_response_size: usize::try_from(args.max_response_size).unwrap_or(usize::MAX),
        credentials,
        exact: args.exact,
        max_failures: args.max_failures,
        failing_credentials,
        feedback: if args.no_progress {
            Feedback::Quiet
        } else if std::io::stderr().is_terminal() {
            Feedback::Live
        } else {
            Feedback::Lines
        },
    })?;
    print!("{}", report.text());
    for (kind, path) in reports {
        let text = if kind == "junit" {
            report.junit()
        } else {
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        };
        std::fs::write(&path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(report.passed())
}

/// A JSON object of provider credentials, from a file.
fn read_credentials(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(format!(
            "{}: credentials must be a JSON object",
            path.display()
        )),
        Err(e) => Err(format!("{}: not JSON credentials ({e})", path.display())),
    }
}
