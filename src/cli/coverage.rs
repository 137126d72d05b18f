//! `revkeen-mock coverage`: what a consumer's tests met, read from a running mock's
//! self-service API with the consumer's own key (`GET /__mock/self/coverage`), printed
//! as JSON, Markdown (a CI job summary) or JUnit (one test case per requirement), and
//! checked against `--fail-under` and `--require`/`--require-state`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{CoverageArgs, CoverageFormat};
use crate::conform::client::{Client, Request, Target};

/// The most bytes of a report read (every operation × status of a large spec).
const MAX_REPORT: usize = 16 << 20;

/// One requirement, checked.
struct Checked {
    item: String,
    met: bool,
    hint: String,
}

/// What the command printed, and whether every requirement held (`Err`: it could not
/// read the report, or a requirement names nothing the report knows).
pub struct CoverageOutcome {
    /// The report in the asked format.
    pub output: String,
    /// Whether every requirement and the threshold held.
    pub passed: bool,
}

/// Reads the report and checks it.
pub fn run_coverage(args: &CoverageArgs) -> Result<CoverageOutcome, String> {
    let report = fetch(args)?;
    let checked = check(&report, args)?;
    let passed = checked.iter().all(|c| c.met);
    let output = match args.format {
        CoverageFormat::Json => {
            let mut out = report.clone();
            out["requirements"] = Value::Array(
                checked
                    .iter()
                    .map(|c| json!({ "item": c.item, "met": c.met, "hint": c.hint }))
                    .collect(),
            );
            out["passed"] = json!(passed);
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())? + "\n"
        }
        CoverageFormat::Markdown => markdown(&report, &checked),
        CoverageFormat::Junit => junit(&report, &checked),
    };
    Ok(CoverageOutcome { output, passed })
}

fn fetch(args: &CoverageArgs) -> Result<Value, String> {
    let target = Target::parse(&args.url)?;
    let mut client = Client::new(target, args.timeout, None, MAX_REPORT)?;
    let path = match &args.run {
        Some(run) => format!(
            "/__mock/self/coverage?run={}",
            form_urlencoded::byte_serialize(run.as_bytes()).collect::<String>()
        ),
        None => "/__mock/self/coverage".to_owned(),
    };
    let req = Request::new("GET", &path, Some(&args.key), None);
    let resp = client
        .send_at_origin(&req, args.timeout + Duration::from_secs(1))
        .map_err(|f| format!("{}: {f:?}", args.url))?;
    let json = resp.json.unwrap_or(Value::Null);
    if resp.status != 200 {
        let why = json["error"]["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&resp.body).into_owned(),
            str::to_owned,
        );
        return Err(format!(
            "{} answered {} to GET {path}: {why}",
            args.url, resp.status
        ));
    }
    Ok(json)
}

/// The requirements, each checked: `--fail-under`, then `--require`, then
/// `--require-state`. A requirement naming nothing the report knows is an error.
fn check(report: &Value, args: &CoverageArgs) -> Result<Vec<Checked>, String> {
    let mut out = Vec::new();
    if let Some(floor) = args.fail_under {
        let percent = report["summary"]["percent"].as_f64().unwrap_or(0.0);
        out.push(Checked {
            item: format!("documented statuses met >= {floor}%"),
            met: percent >= floor,
            hint: format!(
                "{percent}% met ({} of {}); the gaps list what is missing",
                report["summary"]["met"], report["summary"]["documented"]
            ),
        });
    }
    let operations = report["operations"].as_array().cloned().unwrap_or_default();
    let gaps = report["gaps"].as_array().cloned().unwrap_or_default();
    let gap_hint = |item: &str| {
        gaps.iter()
            .find(|g| g["item"] == item)
            .and_then(|g| g["hint"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    for required in &args.require {
        let (id, status) = required
            .rsplit_once(':')
            .and_then(|(id, s)| Some((id, s.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                format!("--require {required}: write OPERATION_ID:STATUS (listIntegrations:200)")
            })?;
        let op = operations
            .iter()
            .find(|o| o["operationId"] == id)
            .ok_or_else(|| {
                format!("--require {required}: the served spec has no operation {id}")
            })?;
        let met = op["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["status"] == status && s["met"] == true);
        out.push(Checked {
            item: format!("{id}:{status}"),
            met,
            hint: if met {
                String::new()
            } else {
                let hint = gap_hint(&format!("{id}:{status}"));
                if hint.is_empty() {
                    format!("{id} never answered {status} (the spec does not document it)")
                } else {
                    hint
                }
            },
        });
    }
    for name in &args.require_state {
        let item = ["states", "errors"]
            .iter()
            .flat_map(|k| report[*k].as_array().cloned().unwrap_or_default())
            .find(|s| s["name"] == name.as_str())
            .ok_or_else(|| {
                let known: Vec<String> = ["states", "errors"]
                    .iter()
                    .flat_map(|k| report[*k].as_array().cloned().unwrap_or_default())
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect();
                format!(
                    "--require-state {name}: no such state or error class; known: {}",
                    known.join(", ")
                )
            })?;
        let met = item["met"] == true;
        out.push(Checked {
            item: name.clone(),
            met,
            hint: if met {
                String::new()
            } else {
                item["hint"].as_str().unwrap_or("").to_owned()
            },
        });
    }
    Ok(out)
}

fn markdown(report: &Value, checked: &[Checked]) -> String {
    let s = &report["summary"];
    let mut out = format!(
        "## Coverage: run `{}` of key `{}`\n\n**{} of {} documented statuses met ({}%)** · states {} of {} · error classes {} of {}\n\n",
        report["run"].as_str().unwrap_or(""),
        report["key"].as_str().unwrap_or(""),
        s["met"],
        s["documented"],
        s["percent"],
        s["statesMet"],
        s["states"],
        s["errorsMet"],
        s["errors"],
    );
    if !checked.is_empty() {
        out.push_str("| requirement | met | how to stage it |\n|---|---|---|\n");
        for c in checked {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.item,
                if c.met { "✅" } else { "❌" },
                c.hint.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out.push_str("### Operations\n\n| operation | met | not met |\n|---|---|---|\n");
    for op in report["operations"].as_array().into_iter().flatten() {
        let statuses = op["statuses"].as_array().cloned().unwrap_or_default();
        let list = |met: bool| {
            statuses
                .iter()
                .filter(|s| s["met"] == met && (met || s["documented"] == true))
                .map(|s| {
                    let injected = s["injected"].as_u64().unwrap_or(0);
                    let undocumented = if s["documented"] == false { "*" } else { "" };
                    if injected > 0 {
                        format!("{}{undocumented} ({injected} injected)", s["status"])
                    } else {
                        format!("{}{undocumented}", s["status"])
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            op["operationId"].as_str().unwrap_or(""),
            list(true),
            list(false)
        ));
    }
    out.push_str("\n\\* not documented for the operation\n\n### States and error classes\n\n");
    for kind in ["states", "errors"] {
        for s in report[kind].as_array().into_iter().flatten() {
            let met = s["met"] == true;
            out.push_str(&format!(
                "- [{}] `{}`{}\n",
                if met { "x" } else { " " },
                s["name"].as_str().unwrap_or(""),
                if met {
                    format!(" ({})", s["count"])
                } else {
                    format!(": {}", s["hint"].as_str().unwrap_or(""))
                }
            ));
        }
    }
    out
}

fn junit(report: &Value, checked: &[Checked]) -> String {
    let failures = checked.iter().filter(|c| !c.met).count();
    let suite = format!(
        "revkeen-mock coverage (run {}, key {})",
        report["run"].as_str().unwrap_or(""),
        report["key"].as_str().unwrap_or("")
    );
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
        xml(&suite),
        checked.len()
    );
    for c in checked {
        out.push_str(&format!(
            "    <testcase classname=\"coverage\" name=\"{}\"",
            xml(&c.item)
        ));
        if c.met {
            out.push_str("/>\n");
        } else {
            out.push_str(&format!(
                ">\n      <failure message=\"not met\">{}</failure>\n    </testcase>\n",
                xml(&c.hint)
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// `text` escaped for XML attributes and text.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
