//! What can be read or changed on a running [`LogWriter`]: the options CLH reads at
//! every check (`maxBytes`, `backupCount`, `use_gzip`), the namer, the shared next
//! rollover time, and the rotation counter.

use crate::paths::Namer;
use crate::writer::LogWriter;
#[cfg(doc)]
use crate::Builder;
use jiff::Timestamp;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;

impl LogWriter {
    /// With a time schedule: the next rollover time this process knows of (as shared
    /// through the lock file), once it has been read or computed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let daily = clh::Schedule::new(clh::When::Midnight, 1)?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).schedule(daily).open()?;
    /// writer.write(b"x\n")?;
    /// assert!(writer.next_rollover().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_rollover(&self) -> Option<Timestamp> {
        self.shared.process().state().time.next
    }

    /// Replace the backup namer (see [`Builder::namer`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.set_namer(None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_namer(&self, namer: Option<Namer>) {
        *self
            .shared
            .namer
            .write()
            .unwrap_or_else(PoisonError::into_inner) = namer;
    }

    /// How many rotations this writer has carried out in this process.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// assert_eq!(writer.num_rollovers(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn num_rollovers(&self) -> u64 {
        self.shared.num_rollovers.load(Ordering::Relaxed)
    }

    /// Change the size limit (see [`Builder::max_bytes`]): the next write uses it, as
    /// CLH reads `maxBytes` at every check.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.set_max_bytes(4);
    /// writer.write(b"12345\n")?;
    /// assert!(writer.should_rotate()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_max_bytes(&self, max_bytes: u64) {
        self.shared.size.set_max_bytes(max_bytes);
    }

    /// The size limit now in force.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).max_bytes(9).open()?;
    /// assert_eq!(writer.max_bytes(), 9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_bytes(&self) -> u64 {
        self.shared.size.max_bytes()
    }

    /// How many backups are kept now.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).backup_count(4).open()?;
    /// assert_eq!(writer.backup_count(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backup_count(&self) -> u32 {
        self.shared.cfg.backup_count()
    }

    /// Whether backups are compressed now.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// assert!(!writer.use_gzip());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn use_gzip(&self) -> bool {
        self.shared.cfg.use_gzip()
    }

    /// Change how many backups are kept (see [`Builder::backup_count`]), from the next
    /// rotation on.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.set_backup_count(3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_backup_count(&self, backup_count: u32) {
        self.shared
            .cfg
            .backup_count
            .store(backup_count, Ordering::Relaxed);
    }

    /// Switch compression of backups on or off (see [`Builder::use_gzip`]), from the
    /// next rotation on.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.set_use_gzip(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_use_gzip(&self, use_gzip: bool) {
        self.shared.cfg.use_gzip.store(use_gzip, Ordering::Relaxed);
    }
}
