//! Every integration test of the crate, in one test binary (one link instead of
//! nineteen; the tests of every module run in parallel with each other). A module per
//! area, named after what it covers: `cargo test --test it -- server_journeys::` runs one.

mod common;

mod admin_api;
mod capture;
mod conform_limits;
mod conform_runner;
mod conform_variants;
mod coverage;
mod mock_server;
mod request_future;
mod security_limits;
mod self_service;
mod serve_binary;
mod server_bad_input;
mod server_catalog;
mod server_concurrency;
mod server_connections;
mod server_fuzz;
mod server_generic;
mod server_journeys;
mod server_sync_history;
mod spec_31;
mod spec_contract;
mod spec_readings;
mod store_redis;
mod store_sqlite;
