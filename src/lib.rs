//! # revkeen-mock
//!
//! An offline, stateful and testable stand-in for the RevKeen v2 Integrations API: one
//! binary that serves the API from its OpenAPI document (`serve`), checks any
//! deployment against it (`conform`) and validates a document (`check-spec`).
//!
//! The same mock runs inside a Rust test. Build the application, send it requests (here
//! in-process, without a socket; `server::Running::start` listens on a port instead),
//! and ask the journal what it received:
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use revkeen_mock::control::{AdminAccess, Control, journal::Matcher};
//! use revkeen_mock::server::{App, ServerConfig, handle};
//! use revkeen_mock::sim::{Clock, SimConfig, Timestamp};
//! use revkeen_mock::spec::Contract;
//! use revkeen_mock::store::MemoryStore;
//!
//! let app = App::new(
//!     Contract::embedded().unwrap(),
//!     // Simulated time starts frozen; the admin API (or the store) moves it.
//!     MemoryStore::new(SimConfig::default(), Clock::frozen(Timestamp(1_777_626_000_000))),
//!     ServerConfig { strict: true, ..ServerConfig::default() },
//!     Control::new(AdminAccess::Open, 7),
//! );
//! let key = "rk_sandbox_docs_example_key_0001";
//! let activate = hyper::Request::post("/v2/integrations/wodify/activate")
//!     .header("x-api-key", key)
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from_static(
//!         br#"{"credentials": {"apiKey": "fail_sync_demo", "baseUrl": "https://gym.example"}}"#,
//!     )))
//!     .unwrap();
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let answer = runtime.block_on(handle(&app, activate)).unwrap();
//! assert_eq!(answer.status(), 200);
//!
//! // Was it called exactly once?
//! let activations = Matcher {
//!     method: Some("POST".into()),
//!     path: Some("/v2/integrations/wodify/activate".into()),
//!     ..Matcher::default()
//! };
//! assert_eq!(app.control.journal.count(&activations), 1);
//! // And every answer conformed to the spec (strict mode checks each one).
//! assert_eq!(app.strict_violations(), 0);
//! ```
//!
//! The layers, bottom up (`docs/architecture.md` draws them):
//!
//! - [`spec`] turns the OpenAPI document into a compiled contract.
//! - [`sim`] is the pure, deterministic domain model.
//! - [`store`] is where tenants live (the state seam), in memory by default.
//! - [`api`] is what the HTTP layer and the control plane share: errors, views, checks.
//! - [`control`] is the admin API, fixtures, faults and the journal.
//! - [`server`] is the HTTP layer; its operations are in `server::ops`, by family.
//! - [`cli`] holds the command line of the `revkeen-mock` binary.
//! - [`conform`] is the conformance runner; it depends on [`spec`] only.

pub mod api;
pub mod cli;
pub mod conform;
pub mod control;
pub mod server;
pub mod sim;
pub mod spec;
pub mod store;
