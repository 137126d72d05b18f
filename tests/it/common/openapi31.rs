//! OpenAPI 3.0 → 3.1: the project's own contract rendered in 3.1, as a user converting
//! their document would (the checked-in `tests/data/revkeen-integrations-3.1.json` is
//! this function's output, and a test keeps them equal). Each 3.0 idiom becomes its
//! JSON Schema 2020-12 form, so the 3.1 reading is exercised, not skipped:
//! - `nullable: true` → a type list with `"null"` (`null` added to an `enum`), or
//!   `anyOf: [..., {type: null}]` where there is no `type`;
//! - boolean `exclusiveMinimum`/`exclusiveMaximum` → the numeric form;
//! - a schema's `example` → `examples: [...]`;
//! - (the project's own extension) a nullable schema's `x-mock-exact` type or enum is
//!   nullable too, as the 3.0 reading applies `nullable` after it;
//! - `allOf: [{$ref}]` beside other keywords (3.0's way around `$ref` siblings) →
//!   `$ref` with those siblings.

use serde_json::{Map, Value, json};

/// The 3.1 rendering of a 3.0 document (as parsed to JSON).
pub fn to_31(doc: &Value) -> Value {
    let mut out = doc.clone();
    out["openapi"] = json!("3.1.0");
    let Value::Object(root) = &mut out else {
        return out;
    };
    if let Some(Value::Object(schemas)) = root
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
    {
        for s in schemas.values_mut() {
            *s = schema(s);
        }
    }
    for key in ["paths", "x-unmatched-responses", "components"] {
        if let Some(part) = root.get_mut(key) {
            schemas_in(part);
        }
    }
    out
}

/// Converts every `schema` under `value` (parameters, headers, media types), leaving
/// examples (data) alone.
fn schemas_in(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "schema" => *v = schema(v),
                    "example" | "examples" | "schemas" => {}
                    _ => schemas_in(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(schemas_in),
        _ => {}
    }
}

fn schema(value: &Value) -> Value {
    let Value::Object(s) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in s {
        let converted = match key.as_str() {
            "properties" | "patternProperties" => match v {
                Value::Object(m) => {
                    Value::Object(m.iter().map(|(k, v)| (k.clone(), schema(v))).collect())
                }
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" | "x-mock-exact" => schema(v),
            "allOf" | "anyOf" | "oneOf" => match v {
                Value::Array(items) => Value::Array(items.iter().map(schema).collect()),
                other => other.clone(),
            },
            "nullable" => continue,
            "example" => {
                out.insert("examples".into(), json!([v]));
                continue;
            }
            _ => v.clone(),
        };
        out.insert(key.clone(), converted);
    }
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match out.get(flag) {
            Some(Value::Bool(true)) => {
                let b = out.remove(bound).unwrap_or(Value::Null);
                out.insert(flag.into(), b);
            }
            Some(Value::Bool(false)) => {
                out.remove(flag);
            }
            _ => {}
        }
    }
    // `allOf: [{$ref}]` with siblings: 3.1 allows `$ref` beside other keywords.
    if let Some(Value::Array(all)) = out.get("allOf")
        && all.len() == 1
        && all[0].get("$ref").is_some()
        && all[0].as_object().is_some_and(|m| m.len() == 1)
    {
        let target = all[0]["$ref"].clone();
        out.remove("allOf");
        out.insert("$ref".into(), target);
    }
    if s.get("nullable") == Some(&Value::Bool(true)) {
        for list in ["enum", "x-extensible-enum"] {
            if let Some(Value::Array(e)) = out.get_mut(list)
                && !e.contains(&Value::Null)
            {
                e.push(Value::Null);
            }
        }
        // A type or an enum the exact reading puts in place of the promised one is
        // nullable too (the 3.0 reading applies `nullable` after `x-mock-exact`).
        if let Some(Value::Object(exact)) = out.get_mut("x-mock-exact") {
            if let Some(Value::String(t)) = exact.get("type") {
                let list = json!([t, "null"]);
                exact.insert("type".into(), list);
            }
            if let Some(Value::Array(e)) = exact.get_mut("enum")
                && !e.contains(&Value::Null)
            {
                e.push(Value::Null);
            }
        }
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            _ => {
                // No type to extend (a `$ref`, an `allOf`): null or the rest. The
                // annotations stay outside, beside the `anyOf`.
                let mut annotations = Map::new();
                for k in ["description", "examples", "title", "deprecated"] {
                    if let Some(v) = out.remove(k) {
                        annotations.insert(k.into(), v);
                    }
                }
                annotations.insert(
                    "anyOf".into(),
                    json!([Value::Object(out), {"type": "null"}]),
                );
                return Value::Object(annotations);
            }
        }
    }
    Value::Object(out)
}
