//! Platform specifics behind one interface: opening and creating files with the
//! requested permissions, file identity, and fork detection.
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

use std::path::Path;

/// Prefix of the hidden temporary names used while creating `path`: `.app.log.tmp-`.
pub(crate) fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

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
    /// A new temporary file (compressed backups): write only, must not exist yet.
    CreateNew,
}
