//! Reading a document: YAML or JSON text to a JSON value, with the version checked
//! before anything else so a 3.1 or Swagger 2.0 file gets a clear message.

use serde_json::{Map, Value};

use super::error::{Location, SpecError};

/// The default contract, embedded so `revkeen-mock serve` works from any directory.
pub const EMBEDDED_SPEC: &str = include_str!("../../specs/revkeen-integrations.yaml");

/// The name used in messages about the embedded document.
pub const EMBEDDED_NAME: &str = "<embedded specs/revkeen-integrations.yaml>";

/// Parses YAML or JSON text (JSON is YAML) into a JSON value.
///
/// YAML allows non-string keys (`200:` is an integer); OpenAPI keys are strings, so
/// scalars used as keys are turned into their text.
pub fn parse_text(text: &str, source_name: &str) -> Result<Value, SpecError> {
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| SpecError::Syntax {
            source_name: source_name.to_owned(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
    yaml_to_json(yaml).map_err(|message| SpecError::Syntax {
        source_name: source_name.to_owned(),
        line: None,
        message,
    })
}

fn yaml_to_json(yaml: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("the number {f} cannot be represented in JSON"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(format!("a mapping key must be a scalar, found {other:?}"));
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// Refuses anything but OpenAPI 3.0.x, naming what was found.
pub fn check_version(doc: &Value, source_name: &str) -> Result<(), SpecError> {
    let version_error = |message: String| SpecError::Version {
        source_name: source_name.to_owned(),
        message,
    };
    if let Some(swagger) = doc.get("swagger") {
        return Err(version_error(format!(
            "this is a Swagger {swagger} document; revkeen-mock needs OpenAPI 3.0.x (convert it first, e.g. with swagger2openapi)"
        )));
    }
    match doc.get("openapi").and_then(Value::as_str) {
        None => Err(version_error(
            "no `openapi` field: this is not an OpenAPI document (revkeen-mock needs OpenAPI 3.0.x)".into(),
        )),
        Some(v) if v.starts_with("3.0.") || v == "3.0" => Ok(()),
        Some(v) if v.starts_with("3.1") => Err(version_error(format!(
            "OpenAPI {v} is not supported yet: revkeen-mock needs OpenAPI 3.0.x (set `openapi: 3.0.3` and use `nullable: true` instead of type lists)"
        ))),
        Some(v) => Err(version_error(format!(
            "OpenAPI {v} is not supported: revkeen-mock needs OpenAPI 3.0.x"
        ))),
    }
}

/// Deserializes the typed OpenAPI model, reporting the JSON pointer of a structural error.
pub fn typed(doc: &Value, source_name: &str) -> Result<openapiv3::OpenAPI, SpecError> {
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

/// Escapes one pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_become_strings() {
        let v = parse_text("responses:\n  200: {description: ok}\n", "t").unwrap();
        assert!(v["responses"]["200"].is_object());
    }

    #[test]
    fn openapi_3_1_gets_a_clear_message() {
        let v = parse_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\n", "t").unwrap();
        let message = check_version(&v, "t.yaml").unwrap_err().to_string();
        assert!(message.contains("3.0.x"), "{message}");
        assert!(message.contains("3.1.0"), "{message}");
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
