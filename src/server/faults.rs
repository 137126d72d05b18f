//! Fault injection on the request path: the control plane's rules that delay a request,
//! replace its answer with an error or a 429, or drop its connection.

use hyper::HeaderMap;

use super::App;
use super::pipeline::Context;
use super::reply::Reply;
use crate::api::ApiError;
use crate::control::faults;
use crate::spec::HeaderLookup;
use crate::store::Session;

/// Whether a fault rule may apply to a request: a shared store's rules are read with
/// the request (another replica may have staged one), a store of this process's own
/// only when one is armed. Checked before [`inject_faults`], whose future is boxed:
/// most requests meet no rule.
pub(super) fn may_inject(app: &App) -> bool {
    app.store.shared().is_some() || app.control.faults.armed()
}

/// Applies the fault rules matching this request (of `session`, when its key was
/// accepted): delays are waited out; an error or a 429 replaces the answer; a dropped
/// connection sets `dropped` (the connection is closed with no answer).
pub(super) async fn inject_faults(
    app: &App,
    index: usize,
    path_params: &[(String, String)],
    headers: &HeaderMap,
    rid: &str,
    ctx: &mut Context,
    session: Option<&Session>,
) -> Option<Reply> {
    let op = &app.contract.operations[index];
    let provider = path_params
        .iter()
        .find(|(n, _)| n == "provider")
        .and_then(|(_, v)| v.parse().ok());
    let facts = faults::RequestFacts {
        method: op.method.as_str(),
        template: &op.path,
        provider,
        key: headers.header("x-api-key"),
    };
    let effects = match app
        .control
        .faults
        .effects(&*app.store, session, &facts)
        .await
    {
        Ok(effects) => effects,
        Err(e) => return Some(Reply::error(&e.into(), rid, Some(index))),
    };
    for effect in effects {
        match effect {
            faults::Effect::Delay(d) => tokio::time::sleep(d).await,
            faults::Effect::Error(status) => {
                ctx.injected = true;
                return Some(Reply::error(&ApiError::injected(status), rid, Some(index)));
            }
            faults::Effect::RateLimit(secs) => {
                ctx.injected = true;
                return Some(Reply::error(
                    &ApiError::injected_rate_limit(secs),
                    rid,
                    Some(index),
                ));
            }
            faults::Effect::Drop => {
                ctx.drop = true;
                ctx.injected = true;
                return Some(Reply::empty(0, Some(index)));
            }
        }
    }
    None
}
