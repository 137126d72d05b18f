//! Commands a merchant's integrations accept, their outcomes and their domain errors.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::catalog::ProductMapping;
use super::history::{ResourceState, ResourceType, RetryRefusal, SyncLogEntry};
use super::integration::{
    Integration, IntegrationStatus, LookbackDays, PaymentMapping, SyncIntervalMinutes,
};
use super::provider::{Credentials, Provider};
use super::retry::{BatchReport, SyncStateUpdate};

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

/// A rule of the domain that refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The integration is not active (never activated or deactivated); the command
    /// needs one (deactivate and the settings commands: documented as "not found").
    #[error("no active {provider} integration: activate it first")]
    NotFound {
        /// The provider.
        provider: Provider,
    },
    /// A sync or resume on an integration that is not active (documented as 400).
    #[error("the {provider} integration is not active: activate it before syncing")]
    NotActive {
        /// The provider.
        provider: Provider,
    },
    /// Activating an integration that is already active.
    #[error(
        "{provider} is already active: deactivate it first, or use sync-toggle to resume automatic sync"
    )]
    AlreadyActive {
        /// The provider.
        provider: Provider,
    },
    /// The provider rejected the credentials at activation.
    #[error("{reason}")]
    CredentialsRejected {
        /// The provider.
        provider: Provider,
        /// The provider's message.
        reason: String,
    },
    /// A sync log entry this integration does not have (or no longer keeps).
    #[error(
        "no sync log {log_id} for {provider}: it never existed, or it is older than the history the mock keeps"
    )]
    LogNotFound {
        /// The provider.
        provider: Provider,
        /// The entry asked for.
        log_id: Uuid,
    },
    /// The entry cannot be retried.
    #[error("{0}")]
    NotRetryable(RetryRefusal),
    /// A batch retry naming an integration that is not this provider's.
    #[error(
        "integration {integration_id} is not the merchant's {provider} integration: use the id GET /integrations/{provider} shows"
    )]
    WrongIntegration {
        /// The provider.
        provider: Provider,
        /// The id sent.
        integration_id: Uuid,
    },
    /// A sync state the integration does not have.
    #[error(
        "no {resource} sync state for {provider}: the provider does not sync {resource}, or it was never activated"
    )]
    NoSyncState {
        /// The provider.
        provider: Provider,
        /// The resource type asked for.
        resource: ResourceType,
    },
    /// A merchant id that is not this merchant's (another merchant's resource).
    #[error(
        "merchant {merchant_id} is not this API key's merchant: a key reads and writes its own merchant's sync state only"
    )]
    OtherMerchant {
        /// The id sent.
        merchant_id: Uuid,
    },
    /// A mapping names an item the provider's catalog does not have.
    #[error(
        "the {provider} catalog has no {id} (mappings[{index}].{field}): GET /integrations/{provider}/payment-methods, /packages and /billable-items list its ids"
    )]
    UnknownExternalId {
        /// The provider.
        provider: Provider,
        /// The mapping's position.
        index: usize,
        /// The field at fault.
        field: &'static str,
        /// The id sent.
        id: String,
    },
    /// Two mappings of one replacement name the same item.
    #[error("{id} appears twice (mappings[{index}].{field}): each item maps once")]
    DuplicateMapping {
        /// The second mapping's position.
        index: usize,
        /// The field at fault.
        field: &'static str,
        /// The id.
        id: String,
    },
    /// A product mapping that does not exist.
    #[error("no {provider} product mapping for {external_id}")]
    MappingNotFound {
        /// The provider.
        provider: Provider,
        /// The id asked for.
        external_id: String,
    },
    /// A manual sync while the breaker is open.
    #[error(
        "syncing {provider} is auto-paused: the circuit breaker opened after {consecutive_errors} consecutive failures; fix the provider, then call POST /integrations/{provider}/resume-sync"
    )]
    CircuitOpen {
        /// The provider.
        provider: Provider,
        /// The counter.
        consecutive_errors: u32,
    },
}
