//! `revkeen-mock serve`: build the world from the flags and serve until a signal.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::control::fixture::{self, Fixture};
use crate::control::{AdminAccess, Control};
use crate::server::{App, ServerConfig, log, serve};
use crate::sim::{BreakerConfig, Clock, RateLimit, SimConfig, Timestamp, lock};
use crate::spec::Contract;
use crate::store::{KeptControl, MemoryStore, RedisStore, Store};

/// Where the state goes in Redis: every key of the mock starts with it.
const REDIS_PREFIX: &str = "revkeen-mock:";

use super::{LogFormat, ServeArgs, WithoutToken};

/// Where the state lives, as the flags say.
enum StoreChoice<'a> {
    Memory,
    Sqlite(PathBuf),
    Redis(&'a str),
}

fn store_choice(args: &ServeArgs) -> Result<StoreChoice<'_>, String> {
    let choice = match args.store.as_str() {
        "memory" | "" => StoreChoice::Memory,
        url if url.starts_with("redis://") => StoreChoice::Redis(url),
        s if s.starts_with("sqlite:") && s.len() > "sqlite:".len() => {
            StoreChoice::Sqlite(PathBuf::from(&s["sqlite:".len()..]))
        }
        other => {
            return Err(format!(
                "--store {other}: use memory, sqlite:PATH or redis://HOST:PORT/DB"
            ));
        }
    };
    match (choice, &args.state_file) {
        (choice, None) => Ok(choice),
        (StoreChoice::Memory, Some(path)) => Ok(StoreChoice::Sqlite(path.clone())),
        (StoreChoice::Sqlite(db), Some(path)) if db == *path => Ok(StoreChoice::Sqlite(db)),
        (StoreChoice::Sqlite(_), Some(_)) => Err(
            "--state-file PATH is the same as --store sqlite:PATH: give one of them".into(),
        ),
        (StoreChoice::Redis(_), Some(_)) => Err(
            "--state-file keeps the state in an SQLite database (--store sqlite:PATH); with --store redis the state is in Redis (snapshots: GET/PUT /__mock/state)".into(),
        ),
    }
}

/// Builds the application state the flags describe: the contract, the store (holding
/// what it kept, or the fixture) and the control plane.
pub async fn build_app(args: &ServeArgs) -> Result<App, String> {
    // The admin contract compiles on a thread of its own while the API's does (its
    // 12 M instructions no longer wait in line; docs/performance.md). Both are pure:
    // nothing with an effect (a store, a file) starts before the API's contract loaded.
    let access = admin_access(args)?;
    let seed = args.seed;
    let control = std::thread::spawn(move || Control::new(access, seed));
    let contract = match &args.spec {
        Some(path) => Contract::load_file(path).and_then(|c| c.into_servable()),
        None => Contract::embedded(),
    }
    .map_err(|e| {
        format!("{e}\nRun `revkeen-mock check-spec` on the file for the full list of problems.")
    })?;
    let fixture = fixture::find(&args.fixture).map_err(|e| e.to_string())?;
    // --rate-limit wins; otherwise the start fixture may set one.
    let rate_limit = match (args.rate_limit.as_str(), &fixture.rate_limit) {
        ("off" | "", None) => None,
        ("off" | "", Some(from_fixture)) => Some(from_fixture.parse::<RateLimit>()?),
        (flag, _) => Some(flag.parse::<RateLimit>()?),
    };
    let config = SimConfig {
        breaker: BreakerConfig {
            threshold: args.breaker_threshold,
            cooldown: args.breaker_cooldown,
        },
        sync_duration: args.sync_duration,
        rate_limit,
        strict_keys: args.strict_keys,
        seed: args.seed,
        history_limit: args.sync_log_limit as usize,
        max_tenants: usize::try_from(args.max_tenants).unwrap_or(usize::MAX),
        max_idempotency_keys: usize::try_from(args.max_idempotency_keys).unwrap_or(usize::MAX),
        ..SimConfig::default()
    };
    if let Some(dir) = args.fixtures_dir.as_deref().filter(|d| !d.is_dir()) {
        return Err(format!(
            "--fixtures-dir {}: not a folder (it holds fixture files, NAME.yaml)",
            dir.display()
        ));
    }
    fixture.validate(&config)?;
    let wall = Timestamp::from_system(SystemTime::now());
    // The fixture resets go back to: the start flag's, or the one a kept state names.
    let mut reset_fixture = (fixture.clone(), args.fixture.clone());
    let store: Box<dyn Store> = match store_choice(args)? {
        StoreChoice::Memory => {
            let store = MemoryStore::new(config, Clock::default());
            first_world(&fixture, &store, wall).await?;
            Box::new(store)
        }
        StoreChoice::Sqlite(path) => {
            let (store, opened) =
                MemoryStore::open_sqlite(config, &path, args.sqlite_synchronous, args.reset_state)?;
            if let Some(backup) = &opened.imported_from {
                tracing::warn!(
                    "imported the JSON state file {} into the SQLite database at the same path (the JSON file is kept as {}); later starts read the database",
                    path.display(),
                    backup.display()
                );
            }
            if opened.new {
                first_world(&fixture, &store, wall).await?;
            } else if let Some(name) = store
                .kept(fixture::KEPT)
                .and_then(|n| String::from_utf8(n).ok())
            {
                match fixture::find(&name) {
                    Ok(kept) => reset_fixture = (kept, name),
                    Err(e) => tracing::warn!(
                        "resets go back to the fixture {}: the fixture the saved state was loaded from cannot be read ({e})",
                        args.fixture
                    ),
                }
            }
            store
                .keep(fixture::KEPT, reset_fixture.1.as_bytes().to_vec())
                .await
                .map_err(|e| e.to_string())?;
            Box::new(store)
        }
        StoreChoice::Redis(url) => {
            let store = RedisStore::connect(url, REDIS_PREFIX, config)
                .await
                .map_err(|e| format!("cannot use the store {}: {e}", without_password(url)))?;
            // The first replica on this Redis applies the fixture; the others, and any
            // replica that restarts, serve the state as they find it.
            if store
                .claim_initialization()
                .await
                .map_err(|e| e.to_string())?
            {
                first_world(&fixture, &store, wall).await?;
            }
            Box::new(store)
        }
    };
    let mut control = control
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    control.fixtures_dir = args.fixtures_dir.clone();
    if args.self_service == super::Switch::Off {
        control.self_service = None;
    }
    control.faults.restore_kept(&*store)?;
    *lock(&control.fixture) = Some(reset_fixture.0);
    // Host names compare in lower case without a final dot; origins without a final slash.
    control.allowed_hosts = cleaned(&args.allowed_host, |h| {
        h.trim_end_matches('.').to_ascii_lowercase()
    });
    control.admin_origins = cleaned(&args.admin_origin, |o| o.trim_end_matches('/').to_owned());
    Ok(App::with_store(
        contract,
        store,
        ServerConfig {
            strict: args.strict,
            body_limit: args.body_limit,
            header_timeout: Some(args.header_timeout).filter(|t| !t.is_zero()),
            max_header_size: usize::try_from(args.max_header_size).unwrap_or(usize::MAX),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        },
        control,
    ))
}

/// A store URL as it may be shown: a password in it (`redis://user:secret@host`) cut.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The admin API is open on loopback, needs a token elsewhere, and can be turned off.
fn admin_access(args: &ServeArgs) -> Result<AdminAccess, String> {
    if args.no_admin {
        return Ok(AdminAccess::Off);
    }
    if let Some(token) = &args.admin_token {
        if token.is_empty() {
            return Err("--admin-token must not be empty".into());
        }
        return Ok(AdminAccess::Token(token.clone()));
    }
    let loopback = args
        .addr
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| args.addr.starts_with("localhost:"));
    match (loopback, args.admin_without_token) {
        (true, _) => Ok(AdminAccess::Open),
        (false, WithoutToken::Off) => {
            tracing::warn!(
                "the admin API (/__mock, the dashboard) is OFF: {} is not loopback and no admin token was given; set REVKEEN_MOCK_ADMIN_TOKEN (or --admin-token) to turn it on",
                args.addr
            );
            Ok(AdminAccess::Off)
        }
        (false, WithoutToken::Refuse) => Err(format!(
            "the admin API on {} would be open to the network: pass --admin-token TOKEN, or --no-admin",
            args.addr
        )),
    }
}

/// Serves until SIGINT or SIGTERM; returns a message for the user on failure.
///
/// `built` runs once the application is built, before the first connection is
/// accepted: the binary returns to the system the memory start-up used and freed.
pub fn run_serve(args: &ServeArgs, built: impl FnOnce()) -> Result<(), String> {
    let logs = log::init(match args.log_format {
        LogFormat::Text => log::LogFormat::Text,
        LogFormat::Json => log::LogFormat::Json,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
        let shutdown = shutdown_signal(args.stop_with_stdin);
        let app = build_app(args).await?;
        built();
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {}: {e} (pick another with --addr)",
                    args.addr
                )
            })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(
            "revkeen-mock listening on http://{addr}{} ({}, {} operations)",
            app.contract.base_path,
            app.contract.source,
            app.contract.operations.len()
        );
        logs.flush();
        // The process serves until it exits, so the application lives as long: a
        // `'static` reference lets every request use it without touching a reference
        // count (two atomic operations per request, on a line both workers contend for).
        let app: &'static App = Box::leak(Box::new(app));
        // In-flight requests finish first; every answered change was durable before
        // its answer, and closing commits anything sent since.
        serve(listener, app, shutdown).await;
        app.store.close();
        tracing::info!("stopped");
        Ok(())
    });
    logs.flush();
    result
}

/// Resolves at SIGINT or SIGTERM, or (with `stdin`) when standard input closes. The
/// handlers are installed when this is called, not when the future is first polled: a
/// signal sent once the first request has been answered must stop the server
/// gracefully, never kill it with the default action.
fn shutdown_signal(stdin: bool) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    let closed = stdin.then(stdin_closed);
    async move {
        let closed = async {
            // None, or an error (the watch never started, and said so): never.
            let ended = match closed {
                Some(closed) => closed.await.is_ok(),
                None => false,
            };
            if !ended {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        {
            tokio::select! {
                () = received(term.as_mut()) => {}
                () = received(int.as_mut()) => {}
                () = closed => {}
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = closed => {}
            }
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

/// Resolves when standard input reaches its end (or cannot be read): a thread reads and
/// drops whatever comes until then. A blocking read, so a thread of its own, not the
/// runtime's: tokio's stdin is a blocking thread as well, and one that shutdown would
/// wait for.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let watch = move || {
        use std::io::Read;
        let mut input = std::io::stdin().lock();
        let mut buf = [0u8; 512];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        tracing::info!("standard input closed (--stop-with-stdin)");
        let _ = tx.send(());
    };
    if std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(watch)
        .is_err()
    {
        tracing::warn!("cannot watch standard input: --stop-with-stdin has no effect");
    }
    rx
}

/// Resolves when `signal` arrives (never, without a handler).
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// The non-empty values of a repeatable flag, trimmed and put in `form`.
fn cleaned(values: &[String], form: impl Fn(&str) -> String) -> Vec<String> {
    values
        .iter()
        .map(|v| form(v.trim()))
        .filter(|v| !v.is_empty())
        .collect()
}

/// Applies the start fixture to a new store. A captured fixture (`capturedAt`) starts the
/// clock at the capture's moment, following wall time from there, so the replay first
/// shows exactly what the capture read, and time moves on from it as it would have.
async fn first_world(fixture: &Fixture, store: &dyn Store, wall: Timestamp) -> Result<(), String> {
    if let Some(at) = fixture.captured_at {
        store
            .change_clock(wall, &move |c: &mut Clock| c.set(at.0, wall))
            .await
            .map_err(|e| e.to_string())?;
    }
    let now = store.now(wall).await.map_err(|e| e.to_string())?;
    fixture.apply(store, now).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn store_urls_are_shown_without_their_password() {
        assert_eq!(
            without_password("redis://:s3cret@redis.internal:6379/0"),
            "redis://***@redis.internal:6379/0"
        );
        assert_eq!(
            without_password("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
    }
}
