//! Requests through the server's pipeline in-process, for `scripts/instructions` to count
//! the instructions each costs under callgrind (deterministic, unlike time on a shared
//! machine): `instructions KIND N` warms up past the journal's capacity, then sends N
//! requests of KIND (`get`: `GET /v2/integrations/practicehub`; `put`: `PUT
//! .../sync-interval`, alternating 30 and 60 so each write changes the merchant), as
//! `scripts/bench` does over a socket. The script runs it with two values of N and
//! divides the difference, so start-up and warm-up cancel out.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::log::{LineLayer, LogSink};
use revkeen_mock::server::{App, ServerConfig, handle};
use revkeen_mock::sim::{Clock, SimConfig, Timestamp};
use revkeen_mock::spec::Contract;
use revkeen_mock::store::MemoryStore;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "rk_sandbox_bench_merchant_key_0001";
/// Past the journal's capacity (1,000), so every measured request also evicts one.
const WARM_UP: usize = 1_100;

fn request(method: &str, path: &str, body: Option<String>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:4098")
        .header("x-api-key", KEY);
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    b.body(Full::new(Bytes::from(body.unwrap_or_default())))
        .expect("a valid request")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let one = |i: usize| match kind.as_str() {
        "get" => request("GET", "/v2/integrations/practicehub", None),
        "put" => request(
            "PUT",
            "/v2/integrations/practicehub/sync-interval",
            Some(format!(
                r#"{{"syncIntervalMinutes":{}}}"#,
                if i.is_multiple_of(2) { 30 } else { 60 }
            )),
        ),
        other => panic!("usage: instructions get|put N (not {other:?})"),
    };
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // Lines are formatted into the thread's buffer as when serving, then dropped.
        let sink = LogSink::with_output(|_| {});
        tracing_subscriber::registry()
            .with(LineLayer { sink, ansi: false })
            .init();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let app = App::new(
        Contract::embedded().expect("the embedded spec"),
        MemoryStore::new(
            SimConfig::default(),
            Clock::frozen(Timestamp(1_777_626_000_000)),
        ),
        ServerConfig::default(),
        Control::new(AdminAccess::Open, 7),
    );
    rt.block_on(async {
        let activate =
            r#"{"credentials":{"apiKey":"ph_bench","baseUrl":"https://clinic.example"}}"#;
        let r = handle(
            &app,
            request(
                "POST",
                "/v2/integrations/practicehub/activate",
                Some(activate.into()),
            ),
        )
        .await;
        assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200));
        for i in 0..WARM_UP + n {
            let r = handle(&app, one(i)).await;
            assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200));
        }
    });
}
