//! Fixtures: named starting worlds (keys, merchants, integration states) in
//! `fixtures/*.yaml`, validated on load with errors naming the file and the field, and
//! applied through the simulator's own commands so a fixture can only stage states the
//! API itself could reach. An integration `revkeen-mock capture` read is restored as it
//! was instead, after the simulator's checks that it is such a state
//! ([`crate::sim::CapturedIntegration`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::error::ControlError;
use crate::sim::{
    ActivateInput, ApiKey, At, CapturedIntegration, Catalog, Command, Credentials, KeyPolicy,
    LookbackDays, Merchant, Outage, PaymentMapping, Product, ProductMapping, Provider, Restore,
    Scope, Scopes, SimConfig, SyncIntervalMinutes, Tenant, Timestamp, tenant_seed,
    validate_products,
};
use crate::spec::load::parse_text;
use crate::store::{Store, TenantRef};

/// The credentials a captured integration keeps when its fixture names none: the
/// capture never reads credentials, and these make the provider healthy, so later
/// syncs, resumes and retries succeed. Put others in the fixture (`fail_sync_...`) to
/// keep it failing.
pub const CAPTURED_CREDENTIALS: &str = "captured_placeholder";

/// The fixtures shipped in `fixtures/`, embedded so `--fixture NAME` works anywhere.
pub const BUILT_IN: [(&str, &str); 6] = [
    ("default", include_str!("../../fixtures/default.yaml")),
    (
        "breaker-open",
        include_str!("../../fixtures/breaker-open.yaml"),
    ),
    ("degraded", include_str!("../../fixtures/degraded.yaml")),
    ("partners", include_str!("../../fixtures/partners.yaml")),
    ("mappings", include_str!("../../fixtures/mappings.yaml")),
    ("auth-cases", include_str!("../../fixtures/auth-cases.yaml")),
];

/// A starting world.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// What the fixture stages, for people.
    #[serde(default)]
    pub description: String,
    /// The per-key rate limit (`staging`, `production`, `N` or `N/BURST`), used when
    /// this is the fixture `serve` starts with and `--rate-limit` is not given.
    #[serde(default, rename = "rateLimit")]
    pub rate_limit: Option<String>,
    /// The merchants, one per key.
    #[serde(default)]
    pub merchants: Vec<MerchantFixture>,
    /// When `revkeen-mock capture` read the account its `captured` integrations come
    /// from: the time they are restored as of (`serve` starting with such a fixture
    /// starts its clock there).
    #[serde(default, rename = "capturedAt")]
    pub captured_at: Option<At>,
    /// Where the capture read it (the target's URL), for people.
    #[serde(default, rename = "capturedFrom")]
    pub captured_from: Option<String>,
    /// Where the fixture came from (a name or a path), set on load.
    #[serde(skip)]
    pub source: String,
}

/// One key and its merchant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantFixture {
    /// The sandbox key.
    pub key: ApiKey,
    /// A label for people.
    #[serde(default)]
    pub name: String,
    /// The key's scopes (default: every scope but the worker's).
    pub scopes: Option<Vec<Scope>>,
    /// A revoked key gets 401.
    #[serde(default)]
    pub revoked: bool,
    /// The merchant's integrations.
    #[serde(default)]
    pub integrations: Vec<IntegrationFixture>,
    /// The merchant's RevKeen products (default: eight from its seed).
    pub products: Option<Vec<Product>>,
    /// How far the merchant's own clock runs ahead of the sandbox's (self-service's
    /// per-merchant time); its integrations are staged as of its own time.
    #[serde(default, rename = "clockAheadSeconds")]
    pub clock_ahead_seconds: u64,
}

/// One integration, staged by activating it and running syncs, or restored from what
/// a capture read (`captured`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntegrationFixture {
    /// Which provider.
    pub provider: Provider,
    /// The credentials to activate with (their `apiKey` picks the behaviour). Required
    /// unless `captured`; a captured integration without them keeps
    /// [`CAPTURED_CREDENTIALS`], a healthy provider.
    pub credentials: Option<Credentials>,
    /// The integration as a capture read it: restored as it was (its record, sync log,
    /// resources' states and unmapped packages), checked to be a state the API could
    /// reach. The staging fields (`syncs`, `syncIntervalMinutes`, `syncEnabled`,
    /// `currency`, `autoSendInvoices`, `invoiceLookbackDays`, `deactivated`) do not go
    /// with it.
    pub captured: Option<Box<CapturedIntegration>>,
    /// The sync interval (default 15).
    pub sync_interval_minutes: Option<SyncIntervalMinutes>,
    /// Automatic sync on or off (default on).
    pub sync_enabled: Option<bool>,
    /// Currency, kept in `configuration`.
    pub currency: Option<String>,
    /// Auto-send invoices.
    pub auto_send_invoices: Option<bool>,
    /// Invoice lookback days.
    pub invoice_lookback_days: Option<LookbackDays>,
    /// Syncs that have already happened: successes first, then failures.
    #[serde(default)]
    pub syncs: SyncHistory,
    /// The provider account's catalog (default: derived from the seed and the
    /// credentials).
    pub catalog: Option<Catalog>,
    /// Product mappings, set before the staged syncs (so they meet only the packages
    /// left unmapped).
    #[serde(default)]
    pub product_mappings: Vec<ProductMapping>,
    /// Payment mappings.
    pub payment_mappings: Option<Vec<PaymentMapping>>,
    /// Deactivated after staging (the record stays).
    #[serde(default)]
    pub deactivated: bool,
}

/// Syncs to stage.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncHistory {
    /// Successful syncs.
    #[serde(default)]
    pub succeeded: u32,
    /// Consecutive failed syncs after them (at most the breaker's threshold).
    #[serde(default)]
    pub failed: u32,
}

/// Parses a fixture's text; errors name the source, the line or the field.
pub fn parse(text: &str, source: &str) -> Result<Fixture, ControlError> {
    let value = parse_text(text, source).map_err(|e| ControlError::BadFixture(e.to_string()))?;
    let mut fixture: Fixture = serde_path_to_error::deserialize(&value).map_err(|e| {
        ControlError::BadFixture(format!("{source}: at {}: {}", e.path(), e.inner()))
    })?;
    fixture.source = source.to_owned();
    Ok(fixture)
}

/// The name under which a store that outlives the process keeps the loaded fixture's
/// name or path ([`crate::store::KeptControl`]), so resets after a restart go back to it.
pub const KEPT: &str = "fixture";

/// The longest fixture name the admin API takes.
const MAX_NAME: usize = 64;

/// Finds a fixture by name, as the admin API does: a built-in one, or `NAME.yaml`,
/// `NAME.yml` or `NAME.json` in `dir` (the operator's `--fixtures-dir`), never a path.
/// A name is letters, digits, `-` and `_` (so it holds no separator, no `..`, nothing
/// absolute); a file found through a link that leaves `dir` is not read. No error
/// carries anything of a file's contents: a file that does not parse is named, and the
/// operator sees its problem with `serve --fixture PATH`.
pub fn named(name: &str, dir: Option<&Path>) -> Result<Fixture, ControlError> {
    if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
        return parse(text, &format!("fixtures/{name}.yaml"));
    }
    let unknown = || ControlError::UnknownFixture {
        name: name.chars().take(MAX_NAME).collect(),
        known: available(dir).join(", "),
    };
    let well_formed = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let Some(dir) = dir.filter(|_| well_formed) else {
        return Err(unknown());
    };
    let Ok(root) = dir.canonicalize() else {
        return Err(unknown());
    };
    for ext in ["yaml", "yml", "json"] {
        let Ok(file) = root.join(format!("{name}.{ext}")).canonicalize() else {
            continue;
        };
        if !file.starts_with(&root) || !file.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&file);
        return text
            .ok()
            .and_then(|t| parse(&t, &file.display().to_string()).ok())
            .ok_or_else(|| {
                ControlError::BadFixture(format!(
                    "the fixture '{name}' of the fixtures directory cannot be loaded: it is not a valid fixture (start the mock with --fixture {} to see why)",
                    file.display()
                ))
            });
    }
    Err(unknown())
}

/// The names [`named`] takes: the built-in ones, then the fixture files of `dir`.
pub fn available(dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| (*n).to_owned()).collect();
    let mut found: Vec<String> = dir
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let ext = path.extension()?.to_str()?;
            let stem = path.file_stem()?.to_str()?;
            let ok = matches!(ext, "yaml" | "yml" | "json")
                && !stem.is_empty()
                && stem.len() <= MAX_NAME
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            ok.then(|| stem.to_owned())
        })
        .filter(|n| !names.contains(n))
        .collect();
    found.sort();
    found.dedup();
    names.extend(found);
    names
}

/// Finds a fixture by built-in name or by path (the command line's `--fixture`).
pub fn find(name_or_path: &str) -> Result<Fixture, ControlError> {
    if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("fixtures/{name}.yaml"));
    }
    let path = Path::new(name_or_path);
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ControlError::BadFixture(format!("cannot read fixture {}: {e}", path.display()))
        })?;
        return parse(&text, &path.display().to_string());
    }
    let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
    Err(ControlError::NoSuchFixture {
        name: name_or_path.to_owned(),
        known: names.join(", "),
    })
}

impl Fixture {
    /// Checks rules that serde cannot: unique keys, one integration per provider,
    /// failures within the breaker's threshold.
    pub fn validate(&self, config: &SimConfig) -> Result<(), String> {
        if let Some(r) = &self.rate_limit {
            r.parse::<crate::sim::RateLimit>()
                .map_err(|e| format!("{}: at rateLimit: {e}", self.source))?;
        }
        let mut keys = BTreeMap::new();
        for (m_index, m) in self.merchants.iter().enumerate() {
            if keys.insert(m.key.clone(), m_index).is_some() {
                return Err(format!(
                    "{}: at merchants[{m_index}].key: the key {} appears twice",
                    self.source, m.key
                ));
            }
            if let Some(p) = &m.products {
                validate_products(p)
                    .map_err(|e| format!("{}: at merchants[{m_index}].{e}", self.source))?;
            }
            let mut providers = Vec::new();
            for (i_index, i) in m.integrations.iter().enumerate() {
                let at = format!(
                    "{}: at merchants[{m_index}].integrations[{i_index}]",
                    self.source
                );
                if providers.contains(&i.provider) {
                    return Err(format!(
                        "{at}.provider: a merchant has at most one {} integration",
                        i.provider
                    ));
                }
                providers.push(i.provider);
                if i.captured.is_some() {
                    if self.captured_at.is_none() {
                        return Err(format!(
                            "{at}.captured: a captured integration needs the fixture's capturedAt"
                        ));
                    }
                    let staging = [
                        ("syncs", i.syncs.succeeded + i.syncs.failed > 0),
                        ("syncIntervalMinutes", i.sync_interval_minutes.is_some()),
                        ("syncEnabled", i.sync_enabled.is_some()),
                        ("currency", i.currency.is_some()),
                        ("autoSendInvoices", i.auto_send_invoices.is_some()),
                        ("invoiceLookbackDays", i.invoice_lookback_days.is_some()),
                        ("deactivated", i.deactivated),
                    ];
                    if let Some((field, _)) = staging.iter().find(|(_, set)| *set) {
                        return Err(format!(
                            "{at}.{field}: a captured integration takes its settings and history from captured"
                        ));
                    }
                } else if i.credentials.is_none() {
                    return Err(format!(
                        "{at}.credentials: required (the behaviour of the provider follows its apiKey), unless the integration is captured"
                    ));
                }
                if let Some(c) = &i.catalog {
                    c.validate().map_err(|e| format!("{at}.catalog.{e}"))?;
                }
                if i.syncs.failed > config.breaker.threshold {
                    return Err(format!(
                        "{at}.syncs.failed: {} is more than the breaker's threshold ({}), which opens the breaker and stops syncs",
                        i.syncs.failed, config.breaker.threshold
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies the fixture to the store at `now`: declares keys and stages
    /// integrations through simulator commands. Merchants of other keys are left alone.
    pub async fn apply(&self, store: &dyn Store, now: Timestamp) -> Result<(), ControlError> {
        self.validate(store.config())
            .map_err(ControlError::BadFixture)?;
        for m in &self.merchants {
            self.apply_merchant(m, store, now).await?;
        }
        Ok(())
    }

    /// Applies the part of the fixture about one key (for a reset of that key).
    pub async fn apply_key(
        &self,
        key: &ApiKey,
        store: &dyn Store,
        now: Timestamp,
    ) -> Result<(), ControlError> {
        match self.merchants.iter().find(|m| &m.key == key) {
            Some(m) => self.apply_merchant(m, store, now).await,
            None => Ok(()),
        }
    }

    async fn apply_merchant(
        &self,
        m: &MerchantFixture,
        store: &dyn Store,
        now: Timestamp,
    ) -> Result<(), ControlError> {
        let merchant = self.stage(m, store.config(), now)?;
        let scopes = m
            .scopes
            .as_ref()
            .map_or_else(Scopes::default_sandbox, |s| s.iter().copied().collect());
        let policy = KeyPolicy {
            scopes,
            revoked: m.revoked,
        };
        store.remove_tenant(&m.key).await?;
        store.declare_key(m.key.clone(), policy).await?;
        store
            .with_tenant(&TenantRef::of(m.key.clone()), |t| {
                *t = Tenant::with(merchant.clone());
            })
            .await?;
        Ok(())
    }

    /// The merchant `m` stages, built from scratch through the simulator's commands
    /// (a pure function of the fixture, the settings and the time).
    pub fn stage(
        &self,
        m: &MerchantFixture,
        config: &SimConfig,
        now: Timestamp,
    ) -> Result<Merchant, ControlError> {
        let real = config;
        // Staged syncs complete at once, whatever the configured duration.
        let config = SimConfig {
            sync_duration: std::time::Duration::ZERO,
            ..config.clone()
        };
        // Staged as of the merchant's own time; its clock is set ahead at the end. A
        // captured merchant is restored as of the capture: if the sandbox's clock is
        // before it, the merchant's own clock runs ahead to it (if after, the merchant
        // then lives through the time since, as any merchant does).
        let mut ahead = std::time::Duration::from_secs(m.clock_ahead_seconds);
        let captured = m.integrations.iter().any(|i| i.captured.is_some());
        if let Some(at) = self.captured_at.filter(|_| captured) {
            ahead = ahead.max(at.0.since(now));
        }
        let now = now.plus(ahead);
        if now > Timestamp::LATEST {
            return Err(ControlError::BadFixture(format!(
                "{}: {}: clockAheadSeconds takes the merchant's clock past 9999-01-01",
                self.source, m.key
            )));
        }
        let mut merchant = Merchant::new(tenant_seed(config.seed, &m.key));
        merchant.set_products(m.products.clone());
        let m_index = self.merchants.iter().position(|x| x.key == m.key);
        for (i_index, i) in m.integrations.iter().enumerate() {
            if let Some(captured) = &i.captured {
                self.restore(&mut merchant, real, i, captured)
                    .map_err(|e| {
                        ControlError::BadFixture(format!(
                            "{}: at merchants[{}].integrations[{i_index}].captured.{e}",
                            self.source,
                            m_index.unwrap_or(0)
                        ))
                    })?;
                continue;
            }
            merchant.set_catalog(i.provider, i.catalog.clone());
            let who = format!("{}: staging {} of {}", self.source, i.provider, m.key);
            let run = |command: Command, merchant: &mut Merchant, at: Timestamp| {
                merchant
                    .execute(&config, at, i.provider, command)
                    .map(|_| ())
                    .map_err(|e| ControlError::BadFixture(format!("{who}: {e}")))
            };
            // The staged syncs are spread over the past, one sync interval apart and the
            // last one a minute ago, so the history reads like a real one; automatic sync
            // stays off until `now`, so no scheduled run slips in between.
            let step = i
                .sync_interval_minutes
                .unwrap_or(config.default_interval)
                .duration();
            let syncs = i.syncs.succeeded + i.syncs.failed;
            let back = |k: u32| Timestamp(now.0 - (step * k).as_millis() as i64 - 60_000);
            let activated_at = if syncs == 0 { now } else { back(syncs) };
            let credentials = i.credentials.clone().ok_or_else(|| {
                ControlError::BadFixture(format!("{who}: the integration has no credentials"))
            })?;
            run(
                Command::Activate(ActivateInput {
                    credentials,
                    sync_interval: i.sync_interval_minutes,
                    currency: i.currency.clone(),
                    sync_enabled: Some(false),
                    auto_send_invoices: i.auto_send_invoices,
                    flags: BTreeMap::new(),
                    payment_mappings: None,
                }),
                &mut merchant,
                activated_at,
            )?;
            if let Some(mappings) = &i.payment_mappings {
                let put = Command::PutPaymentMappings(mappings.clone());
                run(put, &mut merchant, activated_at)?;
            }
            if !i.product_mappings.is_empty() {
                let put = Command::PutProductMappings(i.product_mappings.clone());
                run(put, &mut merchant, activated_at)?;
            }
            if let Some(days) = i.invoice_lookback_days {
                run(
                    Command::SetInvoiceLookback(days),
                    &mut merchant,
                    activated_at,
                )?;
            }
            for k in 0..syncs {
                if k == i.syncs.succeeded {
                    let remaining = i.syncs.failed;
                    merchant.inject_outage(i.provider, Outage::NextSyncs { remaining });
                }
                let sync = Command::TriggerSync { full_resync: false };
                run(sync, &mut merchant, back(syncs - 1 - k))?;
            }
            let enabled = i.sync_enabled.unwrap_or(true);
            run(Command::SetSyncEnabled(enabled), &mut merchant, now)?;
            if i.deactivated {
                let delete_credentials = false;
                run(
                    Command::Deactivate { delete_credentials },
                    &mut merchant,
                    now,
                )?;
            }
        }
        merchant.set_clock_ahead(ahead);
        Ok(merchant)
    }

    /// Restores a captured integration into `merchant` (the checks are the simulator's:
    /// [`Merchant::restore`]); an error names the field under `captured`.
    fn restore(
        &self,
        merchant: &mut Merchant,
        config: &SimConfig,
        i: &IntegrationFixture,
        captured: &CapturedIntegration,
    ) -> Result<(), String> {
        let captured_at = self
            .captured_at
            .ok_or("capturedAt: a captured integration needs the fixture's capturedAt")?;
        let credentials = i.credentials.clone().unwrap_or_else(|| Credentials {
            api_key: CAPTURED_CREDENTIALS.to_owned(),
            base_url: format!("https://{}.captured.example", i.provider),
            app_name: None,
            app_email: None,
        });
        merchant.restore(
            config,
            Restore {
                provider: i.provider,
                captured,
                credentials,
                catalog: i.catalog.clone(),
                product_mappings: i.product_mappings.clone(),
                payment_mappings: i.payment_mappings.clone().unwrap_or_default(),
                captured_at: captured_at.0,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{BreakerState, Clock, SyncHealth};
    use crate::store::MemoryStore;

    const NOW: Timestamp = Timestamp(1_777_626_000_000);

    fn store() -> MemoryStore {
        MemoryStore::new(SimConfig::default(), Clock::frozen(NOW))
    }

    /// The merchant the fixture `name` stages for `key`.
    fn staged(name: &str, key: &str) -> Merchant {
        let f = find(name).unwrap();
        let m = f.merchants.iter().find(|m| m.key.as_str() == key).unwrap();
        f.stage(m, &SimConfig::default(), NOW).unwrap()
    }

    #[test]
    fn the_mappings_fixture_is_half_mapped_with_unmapped_attempts() {
        let mut m = staged("mappings", "rk_sandbox_mappings_key_0001");
        let config = SimConfig::default();
        let view = m.at(&config, NOW);
        let setup = view.setup(Provider::Practicehub);
        assert_eq!(setup.product_mappings.len(), 3);
        let unmapped: Vec<(&str, u32)> = setup
            .unmapped
            .iter()
            .map(|a| (a.external_package_id.as_str(), a.count))
            .collect();
        // The retired package is never met; the mapped ones are not unmapped.
        assert_eq!(
            unmapped,
            [("pkg_followup", 3), ("pkg_pack5", 3), ("pkg_wellness", 3)]
        );
        assert_eq!(view.products().len(), 5);
        let catalog = view.catalog(Provider::Practicehub).unwrap();
        assert_eq!(catalog.packages.len(), 6);
        let integ = view.integration(Provider::Practicehub).unwrap();
        assert_eq!(integ.payment_mappings.len(), 2);
    }

    #[test]
    fn fixture_catalogs_and_mappings_are_checked_with_the_field_named() {
        let bad_mapping = "merchants:\n  - key: rk_sandbox_fixture_check_01\n    integrations:\n      - provider: wodify\n        credentials: {apiKey: w, baseUrl: 'https://w.example'}\n        catalog: {packages: [{id: p1, name: A, packageType: service, chargeType: one_time, priceMinor: 1, active: true}]}\n        productMappings: [{externalId: nope, internalId: x}]\n";
        let f = parse(bad_mapping, "t.yaml").unwrap();
        let m = &f.merchants[0];
        let e = f
            .stage(m, &SimConfig::default(), NOW)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("wodify"), "{e}");
        let twice = bad_mapping.replace("productMappings: [{externalId: nope, internalId: x}]", "")
            .replace("active: true}]}", "active: true}, {id: p1, name: B, packageType: service, chargeType: one_time, priceMinor: 1, active: true}]}");
        let e = parse(&twice, "t.yaml")
            .unwrap()
            .validate(&SimConfig::default())
            .unwrap_err();
        assert!(
            e.contains(
                "integrations[0].catalog.packages and billableItems: the id p1 appears twice"
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn every_built_in_fixture_parses_validates_and_applies() {
        for (name, _) in BUILT_IN {
            let s = store();
            find(name)
                .unwrap()
                .apply(&s, NOW)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!s.tenant_keys().await.unwrap().is_empty(), "{name}");
        }
    }

    #[test]
    fn the_default_world_has_practicehub_healthy_terminal_deactivated_and_no_wodify() {
        let config = SimConfig::default();
        let mut m = staged("default", "rk_sandbox_demo_merchant_key_01");
        let view = m.at(&config, NOW);
        let ph = view.integration(Provider::Practicehub).unwrap();
        assert!(ph.is_active);
        assert_eq!(ph.health(&config.breaker, NOW), SyncHealth::Healthy);
        assert!(ph.last_sync_at.is_some());
        assert!(!view.integration(Provider::Terminal).unwrap().is_active);
        assert!(view.integration(Provider::Wodify).is_none());
    }

    #[test]
    fn breaker_open_is_open_with_the_failed_runs_that_opened_it() {
        let config = SimConfig::default();
        let mut m = staged("breaker-open", "rk_sandbox_breaker_open_key_001");
        let view = m.at(&config, NOW);
        let i = view.integration(Provider::Wodify).unwrap();
        assert_eq!(i.breaker.state(&config.breaker, NOW), BreakerState::Open);
        // One successful run, then five failed ones, an interval apart, the last a
        // minute ago; automatic sync ran none in between.
        let runs = view.history(Provider::Wodify).recent_runs(10);
        let failed: Vec<bool> = runs
            .iter()
            .map(|r| {
                r.iter()
                    .all(|(e, _)| e.status == crate::sim::LogStatus::Failed)
            })
            .collect();
        assert_eq!(
            failed,
            [true, true, true, true, true, false],
            "newest first"
        );
        let starts: Vec<i64> = runs.iter().map(|r| r[0].0.started_at.0).collect();
        assert_eq!(starts[0], NOW.0 - 60_000);
        assert!(
            starts.windows(2).all(|w| w[0] - w[1] == 15 * 60_000),
            "{starts:?}"
        );
    }

    /// Applying a fixture to a store puts exactly the staged merchant under its key.
    #[tokio::test]
    async fn applying_puts_the_staged_merchant_in_the_store() {
        let s = store();
        find("default").unwrap().apply(&s, NOW).await.unwrap();
        let key = ApiKey::parse("rk_sandbox_demo_merchant_key_01").unwrap();
        let snapshot = s.snapshot(Some(&key)).await.unwrap();
        assert_eq!(
            snapshot.merchants.get(&key),
            Some(&staged("default", key.as_str()))
        );
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let bad = "merchants:\n  - key: rk_sandbox_abcdefghijklmnop\n    integrations:\n      - provider: stripe\n";
        let e = parse(bad, "mine.yaml").unwrap_err().to_string();
        assert!(
            e.contains("mine.yaml") && e.contains("merchants[0].integrations[0].provider"),
            "{e}"
        );
        let bad = "merchants:\n  - key: not-a-key\n";
        let e = parse(bad, "mine.yaml").unwrap_err().to_string();
        assert!(
            e.contains("merchants[0].key") && e.contains("malformed"),
            "{e}"
        );
        let e = parse("merchants: [\n", "broken.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.yaml") && e.contains("line"), "{e}");
        let twice = "merchants:\n  - key: rk_sandbox_abcdefghijklmnop\n  - key: rk_sandbox_abcdefghijklmnop\n";
        let e = parse(twice, "t.yaml")
            .unwrap()
            .validate(&SimConfig::default())
            .unwrap_err();
        assert!(e.contains("merchants[1].key"), "{e}");
        let e = find("nope").unwrap_err();
        assert!(
            matches!(e, ControlError::NoSuchFixture { .. }) && e.to_string().contains("default"),
            "{e}"
        );
    }
}
