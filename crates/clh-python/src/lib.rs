//! `concurrent_log_handler._clh`: the native module behind the Python package.
//!
//! A thin layer: it converts arguments into the core's types (`options.rs`), calls the
//! core with the GIL released, turns core errors into the exceptions `logging` expects
//! and catches panics so that none crosses into Python (`errors.rs`). Every default
//! and every check is the core's; the defaults are exported as module constants for the
//! Python signatures.
//!
//! Rules that keep the interpreter from ever hanging on us (`writer.rs`, `names.rs`):
//! * nothing waits with the GIL held: a Rust mutex is only `try_lock`ed with it, and
//!   taken after releasing the GIL when another thread has it;
//! * waits are interruptible as PEP 475 wants: a signal that interrupts the wait for
//!   the cross-process lock makes the core return before writing anything, the
//!   pending Python signal handlers run (an exception they raise propagates), and the
//!   call is made again; a wait for room in a full background queue is cut into
//!   slices with the handlers run in between;
//! * Python is never called while the cross-process lock is held: a Python `namer` is
//!   asked for names outside the lock, by the thread that logs, and the core postpones
//!   a rotation whose names it does not know yet.
//!
//! `cli_main` runs the `clh` command (crate `clh-cli`) for the wheel's `clh` console
//! script (`python/concurrent_log_handler/_cli.py`).

mod errors;
mod format;
mod handle;
mod names;
mod options;
mod writer;

use pyo3::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

/// CLH's lock file name for a log path.
#[pyfunction]
#[pyo3(signature = (path, lock_file_directory=None))]
fn lock_path_for(path: PathBuf, lock_file_directory: Option<PathBuf>) -> PathBuf {
    clh::lock_path_for(&path, lock_file_directory.as_deref())
}

/// The `clh` command (the wheel's console script): run it with `argv`, the program
/// name first, and return its exit code. The GIL is released while it runs, so that
/// its threads, and the signal thread that takes SIGTERM, SIGINT and SIGHUP while it
/// writes, never wait for the interpreter; a panic becomes exit code 1.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(|| std::panic::catch_unwind(|| clh_cli::run(argv)).unwrap_or(clh_cli::EXIT_FAILURE))
}

#[pymodule]
fn _clh(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<writer::Writer>()?;
    m.add_class::<handle::FastHandle>()?;
    m.add_class::<options::Options>()?;
    m.add_class::<format::RecordFormat>()?;
    m.add_function(wrap_pyfunction!(lock_path_for, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_MAX_BYTES", clh::DEFAULT_MAX_BYTES)?;
    m.add("DEFAULT_BACKUP_COUNT", clh::DEFAULT_BACKUP_COUNT)?;
    m.add("DEFAULT_KEEP_FILE_OPEN", clh::DEFAULT_KEEP_FILE_OPEN)?;
    m.add("DEFAULT_QUEUE_RECORDS", clh::DEFAULT_QUEUE_RECORDS)?;
    m.add("DEFAULT_QUEUE_BYTES", clh::DEFAULT_QUEUE_BYTES)?;
    m.add("DEFAULT_QUEUE_OVERFLOW", "block")?;
    m.add("STALL_LIMIT_SECONDS", clh::STALL_LIMIT.as_secs_f64())?;
    Ok(())
}
