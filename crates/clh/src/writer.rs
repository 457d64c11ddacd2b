//! The public face of the core: [`LogWriter`], which appends records to a log file
//! shared with any number of threads and processes, and its [`Interruptible`] view.
//! How a write is carried out under the lock is `shared.rs` (taking the lock) and
//! `session.rs` (writing and rotating); what decides a rotation is `trigger/`, how it
//! is done `rotation/`.
//!
//! Per record, with the log kept open: `flock(LOCK_EX)`, `fstat(lock file)` (it still
//! has a name: not deleted or replaced), `stat(log path)` (the real size of the file
//! every process writes, and whether another process rotated it away), `write()`,
//! `flock(LOCK_UN)`. Once the directory has settled, one `statx` of it stands for both
//! checks and `lseek` gives the size (`name_watch.rs`). Nothing else unless a rotation
//! is due.

use crate::compress::{Compressor, Owner};
use crate::error::Result;
use crate::fork::ForkLocal;
use crate::locking::{Interrupts, MAX_LOCK_REOPENS};
use crate::options::Builder;
use crate::session::Session;
use crate::shared::Shared;
use crate::trigger::Due;
use std::path::Path;
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
    pub(crate) shared: Arc<Shared>,
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

    /// Like [`write_batch`](Self::write_batch), but also says how many records, from
    /// the first, reached the file, error or not: a caller that retries after an error
    /// gives only the rest again, and never writes a record twice.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let (written, result) = writer.write_batch_counted(&[b"one\n", b"two\n"]);
    /// assert_eq!(written, 2);
    /// result?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_batch_counted<R: AsRef<[u8]>>(&self, records: &[R]) -> (usize, Result<()>) {
        let Progress { written, result } = self.append(records, Interrupts::Absorb);
        (written, result)
    }

    /// Append lines: `data` holds records that follow each other, each ending with
    /// its first newline (the last one may lack it). They are written exactly as
    /// [`write_batch`](Self::write_batch) would write them as separate records (each
    /// rotation where the size limit falls, a record never split, never more than one
    /// record past the limit), but without looking at each one: what fits before the
    /// size limit goes out in one `write()`, found with one search for the newline
    /// after the limit. This is the fast path for text read in bulk (`clh write`).
    /// The time trigger is asked before each `write()` rather than before each record.
    /// Returns how many bytes reached the file (whole records), error or not.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log"))
    ///     .max_bytes(8).backup_count(5).open()?;
    /// let (written, result) = writer.write_lines(b"one\ntwo\nthree\nfour\n");
    /// result?;
    /// assert_eq!(written, 19);
    /// assert_eq!(std::fs::read(dir.path().join("a.log.1"))?, b"one\ntwo\n");
    /// assert_eq!(std::fs::read(dir.path().join("a.log"))?, b"three\nfour\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_lines(&self, data: &[u8]) -> (usize, Result<()>) {
        let mut done = 0;
        let mut attempts = 0;
        loop {
            let mut written = 0;
            let (result, stale_lock) = self.locked(Interrupts::Absorb, |s| {
                s.write_lines(&data[done..], Interrupts::Absorb, &mut written)
            });
            done += written;
            attempts += 1;
            if !stale_lock || attempts > MAX_LOCK_REOPENS {
                return (done, result.and_then(|()| self.take_compress_error()));
            }
        }
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
        let (result, stale_lock) = self.locked(interrupts, |s| {
            s.write_records(records, interrupts, &mut written)
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

    pub(crate) fn should_rotate_with(&self, interrupts: Interrupts) -> Result<bool> {
        self.locked(interrupts, |s| {
            let size = s.current_size()?;
            Ok(s.due(size).is_some())
        })
        .0
    }

    /// Rotate now, whatever the size (`doRollover()`). With a deferred
    /// [`Namer`](crate::Namer) that does not know a name yet: [`Error::NamePending`](crate::Error::NamePending), nothing done.
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

    pub(crate) fn rotate_with(&self, interrupts: Interrupts) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_split_by_rotations_reports_every_record_written() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::builder(dir.path().join("a.log"))
            .max_bytes(8)
            .backup_count(10)
            .open()
            .unwrap();
        let records = [b"0123456789\n"; 5];
        let progress = writer.append(&records, Interrupts::Absorb);
        assert!(progress.result.is_ok());
        assert_eq!(progress.written, 5);
        // Each record after the first found the log over the limit: four rotations.
        assert_eq!(writer.num_rollovers(), 4);
    }

    #[test]
    fn lines_rotate_where_records_one_by_one_would() {
        // Lines of many lengths against several limits: the files are the same as
        // with write_batch (record by record).
        let lines: Vec<Vec<u8>> = (0..120)
            .map(|i| {
                let mut line = format!("line {i} ").into_bytes();
                line.resize(line.len() + (i * 37) % 90, b'x');
                line.push(b'\n');
                line
            })
            .collect();
        let data = lines.concat();
        for max in [1, 7, 64, 100, 1000, 4096] {
            let files = |lines_at_once: bool| {
                let dir = tempfile::tempdir().unwrap();
                let log = dir.path().join("a.log");
                let writer = LogWriter::builder(&log)
                    .max_bytes(max)
                    .backup_count(200)
                    .open()
                    .unwrap();
                // In a few calls, so that a call starts in a partly filled file.
                for part in [&lines[..10], &lines[10..11], &lines[11..]] {
                    if lines_at_once {
                        let bytes = part.concat();
                        let (written, result) = writer.write_lines(&bytes);
                        result.unwrap();
                        assert_eq!(written, bytes.len());
                    } else {
                        writer.write_batch(part).unwrap();
                    }
                }
                let mut files = Vec::new();
                for k in (1..=200).rev() {
                    if let Ok(bytes) = std::fs::read(dir.path().join(format!("a.log.{k}"))) {
                        files.push(bytes);
                    }
                }
                files.push(std::fs::read(&log).unwrap());
                (files, writer.num_rollovers())
            };
            let (lines_files, lines_rotations) = files(true);
            let (one_by_one, rotations) = files(false);
            assert_eq!(lines_files.concat(), data, "max {max}");
            assert_eq!(lines_rotations, rotations, "max {max}");
            assert!(lines_files == one_by_one, "max {max}: files differ");
        }
    }

    #[test]
    fn a_last_line_without_newline_is_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::builder(dir.path().join("a.log"))
            .max_bytes(4)
            .backup_count(5)
            .open()
            .unwrap();
        let (written, result) = writer.write_lines(b"a\nlong tail");
        result.unwrap();
        assert_eq!(written, 11);
        assert_eq!(
            std::fs::read(dir.path().join("a.log")).unwrap(),
            b"a\nlong tail"
        );
    }

    #[test]
    fn a_forced_rotation_of_a_missing_log_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::builder(dir.path().join("a.log"))
            .backup_count(1)
            .open()
            .unwrap();
        writer.write(b"x\n").unwrap();
        writer.rotate().unwrap();
        assert_eq!(writer.num_rollovers(), 1);
        assert!(dir.path().join("a.log.1").exists());
    }
}
