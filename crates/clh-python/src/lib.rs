//! `concurrent_log_handler._clh`: the native module behind the Python package.
//!
//! A thin layer: it converts arguments, releases the GIL around every call into the
//! core (which never needs it), turns core errors into `OSError`/`ValueError`, and
//! catches panics so that none crosses into Python.

use clh::{BackgroundWriter, Error, LogWriter, Namer, Overflow, QueueOptions, Schedule, When};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

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

const PANIC_MESSAGE: &str = "internal error in concurrent_log_handler (Rust panic)";

/// Run `f` without the GIL, turning a panic into `RuntimeError`.
fn call<T: Send>(py: Python<'_>, f: impl FnOnce() -> clh::Result<T> + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(result) => result.map_err(to_py),
        Err(_) => Err(PyRuntimeError::new_err(PANIC_MESSAGE)),
    }
}

/// Like [`call`], but hand back the core's error for the caller to inspect (a panic
/// still becomes an error, never an unwind into Python).
fn call_raw<T: Send>(py: Python<'_>, f: impl FnOnce() -> clh::Result<T> + Send) -> clh::Result<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .unwrap_or_else(|_| {
            Err(Error::Io {
                step: clh::Step::Write,
                path: PathBuf::from("<internal>"),
                source: std::io::Error::other(PANIC_MESSAGE),
            })
        })
}

fn non_negative(name: &str, value: i64) -> PyResult<u64> {
    u64::try_from(value)
        .map_err(|_| PyValueError::new_err(format!("{name} must be >= 0, got {value}")))
}

/// A writer appending records to one shared, rotating log file.
#[pyclass(frozen, module = "concurrent_log_handler._clh")]
struct Writer {
    inner: Arc<LogWriter>,
    /// Set while records go through a queue and a writer thread (`background=True`).
    /// The mutex is only held to clone or swap the `Arc`, never across a wait or a
    /// call that needs the GIL, so it cannot deadlock with the GIL.
    background: Mutex<Option<Arc<BackgroundWriter>>>,
}

fn queue_options(max_records: usize, max_bytes: usize, overflow: &str) -> PyResult<QueueOptions> {
    let overflow = match overflow {
        "block" => Overflow::Block,
        "drop" => Overflow::Drop,
        other => {
            return Err(PyValueError::new_err(format!(
                "queue overflow policy must be 'block' or 'drop', got {other:?}"
            )))
        }
    };
    Ok(QueueOptions {
        max_records,
        max_bytes,
        overflow,
    })
}

#[pymethods]
impl Writer {
    #[new]
    #[pyo3(signature = (path, *, max_bytes=0, backup_count=0, gzip=false, lock_dir=None,
                        mode=None, owner=None, umask=None, keep_file_open=true, debug=false,
                        header=None, when=None, interval=1, utc=false, at_time=None,
                        suffix=None, background=false, queue_records=10_000,
                        queue_bytes=8 << 20, overflow="block"))]
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
        background: bool,
        queue_records: usize,
        queue_bytes: usize,
        overflow: &str,
    ) -> PyResult<Self> {
        queue_options(queue_records, queue_bytes, overflow)?; // fail before opening anything
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
        let inner = Arc::new(call(py, move || builder.open())?);
        let writer = Writer {
            inner,
            background: Mutex::new(None),
        };
        if background {
            writer.set_background(py, true, queue_records, queue_bytes, overflow)?;
        }
        Ok(writer)
    }

    /// Append one record (bytes, terminator included): under the lock, or into the
    /// queue in background mode (without releasing the GIL unless it must wait).
    fn write(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        loop {
            let Some(bg) = self.background() else {
                return call(py, || self.inner.write(data));
            };
            let queued = match catch_unwind(AssertUnwindSafe(|| bg.try_write(data))) {
                Ok(Ok(true)) => Ok(()),
                Ok(Ok(false)) => call_raw(py, || bg.write(data)),
                Ok(Err(e)) => Err(e),
                Err(_) => return Err(PyRuntimeError::new_err(PANIC_MESSAGE)),
            };
            match queued {
                Ok(()) => return Ok(()),
                // Switched meanwhile: once what it holds is written, write in the new mode.
                Err(Error::Retired) => {
                    let _ = call_raw(py, || bg.flush());
                }
                Err(e) => return Err(to_py(e)),
            }
        }
    }

    /// Switch background mode on (with these queue bounds) or off (after writing what
    /// is queued).
    #[pyo3(signature = (enabled, queue_records=10_000, queue_bytes=8 << 20, overflow="block"))]
    fn set_background(
        &self,
        py: Python<'_>,
        enabled: bool,
        queue_records: usize,
        queue_bytes: usize,
        overflow: &str,
    ) -> PyResult<()> {
        let options = queue_options(queue_records, queue_bytes, overflow)?;
        let new = if enabled {
            let inner = Arc::clone(&self.inner);
            Some(Arc::new(call(py, move || {
                BackgroundWriter::new(inner, options)
            })?))
        } else {
            None
        };
        // Retire the old writer, drain it, and only then swap: a thread that still holds
        // it gets `Retired` and waits for the drain, and no record can be written in the
        // new mode before every record queued in the old one, so each thread's records
        // stay in order across the switch. The mutex is taken without the GIL.
        let old = self.background();
        let slot = &self.background;
        call(py, move || {
            let Some(old) = old else {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = new;
                return Ok(());
            };
            old.retire();
            let flushed = old.flush();
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = new;
            flushed.and(old.close())
        })
    }

    /// Whether records go through the background queue.
    #[getter]
    fn background_enabled(&self) -> bool {
        self.background().is_some()
    }

    /// Records dropped by the 'drop' overflow policy (this process).
    #[getter]
    fn dropped(&self) -> u64 {
        self.background().as_ref().map_or(0, |bg| bg.dropped())
    }

    /// Whether the log on disk is due for rotation by size.
    fn should_rotate(&self, py: Python<'_>) -> PyResult<bool> {
        call(py, || self.inner.should_rotate())
    }

    /// Rotate now (after writing what is queued).
    fn rotate(&self, py: Python<'_>) -> PyResult<()> {
        let background = self.background();
        call(py, || {
            if let Some(bg) = background.as_ref() {
                bg.flush()?;
            }
            self.inner.rotate()
        })
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

    /// Wait until queued records are written and pending compressions are done, and
    /// report errors met meanwhile.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let background = self.background();
        call(py, || {
            let flushed = background.as_ref().map_or(Ok(()), |bg| bg.flush());
            flushed.and(self.inner.wait_for_compression())
        })
    }

    /// Close the files; the next write reopens them.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let background = self.background();
        call(py, || match background.as_ref() {
            Some(bg) => bg.close(),
            None => self.inner.close(),
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

impl Writer {
    fn lock_background(&self) -> std::sync::MutexGuard<'_, Option<Arc<BackgroundWriter>>> {
        self.background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The background writer, if any (a clone: the mutex is released at once).
    fn background(&self) -> Option<Arc<BackgroundWriter>> {
        self.lock_background().clone()
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
