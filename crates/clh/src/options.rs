//! The builder: every option of a writer, its default, and its validation, in one place.
//! Front ends (the Python binding, the command line) set options here and nowhere
//! else; `Builder::into_config` checks them all and resolves them into the `Config` a
//! writer runs with.

use crate::error::{Context, Error, Result, Step};
use crate::paths::{lock_path_for, parent_dir, with_suffix, Namer};
use crate::schedule::Schedule;
use crate::sys::{self, FileKind, Perms};
use crate::trace::Trace;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// Default of [`Builder::max_bytes`]: never rotate by size.
pub const DEFAULT_MAX_BYTES: u64 = 0;
/// Default of [`Builder::backup_count`]: CLH's, truncate instead of keeping backups.
pub const DEFAULT_BACKUP_COUNT: u32 = 0;
/// Default of [`Builder::keep_file_open`].
pub const DEFAULT_KEEP_FILE_OPEN: bool = true;

/// Options for a [`LogWriter`](crate::LogWriter); start with
/// [`LogWriter::builder`](crate::LogWriter::builder), end with
/// [`open`](crate::Builder::open). Option names are those of CLH 0.9.31's Python
/// handler, in snake case (`maxBytes` is `max_bytes`), everywhere: here, in the Python
/// binding and in the docs.
///
/// ```no_run
/// let writer = clh::LogWriter::builder("/var/log/app.log")
///     .max_bytes(10 * 1024 * 1024)
///     .backup_count(5)
///     .use_gzip(true)
///     .open()?;
/// writer.write(b"hello\n")?;
/// # Ok::<(), clh::Error>(())
/// ```
#[must_use = "a builder does nothing until `open` is called"]
pub struct Builder {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    use_gzip: bool,
    lock_file_directory: Option<PathBuf>,
    perms: Perms,
    keep_file_open: bool,
    trace: Trace,
    namer: Option<Namer>,
    header: Vec<u8>,
    schedule: Option<Schedule>,
    clock: Arc<dyn Clock>,
}

impl Builder {
    pub(crate) fn new(path: PathBuf) -> Self {
        Builder {
            path,
            max_bytes: DEFAULT_MAX_BYTES,
            backup_count: DEFAULT_BACKUP_COUNT,
            use_gzip: false,
            lock_file_directory: None,
            perms: Perms::default(),
            keep_file_open: DEFAULT_KEEP_FILE_OPEN,
            trace: Trace::default(),
            namer: None,
            header: Vec::new(),
            schedule: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Rotate once the log has reached this many bytes; 0 (the default) never rotates by
    /// size. Can be changed later ([`LogWriter::set_max_bytes`](crate::LogWriter::set_max_bytes)).
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").max_bytes(1 << 20);
    /// ```
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How many backups to keep (`app.log.1` newest). 0 (the default) truncates the log
    /// instead of rotating it, as CLH does (with a schedule: keeps every backup).
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").backup_count(7);
    /// ```
    pub fn backup_count(mut self, backup_count: u32) -> Self {
        self.backup_count = backup_count;
        self
    }

    /// Gzip rotated files (`app.log.1.gz`).
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").use_gzip(true);
    /// ```
    pub fn use_gzip(mut self, use_gzip: bool) -> Self {
        self.use_gzip = use_gzip;
        self
    }

    /// Put the lock file in this directory (created if missing) instead of beside the log.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").lock_file_directory("/run/lock/app");
    /// ```
    pub fn lock_file_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lock_file_directory = Some(dir.into());
        self
    }

    /// Exact permission bits for every file created (log, lock, backups), set before
    /// the file appears under its name. Unix only.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").chmod(0o640);
    /// ```
    pub fn chmod(mut self, mode: u32) -> Self {
        self.perms.mode = Some(mode);
        self
    }

    /// Owner `(uid, gid)` for every file created (needs the privilege to chown). Unix only.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").owner(0, 0);
    /// ```
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.perms.owner = Some((uid, gid));
        self
    }

    /// Create files with mode `0o666 & !umask` (ignored when [`chmod`](Self::chmod) is
    /// set). Unlike CLH this never changes the process-wide umask. Unix only.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").umask(0o027);
    /// ```
    pub fn umask(mut self, umask: u32) -> Self {
        self.perms.umask = Some(umask);
        self
    }

    /// Keep the log and lock file open between records (the default). With `false`
    /// both are opened and closed for every record, as CLH's `keep_file_open=False`.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").keep_file_open(false);
    /// ```
    pub fn keep_file_open(mut self, keep: bool) -> Self {
        self.keep_file_open = keep;
        self
    }

    /// Send lock, rotation and recovery traces to this sink (CLH's `debug=True`).
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").trace(clh::Trace::to(|l| eprintln!("{l}")));
    /// ```
    pub fn trace(mut self, trace: Trace) -> Self {
        self.trace = trace;
        self
    }

    /// Rename backups (see [`Namer`]): the default name (`app.log.3`) in, the name to
    /// use out; `.gz` is appended after it. Every process sharing the log must use the
    /// same namer.
    ///
    /// ```
    /// use std::path::{Path, PathBuf};
    /// let b = clh::LogWriter::builder("app.log")
    ///     .namer(clh::Namer::new(|p: &Path| PathBuf::from(format!("{}.old", p.display()))));
    /// ```
    pub fn namer(mut self, namer: Namer) -> Self {
        self.namer = Some(namer);
        self
    }

    /// Bytes that start every new log file, written with its first record (for example
    /// a byte-order mark, so that a UTF-16 log has exactly one, at the start).
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").header(b"\xff\xfe".to_vec());
    /// ```
    pub fn header(mut self, header: Vec<u8>) -> Self {
        self.header = header;
        self
    }

    /// Also rotate by time, on this schedule (size and time combine: whichever comes
    /// first). Rotated files are then named after their period
    /// (`app.log.2026-11-26`, plus `.1`, `.2`… for size rotations within a period),
    /// the next rollover time is shared through the lock file as CLH's timed handler
    /// does, and `backup_count` keeps the newest that many (0: all).
    ///
    /// ```
    /// let daily = clh::Schedule::new(clh::When::Midnight, 1).unwrap();
    /// let b = clh::LogWriter::builder("app.log").schedule(daily).backup_count(30);
    /// ```
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Read the time from this clock instead of the system's (for tests).
    ///
    /// ```
    /// struct Fixed;
    /// impl clh::Clock for Fixed {
    ///     fn now(&self) -> jiff::Timestamp { jiff::Timestamp::from_second(1_800_000_000).unwrap() }
    /// }
    /// let b = clh::LogWriter::builder("app.log").clock(Fixed);
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Check every option, create the lock directory if needed, and resolve the
    /// options into what a writer runs with. Taking the builder apart field by field
    /// makes a field added here and forgotten there a compile error.
    pub(crate) fn into_config(self) -> Result<(Config, Option<Namer>)> {
        self.validate()?;
        let Builder {
            path,
            max_bytes,
            backup_count,
            use_gzip,
            lock_file_directory,
            perms,
            keep_file_open,
            trace,
            namer,
            header,
            schedule,
            clock,
        } = self;
        let path = std::path::absolute(&path).at(Step::Check, &path)?;
        check_dir(parent_dir(&path))?;
        if let Some(dir) = &lock_file_directory {
            fs::create_dir_all(dir).at(Step::CreateDir, dir)?;
            check_dir(dir)?;
        }
        let lock_path = lock_path_for(&path, lock_file_directory.as_deref());
        check_name(&lock_path)?;
        check_name(&path)?;
        // The longest backup name this writer will make (before any namer).
        let gz = if use_gzip { ".gz" } else { "" };
        let longest_backup = match &schedule {
            Some(s) => Some(format!(".{}{gz}", s.format(clock.now()))),
            None if backup_count > 0 => Some(format!(".{backup_count}{gz}")),
            None => None,
        };
        if let Some(suffix) = longest_backup {
            check_name(&with_suffix(&path, &suffix))?;
        }
        let cfg = Config {
            path,
            lock_path,
            max_bytes,
            backup_count: AtomicU32::new(backup_count),
            use_gzip: AtomicBool::new(use_gzip),
            perms,
            keep_file_open: keep_file_open && sys::CAN_KEEP_LOG_OPEN,
            trace,
            header,
            schedule,
            clock,
        };
        Ok((cfg, namer))
    }

    fn validate(&self) -> Result<()> {
        if let Some(schedule) = &self.schedule {
            schedule.check()?;
        }
        let p = &self.path;
        if p.as_os_str().is_empty() {
            return Err(Error::invalid("path", "\"\"", "is empty"));
        }
        let paths = [
            ("path", Some(p)),
            ("lock_file_directory", self.lock_file_directory.as_ref()),
        ];
        for (option, path) in paths {
            if let Some(path) = path.filter(|p| p.as_os_str().as_encoded_bytes().contains(&0)) {
                return Err(Error::invalid(
                    option,
                    format!("{path:?}"),
                    "contains a NUL byte",
                ));
            }
        }
        if p.file_name().is_none() || p.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(Error::invalid("path", p.display(), "does not name a file"));
        }
        // The log path may be a link, but to a regular file (or to nothing yet).
        if let Ok(meta) = fs::metadata(p) {
            let kind = FileKind::of(&meta);
            if kind != FileKind::Regular {
                return Err(Error::NotRegular {
                    step: Step::Check,
                    path: p.clone(),
                    kind,
                });
            }
        }
        if let Some(mode) = self.perms.mode.filter(|&m| m > 0o7777) {
            return Err(Error::invalid(
                "chmod",
                format!("{mode:#o}"),
                "must be at most 0o7777",
            ));
        }
        if let Some(umask) = self.perms.umask.filter(|&u| u > 0o777) {
            return Err(Error::invalid(
                "umask",
                format!("{umask:#o}"),
                "must be at most 0o777",
            ));
        }
        Ok(())
    }
}

fn check_dir(dir: &Path) -> Result<()> {
    sys::check_dir_writable(dir).at(Step::Check, dir)
}

/// Fail with [`Error::NameTooLong`] if `path`'s file name is longer than its
/// directory's file system allows.
fn check_name(path: &Path) -> Result<()> {
    let len = path.file_name().map_or(0, |n| n.len());
    match sys::name_max(parent_dir(path)) {
        Some(max) if len > max => Err(Error::NameTooLong {
            path: path.to_owned(),
            len,
            max,
        }),
        _ => Ok(()),
    }
}

/// The resolved configuration a writer runs with. `backup_count` and `use_gzip` (and
/// the size trigger's limit) may change after the writer is opened, as CLH reads them
/// at every check: they are read once per rotation.
pub(crate) struct Config {
    pub path: PathBuf,
    pub lock_path: PathBuf,
    /// The initial size limit (the size trigger owns the current one).
    pub max_bytes: u64,
    pub backup_count: AtomicU32,
    pub use_gzip: AtomicBool,
    pub perms: Perms,
    pub keep_file_open: bool,
    pub trace: Trace,
    pub header: Vec<u8>,
    pub schedule: Option<Schedule>,
    pub clock: Arc<dyn Clock>,
}

impl Config {
    pub fn backup_count(&self) -> u32 {
        self.backup_count.load(Ordering::Relaxed)
    }

    pub fn use_gzip(&self) -> bool {
        self.use_gzip.load(Ordering::Relaxed)
    }
}

/// Where a writer reads the time (injectable, so tests need not sleep through hours).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> jiff::Timestamp;
}

/// The system's real-time clock.
///
/// ```
/// use clh::Clock;
/// assert!(clh::SystemClock.now().as_second() > 946_684_800);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}
