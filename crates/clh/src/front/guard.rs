//! [`WorkerGuard`]: the owner's hold on a shared [`BackgroundWriter`], in the style of
//! tracing-appender's guard. A writer that a global subscriber or logger holds is
//! never dropped, so its own `Drop` (which writes what is queued) never runs; the
//! guard, kept in `main`, does that job when it goes out of scope: it closes the
//! writer, which writes everything queued (letting a failing write retry for
//! [`CLOSE_GRACE`](crate::CLOSE_GRACE), then counting and announcing what it gives
//! up) and finishes pending compressions.
//!
//! Unlike tracing-appender's `non_blocking`, nothing is lost without a trace: with
//! [`Overflow::Block`](crate::Overflow::Block) (the default) nothing is dropped at all;
//! with [`Overflow::Drop`](crate::Overflow::Drop) drops are counted
//! ([`dropped_records`](WorkerGuard::dropped_records)) and the log gets a line saying
//! how many, as soon as writing works.

use crate::background::BackgroundWriter;
use crate::error::Result;
use crate::front::shared_writer::SharedWriter;
use std::sync::Arc;

/// Closes a shared [`BackgroundWriter`] when dropped: what is queued is written, and
/// compressions finish. Keep it alive (in `main`) as long as records are logged.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let (background, guard) =
///     clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?.with_guard();
/// background.write(b"queued\n")?; // a subscriber or logger would hold `background`
/// drop(guard); // writes what is queued
/// assert_eq!(std::fs::read(dir.path().join("app.log"))?, b"queued\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the guard at once closes the writer at once"]
pub struct WorkerGuard {
    writer: Arc<BackgroundWriter>,
    closed: bool,
}

impl BackgroundWriter {
    /// Share this writer (hand the [`SharedWriter`] to a subscriber or logger; clone
    /// it for each) and get the [`WorkerGuard`] that writes what is queued when it is
    /// dropped.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let (background, _guard) =
    ///     clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?.with_guard();
    /// assert_eq!(background.background().unwrap().dropped_records(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_guard(self) -> (SharedWriter, WorkerGuard) {
        let writer = Arc::new(self);
        (
            SharedWriter::Background(Arc::clone(&writer)),
            WorkerGuard::new(writer),
        )
    }
}

impl WorkerGuard {
    /// A guard for `writer` (see [`BackgroundWriter::with_guard`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let background = std::sync::Arc::new(clh::BackgroundWriter::new(writer, Default::default())?);
    /// let guard = clh::WorkerGuard::new(background.clone());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(writer: Arc<BackgroundWriter>) -> Self {
        WorkerGuard {
            writer,
            closed: false,
        }
    }

    /// The writer this guard closes.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let (_, guard) = clh::BackgroundWriter::new(writer, Default::default())?.with_guard();
    /// assert!(guard.writer().writer().path().ends_with("app.log"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer(&self) -> &BackgroundWriter {
        &self.writer
    }

    /// How many records the [`Overflow::Drop`](crate::Overflow::Drop) policy has
    /// dropped in this process ([`BackgroundWriter::dropped_records`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let (_, guard) = clh::BackgroundWriter::new(writer, Default::default())?.with_guard();
    /// assert_eq!(guard.dropped_records(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dropped_records(&self) -> u64 {
        self.writer.dropped_records()
    }

    /// Close the writer now, as dropping the guard does, and return what went wrong
    /// (records given up after [`CLOSE_GRACE`](crate::CLOSE_GRACE), a compression
    /// error), which a drop can only discard.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let (background, guard) = clh::BackgroundWriter::new(writer, Default::default())?.with_guard();
    /// background.write(b"last\n")?;
    /// guard.finish()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(mut self) -> Result<()> {
        self.closed = true;
        self.writer.close()
    }
}

impl Drop for WorkerGuard {
    /// Write what is queued and finish compressions (an error can only be dropped
    /// here: [`finish`](WorkerGuard::finish) returns it).
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.writer.close();
        }
    }
}

impl std::fmt::Debug for WorkerGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerGuard")
            .field("writer", &self.writer)
            .field("closed", &self.closed)
            .finish()
    }
}
