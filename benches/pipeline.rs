//! Cost of one request through the server's pipeline, in-process (no socket, no load
//! generator sharing the cores), with the heap allocations it makes: a steadier figure
//! than `scripts/bench` to work on the pipeline with, printed with ratios against a
//! "hello world" handler measured in the same run on the same requests.
//!
//! Run: `cargo bench --bench pipeline [-- NAME-FILTER]`. Request logs are formatted (into a sink) as the
//! server formats them.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use revkeen_mock::server::handle;
use revkeen_mock::sim::Timestamp;

/// Counts allocations, to report how many a request makes.
/// Each is handed to the binary's allocator (`revkeen_mock::alloc::Allocator`, mimalloc).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { revkeen_mock::alloc::Allocator.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { revkeen_mock::alloc::Allocator.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { revkeen_mock::alloc::Allocator.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

mod support;
use support::request;

const ROUNDS: usize = 31;
const PER_ROUND: usize = 2_000;

/// What a bare hyper "hello world" does with a request.
async fn hello(req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    drop(black_box(req));
    Response::new(Full::new(Bytes::from_static(b"hello world")))
}

struct Figures {
    median_ns: f64,
    allocations: f64,
    bytes: f64,
}

/// Median time per request over [`ROUNDS`] rounds, and allocations per request.
fn measure<F: std::future::Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    mut round: impl FnMut() -> F,
) -> Figures {
    rt.block_on(round()); // warm-up
    let mut times = Vec::with_capacity(ROUNDS);
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED.load(Ordering::Relaxed),
    );
    for _ in 0..ROUNDS {
        let t = Instant::now();
        rt.block_on(round());
        times.push(t.elapsed());
    }
    let n = (ROUNDS * PER_ROUND) as f64;
    times.sort();
    Figures {
        median_ns: times[ROUNDS / 2].as_nanos() as f64 / PER_ROUND as f64,
        allocations: (ALLOCATIONS.load(Ordering::Relaxed) - a0) as f64 / n,
        bytes: (ALLOCATED.load(Ordering::Relaxed) - b0) as f64 / n,
    }
}

fn main() {
    let (rt, app) = support::set_up();
    // 25 scheduled runs (one minute after activation, then every 15): 100 log entries.
    rt.block_on(app.store.change_clock(Timestamp(0), &|c| {
        c.advance(std::time::Duration::from_secs(60 + 24 * 900))
    }))
    .expect("the in-memory store is always available");

    // A 500-package catalog, for a replacement of 500 product mappings.
    let packages: Vec<String> = (0..500)
        .map(|n| format!(r#"{{"id":"pkg_{n}","name":"Package {n}","packageType":"service","chargeType":"one_time","priceMinor":1000,"active":true}}"#))
        .collect();
    let catalog: &'static str =
        Box::leak(format!(r#"{{"packages":[{}]}}"#, packages.join(",")).into_boxed_str());
    let set = rt.block_on(handle(
        &app,
        request(
            "PUT",
            "/__mock/tenants/rk_sandbox_bench_merchant_key_0001/catalogs/practicehub",
            Some(catalog),
        ),
    ));
    assert_eq!(set.map(|r| r.status().as_u16()).ok(), Some(200));
    let mappings: Vec<String> = (0..500)
        .map(|n| {
            format!(
                r#"{{"externalId":"pkg_{n}","internalId":"prod_{}"}}"#,
                n % 8
            )
        })
        .collect();
    let mappings: &'static str =
        Box::leak(format!(r#"{{"mappings":[{}]}}"#, mappings.join(",")).into_boxed_str());

    // (name, method, path, body, the status expected)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        u16,
    );
    let cases: [Case; 6] = [
        (
            "GET /v2/integrations/practicehub",
            "GET",
            "/v2/integrations/practicehub",
            None,
            200,
        ),
        ("GET /v2/integrations", "GET", "/v2/integrations", None, 200),
        (
            "PUT .../practicehub/sync-interval",
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            Some(r#"{"syncIntervalMinutes":30}"#),
            200,
        ),
        (
            "GET .../sync-logs?limit=100",
            "GET",
            "/v2/integrations/practicehub/sync-logs?limit=100",
            None,
            200,
        ),
        (
            "PUT .../product-mappings (500)",
            "PUT",
            "/v2/integrations/practicehub/product-mappings",
            Some(mappings),
            200,
        ),
        ("GET /v2/nope (404)", "GET", "/v2/nope", None, 404),
    ];

    println!(
        "pipeline benchmark (in-process, one thread; median of {ROUNDS} rounds of {PER_ROUND})"
    );
    let base = measure(&rt, || async {
        for _ in 0..PER_ROUND {
            black_box(hello(request("GET", "/v2/integrations/practicehub", None)).await);
        }
    });
    println!(
        "  {:<38} {:>8.0} ns {:>6.1} allocs {:>7.0} B   (baseline)",
        "hello world handler", base.median_ns, base.allocations, base.bytes
    );
    // `cargo bench` passes `--bench`; any other argument selects cases by name.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    for (name, method, path, body, status) in cases {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let f = measure(&rt, || async {
            for _ in 0..PER_ROUND {
                let response = handle(&app, request(method, path, body)).await;
                let answered = black_box(response.map(|r| r.status().as_u16()));
                assert_eq!(answered.ok(), Some(status), "{name}");
            }
        });
        println!(
            "  {:<38} {:>8.0} ns {:>6.1} allocs {:>7.0} B   {:5.1}x baseline time",
            name,
            f.median_ns,
            f.allocations,
            f.bytes,
            f.median_ns / base.median_ns
        );
    }

    // Two threads reading the same merchant at once, as the server's two workers do
    // under load: the time per request beside the one-thread figure shows what the
    // locks and shared counters they both touch cost.
    if filter.is_none_or(|f| "two threads".contains(f.as_str())) {
        let path = "/v2/integrations/practicehub";
        let one = measure(&rt, || async {
            for _ in 0..PER_ROUND {
                black_box(handle(&app, request("GET", path, None)).await.ok());
            }
        });
        let mut rounds: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .build()
                                .expect("a runtime");
                            rt.block_on(async {
                                for _ in 0..PER_ROUND {
                                    black_box(handle(&app, request("GET", path, None)).await.ok());
                                }
                            });
                        });
                    }
                });
                // Each thread answered PER_ROUND requests in the elapsed time.
                t.elapsed().as_nanos() as f64 / PER_ROUND as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        let two = rounds[ROUNDS / 2];
        println!(
            "  {:<38} {:>8.0} ns per request per thread, {:.2}x one thread ({:.0} ns)",
            "GET .../practicehub, two threads",
            two,
            two / one.median_ns,
            one.median_ns
        );
    }
}
