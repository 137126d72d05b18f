//! Random runs of the simulator for property tests (here and in the server's): a
//! strategy for sequences of commands, outages and clock advances over two tenants,
//! and the run that applies them.

use proptest::prelude::*;

use super::merchant::Merchant;
use super::*;

/// 2026-05-01T09:00:00Z, where runs start.
pub const T0: Timestamp = Timestamp(1_777_626_000_000);

/// `secs` seconds after [`T0`].
pub fn at(secs: i64) -> Timestamp {
    Timestamp(T0.0 + secs * 1000)
}

/// A merchant (seed 1) with `provider` activated at [`T0`] with `api_key`, and the
/// default settings.
pub fn active_at_t0(provider: Provider, api_key: &str) -> (Merchant, SimConfig) {
    let config = SimConfig::default();
    let mut m = Merchant::new(1);
    m.execute(&config, T0, provider, activate_with(api_key))
        .expect("a healthy activation");
    (m, config)
}

/// Credentials whose API key chooses the provider's behaviour.
pub fn creds(api_key: &str) -> Credentials {
    Credentials {
        api_key: api_key.into(),
        base_url: "https://clinic.example".into(),
        app_name: None,
        app_email: None,
    }
}

/// Activation with those credentials and nothing else.
pub fn activate_with(api_key: &str) -> Command {
    Command::Activate(ActivateInput {
        credentials: creds(api_key),
        sync_interval: None,
        currency: None,
        sync_enabled: None,
        auto_send_invoices: None,
        flags: Default::default(),
        payment_mappings: None,
    })
}

fn provider() -> impl Strategy<Value = Provider> {
    prop_oneof![
        Just(Provider::Practicehub),
        Just(Provider::Wodify),
        Just(Provider::Terminal)
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let key = prop_oneof![
        Just("healthy_key"),
        Just("invalid_key"),
        Just("fail_sync_key"),
        Just("fail_first_2_key"),
        Just("flap_key"),
        Just("timeout_key"),
        Just("slow_key"),
    ];
    prop_oneof![
        key.prop_map(activate_with),
        any::<bool>().prop_map(|d| Command::Deactivate {
            delete_credentials: d
        }),
        any::<bool>().prop_map(|f| Command::TriggerSync { full_resync: f }),
        Just(Command::ResumeSync),
        any::<bool>().prop_map(Command::SetSyncEnabled),
        (5u32..=1440).prop_map(|m| Command::SetSyncInterval(SyncIntervalMinutes::new(m).unwrap())),
        (1u32..=3650).prop_map(|d| Command::SetInvoiceLookback(LookbackDays::new(d).unwrap())),
        any::<bool>().prop_map(Command::SetAutoSendInvoices),
        Just(Command::TestCredentials(creds("invalid_x"))),
    ]
}

/// One step of a random run: a command on a tenant's provider, or time passing.
#[derive(Debug, Clone)]
pub enum Step {
    Run(usize, Provider, Command),
    Advance(u32),
    Outage(usize, Provider, u32),
}

/// Up to 60 random steps.
pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => (0usize..2, provider(), command()).prop_map(|(t, p, c)| Step::Run(t, p, c)),
        3 => (0u32..7_200).prop_map(Step::Advance),
        1 => (0usize..2, provider(), 1u32..8).prop_map(|(t, p, n)| Step::Outage(t, p, n)),
    ];
    proptest::collection::vec(step, 0..60)
}

/// Runs steps over two tenants; returns their states and the clock after each step.
pub fn run(steps: &[Step], config: &SimConfig) -> Vec<([Merchant; 2], Timestamp)> {
    let mut tenants = [Merchant::new(11), Merchant::new(22)];
    let mut now = T0;
    let mut trace = Vec::new();
    for step in steps {
        match step {
            Step::Run(t, p, c) => {
                let _ = tenants[*t].execute(config, now, *p, c.clone());
            }
            Step::Advance(secs) => {
                now = Timestamp(now.0 + i64::from(*secs) * 1000);
                tenants.iter_mut().for_each(|m| m.advance(config, now));
            }
            Step::Outage(t, p, n) => {
                tenants[*t].inject_outage(*p, Outage::NextSyncs { remaining: *n })
            }
        }
        trace.push((tenants.clone(), now));
    }
    trace
}
