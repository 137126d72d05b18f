//! Why the control plane refuses a request, as values: the admin API turns each into
//! the API's envelope at its boundary (`From<ControlError> for ApiError`); the command
//! line prints it.

use crate::api::ApiError;
use crate::sim::KeyError;
use crate::spec::Violation;
use crate::store::StoreError;

/// A refusal of the control plane.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// A fixture name that is neither built in nor an existing file.
    #[error("no fixture '{name}': use one of {known} or the path of a fixture file")]
    NoSuchFixture {
        /// What was asked for.
        name: String,
        /// The built-in names, to say what would work.
        known: String,
    },
    /// A fixture name the admin API does not know (it takes names, never paths).
    #[error(
        "no fixture named '{name}': the available ones are {known} (names are letters, digits, '-' and '_'; files come from --fixtures-dir)"
    )]
    UnknownFixture {
        /// What was asked for (at most 64 characters of it).
        name: String,
        /// The names that would work.
        known: String,
    },
    /// A fixture that does not parse, or stages what the simulation refuses; the
    /// message names the file and the field.
    #[error("{0}")]
    BadFixture(String),
    /// An admin operation the contract routes but this build does not carry out (the
    /// admin spec was extended without the code).
    #[error("{0} is not an operation this mock's admin API carries out")]
    NoSuchOperation(String),
    /// A fault rule id the book does not hold.
    #[error("no fault rule '{0}' (GET /__mock/faults lists them)")]
    NoSuchFault(String),
    /// A fault rule that cannot be carried out.
    #[error("{0}")]
    BadFault(String),
    /// A `provider_outage` rule that names no provider to take down.
    #[error("a provider_outage rule needs match.provider")]
    OutageWithoutProvider,
    /// A clock move outside the times RFC 3339 can write.
    #[error(
        "the clock stays between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z (the times RFC 3339 can write)"
    )]
    ClockPastLatest,
    /// A time that is not RFC 3339.
    #[error("{0}")]
    BadTime(String),
    /// A state snapshot that cannot be restored (another format version).
    #[error("{0}")]
    BadState(String),
    /// A key parameter that is not a well-formed key.
    #[error("{field}: {reason}")]
    BadKey {
        /// Where the key was given (`key`, `match.key`).
        field: &'static str,
        /// Why it is not a key.
        reason: KeyError,
    },
    /// The state store could not do what was asked; nothing was changed.
    #[error("{0}")]
    Store(String),
    /// A body that the admin contract accepts but the operation's types do not.
    #[error("the body does not fit this operation: {0}")]
    BadBody(String),
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NoSuchFixture { .. }
            | ControlError::UnknownFixture { .. }
            | ControlError::NoSuchFault(_)
            | ControlError::NoSuchOperation(_) => ApiError::not_found(e.to_string()),
            ControlError::Store(message) => {
                let mut api = ApiError::from(StoreError::Unavailable(String::new()));
                api.message = message;
                api
            }
            _ => ApiError::validation(vec![Violation {
                field: match &e {
                    ControlError::BadKey { field, .. } => (*field).to_owned(),
                    _ => String::new(),
                },
                message: e.to_string(),
            }]),
        }
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(message) => ControlError::BadState(message),
            StoreError::Unavailable(_) => ControlError::Store(e.to_string()),
        }
    }
}
