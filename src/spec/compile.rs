//! Compiling a parsed document into a [`Contract`], collecting every problem on the way
//! instead of stopping at the first, so `check-spec` can list them all.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use super::error::SpecError;
use super::load::{self, Dialect, escape_pointer, lookup};
use super::matcher::PathMatcher;
use super::schema::{Schema, SchemaCompiler};
use super::{
    Compiled, Contract, Location, MediaType, Method, Operation, Parameter, Problem, Response,
    Severity, StatusKey,
};

/// How many `$ref` hops are followed before a chain is called circular.
const MAX_REF_DEPTH: usize = 16;

/// State of one compilation: the raw document, the schema compiler and the problems.
pub(super) struct Compiler<'a> {
    pub(super) doc: &'a Value,
    pub(super) source: &'a str,
    pub(super) schemas: &'a SchemaCompiler,
    pub(super) problems: Vec<Problem>,
    /// Compiled schemas by pointer: shared components (`Error`, the standard headers)
    /// are compiled once, however many operations use them.
    pub(super) schema_cache: HashMap<String, Option<Schema>>,
    /// Media types by pointer, so a shared response's examples are checked (and their
    /// problems reported) once.
    pub(super) media_cache: HashMap<String, Arc<[MediaType]>>,
    /// Responses by pointer, for the same reason: most operations share the
    /// components' error responses.
    pub(super) response_cache: HashMap<String, Response>,
}

impl<'a> Compiler<'a> {
    fn new(doc: &'a Value, source: &'a str, schemas: &'a SchemaCompiler) -> Self {
        Compiler {
            doc,
            source,
            schemas,
            problems: Vec::new(),
            schema_cache: HashMap::new(),
            media_cache: HashMap::new(),
            response_cache: HashMap::new(),
        }
    }

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
            let value = lookup(doc, &pointer)?;
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => pointer = local_ref_pointer(r)?,
                None => return Some((pointer, value)),
            }
        }
        None
    }

    /// Reports every `$ref` in the document that does not resolve. The walk keeps
    /// the path as a list of segments and spells a pointer only for a problem: one
    /// string per node of the document was a third of loading the embedded contract.
    pub(super) fn check_refs(&mut self, doc: &Value) {
        let mut path = Vec::new();
        self.check_refs_at(doc, &mut path);
    }

    fn check_refs_at<'v>(&mut self, value: &'v Value, path: &mut Vec<Segment<'v>>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    // Compared in the walk rather than looked up: a lookup hashes.
                    if let ("$ref", Value::String(r)) = (k.as_str(), v) {
                        self.check_ref(r, path);
                    }
                    path.push(Segment::Key(k));
                    self.check_refs_at(v, path);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    self.check_refs_at(v, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn check_ref(&mut self, r: &str, path: &[Segment<'_>]) {
        let message = match local_ref_pointer(r) {
            None => format!(
                "$ref '{r}' is not a local reference (only '#/...' is supported): inline or bundle it"
            ),
            Some(p) if lookup(self.doc, &p).is_none() => {
                format!("$ref '{r}' does not resolve: nothing at #{p}")
            }
            Some(_) => return,
        };
        self.problem(Severity::Error, &spell(path), message);
    }

    /// Compiles the schema at `pointer` (which may be a `$ref`).
    pub(super) fn schema(&mut self, pointer: &str) -> Option<Schema> {
        // A `$ref` with siblings is a schema of its own in 3.1 (the siblings apply
        // with the target); in 3.0 the siblings are ignored and the target is the
        // schema.
        let with_siblings = self.schemas.dialect() == Dialect::OpenApi31
            && lookup(self.doc, pointer)
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
        let raw = lookup(self.doc, &pointer)?;
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

/// One step of a path into the document, spelled only when a problem names it.
enum Segment<'v> {
    Key(&'v str),
    Index(usize),
}

/// The JSON pointer of a path.
fn spell(path: &[Segment<'_>]) -> String {
    let mut pointer = String::new();
    for segment in path {
        pointer.push('/');
        match segment {
            Segment::Key(k) => pointer.push_str(&escape_pointer(k)),
            Segment::Index(i) => pointer.push_str(&i.to_string()),
        }
    }
    pointer
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

/// What compiling path items gives, in document order: each operation, and before it
/// the problems found while compiling it.
enum Piece<'d> {
    Problem(Problem),
    Operation {
        path: &'d str,
        method: Method,
        /// Where its `operationId` is, for the warning about one used twice.
        id_pointer: String,
        operation: Operation,
    },
}

/// Path items are compiled on as many threads as the machine has (up to this many),
/// each thread taking the next path item not yet taken, with a compiler of its own
/// over the shared compiled schemas: building JSON Schema validators is most of
/// loading a document, and the start-up waits for it (docs/performance.md). The pieces
/// are put back in document order, and a problem already reported (a shared component
/// met by two threads) is dropped, so the result is what one compiler gives: the same
/// operations, the same problems in the same order.
const MAX_THREADS: usize = 4;

/// Fewer operations than this are compiled on the calling thread alone.
const OPERATIONS_PER_THREAD: usize = 8;

type PathItems<'d> = [(&'d String, &'d openapiv3::ReferenceOr<openapiv3::PathItem>)];

/// Compiles a document of `dialect`: its structure read through `openapiv3` (a 3.1 one
/// through its structural view), then every operation.
pub(super) fn compile(doc: &Value, dialect: Dialect, source: &str) -> Result<Compiled, SpecError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS);
    let typed = || match dialect {
        Dialect::OpenApi30 => load::typed(doc, source),
        Dialect::OpenApi31 => load::typed(&load::structural_view(doc), source),
    };
    // The typed model is read while the components are converted and the `$ref`s
    // checked: all three only read the document (a fifth of loading a large one).
    let (typed, prepared) = if threads > 1 {
        std::thread::scope(|scope| {
            let typed = scope.spawn(typed);
            let prepared = prepare(doc, source);
            let typed = typed
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (typed, prepared)
        })
    } else {
        (typed(), prepare(doc, source))
    };
    Ok(compile_on(doc, &typed?, source, threads, prepared))
}

/// What compiling needs before the operations: the converted components, and the
/// problems of `$ref`s that do not resolve.
struct Prepared {
    schemas: SchemaCompiler,
    problems: Vec<Problem>,
}

fn prepare(doc: &Value, source: &str) -> Prepared {
    let schemas = SchemaCompiler::new(doc);
    let mut c = Compiler::new(doc, source, &schemas);
    c.check_refs(doc);
    let problems = c.problems;
    Prepared { schemas, problems }
}

/// [`compile`] on at most `threads` threads.
fn compile_on(
    doc: &Value,
    typed: &openapiv3::OpenAPI,
    source: &str,
    threads: usize,
    prepared: Prepared,
) -> Compiled {
    let Prepared { schemas, problems } = prepared;
    let compiler = || Compiler::new(doc, source, &schemas);
    let mut c = compiler();
    c.problems = problems;
    let base_path = typed
        .servers
        .first()
        .map(|s| server_base_path(&s.url))
        .unwrap_or_default();
    let items: Vec<_> = typed.paths.paths.iter().collect();
    let threads = threads_for(&items, threads);
    let pieces = if threads == 1 {
        c.path_items(&items)
    } else {
        // Each thread takes the next path item not yet taken; the pieces are put back
        // in the items' order.
        let next = AtomicUsize::new(0);
        let mut by_item: Vec<(usize, Vec<Piece>)> = std::thread::scope(|scope| {
            let running: Vec<_> = (0..threads)
                .map(|_| {
                    let mut compiler = compiler();
                    let (next, items) = (&next, &items);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(item) = items.get(i) else {
                                return done;
                            };
                            done.push((i, compiler.path_items(std::slice::from_ref(item))));
                        }
                    })
                })
                .collect();
            running
                .into_iter()
                .flat_map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        by_item.sort_unstable_by_key(|(i, _)| *i);
        by_item.into_iter().flat_map(|(_, pieces)| pieces).collect()
    };
    let mut reported: HashSet<(String, String)> = c
        .problems
        .iter()
        .map(|p| (p.location.pointer.clone(), p.message.clone()))
        .collect();
    let mut keep = |problems: &mut Vec<Problem>, problem: Problem| {
        if reported.insert((problem.location.pointer.clone(), problem.message.clone())) {
            problems.push(problem);
        }
    };
    let mut matcher = PathMatcher::new(&base_path);
    let mut operations = Vec::new();
    let mut seen_ids = BTreeSet::new();
    for piece in pieces {
        match piece {
            Piece::Problem(problem) => keep(&mut c.problems, problem),
            Piece::Operation {
                path,
                method,
                id_pointer,
                operation,
            } => {
                if !seen_ids.insert(operation.id.clone()) {
                    let message = format!(
                        "operationId '{}' is used twice: links and reports cannot tell the operations apart",
                        operation.id
                    );
                    c.problem(Severity::Warning, &id_pointer, message);
                }
                matcher.add(path, method, operations.len());
                operations.push(operation);
            }
        }
    }
    // What follows is compiled on this thread, after the path items: its problems are
    // checked against theirs too (the `Error` schema is met by every thread).
    let after = c.problems.len();
    let webhooks = c.webhooks();
    let schema_names: Vec<String> = lookup(doc, "/components/schemas")
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
    let later = c.problems.split_off(after);
    for problem in later {
        keep(&mut c.problems, problem);
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

/// How many threads compile `items`: one for a small document or a machine of one
/// core.
fn threads_for(items: &PathItems<'_>, threads: usize) -> usize {
    let operations: usize = items
        .iter()
        .map(|(_, item)| match item {
            openapiv3::ReferenceOr::Item(item) => item.iter().count(),
            openapiv3::ReferenceOr::Reference { .. } => 0,
        })
        .sum();
    threads.min(operations / OPERATIONS_PER_THREAD).max(1)
}

impl<'a> Compiler<'a> {
    /// Compiles path items into pieces: each operation after its problems.
    fn path_items(&mut self, items: &PathItems<'a>) -> Vec<Piece<'a>> {
        let mut pieces = Vec::new();
        for &(path, item) in items {
            let item_ptr = format!("/paths/{}", escape_pointer(path));
            let Some((item_ptr, _)) = self.follow(&item_ptr) else {
                continue;
            };
            let openapiv3::ReferenceOr::Item(item) = item else {
                self.problem(
                    Severity::Error,
                    &item_ptr,
                    "path item $refs are not supported: inline the path item",
                );
                continue;
            };
            let path_params: Vec<Parameter> = (0..item.parameters.len())
                .filter_map(|i| self.parameter(&format!("{item_ptr}/parameters/{i}")))
                .collect();
            for (method_name, op) in item.iter() {
                let Ok(method) = method_name.parse::<Method>() else {
                    continue;
                };
                let operation = self.operation(path, method, op, &path_params);
                pieces.extend(self.problems.drain(..).map(Piece::Problem));
                pieces.push(Piece::Operation {
                    path,
                    method,
                    id_pointer: format!("{item_ptr}/{method_name}/operationId"),
                    operation,
                });
            }
        }
        pieces.extend(self.problems.drain(..).map(Piece::Problem));
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document whose problems are spread over its operations: a broken shared
    /// response met by every operation, a dangling `$ref` in one, an operationId used
    /// twice far apart (met by different threads), a bad example.
    fn troubled_document() -> Value {
        let mut paths = serde_json::Map::new();
        for i in 0..40 {
            let id = if i == 31 {
                "op3".to_owned()
            } else {
                format!("op{i}")
            };
            let mut responses = serde_json::json!({
                "200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"},
                    "example": if i % 9 == 0 { serde_json::json!({"n": "x"}) } else { serde_json::json!({"n": 1}) }
                }}},
                "400": {"$ref": "#/components/responses/Bad"}
            });
            if i == 17 {
                responses["404"] = serde_json::json!({"$ref": "#/components/responses/Missing"});
            }
            paths.insert(
                format!("/things{i}/{{id}}"),
                serde_json::json!({
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "get": {"operationId": id, "responses": responses},
                    "put": {"operationId": format!("put{i}"), "responses": {"400": {"$ref": "#/components/responses/Bad"}}}
                }),
            );
        }
        serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": paths,
            "components": {
                "schemas": {
                    "Thing": {"type": "object", "properties": {"n": {"type": "integer"}}},
                    "Error": {"type": "object", "properties": {"message": {"type": "string"}}}
                },
                "responses": {"Bad": {"description": "bad", "content": {"application/json": {
                    "schema": {"type": "string", "pattern": "(unclosed"}
                }}}}
            }
        })
    }

    #[test]
    fn compiling_on_threads_gives_what_one_thread_gives() {
        let doc = troubled_document();
        let typed: openapiv3::OpenAPI = serde_json::from_value(doc.clone()).unwrap();
        let seen = |threads| {
            let compiled = compile_on(&doc, &typed, "t.yaml", threads, prepare(&doc, "t.yaml"));
            let problems: Vec<String> = compiled
                .problems
                .iter()
                .map(|p| format!("{:?} {} {}", p.severity, p.location.pointer, p.message))
                .collect();
            let ids: Vec<String> = compiled
                .contract
                .operations
                .iter()
                .map(|o| o.id.clone())
                .collect();
            (problems, ids)
        };
        let one = seen(1);
        assert_eq!(one.1.len(), 80);
        for needle in [
            "does not resolve",
            "used twice",
            "does not compile",
            "does not validate",
        ] {
            assert!(
                one.0.iter().any(|p| p.contains(needle)),
                "{needle}: {:#?}",
                one.0
            );
        }
        for threads in 2..=MAX_THREADS {
            assert_eq!(seen(threads), one, "{threads} threads");
        }
        let items: Vec<_> = typed.paths.paths.iter().collect();
        assert_eq!(threads_for(&items, 4), 4);
        assert_eq!(
            threads_for(&items[..3], 4),
            1,
            "too few operations to share"
        );
    }

    #[test]
    fn base_path_comes_from_the_first_server() {
        assert_eq!(server_base_path("https://api.revkeen.com/v2"), "/v2");
        assert_eq!(server_base_path("http://127.0.0.1:4010/v2/"), "/v2");
        assert_eq!(server_base_path("https://example.com"), "");
        assert_eq!(server_base_path("/v2"), "/v2");
    }
}
