//! Cost of one simulator command and memory per merchant, printed with ratios against
//! baselines measured in the same run (so a noisy shared machine moves both).
//!
//! Run: `cargo bench --bench sim`. Goals: ≤ 2 µs per command, ≤ 4 KB per merchant with
//! three integrations (issue #4), ≤ 64 KB with three integrations and 200 sync log
//! entries each (issue #15).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use revkeen_mock::sim::*;

/// Counts live heap bytes, to measure memory per merchant.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T0: Timestamp = Timestamp(1_777_626_000_000);

fn activate(api_key: &str) -> Command {
    Command::Activate(ActivateInput {
        credentials: Credentials {
            api_key: api_key.into(),
            base_url: "https://clinic.practicehub.example".into(),
            app_name: Some("RevKeen".into()),
            app_email: None,
        },
        sync_interval: None,
        currency: Some("GBP".into()),
        sync_enabled: None,
        auto_send_invoices: Some(false),
        flags: BTreeMap::from([("syncInvoices".to_owned(), true)]),
        payment_mappings: None,
    })
}

/// A realistic mix: settings, manual syncs, credential tests and a deactivate/activate.
fn mix() -> Vec<(Provider, Command)> {
    let mut cmds = Vec::new();
    for p in Provider::ALL {
        cmds.push((p, Command::SetSyncEnabled(true)));
        cmds.push((
            p,
            Command::SetSyncInterval(SyncIntervalMinutes::new(30).unwrap()),
        ));
        cmds.push((p, Command::TriggerSync { full_resync: false }));
        cmds.push((p, Command::SetAutoSendInvoices(true)));
        cmds.push((
            p,
            Command::SetInvoiceLookback(LookbackDays::new(120).unwrap()),
        ));
        cmds.push((
            p,
            Command::Deactivate {
                delete_credentials: false,
            },
        ));
        cmds.push((p, activate("ph_live_3f9a2b7c")));
        cmds.push((p, Command::ResumeSync));
    }
    cmds
}

fn merchant_with_three(config: &SimConfig, seed: u64) -> Merchant {
    let mut m = Merchant::new(seed);
    for p in Provider::ALL {
        m.execute(config, T0, p, activate("ph_live_3f9a2b7c"))
            .unwrap();
    }
    m
}

/// Median of per-item nanoseconds over `rounds` rounds of `f` (which does `items` items).
fn median_ns(rounds: usize, items: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_nanos() as f64 / items as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let config = SimConfig::default();
    let cmds = mix();

    // Baseline: the cheapest honest state update, an insert into a small ordered map.
    let mut map = BTreeMap::new();
    let mut k = 0u64;
    let baseline = median_ns(200, 1000, || {
        for _ in 0..1000 {
            k = k.wrapping_add(1);
            map.insert(k % 3, black_box(k));
        }
    });

    let mut m = merchant_with_three(&config, 1);
    let mut now = T0;
    let per_command = median_ns(200, cmds.len() * 10, || {
        for _ in 0..10 {
            for (p, c) in &cmds {
                now = now.plus(Duration::from_millis(250));
                let _ = black_box(m.execute(&config, now, *p, c.clone()));
            }
        }
    });

    // Memory: live heap plus inline size, per merchant, over 10,000 merchants.
    let n = 10_000;
    let before = LIVE.load(Ordering::Relaxed);
    let empty: Vec<Merchant> = (0..n).map(Merchant::new).collect();
    let empty_bytes = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    drop(empty);
    let before = LIVE.load(Ordering::Relaxed);
    let full: Vec<Merchant> = (0..n).map(|s| merchant_with_three(&config, s)).collect();
    let full_bytes = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    black_box(&full);
    drop(full);
    // Three integrations with a full history each (the default limit, 200 entries):
    // enough scheduled runs for every provider (a terminal writes 2 entries a run).
    let n_history = 1_000;
    let before = LIVE.load(Ordering::Relaxed);
    let with_history: Vec<Merchant> = (0..n_history)
        .map(|s| {
            let mut m = merchant_with_three(&config, s);
            m.advance(&config, T0.plus(Duration::from_secs(60 + 100 * 900)));
            m
        })
        .collect();
    let history_bytes = (LIVE.load(Ordering::Relaxed) - before) as f64 / n_history as f64;
    let mut view_of = with_history[0].clone();
    let kept: usize = Provider::ALL
        .iter()
        .map(|&p| {
            view_of
                .at(&config, T0.plus(Duration::from_secs(60 + 100 * 900)))
                .history(p)
                .entries()
                .len()
        })
        .sum();
    assert_eq!(kept, 600, "three full histories");
    black_box(&with_history);

    println!("simulator benchmark (median of 200 rounds)");
    println!("  baseline: small-map insert        {baseline:>9.1} ns");
    println!(
        "  one command (mixed, 24 kinds)     {per_command:>9.1} ns   {:>6.1}x baseline   goal <= 2000 ns: {}",
        per_command / baseline,
        if per_command <= 2000.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!("memory per merchant (10,000 merchants)");
    println!("  empty merchant (baseline)         {empty_bytes:>9.0} B");
    println!(
        "  with three active integrations    {full_bytes:>9.0} B   {:>6.1}x baseline   goal <= 4096 B: {}",
        full_bytes / empty_bytes,
        if full_bytes <= 4096.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  ... and 200 sync log entries each  {history_bytes:>9.0} B   {:>6.1}x baseline   goal <= 65536 B: {}",
        history_bytes / empty_bytes,
        if history_bytes <= 65536.0 {
            "met"
        } else {
            "MISSED"
        }
    );
}
