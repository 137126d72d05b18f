//! Scenarios: readable, named sequences of documented journeys with expected outcomes
//! (`conformance/*.yaml`), run before the random exploration.

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
    /// Expected statuses (any of them).
    pub status: Vec<u16>,
    /// Values at JSON pointers the answer must hold.
    #[serde(default)]
    pub expect: std::collections::BTreeMap<String, Value>,
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
    /// Expected statuses.
    pub status: Vec<u16>,
    /// Values at JSON pointers.
    #[serde(default)]
    pub expect: std::collections::BTreeMap<String, Value>,
}

impl Step {
    /// The step's own form, then its alternatives.
    pub fn forms(&self) -> Vec<Alternative> {
        std::iter::once(Alternative {
            body: self.body.clone(),
            status: self.status.clone(),
            expect: self.expect.clone(),
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
    fn the_built_in_scenarios_parse() {
        let all = super::load(None).unwrap();
        assert!(all.len() >= 2 && all.iter().all(|s| !s.steps.is_empty()));
    }
}
