//! Unix side: `O_NOFOLLOW | O_NONBLOCK` opens checked with `fstat`, `O_APPEND` logs,
//! `link()`-based creation so a file appears under its final name with its final mode
//! and owner (set on the descriptor, never through a path), fork detection via
//! `pthread_atfork`, and signal masks for the library's threads.

use super::{Access, FileKind, Follow, Perms};
use std::ffi::CString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{fchown, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// The kind of a file that is neither regular, a directory nor a symbolic link.
pub(super) fn special_kind(t: &fs::FileType) -> FileKind {
    if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    }
}

/// The OS error number that best names `kind` for callers that keep errno (Python's
/// `OSError`): `ELOOP` for a link (what `O_NOFOLLOW` returns), `EISDIR`, else `ENXIO`
/// (what a non-blocking open of a FIFO without a reader returns).
pub(crate) fn errno_for(kind: FileKind) -> i32 {
    match kind {
        FileKind::Symlink => libc::ELOOP,
        FileKind::Directory => libc::EISDIR,
        _ => libc::ENXIO,
    }
}

/// The OS error number for a file name longer than the file system allows.
pub(crate) const ENAMETOOLONG: i32 = libc::ENAMETOOLONG;

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

/// Block every asynchronous signal in the calling thread (one of the library's own):
/// a signal meant for the application is then delivered to one of its threads, where
/// its handler can run (a Python handler runs only in the main thread, and only when
/// that thread's blocking call is interrupted), never to ours.
pub(crate) fn block_signals_in_this_thread() {
    // SAFETY: plain libc calls on a local, initialised signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        // Faults are delivered to the faulting thread whatever the mask: keep them
        // unblocked so that Rust's stack-overflow report still works.
        for sig in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
        ] {
            libc::sigdelset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn options(access: Access, follow: Follow) -> OpenOptions {
    let mut o = OpenOptions::new();
    match access {
        Access::Append => o.append(true),
        Access::ReadWrite => o.read(true).write(true),
        Access::ReadOnly => o.read(true),
    };
    let mut flags = libc::O_NONBLOCK;
    if follow == Follow::Never {
        flags |= libc::O_NOFOLLOW;
    }
    o.custom_flags(flags);
    o
}

/// Open the existing regular file at `path` without blocking, never through a
/// symbolic link unless `follow` allows it (then only to a regular file).
pub(crate) fn open_file(path: &Path, access: Access, follow: Follow) -> io::Result<File> {
    checked(path, options(access, follow).open(path))
}

/// Turn what an open returned into a regular file or a clear error: `ELOOP` from
/// `O_NOFOLLOW` and `ENXIO` from a non-blocking open of a FIFO or socket become
/// [`super::NotRegularFile`] naming what is there, and so does anything `fstat` shows
/// is not a regular file.
fn checked(path: &Path, opened: io::Result<File>) -> io::Result<File> {
    let file = match opened {
        Ok(file) => file,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {
            return Err(match fs::symlink_metadata(path) {
                Ok(md) if FileKind::of(&md) != FileKind::Regular => {
                    super::not_regular(FileKind::of(&md))
                }
                _ => e,
            });
        }
        Err(e) => return Err(e),
    };
    super::ensure_regular(&file.metadata()?)?;
    Ok(file)
}

/// Open `path`, creating it if missing so that it appears with `perms` from the start.
/// `temp` names a fresh hidden temporary in the same directory (for each attempt).
///
/// With no permission options this is a plain `open(O_CREAT)` (with `O_NOFOLLOW`
/// unless `follow` allows a link: `O_CREAT` then never creates a link's target).
/// Otherwise the file is built under a temporary name (`O_EXCL`, which never follows
/// a link), locked (so that recovery leaves it alone), given its owner and exact mode
/// through its descriptor, then `link()`ed to its final name, which fails rather than
/// replace a file another process created meanwhile (that one is then opened).
pub(crate) fn open_or_create(
    path: &Path,
    access: Access,
    follow: Follow,
    perms: &Perms,
    temp: &dyn Fn() -> PathBuf,
) -> io::Result<File> {
    if perms.is_default() {
        let opened = options(access, follow).create(true).mode(0o666).open(path);
        return checked(path, opened);
    }
    let create_mode = if perms.target_mode().is_some() {
        0o600
    } else {
        0o666
    };
    // A few rounds: the temporary may be removed by a recovery that saw it before we
    // locked it, or the final name may appear or vanish while we create it.
    let mut last_error = None;
    for _ in 0..8 {
        match open_file(path, access, follow) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let tmp = temp();
        let file = create_new(&tmp, access, create_mode)?;
        let placed = file
            .try_lock()
            .map_err(io::Error::from)
            .and_then(|()| apply_new(&file, perms))
            .and_then(|()| fs::hard_link(&tmp, path));
        let _ = fs::remove_file(&tmp);
        let _ = file.unlock();
        match placed {
            Ok(()) => return Ok(file),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::AlreadyExists | io::ErrorKind::NotFound
                ) =>
            {
                last_error = Some(e);
            }
            // A file system without hard links: create in place (`O_EXCL` never follows
            // a link), then set mode and owner on the descriptor.
            Err(_) => match create_new(path, access, 0o600) {
                Ok(file) => {
                    apply_new(&file, perms)?;
                    return Ok(file);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => return Err(e),
            },
        }
    }
    Err(last_error.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()))
}

/// Create a new file at `path` (`O_CREAT | O_EXCL`: never through a link, never an
/// existing file).
pub(crate) fn create_new(path: &Path, access: Access, mode: u32) -> io::Result<File> {
    let mut o = options(access, Follow::Never);
    if access == Access::ReadOnly {
        o.write(true); // creating needs a writable descriptor
    }
    o.create_new(true).mode(mode).open(path)
}

/// Give a file we just created its owner and exact mode, through its descriptor.
/// Changing the owner needs privileges: without them the file keeps ours, as with CLH.
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

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Fail with the OS's own error (`ENOENT`, `ENOTDIR`, `EACCES`) unless this process
/// may create files in `dir`.
pub(crate) fn check_dir_writable(dir: &Path) -> io::Result<()> {
    let c = c_path(dir)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The longest file name (in bytes) the file system holding `dir` accepts, if known.
pub(crate) fn name_max(dir: &Path) -> Option<usize> {
    let c = c_path(dir).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path.
    let max = unsafe { libc::pathconf(c.as_ptr(), libc::_PC_NAME_MAX) };
    usize::try_from(max).ok().filter(|&m| m > 0)
}

/// Whether the file behind `md` has no name left (deleted or renamed over).
pub(crate) fn is_unlinked(md: &Metadata) -> bool {
    md.nlink() == 0
}

/// Identity and size of the file at `path`, following links (the log path may be
/// one): what a writer checks before every write.
///
/// On Linux this asks `statx` for those fields alone. Asking for the change time too,
/// as `stat` does, makes Linux 6.13+ (multigrain timestamps) give the file's next
/// write a fine-grained change time, that is an inode update in that write: about
/// 1 µs a record on ext4 here (`stat` + `write` 2.9 µs, `statx` of the inode number
/// and size + `write` 2.1 µs). Elsewhere, and where `statx` is refused (kernels
/// before 4.11, seccomp filters), `stat`.
pub(crate) fn probe(path: &Path) -> io::Result<(Option<FileId>, u64)> {
    #[cfg(target_os = "linux")]
    if let Some(found) = statx::probe(path, libc::STATX_INO | libc::STATX_SIZE)? {
        return Ok((Some(FileId(found.dev, found.ino)), found.size));
    }
    let md = fs::metadata(path)?;
    Ok((file_id(&md), md.len()))
}

/// Whether `file` has no name left, asking for its link count alone (see [`probe`]).
pub(crate) fn is_unlinked_file(file: &File) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    if let Some(found) = statx::probe_fd(file, libc::STATX_NLINK)? {
        return Ok(found.nlink == 0);
    }
    Ok(is_unlinked(&file.metadata()?))
}

/// A change time: seconds and nanoseconds since the epoch.
pub(crate) type ChangeTime = (i64, u32);

/// Local file systems that give a directory a new change time whenever a name in it
/// changes, as POSIX asks (the only ones `name_watch.rs` trusts): ext2/3/4, XFS,
/// Btrfs, tmpfs, F2FS. Not NFS, SMB or FUSE, whose times come from a server and are
/// cached; not overlayfs, whose directories merge two others.
#[cfg(target_os = "linux")]
const HONEST_DIR_TIMES: [i64; 5] = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0xF2F5_2010];

/// `dir` kept open to read its change time ([`change_time`]), when it lives on one of
/// the file systems of [`HONEST_DIR_TIMES`]; `None` elsewhere (and off Linux). Opened
/// with `O_PATH`: a directory we may only search is watched too.
pub(crate) fn open_watched_dir(dir: &Path) -> io::Result<Option<File>> {
    #[cfg(target_os = "linux")]
    {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(dir)?;
        // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: the descriptor is open and `fs` a live, writable statfs.
        if unsafe { libc::fstatfs(file.as_raw_fd(), &mut fs) } != 0 {
            return Err(io::Error::last_os_error());
        }
        #[allow(clippy::unnecessary_cast)] // `f_type`'s type differs between targets
        let kind = fs.f_type as i64;
        Ok(HONEST_DIR_TIMES.contains(&kind).then_some(file))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// The change time of the directory `dir` (opened by [`open_watched_dir`]).
pub(crate) fn change_time(dir: &File) -> io::Result<ChangeTime> {
    #[cfg(target_os = "linux")]
    if let Some(found) = statx::probe_fd(dir, libc::STATX_CTIME)? {
        return Ok(found.ctime);
    }
    let md = dir.metadata()?;
    Ok((md.ctime(), md.ctime_nsec() as u32))
}

/// `statx` with a chosen mask, and the fallback when the system refuses it.
#[cfg(target_os = "linux")]
mod statx {
    use std::ffi::CStr;
    use std::fs::File;
    use std::io;
    use std::os::unix::io::AsRawFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set once `statx` failed with ENOSYS or EPERM: `stat` from then on.
    static REFUSED: AtomicBool = AtomicBool::new(false);

    /// The fields asked for (others are 0).
    pub(super) struct Found {
        pub dev: u64,
        pub ino: u64,
        pub size: u64,
        pub nlink: u32,
        pub ctime: super::ChangeTime,
    }

    /// `None`: `statx` is not available, or did not return every field of `mask`.
    pub(super) fn probe(path: &Path, mask: u32) -> io::Result<Option<Found>> {
        let c = super::c_path(path)?;
        call(libc::AT_FDCWD, &c, 0, mask)
    }

    pub(super) fn probe_fd(file: &File, mask: u32) -> io::Result<Option<Found>> {
        call(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH, mask)
    }

    fn call(
        dir: libc::c_int,
        path: &CStr,
        flags: libc::c_int,
        mask: u32,
    ) -> io::Result<Option<Found>> {
        if REFUSED.load(Ordering::Relaxed) {
            return Ok(None);
        }
        // SAFETY: an all-zero `statx` is a valid value of this plain C struct.
        let mut buf: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is NUL-terminated and `buf` a live, writable statx.
        let rc = unsafe { libc::statx(dir, path.as_ptr(), flags, mask, &mut buf) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOSYS | libc::EPERM) => {
                    REFUSED.store(true, Ordering::Relaxed);
                    Ok(None)
                }
                _ => Err(e),
            };
        }
        if buf.stx_mask & mask != mask {
            return Ok(None);
        }
        Ok(Some(Found {
            // As std's `Metadata::dev()` makes it from `statx`, so both compare equal.
            dev: libc::makedev(buf.stx_dev_major, buf.stx_dev_minor),
            ino: buf.stx_ino,
            size: buf.stx_size,
            nlink: buf.stx_nlink,
            ctime: (buf.stx_ctime.tv_sec, buf.stx_ctime.tv_nsec),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The cheap probes must agree with `fstat`: a writer compares the probe's identity
    /// with the one it took from its open file, and a mismatch reopens the log for
    /// every record (or worse, a false match writes into a rotated file).
    #[test]
    fn probes_agree_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"12345").unwrap();
        let md = file.metadata().unwrap();
        assert_eq!(probe(&path).unwrap(), (file_id(&md), 5));
        assert!(!is_unlinked_file(&file).unwrap());
        let other = dir.path().join("b.log");
        fs::write(&other, b"").unwrap();
        assert_ne!(probe(&other).unwrap().0, file_id(&md));
        fs::remove_file(&path).unwrap();
        assert!(is_unlinked_file(&file).unwrap());
        assert_eq!(probe(&path).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
