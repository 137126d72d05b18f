//! Requests through the server's pipeline in process, to count under callgrind the
//! instructions the pipeline alone costs (no socket, no hyper, no runtime): a profiling
//! aid beside `scripts/instructions`, which guards the served binary. `instructions KIND
//! N` warms up past the journal's capacity, then sends N requests of KIND (`get`: `GET
//! /v2/integrations/practicehub`; `put`: `PUT .../sync-interval`, alternating 30 and 60
//! so each write changes the merchant). Run it with two values of N and divide the
//! difference, so start-up and warm-up cancel out:
//!
//! ```text
//! cargo build --release --example instructions
//! taskset -c 0 valgrind --tool=callgrind target/release/examples/instructions get 1300
//! ```

use revkeen_mock::server::handle;

#[path = "../benches/support/mod.rs"]
mod support;
use support::request;

#[global_allocator]
static GLOBAL: revkeen_mock::alloc::Allocator = revkeen_mock::alloc::Allocator;

/// Past the journal's capacity (1,000), so every measured request also evicts one.
const WARM_UP: usize = 1_100;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let one = |i: usize| match kind.as_str() {
        "get" => request("GET", "/v2/integrations/practicehub", None),
        "put" => request(
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            Some(if i.is_multiple_of(2) {
                r#"{"syncIntervalMinutes":30}"#
            } else {
                r#"{"syncIntervalMinutes":60}"#
            }),
        ),
        other => panic!("usage: instructions get|put N (not {other:?})"),
    };
    let (rt, app) = support::set_up();
    rt.block_on(async {
        for i in 0..WARM_UP + n {
            let r = handle(&app, one(i)).await;
            assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200));
        }
    });
}
