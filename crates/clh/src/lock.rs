//! The cross-process lock: an exclusive `flock` on CLH's lock file.
//!
//! The lock file is opened the safe way (never through a symbolic link, only a
//! regular file, without blocking), read-write, or read-only when this process may
//! not write it (another user's `0644` lock file: `flock` works on a read-only
//! descriptor; only a timed log's stored rollover time then cannot be updated).
//!
//! A lock protects only those who lock the same file. Someone may delete the lock
//! file while writers run (a cleanup job), and a writer started afterwards creates and
//! locks a new one while older writers go on locking the deleted one. So after taking
//! the lock a writer checks that its file still has a name ([`LockFile::still_linked`],
//! one `fstat`, or the directory's change time: `name_watch.rs`), and before rotating that it is the file at the lock path
//! ([`LockFile::is_at_path`], one `stat`: catches a lock file renamed away too); if
//! not, it lets go, reopens the path and locks again. Between two records written
//! under two different lock files nothing is lost (each is one `O_APPEND` write); a
//! rotation is what must never run under a stale lock.

use crate::error::{Context, Error, Result, Step};
use crate::sys::{self, Access, FileId, Follow, Perms};
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
    id: Option<FileId>,
    writable: bool,
}

impl LockFile {
    /// Open (creating with `perms` if needed) the lock file at `path`; `temp` names a
    /// fresh temporary beside it for the creation.
    pub fn open(path: &Path, perms: &Perms, temp: &dyn Fn() -> PathBuf) -> Result<Self> {
        let opened = sys::open_or_create(path, Access::ReadWrite, Follow::Never, perms, temp);
        let (file, writable) = match opened {
            Ok(file) => (file, true),
            Err(e) if is_permission_error(&e) => {
                match sys::open_file(path, Access::ReadOnly, Follow::Never) {
                    Ok(file) => (file, false),
                    Err(_) => return Err(e).at(Step::OpenLock, path),
                }
            }
            Err(e) => return Err(e).at(Step::OpenLock, path),
        };
        let id = file
            .metadata()
            .at(Step::OpenLock, path)
            .map(|m| sys::file_id(&m))?;
        Ok(LockFile {
            file,
            path: path.to_owned(),
            id,
            writable,
        })
    }

    /// Block until this process holds the exclusive lock, or until a signal interrupts
    /// the wait ([`Error::Interrupted`]: the caller decides whether to wait again).
    pub fn lock(&self) -> Result<LockGuard<'_>> {
        for _ in 0..SPINS {
            match self.file.try_lock() {
                Ok(()) => return Ok(LockGuard { lock: self }),
                Err(TryLockError::WouldBlock) => std::thread::yield_now(),
                Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(TryLockError::Error(e)) => return Err(e).at(Step::Lock, &self.path),
            }
        }
        match self.file.lock() {
            Ok(()) => Ok(LockGuard { lock: self }),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(Error::Interrupted),
            Err(e) => Err(e).at(Step::Lock, &self.path),
        }
    }

    /// Whether the file we lock still has a name (one `fstat`, checked under every
    /// lock): false once it was deleted, or replaced by a file renamed over it.
    pub fn still_linked(&self) -> bool {
        sys::is_unlinked_file(&self.file).is_ok_and(|unlinked| !unlinked)
    }

    /// Whether the file at the lock's path is the one this handle has open (one `stat`
    /// of the path, checked before every rotation): also false when the lock file was
    /// renamed away, or on NFS, where deleting a file that is open on the same client
    /// only renames it. Where identity is unknown, or the path cannot be checked for
    /// another reason than its absence, true.
    pub fn is_at_path(&self) -> bool {
        match std::fs::symlink_metadata(&self.path) {
            Ok(on_disk) => match (sys::file_id(&on_disk), self.id) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            },
            Err(e) => e.kind() != io::ErrorKind::NotFound,
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

    /// Replace the lock file's content and sync it (CLH fsyncs it too). Call with the
    /// lock held. Returns false, storing nothing, when the file is read-only to us.
    pub fn write_content(&self, text: &str) -> io::Result<bool> {
        if !self.writable {
            return Ok(false);
        }
        let mut file = &self.file;
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        Ok(true)
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl sys::HasHandle for LockFile {
    fn raw_handle(&self) -> i64 {
        sys::raw_handle(&self.file)
    }
}

/// An open that failed only because this process may not write the file.
fn is_permission_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied || e.kind() == io::ErrorKind::ReadOnlyFilesystem
}

/// Proof that the lock is held; releases it when dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
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
