//! Providers and the provider simulation: how a simulated practicehub, wodify or
//! terminal answers, decided by the credentials (like a payment processor's test card
//! numbers) and by outages the control plane injects; the resource types each provider
//! syncs and the ways a sync fails (the sync history records them, and imports them from
//! here: the folder reads one way).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::time::Timestamp;

super::wire::wire_enum! {
    /// An external system an integration connects.
    pub enum Provider ("provider") {
        /// PracticeHub.
        Practicehub = "practicehub",
        /// Wodify.
        Wodify = "wodify",
        /// RevKeen Terminal.
        Terminal = "terminal",
    }
}

impl Provider {
    /// Position in [`Provider::ALL`], used to index a merchant's integrations.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Credentials for a provider, as sent to activate and test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The provider API key; its prefix picks the simulated behaviour.
    pub api_key: String,
    /// The provider's base URL.
    pub base_url: String,
    /// Optional app name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Optional app e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_email: Option<String>,
}

impl Credentials {
    /// The credentials as a person may see them: the `apiKey` cut to its last four
    /// characters (nothing of a key of eight or fewer); the rest is not secret.
    pub fn redacted(&self) -> Credentials {
        let chars: Vec<char> = self.api_key.chars().collect();
        let tail: String = if chars.len() > 8 {
            chars[chars.len() - 4..].iter().collect()
        } else {
            String::new()
        };
        Credentials {
            api_key: format!("…{tail}"),
            ..self.clone()
        }
    }
}

/// What the simulated provider does, chosen by the credentials' `apiKey` prefix.
/// docs/reference.md's table of test credentials lists these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Behaviour {
    /// Any other key: every credential check passes and every sync succeeds.
    Healthy,
    /// `invalid…`: the provider rejects the credentials.
    RejectsCredentials,
    /// `fail_sync…`: every sync fails.
    FailsEverySync,
    /// `fail_first_<N>…`: the first N syncs fail, then every sync succeeds.
    FailsFirst {
        /// How many syncs fail.
        n: u32,
    },
    /// `flap…`: syncs alternate: fail, succeed, fail, succeed…
    Flaps,
    /// `timeout…`: every sync runs for the time-out and then fails.
    TimesOut,
    /// `slow…`: every sync succeeds but runs for two simulated minutes.
    Slow,
    /// `reject_payments…`: syncs succeed, but the provider refuses every payment record
    /// (a permanent failure of the `payments` entry, which no retry fixes).
    RejectsPayments,
}

impl Behaviour {
    /// How long a sync that times out runs before failing.
    pub const TIMEOUT: Duration = Duration::from_secs(30);
    /// How long a slow sync runs.
    pub const SLOW: Duration = Duration::from_secs(120);

    /// The behaviour the credentials' `apiKey` selects.
    pub fn of(api_key: &str) -> Self {
        if api_key.starts_with("invalid") {
            Behaviour::RejectsCredentials
        } else if api_key.starts_with("fail_sync") {
            Behaviour::FailsEverySync
        } else if let Some(rest) = api_key.strip_prefix("fail_first_") {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse() {
                Ok(n) => Behaviour::FailsFirst { n },
                Err(_) => Behaviour::Healthy,
            }
        } else if api_key.starts_with("flap") {
            Behaviour::Flaps
        } else if api_key.starts_with("timeout") {
            Behaviour::TimesOut
        } else if api_key.starts_with("slow") {
            Behaviour::Slow
        } else if api_key.starts_with("reject_payments") {
            Behaviour::RejectsPayments
        } else {
            Behaviour::Healthy
        }
    }

    /// The provider's verdict on the credentials: `Err(reason)` when it rejects them.
    pub fn check_credentials(self, provider: Provider) -> Result<(), String> {
        match self {
            Behaviour::RejectsCredentials => Err(format!(
                "{provider} rejected the API key: 401 Unauthorized (test credentials starting with 'invalid' are always rejected)"
            )),
            _ => Ok(()),
        }
    }

    /// How long a sync runs, given the configured default duration.
    pub fn duration(self, default: Duration) -> Duration {
        match self {
            Behaviour::TimesOut => Self::TIMEOUT,
            Behaviour::Slow => Self::SLOW.max(default),
            _ => default,
        }
    }

    /// The outcome of the `attempt`-th sync (0-based) for this behaviour: `Err` when
    /// the provider fails it.
    pub fn sync_outcome(self, attempt: u64) -> Result<(), Failure> {
        let fail = match self {
            Behaviour::Healthy
            | Behaviour::Slow
            | Behaviour::RejectsCredentials
            | Behaviour::RejectsPayments => false,
            Behaviour::FailsEverySync => true,
            Behaviour::FailsFirst { n } => attempt < u64::from(n),
            Behaviour::Flaps => attempt.is_multiple_of(2),
            Behaviour::TimesOut => return Err(Failure::TimedOut),
        };
        if fail {
            Err(Failure::Unavailable)
        } else {
            Ok(())
        }
    }

    /// How the provider treats the records of `resource` in a sync it answers: `Some`
    /// when it refuses them.
    pub fn refuses(self, resource: ResourceType) -> Option<Failure> {
        (self == Behaviour::RejectsPayments && resource == ResourceType::Payments)
            .then_some(Failure::Rejected)
    }
}

/// A provider outage injected by the control plane: syncs fail whatever the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outage {
    /// The next `remaining` syncs fail.
    NextSyncs {
        /// Syncs left to fail.
        remaining: u32,
    },
    /// Every sync that runs before `until` fails.
    Until {
        /// When the outage ends (simulated time).
        until: Timestamp,
    },
}

impl Outage {
    /// Whether a sync at `at` fails because of this outage; consumes one failure of a
    /// `NextSyncs` outage. Returns whether the outage is over afterwards, too.
    pub fn strike(&mut self, at: Timestamp) -> (bool, bool) {
        match self {
            Outage::NextSyncs { remaining } => {
                if *remaining == 0 {
                    (false, true)
                } else {
                    *remaining -= 1;
                    (true, *remaining == 0)
                }
            }
            Outage::Until { until } => {
                let fails = at < *until;
                (fails, !fails)
            }
        }
    }
}

super::wire::wire_enum! {
    /// A kind of record a provider sync moves.
    pub enum ResourceType ("resource type") {
        /// A clinic's patients (PracticeHub).
        Patients = "patients",
        /// A gym's or a shop's customers (Wodify, Terminal).
        Customers = "customers",
        /// Invoices (the invoice lookback applies to the first full sync).
        Invoices = "invoices",
        /// Products and packages.
        Products = "products",
        /// Payments.
        Payments = "payments",
    }
}

impl ResourceType {
    /// The resource types `provider` syncs, in the order a run processes them. A
    /// terminal takes card payments for walk-in customers: it has no invoices or products.
    pub fn of(provider: Provider) -> &'static [ResourceType] {
        match provider {
            Provider::Practicehub => &[
                ResourceType::Patients,
                ResourceType::Invoices,
                ResourceType::Products,
                ResourceType::Payments,
            ],
            Provider::Wodify => &[
                ResourceType::Customers,
                ResourceType::Invoices,
                ResourceType::Products,
                ResourceType::Payments,
            ],
            Provider::Terminal => &[ResourceType::Customers, ResourceType::Payments],
        }
    }

    /// Records of this type that appeared at the provider of integration `integration`
    /// in `(from, to]`. Records appear at a rate drawn once per integration and type from
    /// its id (between half a record and 40 records a day); the provider's history
    /// starts three years before the integration was created (`origin`).
    pub fn created_between(
        self,
        integration: Uuid,
        origin: Timestamp,
        from: Timestamp,
        to: Timestamp,
    ) -> u32 {
        const DAY_MS: i128 = 86_400_000;
        let seed = (integration.as_u128() as u64) ^ ((self as u64 + 1) << 56);
        let per_day_milli = i128::from(fastrand::Rng::with_seed(seed).u32(500..=40_000));
        let made_by = |t: Timestamp| {
            let elapsed = i128::from(t.0.max(origin.0) - origin.0);
            per_day_milli * elapsed / (1000 * DAY_MS)
        };
        (made_by(to) - made_by(from)).clamp(0, i128::from(u32::MAX)) as u32
    }
}

/// Why a sync (or one resource of it) failed. Kept as a value rather than a message so
/// an entry stays small; [`Failure::message`] writes it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The provider answered 503 (its credentials make it fail).
    Unavailable,
    /// A provider outage injected through the control plane.
    Outage,
    /// The provider did not answer in time.
    TimedOut,
    /// The provider refused the records themselves (422): retrying cannot help.
    Rejected,
    /// The integration was deactivated while the run was in progress.
    Cancelled,
}

impl Failure {
    /// Whether a retry may succeed: the provider was down, not the data wrong.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Failure::Unavailable | Failure::Outage | Failure::TimedOut
        )
    }

    /// The message for people, as `lastSyncError` and the log show it.
    pub fn message(self, provider: Provider, resource: Option<ResourceType>) -> String {
        match self {
            Failure::Unavailable => format!("{provider} returned 503 Service Unavailable"),
            Failure::Outage => {
                format!("{provider} is unavailable (simulated outage): 503 Service Unavailable")
            }
            Failure::TimedOut => format!(
                "{provider} did not answer within {} s: sync timed out",
                Behaviour::TIMEOUT.as_secs()
            ),
            Failure::Rejected => format!(
                "{provider} refused the {} records: 422 Unprocessable Entity (a permanent failure: fix the records at the provider; retrying cannot help)",
                resource.map_or("synced", ResourceType::as_str)
            ),
            Failure::Cancelled => {
                "the integration was deactivated while this sync was running".to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_prefixes_pick_the_behaviour() {
        assert_eq!(Behaviour::of("invalid_key"), Behaviour::RejectsCredentials);
        assert_eq!(Behaviour::of("fail_sync_x"), Behaviour::FailsEverySync);
        assert_eq!(
            Behaviour::of("fail_first_3_x"),
            Behaviour::FailsFirst { n: 3 }
        );
        assert_eq!(Behaviour::of("flap"), Behaviour::Flaps);
        assert_eq!(Behaviour::of("timeout"), Behaviour::TimesOut);
        assert_eq!(Behaviour::of("slow_x"), Behaviour::Slow);
        assert_eq!(
            Behaviour::of("reject_payments_1"),
            Behaviour::RejectsPayments
        );
        assert_eq!(Behaviour::of("ph_live_3f9a"), Behaviour::Healthy);
        assert_eq!(Behaviour::of("fail_first_x"), Behaviour::Healthy);
    }

    #[test]
    fn fail_first_recovers_and_flap_alternates() {
        let ff = Behaviour::FailsFirst { n: 2 };
        let outcomes: Vec<bool> = (0..4).map(|a| ff.sync_outcome(a).is_ok()).collect();
        assert_eq!(outcomes, [false, false, true, true]);
        let flap: Vec<bool> = (0..4)
            .map(|a| Behaviour::Flaps.sync_outcome(a).is_ok())
            .collect();
        assert_eq!(flap, [false, true, false, true]);
    }

    #[test]
    fn outages_fail_a_count_or_until_a_time() {
        let mut o = Outage::NextSyncs { remaining: 2 };
        assert_eq!(o.strike(Timestamp(0)), (true, false));
        assert_eq!(o.strike(Timestamp(0)), (true, true));
        let mut o = Outage::Until {
            until: Timestamp(10),
        };
        assert_eq!(o.strike(Timestamp(9)), (true, false));
        assert_eq!(o.strike(Timestamp(10)), (false, true));
    }
}
