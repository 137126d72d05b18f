//! The slow-client defence (`--header-timeout`, issue #18) without a timer per request
//! (issue #30).
//!
//! hyper's own `header_read_timeout` arms a timer on tokio's wheel for every request
//! head and clears it when the head is in: about 2.3% of the server's CPU under load
//! (docs/performance.md). Here each connection carries one deadline instead: the
//! (coarse) time it began waiting for a request head, or [`BUSY`] while a request is
//! being answered. Two relaxed stores a request set it: [`Connection::busy`] when hyper
//! hands over a parsed head, and the connection's first write after that (the answer)
//! marks the wait for the next head as begun. One ticker per server, a few times a
//! second, advances the coarse clock and closes every connection that has waited
//! longer than the time-out: a half-sent head (a slow client, trickling or silent), or a
//! keep-alive connection left idle, as before. Time spent answering (a latency fault, a
//! slow store) does not count, as it did not with hyper's timer.
//!
//! The coarse clock a connection reads when its wait begins may be up to one tick old,
//! so a connection is told only once it has waited the time-out plus one tick by that
//! clock: never before the time-out, and at most two ticks after it (a tick is a quarter
//! of the time-out, at most 250 ms). One difference with hyper's timer: an interim
//! `100 Continue` is a write, so a request body sent after it must arrive within the
//! time-out too.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::sim::lock;

/// A connection's deadline while it answers a request: no deadline.
const BUSY: u64 = u64::MAX;

/// The coarse clock: milliseconds since the first server started, advanced by every
/// server's ticker (the largest value wins, so several servers in one process agree).
static NOW_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn advance_clock() -> u64 {
    let now = EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64;
    NOW_MS.fetch_max(now, Ordering::Relaxed).max(now)
}

/// One connection's wait for its next request head.
pub struct Connection {
    /// When the wait began (coarse milliseconds), or [`BUSY`].
    since: AtomicU64,
    /// Told by the ticker when the wait is over.
    expired: Notify,
}

impl Connection {
    /// A request head is in: no deadline until its answer is written.
    pub fn busy(&self) {
        self.since.store(BUSY, Ordering::Relaxed);
    }

    /// The answer is being written: the wait for the next head begins.
    fn waiting(&self) {
        self.waiting_since(NOW_MS.load(Ordering::Relaxed));
    }

    fn waiting_since(&self, now: u64) {
        self.since.store(now, Ordering::Relaxed);
    }

    /// Resolves when the connection waited too long for a request head.
    pub async fn expired(&self) {
        self.expired.notified().await;
    }
}

/// Every connection of one server with a time-out.
pub struct Deadlines {
    timeout_ms: u64,
    /// How often the ticker sweeps, and so how old the coarse clock may be.
    tick_ms: u64,
    connections: Mutex<Vec<Weak<Connection>>>,
}

impl Deadlines {
    /// Deadlines of `timeout`; the ticker runs until the returned value is dropped
    /// (it holds only a weak reference).
    pub fn start(timeout: Duration) -> Arc<Deadlines> {
        let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let deadlines = Arc::new(Deadlines {
            timeout_ms: timeout.as_millis().max(1) as u64,
            tick_ms: tick.as_millis() as u64,
            connections: Mutex::new(Vec::new()),
        });
        advance_clock();
        let weak = Arc::downgrade(&deadlines);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(deadlines) = weak.upgrade() else {
                    break;
                };
                deadlines.sweep(advance_clock());
            }
        });
        deadlines
    }

    /// A new connection, waiting for its first head from now.
    pub fn connection(&self) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            since: AtomicU64::new(NOW_MS.load(Ordering::Relaxed)),
            expired: Notify::new(),
        });
        lock(&self.connections).push(Arc::downgrade(&connection));
        connection
    }

    /// Closes the connections past their deadline at `now`, and forgets closed ones.
    fn sweep(&self, now: u64) {
        lock(&self.connections).retain(|weak| {
            let Some(c) = weak.upgrade() else {
                return false;
            };
            let since = c.since.load(Ordering::Relaxed);
            // `since` may be a tick old: the time-out plus a tick is never early.
            if since != BUSY && now.saturating_sub(since) >= self.timeout_ms + self.tick_ms {
                // Told once: the connection ends when its task sees it.
                c.since.store(BUSY, Ordering::Relaxed);
                c.expired.notify_one();
            }
            true
        });
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        lock(&self.connections).len()
    }
}

/// A connection's stream: every write marks the wait for the next head as begun.
pub struct Watched<S> {
    stream: S,
    connection: Option<Arc<Connection>>,
}

impl<S> Watched<S> {
    /// `stream`, watched by `connection` (`None`: no time-out).
    pub fn new(stream: S, connection: Option<Arc<Connection>>) -> Self {
        Watched { stream, connection }
    }

    fn wrote(&self) {
        if let Some(c) = &self.connection {
            c.waiting();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.wrote();
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.wrote();
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadlines(timeout_ms: u64) -> Deadlines {
        Deadlines {
            timeout_ms,
            tick_ms: 100,
            connections: Mutex::new(Vec::new()),
        }
    }

    fn told(c: &Connection) -> bool {
        // A notified permit is taken at once by a fresh `notified()`.
        let n = c.expired.notified();
        tokio::pin!(n);
        n.as_mut().enable()
    }

    #[test]
    fn a_connection_is_told_once_past_its_deadline_and_never_while_busy() {
        let d = deadlines(1_000);
        let waiting = d.connection();
        let busy = d.connection();
        let start = waiting.since.load(Ordering::Relaxed);
        busy.busy();
        // The clock read at `start` may have been a tick old: not yet.
        d.sweep(start + 1_099);
        assert!(!told(&waiting) && !told(&busy), "before the deadline");
        d.sweep(start + 1_100);
        assert!(told(&waiting), "at the deadline");
        assert!(!told(&busy), "an answer in progress has no deadline");
        d.sweep(start + 5_000);
        assert!(!told(&waiting), "told once");
    }

    #[test]
    fn an_answer_written_restarts_the_wait() {
        let d = deadlines(1_000);
        let c = d.connection();
        c.busy();
        let now = 10_000;
        c.waiting_since(now);
        d.sweep(now + 1_099);
        assert!(!told(&c));
        d.sweep(now + 1_100);
        assert!(told(&c));
    }

    #[test]
    fn closed_connections_are_forgotten() {
        let d = deadlines(1_000);
        let kept = d.connection();
        drop(d.connection());
        assert_eq!(d.held(), 2);
        d.sweep(0);
        assert_eq!(d.held(), 1);
        drop(kept);
    }
}
