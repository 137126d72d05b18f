//! Scenarios: readable, named sequences of documented journeys with expected outcomes
//! (`conformance/*.yaml`), run before the random exploration.
//!
//! A step says what the docs say it gets as an *outcome* (`success`, `conflict`,
//! `not_found`, ...), which the runner resolves against the statuses the spec it was
//! given documents for the operation; an explicit `status` list narrows it (or stands
//! alone, intersected with the documented statuses). `expect` holds values the spec or
//! the docs fix; `mock_expect` values the mock chose where the docs are silent, reported
//! as differences from the mock (failures under `--exact`).

use serde::Deserialize;
use serde_json::Value;

/// The scenarios shipped in `conformance/`, embedded.
pub const BUILT_IN: [(&str, &str); 4] = [
    (
        "lifecycle",
        include_str!("../../conformance/lifecycle.yaml"),
    ),
    ("errors", include_str!("../../conformance/errors.yaml")),
    (
        "sync-history",
        include_str!("../../conformance/sync-history.yaml"),
    ),
    ("mappings", include_str!("../../conformance/mappings.yaml")),
];

/// One scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One request and what the docs say it gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step shows.
    pub name: String,
    /// `GET /integrations/wodify` (method and path under the base).
    pub request: String,
    /// The body, if any.
    pub body: Option<Value>,
    /// Which key: `primary` (default), `none`, or a literal key.
    #[serde(default = "primary")]
    pub key: String,
    /// The outcomes the docs allow (any of them), resolved against the spec.
    #[serde(default)]
    pub outcome: Outcomes,
    /// Explicit statuses (any of them): they narrow `outcome`, or stand alone.
    #[serde(default)]
    pub status: Vec<u16>,
    /// Values at JSON pointers the answer must hold, as the spec or the docs fix them.
    #[serde(default)]
    pub expect: std::collections::BTreeMap<String, Value>,
    /// Values the mock chose where the docs are silent: a difference, not a failure.
    #[serde(default)]
    pub mock_expect: std::collections::BTreeMap<String, Value>,
    /// Other answers the docs allow, each with its own body (absent: the step's),
    /// statuses and values. The runner sends the first form the spec being checked
    /// can express and accepts every expressible form with that body.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
}

/// Another documented form of a step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// The body (the step's when absent).
    pub body: Option<Value>,
    /// The outcomes the docs allow.
    #[serde(default)]
    pub outcome: Outcomes,
    /// Explicit statuses.
    #[serde(default)]
    pub status: Vec<u16>,
    /// Values at JSON pointers.
    #[serde(default)]
    pub expect: std::collections::BTreeMap<String, Value>,
    /// Values the mock chose.
    #[serde(default)]
    pub mock_expect: std::collections::BTreeMap<String, Value>,
}

/// The classes of answer a step may get, as the docs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Any 2xx the operation documents.
    Success,
    /// `200` (a read, an update).
    Ok,
    /// `201` (something created).
    Created,
    /// `400` or `422`: input the docs refuse.
    Invalid,
    /// `401`.
    Unauthenticated,
    /// `403`.
    Forbidden,
    /// `404`.
    NotFound,
    /// `409`.
    Conflict,
    /// Acting on an integration that is not active: `400`, `404`, `409` or `422`
    /// (the docs' pages differ).
    NotActive,
    /// `429`.
    RateLimited,
}

impl Outcome {
    /// Whether `status` is of this class.
    pub fn admits(self, status: u16) -> bool {
        match self {
            Outcome::Success => (200..300).contains(&status),
            Outcome::Ok => status == 200,
            Outcome::Created => status == 201,
            Outcome::Invalid => matches!(status, 400 | 422),
            Outcome::Unauthenticated => status == 401,
            Outcome::Forbidden => status == 403,
            Outcome::NotFound => status == 404,
            Outcome::Conflict => status == 409,
            Outcome::NotActive => matches!(status, 400 | 404 | 409 | 422),
            Outcome::RateLimited => status == 429,
        }
    }
}

/// One outcome, or a list (`outcome: [success, not_found]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct Outcomes(pub Vec<Outcome>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Outcome),
    Many(Vec<Outcome>),
}

impl From<OneOrMany> for Outcomes {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(o) => Outcomes(vec![o]),
            OneOrMany::Many(list) => Outcomes(list),
        }
    }
}

impl Step {
    /// The step's own form, then its alternatives.
    pub fn forms(&self) -> Vec<Alternative> {
        std::iter::once(Alternative {
            body: self.body.clone(),
            outcome: self.outcome.clone(),
            status: self.status.clone(),
            expect: self.expect.clone(),
            mock_expect: self.mock_expect.clone(),
        })
        .chain(self.alternatives.iter().map(|a| Alternative {
            body: a.body.clone().or_else(|| self.body.clone()),
            ..a.clone()
        }))
        .collect()
    }
}

fn primary() -> String {
    "primary".into()
}

/// Parses a scenario file (a list of scenarios).
pub fn parse(text: &str, source: &str) -> Result<Vec<Scenario>, String> {
    let value = crate::spec::load::parse_text(text, source).map_err(|e| e.to_string())?;
    serde_path_to_error::deserialize(&value)
        .map_err(|e| format!("{source}: at {}: {}", e.path(), e.inner()))
}

/// Every scenario of a directory (`*.yaml`), or the built-in ones.
pub fn load(dir: Option<&std::path::Path>) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    match dir {
        None => {
            for (name, text) in BUILT_IN {
                out.extend(parse(text, &format!("conformance/{name}.yaml"))?);
            }
        }
        Some(dir) => {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
                out.extend(parse(&text, &f.display().to_string())?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_scenarios_parse_and_every_step_says_what_it_expects() {
        let all = super::load(None).unwrap();
        assert!(all.len() >= 2 && all.iter().all(|s| !s.steps.is_empty()));
        for step in all.iter().flat_map(|s| &s.steps) {
            for form in step.forms() {
                assert!(
                    !form.outcome.0.is_empty() || !form.status.is_empty(),
                    "{}: neither an outcome nor a status",
                    step.name
                );
            }
        }
    }
}
