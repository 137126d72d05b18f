//! Reading a document: YAML or JSON text to a JSON value, with the version checked
//! before anything else (OpenAPI 3.0.x and 3.1.x; a Swagger 2.0 file gets a clear
//! message), and the structure read through `openapiv3`'s typed model.
//!
//! `openapiv3` models OpenAPI 3.0 only. The structure of a 3.1 document (paths,
//! operations, parameters, request bodies, responses) is the same but for its
//! schemas, which are JSON Schema 2020-12; and the compiler reads every schema from
//! the document itself, never from the typed model. So a 3.1 document is read through
//! a *structural view* ([`structural_view`]): the same document with each schema
//! replaced by `{}` and the 3.1-only parts (`webhooks`, `components.pathItems`) left
//! out. docs/architecture.md says why this and not a crate that models 3.1.

use serde_json::{Map, Value};

use super::error::{Location, SpecError};

/// The default contract, embedded so `revkeen-mock serve` works from any directory.
pub const EMBEDDED_SPEC: &str = include_str!("../../specs/revkeen-integrations.yaml");

/// The name used in messages about the embedded document.
pub const EMBEDDED_NAME: &str = "<embedded specs/revkeen-integrations.yaml>";

/// The embedded default contract as JSON, made from [`EMBEDDED_SPEC`] by `build.rs`:
/// reading JSON costs a tenth of parsing the YAML, which was a third of the start-up
/// (docs/performance.md). Empty when the build could not parse the YAML.
pub const EMBEDDED_SPEC_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/revkeen-integrations.json"));

/// Reads an embedded document from the JSON the build made of its YAML; from the
/// YAML itself when there is none (the build could not parse it: a syntax error
/// while the spec is edited), so the error names its line as for any file.
pub fn parse_embedded(json: &str, yaml: &str, source_name: &str) -> Result<Value, SpecError> {
    if !json.is_empty()
        && let Ok(doc) = serde_json::from_str::<Value>(json)
    {
        return Ok(doc);
    }
    parse_text(yaml, source_name)
}

/// Parses YAML or JSON text (JSON is YAML) into a JSON value (YAML's scalar keys
/// become their text: [`super::yaml`]).
pub fn parse_text(text: &str, source_name: &str) -> Result<Value, SpecError> {
    // JSON read as JSON: a YAML parser takes several times longer over a large
    // generated document (docs/performance.md), and JSON's keys are strings already.
    if text.trim_start().starts_with('{')
        && let Ok(doc) = serde_json::from_str::<Value>(text)
    {
        return Ok(doc);
    }
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| SpecError::Syntax {
            source_name: source_name.to_owned(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
    super::yaml::to_json(yaml).map_err(|message| SpecError::Syntax {
        source_name: source_name.to_owned(),
        line: None,
        message,
    })
}

/// Which OpenAPI the document is written in, and so which schema dialect it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAPI 3.0.x: schemas are its JSON Schema subset (`nullable`, boolean
    /// `exclusiveMinimum`), converted to 2020-12 for validation.
    OpenApi30,
    /// OpenAPI 3.1.x: schemas are JSON Schema 2020-12, used as they are.
    OpenApi31,
}

impl Dialect {
    /// The dialect of a document whose version [`check_version`] accepted (3.0 when
    /// the field is missing or unknown).
    pub fn of(doc: &Value) -> Dialect {
        match doc.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.1") => Dialect::OpenApi31,
            _ => Dialect::OpenApi30,
        }
    }
}

/// Refuses anything but OpenAPI 3.0.x and 3.1.x, naming what was found.
pub fn check_version(doc: &Value, source_name: &str) -> Result<Dialect, SpecError> {
    let version_error = |message: String| SpecError::Version {
        source_name: source_name.to_owned(),
        message,
    };
    if let Some(swagger) = doc.get("swagger") {
        return Err(version_error(format!(
            "this is a Swagger {swagger} document; revkeen-mock reads OpenAPI 3.0.x and 3.1.x (convert it first, e.g. with swagger2openapi)"
        )));
    }
    match doc.get("openapi").and_then(Value::as_str) {
        None => Err(version_error(
            "no `openapi` field: this is not an OpenAPI document (revkeen-mock reads OpenAPI 3.0.x and 3.1.x)".into(),
        )),
        Some(v) if v.starts_with("3.0.") || v == "3.0" => Ok(Dialect::OpenApi30),
        Some(v) if v.starts_with("3.1.") || v == "3.1" => Ok(Dialect::OpenApi31),
        Some(v) => Err(version_error(format!(
            "OpenAPI {v} is not supported: revkeen-mock reads OpenAPI 3.0.x and 3.1.x"
        ))),
    }
}

/// The parts of a 3.1 document that hold a schema, besides `components.schemas`: a
/// parameter's, a header's and a media type's `schema`. Every other part of the
/// structure is shared with 3.0.
const SCHEMA_KEY: &str = "schema";

/// A 3.1 document as `openapiv3` can read it: every schema replaced by `{}` (the
/// compiler reads schemas from the document itself), `webhooks` and
/// `components.pathItems` left out (listed apart, nothing is served for them), and
/// `paths` present (3.1 allows a document of webhooks or components only).
pub fn structural_view(doc: &Value) -> Value {
    fn strip(value: &mut Value, in_examples: bool) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if !in_examples && key == SCHEMA_KEY && v.is_object() {
                        *v = Value::Object(Map::new());
                    } else {
                        // Example values are data: a field named `schema` in them is
                        // not a schema, and nothing in them needs stripping.
                        let examples = in_examples || key == "example" || key == "examples";
                        if !examples {
                            strip(v, false);
                        }
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| strip(v, in_examples)),
            _ => {}
        }
    }
    let mut view = doc.clone();
    if let Value::Object(root) = &mut view {
        root.insert("openapi".into(), Value::String("3.0.3".into()));
        root.remove("webhooks");
        root.remove("jsonSchemaDialect");
        root.entry("paths")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(Value::Object(components)) = root.get_mut("components") {
            components.remove("pathItems");
            if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
                schemas
                    .values_mut()
                    .for_each(|s| *s = Value::Object(Map::new()));
            }
        }
    }
    strip(&mut view, false);
    view
}

/// Deserializes the typed OpenAPI model, reporting the JSON pointer of a structural error.
pub fn typed(doc: &Value, source_name: &str) -> Result<openapiv3::OpenAPI, SpecError> {
    // Read without tracking the path first (serde_path_to_error's wrapper costs a
    // third of the time on every value); only a document that fails is read again to
    // find where.
    if let Ok(typed) = <openapiv3::OpenAPI as serde::Deserialize>::deserialize(doc) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let pointer = path_to_pointer(&e.path().to_string());
        SpecError::Structure {
            location: Location {
                source: source_name.to_owned(),
                pointer,
            },
            message: e.inner().to_string(),
        }
    })
}

/// Turns serde_path_to_error's dotted path (`paths./integrations.get`) into a pointer.
/// (A key that itself holds a dot is split in two; such keys are rare in OpenAPI.)
fn path_to_pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for segment in path.split('.') {
        out.push('/');
        out.push_str(&escape_pointer(segment));
    }
    out
}

/// The value a JSON pointer (RFC 6901) names, like [`Value::pointer`] but without
/// allocating: serde_json's unescapes every segment into a new string, which made
/// the lookups two fifths of loading the embedded contract (docs/performance.md).
pub fn lookup<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(doc);
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').try_fold(doc, |target, segment| {
        let unescaped;
        let token = if segment.contains('~') {
            unescaped = segment.replace("~1", "/").replace("~0", "~");
            unescaped.as_str()
        } else {
            segment
        };
        match target {
            Value::Object(map) => map.get(token),
            Value::Array(items) => {
                // RFC 6901: an index is digits without a leading zero.
                if token.starts_with('+') || (token.len() > 1 && token.starts_with('0')) {
                    return None;
                }
                token.parse::<usize>().ok().and_then(|i| items.get(i))
            }
            _ => None,
        }
    })
}

/// Escapes one pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_reads_pointers_as_serde_json_does() {
        let doc = serde_json::json!({
            "a": {"b/c": [10, {"d~e": true}], "": 1},
            "paths": {"/x/{id}": {"get": {"responses": {"200": "ok"}}}}
        });
        for pointer in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/",
            "/paths/~1x~1{id}/get/responses/200",
            "/a/b~1c/01",
            "/a/b~1c/+1",
            "/a/b~1c/2",
            "/missing",
            "a",
            "/a/b~1c/0/deeper",
        ] {
            assert_eq!(lookup(&doc, pointer), doc.pointer(pointer), "{pointer:?}");
        }
    }

    #[test]
    fn integer_keys_become_strings() {
        let v = parse_text("responses:\n  200: {description: ok}\n", "t").unwrap();
        assert!(v["responses"]["200"].is_object());
    }

    #[test]
    fn openapi_3_0_and_3_1_are_read_and_others_named() {
        let v = parse_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\n", "t").unwrap();
        assert_eq!(check_version(&v, "t.yaml").unwrap(), Dialect::OpenApi31);
        let v = parse_text("openapi: 3.0.3\n", "t").unwrap();
        assert_eq!(check_version(&v, "t.yaml").unwrap(), Dialect::OpenApi30);
        let v = parse_text("openapi: 3.2.0\n", "t").unwrap();
        let message = check_version(&v, "t.yaml").unwrap_err().to_string();
        assert!(message.contains("3.2.0"), "{message}");
        assert!(message.contains("3.1.x"), "{message}");
    }

    #[test]
    fn the_structural_view_keeps_the_structure_and_empties_the_schemas() {
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "summary": "3.1 only"},
            "webhooks": {"w": {}},
            "components": {"schemas": {"A": {"type": ["string", "null"]}}},
            "paths": {"/a": {"get": {
                "parameters": [{"name": "q", "in": "query", "schema": {"const": 1}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"prefixItems": [{"type": "string"}]},
                    "example": {"schema": {"type": ["x"]}}
                }}}}
            }}}
        });
        let view = structural_view(&doc);
        assert_eq!(view["openapi"], "3.0.3");
        assert!(view.get("webhooks").is_none());
        assert_eq!(view["components"]["schemas"]["A"], serde_json::json!({}));
        let get = &view["paths"]["/a"]["get"];
        assert_eq!(get["parameters"][0]["schema"], serde_json::json!({}));
        let media = &get["responses"]["200"]["content"]["application/json"];
        assert_eq!(media["schema"], serde_json::json!({}));
        assert_eq!(
            media["example"]["schema"]["type"][0], "x",
            "examples are data"
        );
        let typed: openapiv3::OpenAPI = serde_json::from_value(view).unwrap();
        assert_eq!(typed.paths.paths.len(), 1);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_text("a: [1, 2\nb: c\n", "broken.yaml").unwrap_err();
        assert!(
            matches!(err, SpecError::Syntax { line: Some(_), .. }),
            "{err}"
        );
        assert!(err.to_string().contains("broken.yaml"));
    }
}
