//! `concurrent_log_handler._clh`: the native module behind the Python package.
//!
//! A thin layer: it converts arguments, releases the GIL around every call into the
//! core (which never needs it), turns core errors into `OSError`/`ValueError`, and
//! catches panics so that none crosses into Python.

use clh::{Error, LogWriter, Namer};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
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
                        header=None))]
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

    /// Close the files; the next write reopens them.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        call(py, || {
            self.inner.close();
            Ok(())
        })
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
