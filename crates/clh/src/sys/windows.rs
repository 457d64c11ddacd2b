//! Windows side: minimal and untested (this project cannot build for Windows here).
//! Files are opened with `FILE_SHARE_DELETE` so rotation can rename them while other
//! processes hold them open; permission options are ignored.

use super::{Access, Perms};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, RawHandle as WinHandle};
use std::path::Path;

const FILE_SHARE_READ_WRITE_DELETE: u32 = 0x1 | 0x2 | 0x4;

/// Identity of a file: not available on stable std for Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId;

/// Windows cannot tell (with stable std) whether a path still names an open file.
pub(crate) fn file_id(_md: &Metadata) -> Option<FileId> {
    None
}

/// The log is reopened for every record on Windows.
pub(crate) const CAN_KEEP_LOG_OPEN: bool = false;

/// The raw handle of `file` (unused: Windows has no fork).
pub(crate) fn raw_handle(file: &File) -> i64 {
    let h: WinHandle = file.as_raw_handle();
    h as i64
}

/// No fork on Windows: nothing is ever inherited this way.
pub(crate) fn close_inherited(_handle: i64) {}

/// No fork on Windows.
pub(crate) fn fork_generation() -> u64 {
    0
}

/// Open `path`, creating it if missing. Permission options are ignored on Windows.
pub(crate) fn open_or_create(path: &Path, access: Access, _perms: &Perms) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.share_mode(FILE_SHARE_READ_WRITE_DELETE);
    match access {
        // LockFileEx refuses append-only handles: read as well.
        Access::Append => o.read(true).append(true).create(true),
        Access::ReadWrite => o.read(true).write(true).create(true),
        Access::CreateNew => o.write(true).create_new(true),
    };
    o.open(path)
}

/// Permissions are not managed on Windows.
pub(crate) fn copy_perms(_from: &Metadata, _to: &File) -> io::Result<()> {
    Ok(())
}

/// Fail unless `dir` is a directory (writability is not checked on Windows).
pub(crate) fn check_dir_writable(dir: &Path) -> io::Result<()> {
    if std::fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ))
    }
}

/// Whether the file behind `md` has no name left (not known on Windows).
pub(crate) fn is_unlinked(_md: &Metadata) -> bool {
    false
}
