//! Proptest strategies derived from the spec's schemas: values a schema accepts, and
//! values it refuses (a valid value broken one way), so generated inputs follow the
//! contract, whatever document is loaded. `tests/spec_31.rs` checks that drawn values
//! agree with their schemas for the embedded contract, its 3.1 rendering and a large
//! generated 3.1 document.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::spec::Schema;

/// How deep nested schemas are followed.
const MAX_DEPTH: usize = 8;

/// Values `node` (a part of `schema`, `$ref`s resolved through it) accepts.
pub fn valid(schema: &Schema, node: &Value) -> BoxedStrategy<Value> {
    generate(schema, node, 0)
}

fn generate(schema: &Schema, node: &Value, depth: usize) -> BoxedStrategy<Value> {
    let node = resolved(schema, node);
    if depth > MAX_DEPTH {
        return Just(Value::Null).boxed();
    }
    if let Some(value) = node.get("const") {
        return Just(value.clone()).boxed();
    }
    if let Some(Value::Array(options)) = node.get("enum") {
        return proptest::sample::select(options.clone()).boxed();
    }
    if let Some(Value::Array(all)) = node.get("allOf")
        && all.len() == 1
    {
        return generate(schema, &all[0], depth + 1);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = node.get(key) {
            let strategies: Vec<BoxedStrategy<Value>> = options
                .iter()
                .map(|o| generate(schema, o, depth + 1))
                .collect();
            return proptest::strategy::Union::new(strategies).boxed();
        }
    }
    let ty = match node.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ if node.get("properties").is_some() => "object".to_owned(),
        _ => return Just(json!({})).boxed(),
    };
    match ty.as_str() {
        "object" => {
            let required: Vec<String> = node
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            // An optional field whose values cannot be generated is left out.
            let props: Vec<(String, Value)> = node
                .get("properties")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, v)| required.contains(k) || generable(schema.resolve(v)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
                .into_iter()
                .map(|(name, prop)| {
                    let value = generate(schema, &prop, depth + 1);
                    if required.contains(&name) {
                        value.prop_map(move |v| Some((name.clone(), v))).boxed()
                    } else {
                        proptest::option::of(value.prop_map(move |v| (name.clone(), v))).boxed()
                    }
                })
                .collect();
            // `minProperties`/`maxProperties`: optional fields are drawn independently,
            // so a count out of bounds is rare and filtered out.
            let min = node
                .get("minProperties")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let max = node
                .get("maxProperties")
                .and_then(Value::as_u64)
                .map_or(usize::MAX, |m| m as usize);
            fields
                .prop_map(|fs| {
                    Value::Object(fs.into_iter().flatten().collect::<Map<String, Value>>())
                })
                .prop_filter("minProperties and maxProperties", move |v| {
                    v.as_object()
                        .is_some_and(|m| (min..=max).contains(&m.len()))
                })
                .boxed()
        }
        "array" => {
            let min = node.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = node
                .get("maxItems")
                .and_then(Value::as_u64)
                .map_or(min + 3, |m| m as usize);
            let item = node.get("items").cloned().unwrap_or(json!({}));
            // 2020-12 tuples: a value for each `prefixItems` schema, then `items`.
            let prefix: Vec<BoxedStrategy<Value>> = node
                .get("prefixItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| generate(schema, p, depth + 1))
                .collect();
            let (min, max) = (
                min.saturating_sub(prefix.len()),
                max.max(min).saturating_sub(prefix.len()),
            );
            let rest = if node.get("items") == Some(&Value::Bool(false)) {
                Just(Vec::new()).boxed()
            } else {
                proptest::collection::vec(generate(schema, &item, depth + 1), min..=max.max(min))
                    .boxed()
            };
            (prefix, rest)
                .prop_map(|(mut head, tail)| {
                    head.extend(tail);
                    Value::Array(head)
                })
                .boxed()
        }
        "string" => string(&node),
        "integer" => {
            // The numeric `exclusiveMinimum`/`exclusiveMaximum` of 2020-12 (a 3.0
            // document's boolean ones are converted to them).
            let lo = node
                .get("minimum")
                .and_then(Value::as_i64)
                .or_else(|| {
                    node.get("exclusiveMinimum")?
                        .as_f64()
                        .map(|m| m.floor() as i64 + 1)
                })
                .unwrap_or(-1000);
            let hi = node
                .get("maximum")
                .and_then(Value::as_i64)
                .or_else(|| {
                    node.get("exclusiveMaximum")?
                        .as_f64()
                        .map(|m| m.ceil() as i64 - 1)
                })
                .unwrap_or(lo.max(0) + 1000);
            (lo..=hi.max(lo)).prop_map(Value::from).boxed()
        }
        "number" => {
            let lo = node
                .get("minimum")
                .and_then(Value::as_f64)
                .or_else(|| node.get("exclusiveMinimum")?.as_f64().map(|m| m + 0.5))
                .unwrap_or(-1000.0);
            let hi = node
                .get("maximum")
                .and_then(Value::as_f64)
                .or_else(|| node.get("exclusiveMaximum")?.as_f64().map(|m| m - 0.5))
                .unwrap_or(lo.max(0.0) + 1000.0);
            (lo..=hi.max(lo)).prop_map(|n| json!(n)).boxed()
        }
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => Just(Value::Null).boxed(),
    }
}

/// `node` with its `$ref` followed; a `$ref`'s siblings (3.1: they apply with the
/// target, a `maxLength` or a `description`) laid over the target's keywords.
fn resolved(schema: &Schema, node: &Value) -> Value {
    let target = schema.resolve(node).clone();
    match (node.as_object(), target) {
        (Some(here), Value::Object(mut merged)) if here.contains_key("$ref") && here.len() > 1 => {
            for (k, v) in here.iter().filter(|(k, _)| *k != "$ref") {
                merged.insert(k.clone(), v.clone());
            }
            Value::Object(merged)
        }
        (_, target) => target,
    }
}

/// Whether values can be generated: strings with a `pattern` through proptest's
/// generator of strings from regular expressions, else the document's `example`.
fn generable(node: &Value) -> bool {
    node.get("pattern").is_none() || example(node).is_some() || pattern(node).is_some()
}

/// The node's example: `example` (OpenAPI 3.0), or the first of `examples` (2020-12).
fn example(node: &Value) -> Option<&Value> {
    node.get("example")
        .or_else(|| node.get("examples")?.as_array()?.first())
}

/// Strings matching the node's `pattern`, when proptest can generate them. The regex
/// generator takes no anchors; a whole-string match of the pattern without its `^` and
/// `$` also matches the anchored one.
fn pattern(node: &Value) -> Option<BoxedStrategy<Value>> {
    let p = node.get("pattern")?.as_str()?;
    let p = p.strip_prefix('^').unwrap_or(p);
    let p = p
        .strip_suffix('$')
        .filter(|q| !q.ends_with('\\'))
        .unwrap_or(p);
    let strings = proptest::string::string_regex(p).ok()?;
    Some(strings.prop_map(Value::String).boxed())
}

fn string(node: &Value) -> BoxedStrategy<Value> {
    if node.get("pattern").is_some() {
        return pattern(node)
            .unwrap_or_else(|| Just(example(node).cloned().unwrap_or(Value::Null)).boxed());
    }
    match node.get("format").and_then(Value::as_str) {
        Some("uuid") => any::<u128>()
            .prop_map(|n| {
                json!(
                    uuid::Builder::from_random_bytes(n.to_le_bytes())
                        .into_uuid()
                        .to_string()
                )
            })
            .boxed(),
        Some("date-time") => (0u32..28, 0u32..24)
            .prop_map(|(d, h)| json!(format!("2026-05-{:02}T{h:02}:00:00Z", d + 1)))
            .boxed(),
        Some("email") => "[a-z]{1,8}"
            .prop_map(|u| json!(format!("{u}@example.com")))
            .boxed(),
        Some("uri") => "[a-z]{1,8}"
            .prop_map(|h| json!(format!("https://{h}.example.com")))
            .boxed(),
        _ => {
            let min = node.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = node
                .get("maxLength")
                .and_then(Value::as_u64)
                .map_or(min + 12, |m| m as usize);
            proptest::collection::vec(
                proptest::char::range('a', 'z'),
                min..=max.max(min).min(min + 24),
            )
            .prop_map(|cs| json!(cs.into_iter().collect::<String>()))
            .boxed()
        }
    }
}

/// Values `node` refuses, each with what is wrong: a valid value with one required
/// field removed, an unknown field added, or one field of the wrong type, out of its
/// bounds or outside its enum.
pub fn invalid(schema: &Schema, node: &Value) -> BoxedStrategy<(Value, String)> {
    let schema_for_variants = schema.clone();
    let node_for_variants = node.clone();
    valid(schema, node)
        .prop_filter_map("an object with something to break", move |base| {
            let Value::Object(base) = base else {
                return None;
            };
            let mut variants = Vec::new();
            super::negative::object_variants(
                &schema_for_variants,
                &node_for_variants,
                &base,
                "",
                &mut variants,
            );
            // A break the schema still accepts is no break (a field whose type list
            // takes the "wrong" type too, say).
            variants.retain(|(v, _)| !schema_for_variants.is_valid(v));
            (!variants.is_empty()).then_some(variants)
        })
        .prop_flat_map(proptest::sample::select)
        .boxed()
}
