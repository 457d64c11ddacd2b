//! Windows side: minimal and untested (this project cannot build for Windows here).
//! Files are opened with `FILE_SHARE_DELETE` so rotation can rename them while other
//! processes hold them open; permission options are ignored. A reparse point (link)
//! is refused by the file-type check after opening, not by the open itself.

use super::{Access, FileKind, Follow, Perms};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, RawHandle as WinHandle};
use std::path::{Path, PathBuf};

const FILE_SHARE_READ_WRITE_DELETE: u32 = 0x1 | 0x2 | 0x4;
/// `FILE_FLAG_OPEN_REPARSE_POINT`: open a link itself rather than its target.
const OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// Identity of a file: not available on stable std for Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId;

/// Windows cannot tell (with stable std) whether a path still names an open file.
pub(crate) fn file_id(_md: &Metadata) -> Option<FileId> {
    None
}

/// The log is reopened for every record on Windows.
pub(crate) const CAN_KEEP_LOG_OPEN: bool = false;

pub(super) fn special_kind(_t: &fs::FileType) -> FileKind {
    FileKind::Other
}

/// Error numbers as the C runtime spells them (Python maps them to `OSError`s).
pub(crate) fn errno_for(kind: FileKind) -> i32 {
    match kind {
        FileKind::Directory => 21, // EISDIR
        _ => 22,                   // EINVAL
    }
}

/// `ENAMETOOLONG` in the C runtime.
pub(crate) const ENAMETOOLONG: i32 = 38;

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

/// Signals do not reach threads on Windows: nothing to block.
pub(crate) fn block_signals_in_this_thread() {}

fn options(access: Access, follow: Follow) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.share_mode(FILE_SHARE_READ_WRITE_DELETE);
    if follow == Follow::Never {
        o.custom_flags(OPEN_REPARSE_POINT);
    }
    match access {
        // LockFileEx refuses append-only handles: read as well.
        Access::Append => o.read(true).append(true),
        Access::ReadWrite => o.read(true).write(true),
        Access::ReadOnly => o.read(true),
    };
    o
}

fn checked(opened: io::Result<File>) -> io::Result<File> {
    let file = opened?;
    super::ensure_regular(&file.metadata()?)?;
    Ok(file)
}

/// Open the existing regular file at `path`.
pub(crate) fn open_file(path: &Path, access: Access, follow: Follow) -> io::Result<File> {
    checked(options(access, follow).open(path))
}

/// Open `path`, creating it if missing. Permission options are ignored on Windows.
pub(crate) fn open_or_create(
    path: &Path,
    access: Access,
    follow: Follow,
    _perms: &Perms,
    _temp: &dyn Fn() -> PathBuf,
) -> io::Result<File> {
    checked(options(access, follow).create(true).open(path))
}

/// Create a new file at `path`.
pub(crate) fn create_new(path: &Path, access: Access, _mode: u32) -> io::Result<File> {
    let mut o = options(access, Follow::Never);
    o.write(true).create_new(true);
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

/// NTFS allows 255 UTF-16 units per name; not queried.
pub(crate) fn name_max(_dir: &Path) -> Option<usize> {
    None
}

/// Whether the file behind `md` has no name left (not known on Windows).
pub(crate) fn is_unlinked(_md: &Metadata) -> bool {
    false
}

/// Identity (not known on Windows) and size of the file at `path`.
pub(crate) fn probe(path: &Path) -> io::Result<(Option<FileId>, u64)> {
    let md = fs::metadata(path)?;
    Ok((file_id(&md), md.len()))
}

/// Whether `file` has no name left (not known on Windows).
pub(crate) fn is_unlinked_file(file: &File) -> io::Result<bool> {
    Ok(is_unlinked(&file.metadata()?))
}

/// A change time: seconds and nanoseconds since the epoch.
pub(crate) type ChangeTime = (i64, u32);

/// Directories are not watched on Windows (see `name_watch.rs`): every record checks
/// the log path in full.
pub(crate) fn open_watched_dir(_dir: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

/// Never called: no directory is watched on Windows.
pub(crate) fn change_time(_dir: &File) -> io::Result<ChangeTime> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
