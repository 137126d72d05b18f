//! API keys and scopes: what a key is, which environment it belongs to and what it may do.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The environment a key belongs to, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// `rk_sandbox_`: test mode; the only kind the mock serves.
    Sandbox,
    /// `rk_live_`: production; always refused by the mock.
    Live,
}

/// A well-formed API key: `rk_sandbox_` or `rk_live_` then at least 16 characters of
/// `[A-Za-z0-9_]`. Holding one proves the text has that shape. Shared text: a request's
/// key is kept by its session, its log line and its journal entry without copies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKey(Arc<str>);

/// Why a text is not an [`ApiKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key, or an empty one.
    #[error("no API key: send your rk_sandbox_ key in the x-api-key header")]
    Missing,
    /// Text that is not a RevKeen key.
    #[error(
        "malformed API key: expected rk_sandbox_ followed by at least 16 letters, digits or underscores"
    )]
    Malformed,
}

impl ApiKey {
    /// The shortest suffix after the prefix.
    pub const MIN_SUFFIX: usize = 16;

    /// Parses a key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Missing);
        }
        let suffix = text
            .strip_prefix("rk_sandbox_")
            .or_else(|| text.strip_prefix("rk_live_"))
            .ok_or(KeyError::Malformed)?;
        let well_formed = suffix.len() >= Self::MIN_SUFFIX
            && suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if well_formed {
            Ok(ApiKey(Arc::from(text)))
        } else {
            Err(KeyError::Malformed)
        }
    }

    /// The environment of the key.
    pub fn environment(&self) -> Environment {
        if self.0.starts_with("rk_live_") {
            Environment::Live
        } else {
            Environment::Sandbox
        }
    }

    /// The whole key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters, the only part that may appear in logs.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

/// Looks keys up by their text (a request's header) without parsing it first; hashes
/// and compares like the text, as `Borrow` requires.
impl std::borrow::Borrow<str> for ApiKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiKey {
    type Error = KeyError;
    fn try_from(s: String) -> Result<Self, KeyError> {
        ApiKey::parse(&s)
    }
}

impl From<ApiKey> for String {
    fn from(k: ApiKey) -> String {
        k.0.as_ref().to_owned()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A permission a key holds (`{resource}:{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// View integration status and sync logs.
    #[serde(rename = "integrations:read")]
    IntegrationsRead,
    /// Activate, configure and sync integrations.
    #[serde(rename = "integrations:write")]
    IntegrationsWrite,
    /// View sync watermarks and state.
    #[serde(rename = "sync:read")]
    SyncRead,
    /// Update sync watermarks.
    #[serde(rename = "sync:write")]
    SyncWrite,
    /// The internal sync worker's scope (the status endpoint); never held by default.
    #[serde(rename = "integrations:worker")]
    IntegrationsWorker,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] = [
        Scope::IntegrationsRead,
        Scope::IntegrationsWrite,
        Scope::SyncRead,
        Scope::SyncWrite,
        Scope::IntegrationsWorker,
    ];

    /// What an ordinary sandbox key holds.
    pub const DEFAULT: [Scope; 4] = [
        Scope::IntegrationsRead,
        Scope::IntegrationsWrite,
        Scope::SyncRead,
        Scope::SyncWrite,
    ];

    /// The scope's name (`integrations:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::IntegrationsRead => "integrations:read",
            Scope::IntegrationsWrite => "integrations:write",
            Scope::SyncRead => "sync:read",
            Scope::SyncWrite => "sync:write",
            Scope::IntegrationsWorker => "integrations:worker",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scope::ALL
            .into_iter()
            .find(|sc| sc.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope '{s}' (expected one of {})", names.join(", "))
            })
    }
}

/// A set of scopes, as a bit set: copied, not allocated, on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// What an ordinary sandbox key holds.
    pub fn default_sandbox() -> Self {
        Scope::DEFAULT.into_iter().collect()
    }

    /// Whether the set holds `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }

    /// Whether the set holds the scope named `name` (`false` for unknown names).
    pub fn contains_named(self, name: &str) -> bool {
        name.parse::<Scope>().is_ok_and(|s| self.contains(s))
    }

    /// Adds `scope`.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1 << scope as u8;
    }

    /// The scopes held, in [`Scope::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = Scopes::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Scope>::deserialize(d)?.into_iter().collect())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_and_live_keys_parse_with_their_environment() {
        let k = ApiKey::parse("rk_sandbox_abcdefghijklmnop").unwrap();
        assert_eq!(k.environment(), Environment::Sandbox);
        assert_eq!(k.last4(), "mnop");
        let k = ApiKey::parse("rk_live_ABCDEFGHIJ_1234567").unwrap();
        assert_eq!(k.environment(), Environment::Live);
    }

    #[test]
    fn anything_else_is_malformed_or_missing() {
        assert_eq!(ApiKey::parse(""), Err(KeyError::Missing));
        for bad in [
            "rk_sandbox_short",
            "rk_test_abcdefghijklmnop",
            "Bearer rk_sandbox_abcdefghijklmnop",
            "rk_sandbox_abcdefgh-jklmnop",
            "rk_sandbox_abcdefghijklmnö",
            "rk_sandbox_",
        ] {
            assert_eq!(ApiKey::parse(bad), Err(KeyError::Malformed), "{bad}");
        }
    }

    #[test]
    fn scopes_round_trip_through_their_names() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        assert!("integrations:*".parse::<Scope>().is_err());
    }

    #[test]
    fn scope_sets_hold_exactly_what_was_inserted() {
        let set: Scopes = [Scope::IntegrationsRead, Scope::SyncRead]
            .into_iter()
            .collect();
        assert!(set.contains(Scope::IntegrationsRead) && set.contains_named("sync:read"));
        assert!(!set.contains(Scope::IntegrationsWrite) && !set.contains_named("bogus"));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Scope::IntegrationsRead, Scope::SyncRead]
        );
        assert!(!Scopes::default_sandbox().contains(Scope::IntegrationsWorker));
    }
}
