//! The write path: records appended under the cross-process lock, one `write()` each
//! (or one per batch), rotation decided and carried out under that same lock.
//!
//! Per record, with the log kept open: `flock(LOCK_EX)`, `fstat(lock file)` (the lock
//! file still has a name: not deleted or replaced by someone else; before a rotation
//! the lock path is checked to name it, too), `stat(log path)` (the real size of the file every process writes, and whether
//! another process has rotated it away), `write()`, `flock(LOCK_UN)`. Nothing else
//! unless a rotation is due.
//!
//! What goes wrong around a write never costs the record: a failed recovery, rotation
//! or compression is reported after the record is written. Only a failed lock or
//! write loses it, and then the caller gets the error.

use crate::compress::{self, Backup, Compressor, Owner};
use crate::error::{Context, Error, Result, Step};
use crate::fork::{Abandon, ForkLocal};
use crate::lock::LockFile;
use crate::options::{Builder, Config};
use crate::paths::{self, BackupNames, Namer, Temp};
use crate::rotation::{parent_dir, Rotation};
use crate::schedule::{Schedule, MIN_VALID_TIMESTAMP};
use crate::sys::{self, Access, FileId, Follow};
use crate::trigger::SizeTrigger;
use jiff::Timestamp;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

/// How many times in a row a writer reopens a lock file it finds deleted or replaced
/// before it reports an error (someone keeps replacing it).
const MAX_LOCK_REOPENS: u32 = 16;

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
/// assert!(writer.rollovers() > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LogWriter {
    shared: Arc<Shared>,
    compressor: ForkLocal<Compressor>,
}

/// What the writer's callers and its compression thread share.
struct Shared {
    cfg: Config,
    trigger: SizeTrigger,
    namer: RwLock<Option<Namer>>,
    /// The per-process state; replaced in a child after `fork()`.
    slot: ForkLocal<Slot>,
    rollovers: AtomicU64,
    /// An error of the compression thread, handed to the next caller.
    background_error: Mutex<Option<Error>>,
}

/// Descriptors and their mutex, valid in the process that made them.
struct Slot {
    /// Raw descriptors, readable without the mutex, to close them in a forked child
    /// even when the fork caught another thread holding the mutex.
    lock_fd: AtomicI64,
    log_fd: AtomicI64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    lock: Option<LockFile>,
    log: Option<OpenLog>,
    /// The shared next rollover time, as last read from (or written to) the lock file.
    next_rollover: Option<Timestamp>,
    /// A next rollover time this process could not store (its lock file is read-only):
    /// it overrides an earlier stored one, which is stale because we rotated since.
    unstored: Option<Timestamp>,
    /// Whether this process has looked for what crashed processes left behind.
    recovered: bool,
}

struct OpenLog {
    file: File,
    id: Option<FileId>,
}

/// Why a rotation is due.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// The time schedule's rollover time (from the lock file) has come.
    Time(Timestamp),
    /// The size limit was reached.
    Size,
    /// `rotate()` was called.
    Forced,
}

const NO_FD: i64 = -1;

impl Default for Slot {
    fn default() -> Self {
        Slot {
            lock_fd: AtomicI64::new(NO_FD),
            log_fd: AtomicI64::new(NO_FD),
            state: Mutex::default(),
        }
    }
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Abandon for Slot {
    /// In a forked child: close what this slot had open in the parent, without
    /// unlocking (that would release the parent's lock).
    fn abandon(&self) {
        match self.state.try_lock() {
            Ok(mut state) => {
                // Dropping closes; `LockFile` only unlocks through a guard.
                state.lock = None;
                state.log = None;
            }
            Err(_) => {
                // A thread that no longer exists held the mutex: the `File`s stay
                // leaked inside it, so closing their descriptors here is the only close.
                for fd in [&self.lock_fd, &self.log_fd] {
                    let fd = fd.swap(NO_FD, Ordering::AcqRel);
                    if fd != NO_FD {
                        sys::close_inherited(fd);
                    }
                }
            }
        }
    }
}

/// What a call does when something interrupts it before it has written a record: a
/// signal during the wait for the lock, or a rotation whose backup name a deferred
/// [`Namer`] does not know yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupts {
    /// Carry on: wait for the lock again; write the record and rotate later.
    Absorb,
    /// Return [`Error::Interrupted`] or [`Error::NamePending`], so that the caller
    /// can run its signal handlers or ask its namer, then call again with the records
    /// not written yet.
    Return,
}

/// How far a batch got: records `..written` are in the file; `result` is the first
/// error (a failed write, or what went wrong around the records after they were written).
pub(crate) struct Progress {
    pub written: usize,
    pub result: Result<()>,
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

    pub(crate) fn from_config(cfg: Config, namer: Option<Namer>) -> Result<Self> {
        let slot = Slot::default();
        // Open the lock file now: a bad lock directory or permissions fail here.
        let lock = LockFile::open(&cfg.lock_path, &cfg.perms, &cfg.lock_temp())?;
        if cfg.keep_file_open {
            slot.lock_fd.store(lock.raw_handle(), Ordering::Release);
            slot.state().lock = Some(lock);
        }
        let shared = Shared {
            trigger: SizeTrigger::new(cfg.max_bytes),
            cfg,
            namer: RwLock::new(namer),
            slot: ForkLocal::new(slot),
            rollovers: AtomicU64::new(0),
            background_error: Mutex::new(None),
        };
        Ok(LogWriter {
            shared: Arc::new(shared),
            compressor: ForkLocal::new(Compressor::new()),
        })
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
                let result = progress.result.and_then(|()| self.take_background_error());
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
    ///     .backup_count(1).gzip(true).open()?;
    /// writer.write(b"old\n")?;
    /// writer.rotate()?;
    /// writer.wait_for_compression()?;
    /// assert!(dir.path().join("a.log.1.gz").exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_compression(&self) -> Result<()> {
        self.compressor().wait_idle(None);
        self.take_background_error()
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
        self.take_background_error().map(|()| idle)
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
        self.shared.slot().state().next_rollover
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

    /// How many rotations this writer has carried out (CLH's `num_rollovers`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// assert_eq!(writer.rollovers(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rollovers(&self) -> u64 {
        self.shared.rollovers.load(Ordering::Relaxed)
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

    /// Finish pending compressions (waiting at most [`STALL_LIMIT`](crate::STALL_LIMIT)
    /// for them), then close the log and lock file. The writer stays usable: the next
    /// write reopens them.
    ///
    /// ```
    /// let writer = clh::LogWriter::builder(std::env::temp_dir().join("r.log")).open()?;
    /// writer.close()?;
    /// writer.write(b"reopened\n")?;
    /// # Ok::<(), clh::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        let waited = self.wait_for_compression_within(crate::STALL_LIMIT);
        let slot = self.shared.slot();
        let mut state = slot.state();
        state.log = None;
        state.lock = None;
        slot.log_fd.store(NO_FD, Ordering::Release);
        slot.lock_fd.store(NO_FD, Ordering::Release);
        waited.map(|_| ())
    }

    fn compressor(&self) -> &Compressor {
        self.compressor.get(Compressor::new)
    }

    fn take_background_error(&self) -> Result<()> {
        let taken = self
            .shared
            .background_error
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

impl Shared {
    /// This process's slot, replacing the parent's after a fork.
    fn slot(&self) -> &Slot {
        self.slot.get(Slot::default)
    }

    /// Run `f` with this process's state, holding the cross-process lock on a lock
    /// file that still has a name. Backups to compress are added to `to_compress`. An
    /// error `f` noted besides its result (recovery, rotation) is returned after it.
    /// Also says whether `f` found the lock file moved away from the lock path (it is
    /// then closed, so the next call locks the file at the path).
    fn locked<T>(
        &self,
        to_compress: &mut Vec<Backup>,
        interrupts: Interrupts,
        f: impl FnOnce(&mut Session<'_>) -> Result<T>,
    ) -> (Result<T>, bool) {
        let slot = self.slot();
        let mut state = slot.state();
        let State {
            lock,
            log,
            next_rollover,
            unstored,
            recovered,
        } = &mut *state;
        let mut f = Some(f);
        let mut reopens = 0;
        let (result, unlocked, stale_lock) = loop {
            if lock.is_none() {
                let opened = match LockFile::open(
                    &self.cfg.lock_path,
                    &self.cfg.perms,
                    &self.cfg.lock_temp(),
                ) {
                    Ok(opened) => opened,
                    Err(e) => return (Err(e), false),
                };
                slot.lock_fd.store(opened.raw_handle(), Ordering::Release);
                *lock = Some(opened);
            }
            let lock_file = lock.as_ref().expect("lock file opened above");
            let guard = match lock_file.lock() {
                Ok(guard) => guard,
                Err(Error::Interrupted) if interrupts == Interrupts::Absorb => continue,
                Err(e) => return (Err(e), false),
            };
            if lock_file.still_linked() {
                let mut session = Session {
                    writer: self,
                    slot,
                    lock: lock_file,
                    log,
                    next_rollover,
                    unstored,
                    to_compress,
                    rotated: 0,
                    noted: None,
                    stale_lock: false,
                };
                if !*recovered {
                    // A process's first look: finish what crashed processes left behind.
                    *recovered = true;
                    session.recover();
                }
                let f = f.take().expect("called once: the loop ends here");
                let result = f(&mut session);
                let (rotated, noted) = (session.rotated, session.noted.take());
                let stale_lock = session.stale_lock;
                if !self.cfg.keep_file_open {
                    session.close_log();
                }
                self.rollovers.fetch_add(rotated, Ordering::Relaxed);
                let result = result.and_then(|value| noted.map_or(Ok(value), Err));
                break (result, guard.unlock(), stale_lock);
            }
            // Deleted or replaced while we were not holding it: whoever opens the path
            // now locks another file. Let go, reopen, lock that one.
            drop(guard);
            *lock = None;
            slot.lock_fd.store(NO_FD, Ordering::Release);
            self.trace("the lock file was deleted or replaced: reopening it");
            reopens += 1;
            if reopens > MAX_LOCK_REOPENS {
                let e = io::Error::other("the lock file keeps being deleted or replaced");
                return (Err(e).at(Step::Lock, &self.cfg.lock_path), false);
            }
        };
        if stale_lock || unlocked.is_err() || !self.cfg.keep_file_open {
            // Closing releases the lock whatever happened to the unlock.
            *lock = None;
            slot.lock_fd.store(NO_FD, Ordering::Release);
        }
        (
            result.and_then(|value| unlocked.map(|()| value)),
            stale_lock,
        )
    }

    fn rotation(&self) -> Rotation<'_> {
        let cfg = &self.cfg;
        let namer = self
            .namer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Rotation {
            log: &cfg.path,
            names: BackupNames::new(&cfg.path, namer),
            backup_count: cfg.backup_count,
            gzip: cfg.gzip,
            debug: cfg.debug,
            schedule: cfg.schedule.as_ref(),
        }
    }

    fn trace(&self, msg: &str) {
        self.rotation().trace(msg);
    }
}

impl Owner for Shared {
    fn finish(&self, was: &Path, id: Option<FileId>, compressed: &Path) -> Result<()> {
        // Compression never rotates, so nothing new to compress comes out of this.
        let mut none = Vec::new();
        self.locked(&mut none, Interrupts::Absorb, |_| {
            let rotation = self.rotation();
            let current = rotation.locate(was, id)?;
            rotation.trace(&format!("compressed {}", was.display()));
            compress::install(current, compressed)
        })
        .0
    }

    fn with_lock(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let mut none = Vec::new();
        self.locked(&mut none, Interrupts::Absorb, |_| f()).0
    }

    fn report(&self, error: Error) {
        *self
            .background_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    fn log_path(&self) -> &Path {
        &self.cfg.path
    }
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cfg = &self.shared.cfg;
        f.debug_struct("LogWriter")
            .field("path", &cfg.path)
            .field("lock_path", &cfg.lock_path)
            .field("max_bytes", &cfg.max_bytes)
            .field("backup_count", &cfg.backup_count)
            .field("gzip", &cfg.gzip)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Fresh temporaries for creating the lock file, beside it.
    fn lock_temp(&self) -> impl Fn() -> PathBuf + '_ {
        move || paths::temp_path(&self.path, parent_dir(&self.lock_path), Temp::New)
    }
}

/// What a writer may do while it holds the lock.
struct Session<'a> {
    writer: &'a Shared,
    slot: &'a Slot,
    lock: &'a LockFile,
    log: &'a mut Option<OpenLog>,
    next_rollover: &'a mut Option<Timestamp>,
    unstored: &'a mut Option<Timestamp>,
    to_compress: &'a mut Vec<Backup>,
    rotated: u64,
    /// The first error met besides the write itself (recovery, rotation, storing the
    /// rollover time), returned once the records are written.
    noted: Option<Error>,
    /// Set when a rotation found that the lock file is no longer the one at the lock
    /// path: nothing was rotated, and the caller goes on under the file at the path.
    stale_lock: bool,
}

impl Session<'_> {
    fn cfg(&self) -> &Config {
        &self.writer.cfg
    }

    fn note(&mut self, error: Error) {
        self.writer.trace(&format!("error: {error}"));
        self.noted.get_or_insert(error);
    }

    fn recover(&mut self) {
        let (pending, problem) = self.writer.rotation().recover();
        self.to_compress.extend(pending);
        if let Some(e) = problem {
            self.note(e);
        }
    }

    /// Make sure the open log is the file now at the log's path (another process may
    /// have rotated it, or it may not exist yet) and return its size.
    fn current_size(&mut self) -> Result<u64> {
        let path = &self.writer.cfg.path;
        let on_disk = match fs::metadata(path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).at(Step::Stat, path),
        };
        if let (Some(meta), Some(open)) = (&on_disk, self.log.as_ref()) {
            let id = sys::file_id(meta);
            if id.is_some() && id == open.id {
                return Ok(meta.len());
            }
        }
        self.close_log();
        let cfg = self.cfg();
        let dir = parent_dir(path);
        let temp = || paths::temp_path(path, dir, Temp::New);
        let file = sys::open_or_create(path, Access::Append, Follow::ToRegular, &cfg.perms, &temp)
            .at(Step::OpenLog, path)?;
        let meta = file.metadata().at(Step::Stat, path)?;
        self.slot
            .log_fd
            .store(sys::raw_handle(&file), Ordering::Release);
        *self.log = Some(OpenLog {
            id: sys::file_id(&meta),
            file,
        });
        Ok(meta.len())
    }

    /// Append `records` to the open log, whose size is `size`, in one `write()`
    /// (preceded by the header if the file is new). Returns the new size. On failure,
    /// whatever part reached the file is cut off again.
    fn append<R: AsRef<[u8]>>(
        &mut self,
        records: &[R],
        size: u64,
        chunk: &mut Vec<u8>,
    ) -> Result<u64> {
        let header = &self.writer.cfg.header;
        let with_header = size == 0 && !header.is_empty();
        let bytes: &[u8] = match records {
            [] => return Ok(size),
            [one] if !with_header => one.as_ref(),
            _ => {
                chunk.clear();
                if with_header {
                    chunk.extend_from_slice(header);
                }
                for r in records {
                    chunk.extend_from_slice(r.as_ref());
                }
                chunk
            }
        };
        let path = &self.writer.cfg.path;
        let open = self.log.as_mut().expect("current_size opened the log");
        if let Err(e) = open.file.write_all(bytes) {
            let _ = open.file.set_len(size);
            return Err(e).at(Step::Write, path);
        }
        Ok(size + bytes.len() as u64)
    }

    /// Whether a rotation is due for a log of `size` bytes, and why. A time rotation
    /// is not due, and a new period simply starts, when the log is empty (no empty
    /// backups) or was written after the rollover time (a process that could not
    /// store the time in a read-only lock file rotated already, or the stored time is
    /// stale: renaming now would name recent records after an old period). Errors
    /// reading or storing the shared time are noted, not fatal to the write.
    fn due(&mut self, size: u64) -> Option<Due> {
        let writer = self.writer;
        if let Some(schedule) = &writer.cfg.schedule {
            let now = writer.cfg.clock.now();
            if self.next_rollover.is_none_or(|next| now >= next) {
                match self.shared_next_rollover(schedule, now, size) {
                    Ok(next) if now < next => {}
                    Ok(next) => {
                        if size == 0 {
                            self.writer
                                .trace("empty log at the rollover time: no backup");
                        } else if self.log_modified(now).is_some_and(|m| m >= next) {
                            self.writer
                                .trace("log written after the rollover time: a new period");
                        } else {
                            return Some(Due::Time(next));
                        }
                        self.store_next_rollover(schedule.next_after(now));
                    }
                    Err(e) => {
                        // Without the shared time, keep going on our own until next time.
                        *self.next_rollover = Some(schedule.next_after(now));
                        self.note(e);
                    }
                }
            }
        }
        writer.trigger.should_rotate(size).then_some(Due::Size)
    }

    /// The next rollover time shared through the lock file (CLH's format: decimal epoch
    /// seconds). A missing, corrupt or implausible value (before 2000, or later than
    /// the schedule allows from now, e.g. after the clock stepped back) is recomputed
    /// from the last modification of a non-empty log (else from now), so a restart
    /// after a missed rollover rotates.
    fn shared_next_rollover(
        &mut self,
        schedule: &Schedule,
        now: Timestamp,
        size: u64,
    ) -> Result<Timestamp> {
        let lock_path = &self.writer.cfg.lock_path;
        let stored = self.lock.read_content().at(Step::Lock, lock_path)?;
        // Calendar schedules may differ from CLH's arithmetic by a DST hour.
        let slack = if schedule.fixed_seconds().is_some() {
            0
        } else {
            3600
        };
        let latest = schedule
            .next_after(now)
            .checked_add(jiff::SignedDuration::from_secs(slack))
            .unwrap_or(Timestamp::MAX);
        let valid = stored
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|&t| t >= MIN_VALID_TIMESTAMP)
            .and_then(|t| Timestamp::from_second(t).ok())
            .filter(|&t| t <= latest);
        let next = match valid {
            Some(next) => next.max(self.unstored.unwrap_or(next)),
            None => {
                let modified = self
                    .log_modified(now)
                    .filter(|&m| size > 0 && m < now)
                    .unwrap_or(now);
                let next = schedule.next_after(modified);
                self.store_next_rollover(next);
                next
            }
        };
        *self.next_rollover = Some(next);
        Ok(next)
    }

    /// When the log was last written, if that is known and not later than `now` (a
    /// file time ahead of the clock, which stepped back or is injected, means nothing).
    fn log_modified(&self, now: Timestamp) -> Option<Timestamp> {
        fs::metadata(&self.writer.cfg.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| Timestamp::try_from(m).ok())
            .filter(|&m| m <= now && m.as_second() >= MIN_VALID_TIMESTAMP)
    }

    /// Share `next` through the lock file. A read-only lock file (another user's)
    /// keeps it in this process only; a failure to write is noted.
    fn store_next_rollover(&mut self, next: Timestamp) {
        *self.next_rollover = Some(next);
        match self.lock.write_content(&next.as_second().to_string()) {
            Ok(true) => *self.unstored = None,
            Ok(false) => {
                *self.unstored = Some(next);
                self.writer
                    .trace("the lock file is read-only: the next rollover time stays in memory");
            }
            Err(e) => {
                let lock_path = self.writer.cfg.lock_path.clone();
                self.note(Error::io(Step::Lock, lock_path, e));
            }
        }
    }

    fn rotate(&mut self, due: Due) -> Result<()> {
        let writer = self.writer;
        if !self.lock.is_at_path() {
            self.stale_lock = true;
            writer.trace("the lock file was moved or replaced: relocking before rotating");
            let e = io::Error::other("the lock file is no longer at its path");
            return Err(e).at(Step::Lock, &writer.cfg.lock_path);
        }
        let rotation = writer.rotation();
        let (pending, problem) = rotation.recover();
        self.to_compress.extend(pending);
        if let Some(e) = problem {
            self.note(e);
        }
        let result = match &writer.cfg.schedule {
            None if writer.cfg.backup_count == 0 => self.truncate(),
            None => {
                self.close_log();
                rotation.rotate(None)
            }
            Some(schedule) => {
                let now = writer.cfg.clock.now();
                let period_end = match (due, *self.next_rollover) {
                    (Due::Time(at), _) => at,
                    (_, Some(next)) => next,
                    (_, None) => schedule.next_after(now),
                };
                let stamp = schedule.format(schedule.period_start(period_end));
                self.close_log();
                let result = rotation.rotate(Some(&stamp));
                let postponed = matches!(result, Err(Error::NamePending { .. }));
                if !postponed && !matches!(due, Due::Size) {
                    // A new period starts now (the stdlib's rule), for every process.
                    self.store_next_rollover(schedule.next_after(now));
                }
                result
            }
        };
        if result.is_ok() || !writer.cfg.path.exists() {
            self.rotated += 1;
        }
        self.to_compress.extend(result?);
        Ok(())
    }

    /// `backup_count == 0` without a schedule: empty the log in place (CLH's rule),
    /// through the descriptor we write with (so a log path that is a symbolic link
    /// truncates the file it leads to, the one being written).
    fn truncate(&mut self) -> Result<Option<Backup>> {
        self.writer.trace("truncating (backup count 0)");
        let path = &self.writer.cfg.path;
        let open = self.log.as_ref().expect("current_size opened the log");
        open.file.set_len(0).at(Step::Truncate, path)?;
        Ok(None)
    }

    fn close_log(&mut self) {
        *self.log = None;
        self.slot.log_fd.store(NO_FD, Ordering::Release);
    }
}
