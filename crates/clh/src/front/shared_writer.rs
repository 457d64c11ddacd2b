//! [`SharedWriter`]: a [`LogWriter`] or a [`BackgroundWriter`] behind an `Arc`,
//! cheap to clone: what a front end (a `tracing` subscriber, a `log` logger, an
//! env_logger pipe) holds, and what [`BackgroundWriter::with_guard`] hands out.

use crate::background::BackgroundWriter;
use crate::error::Result;
use crate::writer::LogWriter;
use std::path::Path;
use std::sync::Arc;

/// A [`LogWriter`] or a [`BackgroundWriter`], shared: clone it for every front end
/// that writes to the log. Made from either writer, owned or in an `Arc` (`.into()`).
/// With feature `tracing` it is a `tracing_subscriber::fmt::MakeWriter`; with feature
/// `log`, what `clh::log::Logger` and `clh::log::Pipe` write to.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let shared = clh::SharedWriter::from(writer);
/// let copy = shared.clone();
/// copy.write(b"one record\n")?;
/// assert!(shared.background().is_none());
/// assert_eq!(std::fs::read(shared.path())?, b"one record\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub enum SharedWriter {
    /// Each record written with one `write()` under the lock, by the caller.
    Sync(Arc<LogWriter>),
    /// Each record queued, and written by the writer's thread.
    Background(Arc<BackgroundWriter>),
}

impl SharedWriter {
    /// Write one record: [`LogWriter::write`] or [`BackgroundWriter::write`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let shared = clh::SharedWriter::from(clh::BackgroundWriter::new(writer, Default::default())?);
    /// shared.write(b"queued\n")?;
    /// shared.flush()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, record: &[u8]) -> Result<()> {
        match self {
            SharedWriter::Sync(w) => w.write(record),
            SharedWriter::Background(bg) => bg.write(record),
        }
    }

    /// Wait until every record handed to a background writer is written
    /// ([`BackgroundWriter::flush`]); nothing to do for a sync writer, whose records
    /// are written when handed over.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let shared = clh::SharedWriter::from(writer);
    /// shared.flush()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        match self {
            SharedWriter::Sync(_) => Ok(()),
            SharedWriter::Background(bg) => bg.flush(),
        }
    }

    /// The [`LogWriter`] that writes the file (for rotation, paths, counters).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let shared = clh::SharedWriter::from(clh::BackgroundWriter::new(writer, Default::default())?);
    /// assert_eq!(shared.writer().num_rollovers(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer(&self) -> &LogWriter {
        match self {
            SharedWriter::Sync(w) => w,
            SharedWriter::Background(bg) => bg.writer(),
        }
    }

    /// The background writer, if this is one (for `dropped_records`, `close`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let shared = clh::SharedWriter::from(clh::BackgroundWriter::new(writer, Default::default())?);
    /// assert_eq!(shared.background().unwrap().dropped_records(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn background(&self) -> Option<&BackgroundWriter> {
        match self {
            SharedWriter::Sync(_) => None,
            SharedWriter::Background(bg) => Some(bg),
        }
    }

    /// The log's absolute path.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// assert!(clh::SharedWriter::from(writer).path().ends_with("app.log"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        self.writer().path()
    }

    /// Where a front end hands its records.
    #[cfg(any(feature = "tracing", feature = "log"))]
    pub(crate) fn sink(&self) -> super::record::Sink<'_> {
        match self {
            SharedWriter::Sync(w) => super::record::Sink::Sync(w),
            SharedWriter::Background(bg) => super::record::Sink::Background(bg),
        }
    }
}

impl From<LogWriter> for SharedWriter {
    fn from(w: LogWriter) -> Self {
        SharedWriter::Sync(Arc::new(w))
    }
}

impl From<Arc<LogWriter>> for SharedWriter {
    fn from(w: Arc<LogWriter>) -> Self {
        SharedWriter::Sync(w)
    }
}

impl From<BackgroundWriter> for SharedWriter {
    fn from(bg: BackgroundWriter) -> Self {
        SharedWriter::Background(Arc::new(bg))
    }
}

impl From<Arc<BackgroundWriter>> for SharedWriter {
    fn from(bg: Arc<BackgroundWriter>) -> Self {
        SharedWriter::Background(bg)
    }
}
