//! The crate's one error type: every failure names the file and the step.

use crate::sys::{self, FileKind, NotRegularFile};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The step of the protocol that failed, reported with the file it failed on.
///
/// ```
/// assert_eq!(clh::Step::Rotate.to_string(), "rotating");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Creating or opening the lock file.
    OpenLock,
    /// Taking or releasing the cross-process lock.
    Lock,
    /// Opening or creating the log file.
    OpenLog,
    /// Reading the size and identity of the log file.
    Stat,
    /// Appending a record.
    Write,
    /// Renaming the log away and shifting the backups.
    Rotate,
    /// Reading or storing a timed log's next rollover time in the lock file.
    Schedule,
    /// Removing backups beyond the backup count.
    Retention,
    /// Compressing a rotated file.
    Compress,
    /// Finishing a rotation that a killed process left half done.
    Recover,
    /// Truncating the log (`backup_count == 0`).
    Truncate,
    /// Creating the lock file directory.
    CreateDir,
    /// Checking the log's directory at construction.
    Check,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::OpenLock => "opening the lock file",
            Step::Lock => "locking",
            Step::OpenLog => "opening the log",
            Step::Stat => "checking the log",
            Step::Write => "writing",
            Step::Rotate => "rotating",
            Step::Schedule => "reading or storing the next rollover time",
            Step::Retention => "removing old backups",
            Step::Compress => "compressing",
            Step::Recover => "recovering an interrupted rotation",
            Step::Truncate => "truncating the log",
            Step::CreateDir => "creating the directory",
            Step::Check => "checking",
        })
    }
}

/// Everything that can go wrong, with context.
///
/// ```
/// let err = clh::LogWriter::builder("/no/such/dir/app.log").open().unwrap_err();
/// assert!(err.to_string().contains("/no/such/dir"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option was out of range or inconsistent; caught when the writer is built.
    #[error("invalid {option} {value}: {reason}")]
    InvalidOption {
        /// The option's name, as the builder method spells it.
        option: &'static str,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The background writer thread could not write queued records (they are kept in
    /// memory and retried: `waiting` is how many wait, `lost` how many the overflow
    /// policy dropped meanwhile), or met another error (rotation, compression) after
    /// writing them. Reported to a later caller, at most once per reporting interval
    /// while a failure lasts.
    #[error("background writer thread: {waiting} record(s) waiting, {lost} record(s) not written: {source}")]
    Background {
        /// Records queued in memory, not yet written.
        waiting: usize,
        /// Records dropped by the overflow policy since the last report.
        lost: u64,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// The background writer was retired (replaced): write through its replacement.
    #[error("this background writer was retired: write through the one that replaced it")]
    Retired,
    /// A signal interrupted the wait for the cross-process lock before anything was
    /// written (only from [`LogWriter::interruptible`](crate::LogWriter::interruptible)):
    /// run the signal handlers, then call again.
    #[error("interrupted by a signal while waiting for the lock (nothing was written)")]
    Interrupted,
    /// A backup's name is not known yet (a deferred [`Namer`](crate::Namer) learns it
    /// outside the lock): the rotation was postponed and nothing was renamed.
    #[error("the name for backup {} is not known yet: rotation postponed", default.display())]
    NamePending {
        /// The default name waiting for the namer's answer.
        default: PathBuf,
    },
    /// A file of the log's set is a symbolic link, FIFO, device or directory: it is
    /// never followed, opened or changed.
    #[error("{step} failed for {}: it is {kind}, not a regular file (never followed or opened)", path.display())]
    NotRegular {
        /// What the writer was doing.
        step: Step,
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: FileKind,
    },
    /// A file name of the log's set is longer than the file system allows.
    #[error("file name too long: {} is {len} bytes, over this file system's limit of {max} bytes per name (NAME_MAX)", path.display())]
    NameTooLong {
        /// The file whose name is too long.
        path: PathBuf,
        /// Its file name's length in bytes.
        len: usize,
        /// The file system's limit.
        max: usize,
    },
    /// An I/O failure, with the step and the file it happened on.
    #[error("{step} failed for {}: {source}", path.display())]
    Io {
        /// What the writer was doing.
        step: Step,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The underlying OS error, if this is an I/O failure.
    ///
    /// ```
    /// let err = clh::LogWriter::builder("/no/such/dir/app.log").open().unwrap_err();
    /// assert!(err.io_error().is_some());
    /// ```
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Background { source, .. } => source.io_error(),
            _ => None,
        }
    }

    /// The OS error number that describes this error, for front ends that keep errno
    /// (Python's `OSError`): the OS's own, or `ELOOP` for a symbolic link, `EISDIR`
    /// for a directory, `ENXIO` for another special file, `ENAMETOOLONG`, `EINTR`.
    ///
    /// ```
    /// let err = clh::LogWriter::builder("/no/such/dir/app.log").open().unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(2)); // ENOENT
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Background { source, .. } => source.raw_os_error(),
            Error::NotRegular { kind, .. } => Some(sys::errno_for(*kind)),
            Error::NameTooLong { .. } => Some(sys::ENAMETOOLONG),
            Error::Interrupted => Some(4), // EINTR, the same number everywhere
            _ => None,
        }
    }

    /// The file the error happened on, if any.
    ///
    /// ```
    /// let err = clh::LogWriter::builder("/no/such/dir/app.log").open().unwrap_err();
    /// assert!(err.path().is_some());
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::NotRegular { path, .. }
            | Error::NameTooLong { path, .. } => Some(path),
            Error::NamePending { default } => Some(default),
            Error::Background { source, .. } => source.path(),
            _ => None,
        }
    }

    /// A copy, to report one failure to several callers (an OS error keeps its
    /// number, any other inner error its kind and message).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::InvalidOption {
                option,
                value,
                reason,
            } => Error::InvalidOption {
                option,
                value: value.clone(),
                reason: reason.clone(),
            },
            Error::Background {
                waiting,
                lost,
                source,
            } => Error::Background {
                waiting: *waiting,
                lost: *lost,
                source: Box::new(source.duplicate()),
            },
            Error::Retired => Error::Retired,
            Error::Interrupted => Error::Interrupted,
            Error::NamePending { default } => Error::NamePending {
                default: default.clone(),
            },
            Error::NotRegular { step, path, kind } => Error::NotRegular {
                step: *step,
                path: path.clone(),
                kind: *kind,
            },
            Error::NameTooLong { path, len, max } => Error::NameTooLong {
                path: path.clone(),
                len: *len,
                max: *max,
            },
            Error::Io { step, path, source } => Error::Io {
                step: *step,
                path: path.clone(),
                source: match source.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(source.kind(), source.to_string()),
                },
            },
        }
    }

    /// An I/O failure of `step` on `path`; a file found not to be a regular file
    /// becomes [`Error::NotRegular`].
    pub(crate) fn io(step: Step, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        let not_regular = source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<NotRegularFile>())
            .map(|NotRegularFile(kind)| *kind);
        match not_regular {
            Some(kind) => Error::NotRegular { step, path, kind },
            None => Error::Io { step, path, source },
        }
    }

    pub(crate) fn invalid(
        option: &'static str,
        value: impl ToString,
        reason: impl ToString,
    ) -> Self {
        Error::InvalidOption {
            option,
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The first of the errors met besides the one a call returns (a failed recovery,
/// rotation, or rollover-time store while a record is written): reported after it.
#[derive(Debug, Default)]
pub(crate) struct Notes(Option<Error>);

impl Notes {
    pub fn note(&mut self, error: Error) {
        self.0.get_or_insert(error);
    }

    /// `value`, or the first noted error.
    pub fn after<T>(self, value: T) -> Result<T> {
        self.0.map_or(Ok(value), Err)
    }
}

/// Attach a step and a path to an `io::Result`.
pub(crate) trait Context<T> {
    fn at(self, step: Step, path: &Path) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn at(self, step: Step, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(step, path, e))
    }
}
