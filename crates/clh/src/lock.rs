//! The cross-process lock: an exclusive `flock` on CLH's lock file.

use crate::error::{Context, Result, Step};
use crate::sys::{self, Access, Perms};
use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How many times to retry a non-blocking lock before sleeping in the kernel. A
/// writer holds the lock for a few microseconds, so a short spin usually wins it
/// without the cost of being put to sleep and woken up.
const SPINS: u32 = 32;

/// An open lock file. Every process (and every fork) opens its own, so that each
/// has its own open file description and therefore its own `flock`.
#[derive(Debug)]
pub(crate) struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    /// Open (creating with `perms` if needed) the lock file at `path`.
    pub fn open(path: &Path, perms: &Perms) -> Result<Self> {
        let file = sys::open_or_create(path, Access::ReadWrite, perms).at(Step::OpenLock, path)?;
        Ok(LockFile {
            file,
            path: path.to_owned(),
        })
    }

    /// Block until this process holds the exclusive lock.
    pub fn lock(&self) -> Result<LockGuard<'_>> {
        for _ in 0..SPINS {
            match self.file.try_lock() {
                Ok(()) => return Ok(LockGuard { lock: self }),
                Err(TryLockError::WouldBlock) => std::thread::yield_now(),
                Err(TryLockError::Error(e)) => return Err(e).at(Step::Lock, &self.path),
            }
        }
        self.file.lock().at(Step::Lock, &self.path)?;
        Ok(LockGuard { lock: self })
    }

    /// Whether the file at the lock's path is still the one this handle has open (false
    /// if it was deleted, e.g. with its directory). Where identity is unknown, true.
    pub fn is_current(&self) -> bool {
        let on_disk = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(_) => return false,
        };
        match (
            sys::file_id(&on_disk),
            self.file.metadata().ok().and_then(|m| sys::file_id(&m)),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// The lock file's content (a timed log's next rollover time). Call with the lock held.
    pub fn read_content(&self) -> io::Result<String> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        let mut text = String::new();
        file.take(64).read_to_string(&mut text).or_else(|e| {
            // Garbage that is not UTF-8 is as good as no value.
            if e.kind() == io::ErrorKind::InvalidData {
                Ok(0)
            } else {
                Err(e)
            }
        })?;
        Ok(text)
    }

    /// Replace the lock file's content and sync it (CLH fsyncs it too). Call with the lock held.
    pub fn write_content(&self, text: &str) -> io::Result<()> {
        let mut file = &self.file;
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(text.as_bytes())?;
        file.sync_data()
    }

    /// The raw handle, to close it in a forked child.
    pub fn raw_handle(&self) -> i64 {
        sys::raw_handle(&self.file)
    }
}

/// Proof that the lock is held; releases it when dropped.
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    lock: &'a LockFile,
}

impl LockGuard<'_> {
    /// Release the lock, reporting a failure (the caller then closes the file, which
    /// releases the lock in any case, so a failed unlock can never leave it held).
    pub fn unlock(self) -> Result<()> {
        let result = self.lock.file.unlock().at(Step::Lock, &self.lock.path);
        std::mem::forget(self);
        result
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.file.unlock();
    }
}
