//! The builder: every option, validated when the writer is opened.

use crate::error::{Context, Error, Result, Step};
use crate::paths::{lock_path_for, with_suffix, Namer};
use crate::rotation::parent_dir;
use crate::schedule::Schedule;
use crate::sys::{self, FileKind, Perms};
use crate::writer::LogWriter;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options for a [`LogWriter`]; start with [`LogWriter::builder`].
///
/// ```no_run
/// let writer = clh::LogWriter::builder("/var/log/app.log")
///     .max_bytes(10 * 1024 * 1024)
///     .backup_count(5)
///     .gzip(true)
///     .open()?;
/// writer.write(b"hello\n")?;
/// # Ok::<(), clh::Error>(())
/// ```
#[must_use = "a builder does nothing until `open` is called"]
pub struct Builder {
    pub(crate) path: PathBuf,
    pub(crate) max_bytes: u64,
    pub(crate) backup_count: u32,
    pub(crate) gzip: bool,
    pub(crate) lock_dir: Option<PathBuf>,
    pub(crate) perms: Perms,
    pub(crate) keep_file_open: bool,
    pub(crate) debug: bool,
    pub(crate) namer: Option<Namer>,
    pub(crate) header: Vec<u8>,
    pub(crate) schedule: Option<Schedule>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Builder {
    pub(crate) fn new(path: PathBuf) -> Self {
        Builder {
            path,
            max_bytes: 0,
            backup_count: 0,
            gzip: false,
            lock_dir: None,
            perms: Perms::default(),
            keep_file_open: true,
            debug: false,
            namer: None,
            header: Vec::new(),
            schedule: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Rotate once the log has reached this many bytes; 0 (the default) never rotates by size.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").max_bytes(1 << 20);
    /// ```
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How many numbered backups to keep (`app.log.1` newest). 0 (the default) truncates
    /// the log instead of rotating it, as CLH does.
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
    /// let b = clh::LogWriter::builder("app.log").gzip(true);
    /// ```
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// Put the lock file in this directory (created if missing) instead of beside the log.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").lock_dir("/run/lock/app");
    /// ```
    pub fn lock_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lock_dir = Some(dir.into());
        self
    }

    /// Exact permission bits for every file created (log, lock, backups), set before
    /// the file appears under its name. Unix only.
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").mode(0o640);
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
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

    /// Create files with mode `0o666 & !umask` (ignored when [`mode`](Self::mode) is set).
    /// Unlike CLH this never changes the process-wide umask. Unix only.
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

    /// Print lock-file and rotation traces to stdout (CLH's `debug=True`).
    ///
    /// ```
    /// let b = clh::LogWriter::builder("app.log").debug(true);
    /// ```
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Rename backups: `namer` maps the default name (`app.log.3`) to the one to use;
    /// `.gz` is appended after it. Every process sharing the log must use the same namer.
    ///
    /// ```
    /// use std::path::{Path, PathBuf};
    /// let b = clh::LogWriter::builder("app.log")
    ///     .namer(|p: &Path| PathBuf::from(format!("{}.old", p.display())));
    /// ```
    pub fn namer(mut self, namer: impl Fn(&Path) -> PathBuf + Send + Sync + 'static) -> Self {
        self.namer = Some(Namer::new(namer));
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

    /// Validate the options, create the lock directory if needed, open the lock file
    /// and return the writer. The log itself is opened at the first write.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join("clh-doc-open");
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let err = clh::LogWriter::builder(&dir).open().unwrap_err();
    /// assert!(err.to_string().contains("is a directory"));
    /// ```
    pub fn open(self) -> Result<LogWriter> {
        self.validate()?;
        let Builder {
            path,
            max_bytes,
            backup_count,
            gzip,
            lock_dir,
            perms,
            keep_file_open,
            debug,
            namer,
            header,
            schedule,
            clock,
        } = self;
        let path = std::path::absolute(&path).at(Step::Check, &path)?;
        let dir = parent_dir(&path).to_owned();
        check_dir(&dir)?;
        if let Some(lock_dir) = &lock_dir {
            fs::create_dir_all(lock_dir).at(Step::CreateDir, lock_dir)?;
            check_dir(lock_dir)?;
        }
        let lock_path = lock_path_for(&path, lock_dir.as_deref());
        check_name(&lock_path)?;
        check_name(&path)?;
        // The longest backup name this writer will make (before any namer).
        let gz = if gzip { ".gz" } else { "" };
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
            backup_count,
            gzip,
            perms,
            keep_file_open: keep_file_open && sys::CAN_KEEP_LOG_OPEN,
            debug,
            header,
            schedule,
            clock,
        };
        LogWriter::from_config(cfg, namer)
    }

    fn validate(&self) -> Result<()> {
        if let Some(schedule) = &self.schedule {
            schedule.check()?;
        }
        let p = &self.path;
        if p.as_os_str().is_empty() {
            return Err(Error::invalid("path", "\"\"", "is empty"));
        }
        for (option, path) in [("path", Some(p)), ("lock_dir", self.lock_dir.as_ref())] {
            if path.is_some_and(|p| p.as_os_str().as_encoded_bytes().contains(&0)) {
                let shown = format!("{:?}", path.expect("checked above"));
                return Err(Error::invalid(option, shown, "contains a NUL byte"));
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
        if let Some(mode) = self.perms.mode {
            if mode > 0o7777 {
                return Err(Error::invalid(
                    "mode",
                    format!("{mode:#o}"),
                    "must be at most 0o7777",
                ));
            }
        }
        if let Some(umask) = self.perms.umask {
            if umask > 0o777 {
                return Err(Error::invalid(
                    "umask",
                    format!("{umask:#o}"),
                    "must be at most 0o777",
                ));
            }
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

/// The resolved, immutable configuration a writer runs with.
pub(crate) struct Config {
    pub path: PathBuf,
    pub lock_path: PathBuf,
    pub max_bytes: u64,
    pub backup_count: u32,
    pub gzip: bool,
    pub perms: Perms,
    pub keep_file_open: bool,
    pub debug: bool,
    pub header: Vec<u8>,
    pub schedule: Option<Schedule>,
    pub clock: Arc<dyn Clock>,
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
