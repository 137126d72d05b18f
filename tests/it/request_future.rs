//! The size of a request's future: it holds every state the pipeline can be suspended
//! in, nested futures inline. The admin API's, self-service's and fault injection's
//! futures are boxed, so an API request in flight does not hold kilobytes it never
//! uses; inline they cost 3 to 7% of the server's CPU per GET under 64 connections,
//! with the same instructions
//! (docs/performance.md, "Where the rest went"). Instruction counts cannot see this
//! (scripts/instructions); the size can.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use revkeen_mock::server::{ServerConfig, handle};
use revkeen_mock::sim::SimConfig;

use crate::common::{app, contract};

/// The most a request's future may take: about a tenth over its 3,016 bytes in the test
/// build (`cargo test`'s profile; 3,344 before `handle` held the request once, 3,800
/// before the request's head was lent to `api`, 4,488 before the boxing).
const LIMIT: usize = 3_300;

#[test]
fn a_request_future_stays_small() {
    let app = app(SimConfig::default(), contract(), ServerConfig::default());
    let request = Request::get("/v2/integrations")
        .body(Full::new(Bytes::new()))
        .expect("a valid request");
    let future = handle(&app, request);
    let size = std::mem::size_of_val(&future);
    assert!(
        size <= LIMIT,
        "a request's future takes {size} bytes, over {LIMIT}: a large future awaited inline \
         on the request path (box it when it is rare, docs/performance.md)"
    );
}
