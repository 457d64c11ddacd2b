//! The public face of the core: [`LogWriter`], which appends records to a log file
//! shared with any number of threads and processes, and its [`Interruptible`] view.
//! How a write is carried out under the lock is `shared.rs` (taking the lock) and
//! `session.rs` (writing and rotating); what decides a rotation is `trigger/`, how it
//! is done `rotation/`.
//!
//! Per record, with the log kept open: `flock(LOCK_EX)`, `fstat(lock file)` (it still
//! has a name: not deleted or replaced), `stat(log path)` (the real size of the file
//! every process writes, and whether another process rotated it away), `write()`,
//! `flock(LOCK_UN)`. Nothing else unless a rotation is due.

use crate::compress::{Compressor, Owner};
use crate::error::{Error, Result};
use crate::fork::ForkLocal;
use crate::options::Builder;
use crate::paths::Namer;
use crate::session::Session;
use crate::shared::{Interrupts, Shared, MAX_LOCK_REOPENS};
use crate::trigger::Due;
use jiff::Timestamp;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

/// Appends records to a log file shared with any number of threads and processes,
/// rotating it by size and/or time. Cheap to share: `&LogWriter` is `Sync`.
///
/// Every record is written with one `write()` under an exclusive `flock` on CLH's
/// lock file, so records never interleave and a rotation never races a write.
/// Compression runs on a thread of its own, off the lock. After `fork()` the child
/// transparently opens its own lock and log descriptors.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let log = dir.path().join("app.log");
/// let writer = clh::LogWriter::builder(&log).max_bytes(64).backup_count(2).open()?;
/// for i in 0..10 {
///     writer.write(format!("record {i:02} of ten\n").as_bytes())?;
/// }
/// assert!(dir.path().join("app.log.1").exists());
/// assert!(writer.num_rollovers() > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LogWriter {
    shared: Arc<Shared>,
    compressor: ForkLocal<Compressor>,
}

/// How far a batch got: records `..written` are in the file; `result` is the first
/// error (a failed write, or what went wrong around the records after they were written).
pub(crate) struct Progress {
    pub written: usize,
    pub result: Result<()>,
}

impl Builder {
    /// Validate the options, create the lock directory if needed, open the lock file
    /// and return the writer. The log itself is opened at the first write.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join("clh-doc-open");
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let err = clh::LogWriter::builder(&dir).open().unwrap_err();
    /// assert!(err.to_string().contains("is a directory"));
    /// ```
    pub fn open(self) -> Result<LogWriter> {
        let (cfg, namer) = self.into_config()?;
        Ok(LogWriter {
            shared: Arc::new(Shared::new(cfg, namer)?),
            compressor: ForkLocal::new(Compressor::new()),
        })
    }
}

impl LogWriter {
    /// Start configuring a writer for the log at `path`.
    ///
    /// ```
    /// let builder = clh::LogWriter::builder("/var/log/app.log").max_bytes(1 << 20);
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> Builder {
        Builder::new(path.as_ref().to_owned())
    }

    /// Append one record (include its line terminator). The record reaches the file
    /// in a single `write()`, whole. If a due rotation fails, the record is still
    /// written and the rotation's error returned; if the write itself fails, any
    /// partial record is cut off again so the file never holds a torn record. An
    /// error of the compression thread is returned by the next call, once. A signal
    /// that interrupts the wait for the lock is waited through (see
    /// [`interruptible`](Self::interruptible)).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.write(b"one line\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, record: &[u8]) -> Result<()> {
        self.write_batch(&[record])
    }

    /// Append several records under one lock, in as few `write()`s as possible: one,
    /// unless a rotation falls inside the batch (each record is checked against the
    /// size and time triggers, as if written alone). Records are never split.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.write_batch(&[b"one\n".as_slice(), b"two\n".as_slice()])?;
    /// assert_eq!(std::fs::read(dir.path().join("a.log"))?, b"one\ntwo\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_batch<R: AsRef<[u8]>>(&self, records: &[R]) -> Result<()> {
        self.append(records, Interrupts::Absorb).result
    }

    /// The same writer, but a call returns control before it writes a record when it
    /// is interrupted: by a signal during the wait for the lock ([`Error::Interrupted`],
    /// so that the caller can run its signal handlers and call again, Python's rule in
    /// PEP 475), or by a due rotation whose name a deferred [`Namer`] does not know yet
    /// ([`Error::NamePending`], so that the caller can ask its namer, outside the lock,
    /// and call again: the rotation then comes before the record, as it should).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// loop {
    ///     match writer.interruptible().write(b"x\n") {
    ///         Err(clh::Error::Interrupted) => continue, // run handlers here
    ///         other => break other?,
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interruptible(&self) -> Interruptible<'_> {
        Interruptible(self)
    }

    /// Write `records`, reporting how many reached the file. A rotation that finds
    /// the lock file moved under it stops; the rest is written under the lock file now
    /// at the lock path.
    pub(crate) fn append<R: AsRef<[u8]>>(&self, records: &[R], interrupts: Interrupts) -> Progress {
        let mut done = 0;
        let mut attempts = 0;
        loop {
            let (progress, stale_lock) = self.append_once(&records[done..], interrupts);
            done += progress.written;
            attempts += 1;
            if !stale_lock || attempts > MAX_LOCK_REOPENS {
                let result = progress.result.and_then(|()| self.take_compress_error());
                return Progress {
                    written: done,
                    result,
                };
            }
        }
    }

    fn append_once<R: AsRef<[u8]>>(
        &self,
        records: &[R],
        interrupts: Interrupts,
    ) -> (Progress, bool) {
        let mut written = 0;
        let mut chunk = Vec::new();
        let (result, stale_lock) = self.locked(interrupts, |s| {
            let mut size = s.current_size()?;
            // Records `start..i` wait to be written in one chunk of `pending` bytes.
            let (mut start, mut pending) = (0, 0);
            for (i, record) in records.iter().enumerate() {
                if let Some(due) = s.due(size + pending) {
                    s.append(&records[start..i], size, &mut chunk)?;
                    written = i;
                    (start, pending) = (i, 0);
                    match s.rotate(due) {
                        Ok(()) => {}
                        Err(e) if s.stale_lock => return Err(e), // the caller goes on
                        Err(e @ Error::NamePending { .. }) if interrupts == Interrupts::Return => {
                            return Err(e); // records before this one are written
                        }
                        Err(Error::NamePending { .. }) => {} // rotate at a later write
                        Err(e) => s.note(e),
                    }
                    size = s.current_size()?;
                }
                pending += record.as_ref().len() as u64;
            }
            s.append(&records[start..], size, &mut chunk)?;
            written = records.len();
            Ok(())
        });
        (Progress { written, result }, stale_lock)
    }

    /// Whether the log, as it is on disk now, is due for rotation (by size or time).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).max_bytes(4).open()?;
    /// assert!(!writer.should_rotate()?);
    /// writer.write(b"12345\n")?;
    /// assert!(writer.should_rotate()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn should_rotate(&self) -> Result<bool> {
        self.should_rotate_with(Interrupts::Absorb)
    }

    fn should_rotate_with(&self, interrupts: Interrupts) -> Result<bool> {
        self.locked(interrupts, |s| {
            let size = s.current_size()?;
            Ok(s.due(size).is_some())
        })
        .0
    }

    /// Rotate now, whatever the size (`doRollover()`). With a deferred
    /// [`Namer`] that does not know a name yet: [`Error::NamePending`], nothing done.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).backup_count(1).open()?;
    /// writer.write(b"old\n")?;
    /// writer.rotate()?;
    /// assert_eq!(std::fs::read(dir.path().join("a.log.1"))?, b"old\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate(&self) -> Result<()> {
        self.rotate_with(Interrupts::Absorb)
    }

    fn rotate_with(&self, interrupts: Interrupts) -> Result<()> {
        let mut attempts = 0;
        loop {
            let (result, stale_lock) = self.locked(interrupts, |s| {
                s.current_size()?;
                s.rotate(Due::Forced)
            });
            attempts += 1;
            if !stale_lock || attempts > MAX_LOCK_REOPENS {
                return result;
            }
        }
    }

    /// Wait until every compression this writer started has finished, and return an
    /// error the compression thread met, if any.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log"))
    ///     .backup_count(1).use_gzip(true).open()?;
    /// writer.write(b"old\n")?;
    /// writer.rotate()?;
    /// writer.wait_for_compression()?;
    /// assert!(dir.path().join("a.log.1.gz").exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_compression(&self) -> Result<()> {
        self.compressor().wait_idle(None);
        self.take_compress_error()
    }

    /// Like [`wait_for_compression`](Self::wait_for_compression), but wait at most
    /// `timeout`: `Ok(false)` if compressions are still running then (they go on, and
    /// if the process ends first, the next writer's recovery finishes them).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// assert!(writer.wait_for_compression_within(std::time::Duration::from_secs(1))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_compression_within(&self, timeout: std::time::Duration) -> Result<bool> {
        let idle = self.compressor().wait_idle(Some(timeout));
        self.take_compress_error().map(|()| idle)
    }

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

    /// The log's absolute path.
    ///
    /// ```
    /// let writer = clh::LogWriter::builder(std::env::temp_dir().join("p.log")).open()?;
    /// assert!(writer.path().is_absolute());
    /// # Ok::<(), clh::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.shared.cfg.path
    }

    /// The lock file's path (see [`lock_path_for`](crate::lock_path_for)).
    ///
    /// ```
    /// let writer = clh::LogWriter::builder(std::env::temp_dir().join("q.log")).open()?;
    /// assert!(writer.lock_path().ends_with(".__q.lock"));
    /// # Ok::<(), clh::Error>(())
    /// ```
    pub fn lock_path(&self) -> &Path {
        &self.shared.cfg.lock_path
    }

    /// Finish pending compressions, and with gzip on, those that killed processes left
    /// (waiting at most [`STALL_LIMIT`](crate::STALL_LIMIT) for them), then close the
    /// log and lock file. The writer stays usable: the next
    /// write reopens them.
    ///
    /// ```
    /// let writer = clh::LogWriter::builder(std::env::temp_dir().join("r.log")).open()?;
    /// writer.close()?;
    /// writer.write(b"reopened\n")?;
    /// # Ok::<(), clh::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        if self.use_gzip() {
            // Hand over backups that processes killed while compressing left behind
            // (a pool's workers ended by SIGTERM, say), so that the set is whole.
            let _ = self.locked(Interrupts::Absorb, |s| {
                s.recover();
                Ok(())
            });
        }
        let waited = self.wait_for_compression_within(crate::STALL_LIMIT);
        let mut state = self.shared.process().state();
        state.log = None;
        state.lock = None;
        waited.map(|_| ())
    }

    fn compressor(&self) -> &Compressor {
        self.compressor.get(Compressor::new)
    }

    fn take_compress_error(&self) -> Result<()> {
        let taken = self
            .shared
            .compress_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        taken.map_or(Ok(()), Err)
    }

    /// Run `f` holding the lock, then hand any backups it produced to the compressor.
    /// Also says whether `f` found the lock file moved (then nothing was rotated, and
    /// the next call locks the file now at the lock path).
    fn locked<T>(
        &self,
        interrupts: Interrupts,
        f: impl FnOnce(&mut Session<'_>) -> Result<T>,
    ) -> (Result<T>, bool) {
        let mut to_compress = Vec::new();
        let result = self.shared.locked(&mut to_compress, interrupts, f);
        if !to_compress.is_empty() {
            let owner: Arc<dyn Owner> = self.shared.clone();
            for backup in to_compress {
                self.compressor().submit(&owner, backup);
            }
        }
        result
    }
}

/// A [`LogWriter`] whose calls return [`Error::Interrupted`] or
/// [`Error::NamePending`] instead of carrying on (see [`LogWriter::interruptible`]).
#[derive(Debug, Clone, Copy)]
pub struct Interruptible<'a>(&'a LogWriter);

impl Interruptible<'_> {
    /// [`LogWriter::write`], or [`Error::Interrupted`] / [`Error::NamePending`] with
    /// nothing written.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.interruptible().write(b"x\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, record: &[u8]) -> Result<()> {
        self.0.append(&[record], Interrupts::Return).result
    }

    /// [`LogWriter::should_rotate`], or [`Error::Interrupted`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// assert!(!writer.interruptible().should_rotate()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn should_rotate(&self) -> Result<bool> {
        self.0.should_rotate_with(Interrupts::Return)
    }

    /// [`LogWriter::rotate`], or [`Error::Interrupted`] / [`Error::NamePending`] with
    /// nothing done.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.interruptible().rotate()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate(&self) -> Result<()> {
        self.0.rotate_with(Interrupts::Return)
    }
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cfg = &self.shared.cfg;
        f.debug_struct("LogWriter")
            .field("path", &cfg.path)
            .field("lock_path", &cfg.lock_path)
            .field("max_bytes", &self.shared.size.max_bytes())
            .field("backup_count", &cfg.backup_count())
            .field("use_gzip", &cfg.use_gzip())
            .finish_non_exhaustive()
    }
}
