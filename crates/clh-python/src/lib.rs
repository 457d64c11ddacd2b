//! `concurrent_log_handler._clh`: the native module behind the Python package.
//!
//! A thin layer: it converts arguments, releases the GIL around every call into the
//! core (which never needs it), turns core errors into `OSError`/`ValueError`, and
//! catches panics so that none crosses into Python.

use clh::{Error, LogWriter, Namer, Schedule, When};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Convert a core error into the Python exception `logging` handlers expect.
fn to_py(err: Error) -> PyErr {
    match &err {
        Error::InvalidOption { .. } => PyValueError::new_err(err.to_string()),
        _ => {
            let errno = err.io_error().and_then(|e| e.raw_os_error()).unwrap_or(0);
            let filename = err.path().map(|p| p.display().to_string());
            // OSError(errno, strerror, filename) picks the subclass (FileNotFoundError, …).
            PyOSError::new_err((errno, err.to_string(), filename))
        }
    }
}

/// Run `f` without the GIL, turning a panic into `RuntimeError`.
fn call<T: Send>(py: Python<'_>, f: impl FnOnce() -> clh::Result<T> + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(result) => result.map_err(to_py),
        Err(_) => Err(PyRuntimeError::new_err(
            "internal error in concurrent_log_handler (Rust panic)",
        )),
    }
}

fn non_negative(name: &str, value: i64) -> PyResult<u64> {
    u64::try_from(value)
        .map_err(|_| PyValueError::new_err(format!("{name} must be >= 0, got {value}")))
}

/// A writer appending records to one shared, rotating log file.
#[pyclass(frozen, module = "concurrent_log_handler._clh")]
struct Writer {
    inner: LogWriter,
}

#[pymethods]
impl Writer {
    #[new]
    #[pyo3(signature = (path, *, max_bytes=0, backup_count=0, gzip=false, lock_dir=None,
                        mode=None, owner=None, umask=None, keep_file_open=true, debug=false,
                        header=None, when=None, interval=1, utc=false, at_time=None,
                        suffix=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        max_bytes: i64,
        backup_count: i64,
        gzip: bool,
        lock_dir: Option<PathBuf>,
        mode: Option<u32>,
        owner: Option<(u32, u32)>,
        umask: Option<u32>,
        keep_file_open: bool,
        debug: bool,
        header: Option<Vec<u8>>,
        when: Option<String>,
        interval: i64,
        utc: bool,
        at_time: Option<(i8, i8, i8)>,
        suffix: Option<String>,
    ) -> PyResult<Self> {
        let max_bytes = non_negative("maxBytes", max_bytes)?;
        let backup_count = non_negative("backupCount", backup_count)?;
        let backup_count = u32::try_from(backup_count)
            .map_err(|_| PyValueError::new_err(format!("backupCount too large: {backup_count}")))?;
        let mut builder = LogWriter::builder(path)
            .max_bytes(max_bytes)
            .backup_count(backup_count)
            .gzip(gzip)
            .keep_file_open(keep_file_open)
            .debug(debug)
            .header(header.unwrap_or_default());
        if let Some(dir) = lock_dir {
            builder = builder.lock_dir(dir);
        }
        if let Some(mode) = mode {
            builder = builder.mode(mode);
        }
        if let Some((uid, gid)) = owner {
            builder = builder.owner(uid, gid);
        }
        if let Some(umask) = umask {
            builder = builder.umask(umask);
        }
        if let Some(when) = when {
            let interval = u32::try_from(interval)
                .ok()
                .filter(|i| *i >= 1)
                .ok_or_else(|| {
                    PyValueError::new_err(format!("interval must be >= 1, got {interval}"))
                })?;
            let mut schedule = Schedule::new(When::parse(&when).map_err(to_py)?, interval)
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
            builder = builder.schedule(schedule);
        }
        let inner = call(py, move || builder.open())?;
        Ok(Writer { inner })
    }

    /// Append one record (bytes, terminator included) under the lock.
    fn write(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        call(py, || self.inner.write(data))
    }

    /// Whether the log on disk is due for rotation by size.
    fn should_rotate(&self, py: Python<'_>) -> PyResult<bool> {
        call(py, || self.inner.should_rotate())
    }

    /// Rotate now.
    fn rotate(&self, py: Python<'_>) -> PyResult<()> {
        call(py, || self.inner.rotate())
    }

    /// Set backup names: a mapping from default name (`app.log.3`) to the name to use,
    /// or None for the defaults.
    fn set_backup_names(&self, names: Option<HashMap<PathBuf, PathBuf>>) {
        let namer: Option<Namer> = names.map(|table| {
            let table = Arc::new(table);
            Arc::new(move |p: &std::path::Path| {
                table.get(p).cloned().unwrap_or_else(|| p.to_owned())
            }) as Namer
        });
        self.inner.set_namer(namer);
    }

    /// Set a Python callable as the namer (called with the GIL, only while rotating),
    /// or None for the default names.
    fn set_namer(&self, namer: Option<Py<PyAny>>) {
        let namer: Option<Namer> = namer.map(|f| {
            Arc::new(move |p: &Path| -> PathBuf {
                Python::attach(|py| {
                    match f
                        .call1(py, (p.as_os_str(),))
                        .and_then(|r| r.extract::<PathBuf>(py))
                    {
                        Ok(named) => named,
                        Err(e) => {
                            // A broken namer must not lose the rotation: use the default name.
                            e.print(py);
                            p.to_owned()
                        }
                    }
                })
            }) as Namer
        });
        self.inner.set_namer(namer);
    }

    /// The next rollover time (epoch seconds) shared through the lock file, once known.
    #[getter]
    fn next_rollover(&self) -> Option<i64> {
        self.inner.next_rollover().map(|t| t.as_second())
    }

    /// Wait until pending compressions are done (and report their errors).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        call(py, || self.inner.wait_for_compression())
    }

    /// Close the files; the next write reopens them.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        call(py, || self.inner.close())
    }

    /// Rotations this writer carried out.
    #[getter]
    fn rollovers(&self) -> u64 {
        self.inner.rollovers()
    }

    /// The log's absolute path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_owned()
    }

    /// The lock file's path.
    #[getter]
    fn lock_path(&self) -> PathBuf {
        self.inner.lock_path().to_owned()
    }
}

/// CLH's lock file name for a log path.
#[pyfunction]
#[pyo3(signature = (path, lock_dir=None))]
fn lock_path_for(path: PathBuf, lock_dir: Option<PathBuf>) -> PathBuf {
    clh::lock_path_for(&path, lock_dir.as_deref())
}

#[pymodule]
fn _clh(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Writer>()?;
    m.add_function(wrap_pyfunction!(lock_path_for, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
