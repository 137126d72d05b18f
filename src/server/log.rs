//! Request logs: one line per request through `tracing`, as text or JSON.
//!
//! Text lines are written by [`LineLayer`], a `tracing` layer that writes each event
//! straight into the thread's buffer: `&str` and integer fields as they are, not
//! through `fmt::Debug`, and the time's date and seconds formatted once a second.
//! The request log as it first was (`tracing-subscriber`'s formatter, fields through
//! `fmt::Debug`, one buffer behind a lock all threads shared) cost about a fifth of the
//! server's throughput under load (docs/performance.md).
//! JSON lines come from `tracing-subscriber`'s JSON formatter, into the same buffers.
//!
//! Each thread writes its lines into a buffer of its own, which a flusher thread writes
//! to standard output ten times a second (and the thread itself when it holds 64 KiB):
//! a request costs a copy into memory, not a system call, a wake-up of another thread,
//! or a lock another thread is waiting on (each of these measurably cut throughput on a
//! small machine, docs/performance.md). Lines of one thread keep their order; lines of
//! different threads are written in batches, so within a 100 ms window they may appear
//! out of time order (each carries its time). At most the last 100 ms of lines wait in
//! memory; [`LogSink::flush`] writes them on shutdown.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::sim::lock;

/// How often buffered lines are written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// How much a thread buffers before it writes its lines out itself.
const THREAD_BUFFER: usize = 64 * 1024;

/// A thread buffer's capacity, reserved whole when the buffer is made or emptied: a
/// buffer grown by doubling from nothing was copied into a fresh block at every step, a
/// copy as large as the lines themselves and most of the log's level-2 cache misses
/// (docs/performance.md, "The log's buffers"). The slack takes the line that crosses
/// [`THREAD_BUFFER`] without growing.
const THREAD_CAPACITY: usize = THREAD_BUFFER + 4 * 1024;

/// An empty thread buffer with its whole capacity.
fn reserved() -> Vec<u8> {
    Vec::with_capacity(THREAD_CAPACITY)
}

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One thread's buffered lines. A `std` mutex: it is only ever contended by the
/// flusher, ten times a second, and held for a swap of two vectors (never for an
/// allocation or a write).
type ThreadBuffer = Arc<Mutex<Vec<u8>>>;

/// Where every log line goes: per-thread buffers, written to standard output in batches.
#[derive(Clone)]
pub struct LogSink {
    /// Every thread's buffer, registered on the thread's first line.
    buffers: Arc<Mutex<Vec<ThreadBuffer>>>,
    /// Writes a batch of whole lines out (standard output; tests collect them).
    out: fn(&[u8]),
}

impl Default for LogSink {
    fn default() -> Self {
        Self::with_output(write_out)
    }
}

thread_local! {
    /// This thread's buffer, and the sink it is registered with.
    static BUFFER: RefCell<Option<(LogSink, ThreadBuffer)>> = const { RefCell::new(None) };
}

impl LogSink {
    /// A sink whose batches of lines go to `out` instead of standard output.
    pub fn with_output(out: fn(&[u8])) -> Self {
        Self {
            buffers: Arc::default(),
            out,
        }
    }

    /// Writes out every buffered line, and forgets the buffers of threads that ended.
    pub fn flush(&self) {
        let buffers = lock(&self.buffers).clone();
        // The buffer swapped in for a thread's lines: made outside the thread's lock,
        // then the one just written out, emptied (its capacity kept).
        let mut spare = None;
        for buffer in &buffers {
            if lock(buffer).is_empty() {
                continue;
            }
            let fresh = spare.take().unwrap_or_else(reserved);
            let mut lines = std::mem::replace(&mut *lock(buffer), fresh);
            // Between the two locks the thread may have written its lines out itself,
            // leaving the empty buffer it took their place with: nothing to write, and
            // not a buffer to hand on (it has no capacity).
            if lines.is_empty() {
                continue;
            }
            (self.out)(&lines);
            lines.clear();
            spare = Some(lines);
        }
        drop(buffers);
        // A buffer only the list holds belongs to a thread that has ended.
        lock(&self.buffers).retain(|b| Arc::strong_count(b) > 1 || !lock(b).is_empty());
    }

    /// Appends whole lines to the calling thread's buffer.
    fn append(&self, lines: &[u8]) {
        self.write_line(|buffer| buffer.extend_from_slice(lines));
    }

    /// Lets `write` append one whole line to the calling thread's buffer.
    fn write_line(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut write = Some(write);
        let buffered = BUFFER.try_with(|mine| {
            let mut mine = mine.borrow_mut();
            let buffer = match &mut *mine {
                Some((sink, buffer)) if Arc::ptr_eq(&sink.buffers, &self.buffers) => buffer,
                _ => {
                    let buffer: ThreadBuffer = Arc::new(Mutex::new(reserved()));
                    lock(&self.buffers).push(Arc::clone(&buffer));
                    &mut mine.insert((self.clone(), buffer)).1
                }
            };
            let full = {
                let mut b = lock(buffer);
                if let Some(write) = write.take() {
                    write(&mut b);
                }
                (b.len() >= THREAD_BUFFER).then(|| std::mem::take(&mut *b))
            };
            // Written after the buffer's lock is released: the flusher never waits on it.
            // Then it goes back emptied, its capacity kept, in place of the empty one
            // left meanwhile (only this thread writes to it; the flusher skips it).
            if let Some(mut full) = full {
                (self.out)(&full);
                full.clear();
                let mut b = lock(buffer);
                if b.is_empty() {
                    *b = full;
                }
            }
        });
        // A line logged while the thread is being torn down goes out directly.
        if let (Err(_), Some(write)) = (buffered, write) {
            let mut line = Vec::new();
            write(&mut line);
            (self.out)(&line);
        }
    }
}

/// Writes a batch of whole lines; standard output's own lock keeps batches whole.
fn write_out(lines: &[u8]) {
    let _ = std::io::stdout().lock().write_all(lines);
}

/// One event's writer: the event's line goes whole into the thread's buffer.
pub struct EventWriter<'a>(&'a LogSink);

impl Write for EventWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.append(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        // Flushing is the flusher thread's job; an event only fills the buffer.
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = EventWriter<'a>;
    fn make_writer(&'a self) -> EventWriter<'a> {
        EventWriter(self)
    }
}

/// Installs the global subscriber (once per process) and starts the flusher thread.
pub fn init(format: LogFormat) -> LogSink {
    use std::io::IsTerminal;
    let ansi = std::io::stdout().is_terminal();
    let sink = LogSink::default();
    let installed = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                LineLayer {
                    sink: sink.clone(),
                    ansi,
                }
                .with_filter(LevelFilter::INFO),
            )
            .try_init()
            .is_ok(),
        LogFormat::Json => tracing_subscriber::fmt()
            .with_target(false)
            .with_ansi(false)
            .with_writer(sink.clone())
            .json()
            .flatten_event(true)
            .try_init()
            .is_ok(),
    };
    if installed {
        let flusher = sink.clone();
        std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flusher.flush();
                }
            })
            .ok();
    }
    sink
}

/// The text format: `2026-11-29T09:12:57.603665Z  INFO request method=GET status=200 ...`
/// (UTC wall time to the microsecond, level, message, then `name=value` fields; a value
/// with spaces, quotes or `=` is quoted).
pub struct LineLayer {
    /// Where the lines go.
    pub sink: LogSink,
    /// Colour the level (standard output is a terminal).
    pub ansi: bool,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        self.sink
            .write_line(|out| write_event(out, event, self.ansi));
    }
}

/// Writes one event as a text line.
fn write_event(out: &mut Vec<u8>, event: &Event<'_>, ansi: bool) {
    write_time(out, SystemTime::now());
    let level = *event.metadata().level();
    let (name, colour) = match level {
        Level::ERROR => ("ERROR", "31"),
        Level::WARN => (" WARN", "33"),
        Level::INFO => (" INFO", "32"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::TRACE => ("TRACE", "35"),
    };
    out.push(b' ');
    if ansi {
        let _ = write!(out, "\x1b[{colour}m{name}\x1b[0m");
    } else {
        out.extend_from_slice(name.as_bytes());
    }
    event.record(&mut FieldWriter { out });
    out.push(b'\n');
}

thread_local! {
    /// The last whole second formatted (`2026-11-29T09:12:57`) and its Unix time: lines
    /// within one second share it.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes `2026-11-29T09:12:57.603665Z`.
fn write_time(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            use std::fmt::Write as _;
            text.clear();
            let full = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs));
            // `2026-11-29T09:12:57Z` without its `Z`.
            let _ = write!(text, "{full}");
            text.pop();
            *cached = secs;
        }
        out.extend_from_slice(text.as_bytes());
    });
    // `.000042Z`: the microseconds, zero-padded to six digits.
    let mut micros = itoa::Buffer::new();
    let micros = micros.format(since.subsec_micros());
    out.extend_from_slice(&b".000000"[..7 - micros.len()]);
    out.extend_from_slice(micros.as_bytes());
    out.push(b'Z');
}

/// Writes an event's fields: the message bare, the others as `name=value`; strings and
/// integers as they are, anything else through `fmt::Debug`.
struct FieldWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl FieldWriter<'_> {
    /// Writes ` name=` (or a bare ` ` before the message).
    fn name(&mut self, field: &Field) {
        self.out.push(b' ');
        if field.name() != "message" {
            self.out.extend_from_slice(field.name().as_bytes());
            self.out.push(b'=');
        }
    }

    fn integer(&mut self, field: &Field, value: impl itoa::Integer) {
        self.name(field);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }
}

/// Whether `value` reads unambiguously bare: not empty, printable ASCII without quotes or
/// `=`. Every byte is tested without stopping at the first that fails: a loop without
/// an early exit is one the compiler runs 16 bytes at a time, and the values are short
/// (docs/performance.md, "The log line and header lookups").
fn bare(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().fold(true, |ok, b| {
            ok & b.is_ascii_graphic() & (b != b'"') & (b != b'=')
        })
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        // Quoted (and escaped) unless it reads unambiguously bare: printable ASCII
        // without quotes or `=`.
        let plain = field.name() == "message" || bare(value);
        if plain {
            self.out.extend_from_slice(value.as_bytes());
        } else {
            let _ = write!(self.out, "{value:?}");
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.name(field);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.name(field);
        let _ = write!(self.out, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_buffers_whole_lines_until_a_flush_and_ended_threads_are_forgotten() {
        static OUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
        let sink = LogSink::with_output(|lines| lock(&OUT).extend_from_slice(lines));
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    sink.append(format!("line from thread {i}\n").as_bytes());
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let buffered: Vec<Vec<u8>> = lock(&sink.buffers)
            .iter()
            .map(|b| lock(b).clone())
            .collect();
        assert_eq!(buffered.len(), 3, "one buffer per thread");
        for (i, lines) in buffered.iter().enumerate() {
            let text = String::from_utf8_lossy(lines);
            assert!(
                text.starts_with("line from thread ") && text.ends_with('\n'),
                "{i}: {text}"
            );
        }
        assert!(lock(&OUT).is_empty(), "nothing written before a flush");
        sink.flush();
        let mut out: Vec<String> = String::from_utf8_lossy(&lock(&OUT))
            .lines()
            .map(str::to_owned)
            .collect();
        out.sort();
        assert_eq!(
            out,
            [
                "line from thread 0",
                "line from thread 1",
                "line from thread 2"
            ]
        );
        assert!(
            lock(&sink.buffers).is_empty(),
            "the threads ended: their buffers are gone"
        );
    }

    #[test]
    fn a_thread_buffer_keeps_its_capacity_through_a_flush_and_a_full_write() {
        let sink = LogSink::with_output(|_| {});
        let capacity = |sink: &LogSink| lock(&lock(&sink.buffers)[0]).capacity();
        sink.append(b"a line\n");
        assert!(capacity(&sink) >= THREAD_CAPACITY, "made with its capacity");
        sink.flush();
        assert!(
            capacity(&sink) >= THREAD_CAPACITY,
            "swapped for a reserved one"
        );
        assert!(lock(&lock(&sink.buffers)[0]).is_empty());
        // Lines past THREAD_BUFFER are written out by the thread itself.
        let line = [b'x'; 1000];
        for _ in 0..=THREAD_BUFFER / line.len() {
            sink.append(&line);
        }
        let b = lock(&sink.buffers)[0].clone();
        let b = lock(&b);
        assert!(
            b.len() < line.len() * 2,
            "written out when full: {}",
            b.len()
        );
        assert!(
            b.capacity() >= THREAD_CAPACITY,
            "the written buffer came back"
        );
    }

    #[test]
    fn a_value_is_bare_only_when_it_is_printable_ascii_without_quotes_or_equals() {
        let long = "/v2/integrations/practicehub/sync-history/2f4c";
        for bare_value in ["GET", "-", long, "rk_sandbox_0001", "a/b?c&d"] {
            assert!(bare(bare_value), "{bare_value:?} reads bare");
        }
        // Each offender at the start, the middle and the end of a value longer than a
        // 16-byte stride.
        for offender in [" ", "\"", "=", "\t", "\n", "\u{7f}", "é", "\0"] {
            for at in [0, 20, long.len()] {
                let value = format!("{}{offender}{}", &long[..at], &long[at..]);
                assert!(!bare(&value), "{value:?} must be quoted");
            }
        }
        assert!(!bare(""), "an empty value is quoted");
    }

    #[test]
    fn times_share_the_cached_second_and_keep_their_microseconds() {
        let at = |micros: u64| UNIX_EPOCH + Duration::from_micros(micros);
        let mut out = Vec::new();
        for t in [
            at(1_780_304_400_000_001),
            at(1_780_304_400_999_999),
            at(1_780_304_401_000_000),
        ] {
            write_time(&mut out, t);
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-06-01T09:00:00.000001Z|2026-06-01T09:00:00.999999Z|2026-06-01T09:00:01.000000Z|"
        );
    }
}
