//! The HTTP layer: hyper 1 on tokio. It accepts connections, runs each request through
//! the [`pipeline`], and shuts down gracefully. Domain rules live in `sim`; routes and
//! shapes come from the compiled contract.

mod admin;
mod cors;
mod deadline;
mod faults;
mod idempotency;
mod input;
pub mod log;
pub mod ops;
mod pipeline;
mod reply;
mod self_service;
mod strict;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use crate::api::{ApiError, ErrorType};
pub use input::RequestBody;
pub use pipeline::{Dropped, handle};

use crate::control::Control;
use crate::sim::lock;
use crate::spec::Contract;
use crate::store::Store;

/// The largest body accepted by default (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The API version this contract describes, echoed in `RevKeen-Version`.
pub const API_VERSION: &str = "2026-05-01";

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Validate every response against the spec before sending it (on in tests).
    pub strict: bool,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// A connection that does not deliver a whole request head within this long is
    /// closed: a slow client, or a keep-alive connection left idle (the wait for the
    /// next head is timed the same way; see `deadline`). `None` waits forever.
    pub header_timeout: Option<Duration>,
    /// The largest request head (request line and headers), in bytes; a larger one is
    /// answered 431 and the connection closed.
    pub max_header_size: usize,
    /// Connections served at once; more wait in the kernel's accept queue until one
    /// closes, so a flood cannot slow the connections already served.
    pub max_connections: usize,
}

/// The default [`ServerConfig::header_timeout`]: long enough for any real client on a
/// slow network, short enough that idle or half-open connections do not pile up.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The default [`ServerConfig::max_header_size`]: 16 KiB, as much as common proxies allow.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 16 * 1024;

/// The default [`ServerConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            strict: false,
            body_limit: DEFAULT_BODY_LIMIT,
            header_timeout: Some(DEFAULT_HEADER_TIMEOUT),
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Everything a request needs, shared by every connection.
pub struct App {
    /// The compiled contract: routes, validators, examples.
    pub contract: Contract,
    /// Where tenants, keys and the clock live (the state seam, `crate::store`).
    pub store: Box<dyn Store>,
    /// HTTP settings.
    pub config: ServerConfig,
    /// The control plane: admin API, fixtures, faults, journal, persistence.
    pub control: Control,
    /// The contract's operations the simulator models, resolved once from their
    /// `operationId`s.
    operations: ops::Operations,
    /// When the server started (for the admin API's uptime).
    pub started: Instant,
    /// Responses strict mode found in breach of the spec.
    strict_violations: AtomicU64,
    /// The latest breaches' descriptions (at most [`App::KEPT_VIOLATIONS`]).
    violation_log: std::sync::Mutex<Vec<String>>,
}

impl App {
    /// How many breach descriptions are kept.
    pub const KEPT_VIOLATIONS: usize = 100;

    /// A new application state.
    pub fn new(
        contract: Contract,
        store: impl Store + 'static,
        config: ServerConfig,
        control: Control,
    ) -> Self {
        Self::with_store(contract, Box::new(store), config, control)
    }

    /// A new application state on a store chosen at run time (`--store`).
    pub fn with_store(
        contract: Contract,
        store: Box<dyn Store>,
        config: ServerConfig,
        control: Control,
    ) -> Self {
        Self {
            operations: ops::Operations::resolve(&contract),
            contract,
            store,
            config,
            control,
            started: Instant::now(),
            strict_violations: AtomicU64::new(0),
            violation_log: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// How many responses breached the spec (strict mode only).
    pub fn strict_violations(&self) -> u64 {
        self.strict_violations.load(Ordering::Relaxed)
    }

    /// Descriptions of the latest breaches.
    pub fn violation_log(&self) -> Vec<String> {
        lock(&self.violation_log).clone()
    }

    fn record_violation(&self, description: String) {
        self.strict_violations.fetch_add(1, Ordering::Relaxed);
        let mut log = lock(&self.violation_log);
        if log.len() < Self::KEPT_VIOLATIONS {
            log.push(description);
        }
    }
}

/// Accepts connections on `listener` until `shutdown` completes, then stops accepting
/// and lets in-flight requests finish (for up to ten seconds). `app` is an `Arc<App>`,
/// or a `&'static App` when the application lives as long as the process.
pub async fn serve<A>(
    listener: TcpListener,
    app: A,
    shutdown: impl std::future::Future<Output = ()>,
) where
    A: std::ops::Deref<Target = App> + Clone + Send + Sync + 'static,
{
    if let Ok(addr) = listener.local_addr() {
        // The admin API answers requests addressed to this address.
        let _ = app.control.listening.set(addr.ip());
    }
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    // No timer: hyper would arm one for every request head. The header time-out is a
    // deadline per connection instead, checked by one ticker (`deadline`).
    http.max_header_size(app.config.max_header_size);
    let deadlines = app.config.header_timeout.map(deadline::Deadlines::start);
    // One permit per connection served; without one, the next connection is not
    // accepted (it waits in the kernel's queue) until a served one closes.
    let permits = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let watch = deadlines.as_ref().map(|d| d.connection());
                let on_head = watch.clone();
                let service = service_fn(move |req| {
                    if let Some(w) = &on_head {
                        w.busy();
                    }
                    // An injected `drop_connection` fault is the only error: hyper then
                    // closes the connection without an answer. The future is `handle`'s
                    // own, not a block awaiting it: one more layer would hold the request
                    // once more (`handle`).
                    pipeline::handle(app.clone(), req)
                });
                let io = TokioIo::new(deadline::Watched::new(stream, watch.clone()));
                let conn = graceful.watch(http.serve_connection(io, service));
                tokio::spawn(async move {
                    let expired = async {
                        match &watch {
                            Some(watch) => watch.expired().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        biased;
                        _ = conn => {}
                        // Waited too long for a request head: dropping the connection
                        // closes it.
                        () = expired => {}
                    }
                    // The connection is closed: the next one may be accepted.
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("in-flight requests did not finish within 10 s; closing them");
        }
    }
}

/// A server running in the background (tests and embedding).
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its shared state.
    pub app: Arc<App>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Binds `addr` (port 0 picks a free one) and serves in a background task.
    pub async fn start(addr: &str, app: App) -> std::io::Result<Running> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Arc::new(app);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::clone(&app), async {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            app,
            stop,
            task,
        })
    }

    /// The API's base URL (`http://127.0.0.1:PORT/v2`).
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.app.contract.base_path)
    }

    /// Stops accepting, waits for in-flight requests.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
