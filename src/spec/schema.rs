//! Schemas: OpenAPI 3.0 schema objects turned into JSON Schema (2020-12) and compiled
//! once into validators whose failures name the field at fault.

use std::sync::Arc;

use serde_json::{Map, Value, json};

/// One failed rule of a schema, in words a client developer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field at fault, dotted (`credentials.apiKey`); empty for the value itself.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A compiled schema. Cheap to clone: the compiled form is shared.
#[derive(Clone)]
pub struct Schema {
    /// The JSON Schema the validator was built from, kept for generating values.
    json: Arc<Value>,
    /// Compiled once at start-up; validation is then allocation-light.
    validator: Arc<jsonschema::Validator>,
    /// The document's converted `components`, shared by every schema, to follow
    /// `$ref`s when generating values.
    components: Arc<Value>,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").field("json", &self.json).finish()
    }
}

impl Schema {
    /// Whether `value` satisfies the schema.
    pub fn is_valid(&self, value: &Value) -> bool {
        self.validator.is_valid(value)
    }

    /// Every violation of the schema by `value`, each naming its field.
    pub fn violations(&self, value: &Value) -> Vec<Violation> {
        if self.is_valid(value) {
            return Vec::new();
        }
        self.validator
            .iter_errors(value)
            .map(|e| describe(&e))
            .collect()
    }

    /// Every violation, with fields prefixed by `prefix` (a parameter's name).
    pub fn violations_at(&self, value: &Value, prefix: &str) -> Vec<Violation> {
        if self.is_valid(value) {
            // The common case, without collecting errors.
            return Vec::new();
        }
        let mut out = self.violations(value);
        for v in &mut out {
            v.field = join_field(prefix, &v.field);
        }
        out
    }

    /// The JSON Schema (2020-12) form; its `$ref`s point into `#/components/schemas`.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Follows a local `$ref` (into the document's components) to the schema it names;
    /// any other value is returned as it is.
    pub fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..16 {
            match v
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components"))
            {
                Some(ptr) => match self.components.pointer(ptr) {
                    Some(target) => v = target,
                    None => return v,
                },
                None => return v,
            }
        }
        v
    }

    /// A value this schema accepts (its `example` when it has one), or `None` when
    /// none can be generated.
    pub fn sample(&self) -> Option<Value> {
        super::sample::sample(&self.json, &self.components).filter(|v| self.is_valid(v))
    }
}

fn join_field(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}.{field}"),
    }
}

/// Builds validators for schemas of one document, whose local `$ref`s
/// (`#/components/schemas/X`) resolve against the document's converted components.
pub struct SchemaCompiler {
    /// `{"components": {"schemas": ...}}` with every schema converted; embedded in
    /// each compiled schema so its `$ref`s resolve without a network or file fetch.
    components: Arc<Value>,
}

impl SchemaCompiler {
    /// Prepares the converted components of `doc`.
    pub fn new(doc: &Value) -> Self {
        let schemas = doc
            .pointer("/components/schemas")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut components = json!({ "schemas": convert(&schemas, true) });
        let root = json!({ "components": components.clone() });
        drop_dangling_refs(&mut components, &root);
        Self {
            components: Arc::new(components),
        }
    }

    /// Compiles one OpenAPI schema object.
    pub fn compile(&self, openapi_schema: &Value) -> Result<Schema, String> {
        let mut converted = convert(openapi_schema, false);
        let root = json!({ "components": *self.components });
        drop_dangling_refs(&mut converted, &root);
        let mut root = match &converted {
            Value::Object(m) => m.clone(),
            Value::Bool(b) => {
                let mut m = Map::new();
                if !b {
                    m.insert("not".into(), json!({}));
                }
                m
            }
            _ => return Err("a schema must be an object".into()),
        };
        root.insert("components".into(), (*self.components).clone());
        let root = Value::Object(root);
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| e.to_string())?;
        Ok(Schema {
            json: Arc::new(converted),
            validator: Arc::new(validator),
            components: Arc::clone(&self.components),
        })
    }
}

/// Replaces `$ref`s that do not resolve within `root` by an empty (accept-all)
/// schema. The compiler reports each such `$ref` once, with its location; compiling
/// the rest keeps every other check of the document working.
fn drop_dangling_refs(value: &mut Value, root: &Value) {
    match value {
        Value::Object(map) => {
            let dangling = map.get("$ref").and_then(Value::as_str).is_some_and(|r| {
                r.strip_prefix('#')
                    .is_none_or(|p| root.pointer(&percent_decode(p)).is_none())
            });
            if dangling {
                map.clear();
                return;
            }
            for v in map.values_mut() {
                drop_dangling_refs(v, root);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| drop_dangling_refs(v, root)),
        _ => {}
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Converts an OpenAPI 3.0 schema to JSON Schema 2020-12.
///
/// `nullable: true` becomes a `"null"` type (or an `anyOf` with null where there is no
/// `type`, as with `allOf: [$ref]`); boolean `exclusiveMinimum`/`exclusiveMaximum`
/// become the numeric form. With `is_map`, `value` is a map of named schemas.
fn convert(value: &Value, is_map: bool) -> Value {
    if is_map {
        return match value {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), convert(v, false)))
                    .collect(),
            ),
            other => other.clone(),
        };
    }
    let Value::Object(schema) = value else {
        return value.clone();
    };
    let mut out = Map::with_capacity(schema.len());
    for (key, v) in schema {
        let converted = match key.as_str() {
            "properties" | "patternProperties" => convert(v, true),
            "items" | "additionalProperties" | "not" => convert(v, false),
            "allOf" | "anyOf" | "oneOf" => match v {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|i| convert(i, false)).collect())
                }
                other => other.clone(),
            },
            "nullable" | "discriminator" | "xml" | "externalDocs" => continue,
            _ => v.clone(),
        };
        out.insert(key.clone(), converted);
    }
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if out.get(flag) == Some(&Value::Bool(true)) {
            if let Some(b) = out.remove(bound) {
                out.insert(flag.into(), b);
            }
        } else if out.get(flag) == Some(&Value::Bool(false)) {
            out.remove(flag);
        }
    }
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(Value::Array(e)) = out.get_mut("enum")
            && !e.contains(&Value::Null)
        {
            e.push(Value::Null);
        }
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            _ => {
                return json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
            }
        }
    }
    Value::Object(out)
}

/// Turns a jsonschema error into a [`Violation`] naming the field a client sent.
fn describe(error: &jsonschema::ValidationError<'_>) -> Violation {
    use jsonschema::error::ValidationErrorKind as K;
    let parent: Vec<String> = error
        .instance_path()
        .iter()
        .map(|s| match s {
            jsonschema::paths::LocationSegment::Property(p) => p.to_string(),
            jsonschema::paths::LocationSegment::Index(i) => i.to_string(),
        })
        .collect();
    let parent = parent.join(".");
    match error.kind() {
        K::Required { property } => {
            let name = property
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| property.to_string());
            Violation {
                field: join_field(&parent, &name),
                message: "is required".into(),
            }
        }
        K::AdditionalProperties { unexpected } => Violation {
            field: join_field(
                &parent,
                unexpected.first().map(String::as_str).unwrap_or(""),
            ),
            message: format!(
                "unknown field{} {} (not allowed here)",
                if unexpected.len() > 1 { "s" } else { "" },
                unexpected
                    .iter()
                    .map(|u| format!("'{u}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        _ => Violation {
            field: parent,
            message: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(doc: Value, schema: Value) -> Schema {
        SchemaCompiler::new(&doc).compile(&schema).unwrap()
    }

    #[test]
    fn nullable_type_accepts_null() {
        let s = compile(json!({}), json!({"type": "string", "nullable": true}));
        assert!(s.is_valid(&json!(null)));
        assert!(s.is_valid(&json!("x")));
        assert!(!s.is_valid(&json!(1)));
    }

    #[test]
    fn nullable_ref_accepts_null_and_the_referenced_shape() {
        let doc = json!({"components": {"schemas": {"P": {"type": "string", "enum": ["a"]}}}});
        let s = compile(
            doc,
            json!({"allOf": [{"$ref": "#/components/schemas/P"}], "nullable": true}),
        );
        assert!(s.is_valid(&json!(null)));
        assert!(s.is_valid(&json!("a")));
        assert!(!s.is_valid(&json!("b")));
    }

    #[test]
    fn formats_are_validated() {
        let s = compile(json!({}), json!({"type": "string", "format": "uuid"}));
        assert!(s.is_valid(&json!("497f6eca-6276-4993-bfeb-53cbbbba6f08")));
        assert!(!s.is_valid(&json!("not-a-uuid")));
        let s = compile(json!({}), json!({"type": "string", "format": "date-time"}));
        assert!(s.is_valid(&json!("2026-05-01T09:15:00Z")));
        assert!(!s.is_valid(&json!("yesterday")));
    }

    #[test]
    fn boolean_exclusive_bounds_are_converted() {
        let s = compile(
            json!({}),
            json!({"type": "integer", "minimum": 5, "exclusiveMinimum": true}),
        );
        assert!(!s.is_valid(&json!(5)));
        assert!(s.is_valid(&json!(6)));
    }

    #[test]
    fn violations_name_nested_and_missing_fields() {
        let s = compile(
            json!({}),
            json!({"type": "object", "additionalProperties": false, "required": ["credentials"],
                   "properties": {"credentials": {"type": "object", "required": ["apiKey"],
                     "properties": {"apiKey": {"type": "string"}}}}}),
        );
        let v = s.violations(&json!({"credentials": {}, "extra": 1}));
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert!(fields.contains(&"credentials.apiKey"), "{v:?}");
        assert!(fields.contains(&"extra"), "{v:?}");
    }
}
