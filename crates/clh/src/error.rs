//! The crate's one error type: every failure names the file and the step.

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
    /// The background writer thread met an error with a batch; reported to the next
    /// caller. The batch's records were written unless the failed step is writing.
    #[error("background writer thread, batch of {records} record(s) (written unless the failed step is writing): {source}")]
    Background {
        /// How many records the failed batch held.
        records: usize,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// The background writer was retired (replaced): write through its replacement.
    #[error("this background writer was retired: write through the one that replaced it")]
    Retired,
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
            Error::InvalidOption { .. } | Error::Retired => None,
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
            Error::Io { path, .. } => Some(path),
            Error::Background { source, .. } => source.path(),
            Error::InvalidOption { .. } | Error::Retired => None,
        }
    }

    pub(crate) fn io(step: Step, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            step,
            path: path.into(),
            source,
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

/// Attach a step and a path to an `io::Result`.
pub(crate) trait Context<T> {
    fn at(self, step: Step, path: &Path) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn at(self, step: Step, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(step, path, e))
    }
}
