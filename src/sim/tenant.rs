//! A tenant (one merchant per sandbox key, with the stores around it), the keys
//! fixtures declare, who may come in, and the snapshot format of every tenant. Where
//! tenants are kept is the `store`'s business; what they are is here.

use super::SimConfig;
use super::idempotency::IdempotencyStore;
use super::key::{ApiKey, Environment, KeyError, Scopes};
use super::merchant::Merchant;
use super::rate_limit::{Bucket, RateDecision};
use super::time::{Clock, Timestamp};

/// What a declared key may do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyPolicy {
    /// The scopes it holds.
    pub scopes: Scopes,
    /// A revoked key is refused with 401.
    pub revoked: bool,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            scopes: Scopes::default_sandbox(),
            revoked: false,
        }
    }
}

/// One tenant's state: its merchant and the per-key stores around it (a shared
/// store keeps all of it as one value).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    /// The merchant's integrations.
    pub merchant: Merchant,
    /// Remembered `Idempotency-Key`s.
    #[serde(default)]
    pub idempotency: IdempotencyStore,
    /// The rate limiter's bucket, created on first use when limiting is on.
    #[serde(default)]
    pub bucket: Option<Bucket>,
}

impl Tenant {
    /// An empty tenant for `key` (its merchant's ids seeded from `config` and the key).
    pub fn new(config: &SimConfig, key: &ApiKey) -> Self {
        Self::with(Merchant::new(tenant_seed(config.seed, key)))
    }

    /// A tenant around `merchant` (a restored snapshot's), with no idempotency keys
    /// remembered and a full rate-limit bucket.
    pub fn with(merchant: Merchant) -> Self {
        Tenant {
            merchant,
            idempotency: IdempotencyStore::default(),
            bucket: None,
        }
    }

    /// The tenant's own time when the sandbox's clock reads `sandbox` (its merchant's
    /// clock may run ahead, [`Merchant::move_clock_ahead`]).
    pub fn now(&self, sandbox: Timestamp) -> Timestamp {
        self.merchant.local_time(sandbox)
    }

    /// Takes a token from the key's bucket at sandbox time `now`, when rate limiting
    /// is on.
    pub fn take_token(&mut self, config: &SimConfig, now: Timestamp) -> Option<RateDecision> {
        let limit = config.rate_limit?;
        let now = self.now(now);
        let bucket = self.bucket.get_or_insert_with(|| Bucket::full(limit, now));
        Some(bucket.take(limit, now))
    }
}

/// A declared key, as kept in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredKey {
    /// The key.
    pub key: ApiKey,
    /// Its scopes.
    pub scopes: Scopes,
    /// Whether it is revoked.
    #[serde(default)]
    pub revoked: bool,
}

/// Everything that defines a world's state, in the state file's and the admin API's
/// format. Idempotency keys and rate-limit buckets are not kept: they are transient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorldState {
    /// The format's version (1).
    pub version: u32,
    /// The clock.
    pub clock: Clock,
    /// Keys declared by fixtures.
    pub keys: Vec<DeclaredKey>,
    /// Merchants by key.
    pub merchants: std::collections::BTreeMap<ApiKey, Merchant>,
    /// Whether the stored credentials were cut to their last four characters (the
    /// admin API's default snapshot): such a snapshot cannot be restored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl WorldState {
    /// The current format version.
    pub const VERSION: u32 = 1;

    /// The snapshot with every stored credential redacted.
    pub fn redacted(mut self) -> Self {
        for merchant in self.merchants.values_mut() {
            merchant.redact_credentials();
        }
        self.redacted = true;
        self
    }

    /// Why this snapshot cannot be restored, if it cannot.
    pub fn unrestorable(&self) -> Option<String> {
        if self.version != Self::VERSION {
            return Some(format!(
                "state format version {} is not supported (expected {})",
                self.version,
                Self::VERSION
            ));
        }
        self.redacted.then(|| {
            "this snapshot is redacted (its stored credentials were cut to their last four characters), so restoring it would lose them: take a full one with GET /__mock/state?full=true".to_owned()
        })
    }
}

/// Why a request's key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key, or an empty one.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// An `rk_live_` key.
    #[error(
        "live keys (rk_live_) are never accepted by the mock, which serves the sandbox environment only: use an rk_sandbox_ key"
    )]
    Live,
    /// A key a fixture declared revoked.
    #[error("this API key has been revoked: create a new rk_sandbox_ key")]
    Revoked,
    /// In strict mode, a key the loaded fixture does not declare.
    #[error("unknown API key: strict mode only accepts the keys of the loaded fixture")]
    Unknown,
    /// A new key, while the sandbox holds its most merchants (`--max-tenants`).
    #[error(
        "this sandbox holds its most merchants ({0}, --max-tenants), so a new key cannot create one: use a key it knows already, or ask its operator to raise the limit or reset it"
    )]
    TenantLimit(usize),
}

/// Who may come in with the `x-api-key` value `text`, given the key's declared policy
/// (`None`: not declared): its key and scopes, or why it is refused.
pub fn admit(
    text: &str,
    declared: impl FnOnce(&ApiKey) -> Option<KeyPolicy>,
    config: &SimConfig,
) -> Result<(ApiKey, Scopes), AuthError> {
    let key = ApiKey::parse(text.trim())?;
    if key.environment() == Environment::Live {
        return Err(AuthError::Live);
    }
    let policy = match declared(&key) {
        Some(p) if p.revoked => return Err(AuthError::Revoked),
        Some(p) => p,
        None if config.strict_keys => return Err(AuthError::Unknown),
        None => KeyPolicy::default(),
    };
    Ok((key, policy.scopes))
}

/// The seed of a tenant's id generator: a function of the simulation's seed and the
/// key only, so a tenant's ids do not depend on the order tenants were created, or on
/// which replica created it.
pub fn tenant_seed(seed: u64, key: &ApiKey) -> u64 {
    key.as_str().bytes().fold(seed, |acc, b| {
        fastrand::Rng::with_seed(acc ^ u64::from(b)).u64(..)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_seeds_depend_on_the_key_only() {
        let k1 = ApiKey::parse("rk_sandbox_partner_one_000001").unwrap();
        let k2 = ApiKey::parse("rk_sandbox_partner_two_000002").unwrap();
        assert_eq!(tenant_seed(7, &k1), tenant_seed(7, &k1));
        assert_ne!(tenant_seed(7, &k1), tenant_seed(7, &k2));
        assert_ne!(tenant_seed(7, &k1), tenant_seed(8, &k1));
    }
}
