//! Schemas: OpenAPI schema objects as JSON Schema (2020-12), compiled once into
//! validators whose failures name the field at fault. A 3.0 document's schemas are
//! converted (`nullable`, boolean exclusive bounds); a 3.1 document's already are
//! 2020-12 and are used as they are.
//!
//! Each schema has two readings ([`Reading`]). The document states what the API
//! *promises*, open where RevKeen's versioning policy allows additions; what the mock
//! pins down beyond that is written beside it in two extensions, compiled into the
//! *exact* reading only:
//! - `x-mock-exact: {keyword: value, ...}`: JSON Schema keywords added to the schema
//!   (`additionalProperties: false`, `format: uuid`; `required` lists are merged);
//! - `x-extensible-enum: [...]`: the known values of an open enum (Zalando's API
//!   guidelines' convention); the exact reading closes it to them (`enum`).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::load::{Dialect, lookup};

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

/// Which reading of the document a check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reading {
    /// What RevKeen promises: unknown response fields, enum values and error codes are
    /// allowed (the versioning policy counts them as non-breaking). `conform` checks
    /// deployments against this reading by default.
    #[default]
    Promised,
    /// What the mock sends, exactly: the promise plus every `x-mock-exact` and closed
    /// `x-extensible-enum`. `serve --strict` and `conform --exact` use it.
    Exact,
}

/// A compiled schema. Cheap to clone: the compiled form is shared.
#[derive(Clone)]
pub struct Schema {
    /// The JSON Schema (promised reading) the validator was built from, kept for
    /// generating values.
    json: Arc<Value>,
    /// Compiled once at start-up; validation is then allocation-light.
    validator: Arc<jsonschema::Validator>,
    /// The exact reading's validator; `None` when the document marks nothing exact,
    /// so both readings are the same.
    exact: Option<Arc<jsonschema::Validator>>,
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
        collect(&self.validator, value, "", |_| true)
    }

    /// Every violation, with fields prefixed by `prefix` (a parameter's name).
    pub fn violations_at(&self, value: &Value, prefix: &str) -> Vec<Violation> {
        collect(&self.validator, value, prefix, |_| true)
    }

    /// Every violation of the schema by `value` in `reading`, fields prefixed by `prefix`.
    pub fn violations_in(&self, value: &Value, prefix: &str, reading: Reading) -> Vec<Violation> {
        let validator = match (reading, &self.exact) {
            (Reading::Exact, Some(exact)) => exact,
            _ => &self.validator,
        };
        collect(validator, value, prefix, |_| true)
    }

    /// What `value` holds beyond the promise that the exact reading does not know: an
    /// unknown field or an enum value outside the known ones. The versioning policy
    /// allows these; `conform` lists them as forward-compatible warnings.
    pub fn unknowns(&self, value: &Value, prefix: &str) -> Vec<Violation> {
        use jsonschema::error::ValidationErrorKind as K;
        match &self.exact {
            Some(exact) => collect(exact, value, prefix, |k| {
                matches!(k, K::AdditionalProperties { .. } | K::Enum { .. })
            }),
            None => Vec::new(),
        }
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
                Some(ptr) => match lookup(&self.components, ptr) {
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

/// Why a schema does not compile, and where in it (a JSON pointer within the schema;
/// one that starts with `/components/` is within the document's components).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub at: String,
}

/// Builds validators for schemas of one document, whose local `$ref`s
/// (`#/components/schemas/X`) resolve against the document's converted components.
pub struct SchemaCompiler {
    /// `{"components": {"schemas": ...}}` with every schema converted; embedded in
    /// each compiled schema so its `$ref`s resolve without a network or file fetch.
    components: Arc<Value>,
    /// The same in the exact reading, when the document marks anything exact.
    exact_components: Option<Arc<Value>>,
    /// Schemas compiled so far, by their OpenAPI text: most responses of a document
    /// name the same few schemas (every error response the one `Error`), and each
    /// validator embeds the components, so compiling each once keeps memory from
    /// growing with operations × responses.
    compiled: std::sync::Mutex<std::collections::HashMap<String, Schema>>,
    /// The document's schema dialect.
    dialect: Dialect,
}

/// How a schema is converted: in which reading, from which dialect.
#[derive(Debug, Clone, Copy)]
struct Rules {
    reading: Reading,
    dialect: Dialect,
}

impl SchemaCompiler {
    /// Prepares the converted components of `doc`.
    pub fn new(doc: &Value) -> Self {
        let schemas = lookup(doc, "/components/schemas")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let dialect = Dialect::of(doc);
        let prepare = |reading| {
            let rules = Rules { reading, dialect };
            let mut components = json!({ "schemas": convert(&schemas, true, rules) });
            let known = components.clone();
            drop_dangling_refs(&mut components, &known);
            Arc::new(components)
        };
        Self {
            components: prepare(Reading::Promised),
            exact_components: marks_exact(doc).then(|| prepare(Reading::Exact)),
            compiled: Default::default(),
            dialect,
        }
    }

    /// The document's schema dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Compiles one OpenAPI schema object, in both readings when they differ (once per
    /// distinct schema: the same schema again shares the compiled one).
    pub fn compile(&self, openapi_schema: &Value) -> Result<Schema, SchemaError> {
        let text = openapi_schema.to_string();
        if let Some(kept) = crate::sim::lock(&self.compiled).get(&text) {
            return Ok(kept.clone());
        }
        let schema = self.compile_new(openapi_schema)?;
        crate::sim::lock(&self.compiled).insert(text, schema.clone());
        Ok(schema)
    }

    fn compile_new(&self, openapi_schema: &Value) -> Result<Schema, SchemaError> {
        let rules = |reading| Rules {
            reading,
            dialect: self.dialect,
        };
        let (converted, validator) =
            build(openapi_schema, &self.components, rules(Reading::Promised))?;
        let exact = match &self.exact_components {
            Some(components) => Some(Arc::new(
                build(openapi_schema, components, rules(Reading::Exact))?.1,
            )),
            None => None,
        };
        Ok(Schema {
            json: Arc::new(converted),
            validator: Arc::new(validator),
            exact,
            components: Arc::clone(&self.components),
        })
    }
}

/// Whether any part of `value` carries `x-mock-exact` or `x-extensible-enum`.
fn marks_exact(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key("x-mock-exact")
                || map.contains_key("x-extensible-enum")
                || map.values().any(marks_exact)
        }
        Value::Array(items) => items.iter().any(marks_exact),
        _ => false,
    }
}

/// Converts one schema in `reading` and compiles it against `components`.
fn build(
    openapi_schema: &Value,
    components: &Value,
    rules: Rules,
) -> Result<(Value, jsonschema::Validator), SchemaError> {
    let mut converted = convert(openapi_schema, false, rules);
    drop_dangling_refs(&mut converted, components);
    let mut root = match &converted {
        Value::Object(m) => m.clone(),
        Value::Bool(b) => {
            let mut m = Map::new();
            if !b {
                m.insert("not".into(), json!({}));
            }
            m
        }
        _ => {
            return Err(SchemaError {
                message: "a schema must be an object".into(),
                at: String::new(),
            });
        }
    };
    root.insert("components".into(), reachable(&converted, components));
    let root = Value::Object(root);
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| SchemaError {
            at: e.instance_path().to_string(),
            message: e.to_string(),
        })?;
    Ok((converted, validator))
}

/// The part of `components` (`{"schemas": {...}}`) that `schema` reaches through its
/// `$ref`s, directly or through other components: all a validator needs to embed. The
/// compiler builds every schema it is given, so embedding all the components in each
/// validator made memory grow with operations × components.
fn reachable(schema: &Value, components: &Value) -> Value {
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(name);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let all = components.get("schemas").and_then(Value::as_object);
    let mut kept = Map::new();
    let mut pending = Vec::new();
    refs(schema, &mut pending);
    while let Some(name) = pending.pop() {
        // A deeper pointer (`X/properties/y`) needs all of `X`.
        let first = name.split('/').next().unwrap_or(name);
        let name = percent_decode(first).replace("~1", "/").replace("~0", "~");
        if kept.contains_key(&name) {
            continue;
        }
        if let Some(target) = all.and_then(|m| m.get(&name)) {
            refs(target, &mut pending);
            kept.insert(name, target.clone());
        }
    }
    json!({ "schemas": Value::Object(kept) })
}

/// Replaces `$ref`s that do not resolve within `components` (the document's
/// `components`, `{"schemas": ...}`: a local `$ref` elsewhere cannot be embedded) by
/// an empty (accept-all) schema. The compiler reports each such `$ref` once, with its
/// location; compiling the rest keeps every other check of the document working.
fn drop_dangling_refs(value: &mut Value, components: &Value) {
    match value {
        Value::Object(map) => {
            let dangling = map.get("$ref").and_then(Value::as_str).is_some_and(|r| {
                r.strip_prefix("#/components").is_none_or(|p| {
                    !p.is_empty() && lookup(components, &percent_decode(p)).is_none()
                })
            });
            if dangling {
                map.clear();
                return;
            }
            for v in map.values_mut() {
                drop_dangling_refs(v, components);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| drop_dangling_refs(v, components)),
        _ => {}
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Keywords whose value is one schema (2020-12 and 3.0 alike).
const ONE_SCHEMA: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
];

/// Keywords whose value is a list of schemas.
const SCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

/// Keywords whose value is a map of named schemas.
const SCHEMA_MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// Converts an OpenAPI schema to JSON Schema 2020-12, by `rules`.
///
/// From 3.0: `nullable: true` becomes a `"null"` type (or an `anyOf` with null where
/// there is no `type`, as with `allOf: [$ref]`); boolean `exclusiveMinimum`/
/// `exclusiveMaximum` become the numeric form. A 3.1 schema is 2020-12 already
/// (`nullable` means nothing there and is left to be ignored). In both, the exact
/// reading adds `x-mock-exact`'s keywords and closes `x-extensible-enum`, and the
/// OpenAPI-only annotations are dropped. With `is_map`, `value` is a map of named
/// schemas.
fn convert(value: &Value, is_map: bool, rules: Rules) -> Value {
    let reading = rules.reading;
    if is_map {
        return match value {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), convert(v, false, rules)))
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
        let k = key.as_str();
        let converted = if SCHEMA_MAP.contains(&k) {
            convert(v, true, rules)
        } else if ONE_SCHEMA.contains(&k) {
            convert(v, false, rules)
        } else if SCHEMA_LIST.contains(&k) {
            match v {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|i| convert(i, false, rules)).collect())
                }
                other => other.clone(),
            }
        } else {
            match k {
                "nullable" if rules.dialect == Dialect::OpenApi30 => continue,
                "discriminator" | "xml" | "externalDocs" | "x-mock-exact" => continue,
                "x-extensible-enum" if reading == Reading::Exact => {
                    out.insert("enum".into(), v.clone());
                    continue;
                }
                _ => v.clone(),
            }
        };
        out.insert(key.clone(), converted);
    }
    if let (Reading::Exact, Some(Value::Object(extra))) = (reading, schema.get("x-mock-exact")) {
        for (key, v) in extra {
            match (key.as_str(), out.get_mut(key), v) {
                ("required", Some(Value::Array(have)), Value::Array(more)) => {
                    for name in more {
                        if !have.contains(name) {
                            have.push(name.clone());
                        }
                    }
                }
                _ => {
                    out.insert(key.clone(), convert(v, false, rules));
                }
            }
        }
    }
    if rules.dialect == Dialect::OpenApi31 {
        return Value::Object(out);
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

/// The violations of `validator` by `value` whose kind `keep` accepts, each looked
/// for inside `anyOf`/`oneOf` ([`innermost`]), fields prefixed by `prefix`. A valid
/// value (the common case) costs one check and no allocation.
fn collect(
    validator: &jsonschema::Validator,
    value: &Value,
    prefix: &str,
    keep: impl Fn(&jsonschema::error::ValidationErrorKind) -> bool,
) -> Vec<Violation> {
    if validator.is_valid(value) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for error in validator.iter_errors(value) {
        for e in innermost(&error) {
            if keep(e.kind()) {
                let mut v = describe(e);
                v.field = join_field(prefix, &v.field);
                out.push(v);
            }
        }
    }
    out
}

/// The errors behind an `anyOf`/`oneOf` failure: those of the branch that came closest
/// (fewest errors, a bare type mismatch at the same place counting as furthest, as a
/// `nullable` value's `null` branch is). Any other error is its own innermost.
fn innermost<'e>(
    error: &'e jsonschema::ValidationError<'e>,
) -> Vec<&'e jsonschema::ValidationError<'e>> {
    use jsonschema::error::ValidationErrorKind as K;
    let context = match error.kind() {
        K::AnyOf { context } | K::OneOfNotValid { context } => context,
        _ => return vec![error],
    };
    let here = error.instance_path();
    let distance = |branch: &Vec<jsonschema::ValidationError<'static>>| {
        let bare_type = branch.len() == 1
            && matches!(branch[0].kind(), K::Type { .. })
            && branch[0].instance_path() == here;
        if bare_type { usize::MAX } else { branch.len() }
    };
    match context.iter().min_by_key(|b| distance(b)) {
        Some(branch) if !branch.is_empty() => branch.iter().flat_map(innermost).collect(),
        _ => vec![error],
    }
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
