//! Negative inputs derived from the spec's schemas: for every operation, a valid
//! request (its body the smallest value its schema accepts) broken one way at a time:
//! a required field removed, an unknown field added, a value of the wrong type, a
//! number just outside its bounds, a string outside its enum; out-of-range and
//! non-numeric query parameters; path parameters outside their format or enum; a
//! required header left out; malformed JSON.

use serde_json::{Map, Value, json};

use crate::spec::{Contract, Operation, ParamLocation, Schema};

/// One invalid request and what makes it invalid.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The method.
    pub method: String,
    /// Path under the base, with any query.
    pub path: String,
    /// The raw body.
    pub body: Option<String>,
    /// What is wrong, for the report.
    pub what: String,
    /// Whether a path parameter is what is broken: the path then names no resource,
    /// which the docs answer like an unknown provider (400 or 404).
    pub in_path: bool,
    /// A required header left out (every other required header is sent).
    pub without: Option<String>,
}

/// The path of `op` with each path parameter set to a valid value, but `broken`'s
/// (name, text), when given.
pub(super) fn concrete_path(op: &Operation, broken: Option<(&str, &str)>) -> Option<String> {
    let mut path = op.path.clone();
    for p in op
        .parameters
        .iter()
        .filter(|p| p.location == ParamLocation::Path)
    {
        let text = match broken {
            Some((name, text)) if name == p.name => text.to_owned(),
            _ => {
                let value = p.schema.as_ref()?.sample()?;
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned)
            }
        };
        path = path.replace(&format!("{{{}}}", p.name), &text);
    }
    Some(path)
}

/// Whether `schema` takes a string (its `type`, or one of them beside null).
fn schema_is_string(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// Values that break `schema` (already resolved) by type, bounds, format or enum.
fn breaking_values(schema: &Value) -> Vec<(Value, String)> {
    let mut out = Vec::new();
    let ty = match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match ty {
        Some("integer" | "number") => {
            out.push((json!("not-a-number"), "a string for a number".to_owned()));
            if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
                out.push((
                    json!(min - 1),
                    format!("{} (under the minimum {min})", min - 1),
                ));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_i64) {
                out.push((
                    json!(max + 1),
                    format!("{} (over the maximum {max})", max + 1),
                ));
            }
        }
        Some("string") => {
            out.push((json!(12345), "a number for a string".to_owned()));
            if let Some(format) = schema
                .get("format")
                .and_then(Value::as_str)
                .filter(|f| ["uuid", "date-time", "date", "email"].contains(f))
            {
                out.push((
                    json!(format!("not-a-{format}")),
                    format!("not a valid {format}"),
                ));
            }
            if schema.get("enum").is_some() {
                out.push((
                    json!("not-in-the-enum"),
                    "a value outside the enum".to_owned(),
                ));
            }
        }
        Some("boolean") => out.push((json!("yes"), "a string for a boolean".to_owned())),
        Some("object") => out.push((json!("text"), "a string for an object".to_owned())),
        Some("array") => out.push((json!({}), "an object for an array".to_owned())),
        _ => {}
    }
    out
}

/// Variants of an object body: each required field removed, an unknown field, and each
/// field broken, one level into nested objects.
pub(super) fn object_variants(
    schema: &Schema,
    node: &Value,
    base: &Map<String, Value>,
    prefix: &str,
    out: &mut Vec<(Value, String)>,
) {
    let node = schema.resolve(node);
    let props = node.get("properties").and_then(Value::as_object);
    for name in node
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let mut b = base.clone();
        b.remove(name);
        out.push((
            Value::Object(b),
            format!("the required field {prefix}{name} missing"),
        ));
    }
    // Closed: `additionalProperties: false`, or 2020-12's `unevaluatedProperties: false`.
    if node.get("additionalProperties") == Some(&Value::Bool(false))
        || node.get("unevaluatedProperties") == Some(&Value::Bool(false))
    {
        let mut b = base.clone();
        b.insert("unexpectedField".into(), json!(1));
        out.push((
            Value::Object(b),
            format!("an unknown field {prefix}unexpectedField"),
        ));
    }
    for (name, prop) in props.into_iter().flatten() {
        let prop = schema.resolve(prop);
        for (value, what) in breaking_values(prop) {
            let mut b = base.clone();
            b.insert(name.clone(), value);
            out.push((Value::Object(b), format!("{prefix}{name}: {what}")));
        }
        if prefix.is_empty()
            && let Some(Value::Object(inner)) = base.get(name)
        {
            let mut nested = Vec::new();
            object_variants(schema, prop, inner, &format!("{name}."), &mut nested);
            for (v, what) in nested {
                let mut b = base.clone();
                b.insert(name.clone(), v);
                out.push((Value::Object(b), what));
            }
        }
    }
}

/// Every negative variant of every operation of the contract. `mutations` limits the
/// list to reads when false.
pub fn variants(contract: &Contract, mutations: bool) -> Vec<Variant> {
    let mut out = Vec::new();
    for op in &contract.operations {
        if op.method.is_mutation() && !mutations {
            continue;
        }
        let Some(path) = concrete_path(op, None) else {
            continue;
        };
        let method = op.method.as_str().to_owned();
        // Path parameters: a value outside the format or enum (a path segment is text,
        // so only the string breakages apply).
        for p in op
            .parameters
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
        {
            let Some(schema) = &p.schema else { continue };
            for (value, what) in breaking_values(schema.resolve(schema.json())) {
                let Some(text) = value.as_str() else { continue };
                if schema.is_valid(&value) {
                    // Not a break of this schema (a type list that takes it too).
                    continue;
                }
                if let Some(broken) = concrete_path(op, Some((&p.name, text))) {
                    out.push(Variant {
                        method: method.clone(),
                        path: broken,
                        body: None,
                        what: format!("path {}: {what}", p.name),
                        in_path: true,
                        without: None,
                    });
                }
            }
        }
        for p in op
            .parameters
            .iter()
            .filter(|p| p.location == ParamLocation::Header && p.required)
            .filter(|p| !p.name.eq_ignore_ascii_case("x-api-key"))
        {
            // With the valid body, if the operation takes one: only the header is wrong.
            let body = op
                .json_body_schema()
                .and_then(Schema::sample)
                .map(|b| b.to_string());
            out.push(Variant {
                method: method.clone(),
                path: path.clone(),
                body,
                what: format!("the required header {} left out", p.name),
                in_path: false,
                without: Some(p.name.clone()),
            });
        }
        for p in op
            .parameters
            .iter()
            .filter(|p| p.location == ParamLocation::Query)
        {
            let Some(schema) = &p.schema else { continue };
            // On the wire a query value is text: a number breaks only a string whose
            // format or enum it does not meet, which the variants below cover.
            let wire = breaking_values(schema.resolve(schema.json()))
                .into_iter()
                .filter(|(v, _)| {
                    !v.is_number() || !schema_is_string(schema.resolve(schema.json()))
                });
            for (value, what) in wire {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                out.push(Variant {
                    method: method.clone(),
                    path: format!("{path}?{}={text}", p.name),
                    body: None,
                    what: format!("query {}: {what}", p.name),
                    in_path: false,
                    without: None,
                });
            }
        }
        let Some(schema) = op
            .request_body
            .as_ref()
            .and_then(|b| {
                b.media
                    .iter()
                    .find(|m| crate::spec::is_json(&m.content_type))
            })
            .and_then(|m| m.schema.as_ref())
        else {
            continue;
        };
        let Some(Value::Object(base)) = schema.sample() else {
            continue;
        };
        let mut bodies = Vec::new();
        object_variants(schema, schema.json(), &base, "", &mut bodies);
        // A break the schema still accepts is no break (a type list that takes the
        // "wrong" type too, a field a `oneOf` branch allows).
        bodies.retain(|(body, _)| !schema.is_valid(body));
        for (body, what) in bodies {
            out.push(Variant {
                method: method.clone(),
                path: path.clone(),
                body: Some(body.to_string()),
                what,
                in_path: false,
                without: None,
            });
        }
        let text = Value::Object(base).to_string();
        out.push(Variant {
            method: method.clone(),
            path: path.clone(),
            body: Some(text[..text.len().saturating_sub(1)].to_owned()),
            what: "malformed JSON (the valid body cut short)".to_owned(),
            in_path: false,
            without: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_contract_yields_variants_for_every_operation_with_input() {
        let c = Contract::embedded().unwrap();
        let v = variants(&c, true);
        let whats: Vec<&str> = v.iter().map(|v| v.what.as_str()).collect();
        for expected in [
            "the required field credentials missing",
            "the required field credentials.apiKey missing",
            "syncIntervalMinutes: 4 (under the minimum 5)",
            "syncIntervalMinutes: 1441 (over the maximum 1440)",
            "status: a value outside the enum",
            "query limit: 0 (under the minimum 1)",
            "an unknown field unexpectedField",
            "path provider: a value outside the enum",
            "path logId: not a valid uuid",
            "query createdAfter: not a valid date-time",
            "query integrationId: not a valid uuid",
        ] {
            assert!(whats.contains(&expected), "{expected} not in {whats:#?}");
        }
        // A number in a query string is text: it breaks no string parameter by itself.
        assert!(!whats.contains(&"query integrationId: a number for a string"));
        assert!(
            v.iter()
                .filter(|v| v.what.starts_with("path "))
                .all(|v| v.in_path && v.body.is_none())
        );
        assert!(variants(&c, false).iter().all(|v| v.body.is_none()));
    }
}
