//! `Writer`: the native writer behind a handler (`clh::LogWriter`, and a
//! `clh::BackgroundWriter` while background mode is on).

use crate::errors::{call, call_raw, panic_exception, to_py};
use crate::format::RecordFormat;
use crate::names::NameCache;
use crate::options::{int, Options};
use clh::{BackgroundWriter, Error, LogWriter, QueueOptions};
use pyo3::exceptions::PyRecursionError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

/// How long a caller blocked on a full background queue waits before it runs the
/// pending signal handlers and waits again.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// How many rounds of namer answers a rotation may need (dated names are parsed,
/// then the new backup is named): more means the namer keeps changing its answers.
const NAME_ROUNDS: usize = 4;

/// A writer appending records to one shared, rotating log file.
#[pyclass(frozen, module = "concurrent_log_handler._clh")]
pub(crate) struct Writer {
    inner: Arc<LogWriter>,
    /// Set while records go through a queue and a writer thread (`background=True`).
    /// The mutex is only held to clone or swap the `Arc`, never across a wait or a
    /// call that needs the GIL, so it cannot deadlock with the GIL.
    background: Mutex<Option<Arc<BackgroundWriter>>>,
    /// A Python namer's answers, when one is set.
    names: Mutex<Option<Arc<NameCache>>>,
}

#[pymethods]
impl Writer {
    #[new]
    fn new(py: Python<'_>, path: PathBuf, options: &Options) -> PyResult<Self> {
        let builder = options.builder(&path);
        let inner = Arc::new(call(py, move || builder.open())?);
        let writer = Writer {
            inner,
            background: Mutex::new(None),
            names: Mutex::new(None),
        };
        if options.background {
            writer.switch_background(py, Some(options.queue))?;
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

    /// Format `record` with `format` and append it, in one call (the handler's hot
    /// path: no bytes object goes back to Python). `False`, and nothing written, when
    /// formatting raised: the handler then takes its Python path for this record, which
    /// reports the error as it would without native formatting. Errors of the write
    /// itself are raised, as by [`write`](Self::write).
    #[pyo3(signature = (format, record, terminator, newline, encoding, errors))]
    #[allow(clippy::too_many_arguments)] // the handler's text options, passed as they are
    pub(crate) fn write_record(
        &self,
        py: Python<'_>,
        format: &RecordFormat,
        record: &Bound<'_, PyAny>,
        terminator: &Bound<'_, PyAny>,
        newline: Option<&Bound<'_, PyString>>,
        encoding: &Bound<'_, PyString>,
        errors: &Bound<'_, PyString>,
    ) -> PyResult<bool> {
        let data = match format.encoded(py, record, terminator, newline, encoding, errors) {
            Ok(data) => data,
            // As the Python path would: a RecursionError is not the record's fault.
            Err(e) if e.is_instance_of::<PyRecursionError>(py) => return Err(e),
            Err(_) => return Ok(false),
        };
        self.write(py, data.as_bytes()).map(|()| true)
    }

    /// Switch background mode on (with these queue bounds) or off (after writing what
    /// is queued).
    #[pyo3(signature = (enabled, queue_records=None, queue_bytes=None, queue_overflow="block"))]
    fn set_background(
        &self,
        py: Python<'_>,
        enabled: bool,
        queue_records: Option<&Bound<'_, PyAny>>,
        queue_bytes: Option<&Bound<'_, PyAny>>,
        queue_overflow: &str,
    ) -> PyResult<()> {
        let mut queue = QueueOptions::default();
        if let Some(v) = queue_records {
            queue.queue_records = int("queue_records", v)?;
        }
        if let Some(v) = queue_bytes {
            queue.queue_bytes = int("queue_bytes", v)?;
        }
        queue.queue_overflow = queue_overflow.parse().map_err(to_py)?;
        queue.check().map_err(to_py)?;
        self.switch_background(py, enabled.then_some(queue))
    }

    /// Whether records go through the background queue.
    #[getter]
    fn background_enabled(&self, py: Python<'_>) -> bool {
        self.background(py).is_some()
    }

    /// Records dropped by the 'drop' overflow policy (this process).
    #[getter]
    fn dropped_records(&self, py: Python<'_>) -> u64 {
        let background = self.background(py);
        py.detach(|| background.as_ref().map_or(0, |bg| bg.dropped_records()))
    }

    /// Whether the log on disk is due for rotation.
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

    /// Set a Python callable as the namer (asked outside the lock, by the thread that
    /// logs: see `NameCache`), or None for the default names.
    fn set_namer(&self, py: Python<'_>, namer: Option<Py<PyAny>>) {
        let cache = namer.map(NameCache::new);
        let core_namer = cache.as_ref().map(NameCache::namer);
        py.detach(|| {
            *self.names.lock().unwrap_or_else(PoisonError::into_inner) = cache;
            self.inner.set_namer(core_namer);
        });
    }

    /// The size limit (CLH's `maxBytes`), read at every write.
    #[getter]
    fn max_bytes(&self) -> u64 {
        self.inner.max_bytes()
    }

    #[setter]
    fn set_max_bytes(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_max_bytes(int("max_bytes", value)?);
        Ok(())
    }

    /// How many backups are kept (CLH's `backupCount`), read at every rotation.
    #[getter]
    fn backup_count(&self) -> u32 {
        self.inner.backup_count()
    }

    #[setter]
    fn set_backup_count(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_backup_count(int("backup_count", value)?);
        Ok(())
    }

    /// Whether backups are gzipped (CLH's `use_gzip`), read at every rotation.
    #[getter]
    fn use_gzip(&self) -> bool {
        self.inner.use_gzip()
    }

    #[setter]
    fn set_use_gzip(&self, value: bool) {
        self.inner.set_use_gzip(value);
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

    /// Rotations this writer carried out (this process).
    #[getter]
    fn num_rollovers(&self) -> u64 {
        self.inner.num_rollovers()
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
                Err(_) => return Err(panic_exception()),
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

    /// Switch to a background writer with these bounds, or back to synchronous writes.
    /// The old writer is retired, drained, and only then replaced: a thread that still
    /// holds it gets `Retired` and waits for the drain, so no record is written in the
    /// new mode before every record queued in the old one, and each thread's records
    /// stay in order across the switch. The mutex is taken without the GIL.
    fn switch_background(&self, py: Python<'_>, queue: Option<QueueOptions>) -> PyResult<()> {
        let new = match queue {
            Some(queue) => {
                let inner = Arc::clone(&self.inner);
                Some(Arc::new(call(py, move || {
                    BackgroundWriter::new(inner, queue)
                })?))
            }
            None => None,
        };
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
        Err(TryLockError::Poisoned(p)) => p.into_inner().clone(),
        Err(TryLockError::WouldBlock) => {
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
