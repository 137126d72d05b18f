//! The simulator: the Integrations domain as a pure, deterministic model.
//!
//! No HTTP and no I/O. Time comes in as an argument (from [`Clock`]), ids from a seeded
//! generator per merchant, so the same commands from the same start give the same
//! state, byte for byte.
//!
//! ```
//! use revkeen_mock::sim::*;
//!
//! let config = SimConfig::default();
//! let mut merchant = Merchant::new(config.seed);
//! let now = Timestamp::parse_rfc3339("2026-05-01T09:00:00Z").unwrap();
//! let activate = Command::Activate(ActivateInput {
//!     credentials: Credentials {
//!         api_key: "fail_sync_demo".into(),
//!         base_url: "https://clinic.example".into(),
//!         app_name: None,
//!         app_email: None,
//!     },
//!     sync_interval: None,
//!     currency: None,
//!     sync_enabled: None,
//!     auto_send_invoices: None,
//!     flags: Default::default(),
//!     payment_mappings: None,
//! });
//! merchant.execute(&config, now, Provider::Wodify, activate).unwrap();
//! // Five scheduled syncs fail (one minute after activation, then every 15 minutes)...
//! // Reads go through `at`, which applies what simulated time has brought first.
//! let later = now.plus(std::time::Duration::from_secs(61 * 60 + 60));
//! let wodify = merchant.at(&config, later).integration(Provider::Wodify).unwrap();
//! assert_eq!(wodify.breaker.consecutive_errors(), 5);
//! // ...and the breaker is open: syncing is auto-paused.
//! assert_eq!(wodify.health(&config.breaker, later), SyncHealth::Paused);
//! ```

mod accounting;
mod breaker;
mod catalog;
mod command;
mod error;
mod history;
mod idempotency;
mod integration;
mod key;
mod merchant;
mod provider;
#[cfg(test)]
pub(crate) mod random_runs;
mod rate_limit;
mod reports;
mod restore;
mod retry;
mod run;
mod tenant;
mod time;
pub(crate) mod wire;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use accounting::{PaymentRequest, PaymentRequestInput};
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use catalog::{
    BillableItem, Catalog, ChargeType, ExternalItem, ItemType, MappingMetadata, Package,
    PackageType, PaymentMethod, Product, ProductMapping, Setup, Suggestion, UnmappedAttempt,
    default_products, suggest, validate_products,
};
pub use command::{ActivateInput, Command, Outcome};
pub use error::SimError;
pub use history::{
    JobType, LogStats, LogStatus, ResourceState, RetryRefusal, SyncHistory, SyncLogEntry,
};
pub use idempotency::{Begin, IdempotencyStore, StoredResponse};
pub use integration::{
    Configuration, Integration, IntegrationStatus, JobKind, LookbackDays, PaymentMapping,
    SyncHealth, SyncIntervalMinutes, SyncJob,
};
pub use key::{ApiKey, Environment, KeyError, Scope, Scopes};
pub use merchant::{
    ClockRefusal, FIRST_SYNC_DELAY, MAX_CATCH_UP_RUNS, MAX_CLOCK_STEP, Merchant, MerchantView,
};
pub use provider::{Behaviour, Credentials, Failure, Outage, Provider, ResourceType};
pub use rate_limit::{Bucket, RateDecision, RateLimit};
pub use reports::{BatchReport, SkipReason, SyncStateUpdate};
pub use restore::{
    At, CapturedConfiguration, CapturedIntegration, CapturedInterval, CapturedLog,
    CapturedProviderState, CapturedState, CapturedUnmapped, Restore,
};
pub use tenant::{AuthError, DeclaredKey, KeyPolicy, Tenant, WorldState, admit, tenant_seed};
pub use time::{Clock, Rfc3339Text, Timestamp, serialize_rfc3339};

/// The most merchants new keys may create by default: 100,000 (about 250 MB at the
/// measured 2.5 KB each; docs/security.md).
pub const DEFAULT_MAX_TENANTS: usize = 100_000;

/// Settings of the simulation, fixed at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// The circuit breaker's threshold and cool-down.
    pub breaker: BreakerConfig,
    /// How long a sync job runs in simulated time (zero: completes at once).
    pub sync_duration: Duration,
    /// The interval of an integration activated without one.
    pub default_interval: SyncIntervalMinutes,
    /// The per-key rate limit; `None` (the default) does not throttle.
    pub rate_limit: Option<RateLimit>,
    /// Only keys declared by the fixture exist.
    pub strict_keys: bool,
    /// Seeds every merchant's id generator.
    pub seed: u64,
    /// Sync log entries kept per integration; the oldest go first.
    pub history_limit: usize,
    /// The most merchants a stranger's new keys may create (`--max-tenants`): past it a
    /// new key is refused (`403 tenant_limit_reached`); keys the sandbox knows, and
    /// merchants a fixture or the operator creates, still work.
    pub max_tenants: usize,
    /// The most `Idempotency-Key`s remembered per API key (`--max-idempotency-keys`);
    /// the oldest are forgotten first.
    pub max_idempotency_keys: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            breaker: BreakerConfig::default(),
            sync_duration: Duration::ZERO,
            default_interval: SyncIntervalMinutes::DEFAULT,
            rate_limit: None,
            strict_keys: false,
            seed: 0x5EED,
            history_limit: 200,
            max_tenants: DEFAULT_MAX_TENANTS,
            max_idempotency_keys: idempotency::DEFAULT_MAX_KEYS,
        }
    }
}

/// Locks a mutex, recovering it if a panic poisoned it: the mock keeps answering that
/// key (the panic itself is a bug the tests hunt) instead of failing every later request.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
