//! The circuit breaker: consecutive sync failures open it and auto-pause scheduled
//! syncs; `resume-sync` (or, when enabled, a cool-down) lets a trial sync close it.
//!
//! Its state is derived from the counter, so the two can never disagree: below the
//! threshold it is closed, at or above it open, or half-open once the cool-down has
//! passed and the next scheduled sync is the trial. `docs/circuit-breaker.md` draws
//! every transition.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// The breaker's settings, shared by every integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub threshold: u32,
    /// When set, an open breaker turns half-open after this long and the next scheduled
    /// sync is a trial. Off by default: the docs only describe `resume-sync`.
    pub cooldown: Option<Duration>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            cooldown: None,
        }
    }
}

/// The breaker's state, shown as `providerState.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Syncs run; fewer consecutive failures than the threshold.
    Closed,
    /// Scheduled syncs are skipped until a trial succeeds.
    Open,
    /// The cool-down has passed: the next scheduled sync is the trial.
    HalfOpen,
}

impl BreakerState {
    /// The value of `providerState.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// One integration's breaker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// Consecutive failed syncs (`providerState.consecutiveErrors`).
    consecutive_errors: u32,
    /// When the breaker last opened; the cool-down counts from here.
    opened_at: Option<Timestamp>,
}

impl CircuitBreaker {
    /// The counter.
    pub fn consecutive_errors(&self) -> u32 {
        self.consecutive_errors
    }

    /// A breaker as a capture found it: `consecutive_errors`, open since `opened_at`.
    pub(super) fn restored(consecutive_errors: u32, opened_at: Option<Timestamp>) -> Self {
        CircuitBreaker {
            consecutive_errors,
            opened_at,
        }
    }

    /// The state at `now`.
    pub fn state(&self, config: &BreakerConfig, now: Timestamp) -> BreakerState {
        if self.consecutive_errors < config.threshold {
            return BreakerState::Closed;
        }
        match (config.cooldown, self.opened_at) {
            (Some(cooldown), Some(opened)) if now >= opened.plus(cooldown) => {
                BreakerState::HalfOpen
            }
            _ => BreakerState::Open,
        }
    }

    /// Whether scheduled syncs are skipped at `now`.
    pub fn blocks_scheduled_syncs(&self, config: &BreakerConfig, now: Timestamp) -> bool {
        self.state(config, now) == BreakerState::Open
    }

    /// A sync succeeded: closed, counter at zero.
    pub fn record_success(&mut self) {
        *self = CircuitBreaker::default();
    }

    /// A sync failed at `at`: the counter grows; reaching the threshold (or failing a
    /// half-open trial) (re)opens the breaker from `at`.
    pub fn record_failure(&mut self, config: &BreakerConfig, at: Timestamp) {
        self.consecutive_errors = self.consecutive_errors.saturating_add(1);
        if self.consecutive_errors >= config.threshold {
            self.opened_at = Some(at);
        }
    }

    /// `resume-sync`: the counter is reset and the breaker closes; the caller runs the trial.
    pub fn reset(&mut self) {
        *self = CircuitBreaker::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cooldown: Option<u64>) -> BreakerConfig {
        BreakerConfig {
            threshold: 3,
            cooldown: cooldown.map(Duration::from_secs),
        }
    }

    #[test]
    fn opens_at_the_threshold_and_closes_on_success() {
        let c = cfg(None);
        let mut b = CircuitBreaker::default();
        for i in 1..=2 {
            b.record_failure(&c, Timestamp(i));
            assert_eq!(b.state(&c, Timestamp(i)), BreakerState::Closed);
        }
        b.record_failure(&c, Timestamp(3));
        assert_eq!(b.state(&c, Timestamp(1_000_000_000)), BreakerState::Open);
        b.record_success();
        assert_eq!(
            (b.state(&c, Timestamp(4)), b.consecutive_errors()),
            (BreakerState::Closed, 0)
        );
    }

    #[test]
    fn turns_half_open_after_the_cooldown_and_a_failed_trial_reopens_it() {
        let c = cfg(Some(60));
        let mut b = CircuitBreaker::default();
        for _ in 0..3 {
            b.record_failure(&c, Timestamp(0));
        }
        assert_eq!(b.state(&c, Timestamp(59_999)), BreakerState::Open);
        assert_eq!(b.state(&c, Timestamp(60_000)), BreakerState::HalfOpen);
        b.record_failure(&c, Timestamp(60_000));
        assert_eq!(b.state(&c, Timestamp(60_001)), BreakerState::Open);
        assert_eq!(b.state(&c, Timestamp(120_000)), BreakerState::HalfOpen);
    }
}
