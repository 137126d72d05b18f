//! Compiling the parts of an operation: its parameters, request body, responses (with
//! their headers, media types and examples) and extensions (`x-required-scopes`,
//! `x-outcomes`, `x-internal`), each problem reported with its JSON pointer.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::compile::Compiler;
use super::load::{escape_pointer, lookup};
use super::matcher::PathTemplate;
use super::{
    MediaType, Method, Operation, ParamLocation, Parameter, RequestBody, Response, ResponseHeader,
    Severity, StatusKey,
};

impl Compiler<'_> {
    pub(super) fn parameter(&mut self, pointer: &str) -> Option<Parameter> {
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

    /// The media types at `content_ptr`, compiled once and shared by every response
    /// that names them (a clone is a reference count, not a copy of their examples).
    pub(super) fn media(&mut self, content_ptr: &str) -> Arc<[MediaType]> {
        if let Some(cached) = self.media_cache.get(content_ptr) {
            return Arc::clone(cached);
        }
        let media: Arc<[MediaType]> = self.compile_media(content_ptr).into();
        self.media_cache
            .insert(content_ptr.to_owned(), media.clone());
        media
    }

    fn compile_media(&mut self, content_ptr: &str) -> Vec<MediaType> {
        let Some(Value::Object(content)) = lookup(self.doc, content_ptr) else {
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

    pub(super) fn response(&mut self, status: StatusKey, pointer: &str) -> Option<Response> {
        let (pointer, raw) = self.follow(pointer)?;
        // A shared response (`#/components/responses/Unauthorized`, used by most
        // operations) is compiled once and its problems reported once.
        if let Some(cached) = self.response_cache.get(&pointer) {
            return Some(Response {
                status,
                ..cached.clone()
            });
        }
        let response = self.compile_response(status, &pointer, raw);
        self.response_cache.insert(pointer, response.clone());
        Some(response)
    }

    fn compile_response(&mut self, status: StatusKey, pointer: &str, raw: &Value) -> Response {
        let mut headers = Vec::new();
        if let Some(Value::Object(hs)) = raw.get("headers") {
            for name in hs.keys() {
                let h_ptr = format!("{pointer}/headers/{}", escape_pointer(name));
                let Some((h_ptr, h)) = self.follow(&h_ptr) else {
                    continue;
                };
                let required = h.get("required").and_then(Value::as_bool).unwrap_or(false);
                let required_exact = required
                    || lookup(h, "/x-mock-exact/required").and_then(Value::as_bool) == Some(true);
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
        Response {
            status,
            headers: headers.into(),
            media: self.media(&format!("{pointer}/content")),
            links,
        }
    }

    pub(super) fn operation(
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
            requires_key: self.requires_key(&op_ptr),
        }
    }

    /// Whether the operation at `op_ptr` needs a credential: its own `security`, else
    /// the document's, lists a requirement and none of them is empty (`{}` makes the
    /// credential optional); a document that declares none needs none.
    fn requires_key(&self, op_ptr: &str) -> bool {
        let security =
            lookup(self.doc, &format!("{op_ptr}/security")).or_else(|| self.doc.get("security"));
        match security.and_then(Value::as_array) {
            Some(list) => {
                !list.is_empty()
                    && list
                        .iter()
                        .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            }
            None => false,
        }
    }
}
