//! Request logs: one line per request through `tracing`, as text or JSON.
//!
//! Lines go into a buffer that is flushed ten times a second and when it fills, so a
//! request costs a copy into memory, not a system call or a wake-up of another thread
//! (both measurably cut throughput on a small machine). At most the last 100 ms of
//! lines wait in memory; [`LogSink::flush`] writes them on shutdown.

use std::io::{BufWriter, Stdout, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sim::lock;

/// How often buffered lines are written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The buffered standard output every log line goes to.
#[derive(Clone)]
pub struct LogSink(Arc<Mutex<BufWriter<Stdout>>>);

impl LogSink {
    /// Writes out every buffered line.
    pub fn flush(&self) {
        let _ = lock(&self.0).flush();
    }
}

/// One event's writer: holds the buffer's lock so lines never interleave.
pub struct EventWriter<'a>(std::sync::MutexGuard<'a, BufWriter<Stdout>>);

impl Write for EventWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        // Flushing is the flusher thread's job; an event only fills the buffer.
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = EventWriter<'a>;
    fn make_writer(&'a self) -> EventWriter<'a> {
        EventWriter(lock(&self.0))
    }
}

/// Installs the global subscriber (once per process) and starts the flusher thread.
pub fn init(format: LogFormat) -> LogSink {
    use std::io::IsTerminal;
    let ansi = std::io::stdout().is_terminal();
    let sink = LogSink(Arc::new(Mutex::new(BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout(),
    ))));
    let writer = sink.clone();
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if installed.is_ok() {
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
