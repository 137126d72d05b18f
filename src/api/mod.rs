//! The API's vocabulary, shared by the HTTP layer (`server`) and the control plane
//! (`control`), below both so neither reaches into the other: refusals in the error
//! envelope ([`ApiError`]), domain values rendered as the spec's JSON ([`render`]),
//! and the two request checks both make: the route a method and path resolve to, and
//! the JSON body an operation accepts ([`request`]).
//!
//! Layers, bottom up: `spec` and `sim`; `api`; `control`; `server`; `cli`. `conform`
//! depends on `spec` only, so a bug in the mock's code paths cannot hide in it.

pub mod error;
pub mod render;
pub mod request;
pub mod sync_log;

pub use error::{ApiError, ErrorType};
