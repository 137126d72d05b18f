//! The HTTP side of the admin API: a `/__mock` request read, answered by the control
//! plane, and rendered (JSON in the envelope, or the dashboard page).

use hyper::http::request::Parts;

use super::App;
use super::input::{RequestBody, read_body, wall_now};
use super::reply::Reply;
use crate::control::admin;
use crate::spec::HeaderLookup;

/// A `/__mock` request: read, answered by the control plane, rendered in the envelope.
pub(super) async fn admin_request(
    app: &App,
    parts: &Parts,
    body: impl RequestBody,
    rid: &str,
) -> Reply {
    let bytes = match read_body(body, &parts.headers, app.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return Reply::error(&e, rid, None),
    };
    let request = admin::AdminRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        authorization: parts.headers.header("authorization"),
        content_type: parts.headers.header("content-type"),
        host: parts.headers.header("host"),
        body: &bytes,
    };
    let answer = admin::handle(
        &app.control,
        &*app.store,
        &request,
        wall_now(),
        &admin::ServerFacts {
            api: &app.contract,
            spec_title: &app.contract.title,
            uptime: app.started.elapsed(),
        },
    )
    .await;
    if let Some(html) = answer.html {
        return Reply::html(html, answer.operation);
    }
    match answer.result {
        Ok(value) => Reply::json(200, value, answer.operation),
        Err(e) => Reply::error(&e, rid, answer.operation),
    }
}
