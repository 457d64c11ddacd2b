//! `Options`: every option of a writer, passed from Python as one object. It only
//! converts Python values into the core's types (an int that is negative or too large
//! for its Rust type is refused here, naming the option as Python spells it); every
//! default and every other check is the core's (`clh::Builder`, `clh::Schedule`,
//! `clh::QueueOptions`).

use crate::errors::{python_name, to_py};
use clh::{Builder, LogWriter, Overflow, QueueOptions, Schedule, Trace, When};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A writer's options (see `clh::Builder` for what each means).
#[pyclass(frozen, module = "concurrent_log_handler._clh")]
pub(crate) struct Options {
    max_bytes: u64,
    backup_count: u32,
    use_gzip: bool,
    lock_file_directory: Option<PathBuf>,
    chmod: Option<u32>,
    owner: Option<(u32, u32)>,
    umask: Option<u32>,
    keep_file_open: bool,
    debug: bool,
    header: Vec<u8>,
    schedule: Option<Schedule>,
    pub background: bool,
    pub queue: QueueOptions,
}

#[pymethods]
impl Options {
    #[new]
    #[pyo3(signature = (*, max_bytes=None, backup_count=None, use_gzip=false,
                        lock_file_directory=None, chmod=None, owner=None, umask=None,
                        keep_file_open=None, debug=false, header=None,
                        when=None, interval=None, utc=false, at_time=None, suffix=None,
                        background=false, queue_records=None, queue_bytes=None,
                        queue_overflow="block"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        max_bytes: Option<&Bound<'_, PyAny>>,
        backup_count: Option<&Bound<'_, PyAny>>,
        use_gzip: bool,
        lock_file_directory: Option<PathBuf>,
        chmod: Option<&Bound<'_, PyAny>>,
        owner: Option<(u32, u32)>,
        umask: Option<&Bound<'_, PyAny>>,
        keep_file_open: Option<bool>,
        debug: bool,
        header: Option<Vec<u8>>,
        when: Option<&str>,
        interval: Option<&Bound<'_, PyAny>>,
        utc: bool,
        at_time: Option<(i8, i8, i8)>,
        suffix: Option<String>,
        background: bool,
        queue_records: Option<&Bound<'_, PyAny>>,
        queue_bytes: Option<&Bound<'_, PyAny>>,
        queue_overflow: &str,
    ) -> PyResult<Self> {
        let mut queue = QueueOptions::default();
        queue.queue_records = int_or("queue_records", queue_records, queue.queue_records)?;
        queue.queue_bytes = int_or("queue_bytes", queue_bytes, queue.queue_bytes)?;
        queue.queue_overflow = queue_overflow.parse::<Overflow>().map_err(to_py)?;
        queue.check().map_err(to_py)?;
        let schedule = match when {
            None => None,
            Some(when) => {
                let interval = match interval {
                    Some(v) => int_at_least("interval", v, 1)?,
                    None => 1,
                };
                let mut schedule = Schedule::new(When::parse(when).map_err(to_py)?, interval)
                    .map_err(to_py)?
                    .utc(utc);
                if let Some((h, m, s)) = at_time {
                    let time = jiff::civil::Time::new(h, m, s, 0).map_err(|e| {
                        PyValueError::new_err(format!("invalid atTime {h}:{m}:{s}: {e}"))
                    })?;
                    schedule = schedule.at_time(time);
                }
                if let Some(suffix) = suffix {
                    schedule = schedule.with_suffix(suffix);
                }
                Some(schedule)
            }
        };
        Ok(Options {
            max_bytes: int_or("max_bytes", max_bytes, clh::DEFAULT_MAX_BYTES)?,
            backup_count: int_or("backup_count", backup_count, clh::DEFAULT_BACKUP_COUNT)?,
            use_gzip,
            lock_file_directory,
            chmod: chmod.map(|v| int("chmod", v)).transpose()?,
            owner,
            umask: umask.map(|v| int("umask", v)).transpose()?,
            keep_file_open: keep_file_open.unwrap_or(clh::DEFAULT_KEEP_FILE_OPEN),
            debug,
            header: header.unwrap_or_default(),
            schedule,
            background,
            queue,
        })
    }
}

impl Options {
    /// The core builder for the log at `path`, with every option set.
    pub fn builder(&self, path: &Path) -> Builder {
        let mut builder = LogWriter::builder(path)
            .max_bytes(self.max_bytes)
            .backup_count(self.backup_count)
            .use_gzip(self.use_gzip)
            .keep_file_open(self.keep_file_open)
            .header(self.header.clone());
        if let Some(dir) = &self.lock_file_directory {
            builder = builder.lock_file_directory(dir);
        }
        if let Some(mode) = self.chmod {
            builder = builder.chmod(mode);
        }
        if let Some((uid, gid)) = self.owner {
            builder = builder.owner(uid, gid);
        }
        if let Some(umask) = self.umask {
            builder = builder.umask(umask);
        }
        if let Some(schedule) = &self.schedule {
            builder = builder.schedule(schedule.clone());
        }
        if self.debug {
            builder = builder.trace(stdout_trace());
        }
        builder
    }
}

/// CLH's `debug=True`: trace lines on standard output (the process's own, written by
/// Rust: the sink is called under the lock, where Python must not run).
fn stdout_trace() -> Trace {
    Trace::to(|line: &str| {
        #[allow(clippy::print_stdout)] // the front end chose stdout, as CLH does
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    })
}

/// `value` as an integer option of Rust type `T`, or `default` when not given.
pub(crate) fn int_or<T: TryFrom<i128>>(
    option: &str,
    value: Option<&Bound<'_, PyAny>>,
    default: T,
) -> PyResult<T> {
    value.map_or(Ok(default), |v| int(option, v))
}

/// `value` as an integer option of Rust type `T`: a `TypeError` unless it is an int
/// (not a bool), a `ValueError` if it is negative or too large, naming the option as
/// Python spells it.
pub(crate) fn int<T: TryFrom<i128>>(option: &str, value: &Bound<'_, PyAny>) -> PyResult<T> {
    int_at_least(option, value, 0)
}

/// Like [`int`], with a lower bound other than 0.
fn int_at_least<T: TryFrom<i128>>(
    option: &str,
    value: &Bound<'_, PyAny>,
    min: i128,
) -> PyResult<T> {
    let name = python_name(option);
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int, got {}",
            value.repr()?
        )));
    }
    let n: i128 = value.extract().map_err(|_| {
        let shown = value.repr().map(|r| r.to_string()).unwrap_or_default();
        PyValueError::new_err(format!("{name} too large: {shown}"))
    })?;
    if n < min {
        return Err(PyValueError::new_err(format!(
            "{name} must be >= {min}, got {n}"
        )));
    }
    T::try_from(n).map_err(|_| PyValueError::new_err(format!("{name} too large: {n}")))
}
