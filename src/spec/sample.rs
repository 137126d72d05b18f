//! Values generated from a schema, for operations the simulator does not model: the
//! smallest value that the schema accepts, preferring the document's own `example`s.

use serde_json::{Map, Value, json};

use super::load::lookup;

/// How deep generation follows nested schemas before giving up (recursive schemas).
const MAX_DEPTH: usize = 24;

/// A value for `schema` (JSON Schema as compiled, `$ref`s into `components`), or `None`
/// when none can be built (a `pattern` with no example, a recursion too deep).
pub fn sample(schema: &Value, components: &Value) -> Option<Value> {
    generate(schema, components, 0)
}

fn resolve<'a>(r: &str, components: &'a Value) -> Option<&'a Value> {
    lookup(components, r.strip_prefix("#/components")?)
}

fn generate(schema: &Value, components: &Value, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let Value::Object(s) = schema else {
        return Some(Value::Null);
    };
    for key in ["example", "default", "const"] {
        if let Some(v) = s.get(key) {
            return Some(v.clone());
        }
    }
    // 3.1 (JSON Schema 2020-12): a list of examples.
    if let Some(first) = s
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(first.clone());
    }
    if let Some(Value::Array(e)) = s.get("enum") {
        return e.first().cloned();
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = resolve(r, components)?;
        return match target {
            // 3.1: the `$ref`'s siblings apply with the target (laid over it).
            Value::Object(t) if s.len() > 1 => {
                let mut merged = t.clone();
                for (k, v) in s.iter().filter(|(k, _)| *k != "$ref") {
                    merged.insert(k.clone(), v.clone());
                }
                generate(&Value::Object(merged), components, depth + 1)
            }
            _ => generate(target, components, depth + 1),
        };
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        let mut merged = Map::new();
        for part in all {
            match generate(part, components, depth + 1)? {
                Value::Object(m) => merged.extend(m),
                other if all.len() == 1 => return Some(other),
                _ => return None,
            }
        }
        return Some(Value::Object(merged));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = s.get(key) {
            return options
                .iter()
                .find_map(|o| generate(o, components, depth + 1));
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ => return Some(json!({})),
    };
    Some(match ty {
        "object" => {
            let mut out = Map::new();
            let props = s.get("properties").and_then(Value::as_object);
            for name in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str()?;
                let prop = props
                    .and_then(|p| p.get(name))
                    .cloned()
                    .unwrap_or(json!({}));
                out.insert(name.to_owned(), generate(&prop, components, depth + 1)?);
            }
            Value::Object(out)
        }
        "array" => {
            let n = s.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            // 2020-12 tuples: one value per `prefixItems` schema, then `items`.
            let mut out = Vec::new();
            for prefix in s
                .get("prefixItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(generate(prefix, components, depth + 1)?);
            }
            if out.len() < n {
                let item = s.get("items").cloned().unwrap_or(json!({}));
                let one = generate(&item, components, depth + 1)?;
                out.resize(n, one);
            }
            Value::Array(out)
        }
        "string" => {
            if s.contains_key("pattern") {
                return None;
            }
            let text = match s.get("format").and_then(Value::as_str) {
                Some("uuid") => "00000000-0000-4000-8000-000000000000".to_owned(),
                Some("date-time") => "2026-05-01T09:00:00Z".to_owned(),
                Some("date") => "2026-05-01".to_owned(),
                Some("email") => "user@example.com".to_owned(),
                Some("uri") => "https://example.com".to_owned(),
                _ => {
                    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
                    "x".repeat(min.max(1))
                }
            };
            Value::String(text)
        }
        "integer" | "number" => {
            let lower = s
                .get("minimum")
                .and_then(Value::as_f64)
                .or_else(|| {
                    s.get("exclusiveMinimum")
                        .and_then(Value::as_f64)
                        .map(|m| m.floor() + 1.0)
                })
                .unwrap_or(0.0);
            if ty == "integer" {
                json!(lower.ceil() as i64)
            } else {
                json!(lower)
            }
        }
        "boolean" => Value::Bool(true),
        _ => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_required_shape_with_formats_and_bounds() {
        let components = json!({"schemas": {"Id": {"type": "string", "format": "uuid"}}});
        let schema = json!({
            "type": "object",
            "required": ["id", "count", "kind", "tags"],
            "properties": {
                "id": {"$ref": "#/components/schemas/Id"},
                "count": {"type": "integer", "minimum": 5},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "optional": {"type": "string"}
            }
        });
        assert_eq!(
            sample(&schema, &components),
            Some(
                json!({"id": "00000000-0000-4000-8000-000000000000", "count": 5, "kind": "a", "tags": ["x"]})
            )
        );
    }

    #[test]
    fn reads_2020_12_examples_consts_tuples_and_type_lists() {
        let schema = json!({
            "type": "object",
            "required": ["a", "b", "c", "d"],
            "properties": {
                "a": {"type": ["string", "null"], "examples": ["first", "second"]},
                "b": {"const": 7},
                "c": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string", "format": "date"}]},
                "d": {"type": ["null", "boolean"]}
            }
        });
        assert_eq!(
            sample(&schema, &json!({})),
            Some(json!({"a": "first", "b": 7, "c": [0, "2026-05-01"], "d": true}))
        );
    }

    #[test]
    fn prefers_examples_and_gives_up_on_patterns() {
        assert_eq!(
            sample(&json!({"type": "string", "example": "hi"}), &json!({})),
            Some(json!("hi"))
        );
        assert_eq!(
            sample(
                &json!({"type": "string", "pattern": "^[A-Z]{3}$"}),
                &json!({})
            ),
            None
        );
    }
}
