//! `revkeen-mock capture`: the flags into a [`CaptureConfig`], the fixture written, the
//! differences and notes printed.

use crate::capture::{CaptureConfig, capture};
use crate::sim::ApiKey;
use crate::spec::Contract;

use super::CaptureArgs;

/// Captures and writes the fixture; `Ok(true)` when every answer followed the contract.
pub fn run_capture(args: &CaptureArgs) -> Result<bool, String> {
    let contract = match &args.spec {
        Some(path) => Contract::load_file(path).and_then(|c| c.into_servable()),
        None => Contract::embedded(),
    }
    .map_err(|e| e.to_string())?;
    ApiKey::parse(&args.fixture_key).map_err(|e| format!("--fixture-key: {e}"))?;
    let report = capture(&CaptureConfig {
        target: args.target.clone(),
        api_key: args.api_key.clone(),
        providers: args.providers.clone(),
        logs: args.logs,
        rate: args.rate,
        live_read_only: args.live_read_only,
        keep_names: args.keep_names,
        fixture_key: args.fixture_key.clone(),
        timeout: args.timeout,
        captured_at: args.captured_at,
        contract,
    })?;
    if args.out == "-" {
        print!("{}", report.fixture);
    } else {
        std::fs::write(&args.out, &report.fixture)
            .map_err(|e| format!("cannot write {}: {e}", args.out))?;
    }
    let out = if args.out == "-" {
        "standard output"
    } else {
        &args.out
    };
    eprintln!(
        "captured {} integration(s) and {} sync log entries in {} GET requests into {out}",
        report.integrations, report.log_entries, report.requests
    );
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    if !report.differences.is_empty() {
        eprintln!(
            "{} answer(s) differ from the contract (the fixture was written all the same):",
            report.differences.len()
        );
        for d in &report.differences {
            eprintln!("  ✗ {d}");
        }
    }
    Ok(report.differences.is_empty())
}
