//! What the pipeline bench (`benches/pipeline.rs`) and the instruction counter
//! (`examples/instructions.rs`) share: a request as wrk sends it in `scripts/bench`, log
//! lines formatted as when serving, and the application with the bench merchant's
//! practicehub activated.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use revkeen_mock::control::{AdminAccess, Control};
use revkeen_mock::server::log::{LineLayer, LogSink};
use revkeen_mock::server::{App, ServerConfig, handle};
use revkeen_mock::sim::{Clock, SimConfig, Timestamp};
use revkeen_mock::spec::Contract;
use revkeen_mock::store::MemoryStore;

/// The bench merchant's key.
pub const KEY: &str = "rk_sandbox_bench_merchant_key_0001";

/// A request as wrk sends it in `scripts/bench`.
pub fn request(method: &str, path: &str, body: Option<&'static str>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:4098")
        .header("x-api-key", KEY);
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    b.body(Full::new(Bytes::from_static(
        body.unwrap_or_default().as_bytes(),
    )))
    .expect("a valid request")
}

/// Log lines are formatted into the thread's buffer as when serving, then dropped.
fn log_to_a_sink() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let sink = LogSink::with_output(|_| {});
    tracing_subscriber::registry()
        .with(LineLayer { sink, ansi: false })
        .init();
}

/// What both programs start from: logs formatted into a sink, a runtime on this thread,
/// and [`activated_app`].
pub fn set_up() -> (tokio::runtime::Runtime, App) {
    log_to_a_sink();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let app = activated_app(&rt);
    (rt, app)
}

/// The embedded contract on the memory store, its clock frozen, with the bench
/// merchant's practicehub activated.
fn activated_app(rt: &tokio::runtime::Runtime) -> App {
    let app = App::new(
        Contract::embedded().expect("the embedded spec"),
        MemoryStore::new(
            SimConfig::default(),
            Clock::frozen(Timestamp(1_777_626_000_000)),
        ),
        ServerConfig::default(),
        Control::new(AdminAccess::Open, 7),
    );
    let activate = r#"{"credentials":{"apiKey":"ph_bench","baseUrl":"https://clinic.example"}}"#;
    let activated = rt.block_on(handle(
        &app,
        request(
            "POST",
            "/v2/integrations/practicehub/activate",
            Some(activate),
        ),
    ));
    assert_eq!(activated.map(|r| r.status().as_u16()).ok(), Some(200));
    app
}
