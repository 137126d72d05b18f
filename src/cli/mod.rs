//! The command line of `revkeen-mock`: flags, their environment variables and help.
//!
//! The binary is thin: it parses [`Cli`] and hands each subcommand to the library.

mod capture;
mod check_spec;
mod conform;
mod coverage;
mod health;
mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use capture::run_capture;
pub use check_spec::{CheckOutcome, check_spec};
pub use conform::run_conform;
pub use coverage::{CoverageOutcome, run_coverage};
pub use health::run_health;
pub use serve::{build_app, run_serve};

/// An offline, stateful stand-in for the RevKeen v2 Integrations API.
#[derive(Debug, Parser)]
#[command(
    name = "revkeen-mock",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = "Run with no subcommand to serve the embedded spec on 127.0.0.1:4010.\n\
                  Every flag can also be set by the environment variable shown with it."
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API statefully (the default).
    #[command(after_help = "Example:\n  revkeen-mock serve --addr 0.0.0.0:4010 --fixture default")]
    Serve(ServeArgs),
    /// Check that a deployment honours the contract.
    #[command(
        after_help = "Example:\n  revkeen-mock conform --target http://127.0.0.1:4010/v2 --api-key rk_sandbox_..."
    )]
    Conform(ConformArgs),
    /// Load and validate an OpenAPI spec, and list what it holds.
    #[command(
        name = "check-spec",
        after_help = "Exit status: 0 clean, 1 problems found, 2 the file cannot be read or parsed.\n\n\
                      Example:\n  revkeen-mock check-spec specs/revkeen-integrations.yaml"
    )]
    CheckSpec(CheckSpecArgs),
    /// Exit 0 when a mock answers HTTP at the address (a probe for containers: no shell,
    /// no curl needed).
    #[command(after_help = "Example:\n  revkeen-mock health --url http://127.0.0.1:4010")]
    Health(HealthArgs),
    /// Print what a consumer's tests met on a running mock (per key and run), and fail
    /// when a requirement is not met.
    #[command(
        after_help = "Exit status: 0 every requirement met, 1 one missed, 2 the report cannot be read.\n\n\
                      Example:\n  revkeen-mock coverage --url http://127.0.0.1:4010 --key rk_sandbox_... --run ci-42 \\\n    --format markdown --fail-under 40 --require listIntegrations:200 --require-state breaker.open"
    )]
    Coverage(CoverageArgs),
    /// Read one merchant's integrations from a deployment (GET only) and write them as a
    /// fixture that `serve --fixture PATH` restores.
    #[command(
        after_help = "Exit status: 0 captured, 1 captured but some answers differ from the contract (listed), 2 nothing written.\n\n\
                      Example:\n  revkeen-mock capture --target http://127.0.0.1:4010/v2 --api-key rk_sandbox_... --out merchant.yaml\n  revkeen-mock serve --fixture merchant.yaml"
    )]
    Capture(CaptureArgs),
}

/// Flags of `capture`.
#[derive(Debug, Clone, Args)]
pub struct CaptureArgs {
    /// The deployment's base URL, with the version path (`https://api.revkeen.com/v2`).
    #[arg(long, env = "REVKEEN_TARGET", value_name = "URL")]
    pub target: String,
    /// The merchant's API key (used to read; never written to the fixture).
    #[arg(
        long,
        env = "REVKEEN_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: String,
    /// Where to write the fixture (YAML); `-` for standard output.
    #[arg(long, value_name = "PATH")]
    pub out: String,
    /// Only these providers (comma-separated; default: every integration the merchant has).
    #[arg(long, value_delimiter = ',', value_name = "PROVIDER")]
    pub providers: Vec<crate::sim::Provider>,
    /// The newest sync log entries captured per integration.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub logs: usize,
    /// Requests per second at most (default: 1 for a remote target, none on loopback).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Allow an `rk_live_` key: capture only reads, but it reads a production merchant.
    #[arg(long)]
    pub live_read_only: bool,
    /// Keep the catalog's package and billable item names (default: deterministic fakes,
    /// since they may name people).
    #[arg(long)]
    pub keep_names: bool,
    /// The sandbox key the fixture gives the merchant.
    #[arg(
        long,
        default_value = "rk_sandbox_captured_merchant_01",
        value_name = "KEY"
    )]
    pub fixture_key: String,
    /// The moment the capture is taken as (RFC 3339). Default: the deployment's `Date`
    /// header, or the newest time its answers hold if later. A mock whose clock was
    /// moved answers with the wall clock's `Date`: give its simulated time here.
    #[arg(long, value_name = "TIME", value_parser = crate::sim::Timestamp::parse_rfc3339)]
    pub captured_at: Option<crate::sim::Timestamp>,
    /// OpenAPI spec to check the answers against instead of the embedded one.
    #[arg(long, value_name = "PATH")]
    pub spec: Option<PathBuf>,
    /// Per request.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// How `coverage` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CoverageFormat {
    /// The report as the mock gives it, with the requirements checked.
    Json,
    /// Fit for a CI job summary.
    #[default]
    Markdown,
    /// One test case per requirement.
    Junit,
}

/// Flags of `coverage`.
#[derive(Debug, Clone, Args)]
pub struct CoverageArgs {
    /// Where the mock answers (its root, not the API's base path).
    #[arg(
        long,
        env = "REVKEEN_MOCK_URL",
        default_value = "http://127.0.0.1:4010",
        value_name = "URL"
    )]
    pub url: String,
    /// The key whose requests to report (it authenticates the read, as on the API).
    #[arg(long, env = "REVKEEN_API_KEY", value_name = "KEY")]
    pub key: String,
    /// The run (the X-Mock-Run header the tests sent); the key's default run when absent.
    #[arg(long, value_name = "NAME")]
    pub run: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CoverageFormat::Markdown)]
    pub format: CoverageFormat,
    /// Fail when fewer than this share (0-100) of the documented statuses were met.
    #[arg(long, value_name = "PERCENT")]
    pub fail_under: Option<f64>,
    /// Fail unless this operation answered this status (repeatable).
    #[arg(long, value_name = "OPERATION_ID:STATUS")]
    pub require: Vec<String>,
    /// Fail unless this state or error class was met (repeatable): breaker.open, 429, ...
    #[arg(long, value_name = "NAME")]
    pub require_state: Vec<String>,
    /// How long to wait for the report.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// Flags of `health`.
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// Where the mock listens (http only: the probe runs beside it).
    #[arg(long, default_value = "http://127.0.0.1:4010", value_name = "URL")]
    pub url: String,
    /// How long to wait for the answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// What `serve` does off loopback when no admin token is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum WithoutToken {
    /// Refuse to start, saying what to pass.
    #[default]
    Refuse,
    /// Start with the admin API off, saying so.
    Off,
}

/// Whether a feature is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Switch {
    /// On.
    #[default]
    On,
    /// Off.
    Off,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// One readable line per request.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REVKEEN_MOCK_ADDR", default_value = "127.0.0.1:4010")]
    pub addr: String,
    /// OpenAPI 3.0 or 3.1 spec to serve instead of the embedded one.
    #[arg(long, env = "REVKEEN_MOCK_SPEC", value_name = "PATH")]
    pub spec: Option<PathBuf>,
    /// Starting world: default, breaker-open, degraded, partners, mappings, auth-cases, or a fixture file.
    #[arg(
        long,
        env = "REVKEEN_MOCK_FIXTURE",
        value_name = "NAME|PATH",
        default_value = "default"
    )]
    pub fixture: String,
    /// A folder of fixture files (`NAME.yaml`) that `POST /__mock/fixtures/{name}` may
    /// load by name, beside the built-in ones; the admin API never takes a path.
    #[arg(long, env = "REVKEEN_MOCK_FIXTURES_DIR", value_name = "DIR")]
    pub fixtures_dir: Option<PathBuf>,
    /// Where the state lives: `memory` (this process, gone when it stops),
    /// `sqlite:PATH` (an SQLite database: every acknowledged change is kept, even
    /// through kill -9), or `redis://HOST:PORT/DB`, shared by every replica on that
    /// Redis (or Valkey).
    #[arg(
        long,
        env = "REVKEEN_MOCK_STORE",
        value_name = "memory|sqlite:PATH|redis://HOST:PORT/DB",
        default_value = "memory"
    )]
    pub store: String,
    /// The same as `--store sqlite:PATH`. A JSON state file of earlier versions found at
    /// PATH is imported once (and kept as PATH.json.bak).
    #[arg(long, env = "REVKEEN_MOCK_STATE_FILE", value_name = "PATH")]
    pub state_file: Option<PathBuf>,
    /// With `--store sqlite:`: empty the database and start from the fixture.
    #[arg(long, env = "REVKEEN_MOCK_RESET_STATE")]
    pub reset_state: bool,
    /// With `--store sqlite:`: `normal` keeps every acknowledged change if the process
    /// dies (kill -9, a crash); `full` also if the machine loses power (an fsync per
    /// commit, shared by the writes of one batch).
    #[arg(
        long,
        env = "REVKEEN_MOCK_SQLITE_SYNCHRONOUS",
        value_name = "normal|full",
        default_value = "normal"
    )]
    pub sqlite_synchronous: crate::store::Synchronous,
    /// Turn the admin API (/__mock) off.
    #[arg(long, env = "REVKEEN_MOCK_NO_ADMIN")]
    pub no_admin: bool,
    /// Token the admin API requires (Authorization: Bearer ...); needed off loopback.
    #[arg(long, env = "REVKEEN_MOCK_ADMIN_TOKEN", value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Off loopback without a token: refuse to start (the default), or start with the
    /// admin API off and say so (the container image's choice).
    #[arg(long, env = "REVKEEN_MOCK_ADMIN_WITHOUT_TOKEN", value_enum, default_value_t = WithoutToken::Refuse)]
    pub admin_without_token: WithoutToken,
    /// A host name the admin API answers for, beside localhost, 127.0.0.1, [::1] and the
    /// listening address (repeatable, or comma-separated): the name a shared sandbox is
    /// reached by.
    #[arg(
        long,
        env = "REVKEEN_MOCK_ALLOWED_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_host: Vec<String>,
    /// An origin granted CORS on the admin API (repeatable; none by default): a tool of
    /// your own served from another origin. Any page on it can then use the admin API.
    #[arg(
        long,
        env = "REVKEEN_MOCK_ADMIN_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub admin_origin: Vec<String>,
    /// The self-service API (/__mock/self): each partner moves its own merchant's
    /// clock, stages failures on its own calls and resets its merchant, with its own
    /// sandbox key (no admin token).
    #[arg(long, env = "REVKEEN_MOCK_SELF_SERVICE", value_enum, default_value_t = Switch::On)]
    pub self_service: Switch,
    /// Log format.
    #[arg(long, env = "REVKEEN_MOCK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Validate every response against the spec and log any breach as an error.
    #[arg(long, env = "REVKEEN_MOCK_STRICT")]
    pub strict: bool,
    /// Accept only the keys the fixture declares (otherwise any rk_sandbox_ key gets a merchant).
    #[arg(long, env = "REVKEEN_MOCK_STRICT_KEYS")]
    pub strict_keys: bool,
    /// Seed of every generated id, so runs repeat.
    #[arg(long, env = "REVKEEN_MOCK_SEED", default_value_t = 0x5EED)]
    pub seed: u64,
    /// Per-key rate limit: off, staging (100/min, burst 200), production (1000/min, burst 2000), N or N/BURST.
    #[arg(
        long,
        env = "REVKEEN_MOCK_RATE_LIMIT",
        default_value = "off",
        value_name = "LIMIT"
    )]
    pub rate_limit: String,
    /// Consecutive sync failures that open the circuit breaker.
    #[arg(long, env = "REVKEEN_MOCK_BREAKER_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_threshold: u32,
    /// Cool-down after which an open breaker turns half-open (e.g. 15m); off by default.
    #[arg(long, env = "REVKEEN_MOCK_BREAKER_COOLDOWN", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub breaker_cooldown: Option<std::time::Duration>,
    /// How long a sync job runs in simulated time (e.g. 30s); zero completes at once.
    #[arg(long, env = "REVKEEN_MOCK_SYNC_DURATION", default_value = "0s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub sync_duration: std::time::Duration,
    /// Sync log entries kept per integration (the oldest go first, so memory stays flat).
    #[arg(long, env = "REVKEEN_MOCK_SYNC_LOG_LIMIT", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sync_log_limit: u32,
    /// The most merchants new keys may create; past it a new key is refused with 403
    /// tenant_limit_reached (keys the sandbox knows keep working).
    #[arg(long, env = "REVKEEN_MOCK_MAX_TENANTS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tenants: u64,
    /// The most Idempotency-Keys remembered per API key; past it the oldest are
    /// forgotten before their 24 hours.
    #[arg(long, env = "REVKEEN_MOCK_MAX_IDEMPOTENCY_KEYS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_idempotency_keys: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "REVKEEN_MOCK_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Close a connection that does not send a whole request head within this long
    /// (a slow client, or an idle keep-alive connection); 0s waits forever.
    #[arg(long, env = "REVKEEN_MOCK_HEADER_TIMEOUT", default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Largest request head (request line and headers), in bytes; larger is answered 431.
    #[arg(long, env = "REVKEEN_MOCK_MAX_HEADER_SIZE", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024))]
    pub max_header_size: u64,
    /// Connections served at once; more wait to be accepted until one closes.
    #[arg(long, env = "REVKEEN_MOCK_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Stop gracefully when standard input closes: the process that started the mock
    /// with a pipe as its input takes it along when it ends, however it ends (even
    /// killed). The npm package's `startMock` uses it.
    #[arg(long, env = "REVKEEN_MOCK_STOP_WITH_STDIN")]
    pub stop_with_stdin: bool,
}

/// Flags of `conform`.
#[derive(Debug, Clone, Args)]
pub struct ConformArgs {
    /// Base URL of the deployment to check (e.g. http://127.0.0.1:4010/v2).
    #[arg(long, env = "REVKEEN_MOCK_TARGET", value_name = "URL")]
    pub target: String,
    /// API key of the merchant the run may change (sent in x-api-key).
    #[arg(long, env = "REVKEEN_MOCK_API_KEY", value_name = "KEY")]
    pub api_key: String,
    /// A second key: checks that the first key's changes never show under it.
    #[arg(long, env = "REVKEEN_MOCK_SECOND_KEY", value_name = "KEY")]
    pub second_key: Option<String>,
    /// OpenAPI spec to check against instead of the embedded one.
    #[arg(long, env = "REVKEEN_MOCK_SPEC", value_name = "PATH")]
    pub spec: Option<PathBuf>,
    /// Seed of every random choice (printed first; repeat a run with it).
    #[arg(long, env = "REVKEEN_MOCK_SEED")]
    pub seed: Option<u64>,
    /// Random operation sequences to run.
    #[arg(long, default_value_t = 200)]
    pub cases: u32,
    /// Total time budget (e.g. 5m); the run ends within one request time-out of it.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub max_time: std::time::Duration,
    /// Only these checks, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub checks: Vec<String>,
    /// Directory of scenario files (default: the built-in conformance/ scenarios).
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Reports to write: junit:PATH or json:PATH (repeatable).
    #[arg(long, value_name = "KIND:PATH")]
    pub report: Vec<String>,
    /// Send only GETs and authentication negatives.
    #[arg(long)]
    pub read_only: bool,
    /// Accept an rk_live_ key (production: think twice).
    #[arg(long)]
    pub allow_live: bool,
    /// Client-side limit in requests per second (default: 1 for remote targets, none on loopback).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Per-request time-out (e.g. 5s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// The most bytes read of one answer (its head, then its body; default 4 MiB); a
    /// larger one fails its check and the run goes on.
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    pub max_response_size: u64,
    /// JSON file with the provider credentials to activate with.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The mock's own reading: answers checked against the spec's exact reading
    /// (x-mock-exact, closed enums), and every rule that rests on a choice of the mock
    /// (docs/conformance.md) fails instead of being reported as a difference.
    #[arg(long)]
    pub exact: bool,
    /// Stop after this many failures (the report lists what ran).
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// JSON file with credentials the target accepts and whose syncs fail, to stage
    /// the circuit breaker (not needed against revkeen-mock).
    #[arg(long, value_name = "FILE")]
    pub failing_credentials: Option<PathBuf>,
    /// No progress line on stderr, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Flags of `check-spec`.
#[derive(Debug, Clone, Args)]
pub struct CheckSpecArgs {
    /// The spec to check (default: the embedded one).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default() {
        let cli = Cli::try_parse_from(["revkeen-mock", "--addr", "127.0.0.1:0"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.addr, "127.0.0.1:0");
    }
}
