//! The per-key rate limiter: a token bucket that refills with simulated time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// A limit: requests per minute, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Sustained requests per minute (the bucket's refill rate).
    pub per_minute: u32,
    /// The bucket's size: requests allowed in a burst.
    pub burst: u32,
}

impl RateLimit {
    /// RevKeen's published staging limit: 100/min, burst 200.
    pub const STAGING: RateLimit = RateLimit {
        per_minute: 100,
        burst: 200,
    };
    /// RevKeen's published production limit: 1000/min, burst 2000.
    pub const PRODUCTION: RateLimit = RateLimit {
        per_minute: 1000,
        burst: 2000,
    };
}

impl FromStr for RateLimit {
    type Err = String;
    /// `staging`, `production`, `N` (N/min, burst N) or `N/B` (N/min, burst B).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("'{s}' is not a rate limit: use staging, production, N (per minute) or N/BURST")
        };
        match s {
            "staging" => Ok(Self::STAGING),
            "production" => Ok(Self::PRODUCTION),
            _ => {
                let (rate, burst) = s.split_once('/').unwrap_or((s, s));
                let per_minute: u32 = rate.trim().parse().map_err(|_| bad())?;
                let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
                if per_minute == 0 || burst == 0 {
                    return Err(bad());
                }
                Ok(RateLimit { per_minute, burst })
            }
        }
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/min, burst {}", self.per_minute, self.burst)
    }
}

/// The limiter's answer, with what the rate-limit headers show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead.
    Allowed {
        /// `RateLimit-Limit`.
        limit: u32,
        /// `RateLimit-Remaining`.
        remaining: u32,
        /// `RateLimit-Reset`: seconds until a token is available.
        reset_secs: u64,
    },
    /// Refused: `429` with `Retry-After`.
    Limited {
        /// `RateLimit-Limit`.
        limit: u32,
        /// `Retry-After` and `RateLimit-Reset`, in whole seconds (at least 1).
        retry_after_secs: u64,
    },
}

/// One key's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Tokens available (fractional while refilling).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Timestamp,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn full(limit: RateLimit, now: Timestamp) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            updated: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, limit: RateLimit, now: Timestamp) -> RateDecision {
        let per_ms = f64::from(limit.per_minute) / 60_000.0;
        let elapsed = now.0.saturating_sub(self.updated.0).max(0) as f64;
        self.tokens = (self.tokens + elapsed * per_ms).min(f64::from(limit.burst));
        self.updated = now.max(self.updated);
        let wait_secs = |missing: f64| ((missing / per_ms) / 1000.0).ceil().max(1.0) as u64;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            let reset_secs = if self.tokens >= 1.0 {
                0
            } else {
                wait_secs(1.0 - self.tokens)
            };
            RateDecision::Allowed {
                limit: limit.per_minute,
                remaining: self.tokens.floor() as u32,
                reset_secs,
            }
        } else {
            RateDecision::Limited {
                limit: limit.per_minute,
                retry_after_secs: wait_secs(1.0 - self.tokens),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_explicit_rates_parse() {
        assert_eq!("staging".parse(), Ok(RateLimit::STAGING));
        assert_eq!("production".parse(), Ok(RateLimit::PRODUCTION));
        assert_eq!(
            "60".parse(),
            Ok(RateLimit {
                per_minute: 60,
                burst: 60
            })
        );
        assert_eq!(
            "60/10".parse(),
            Ok(RateLimit {
                per_minute: 60,
                burst: 10
            })
        );
        assert!("0".parse::<RateLimit>().is_err());
        assert!("fast".parse::<RateLimit>().is_err());
    }

    #[test]
    fn a_burst_then_429_then_refill_with_time() {
        let limit = RateLimit {
            per_minute: 60,
            burst: 3,
        };
        let t = Timestamp(0);
        let mut b = Bucket::full(limit, t);
        for expected in [2, 1, 0] {
            assert!(
                matches!(b.take(limit, t), RateDecision::Allowed { remaining, .. } if remaining == expected)
            );
        }
        assert_eq!(
            b.take(limit, t),
            RateDecision::Limited {
                limit: 60,
                retry_after_secs: 1
            }
        );
        assert!(matches!(
            b.take(limit, Timestamp(1_000)),
            RateDecision::Allowed { .. }
        ));
    }
}
