//! # revkeen-mock
//!
//! An offline, stateful and testable stand-in for the RevKeen v2 Integrations API.
//!
//! - [`spec`] turns the OpenAPI document into a compiled contract.
//! - [`sim`] is the pure, deterministic domain model.
//! - [`store`] is where tenants live (the state seam), in memory by default.
//! - [`api`] is what the HTTP layer and the control plane share: errors, views, checks.
//! - [`control`] is the admin API, fixtures, faults and the journal; [`server`] the HTTP layer.
//! - [`conform`] is the conformance runner.
//! - [`cli`] holds the command line of the `revkeen-mock` binary.

pub mod api;
pub mod cli;
pub mod conform;
pub mod control;
pub mod server;
pub mod sim;
pub mod spec;
pub mod store;
