//! The control plane: fixtures, the admin API (`/__mock`), fault injection, the request
//! journal and persistence. It changes the world only through the simulator's API.

pub mod admin;
mod error;
pub mod faults;
pub mod fixture;
pub mod journal;
pub mod persist;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use crate::spec::Contract;

pub use error::ControlError;

/// The admin API's own contract, embedded.
pub const ADMIN_SPEC: &str = include_str!("../../specs/admin.yaml");

/// Who may use the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAccess {
    /// Turned off (`--no-admin`): `/__mock` is an unknown path.
    Off,
    /// Open (the default on loopback).
    Open,
    /// Only with `Authorization: Bearer <token>`.
    Token(String),
}

/// Everything the control plane keeps beside the world.
pub struct Control {
    /// Who may use the admin API.
    pub access: AdminAccess,
    /// The admin API's compiled contract (routes and response validation).
    pub contract: Contract,
    /// The fixture resets go back to.
    pub fixture: Mutex<Option<fixture::Fixture>>,
    /// Fault rules.
    pub faults: faults::FaultRules,
    /// The request journal.
    pub journal: journal::Journal,
    /// The state file, when state is persisted.
    pub state_file: Option<PathBuf>,
    /// Set by every change; the writer clears it when it saves.
    pub dirty: AtomicBool,
}

impl Control {
    /// A control plane with the given access; faults draw from `seed`.
    pub fn new(access: AdminAccess, seed: u64) -> Self {
        let contract = Contract::load_str(ADMIN_SPEC, "<embedded specs/admin.yaml>")
            .and_then(|c| c.into_servable())
            // The embedded admin spec is checked by the tests; it cannot fail here.
            .expect("the embedded admin spec compiles");
        Self {
            access,
            contract,
            fixture: Mutex::new(None),
            faults: faults::FaultRules::new(seed),
            journal: journal::Journal::default(),
            state_file: None,
            dirty: AtomicBool::new(false),
        }
    }
}
