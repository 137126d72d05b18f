//! Why the simulator refused a command: the domain's rules, as values (a leaf of the
//! domain model, used by the commands and by the catalog's checks alike).

use uuid::Uuid;

use super::history::RetryRefusal;
use super::provider::{Provider, ResourceType};

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
