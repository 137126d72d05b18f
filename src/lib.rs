//! # revkeen-mock
//!
//! An offline, stateful and testable stand-in for the RevKeen v2 Integrations API: one
//! binary that serves the API from its OpenAPI document (`serve`), checks any
//! deployment against it (`conform`) and validates a document (`check-spec`).
//!
//! ## In a Rust test
//!
//! [`MockServer`] starts the mock on a free port, as wiremock does: point the code under
//! test at [`MockServer::api_url`], say what it should call, and the end of the test
//! checks it (and that every answer conformed to the spec).
//!
//! ```
//! use revkeen_mock::{Expectation, MockServer};
//! use std::time::Duration;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // A merchant whose wodify breaker is open (fixtures/breaker-open.yaml).
//! let mock = MockServer::builder().fixture("breaker-open").seed(7).start().await;
//! mock.expect(Expectation::request("POST", "/v2/integrations/wodify/resume-sync").times(1));
//!
//! // The client under test gets `mock.api_url()` (http://127.0.0.1:PORT/v2); here, by hand:
//! let mut tcp = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
//! tcp.write_all(
//!     b"POST /v2/integrations/wodify/resume-sync HTTP/1.1\r\nhost: localhost\r\n\
//!       x-api-key: rk_sandbox_breaker_open_key_001\r\ncontent-type: application/json\r\n\
//!       content-length: 2\r\nconnection: close\r\n\r\n{}",
//! )
//! .await
//! .unwrap();
//! let mut answer = String::new();
//! tcp.read_to_string(&mut answer).await.unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
//!
//! // The simulator's clock is frozen; moving it runs the syncs that fall due.
//! mock.advance_clock(Duration::from_secs(15 * 60)).await;
//! // Dropped here: the expectation is verified (a miss panics, naming it).
//! # });
//! ```
//!
//! The mock also runs in-process, without a socket: build the [`server::App`] and hand
//! it requests ([`server::handle`]), then ask the journal what it received:
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

pub mod alloc;
pub mod api;
pub mod capture;
pub mod cli;
pub mod conform;
pub mod control;
pub mod fast_map;
pub mod mock_server;
pub mod server;
pub mod sim;
pub mod spec;
pub mod store;

pub use mock_server::{Expectation, MockServer, MockServerBuilder};
