//! Unix side: `O_APPEND` logs, `link()`-based creation so a file appears under its
//! final name with its final mode and owner, and fork detection via `pthread_atfork`.

use super::{Access, Perms};
use std::ffi::CString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{fchown, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Identity of a file: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId(u64, u64);

/// Identity of the file behind `md`.
pub(crate) fn file_id(md: &Metadata) -> Option<FileId> {
    Some(FileId(md.dev(), md.ino()))
}

/// Unix can tell whether a path still names an open file, so the log may stay open.
pub(crate) const CAN_KEEP_LOG_OPEN: bool = true;

/// The raw descriptor of `file`, kept to close inherited files in a forked child.
pub(crate) fn raw_handle(file: &File) -> i64 {
    i64::from(file.as_raw_fd())
}

/// Close a descriptor inherited through `fork()` without touching its lock: an
/// explicit unlock would release the parent's lock, a plain close does not.
pub(crate) fn close_inherited(handle: i64) {
    // SAFETY: the descriptor was inherited by this process and the `File` that owned
    // it in the parent is leaked in the child, so nothing else will close it.
    unsafe {
        libc::close(handle as RawFd);
    }
}

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER_ATFORK: Once = Once::new();

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// A number that changes in the child after every `fork()`: no system call needed.
pub(crate) fn fork_generation() -> u64 {
    REGISTER_ATFORK.call_once(|| {
        // SAFETY: registering a handler that only touches an atomic is async-signal-safe.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

fn options(access: Access) -> OpenOptions {
    let mut o = OpenOptions::new();
    match access {
        Access::Append => o.append(true),
        Access::ReadWrite => o.read(true).write(true),
        Access::CreateNew => o.write(true).create_new(true),
    };
    o
}

/// Open `path`, creating it if missing so that it appears with `perms` from the start.
///
/// With no permission options this is a plain `open(O_CREAT)`. Otherwise the file is
/// built under a hidden temporary name, given its mode and owner, then `link()`ed to
/// its final name, which fails rather than replace a file another process created in
/// the meantime (that one is then opened instead).
pub(crate) fn open_or_create(path: &Path, access: Access, perms: &Perms) -> io::Result<File> {
    if access == Access::CreateNew {
        let file = options(access).mode(0o600).open(path)?;
        apply_new(&file, perms)?;
        return Ok(file);
    }
    if perms.is_default() {
        return options(access).create(true).mode(0o666).open(path);
    }
    match options(access).open(path) {
        Ok(file) => return Ok(file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let tmp = temp_sibling(path);
    let file = options(access)
        .create_new(true)
        .mode(if perms.target_mode().is_some() {
            0o600
        } else {
            0o666
        })
        .open(&tmp)?;
    let placed = apply_new(&file, perms).and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match placed {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => options(access).open(path),
        // Filesystems without hard links: create in place, then fix mode and owner.
        Err(_) => {
            let file = options(access).create(true).mode(0o600).open(path)?;
            apply_new(&file, perms)?;
            Ok(file)
        }
    }
}

/// Give a file we just created its owner and exact mode. Changing the owner needs
/// privileges: without them the file keeps ours, as with CLH.
fn apply_new(file: &File, perms: &Perms) -> io::Result<()> {
    if let Some((uid, gid)) = perms.owner {
        match fchown(file, Some(uid), Some(gid)) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => other?,
        }
    }
    if let Some(mode) = perms.target_mode() {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Give `to` the mode and (if we may) the owner of the file described by `from`.
pub(crate) fn copy_perms(from: &Metadata, to: &File) -> io::Result<()> {
    let perms = Perms {
        mode: Some(from.mode() & 0o7777),
        owner: Some((from.uid(), from.gid())),
        umask: None,
    };
    apply_new(to, &perms)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_sibling(path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}{}-{}", super::temp_prefix(path), std::process::id(), n);
    path.with_file_name(name)
}

/// Fail with the OS's own error (`ENOENT`, `ENOTDIR`, `EACCES`) unless this process
/// may create files in `dir`.
pub(crate) fn check_dir_writable(dir: &Path) -> io::Result<()> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the file behind `md` has no name left (deleted or renamed over).
pub(crate) fn is_unlinked(md: &Metadata) -> bool {
    md.nlink() == 0
}
