//! Checking one exchange against an operation: the request's parameters and body on
//! the way in, the response's status, headers and body on the way out.

use serde_json::Value;

use super::{Contract, MediaType, Operation, ParamLocation, Reading, Response, Violation};

/// Read access to a message's headers, case-insensitively, whatever holds them.
pub trait HeaderLookup {
    /// The first value of header `name`, when present and valid text.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderLookup for [(String, String)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parameter values after coercion, validation and defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedParams<'op> {
    /// (name, location, value), for every parameter sent or defaulted; names are the
    /// operation's own.
    pub values: Vec<(&'op str, ParamLocation, Value)>,
}

impl ParsedParams<'_> {
    /// The value of the parameter `name` (any location).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, _, v)| v)
    }
}

/// Turns wire text into the JSON type its schema expects, so `limit=abc` is reported
/// as "not an integer" rather than as a string failing an integer schema.
fn coerce(text: &str, scalar_type: Option<&str>) -> Result<Value, String> {
    match scalar_type {
        // Past 64 bits an integer is kept as a whole float: a schema without a maximum
        // accepts it (the mock clamps a huge page size like any other).
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .or_else(|_| {
                let digits = text.strip_prefix('-').unwrap_or(text);
                let whole = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                whole
                    .then(|| {
                        text.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                    })
                    .flatten()
                    .map(Value::Number)
                    .ok_or(())
            })
            .map_err(|_| format!("'{text}' is not an integer")),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{text}' is not a number")),
        Some("boolean") => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("'{text}' is not a boolean (true or false)")),
        },
        _ => Ok(Value::String(text.to_owned())),
    }
}

impl Operation {
    /// Checks and types every declared parameter of a request.
    ///
    /// `path_params` come from the matcher; `query` is the raw query string. Every
    /// problem is returned, not only the first.
    pub fn parse_params<'op>(
        &'op self,
        path_params: &[(String, String)],
        query: Option<&str>,
        headers: &(impl HeaderLookup + ?Sized),
    ) -> Result<ParsedParams<'op>, Vec<Violation>> {
        let query_pairs: Vec<(String, String)> = query
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut parsed = ParsedParams::default();
        let mut violations = Vec::new();
        for p in &self.parameters {
            let raw: Option<&str> = match p.location {
                ParamLocation::Path => path_params
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map(|(_, v)| v.as_str()),
                ParamLocation::Query => query_pairs
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map(|(_, v)| v.as_str()),
                ParamLocation::Header => headers.header(&p.name),
                ParamLocation::Cookie => None,
            };
            let Some(raw) = raw else {
                if p.required && p.location != ParamLocation::Cookie {
                    violations.push(Violation {
                        field: p.name.clone(),
                        message: "is required".into(),
                    });
                } else if let Some(d) = &p.default {
                    parsed.values.push((&p.name, p.location, d.clone()));
                }
                continue;
            };
            match coerce(raw, p.scalar_type.as_deref()) {
                Err(message) => violations.push(Violation {
                    field: p.name.clone(),
                    message,
                }),
                Ok(value) => {
                    if let Some(schema) = &p.schema {
                        violations.extend(schema.violations_at(&value, &p.name));
                    }
                    parsed.values.push((&p.name, p.location, value));
                }
            }
        }
        if violations.is_empty() {
            Ok(parsed)
        } else {
            Err(violations)
        }
    }

    /// Whether the operation declares a body at all.
    pub fn accepts_body(&self) -> bool {
        self.request_body.is_some()
    }

    /// The schema of the operation's JSON request body, when it declares one.
    pub fn json_body_schema(&self) -> Option<&super::Schema> {
        self.request_body
            .as_ref()?
            .media
            .iter()
            .find(|m| is_json(&m.content_type))?
            .schema
            .as_ref()
    }

    /// Checks a JSON request body (`None` when the request had none).
    pub fn body_violations(&self, body: Option<&Value>) -> Vec<Violation> {
        let Some(rb) = &self.request_body else {
            return Vec::new();
        };
        let Some(body) = body else {
            return if rb.required {
                vec![Violation {
                    field: String::new(),
                    message: "a JSON body is required".into(),
                }]
            } else {
                Vec::new()
            };
        };
        rb.media
            .iter()
            .find(|m| is_json(&m.content_type))
            .and_then(|m| m.schema.as_ref())
            .map(|s| s.violations(body))
            .unwrap_or_default()
    }
}

/// Whether a content type is JSON (`application/json`, `application/problem+json`, ...),
/// ignoring parameters such as `charset`.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl Contract {
    /// Every way a response breaks the contract in `reading`: an undocumented status,
    /// a wrong content type, a missing or invalid documented header, or a body that
    /// does not validate. `operation` is `None` for answers that belong to no
    /// operation (an unknown path, a wrong method): those follow the document's
    /// `x-unmatched-responses`, else must be in the `Error` envelope.
    pub fn response_violations(
        &self,
        operation: Option<&Operation>,
        status: u16,
        headers: &(impl HeaderLookup + ?Sized),
        body: Option<&Value>,
        reading: Reading,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(response) = self.response_entry(operation, status) else {
            match operation {
                Some(op) => out.push(Violation {
                    field: "status".into(),
                    message: format!(
                        "{status} is not documented for {} ({} {})",
                        op.id, op.method, op.path
                    ),
                }),
                // An answer outside any operation that the document does not describe
                // must still be in the error envelope.
                None => {
                    if let (Some(schema), Some(body)) = (&self.error_schema, body) {
                        out.extend(schema.violations_in(body, "body", reading));
                    }
                }
            }
            return out;
        };
        check_headers(response, headers, reading, &mut out);
        check_body(
            response,
            headers.header("content-type"),
            body,
            reading,
            &mut out,
        );
        out
    }

    /// The documented response for `status`: the operation's, or for an answer that
    /// matches no operation, the document's `x-unmatched-responses`.
    fn response_entry<'a>(
        &'a self,
        operation: Option<&'a Operation>,
        status: u16,
    ) -> Option<&'a Response> {
        match operation {
            Some(op) => op.response_for(status),
            None => self.unmatched.iter().find(|r| r.status.covers(status)),
        }
    }

    /// What a response body holds beyond what the exact reading knows (unknown fields,
    /// enum values, error codes): allowed by the versioning policy, reported by
    /// `conform` as forward-compatible warnings.
    pub fn response_unknowns(
        &self,
        operation: Option<&Operation>,
        status: u16,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        let Some(body) = body else {
            return Vec::new();
        };
        let schema = match self.response_entry(operation, status) {
            Some(r) => media_for(r, content_type).and_then(|m| m.schema.as_ref()),
            None if operation.is_none() => self.error_schema.as_ref(),
            None => None,
        };
        schema.map_or_else(Vec::new, |s| s.unknowns(body, "body"))
    }
}

/// The documented media type matching a response's content type.
fn media_for<'a>(response: &'a Response, content_type: Option<&str>) -> Option<&'a MediaType> {
    let essence = content_type?.split(';').next().unwrap_or("").trim();
    response
        .media
        .iter()
        .find(|m| m.content_type.eq_ignore_ascii_case(essence))
}

fn check_headers(
    response: &Response,
    headers: &(impl HeaderLookup + ?Sized),
    reading: Reading,
    out: &mut Vec<Violation>,
) {
    for h in response.headers.iter() {
        let required = match reading {
            Reading::Promised => h.required,
            Reading::Exact => h.required_exact,
        };
        match headers.header(&h.name) {
            None if required => out.push(Violation {
                field: format!("header {}", h.name),
                message: "is documented as required but missing".into(),
            }),
            None => {}
            Some(text) => match coerce(text, h.scalar_type.as_deref()) {
                Err(message) => out.push(Violation {
                    field: format!("header {}", h.name),
                    message,
                }),
                Ok(v) => {
                    if let Some(s) = &h.schema {
                        out.extend(s.violations_in(&v, &format!("header {}", h.name), reading));
                    }
                }
            },
        }
    }
}

fn check_body(
    response: &Response,
    content_type: Option<&str>,
    body: Option<&Value>,
    reading: Reading,
    out: &mut Vec<Violation>,
) {
    if response.media.is_empty() {
        if body.is_some() {
            out.push(Violation {
                field: "body".into(),
                message: "the response documents no body but one was sent".into(),
            });
        }
        return;
    }
    let Some(ct) = content_type else {
        out.push(Violation {
            field: "header content-type".into(),
            message: "is missing on a response with a body".into(),
        });
        return;
    };
    let Some(media) = media_for(response, Some(ct)) else {
        let documented: Vec<&str> = response
            .media
            .iter()
            .map(|m| m.content_type.as_str())
            .collect();
        out.push(Violation {
            field: "header content-type".into(),
            message: format!(
                "'{ct}' is not documented (expected {})",
                documented.join(" or ")
            ),
        });
        return;
    };
    if !is_json(&media.content_type) {
        // A page or other text: its schema (a string) says nothing more to check.
        return;
    }
    match (body, &media.schema) {
        (None, _) => out.push(Violation {
            field: "body".into(),
            message: "is missing or not valid JSON".into(),
        }),
        (Some(b), Some(schema)) => out.extend(schema.violations_in(b, "body", reading)),
        (Some(_), None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_names_the_expected_type() {
        assert_eq!(coerce("12", Some("integer")), Ok(Value::from(12)));
        assert!(
            coerce("abc", Some("integer"))
                .unwrap_err()
                .contains("not an integer")
        );
        assert!(coerce("yes", Some("boolean")).is_err());
        assert_eq!(coerce("x", None), Ok(Value::from("x")));
    }

    #[test]
    fn json_content_types_ignore_parameters() {
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
    }
}
