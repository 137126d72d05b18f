//! Compiling a parsed document into a [`Contract`], collecting every problem on the way
//! instead of stopping at the first, so `check-spec` can list them all.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::load::escape_pointer;
use super::matcher::PathMatcher;
use super::schema::{Schema, SchemaCompiler};
use super::{
    Compiled, Contract, Location, MediaType, Method, Parameter, Problem, Severity, StatusKey,
};

/// How many `$ref` hops are followed before a chain is called circular.
const MAX_REF_DEPTH: usize = 16;

/// State of one compilation: the raw document, the schema compiler and the problems.
pub(super) struct Compiler<'a> {
    pub(super) doc: &'a Value,
    pub(super) source: &'a str,
    pub(super) schemas: SchemaCompiler,
    pub(super) problems: Vec<Problem>,
    /// Compiled schemas by pointer: shared components (`Error`, the standard headers)
    /// are compiled once, however many operations use them.
    pub(super) schema_cache: HashMap<String, Option<Schema>>,
    /// Media types by pointer, so a shared response's examples are checked (and their
    /// problems reported) once.
    pub(super) media_cache: HashMap<String, Vec<MediaType>>,
}

impl<'a> Compiler<'a> {
    pub(super) fn problem(
        &mut self,
        severity: Severity,
        pointer: &str,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            severity,
            location: Location {
                source: self.source.to_owned(),
                pointer: pointer.to_owned(),
            },
            message: message.into(),
        });
    }

    /// Follows `$ref`s from `pointer` to the object they name. Unresolvable refs are
    /// reported once by [`Compiler::check_refs`], so this only returns `None`.
    pub(super) fn follow(&self, pointer: &str) -> Option<(String, &'a Value)> {
        let doc: &'a Value = self.doc;
        let mut pointer = pointer.to_owned();
        for _ in 0..MAX_REF_DEPTH {
            let value = doc.pointer(&pointer)?;
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => pointer = local_ref_pointer(r)?,
                None => return Some((pointer, value)),
            }
        }
        None
    }

    /// Reports every `$ref` in the document that does not resolve.
    pub(super) fn check_refs(&mut self, value: &Value, pointer: &str) {
        match value {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    match local_ref_pointer(r) {
                        None => self.problem(
                            Severity::Error,
                            pointer,
                            format!("$ref '{r}' is not a local reference (only '#/...' is supported): inline or bundle it"),
                        ),
                        Some(p) if self.doc.pointer(&p).is_none() => self.problem(
                            Severity::Error,
                            pointer,
                            format!("$ref '{r}' does not resolve: nothing at #{p}"),
                        ),
                        Some(_) => {}
                    }
                }
                for (k, v) in map {
                    self.check_refs(v, &format!("{pointer}/{}", escape_pointer(k)));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.check_refs(v, &format!("{pointer}/{i}"));
                }
            }
            _ => {}
        }
    }

    /// Compiles the schema at `pointer` (which may be a `$ref`).
    pub(super) fn schema(&mut self, pointer: &str) -> Option<Schema> {
        // A `$ref` with siblings is a schema of its own in 3.1 (the siblings apply
        // with the target); in 3.0 the siblings are ignored and the target is the
        // schema.
        let with_siblings = self.schemas.dialect() == super::load::Dialect::OpenApi31
            && self
                .doc
                .pointer(pointer)
                .and_then(Value::as_object)
                .is_some_and(|m| m.contains_key("$ref") && m.len() > 1);
        let pointer = if with_siblings {
            pointer.to_owned()
        } else {
            self.follow(pointer)
                .map_or_else(|| pointer.to_owned(), |(p, _)| p)
        };
        if let Some(cached) = self.schema_cache.get(&pointer) {
            return cached.clone();
        }
        let raw = self.doc.pointer(&pointer)?;
        let compiled = match self.schemas.compile(raw) {
            Ok(s) => Some(s),
            Err(e) => {
                // Named where the fault is: within this schema, or in a component it
                // reaches.
                let at = if e.at.starts_with("/components/") {
                    e.at.clone()
                } else {
                    format!("{pointer}{}", e.at)
                };
                self.problem(
                    Severity::Error,
                    &at,
                    format!("the schema does not compile: {}", e.message),
                );
                None
            }
        };
        self.schema_cache.insert(pointer, compiled.clone());
        compiled
    }

    /// The scalar `type` of the schema at `pointer`, following `$ref`s.
    pub(super) fn scalar_type(&self, pointer: &str) -> Option<String> {
        let (_, schema) = self.follow(pointer)?;
        match schema.get("type")? {
            Value::String(t) => Some(t.clone()),
            // 3.1: a list of types; the one that is not `null` (a parameter's text
            // is never null).
            Value::Array(types) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .map(str::to_owned),
            _ => None,
        }
    }

    /// The document's webhooks (3.1), each path item followed through its `$ref`
    /// (`#/components/pathItems/...`); a webhook that is not an object is reported.
    fn webhooks(&mut self) -> Vec<super::Webhook> {
        let names: Vec<String> = match self.doc.get("webhooks") {
            None => return Vec::new(),
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(_) => {
                self.problem(
                    Severity::Error,
                    "/webhooks",
                    "`webhooks` must be an object of path items by name",
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for name in names {
            let pointer = format!("/webhooks/{}", escape_pointer(&name));
            let item = match self.follow(&pointer) {
                Some((_, Value::Object(item))) => item,
                _ => {
                    self.problem(
                        Severity::Error,
                        &pointer,
                        format!("the webhook '{name}' is not a path item (an object of operations by method)"),
                    );
                    continue;
                }
            };
            for (method, op) in item {
                let Ok(method) = method.parse::<Method>() else {
                    continue;
                };
                out.push(super::Webhook {
                    name: name.clone(),
                    method,
                    id: op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
        }
        out
    }

    pub(super) fn check_example(&mut self, schema: Option<&Schema>, value: &Value, pointer: &str) {
        let Some(schema) = schema else { return };
        let violations = schema.violations(value);
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            self.problem(
                Severity::Warning,
                pointer,
                format!(
                    "the example does not validate against its schema: {}",
                    list.join("; ")
                ),
            );
        }
    }
}

/// Turns a local `$ref` (`#/components/schemas/X`) into a JSON pointer.
fn local_ref_pointer(r: &str) -> Option<String> {
    let fragment = r.strip_prefix('#')?;
    Some(
        percent_encoding::percent_decode_str(fragment)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The path of a server URL (`https://api.revkeen.com/v2` → `/v2`).
fn server_base_path(url: &str) -> String {
    let without_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let path = if url.contains("://") {
        without_scheme
            .find('/')
            .map(|i| &without_scheme[i..])
            .unwrap_or("")
    } else {
        without_scheme
    };
    path.trim_end_matches('/').to_owned()
}

/// Compiles a document whose structure already parsed (a 3.1 one through its
/// structural view).
pub(super) fn compile(doc: &Value, typed: &openapiv3::OpenAPI, source: &str) -> Compiled {
    let mut c = Compiler {
        doc,
        source,
        schemas: SchemaCompiler::new(doc),
        problems: Vec::new(),
        schema_cache: HashMap::new(),
        media_cache: HashMap::new(),
    };
    c.check_refs(doc, "");
    let base_path = typed
        .servers
        .first()
        .map(|s| server_base_path(&s.url))
        .unwrap_or_default();
    let mut matcher = PathMatcher::new(&base_path);
    let mut operations = Vec::new();
    let mut seen_ids = BTreeSet::new();
    for (path, item) in &typed.paths.paths {
        let item_ptr = format!("/paths/{}", escape_pointer(path));
        let Some((item_ptr, _)) = c.follow(&item_ptr) else {
            continue;
        };
        let openapiv3::ReferenceOr::Item(item) = item else {
            c.problem(
                Severity::Error,
                &item_ptr,
                "path item $refs are not supported: inline the path item",
            );
            continue;
        };
        let path_params: Vec<Parameter> = (0..item.parameters.len())
            .filter_map(|i| c.parameter(&format!("{item_ptr}/parameters/{i}")))
            .collect();
        for (method_name, op) in item.iter() {
            let Ok(method) = method_name.parse::<Method>() else {
                continue;
            };
            let operation = c.operation(path, method, op, &path_params);
            if !seen_ids.insert(operation.id.clone()) {
                c.problem(
                    Severity::Warning,
                    &format!("{item_ptr}/{method_name}/operationId"),
                    format!("operationId '{}' is used twice: links and reports cannot tell the operations apart", operation.id),
                );
            }
            matcher.add(path, method, operations.len());
            operations.push(operation);
        }
    }
    let webhooks = c.webhooks();
    let schema_names: Vec<String> = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let error_schema = if schema_names.iter().any(|n| n == "Error") {
        c.schema("/components/schemas/Error")
    } else {
        None
    };
    let unmatched_keys: Vec<String> = doc
        .get("x-unmatched-responses")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut unmatched = Vec::new();
    for key in unmatched_keys {
        let pointer = format!("/x-unmatched-responses/{}", escape_pointer(&key));
        match key.parse::<u16>() {
            Ok(code) => unmatched.extend(c.response(StatusKey::Code(code), &pointer)),
            Err(_) => c.problem(
                Severity::Error,
                &pointer,
                format!("'{key}' is not a status code: x-unmatched-responses is keyed by status (404, 405)"),
            ),
        }
    }
    Compiled {
        contract: Contract {
            source: source.to_owned(),
            title: typed.info.title.clone(),
            version: typed.info.version.clone(),
            // The document's own (a 3.1 document is read through a 3.0 view).
            openapi: doc
                .get("openapi")
                .and_then(Value::as_str)
                .unwrap_or(&typed.openapi)
                .to_owned(),
            base_path,
            operations,
            schema_names,
            webhooks,
            error_schema,
            unmatched,
            matcher,
        },
        problems: c.problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_path_comes_from_the_first_server() {
        assert_eq!(server_base_path("https://api.revkeen.com/v2"), "/v2");
        assert_eq!(server_base_path("http://127.0.0.1:4010/v2/"), "/v2");
        assert_eq!(server_base_path("https://example.com"), "");
        assert_eq!(server_base_path("/v2"), "/v2");
    }
}
