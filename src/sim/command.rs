//! Commands a merchant's integrations accept, their outcomes and their domain errors.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::catalog::ProductMapping;
use super::history::{ResourceState, SyncLogEntry};
use super::integration::{
    Integration, IntegrationStatus, LookbackDays, PaymentMapping, SyncIntervalMinutes,
};
use super::provider::Credentials;
use super::provider::ResourceType;
use super::reports::{BatchReport, SyncStateUpdate};

/// What `activate` carries, already typed (bounds checked by the newtypes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivateInput {
    /// The provider credentials.
    pub credentials: Credentials,
    /// The cadence; the previous one (re-activation) or the default when absent.
    pub sync_interval: Option<SyncIntervalMinutes>,
    /// ISO 4217 currency, kept in `configuration`.
    pub currency: Option<String>,
    /// Automatic sync on or off (default on).
    pub sync_enabled: Option<bool>,
    /// Auto-send invoices (kept when absent).
    pub auto_send_invoices: Option<bool>,
    /// Other optional flags (`syncPatients`, ...), kept in `configuration`.
    pub flags: BTreeMap<String, bool>,
    /// Payment mappings; `None` keeps the existing ones.
    pub payment_mappings: Option<Vec<PaymentMapping>>,
}

/// An operation on one provider's integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `POST .../activate`.
    Activate(ActivateInput),
    /// `POST .../deactivate`.
    Deactivate {
        /// Purge stored credentials.
        delete_credentials: bool,
    },
    /// `POST .../test`: a verdict, no state change.
    TestCredentials(Credentials),
    /// `POST .../sync`.
    TriggerSync {
        /// Ignore the cursor and reprocess every record.
        full_resync: bool,
    },
    /// `PUT .../status` (internal worker).
    UpdateStatus {
        /// The new status.
        status: IntegrationStatus,
        /// The error to record; `None` clears it.
        last_sync_error: Option<String>,
    },
    /// `PUT .../sync-toggle`.
    SetSyncEnabled(bool),
    /// `PUT .../sync-interval`.
    SetSyncInterval(SyncIntervalMinutes),
    /// `PUT .../invoice-lookback`.
    SetInvoiceLookback(LookbackDays),
    /// `PUT .../auto-send-invoices`.
    SetAutoSendInvoices(bool),
    /// `POST .../resume-sync`.
    ResumeSync,
    /// `POST .../sync-logs/{logId}/retry`.
    RetryLog {
        /// The failed entry.
        log_id: Uuid,
    },
    /// `POST .../sync-logs/batch-retry`.
    BatchRetry {
        /// The integration whose failures are retried (it must be this provider's).
        integration_id: Uuid,
        /// Only this resource type's failures.
        resource_type: Option<ResourceType>,
        /// At most this many retries (never more than the breaker's threshold).
        limit: Option<u32>,
    },
    /// `PUT .../payment-mappings`: replaces every payment mapping.
    PutPaymentMappings(Vec<PaymentMapping>),
    /// `PUT .../product-mappings`: replaces every product mapping.
    PutProductMappings(Vec<ProductMapping>),
    /// `DELETE .../product-mappings/{externalId}`.
    DeleteProductMapping {
        /// The mapped package or billable item.
        external_id: String,
    },
    /// `PUT /sync-state/{source}/{merchantId}/{resourceType}`.
    PutSyncState {
        /// The merchant the path names (it must be this one).
        merchant_id: Uuid,
        /// Which resource's state.
        resource_type: ResourceType,
        /// What changes.
        update: SyncStateUpdate,
    },
}

impl Command {
    /// Whether the command may change state (everything but a credential test).
    pub fn is_mutation(&self) -> bool {
        !matches!(self, Command::TestCredentials(_))
    }
}

/// What a successful command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The integration after activation.
    Activated(Box<Integration>),
    /// Deactivated; whether the stored credentials were purged.
    Deactivated {
        /// `deleteCredentials` was true.
        credentials_deleted: bool,
    },
    /// The provider's verdict: `Err(reason)` when it rejects the credentials.
    Verdict(Result<(), String>),
    /// A sync job is enqueued (or was already running).
    SyncEnqueued {
        /// The job's id.
        job_id: Uuid,
    },
    /// The breaker is reset and a trial sync enqueued.
    Resumed {
        /// The trial job's id.
        job_id: Uuid,
    },
    /// A setting changed.
    Updated,
    /// A failed entry was retried.
    Retried {
        /// The retry's own entry.
        entry: Box<SyncLogEntry>,
        /// The integration it belongs to.
        integration_id: Uuid,
    },
    /// A batch retry ran.
    BatchRetried(Box<BatchReport>),
    /// A resource's sync state after the change.
    SyncStateSet(Box<ResourceState>),
    /// The product mappings were replaced by this many.
    MappingsReplaced {
        /// Mappings now kept.
        count: usize,
    },
}
