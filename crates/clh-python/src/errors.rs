//! Core errors as the Python exceptions `logging` handlers expect, and the one way to
//! call into the core: without the GIL, with panics caught (none crosses into Python).

use clh::Error;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

const PANIC_MESSAGE: &str = "internal error in concurrent_log_handler (Rust panic)";

/// The name an option has in the Python API (CLH 0.9.31's spelling) for the core's
/// snake-case name: the same concept, spelt as each language does.
pub(crate) fn python_name(option: &str) -> &str {
    match option {
        "max_bytes" => "maxBytes",
        "backup_count" => "backupCount",
        "at_time" => "atTime",
        other => other,
    }
}

/// Convert a core error: a bad option is a `ValueError` naming it as Python does;
/// anything else an `OSError(errno, message, filename)`, which picks the subclass
/// (`FileNotFoundError`, `IsADirectoryError`…).
pub(crate) fn to_py(err: Error) -> PyErr {
    match &err {
        Error::InvalidOption {
            option,
            value,
            reason,
        } => PyValueError::new_err(format!("invalid {} {value}: {reason}", python_name(option))),
        _ => {
            let errno = err.raw_os_error().unwrap_or(0);
            let filename = err.path().map(|p| p.display().to_string());
            PyOSError::new_err((errno, err.to_string(), filename))
        }
    }
}

/// Run `f` without the GIL, turning a panic into `RuntimeError`.
pub(crate) fn call<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> clh::Result<T> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(result) => result.map_err(to_py),
        Err(_) => Err(panic_exception()),
    }
}

/// Like [`call`], but hand back the core's error for the caller to inspect (a panic
/// still becomes an error, never an unwind into Python).
pub(crate) fn call_raw<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> clh::Result<T> + Send,
) -> clh::Result<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .unwrap_or_else(|_| Err(panic_error()))
}

/// What a caught panic becomes in Python.
pub(crate) fn panic_exception() -> PyErr {
    PyRuntimeError::new_err(PANIC_MESSAGE)
}

/// The error a caught panic becomes when the caller needs a core error.
fn panic_error() -> Error {
    Error::Io {
        step: clh::Step::Write,
        path: PathBuf::from("<internal>"),
        source: std::io::Error::other(PANIC_MESSAGE),
    }
}
