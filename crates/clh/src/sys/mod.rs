//! Platform specifics behind one interface: opening files the safe way, creating them
//! with the requested permissions, file identity, name limits, fork detection and
//! keeping signals off the library's own threads.
//!
//! Safe opening ([`open_file`]): every file of a log's set except the log itself (the
//! lock file, backups, `.gz` files, temporaries) is opened without following a
//! symbolic link, without blocking (a FIFO planted under a backup's name would block
//! `open()` forever, and the caller may hold the cross-process lock), and is refused
//! unless it is a regular file; the error ([`NotRegularFile`]) names what it is.
//! The log path may be a symbolic link (as with the stdlib's `FileHandler`), but what
//! it leads to must be a regular file too.
//!
//! Files a process keeps open between calls are [`Kept`]: their raw handles are also
//! [`Published`] outside the mutex that guards them, for a forked child to close.
//!
//! `unix.rs` is the tested side. `windows.rs` is deliberately minimal and untested:
//! std's `File::lock` is `LockFileEx` there, files are opened with `FILE_SHARE_DELETE`
//! so a rotation can rename a file that other processes hold open, and the log is
//! reopened for every record because std cannot yet tell whether a path still names
//! the file a handle refers to.

#[cfg(unix)]
#[path = "unix.rs"]
mod imp;
#[cfg(windows)]
#[path = "windows.rs"]
mod imp;

pub(crate) use imp::*;

use std::fmt;
use std::fs::{self, Metadata};
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Mode, owner and umask to give every file the library creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Perms {
    /// Exact permission bits (`chmod`), applied before the file gets its final name.
    pub mode: Option<u32>,
    /// `(uid, gid)` to give new files.
    pub owner: Option<(u32, u32)>,
    /// Bits to clear from `0o666` when no `mode` is given.
    pub umask: Option<u32>,
}

#[cfg_attr(not(unix), allow(dead_code))] // permissions are a Unix matter
impl Perms {
    /// Whether files can simply be created with the process defaults.
    pub fn is_default(&self) -> bool {
        *self == Perms::default()
    }

    /// The exact mode to set on a new file, if one is requested.
    pub fn target_mode(&self) -> Option<u32> {
        self.mode.or(self.umask.map(|u| 0o666 & !u))
    }
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The log: appends only (plus read on Windows, where locking needs it).
    Append,
    /// The lock file: read and write, never truncated.
    ReadWrite,
    /// Reading only (a lock file another user owns, a backup to compress).
    ReadOnly,
}

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Never (lock file, backups, temporaries): a link is refused, not followed.
    Never,
    /// Yes, to a regular file (the log path, as the stdlib's `FileHandler` allows).
    ToRegular,
}

/// What a path names, for files that are not regular.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (never followed for the lock file, backups and temporaries).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device (such as `/dev/zero`).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The kind of file `md` describes (`symlink_metadata` keeps links as links).
    pub(crate) fn of(md: &Metadata) -> FileKind {
        let t = md.file_type();
        if t.is_file() {
            FileKind::Regular
        } else if t.is_dir() {
            FileKind::Directory
        } else if t.is_symlink() {
            FileKind::Symlink
        } else {
            special_kind(&t)
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

/// The payload of the `io::Error` returned when a file of the set is not a regular
/// file; [`crate::Error`] turns it into its own variant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotRegularFile(pub FileKind);

impl fmt::Display for NotRegularFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "it is {}, not a regular file", self.0)
    }
}

impl std::error::Error for NotRegularFile {}

/// An `io::Error` saying a file is `kind`, not a regular file.
pub(crate) fn not_regular(kind: FileKind) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, NotRegularFile(kind))
}

/// Fail with [`NotRegularFile`] unless `md` describes a regular file.
pub(crate) fn ensure_regular(md: &Metadata) -> io::Result<()> {
    match FileKind::of(md) {
        FileKind::Regular => Ok(()),
        kind => Err(not_regular(kind)),
    }
}

/// Remove the file at `path` if it is there (unlinking never follows a link).
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Something that owns an open file.
pub(crate) trait HasHandle {
    /// The file's raw handle (a descriptor on Unix).
    fn raw_handle(&self) -> i64;
}

impl HasHandle for fs::File {
    fn raw_handle(&self) -> i64 {
        raw_handle(self)
    }
}

const NO_HANDLE: i64 = -1;

/// The raw handle of a file a process keeps open, published outside the mutex that
/// guards the file: a forked child closes it through this (never unlocking: closing an
/// inherited descriptor leaves the parent's `flock` alone), even when the fork caught
/// another thread, which does not exist in the child, holding that mutex.
#[derive(Debug)]
pub(crate) struct Published(AtomicI64);

impl Default for Published {
    fn default() -> Self {
        Published(AtomicI64::new(NO_HANDLE))
    }
}

impl Published {
    /// In a forked child: close the published handle, if any.
    pub fn close_inherited(&self) {
        let handle = self.0.swap(NO_HANDLE, Ordering::AcqRel);
        if handle != NO_HANDLE {
            close_inherited(handle);
        }
    }
}

/// `T`, which owns an open file, kept open with its raw handle published (see
/// [`Published`]) for as long as it lives: the handle is published when it is made and
/// withdrawn when it is dropped, so the two never disagree.
#[derive(Debug)]
pub(crate) struct Kept<T: HasHandle> {
    value: T,
    published: Arc<Published>,
}

impl<T: HasHandle> Kept<T> {
    pub fn new(value: T, published: &Arc<Published>) -> Self {
        published.0.store(value.raw_handle(), Ordering::Release);
        Kept {
            value,
            published: Arc::clone(published),
        }
    }
}

impl<T: HasHandle> Deref for Kept<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: HasHandle> DerefMut for Kept<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: HasHandle> Drop for Kept<T> {
    fn drop(&mut self) {
        self.published.0.store(NO_HANDLE, Ordering::Release);
    }
}
