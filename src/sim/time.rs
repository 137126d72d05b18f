//! Simulated time: a millisecond timestamp and the virtual clock that produces it.
//!
//! The simulator never reads the system clock. The shell (server, tests) passes the
//! wall time in; the clock turns it into simulated time, which follows wall time by
//! default and can be frozen, set and advanced.

use std::fmt;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in simulated time, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The latest time the clock may be moved to (9999-01-01T00:00:00Z): every time the
    /// simulator derives from it (next runs, cool-downs) stays writable in RFC 3339.
    pub const LATEST: Timestamp = Timestamp(253_370_764_800_000);

    /// The last time RFC 3339 can write: 9999-12-31T23:59:59.999Z.
    const LAST_WRITABLE: Timestamp = Timestamp(253_402_300_799_999);

    /// The timestamp of a `SystemTime` (the shell's wall clock).
    pub fn from_system(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_millis() as i64),
            Err(e) => Timestamp(-(e.duration().as_millis() as i64)),
        }
    }

    /// Parses an RFC 3339 time, any offset and any year from -9999 to 9999
    /// (`2026-05-01T09:00:00Z`, `0271-10-28T19:46:29+14:53`), as JSON Schema's
    /// `date-time` allows; also the weaker forms humantime reads (a space for the `T`).
    /// jiff parses: humantime's parser takes `Z` only and years from 1970.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        match s.parse::<jiff::Timestamp>() {
            Ok(t) => Ok(Timestamp(t.as_millisecond())),
            Err(e) => humantime::parse_rfc3339_weak(s)
                .map(Self::from_system)
                .map_err(|_| format!("'{s}' is not an RFC 3339 time: {e}")),
        }
    }

    /// The nearest time RFC 3339 can write (the years 1970 to 9999): a watermark or a
    /// filter bound outside them means the same as the nearest end, since the simulated
    /// world holds nothing before 1970 or after 9999.
    pub fn clamped(self) -> Self {
        Timestamp(self.0.clamp(0, Self::LAST_WRITABLE.0))
    }

    /// `self` plus a duration.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    /// How long after `earlier` this is (zero when it is not after).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// The RFC 3339 text in UTC, to the second when whole (`2026-05-01T09:00:00Z`), else
    /// to the millisecond; formatted once into a buffer on the stack, so rendering a time
    /// allocates nothing. Fails outside the years 1970–9999.
    pub fn rfc3339(self) -> Result<Rfc3339Text, fmt::Error> {
        // humantime's Display fails past year 9999, and `io::Write::write_fmt` panics
        // when a Display fails: refuse such times here.
        if !(0..=Self::LAST_WRITABLE.0).contains(&self.0) {
            return Err(fmt::Error);
        }
        let t = UNIX_EPOCH + Duration::from_millis(self.0 as u64);
        let mut text = Rfc3339Text {
            buf: [0; Rfc3339Text::MAX],
            len: 0,
        };
        let mut rest = &mut text.buf[..];
        let written = if self.0 % 1000 == 0 {
            write!(rest, "{}", humantime::format_rfc3339_seconds(t))
        } else {
            write!(rest, "{}", humantime::format_rfc3339_millis(t))
        };
        written.map_err(|_| fmt::Error)?;
        text.len = Rfc3339Text::MAX - rest.len();
        Ok(text)
    }
}

/// A timestamp's RFC 3339 text (see [`Timestamp::rfc3339`]).
#[derive(Clone, Copy)]
pub struct Rfc3339Text {
    buf: [u8; Rfc3339Text::MAX],
    len: usize,
}

impl Rfc3339Text {
    /// The longest text: `9999-12-31T23:59:59.999Z`.
    const MAX: usize = 24;

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only humantime's ASCII output is ever written into the buffer.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    /// See [`Timestamp::rfc3339`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339()?.as_str())
    }
}

/// Serializes a timestamp as its RFC 3339 text (for `#[serde(serialize_with)]`).
pub fn serialize_rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    match t.rfc3339() {
        Ok(text) => s.serialize_str(text.as_str()),
        Err(_) => Err(serde::ser::Error::custom(format!(
            "{} ms since the epoch is outside the years 1970-9999",
            t.0
        ))),
    }
}

/// How the clock relates to wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Clock {
    /// Simulated time is wall time plus an offset (built up by advances and sets).
    Following {
        /// Milliseconds added to wall time.
        offset_ms: i64,
    },
    /// Simulated time stands still at `at` until advanced, set or resumed.
    Frozen {
        /// The frozen time.
        at: Timestamp,
    },
}

impl Default for Clock {
    fn default() -> Self {
        Clock::Following { offset_ms: 0 }
    }
}

impl Clock {
    /// A clock frozen at `at` (tests and fixtures start here for exact replays).
    pub fn frozen(at: Timestamp) -> Self {
        Clock::Frozen { at }
    }

    /// Simulated time, given the wall time now.
    pub fn now(&self, wall: Timestamp) -> Timestamp {
        match *self {
            Clock::Following { offset_ms } => Timestamp(wall.0.saturating_add(offset_ms)),
            Clock::Frozen { at } => at,
        }
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        matches!(self, Clock::Frozen { .. })
    }

    /// Moves simulated time forward by `d`.
    pub fn advance(&mut self, d: Duration) {
        let ms = d.as_millis().min(i64::MAX as u128) as i64;
        match self {
            Clock::Following { offset_ms } => *offset_ms = offset_ms.saturating_add(ms),
            Clock::Frozen { at } => *at = Timestamp(at.0.saturating_add(ms)),
        }
    }

    /// Sets simulated time to `to`, keeping the mode.
    pub fn set(&mut self, to: Timestamp, wall: Timestamp) {
        match self {
            Clock::Following { offset_ms } => *offset_ms = to.0.saturating_sub(wall.0),
            Clock::Frozen { at } => *at = to,
        }
    }

    /// Stops simulated time where it is.
    pub fn freeze(&mut self, wall: Timestamp) {
        *self = Clock::Frozen { at: self.now(wall) };
    }

    /// Lets simulated time run again with wall time, from where it stands.
    pub fn resume(&mut self, wall: Timestamp) {
        let now = self.now(wall);
        *self = Clock::Following {
            offset_ms: now.0.saturating_sub(wall.0),
        };
    }
}

/// Milliseconds from `from` to `to`, saturating.
pub(super) fn duration_ms(from: Timestamp, to: Timestamp) -> u32 {
    to.since(from).as_millis().min(u128::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: Timestamp = Timestamp(1_777_626_000_000); // 2026-05-01T09:00:00Z

    #[test]
    fn parses_every_rfc3339_offset_and_year() {
        let t = |s| Timestamp::parse_rfc3339(s).unwrap();
        assert_eq!(t("2026-05-01T09:00:00Z"), t("2026-05-01T10:30:00+01:30"));
        assert_eq!(t("1970-01-01T00:00:00.250Z"), Timestamp(250));
        let early = t("0271-10-28T19:46:29+14:53");
        assert!(early.0 < 0);
        assert_eq!(early.clamped(), Timestamp(0));
        assert_eq!(Timestamp(i64::MAX).clamped(), Timestamp::LAST_WRITABLE);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(WALL.to_string(), "2026-05-01T09:00:00Z");
        assert_eq!(
            Timestamp(WALL.0 + 5).to_string(),
            "2026-05-01T09:00:00.005Z"
        );
        assert_eq!(Timestamp::parse_rfc3339("2026-05-01T09:00:00Z"), Ok(WALL));
        // The longest text fits the stack buffer; times outside 1970-9999 are refused.
        let last = Timestamp::parse_rfc3339("9999-12-31T23:59:59Z").unwrap();
        assert_eq!(
            Timestamp(last.0 + 999).rfc3339().unwrap().as_str(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(Timestamp::LATEST.to_string(), "9999-01-01T00:00:00Z");
        assert!(Timestamp(last.0 + 1000).rfc3339().is_err());
        assert!(Timestamp(-1).rfc3339().is_err());
    }

    #[test]
    fn a_following_clock_keeps_its_advance_as_wall_time_moves() {
        let mut c = Clock::default();
        c.advance(Duration::from_secs(60));
        assert_eq!(c.now(WALL), Timestamp(WALL.0 + 60_000));
        assert_eq!(c.now(Timestamp(WALL.0 + 1_000)), Timestamp(WALL.0 + 61_000));
    }

    #[test]
    fn a_frozen_clock_stands_still_until_advanced_and_resumes_from_there() {
        let mut c = Clock::default();
        c.freeze(WALL);
        assert_eq!(c.now(Timestamp(WALL.0 + 999_999)), WALL);
        c.advance(Duration::from_secs(300));
        assert_eq!(c.now(WALL), Timestamp(WALL.0 + 300_000));
        c.resume(Timestamp(WALL.0 + 10_000));
        assert_eq!(
            c.now(Timestamp(WALL.0 + 10_000)),
            Timestamp(WALL.0 + 300_000)
        );
        assert_eq!(
            c.now(Timestamp(WALL.0 + 11_000)),
            Timestamp(WALL.0 + 301_000)
        );
    }

    #[test]
    fn set_moves_either_mode_to_the_given_time() {
        let mut c = Clock::default();
        c.set(WALL, Timestamp(0));
        assert_eq!(c.now(Timestamp(0)), WALL);
        let mut f = Clock::frozen(Timestamp(0));
        f.set(WALL, Timestamp(0));
        assert_eq!(f.now(Timestamp(123)), WALL);
    }
}
