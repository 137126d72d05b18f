//! A merchant's integrations and the rules that change them: commands, and the
//! scheduled syncs, job completions and cool-downs that happen as simulated time passes.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::SimConfig;
use super::accounting::{PaymentRequest, PaymentRequestInput, PaymentRequests};
use super::breaker::BreakerState;
use super::catalog::{Catalog, Product, Setup, default_products};
use super::command::{ActivateInput, Command, Outcome};
use super::error::SimError;
use super::history::SyncHistory;
use super::integration::{Configuration, Integration, IntegrationStatus, JobKind};
use super::provider::ResourceType;
use super::provider::{Behaviour, Outage, Provider};
use super::time::Timestamp;

/// How long after activation the first incremental sync is scheduled.
pub const FIRST_SYNC_DELAY: Duration = Duration::from_secs(60);

/// The most scheduled runs one integration catches up in one go; older missed runs
/// are skipped (a long jump of the clock must not cost unbounded work).
pub const MAX_CATCH_UP_RUNS: i64 = 10_000;

/// One merchant: at most one integration per provider (an array indexed by provider
/// makes a second one unrepresentable), injected outages, and the seeded generator of
/// its ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    /// The merchant's id (`merchantId` in `/sync-state` paths), derived from the seed
    /// alone, so a partner's merchant keeps it across restarts and replicas.
    #[serde(default)]
    pub(super) id: Uuid,
    /// Indexed by [`Provider::index`].
    pub(super) integrations: [Option<Integration>; 3],
    /// Each integration's sync log and cursors, by provider; kept across deactivation.
    /// Apart from the integration record so reading the record never touches the log.
    #[serde(default)]
    pub(super) histories: [SyncHistory; 3],
    /// Each provider's catalog, product mappings and unmapped packages; kept across
    /// deactivation.
    #[serde(default)]
    pub(super) setups: [Setup; 3],
    /// The merchant's RevKeen products; `None`: the ones its seed derives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) products: Option<Vec<Product>>,
    /// Accounting invoice payment requests.
    #[serde(default)]
    pub(super) payment_requests: PaymentRequests,
    /// Outages injected by the control plane, by provider.
    pub(super) outages: [Option<Outage>; 3],
    /// State of the id generator; ids depend only on the seed and this merchant's
    /// history, never on other merchants or on the system.
    pub(super) rng_state: u64,
    /// How far the merchant's own clock runs ahead of the sandbox's, in milliseconds:
    /// moved on by its partner alone (`POST /__mock/self/clock/advance`), never back.
    /// Every entry point that takes a time takes the sandbox's and adds it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) clock_ahead_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The most a merchant's own clock may be moved ahead in one call: 90 days.
pub const MAX_CLOCK_STEP: Duration = Duration::from_secs(90 * 24 * 3600);

/// Why a merchant's clock was not moved ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockRefusal {
    /// More than [`MAX_CLOCK_STEP`] in one call.
    #[error("a merchant's clock moves at most {} seconds (90 days) per call", MAX_CLOCK_STEP.as_secs())]
    StepTooLong,
    /// Past [`Timestamp::LATEST`].
    #[error("the merchant's clock cannot go past 9999-01-01T00:00:00Z")]
    PastLatest,
}

/// An event that simulated time brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A running job completes (ordered before a tick at the same instant).
    Completion,
    /// The repeatable job's tick.
    Tick,
}

/// A merchant brought up to a moment ([`Merchant::at`]): the only way to read one.
#[derive(Debug, Clone, Copy)]
pub struct MerchantView<'a> {
    merchant: &'a Merchant,
    config: &'a SimConfig,
    /// The merchant's own time it was brought up to.
    now: Timestamp,
}

impl<'a> MerchantView<'a> {
    /// The merchant's own time the view shows (the sandbox's, plus how far the
    /// merchant's clock was moved ahead).
    pub fn now(self) -> Timestamp {
        self.now
    }

    /// The integration of `provider`, if it was ever activated.
    pub fn integration(self, provider: Provider) -> Option<&'a Integration> {
        self.merchant.integration(provider)
    }

    /// Every integration record, in provider order.
    pub fn integrations(self) -> impl Iterator<Item = &'a Integration> {
        self.merchant.integrations()
    }

    /// The outage injected for `provider`, if any.
    pub fn outage(self, provider: Provider) -> Option<&'a Outage> {
        self.merchant.outages[provider.index()].as_ref()
    }

    /// `provider`'s sync log and cursors (empty if it was never activated).
    pub fn history(self, provider: Provider) -> &'a SyncHistory {
        &self.merchant.histories[provider.index()]
    }

    /// The merchant's id.
    pub fn merchant_id(self) -> Uuid {
        self.merchant.id
    }

    /// The catalog of `provider`'s account, read with the stored credentials: `None`
    /// unless the integration is active.
    pub fn catalog(self, provider: Provider) -> Option<Cow<'a, Catalog>> {
        self.merchant.catalog(self.config, provider).ok()
    }

    /// `provider`'s product mappings and unmapped packages (kept while inactive).
    pub fn setup(self, provider: Provider) -> &'a Setup {
        &self.merchant.setups[provider.index()]
    }

    /// The merchant's RevKeen products.
    pub fn products(self) -> Cow<'a, [Product]> {
        match &self.merchant.products {
            Some(p) => Cow::Borrowed(p),
            None => Cow::Owned(default_products(self.merchant.rng_seed_of_products())),
        }
    }

    /// The invoice payment request `id`, if kept.
    pub fn payment_request(self, id: Uuid) -> Option<&'a PaymentRequest> {
        self.merchant.payment_requests.get(id)
    }
}

impl Merchant {
    /// An empty merchant whose ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        // Drawn from a generator of its own, so the merchant's other ids stay as they were.
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x6D65_7263_6861_6E74);
        let id = uuid::Builder::from_random_bytes(std::array::from_fn(|_| rng.u8(..))).into_uuid();
        Self {
            id,
            integrations: [None, None, None],
            histories: Default::default(),
            setups: Default::default(),
            products: None,
            payment_requests: PaymentRequests::default(),
            outages: [None, None, None],
            rng_state: seed,
            clock_ahead_ms: 0,
        }
    }

    /// The merchant's own time when the sandbox's clock reads `sandbox`.
    pub fn local_time(&self, sandbox: Timestamp) -> Timestamp {
        Timestamp(sandbox.0.saturating_add_unsigned(self.clock_ahead_ms))
    }

    /// How far the merchant's clock runs ahead of the sandbox's.
    pub fn clock_ahead(&self) -> Duration {
        Duration::from_millis(self.clock_ahead_ms)
    }

    /// Moves the merchant's own clock `by` ahead of where it is at sandbox time
    /// `sandbox`, and applies what that time brings (due syncs, job completions,
    /// cool-downs), in order; the merchant's new time.
    pub fn move_clock_ahead(
        &mut self,
        config: &SimConfig,
        sandbox: Timestamp,
        by: Duration,
    ) -> Result<Timestamp, ClockRefusal> {
        if by > MAX_CLOCK_STEP {
            return Err(ClockRefusal::StepTooLong);
        }
        let to = self.local_time(sandbox).plus(by);
        if to > Timestamp::LATEST {
            return Err(ClockRefusal::PastLatest);
        }
        // One advance to the new time applies what falls due on the way, in order (what
        // was due before the move first).
        self.clock_ahead_ms = self.clock_ahead_ms.saturating_add(by.as_millis() as u64);
        self.advance(config, sandbox);
        Ok(to)
    }

    /// Sets how far the clock of a merchant being built runs ahead (a fixture's
    /// `clockAheadSeconds`): the times it was built at are taken as its own.
    pub fn set_clock_ahead(&mut self, by: Duration) {
        self.clock_ahead_ms = by.as_millis() as u64;
    }

    /// Takes over `other`'s clock (a merchant replaced by a reset or a fixture keeps its
    /// partner's time: a merchant's clock never goes back).
    pub fn keep_clock_of(&mut self, other: &Merchant) {
        self.clock_ahead_ms = self.clock_ahead_ms.max(other.clock_ahead_ms);
    }

    /// The merchant as of sandbox time `now`, to read: what simulated time has brought
    /// by then is applied first, so no read can miss a scheduled sync or a cool-down.
    pub fn at<'a>(&'a mut self, config: &'a SimConfig, now: Timestamp) -> MerchantView<'a> {
        let now = self.local_time(now);
        self.advance_to(config, now);
        MerchantView {
            merchant: self,
            config,
            now,
        }
    }

    /// The seed of the merchant's default products: its id, which derives from the
    /// tenant's seed alone (never from what the merchant did).
    fn rng_seed_of_products(&self) -> u64 {
        self.id.as_u64_pair().0
    }

    /// The catalog of `provider`'s active integration, from its stored credentials.
    fn catalog(
        &self,
        config: &SimConfig,
        provider: Provider,
    ) -> Result<Cow<'_, Catalog>, SimError> {
        let credentials = self
            .active(provider)
            .and_then(|i| i.credentials.as_ref())
            .ok_or(SimError::NotFound { provider })?;
        Ok(self.setups[provider.index()].catalog(config.seed, provider, credentials))
    }

    /// Sets the catalog of `provider`'s account (`None`: derive it from the credentials).
    pub fn set_catalog(&mut self, provider: Provider, catalog: Option<Catalog>) {
        self.setups[provider.index()].catalog = catalog.map(Box::new);
    }

    /// Sets the merchant's RevKeen products (`None`: the default ones).
    pub fn set_products(&mut self, products: Option<Vec<Product>>) {
        self.products = products;
    }

    /// Keeps a new invoice payment request made at sandbox time `now`.
    pub fn create_payment_request(
        &mut self,
        now: Timestamp,
        input: PaymentRequestInput,
    ) -> PaymentRequest {
        let request = PaymentRequest {
            id: self.next_id(),
            input,
            created_at: self.local_time(now),
        };
        self.payment_requests.push(request.clone());
        request
    }

    /// The stored integration of `provider`, as last applied (reads go through [`Merchant::at`]).
    pub(super) fn integration(&self, provider: Provider) -> Option<&Integration> {
        self.integrations[provider.index()].as_ref()
    }

    /// Every stored integration record, in provider order, as last applied.
    pub(super) fn integrations(&self) -> impl Iterator<Item = &Integration> {
        self.integrations.iter().flatten()
    }

    /// Injects (or replaces) an outage of `provider`: its syncs fail while it lasts.
    pub fn inject_outage(&mut self, provider: Provider, outage: Outage) {
        self.outages[provider.index()] = Some(outage);
    }

    /// Ends every injected outage.
    pub fn clear_outages(&mut self) {
        self.outages = [None, None, None];
    }

    /// Replaces every stored credential by its redacted form (a snapshot for people).
    pub fn redact_credentials(&mut self) {
        for i in self.integrations.iter_mut().flatten() {
            if let Some(c) = &i.credentials {
                i.credentials = Some(c.redacted());
            }
        }
    }

    /// Places a ready-made integration (fixtures and state restore).
    pub fn put_integration(&mut self, integration: Integration) {
        let i = integration.provider.index();
        self.integrations[i] = Some(integration);
    }

    pub(super) fn next_id(&mut self) -> Uuid {
        let mut rng = fastrand::Rng::with_seed(self.rng_state);
        let bytes: [u8; 16] = std::array::from_fn(|_| rng.u8(..));
        self.rng_state = rng.get_seed();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Applies everything simulated time has brought up to sandbox time `now`.
    pub fn advance(&mut self, config: &SimConfig, now: Timestamp) {
        self.advance_to(config, self.local_time(now));
    }

    /// Applies everything simulated time has brought up to the merchant's own time
    /// `now`, in order: job completions, scheduled ticks (skipped while sync is off, a
    /// job runs or the breaker is open; the trial once it is half-open).
    fn advance_to(&mut self, config: &SimConfig, now: Timestamp) {
        for integ in self.integrations.iter_mut().flatten() {
            if let Some(next) = integ.next_run {
                let step = integ.interval.millis() as i64;
                let behind = (now.0 - next.0) / step - MAX_CATCH_UP_RUNS;
                if behind > 0 {
                    integ.next_run = Some(Timestamp(next.0 + behind * step));
                }
            }
        }
        while let Some((at, provider, event)) = self.next_event(now) {
            match event {
                Event::Completion => self.complete_job(config, provider, at),
                Event::Tick => self.tick(config, provider, at),
            }
        }
    }

    fn next_event(&self, now: Timestamp) -> Option<(Timestamp, Provider, Event)> {
        self.integrations
            .iter()
            .flatten()
            .flat_map(|i| {
                let completion = i
                    .running_job
                    .as_ref()
                    .map(|j| (j.completes_at, i.provider, Event::Completion));
                let tick = i.next_run.map(|t| (t, i.provider, Event::Tick));
                completion.into_iter().chain(tick)
            })
            .filter(|(t, _, _)| *t <= now)
            .min_by_key(|&(t, p, e)| (t, e, p))
    }

    fn tick(&mut self, config: &SimConfig, provider: Provider, at: Timestamp) {
        let Some(integ) = self.integrations[provider.index()].as_mut() else {
            return;
        };
        integ.next_run = Some(at.plus(integ.interval.duration()));
        let blocked = integ.running_job.is_some()
            || !integ.sync_enabled
            || integ.breaker.blocks_scheduled_syncs(&config.breaker, at);
        if !blocked {
            self.start_job(config, provider, JobKind::Scheduled, false, at);
        }
    }

    /// Runs one command on `provider`'s integration at sandbox time `now` (the
    /// merchant's own time then), after applying what time has brought.
    pub fn execute(
        &mut self,
        config: &SimConfig,
        now: Timestamp,
        provider: Provider,
        command: Command,
    ) -> Result<Outcome, SimError> {
        let now = self.local_time(now);
        self.advance_to(config, now);
        let i = provider.index();
        match command {
            Command::Activate(input) => self.activate(config, now, provider, input),
            Command::TestCredentials(c) => Ok(Outcome::Verdict(
                Behaviour::of(&c.api_key).check_credentials(provider),
            )),
            Command::TriggerSync { full_resync } => {
                let integ = self
                    .active(provider)
                    .ok_or(SimError::NotActive { provider })?;
                if integ.breaker.state(&config.breaker, now) == BreakerState::Open {
                    return Err(SimError::CircuitOpen {
                        provider,
                        consecutive_errors: integ.breaker.consecutive_errors(),
                    });
                }
                let job_id = match &integ.running_job {
                    Some(job) => job.id,
                    None => self.start_job(config, provider, JobKind::Manual, full_resync, now),
                };
                Ok(Outcome::SyncEnqueued { job_id })
            }
            Command::ResumeSync => {
                let integ = self
                    .active_mut(provider)
                    .ok_or(SimError::NotActive { provider })?;
                integ.breaker.reset();
                integ.updated_at = now;
                let job_id = match &integ.running_job {
                    Some(job) => job.id,
                    None => self.start_job(config, provider, JobKind::Resume, false, now),
                };
                Ok(Outcome::Resumed { job_id })
            }
            Command::RetryLog { log_id } => self.retry_log(config, now, provider, log_id),
            Command::BatchRetry {
                integration_id,
                resource_type,
                limit,
            } => self.batch_retry(
                config,
                now,
                provider,
                (integration_id, resource_type, limit),
            ),
            Command::PutSyncState {
                merchant_id,
                resource_type,
                update,
            } => {
                if merchant_id != self.id {
                    return Err(SimError::OtherMerchant { merchant_id });
                }
                self.put_sync_state(now, provider, resource_type, update)
            }
            Command::PutPaymentMappings(mappings) => {
                self.catalog(config, provider)?
                    .check_payment_mappings(provider, &mappings)?;
                let integ = self
                    .active_mut(provider)
                    .ok_or(SimError::NotFound { provider })?;
                integ.payment_mappings = mappings;
                integ.updated_at = now;
                Ok(Outcome::Updated)
            }
            Command::PutProductMappings(mappings) => {
                self.catalog(config, provider)?
                    .check_product_mappings(provider, &mappings)?;
                let count = mappings.len();
                self.setups[i].replace_product_mappings(mappings);
                Ok(Outcome::MappingsReplaced { count })
            }
            Command::DeleteProductMapping { external_id } => {
                self.active(provider)
                    .ok_or(SimError::NotFound { provider })?;
                if self.setups[i].delete_product_mapping(&external_id) {
                    Ok(Outcome::Updated)
                } else {
                    Err(SimError::MappingNotFound {
                        provider,
                        external_id,
                    })
                }
            }
            Command::Deactivate { delete_credentials } => {
                self.active(provider)
                    .ok_or(SimError::NotFound { provider })?;
                self.cancel_job(provider, now);
                let integ = self
                    .active_mut(provider)
                    .ok_or(SimError::NotFound { provider })?;
                integ.is_active = false;
                integ.status = IntegrationStatus::Idle;
                integ.next_run = None;
                if delete_credentials {
                    integ.credentials = None;
                }
                integ.updated_at = now;
                Ok(Outcome::Deactivated {
                    credentials_deleted: delete_credentials,
                })
            }
            other => {
                let integ = self.integrations[i]
                    .as_mut()
                    .filter(|x| x.is_active)
                    .ok_or(SimError::NotFound { provider })?;
                match other {
                    Command::UpdateStatus {
                        status,
                        last_sync_error,
                    } => {
                        integ.status = status;
                        integ.last_sync_error = last_sync_error;
                        if matches!(
                            status,
                            IntegrationStatus::Connected | IntegrationStatus::Error
                        ) {
                            integ.last_sync_at = Some(now);
                        }
                    }
                    Command::SetSyncEnabled(on) => integ.sync_enabled = on,
                    Command::SetSyncInterval(m) => integ.interval = m,
                    Command::SetInvoiceLookback(d) => integ.configuration.invoice_lookback_days = d,
                    Command::SetAutoSendInvoices(on) => integ.configuration.auto_send_invoices = on,
                    _ => unreachable!("handled above"),
                }
                integ.updated_at = now;
                Ok(Outcome::Updated)
            }
        }
    }

    fn active(&self, provider: Provider) -> Option<&Integration> {
        self.integration(provider).filter(|i| i.is_active)
    }

    fn active_mut(&mut self, provider: Provider) -> Option<&mut Integration> {
        self.integrations[provider.index()]
            .as_mut()
            .filter(|i| i.is_active)
    }

    fn activate(
        &mut self,
        config: &SimConfig,
        now: Timestamp,
        provider: Provider,
        input: ActivateInput,
    ) -> Result<Outcome, SimError> {
        if self.active(provider).is_some() {
            return Err(SimError::AlreadyActive { provider });
        }
        Behaviour::of(&input.credentials.api_key)
            .check_credentials(provider)
            .map_err(|reason| SimError::CredentialsRejected { provider, reason })?;
        let fresh_id = self.next_id();
        let slot = &mut self.integrations[provider.index()];
        let integ = slot.get_or_insert_with(|| Integration {
            id: fresh_id,
            provider,
            is_active: false,
            sync_enabled: true,
            status: IntegrationStatus::Idle,
            last_sync_at: None,
            last_sync_error: None,
            last_error_at: None,
            last_success_at: None,
            breaker: Default::default(),
            interval: config.default_interval,
            next_run: None,
            running_job: None,
            sync_attempts: 0,
            full_resyncs: 0,
            configuration: Configuration::default(),
            credentials: None,
            payment_mappings: Vec::new(),
            created_at: now,
            updated_at: now,
        });
        integ.is_active = true;
        integ.status = IntegrationStatus::Connected;
        integ.sync_enabled = input.sync_enabled.unwrap_or(true);
        integ.last_sync_error = None;
        integ.breaker.reset();
        integ.sync_attempts = 0;
        if let Some(m) = input.sync_interval {
            integ.interval = m;
        }
        integ.next_run = Some(now.plus(FIRST_SYNC_DELAY));
        integ.credentials = Some(input.credentials);
        if let Some(on) = input.auto_send_invoices {
            integ.configuration.auto_send_invoices = on;
        }
        if input.currency.is_some() {
            integ.configuration.currency = input.currency;
        }
        integ.configuration.flags.extend(input.flags);
        if let Some(mappings) = input.payment_mappings {
            integ.payment_mappings = mappings;
        }
        integ.updated_at = now;
        let activated = integ.clone();
        if self.histories[provider.index()].states().is_empty() {
            let ids: Vec<Uuid> = ResourceType::of(provider)
                .iter()
                .map(|_| self.next_id())
                .collect();
            self.histories[provider.index()].seed_states(provider, now, ids);
        }
        Ok(Outcome::Activated(Box::new(activated)))
    }
}

#[cfg(test)]
#[path = "merchant_tests.rs"]
mod tests;
