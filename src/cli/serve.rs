//! `revkeen-mock serve`: build the world from the flags and serve until a signal.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::control::{AdminAccess, Control, fixture, persist};
use crate::server::{App, ServerConfig, log, serve};
use crate::sim::{BreakerConfig, Clock, RateLimit, SimConfig, Timestamp, lock};
use crate::spec::Contract;
use crate::store::{MemoryStore, RedisStore, Store};

/// Where the state goes in Redis: every key of the mock starts with it.
const REDIS_PREFIX: &str = "revkeen-mock:";

use super::{LogFormat, ServeArgs, WithoutToken};

/// Builds the application state the flags describe: the contract, the store (from the
/// state file when there is one, else from the fixture) and the control plane.
pub async fn build_app(args: &ServeArgs) -> Result<App, String> {
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
        ..SimConfig::default()
    };
    let access = admin_access(args)?;
    fixture.validate(&config)?;
    let wall = Timestamp::from_system(SystemTime::now());
    let store: Box<dyn Store> = match args.store.as_str() {
        "memory" | "" => {
            let store = MemoryStore::new(config, Clock::default());
            let saved = match (&args.state_file, args.reset_state) {
                (Some(path), false) => persist::load(path)?,
                _ => None,
            };
            let now = store.now(wall).await.map_err(|e| e.to_string())?;
            match saved {
                Some(state) => store.restore(state).await.map_err(|e| e.to_string())?,
                None => fixture
                    .apply(&store, now)
                    .await
                    .map_err(|e| e.to_string())?,
            }
            Box::new(store)
        }
        url if url.starts_with("redis://") => {
            if args.state_file.is_some() {
                return Err("--state-file keeps the memory store's state; with --store redis the state is in Redis (snapshots: GET/PUT /__mock/state)".into());
            }
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
                let now = store.now(wall).await.map_err(|e| e.to_string())?;
                fixture
                    .apply(&store, now)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Box::new(store)
        }
        other => {
            return Err(format!(
                "--store {other}: use memory, or redis://HOST:PORT/DB"
            ));
        }
    };
    let mut control = Control::new(access, args.seed);
    *lock(&control.fixture) = Some(fixture);
    control.state_file = args.state_file.clone();
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

/// Saves the state file shortly after changes (checked twice a second).
async fn write_state_periodically(app: &'static App) {
    let Some(path) = app.control.state_file.clone() else {
        return;
    };
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if app.control.dirty.swap(false, Ordering::Relaxed) {
            save_state(app, &path).await;
        }
    }
}

async fn save_state(app: &App, path: &std::path::Path) {
    let wall = Timestamp::from_system(SystemTime::now());
    let state = async {
        let now = app.store.now(wall).await?;
        app.store.advance_all(now).await?;
        app.store.snapshot(None).await
    };
    let written = match state.await {
        Ok(state) => persist::save(path, &state).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = written {
        tracing::error!(error = %e, file = %path.display(), "cannot write the state file");
    }
}

/// Serves until SIGINT or SIGTERM; returns a message for the user on failure.
pub fn run_serve(args: &ServeArgs) -> Result<(), String> {
    let logs = log::init(match args.log_format {
        LogFormat::Text => log::LogFormat::Text,
        LogFormat::Json => log::LogFormat::Json,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
        let shutdown = shutdown_signal();
        let app = build_app(args).await?;
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
        let writer = tokio::spawn(write_state_periodically(app));
        serve(listener, app, shutdown).await;
        writer.abort();
        if let Some(path) = &app.control.state_file {
            save_state(app, path).await;
        }
        tracing::info!("stopped");
        Ok(())
    });
    logs.flush();
    result
}

/// Resolves at SIGINT or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal sent once the first request has been
/// answered must stop the server gracefully, never kill it with the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            tokio::select! {
                () = received(term.as_mut()) => {}
                () = received(int.as_mut()) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
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
