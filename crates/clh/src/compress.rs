//! Gzip rotated files off the lock, on a thread of the writer's own, so that no writer
//! (of any process) waits for a compression.
//!
//! For a backup `X` (say `app.log.1`) the compressor:
//! 1. opens `X` and takes a `flock` on it: that tells every process "being compressed"
//!    (recovery skips a locked backup) and is released by the kernel if we die;
//! 2. compresses exactly the backup's length (a regular file opened without following
//!    a link, so a planted link to `/dev/zero` is refused, not read forever) into a
//!    short hidden temporary `.__clh-<crc>.gz.<pid>.<n>` (also `flock`ed, so recovery
//!    can tell an abandoned one), created with `X`'s mode and owner, synced;
//! 3. takes the log's lock, finds where `X` is now (numbered backups shift while we
//!    compress; we follow the inode), renames the temporary to `<that name>.gz` and
//!    removes the uncompressed file. If retention deleted `X` meanwhile, the
//!    temporary is deleted instead.
//!
//! A `.gz` therefore only ever appears complete under a backup's name.

use crate::error::{Context, Error, Result, Step};
use crate::fork::Abandon;
use crate::paths::{self, parent_dir, with_suffix, Temp};
use crate::sys::{self, Access, Follow};
use crossbeam_channel::{Receiver, Sender};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long dropping a writer waits for its compressions (see [`Compressor`]'s `Drop`).
const STALL_LIMIT: Duration = crate::STALL_LIMIT;

/// What the compressor needs from its writer: the lock, and where a backup went.
pub(crate) trait Owner: Send + Sync + 'static {
    /// Take the log's lock and [`install`] `compressed` as the compression of the
    /// backup with identity `id` that was named `was`.
    fn finish(&self, was: &Path, id: Option<sys::FileId>, compressed: &Path) -> Result<()>;
    /// Run `f` with the log's lock held (recovery, which deletes unlocked
    /// temporaries, runs under it too, so a temporary is never seen before its `flock`).
    fn with_lock(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()>;
    /// Report an error nobody is waiting for (the writer hands it to its next caller).
    fn report(&self, error: Error);
    /// The log's path (for naming temporaries).
    fn log_path(&self) -> &Path;
}

/// Whether `gz` is a complete gzip file of an `expected_len`-byte input: its trailer
/// records the input length (mod 2^32). A file cut short ends in compressed data
/// instead, which matches only by a 1 in 2^32 chance.
pub(crate) fn is_complete(gz: &Path, expected_len: u64) -> bool {
    let check = || -> io::Result<bool> {
        let mut f = sys::open_file(gz, Access::ReadOnly, Follow::Never)?;
        if f.metadata()?.len() < 18 {
            return Ok(false);
        }
        f.seek(SeekFrom::End(-4))?;
        let mut isize = [0u8; 4];
        f.read_exact(&mut isize)?;
        Ok(u64::from(u32::from_le_bytes(isize)) == expected_len & 0xFFFF_FFFF)
    };
    check().unwrap_or(false)
}

/// An uncompressed backup handed to the compressor, opened while its name was known:
/// the open file keeps pointing at the right data however the backups shift.
pub(crate) struct Backup {
    pub path: PathBuf,
    pub file: File,
}

impl Backup {
    /// Open the backup now at `path` (a regular file, never through a link).
    pub fn open(path: PathBuf) -> Result<Self> {
        let file =
            sys::open_file(&path, Access::ReadOnly, Follow::Never).at(Step::Compress, &path)?;
        Ok(Backup { path, file })
    }

    fn key(&self) -> Key {
        match self.file.metadata().ok().and_then(|m| sys::file_id(&m)) {
            Some(id) => Key::Id(id),
            None => Key::Path(self.path.clone()),
        }
    }
}

/// What identifies a job, so the same backup is never queued twice.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Id(sys::FileId),
    Path(PathBuf),
}

/// Jobs waiting or running, so that callers can wait until all are done.
#[derive(Default)]
struct Pending {
    keys: Mutex<HashSet<Key>>,
    idle: Condvar,
}

/// One compression thread per writer (per process), started on first use.
pub(crate) struct Compressor {
    sender: Mutex<Option<Sender<(Key, Backup)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pending: Arc<Pending>,
}

impl Compressor {
    pub fn new() -> Self {
        Compressor {
            sender: Mutex::new(None),
            thread: Mutex::new(None),
            pending: Arc::default(),
        }
    }

    /// Queue `backup` for compression (a backup already queued is not queued twice).
    pub fn submit(&self, owner: &Arc<dyn Owner>, backup: Backup) {
        let key = backup.key();
        if !lock(&self.pending.keys).insert(key.clone()) {
            return;
        }
        let mut sender = lock(&self.sender);
        if sender.is_none() {
            let (tx, rx) = crossbeam_channel::unbounded();
            let thread_owner = Arc::clone(owner);
            let pending = Arc::clone(&self.pending);
            let spawned = std::thread::Builder::new()
                .name("clh-gzip".into())
                .spawn(move || {
                    sys::block_signals_in_this_thread();
                    run(&*thread_owner, &rx, &pending)
                });
            match spawned {
                Ok(handle) => {
                    *lock(&self.thread) = Some(handle);
                    *sender = Some(tx);
                }
                Err(e) => {
                    // No thread: leave the backup uncompressed (a valid CLH name); a
                    // later rotation's recovery will hand it over again.
                    lock(&self.pending.keys).remove(&key);
                    owner.report(Error::io(Step::Compress, backup.path, e));
                    return;
                }
            }
        }
        if let Some(tx) = sender.as_ref() {
            let _ = tx.send((key, backup));
        }
    }

    /// Wait until every queued compression has finished, or `timeout` has passed
    /// (`None`: no limit). Returns whether all have finished.
    pub fn wait_idle(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut keys = lock(&self.pending.keys);
        while !keys.is_empty() {
            let left = match deadline {
                None => Duration::from_secs(3600),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
            };
            keys = self
                .pending
                .idle
                .wait_timeout(keys, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Drop for Compressor {
    /// Finish the queued compressions (waiting at most [`STALL_LIMIT`] for them), then
    /// stop the thread. A compression still running then is left to finish on its own,
    /// or, if the process ends first, to the next writer's recovery.
    fn drop(&mut self) {
        drop(lock(&self.sender).take());
        let idle = self.wait_idle(Some(STALL_LIMIT));
        if let Some(handle) = lock(&self.thread).take() {
            if idle {
                let _ = handle.join();
            }
        }
    }
}

impl Abandon for Compressor {
    /// The parent's thread does not exist in a child and its queue is the parent's
    /// business: nothing to release.
    fn abandon(&self) {}
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(owner: &dyn Owner, jobs: &Receiver<(Key, Backup)>, pending: &Pending) {
    for (key, backup) in jobs {
        if let Err(e) = compress(owner, backup) {
            owner.report(e);
        }
        let mut keys = lock(&pending.keys);
        keys.remove(&key);
        if keys.is_empty() {
            pending.idle.notify_all();
        }
    }
}

/// Compress one backup (steps 1-3 of the module docs).
fn compress(owner: &dyn Owner, backup: Backup) -> Result<()> {
    let Backup { path, file: input } = backup;
    let backup = path.as_path();
    if input.try_lock().is_err() {
        return Ok(()); // another process is compressing it
    }
    let meta = input.metadata().at(Step::Compress, backup)?;
    if sys::is_unlinked(&meta) {
        return Ok(()); // already compressed (or deleted by retention) meanwhile
    }
    let log = owner.log_path();
    let temp = paths::temp_path(log, parent_dir(log), Temp::Gzip);
    let result = write_gz(owner, &input, &meta, &temp).and_then(|out| {
        let finished = owner.finish(backup, sys::file_id(&meta), &temp);
        drop(out);
        finished
    });
    if result.is_err() {
        let _ = sys::remove_if_present(&temp);
    }
    result
}

/// Write the gzip of `input` (its first `meta.len()` bytes: a backup no longer
/// grows) to `temp` (held open and locked, returned to the caller).
fn write_gz(owner: &dyn Owner, input: &File, meta: &fs::Metadata, temp: &Path) -> Result<File> {
    let mut created = None;
    owner.with_lock(&mut || {
        let out = sys::create_new(temp, Access::ReadWrite, 0o600).at(Step::Compress, temp)?;
        out.try_lock().map_err(|e| {
            let e = match e {
                fs::TryLockError::Error(e) => e,
                fs::TryLockError::WouldBlock => io::ErrorKind::WouldBlock.into(),
            };
            Error::io(Step::Compress, temp, e)
        })?;
        created = Some(out);
        Ok(())
    })?;
    let out = created.expect("created under the lock");
    sys::copy_perms(meta, &out).at(Step::Compress, temp)?;
    let mut encoder = GzEncoder::new(&out, Compression::default());
    let mut reader = BufReader::with_capacity(256 * 1024, input).take(meta.len());
    io::copy(&mut reader, &mut encoder).at(Step::Compress, temp)?;
    encoder.finish().at(Step::Compress, temp)?;
    out.sync_all().at(Step::Compress, temp)?;
    Ok(out)
}

/// With the lock held: put a finished compression of `backup` into place.
pub(crate) fn install(current: Option<PathBuf>, compressed: &Path) -> Result<()> {
    match current {
        Some(plain) => {
            let gz = with_suffix(&plain, ".gz");
            fs::rename(compressed, &gz).at(Step::Compress, &gz)?;
            sys::remove_if_present(&plain).at(Step::Compress, &plain)
        }
        // Retention removed the backup meanwhile: its compression goes too.
        None => sys::remove_if_present(compressed).at(Step::Compress, compressed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn completeness_is_read_from_the_gzip_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("a.gz");
        let data = vec![7u8; 100_000];
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(&data).unwrap();
        let full = e.finish().unwrap();
        fs::write(&gz, &full).unwrap();
        assert!(is_complete(&gz, data.len() as u64));
        assert!(!is_complete(&gz, data.len() as u64 + 1));
        fs::write(&gz, &full[..full.len() - 9]).unwrap();
        assert!(!is_complete(&gz, data.len() as u64));
        fs::write(&gz, b"").unwrap();
        assert!(!is_complete(&gz, 0));
        assert!(!is_complete(&dir.path().join("missing.gz"), 0));
    }
}
