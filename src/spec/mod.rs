//! The compiled contract: an OpenAPI 3.0 or 3.1 document turned, once at start-up, into an
//! operation table, a path matcher and validators for parameters, bodies and responses.
//!
//! Nothing here knows about integrations or state: the server asks the contract what a
//! request means and whether a response may be sent, and the conformance runner asks
//! it what a deployment may answer.
//!
//! ```
//! use revkeen_mock::spec::{Contract, Method, RouteMatch};
//!
//! let contract = Contract::embedded().expect("the embedded spec is servable");
//! match contract.resolve(Method::Put, "/v2/integrations/wodify/sync-toggle") {
//!     RouteMatch::Found { operation, params } => {
//!         assert_eq!(contract.operations[operation].id, "toggleIntegrationSync");
//!         assert_eq!(params, vec![("provider".to_string(), "wodify".to_string())]);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

mod compile;
mod compile_operation;
mod error;
pub mod load;
mod matcher;
mod sample;
mod schema;
mod validate;
pub(crate) mod yaml;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::Value;

pub use error::{Location, SpecError};
pub use matcher::{PathTemplate, RouteMatch};
pub use schema::{Reading, Schema, Violation};
pub use validate::{HeaderLookup, ParsedParams, is_json};

/// An HTTP method as OpenAPI names operations (`get`, `put`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `HEAD`
    Head,
    /// `PATCH`
    Patch,
    /// `TRACE`
    Trace,
}

impl Method {
    /// Every method, in the order OpenAPI path items list them.
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Options,
        Method::Head,
        Method::Patch,
        Method::Trace,
    ];

    /// The upper-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Head => "HEAD",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
        }
    }

    /// Whether the method carries a body that `Idempotency-Key` protects.
    pub fn is_mutation(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// Where a parameter is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A request header (names compared case-insensitively).
    Header,
    /// A cookie (declared by some documents; never validated by the mock).
    Cookie,
}

/// One declared parameter of an operation.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// The name as declared (`limit`, `Idempotency-Key`).
    pub name: String,
    /// Where it is sent.
    pub location: ParamLocation,
    /// Whether a request without it is invalid.
    pub required: bool,
    /// The scalar type wire text is coerced to before validation (`integer`, ...).
    pub scalar_type: Option<String>,
    /// The compiled schema, when the parameter declares one.
    pub schema: Option<Schema>,
    /// The schema's `default`, applied when the parameter is absent.
    pub default: Option<Value>,
}

/// A media type of a request or response body.
#[derive(Debug, Clone)]
pub struct MediaType {
    /// `application/json`, as declared.
    pub content_type: String,
    /// The compiled schema, when one is declared.
    pub schema: Option<Schema>,
    /// The declared examples (`example`, or every value of `examples`), by name.
    pub examples: Vec<(String, Value)>,
}

/// An operation's request body.
#[derive(Debug, Clone)]
pub struct RequestBody {
    /// Whether a request without a body is invalid.
    pub required: bool,
    /// The accepted media types (shared: a cached part of the contract).
    pub media: Arc<[MediaType]>,
}

/// Which statuses a response entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKey {
    /// One status, such as `200`.
    Code(u16),
    /// A class, such as `2XX` (holds the first digit).
    Range(u16),
    /// `default`: anything not listed.
    Default,
}

impl StatusKey {
    fn parse(key: &openapiv3::StatusCode) -> Self {
        match key {
            openapiv3::StatusCode::Code(c) => StatusKey::Code(*c),
            openapiv3::StatusCode::Range(r) => StatusKey::Range(*r),
        }
    }

    /// Whether `status` falls under this key (`Default` covers everything).
    pub fn covers(self, status: u16) -> bool {
        match self {
            StatusKey::Code(c) => c == status,
            StatusKey::Range(r) => status / 100 == r,
            StatusKey::Default => true,
        }
    }
}

impl fmt::Display for StatusKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusKey::Code(c) => write!(f, "{c}"),
            StatusKey::Range(r) => write!(f, "{r}XX"),
            StatusKey::Default => f.write_str("default"),
        }
    }
}

/// A declared response header.
#[derive(Debug, Clone)]
pub struct ResponseHeader {
    /// The header's name as declared.
    pub name: String,
    /// Whether every such response must carry it (what the API promises).
    pub required: bool,
    /// Whether the mock always sends it (`x-mock-exact: {required: true}`), checked in
    /// the exact reading.
    pub required_exact: bool,
    /// Its compiled schema, applied to the header's text coerced to the schema's type.
    pub schema: Option<Schema>,
    /// The scalar type its text is coerced to.
    pub scalar_type: Option<String>,
}

/// One declared response of an operation.
#[derive(Debug, Clone)]
pub struct Response {
    /// The statuses it covers.
    pub status: StatusKey,
    /// Its declared headers.
    pub headers: Arc<[ResponseHeader]>,
    /// Its media types; empty for a response without a body.
    pub media: Arc<[MediaType]>,
    /// Names of the operations its `links` lead to.
    pub links: Vec<String>,
}

/// One operation: a method on a path template, with everything needed to check a
/// request to it and a response from it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The `operationId` (or `METHOD path` when the document gives none).
    pub id: String,
    /// The method.
    pub method: Method,
    /// The path template as written (`/integrations/{provider}`), without the base path.
    pub path: String,
    /// The one-line summary.
    pub summary: String,
    /// Path-level and operation-level parameters, merged (the operation's win).
    pub parameters: Vec<Parameter>,
    /// The request body, when one is declared.
    pub request_body: Option<RequestBody>,
    /// The declared responses, in document order.
    pub responses: Vec<Response>,
    /// The scopes a key needs (`x-required-scopes`); empty means any valid key.
    pub required_scopes: Vec<String>,
    /// Whether the operation is marked `x-internal: true`.
    pub internal: bool,
    /// Whether a request needs a credential (`security`, the operation's or the
    /// document's): the mock answers one that does not without an API key.
    pub requires_key: bool,
    /// The statuses the document pins for an outcome of the operation
    /// (`x-outcomes: {not_active: [404]}`), by outcome name. `conform` accepts every
    /// documented status the docs allow for an outcome that is not pinned.
    pub outcomes: Vec<(String, Vec<u16>)>,
}

impl Operation {
    /// The response entry covering `status`: the exact code, else its class, else `default`.
    pub fn response_for(&self, status: u16) -> Option<&Response> {
        let find =
            |pred: &dyn Fn(StatusKey) -> bool| self.responses.iter().find(|r| pred(r.status));
        find(&|k| k == StatusKey::Code(status))
            .or_else(|| find(&|k| k == StatusKey::Range(status / 100)))
            .or_else(|| find(&|k| k == StatusKey::Default))
    }

    /// The declared statuses, for reports (`200 400 401 ...`).
    pub fn statuses(&self) -> Vec<StatusKey> {
        self.responses.iter().map(|r| r.status).collect()
    }
}

/// How serious a problem in a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The document can be served, but something in it is wrong (an example that
    /// breaks its schema, an operation without a success response).
    Warning,
    /// Part of the document cannot be compiled (an unresolvable `$ref`, an undeclared
    /// path parameter): serving it would give wrong answers.
    Error,
}

/// One problem found while compiling a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// How serious it is.
    pub severity: Severity,
    /// Where it is.
    pub location: Location,
    /// What is wrong, and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev} at {}: {}", self.location, self.message)
    }
}

/// The compiled contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Where the document came from.
    pub source: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// The document's `openapi` field.
    pub openapi: String,
    /// The first server URL's path (`/v2`), under which every path is served.
    pub base_path: String,
    /// Every operation, in document order.
    pub operations: Vec<Operation>,
    /// The names under `components/schemas`.
    pub schema_names: Vec<String>,
    /// The document's webhooks (3.1): requests the API would send, listed by
    /// `check-spec`; nothing is served for them.
    pub webhooks: Vec<Webhook>,
    /// The `Error` component, used for answers that belong to no operation (404, 405).
    pub error_schema: Option<Schema>,
    /// The documented answers to requests that match no operation, by status
    /// (`x-unmatched-responses` at the document's root: an unknown path's 404, a
    /// known path's 405 with `Allow`).
    pub unmatched: Vec<Response>,
    matcher: matcher::PathMatcher,
}

/// One operation of a webhook (OpenAPI 3.1 `webhooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The webhook's name (its key under `webhooks`).
    pub name: String,
    /// The method of the request the API sends.
    pub method: Method,
    /// Its `operationId`, if it has one.
    pub id: Option<String>,
}

/// A compiled contract with the problems found on the way.
#[derive(Debug)]
pub struct Compiled {
    /// The contract; parts with an `Error` problem accept anything.
    pub contract: Contract,
    /// Every problem found, in document order.
    pub problems: Vec<Problem>,
}

impl Compiled {
    /// The contract, unless a problem makes it unfit to serve.
    pub fn into_servable(self) -> Result<Contract, SpecError> {
        let blocking: Vec<Problem> = self
            .problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        if blocking.is_empty() {
            Ok(self.contract)
        } else {
            Err(SpecError::Unusable {
                source_name: self.contract.source,
                problems: blocking,
            })
        }
    }
}

impl Contract {
    /// Loads and compiles a YAML or JSON file.
    pub fn load_file(path: &std::path::Path) -> Result<Compiled, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::load_str(&text, &path.display().to_string())
    }

    /// Loads and compiles a document's text; `source_name` is used in messages.
    pub fn load_str(text: &str, source_name: &str) -> Result<Compiled, SpecError> {
        Self::load_value(&load::parse_text(text, source_name)?, source_name)
    }

    /// Compiles a parsed document; `source_name` is used in messages.
    pub fn load_value(doc: &serde_json::Value, source_name: &str) -> Result<Compiled, SpecError> {
        let dialect = load::check_version(doc, source_name)?;
        compile::compile(doc, dialect, source_name)
    }

    /// The embedded default contract (`specs/revkeen-integrations.yaml`).
    pub fn embedded() -> Result<Contract, SpecError> {
        Self::load_embedded()?.into_servable()
    }

    /// Loads and compiles the embedded default contract, with its problems.
    pub fn load_embedded() -> Result<Compiled, SpecError> {
        let doc = load::parse_embedded(
            load::EMBEDDED_SPEC_JSON,
            load::EMBEDDED_SPEC,
            load::EMBEDDED_NAME,
        )?;
        Self::load_value(&doc, load::EMBEDDED_NAME)
    }

    /// Resolves a request's method and path (without query string).
    pub fn resolve(&self, method: Method, path: &str) -> RouteMatch {
        self.matcher.resolve(method, path)
    }

    /// Resolves a method as sent on the wire. A method no OpenAPI operation can have
    /// (`BREW`) is not allowed on a known path (405 with its methods) and not found
    /// elsewhere, like any other method the path lacks.
    pub fn resolve_text(&self, method: &str, path: &str) -> RouteMatch {
        match method.parse::<Method>() {
            Ok(m) => self.resolve(m, path),
            // TRACE is no operation's method here, so the matcher answers with the
            // path's methods, or not found.
            Err(()) => match self.resolve(Method::Trace, path) {
                RouteMatch::Found { .. } => RouteMatch::NotFound,
                other => other,
            },
        }
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }
}
