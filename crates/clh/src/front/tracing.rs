//! `tracing` (feature `tracing`): [`LogWriter`] and [`BackgroundWriter`] are
//! `tracing_subscriber::fmt::MakeWriter`s, so `tracing_subscriber::fmt().with_writer(w)`
//! logs to a file shared with other processes, rotated and compressed as configured.
//! So is a [`SharedWriter`] (either writer behind an `Arc`, cheap to clone). Every
//! event reaches the file as one record.
//!
//! How an event stays whole: the fmt layer formats an event into a buffer of its own,
//! asks the `MakeWriter` for a writer, hands it the whole buffer with one `write_all`
//! and drops it (tracing-subscriber 0.3, `fmt/fmt_layer.rs`, `Layer::on_event`; it
//! never calls `flush`). The writer returned here, [`RecordWriter`], keeps every byte
//! it is handed and writes them as one record when it is dropped: one `write()` under
//! the lock with a [`LogWriter`], one entry in the queue with a [`BackgroundWriter`].
//! An event therefore stays one record even from a layer or formatter that writes it
//! in pieces (a line break in the middle of a piece or at its end changes nothing),
//! and never interleaves with another thread's or process's. A `flush` writes the
//! complete lines kept so far as one record and keeps an unfinished line for later:
//! a flush never cuts a line in two.
//!
//! With a [`BackgroundWriter`] held by a global subscriber (never dropped), keep the
//! [`WorkerGuard`](crate::WorkerGuard) that [`BackgroundWriter::with_guard`] returns
//! with the [`SharedWriter`] in `main`: dropping it writes what is queued.
//!
//! ```
//! use tracing_subscriber::fmt;
//! # let dir = tempfile::tempdir()?;
//! let writer = clh::LogWriter::builder(dir.path().join("app.log"))
//!     .max_bytes(10 << 20)
//!     .backup_count(5)
//!     .use_gzip(true)
//!     .open()?;
//! let (background, guard) =
//!     clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?.with_guard();
//! let subscriber = fmt().with_writer(background).with_ansi(false).finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(answer = 42, "one event, one record");
//! });
//! drop(guard); // writes what is queued
//! let text = std::fs::read_to_string(dir.path().join("app.log"))?;
//! assert!(text.ends_with("one event, one record answer=42\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::record::Sink;
use crate::background::BackgroundWriter;
use crate::front::shared_writer::SharedWriter;
use crate::writer::LogWriter;
use std::io;
use tracing_subscriber::fmt::MakeWriter;

/// The writer [`LogWriter`] and [`BackgroundWriter`] make for each event: it keeps
/// what it is handed and writes it as one record when dropped (nothing if it was
/// handed nothing); `flush` writes the complete lines kept so far as one record and
/// keeps the unfinished line. It is meant to live for one event, as the fmt layer
/// uses it: everything it is handed waits in memory until then. A failure is
/// returned by `flush`; one met when dropped is counted, and announced in the log by
/// the next record a front end writes there (`concurrent_log_handler: N record(s)
/// were not written: ...`): never silent.
///
/// ```
/// use std::io::Write;
/// use tracing_subscriber::fmt::MakeWriter;
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let mut record = writer.make_writer();
/// record.write_all(b"one record, ")?;
/// record.write_all(b"written in pieces\n")?;
/// drop(record); // written here, with one write()
/// assert_eq!(std::fs::read(dir.path().join("app.log"))?, b"one record, written in pieces\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RecordWriter<'a> {
    sink: Sink<'a>,
    buf: Vec<u8>,
}

impl<'a> RecordWriter<'a> {
    fn new(sink: Sink<'a>) -> Self {
        RecordWriter {
            sink,
            buf: Vec::new(),
        }
    }
}

impl io::Write for RecordWriter<'_> {
    /// Keep `buf` for the record (never a partial write).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Write the complete lines kept so far as one record (a background writer
    /// queues it); an unfinished line stays for the next `flush` or the drop. What
    /// could not be written is counted and announced, and not written again.
    fn flush(&mut self) -> io::Result<()> {
        let Some(last) = self.buf.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let result = self.sink.write(&self.buf[..=last]);
        self.buf.drain(..=last);
        result
    }
}

impl Drop for RecordWriter<'_> {
    /// Write what was kept as one record. A failure is counted and announced in the
    /// log with the next record written through a front end.
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.sink.write(&self.buf);
        }
    }
}

impl std::fmt::Debug for RecordWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match self.sink {
            Sink::Sync(w) => w.path(),
            Sink::Background(bg) => bg.writer().path(),
        };
        f.debug_struct("RecordWriter")
            .field("to", &to)
            .field("kept", &self.buf.len())
            .finish()
    }
}

/// Each event is written by its own [`RecordWriter`], with one `write()` under the
/// lock.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
/// tracing::subscriber::with_default(subscriber, || tracing::warn!("disk at 91%"));
/// assert!(std::fs::read_to_string(dir.path().join("app.log"))?.contains("disk at 91%"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = RecordWriter<'a>;

    fn make_writer(&'a self) -> RecordWriter<'a> {
        RecordWriter::new(Sink::Sync(self))
    }
}

/// Each event is queued whole by its own [`RecordWriter`], and written by the
/// writer's thread (see [`BackgroundWriter::with_guard`] for a writer held by a
/// global subscriber).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let background = clh::BackgroundWriter::new(writer, Default::default())?;
/// let subscriber = tracing_subscriber::fmt().with_writer(background).finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));
/// // Dropping the subscriber dropped the writer, which wrote what was queued.
/// assert!(std::fs::read_to_string(dir.path().join("app.log"))?.contains("queued"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<'a> MakeWriter<'a> for BackgroundWriter {
    type Writer = RecordWriter<'a>;

    fn make_writer(&'a self) -> RecordWriter<'a> {
        RecordWriter::new(Sink::Background(self))
    }
}

/// Either writer, shared: the same as theirs. Clone it to write to one log from
/// several subscribers or layers (and from `log`, with feature `log`).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let (shared, guard) = clh::BackgroundWriter::new(writer, Default::default())?.with_guard();
/// let subscriber = tracing_subscriber::fmt().with_writer(shared.clone()).finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));
/// shared.flush()?;
/// assert!(std::fs::read_to_string(shared.path())?.contains("queued"));
/// # drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<'a> MakeWriter<'a> for SharedWriter {
    type Writer = RecordWriter<'a>;

    fn make_writer(&'a self) -> RecordWriter<'a> {
        RecordWriter::new(self.sink())
    }
}
