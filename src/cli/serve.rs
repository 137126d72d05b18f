//! `revkeen-mock serve`: build the world from the flags and serve until a signal.

use std::sync::Arc;

use crate::server::{App, ServerConfig, log, serve};
use crate::sim::{BreakerConfig, Clock, RateLimit, SimConfig, World};
use crate::spec::Contract;

use super::{LogFormat, ServeArgs};

/// Builds the application state the flags describe.
pub fn build_app(args: &ServeArgs) -> Result<App, String> {
    let contract = match &args.spec {
        Some(path) => Contract::load_file(path).and_then(|c| c.into_servable()),
        None => Contract::embedded(),
    }
    .map_err(|e| {
        format!("{e}\nRun `revkeen-mock check-spec` on the file for the full list of problems.")
    })?;
    let rate_limit = match args.rate_limit.as_str() {
        "off" | "" => None,
        other => Some(other.parse::<RateLimit>()?),
    };
    if args.fixture.is_some() || args.state_file.is_some() {
        return Err("--fixture and --state-file need the control plane, which this version does not have yet".into());
    }
    let config = SimConfig {
        breaker: BreakerConfig {
            threshold: args.breaker_threshold,
            cooldown: args.breaker_cooldown,
        },
        sync_duration: args.sync_duration,
        rate_limit,
        strict_keys: args.strict_keys,
        seed: args.seed,
        ..SimConfig::default()
    };
    Ok(App::new(
        contract,
        World::new(config, Clock::default()),
        ServerConfig {
            strict: args.strict,
            body_limit: args.body_limit,
        },
    ))
}

/// Serves until SIGINT or SIGTERM; returns a message for the user on failure.
pub fn run_serve(args: &ServeArgs) -> Result<(), String> {
    let logs = log::init(match args.log_format {
        LogFormat::Text => log::LogFormat::Text,
        LogFormat::Json => log::LogFormat::Json,
    });
    let app = build_app(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
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
        serve(listener, Arc::new(app), shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    });
    logs.flush();
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
