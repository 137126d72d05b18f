//! Compiling a parsed document into a [`Contract`], collecting every problem on the way
//! instead of stopping at the first, so `check-spec` can list them all.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::load::escape_pointer;
use super::matcher::{PathMatcher, PathTemplate};
use super::schema::{Schema, SchemaCompiler};
use super::{
    Compiled, Contract, Location, MediaType, Method, Operation, ParamLocation, Parameter, Problem,
    RequestBody, Response, ResponseHeader, Severity, StatusKey,
};

/// How many `$ref` hops are followed before a chain is called circular.
const MAX_REF_DEPTH: usize = 16;

/// State of one compilation: the raw document, the schema compiler and the problems.
struct Compiler<'a> {
    doc: &'a Value,
    source: &'a str,
    schemas: SchemaCompiler,
    problems: Vec<Problem>,
    /// Compiled schemas by pointer: shared components (`Error`, the standard headers)
    /// are compiled once, however many operations use them.
    schema_cache: HashMap<String, Option<Schema>>,
    /// Media types by pointer, so a shared response's examples are checked (and their
    /// problems reported) once.
    media_cache: HashMap<String, Vec<MediaType>>,
}

impl<'a> Compiler<'a> {
    fn problem(&mut self, severity: Severity, pointer: &str, message: impl Into<String>) {
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
    fn follow(&self, pointer: &str) -> Option<(String, &'a Value)> {
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
    fn check_refs(&mut self, value: &Value, pointer: &str) {
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
    fn schema(&mut self, pointer: &str) -> Option<Schema> {
        let pointer = self
            .follow(pointer)
            .map_or_else(|| pointer.to_owned(), |(p, _)| p);
        if let Some(cached) = self.schema_cache.get(&pointer) {
            return cached.clone();
        }
        let raw = self.doc.pointer(&pointer)?;
        let compiled = match self.schemas.compile(raw) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(
                    Severity::Error,
                    &pointer,
                    format!("the schema does not compile: {e}"),
                );
                None
            }
        };
        self.schema_cache.insert(pointer, compiled.clone());
        compiled
    }

    /// The scalar `type` of the schema at `pointer`, following `$ref`s.
    fn scalar_type(&self, pointer: &str) -> Option<String> {
        let (_, schema) = self.follow(pointer)?;
        schema
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn check_example(&mut self, schema: Option<&Schema>, value: &Value, pointer: &str) {
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

    fn parameter(&mut self, pointer: &str) -> Option<Parameter> {
        let (pointer, raw) = self.follow(pointer)?;
        let name = raw.get("name")?.as_str()?.to_owned();
        let location = match raw.get("in")?.as_str()? {
            "path" => ParamLocation::Path,
            "query" => ParamLocation::Query,
            "header" => ParamLocation::Header,
            _ => ParamLocation::Cookie,
        };
        let schema_ptr = format!("{pointer}/schema");
        let schema = self.schema(&schema_ptr);
        if let Some(example) = raw.get("example") {
            self.check_example(schema.as_ref(), example, &format!("{pointer}/example"));
        }
        Some(Parameter {
            name,
            location,
            required: raw
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                || location == ParamLocation::Path,
            scalar_type: self.scalar_type(&schema_ptr),
            default: self
                .follow(&schema_ptr)
                .and_then(|(_, s)| s.get("default").cloned()),
            schema,
        })
    }

    fn media(&mut self, content_ptr: &str) -> Vec<MediaType> {
        if let Some(cached) = self.media_cache.get(content_ptr) {
            return cached.clone();
        }
        let media = self.compile_media(content_ptr);
        self.media_cache
            .insert(content_ptr.to_owned(), media.clone());
        media
    }

    fn compile_media(&mut self, content_ptr: &str) -> Vec<MediaType> {
        let Some(Value::Object(content)) = self.doc.pointer(content_ptr) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (content_type, media) in content {
            let ptr = format!("{content_ptr}/{}", escape_pointer(content_type));
            let schema = media
                .get("schema")
                .and_then(|_| self.schema(&format!("{ptr}/schema")));
            let mut examples = Vec::new();
            if let Some(example) = media.get("example") {
                self.check_example(schema.as_ref(), example, &format!("{ptr}/example"));
                examples.push(("example".to_owned(), example.clone()));
            }
            if let Some(Value::Object(named)) = media.get("examples") {
                for name in named.keys() {
                    let ex_ptr = format!("{ptr}/examples/{}", escape_pointer(name));
                    if let Some(value) = self
                        .follow(&ex_ptr)
                        .and_then(|(_, e)| e.get("value").cloned())
                    {
                        self.check_example(schema.as_ref(), &value, &format!("{ex_ptr}/value"));
                        examples.push((name.clone(), value));
                    }
                }
            }
            out.push(MediaType {
                content_type: content_type.clone(),
                schema,
                examples,
            });
        }
        out
    }

    fn response(&mut self, status: StatusKey, pointer: &str) -> Option<Response> {
        let (pointer, raw) = self.follow(pointer)?;
        let mut headers = Vec::new();
        if let Some(Value::Object(hs)) = raw.get("headers") {
            for name in hs.keys() {
                let h_ptr = format!("{pointer}/headers/{}", escape_pointer(name));
                let Some((h_ptr, h)) = self.follow(&h_ptr) else {
                    continue;
                };
                let required = h.get("required").and_then(Value::as_bool).unwrap_or(false);
                let required_exact = required
                    || h.pointer("/x-mock-exact/required").and_then(Value::as_bool) == Some(true);
                let schema_ptr = format!("{h_ptr}/schema");
                headers.push(ResponseHeader {
                    name: name.clone(),
                    required,
                    required_exact,
                    scalar_type: self.scalar_type(&schema_ptr),
                    schema: self.schema(&schema_ptr),
                });
            }
        }
        let links = raw
            .get("links")
            .and_then(Value::as_object)
            .map(|links| {
                links
                    .keys()
                    .filter_map(|name| {
                        let l_ptr = format!("{pointer}/links/{}", escape_pointer(name));
                        self.follow(&l_ptr)?
                            .1
                            .get("operationId")?
                            .as_str()
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Response {
            status,
            headers,
            media: self.media(&format!("{pointer}/content")),
            links,
        })
    }

    fn operation(
        &mut self,
        path: &str,
        method: Method,
        typed: &openapiv3::Operation,
        path_params: &[Parameter],
    ) -> Operation {
        let op_ptr = format!(
            "/paths/{}/{}",
            escape_pointer(path),
            method.as_str().to_lowercase()
        );
        let mut parameters: Vec<Parameter> = path_params.to_vec();
        for i in 0..typed.parameters.len() {
            if let Some(p) = self.parameter(&format!("{op_ptr}/parameters/{i}")) {
                parameters.retain(|q| !(q.name == p.name && q.location == p.location));
                parameters.push(p);
            }
        }
        let template = PathTemplate::parse(path);
        let declared: BTreeSet<&str> = parameters
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
            .map(|p| p.name.as_str())
            .collect();
        let in_template: BTreeSet<&str> = template.param_names().collect();
        for missing in in_template.difference(&declared) {
            self.problem(
                Severity::Error,
                &op_ptr,
                format!("path parameter '{{{missing}}}' of {path} is not declared: add a parameter with `in: path`, `name: {missing}`"),
            );
        }
        for extra in declared.difference(&in_template) {
            self.problem(
                Severity::Error,
                &op_ptr,
                format!(
                    "path parameter '{extra}' is declared but {path} has no '{{{extra}}}' segment"
                ),
            );
        }
        let request_body = typed.request_body.as_ref().and_then(|_| {
            let (ptr, raw) = self.follow(&format!("{op_ptr}/requestBody"))?;
            let required = raw
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Some(RequestBody {
                required,
                media: self.media(&format!("{ptr}/content")),
            })
        });
        let mut responses = Vec::new();
        for key in typed.responses.responses.keys() {
            let status = StatusKey::parse(key);
            let ptr = format!("{op_ptr}/responses/{}", escape_pointer(&status.to_string()));
            responses.extend(self.response(status, &ptr));
        }
        if typed.responses.default.is_some() {
            responses
                .extend(self.response(StatusKey::Default, &format!("{op_ptr}/responses/default")));
        }
        if !responses
            .iter()
            .any(|r| matches!(r.status, StatusKey::Code(200..=299) | StatusKey::Range(2)))
        {
            self.problem(
                Severity::Warning,
                &format!("{op_ptr}/responses"),
                "the operation declares no 2xx response: clients cannot know what success looks like",
            );
        }
        let required_scopes = typed
            .extensions
            .get("x-required-scopes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Operation {
            id: typed
                .operation_id
                .clone()
                .unwrap_or_else(|| format!("{method} {path}")),
            method,
            path: path.to_owned(),
            summary: typed.summary.clone().unwrap_or_default(),
            parameters,
            request_body,
            responses,
            required_scopes,
            outcomes: typed
                .extensions
                .get("x-outcomes")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(name, codes)| {
                            let codes = codes
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_u64)
                                .filter_map(|c| u16::try_from(c).ok())
                                .collect();
                            (name.clone(), codes)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            internal: typed.extensions.get("x-internal") == Some(&Value::Bool(true)),
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

/// Compiles a document that already parsed as OpenAPI 3.0.
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
            openapi: typed.openapi.clone(),
            base_path,
            operations,
            schema_names,
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
