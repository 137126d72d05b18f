//! One provider's integration for a merchant: its record and the values it may hold.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use super::provider::{Credentials, Provider};
use super::time::Timestamp;

/// Defines a `u32` newtype that only holds values in `MIN..=MAX`: parse, don't
/// validate. `$unit` names the value in error messages.
macro_rules! bounded_u32 {
    ($(#[$doc:meta])* $name:ident, $what:literal, $unit:literal, $min:expr, $max:expr, $default:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name(u32);

        impl $name {
            /// The smallest value.
            pub const MIN: u32 = $min;
            /// The largest value.
            pub const MAX: u32 = $max;
            /// The value of a new integration that names none.
            pub const DEFAULT: $name = $name($default);

            /// `value`, when in range.
            pub fn new(value: u32) -> Result<Self, String> {
                if (Self::MIN..=Self::MAX).contains(&value) {
                    Ok($name(value))
                } else {
                    Err(format!(
                        "{} is {} to {} {}, not {value}",
                        $what,
                        Self::MIN,
                        Self::MAX,
                        $unit
                    ))
                }
            }

            /// The value.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u32> for $name {
            type Error = String;
            fn try_from(value: u32) -> Result<Self, String> {
                Self::new(value)
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }
    };
}

bounded_u32!(
    /// A sync interval in minutes, 5 ("minimum 5 minutes" in the docs) to 1440 (one
    /// day; the docs give no maximum): it cannot hold a value the API refuses.
    SyncIntervalMinutes, "a sync interval", "minutes", 5, 1440, 15
);

impl SyncIntervalMinutes {
    /// The minutes.
    pub fn minutes(self) -> u32 {
        self.get()
    }

    /// `syncInterval.intervalMs`: minutes × 60,000.
    pub fn millis(self) -> u64 {
        u64::from(self.get()) * 60_000
    }

    /// As a duration.
    pub fn duration(self) -> Duration {
        Duration::from_millis(self.millis())
    }
}

bounded_u32!(
    /// Days of invoice history the first full sync fetches, 1 to 3650 (default 90).
    LookbackDays, "an invoice lookback", "days", 1, 3650, 90
);

impl LookbackDays {
    /// The days.
    pub fn days(self) -> u32 {
        self.get()
    }
}

super::wire::wire_enum! {
    /// `status`: the connection and run status.
    pub enum IntegrationStatus ("integration status") {
        /// Activated, or the last sync succeeded.
        Connected = "connected",
        /// The last sync failed.
        Error = "error",
        /// A sync job is running.
        Syncing = "syncing",
        /// Deactivated.
        Idle = "idle",
    }
}

super::wire::wire_enum! {
    /// `syncHealth`: a summary derived from the breaker and the toggle.
    pub enum SyncHealth ("sync health") {
        /// No consecutive failure.
        Healthy = "healthy",
        /// Consecutive failures below the threshold.
        Degraded = "degraded",
        /// Scheduled syncs do not run: breaker open, or automatic sync off.
        Paused = "paused",
    }
}

/// What started a sync job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// The repeatable job's tick.
    Scheduled,
    /// `POST .../sync`.
    Manual,
    /// `resume-sync`'s trial.
    Resume,
}

/// A sync job that has started and not yet completed (in simulated time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncJob {
    /// The job id returned to the caller.
    pub id: Uuid,
    /// What started it.
    pub kind: JobKind,
    /// Whether it ignores the cursor (`fullResync`).
    pub full_resync: bool,
    /// When it completes; its outcome is applied then.
    pub completes_at: Timestamp,
}

/// Settings shown under `configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// Days of history the first full sync fetches.
    pub invoice_lookback_days: LookbackDays,
    /// Whether synced invoices are e-mailed on arrival.
    pub auto_send_invoices: bool,
    /// The currency given at activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Optional activation flags (`syncPatients`, `pushPayments`, ...), by name.
    #[serde(default)]
    pub flags: BTreeMap<String, bool>,
}

impl Default for Configuration {
    fn default() -> Self {
        Self {
            invoice_lookback_days: LookbackDays::DEFAULT,
            auto_send_invoices: false,
            currency: None,
            flags: BTreeMap::new(),
        }
    }
}

/// A payment-method mapping kept across deactivation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMapping {
    /// The mapping's id.
    pub id: String,
    /// The RevKeen payment method.
    pub revkeen_method: String,
    /// The provider's method id.
    pub practice_hub_method_id: String,
}

/// One provider's integration record. Every field of the API's Integration object is
/// either stored here or derived from it by the methods below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Kept across deactivation and re-activation.
    pub id: Uuid,
    /// Which provider.
    pub provider: Provider,
    /// Activation state.
    pub is_active: bool,
    /// Automatic (scheduled) sync on or off.
    pub sync_enabled: bool,
    /// Connection and run status.
    pub status: IntegrationStatus,
    /// When the last sync finished (either way), or the worker's last report.
    pub last_sync_at: Option<Timestamp>,
    /// The last failure's message; cleared by a success.
    pub last_sync_error: Option<String>,
    /// When the last sync failed.
    pub last_error_at: Option<Timestamp>,
    /// When the last sync succeeded (`providerState.lastSyncAt`).
    pub last_success_at: Option<Timestamp>,
    /// The circuit breaker.
    pub breaker: CircuitBreaker,
    /// The cadence; kept while inactive so re-activation restores it.
    pub interval: SyncIntervalMinutes,
    /// The next scheduled run; `Some` exactly while a repeatable job exists (active).
    pub next_run: Option<Timestamp>,
    /// The running job, if any.
    pub running_job: Option<SyncJob>,
    /// Syncs attempted so far, which drives `fail_first_N` and `flap` credentials.
    pub sync_attempts: u64,
    /// Full resyncs requested so far (`fullResync: true`).
    pub full_resyncs: u64,
    /// Settings.
    pub configuration: Configuration,
    /// Stored credentials; `None` after `deleteCredentials: true`.
    pub credentials: Option<Credentials>,
    /// Payment-method mappings, kept across deactivation.
    pub payment_mappings: Vec<PaymentMapping>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Integration {
    /// `syncHealth` at `now`.
    pub fn health(&self, config: &BreakerConfig, now: Timestamp) -> SyncHealth {
        if self.breaker.state(config, now) != BreakerState::Closed || !self.sync_enabled {
            SyncHealth::Paused
        } else if self.breaker.consecutive_errors() > 0 {
            SyncHealth::Degraded
        } else {
            SyncHealth::Healthy
        }
    }

    /// `syncInterval.hasRepeatableJob`.
    pub fn has_repeatable_job(&self) -> bool {
        self.next_run.is_some()
    }
}
