//! The HTTP side of the self-service API: a `/__mock/self` request read, answered by
//! the control plane with the caller's key, and rendered in the API's envelope.

use hyper::http::request::Parts;

use super::App;
use super::input::{RequestBody, read_body, wall_now};
use super::reply::Reply;
use crate::control::self_service::{self, SelfRequest, SelfService};
use crate::spec::HeaderLookup;

/// A `/__mock/self` request: read, answered, rendered.
pub(super) async fn self_request(
    app: &App,
    service: &SelfService,
    parts: &Parts,
    body: impl RequestBody,
    rid: &str,
) -> Reply {
    let bytes = match read_body(body, &parts.headers, app.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return Reply::error(&e, rid, None),
    };
    let request = SelfRequest {
        api: &app.contract,
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        api_key: parts.headers.header("x-api-key"),
        content_type: parts.headers.header("content-type"),
        body: &bytes,
    };
    let answer =
        self_service::handle(&app.control, service, &*app.store, &request, wall_now()).await;
    if let Some(html) = answer.html {
        return Reply::html(html, answer.operation);
    }
    match answer.result {
        Ok(value) => Reply::json(200, value, answer.operation),
        Err(e) => Reply::error(&e, rid, answer.operation),
    }
}
