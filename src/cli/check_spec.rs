//! `revkeen-mock check-spec`: load a document, list what it holds and every problem.

use std::fmt::Write as _;
use std::path::Path;

use crate::spec::{Compiled, Contract, SpecError};

/// What `check-spec` found, as text and an exit status.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The report for standard output (or standard error when the file is unusable).
    pub report: String,
    /// 0 clean, 1 problems found, 2 the file cannot be read or parsed.
    pub exit_code: u8,
}

/// Checks the document at `path`, or the embedded one.
pub fn check_spec(path: Option<&Path>) -> CheckOutcome {
    let loaded = match path {
        Some(p) => Contract::load_file(p),
        None => Contract::load_embedded(),
    };
    match loaded {
        Ok(compiled) => report(&compiled),
        Err(e) => CheckOutcome {
            report: format!("error: {e}\n{}", hint(&e)),
            exit_code: 2,
        },
    }
}

fn hint(e: &SpecError) -> &'static str {
    match e {
        SpecError::Read { .. } => {
            "Check the path; without one, check-spec checks the embedded spec.\n"
        }
        SpecError::Syntax { .. } => {
            "Fix the syntax at the line shown, then run check-spec again.\n"
        }
        SpecError::Version { .. } => "",
        SpecError::Structure { .. } => {
            "The document is not a valid OpenAPI 3.0 or 3.1 structure at the place shown.\n"
        }
        SpecError::Unusable { .. } => "",
    }
}

fn report(compiled: &Compiled) -> CheckOutcome {
    let c = &compiled.contract;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{}: {} {} (OpenAPI {})",
        c.source, c.title, c.version, c.openapi
    );
    let _ = writeln!(
        out,
        "base path: {}",
        if c.base_path.is_empty() {
            "/"
        } else {
            &c.base_path
        }
    );
    let _ = writeln!(out, "\n{} operations:", c.operations.len());
    let path_width = c.operations.iter().map(|o| o.path.len()).max().unwrap_or(0);
    let id_width = c.operations.iter().map(|o| o.id.len()).max().unwrap_or(0);
    for op in &c.operations {
        let statuses: Vec<String> = op.statuses().iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  {:<6} {:<path_width$}  {:<id_width$}  {}{}",
            op.method.as_str(),
            op.path,
            op.id,
            statuses.join(" "),
            if op.internal { "  (internal)" } else { "" },
        );
    }
    if !c.webhooks.is_empty() {
        let _ = writeln!(
            out,
            "\n{} webhook operations (requests the API sends; nothing is served for them):",
            c.webhooks.len()
        );
        for w in &c.webhooks {
            let _ = writeln!(
                out,
                "  {:<6} {}  {}",
                w.method.as_str(),
                w.name,
                w.id.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} schemas: {}",
        c.schema_names.len(),
        c.schema_names.join(", ")
    );
    if compiled.problems.is_empty() {
        let _ = writeln!(out, "\nno problems found");
        CheckOutcome {
            report: out,
            exit_code: 0,
        }
    } else {
        let _ = writeln!(out, "\n{} problem(s):", compiled.problems.len());
        for p in &compiled.problems {
            let _ = writeln!(out, "  {p}");
        }
        CheckOutcome {
            report: out,
            exit_code: 1,
        }
    }
}
