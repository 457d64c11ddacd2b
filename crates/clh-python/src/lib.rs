//! `concurrent_log_handler._clh`: the native module behind the Python package.
//!
//! A thin layer: it converts arguments, releases the GIL around every call into the
//! core (which never needs it), turns core errors into `OSError`/`ValueError`, and
//! catches panics so that none crosses into Python.
//!
//! Rules that keep the interpreter from ever hanging on us:
//! * nothing waits with the GIL held: a Rust mutex is only `try_lock`ed with it, and
//!   taken after releasing the GIL when another thread has it;
//! * waits are interruptible as PEP 475 wants: a signal that interrupts the wait for
//!   the cross-process lock makes the core return before writing anything, the
//!   pending Python signal handlers run (an exception they raise propagates), and the
//!   call is made again; a wait for room in a full background queue is cut into
//!   slices with the handlers run in between;
//! * Python is never called while the cross-process lock is held: a Python `namer` is
//!   asked for names outside the lock, by the thread that logs, and the core postpones
//!   a rotation whose names it does not know yet (see [`NameCache`]).

use clh::{BackgroundWriter, Error, LogWriter, Namer, Overflow, QueueOptions, Schedule, When};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a caller blocked on a full background queue waits before it runs the
/// pending signal handlers and waits again.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// How many rounds of namer answers a rotation may need (dated names are parsed,
/// then the new backup is named): more means the namer keeps changing its answers.
const NAME_ROUNDS: usize = 4;

/// Convert a core error into the Python exception `logging` handlers expect.
fn to_py(err: Error) -> PyErr {
    match &err {
        Error::InvalidOption { .. } => PyValueError::new_err(err.to_string()),
        _ => {
            let errno = err.raw_os_error().unwrap_or(0);
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
    /// A Python namer's answers, when one is set on a timed log.
    names: Mutex<Option<Arc<NameCache>>>,
}

/// A Python namer, asked outside the cross-process lock. The core's namer (called
/// under the lock, without the GIL) only looks names up here; a name not known yet is
/// recorded as wanted and the rotation is postponed. The thread that logs next (in
/// Python, holding no lock) asks the namer for the wanted names, and the next write
/// rotates. A namer that raises, or returns something that is not a path, is reported
/// and its default name used.
struct NameCache {
    func: Py<PyAny>,
    known: Mutex<HashMap<PathBuf, PathBuf>>,
    wanted: Mutex<Vec<PathBuf>>,
    any_wanted: AtomicBool,
}

/// Forget answers beyond this many (they are asked again when needed).
const MAX_KNOWN_NAMES: usize = 100_000;

impl NameCache {
    fn lookup(&self, default: &Path) -> Option<PathBuf> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = known.get(default) {
            return Some(name.clone());
        }
        drop(known);
        let mut wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        if !wanted.iter().any(|w| w == default) {
            wanted.push(default.to_owned());
        }
        self.any_wanted.store(true, Ordering::Release);
        None
    }

    /// Ask the Python namer for every wanted name (with the GIL, holding no lock).
    fn resolve(&self, py: Python<'_>) {
        if !self.any_wanted.swap(false, Ordering::AcqRel) {
            return;
        }
        let wanted = py.detach(|| {
            std::mem::take(&mut *self.wanted.lock().unwrap_or_else(PoisonError::into_inner))
        });
        let answers: Vec<(PathBuf, PathBuf)> = wanted
            .into_iter()
            .map(|default| {
                let named = self
                    .func
                    .call1(py, (default.as_os_str(),))
                    .and_then(|r| r.extract::<PathBuf>(py));
                let named = match named {
                    Ok(named) => named,
                    Err(e) => {
                        // A broken namer must not stop rotation: use the default name.
                        e.print(py);
                        default.clone()
                    }
                };
                (default, named)
            })
            .collect();
        py.detach(|| {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if known.len() + answers.len() > MAX_KNOWN_NAMES {
                known.clear();
            }
            known.extend(answers);
        });
    }
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
    for (name, value) in [("queue_records", max_records), ("queue_bytes", max_bytes)] {
        if value == 0 {
            return Err(PyValueError::new_err(format!("{name} must be >= 1, got 0")));
        }
    }
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
        let interval = match u32::try_from(interval) {
            Ok(i) if i >= 1 => i,
            _ if interval < 1 => {
                return Err(PyValueError::new_err(format!(
                    "interval must be >= 1, got {interval}"
                )))
            }
            _ => {
                return Err(PyValueError::new_err(format!(
                    "interval {interval} is too large"
                )))
            }
        };
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
            names: Mutex::new(None),
        };
        if background {
            writer.set_background(py, true, queue_records, queue_bytes, overflow)?;
        }
        Ok(writer)
    }

    /// Append one record (bytes, terminator included): under the lock, or into the
    /// queue in background mode (without releasing the GIL unless it must wait).
    fn write(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let written = self.write_once(py, data);
        self.resolve_names(py);
        written
    }

    /// Switch background mode on (with these queue bounds) or off    /// Switch background mode on (with these queue bounds) or off (after writing what
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
        let old = self.background(py);
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
    fn background_enabled(&self, py: Python<'_>) -> bool {
        self.background(py).is_some()
    }

    /// Records dropped by the 'drop' overflow policy (this process).
    #[getter]
    fn dropped(&self, py: Python<'_>) -> u64 {
        let background = self.background(py);
        py.detach(|| background.as_ref().map_or(0, |bg| bg.dropped()))
    }

    /// Whether the log on disk is due for rotation by size.
    fn should_rotate(&self, py: Python<'_>) -> PyResult<bool> {
        self.interruptible(py, || self.inner.interruptible().should_rotate())?
            .map_err(to_py)
    }

    /// Rotate now (after writing what is queued). With a Python namer, the names it
    /// has not given yet are asked for (outside the lock) and the rotation retried.
    fn rotate(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(bg) = self.background(py) {
            call(py, || bg.flush())?;
        }
        self.interruptible(py, || self.inner.interruptible().rotate())?
            .map_err(to_py)
    }

    /// Set backup names: a mapping from default name (`app.log.3`) to the name to use,
    /// or None for the defaults.
    fn set_backup_names(&self, py: Python<'_>, names: Option<HashMap<PathBuf, PathBuf>>) {
        let namer: Option<Namer> = names.map(|table| {
            let table = Arc::new(table);
            Namer::new(move |p: &std::path::Path| {
                table.get(p).cloned().unwrap_or_else(|| p.to_owned())
            })
        });
        py.detach(|| self.inner.set_namer(namer));
    }

    /// Set a Python callable as the namer (asked outside the lock, by the thread that
    /// logs: see [`NameCache`]), or None for the default names.
    fn set_namer(&self, py: Python<'_>, namer: Option<Py<PyAny>>) {
        let cache = namer.map(|func| {
            Arc::new(NameCache {
                func,
                known: Mutex::new(HashMap::new()),
                wanted: Mutex::new(Vec::new()),
                any_wanted: AtomicBool::new(false),
            })
        });
        let core_namer = cache
            .clone()
            .map(|cache| Namer::deferred(move |default: &Path| cache.lookup(default)));
        py.detach(|| {
            *self.names.lock().unwrap_or_else(PoisonError::into_inner) = cache;
        });
        py.detach(|| self.inner.set_namer(core_namer));
    }

    /// The next rollover time (epoch seconds) shared through the lock file, once known.
    #[getter]
    fn next_rollover(&self, py: Python<'_>) -> Option<i64> {
        // The per-process state's mutex may be held by a writer waiting for the lock.
        py.detach(|| self.inner.next_rollover().map(|t| t.as_second()))
    }

    /// Wait until queued records are written and pending compressions are done (at
    /// most `clh::STALL_LIMIT` for either when no progress is made), and report errors
    /// met meanwhile.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let background = self.background(py);
        let flushed = call(py, || {
            let flushed = background.as_ref().map_or(Ok(()), |bg| bg.flush());
            let compressed = self.inner.wait_for_compression_within(clh::STALL_LIMIT);
            flushed.and(compressed.map(|_| ()))
        });
        self.resolve_names(py);
        flushed
    }

    /// Close the files; the next write reopens them.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let background = self.background(py);
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
    fn write_once(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        loop {
            let Some(bg) = self.background(py) else {
                return match self.interruptible(py, || self.inner.interruptible().write(data))? {
                    // The namer keeps changing its answers: write now, rotate later.
                    Err(Error::NamePending { .. }) => call(py, || self.inner.write(data)),
                    other => other.map_err(to_py),
                };
            };
            // Queue without releasing the GIL when that needs no waiting at all.
            let queued = match catch_unwind(AssertUnwindSafe(|| bg.try_write(data))) {
                Ok(Ok(true)) => Ok(()),
                Ok(Ok(false)) => queue_waiting(py, &bg, data)?,
                Ok(Err(e)) => Err(e),
                Err(_) => return Err(PyRuntimeError::new_err(PANIC_MESSAGE)),
            };
            match queued {
                // Switched meanwhile: once what it holds is written, write in the new mode.
                Err(Error::Retired) => {
                    let _ = call_raw(py, || bg.flush());
                }
                other => return other.map_err(to_py),
            }
        }
    }

    /// The background writer, if any (a clone: the mutex is released at once, and
    /// taken without the GIL if another thread holds it).
    fn background(&self, py: Python<'_>) -> Option<Arc<BackgroundWriter>> {
        clone_without_waiting(py, &self.background)
    }

    /// Run `f` (a call of the core's interruptible view) without the GIL until it is
    /// not interrupted: after a signal interrupted its wait for the lock, run the
    /// signal handlers (PEP 475: an exception they raise propagates); after it found a
    /// backup name the Python namer has not given yet, ask the namer and call again
    /// (at most [`NAME_ROUNDS`] times: then the `NamePending` error is returned).
    /// Nothing was written by an interrupted call, so calling again is safe.
    fn interruptible<T: Send>(
        &self,
        py: Python<'_>,
        f: impl Fn() -> clh::Result<T> + Sync,
    ) -> PyResult<clh::Result<T>> {
        let mut rounds = 0;
        loop {
            match call_raw(py, &f) {
                Err(Error::Interrupted) => py.check_signals()?,
                Err(Error::NamePending { .. }) if rounds < NAME_ROUNDS => {
                    rounds += 1;
                    self.resolve_names(py);
                }
                other => return Ok(other),
            }
        }
    }

    /// Ask a Python namer for the names the core is waiting for (no lock is held).
    fn resolve_names(&self, py: Python<'_>) {
        if let Some(cache) = clone_without_waiting(py, &self.names) {
            cache.resolve(py);
        }
    }
}

/// A clone of what `m` holds: `try_lock` with the GIL, and if another thread holds the
/// mutex, wait for it with the GIL released.
fn clone_without_waiting<T: Clone + Send>(py: Python<'_>, m: &Mutex<T>) -> T {
    match m.try_lock() {
        Ok(guard) => guard.clone(),
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
        Err(std::sync::TryLockError::WouldBlock) => {
            py.detach(|| m.lock().unwrap_or_else(PoisonError::into_inner).clone())
        }
    }
}

/// Wait for room in a full queue with the GIL released, in slices, running the
/// pending signal handlers between them (an exception they raise propagates and the
/// record is not queued).
fn queue_waiting(py: Python<'_>, bg: &BackgroundWriter, data: &[u8]) -> PyResult<clh::Result<()>> {
    loop {
        match call_raw(py, || bg.write_within(data, SIGNAL_CHECK_INTERVAL)) {
            Ok(true) => return Ok(Ok(())),
            Ok(false) => py.check_signals()?,
            Err(e) => return Ok(Err(e)),
        }
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
