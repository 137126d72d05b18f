//! The control plane: fixtures, the admin API (`/__mock`), fault injection and the request
//! journal. It changes the world only through the simulator's API; what it keeps across
//! restarts goes through the store ([`crate::store::KeptControl`]).

pub mod admin;
pub mod coverage;
mod error;
pub mod faults;
pub mod fixture;
pub mod journal;
pub mod self_service;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::spec::{Contract, load};

pub use error::ControlError;

/// The admin API's own contract, embedded.
pub const ADMIN_SPEC: &str = include_str!("../../specs/admin.yaml");

/// The admin contract as JSON, made from [`ADMIN_SPEC`] by `build.rs` (as the API's
/// contract is: `spec::load::EMBEDDED_SPEC_JSON`).
pub const ADMIN_SPEC_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/admin.json"));

/// The name used in messages about the embedded admin contract.
const ADMIN_NAME: &str = "<embedded specs/admin.yaml>";

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
    /// The folder whose fixture files the admin API loads by name (`--fixtures-dir`);
    /// without it, only the built-in fixtures.
    pub fixtures_dir: Option<PathBuf>,
    /// Fault rules.
    pub faults: faults::FaultRules,
    /// The request journal.
    pub journal: journal::Journal,
    /// Host names the admin API answers for beside loopback and the listening address
    /// (`--allowed-host`), lower case.
    pub allowed_hosts: Vec<String>,
    /// The address the server listens on, set once it is bound.
    pub listening: OnceLock<IpAddr>,
    /// Origins granted CORS on the admin API (`--admin-origin`; none by default), for a
    /// tool of one's own served elsewhere.
    pub admin_origins: Vec<String>,
    /// What each key's runs met (`/__mock/coverage`, `/__mock/self/coverage`).
    pub coverage: coverage::Coverage,
    /// The self-service API (`/__mock/self`), unless turned off (`--self-service off`).
    pub self_service: Option<self_service::SelfService>,
    /// The admin contract's operations, resolved once.
    ops: admin::AdminOps,
}

impl Control {
    /// A control plane with the given access; faults draw from `seed`.
    pub fn new(access: AdminAccess, seed: u64) -> Self {
        let contract = load::parse_embedded(ADMIN_SPEC_JSON, ADMIN_SPEC, ADMIN_NAME)
            .and_then(|doc| Contract::load_value(&doc, ADMIN_NAME))
            .and_then(|c| c.into_servable())
            // The embedded admin spec is checked by the tests; it cannot fail here.
            .expect("the embedded admin spec compiles");
        // Checked by the tests too: an admin operation without a handler stops here.
        let ops = admin::AdminOps::resolve(&contract).unwrap_or_else(|e| panic!("{e}"));
        Self {
            access,
            contract,
            fixture: Mutex::new(None),
            fixtures_dir: None,
            faults: faults::FaultRules::new(seed),
            journal: journal::Journal::default(),
            allowed_hosts: Vec::new(),
            listening: OnceLock::new(),
            admin_origins: Vec::new(),
            coverage: coverage::Coverage::default(),
            self_service: Some(self_service::SelfService::new()),
            ops,
        }
    }

    /// Whether the admin API answers a request whose `Host` is `host` (a request with
    /// none comes from no browser: it is answered).
    pub fn answers_host(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return true;
        };
        // `name:port`, `[v6]:port`, or either without a port.
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(n, _)| n),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1")
            || self.allowed_hosts.contains(&name)
        {
            return true;
        }
        self.listening
            .get()
            .is_some_and(|ip| !ip.is_unspecified() && name.parse::<IpAddr>().ok() == Some(*ip))
    }
}

/// Every operation of `contract` resolved by `resolve` (by `operationId`), in the
/// contract's order, or the ids without a handler, named (`what`: whose operations).
fn resolve_operations<T>(
    contract: &Contract,
    resolve: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<Vec<T>, String> {
    let mut missing = Vec::new();
    let ops = contract
        .operations
        .iter()
        .filter_map(|op| {
            let found = resolve(&op.id);
            if found.is_none() {
                missing.push(op.id.as_str());
            }
            found
        })
        .collect();
    if missing.is_empty() {
        Ok(ops)
    } else {
        Err(format!("{what} without a handler: {}", missing.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_api_answers_loopback_the_listening_address_and_allowed_names_only() {
        let mut c = Control::new(AdminAccess::Open, 1);
        c.allowed_hosts = vec!["sandbox.partner.example".into()];
        for host in [
            None,
            Some("localhost"),
            Some("localhost:4010"),
            Some("127.0.0.1:4010"),
            Some("[::1]:4010"),
            Some("Sandbox.Partner.Example."),
            Some("sandbox.partner.example:443"),
        ] {
            assert!(c.answers_host(host), "{host:?}");
        }
        for host in [
            "attacker.example",
            "localhost.attacker.example:4010",
            "127.0.0.2",
            "10.1.2.3:4010",
            "[::2]",
            "",
        ] {
            assert!(!c.answers_host(Some(host)), "{host}");
        }
        // Bound to one address: that address is answered; bound to all, no address is.
        c.listening.set("10.1.2.3".parse().unwrap()).unwrap();
        assert!(c.answers_host(Some("10.1.2.3:4010")));
        let all = Control::new(AdminAccess::Open, 1);
        all.listening.set("0.0.0.0".parse().unwrap()).unwrap();
        assert!(!all.answers_host(Some("0.0.0.0:4010")));
        assert!(!all.answers_host(Some("10.1.2.3:4010")));
    }
}
