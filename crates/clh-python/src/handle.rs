//! `FastHandle`: a handler's `handle(record)` for the common case, in one native call.
//!
//! `logging` calls `handler.handle(record)` for every record. `NativeFileHandler`
//! puts a `FastHandle` in the instance's `__dict__` under `handle` when its class
//! overrides neither `handle` nor `emit`; a call then does, without a Python frame,
//! what `NativeFileHandler.handle` + `emit` do when the handler has no filter, the
//! process has not forked since the last record, and the formatter is applied
//! natively: format and write (`Writer::write_record`). Every other case, read afresh
//! at each record from the handler's `__dict__` and `_common`'s globals, is handed to
//! the Python method itself (`NativeFileHandler.handle`), so filters, a formatter
//! the native path does not take, the fork check and every error keep their Python
//! behaviour: a record native formatting cannot format goes to `handler.emit` (the
//! Python path, which reports it as without native formatting); an `Exception` of
//! the write goes to `handler.handleError(record)` (called by `_common._report_error`
//! from an `except` block, where it finds the exception); `RecursionError` and
//! `BaseException`s propagate, as from `emit`.
//!
//! The handler is held through a weak reference: it holds the `FastHandle`.

use crate::format::RecordFormat;
use crate::writer::Writer;
use pyo3::exceptions::{PyException, PyRecursionError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyWeakrefReference};

/// `handle(record)` of one handler (see the module header).
#[pyclass(frozen, module = "concurrent_log_handler._clh")]
pub(crate) struct FastHandle {
    /// `weakref.ref(handler)`.
    handler: Py<PyWeakrefReference>,
    /// `NativeFileHandler.handle`, the Python method, for every other case.
    python_handle: Py<PyAny>,
    /// `_common`'s globals (its `_forked` flag).
    globals: Py<PyDict>,
    /// What `Filterer.filter` returns when there is no filter: the record (3.12+).
    returns_record: bool,
}

#[pymethods]
impl FastHandle {
    #[new]
    fn new(
        handler: Bound<'_, PyWeakrefReference>,
        python_handle: Py<PyAny>,
        globals: Bound<'_, PyDict>,
        returns_record: bool,
    ) -> Self {
        FastHandle {
            handler: handler.unbind(),
            python_handle,
            globals: globals.unbind(),
            returns_record,
        }
    }

    fn __call__<'py>(&self, py: Python<'py>, record: Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let Some(handler) = self.handler.bind(py).upgrade() else {
            // The handler is gone: nothing can have called us through it.
            return Ok(py.None());
        };
        let passed = || -> Py<PyAny> {
            if self.returns_record {
                record.clone().unbind()
            } else {
                PyBool::new(py, true).to_owned().into_any().unbind()
            }
        };
        let Some(fast) = self.fast_case(py, &handler)? else {
            return self.python_handle.call1(py, (handler, record));
        };
        let Fast {
            writer,
            format,
            terminator,
            newline,
            encoding,
            errors,
        } = fast;
        let written = writer.get().write_record(
            py,
            format.get(),
            &record,
            &terminator,
            newline.as_ref(),
            &encoding,
            &errors,
        );
        match written {
            Ok(true) => {}
            Ok(false) => {
                handler.call_method1(intern!(py, "emit"), (&record,))?;
            }
            Err(e) if e.is_instance_of::<PyRecursionError>(py) => return Err(e),
            Err(e) if e.is_instance_of::<PyException>(py) => {
                // As `emit`'s `except Exception: self.handleError(record)`: handleError
                // reads the exception from sys.exc_info(), so it is raised again in
                // `_common._report_error`, which calls it from an except block.
                let report = self
                    .globals
                    .bind(py)
                    .get_item(intern!(py, "_report_error"))?;
                let report = report.ok_or_else(|| {
                    pyo3::exceptions::PyRuntimeError::new_err("_common._report_error is missing")
                })?;
                report.call1((&handler, &record, e.into_value(py)))?;
            }
            Err(e) => return Err(e),
        }
        Ok(passed())
    }
}

/// What the fast case needs, read from the handler's `__dict__`.
struct Fast<'py> {
    writer: Bound<'py, Writer>,
    format: Bound<'py, RecordFormat>,
    terminator: Bound<'py, PyAny>,
    newline: Option<Bound<'py, PyString>>,
    encoding: Bound<'py, PyString>,
    errors: Bound<'py, PyString>,
}

impl FastHandle {
    /// The fast case's pieces, or `None` when the Python method must run.
    fn fast_case<'py>(
        &self,
        py: Python<'py>,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Fast<'py>>> {
        let forked = self.globals.bind(py).get_item(intern!(py, "_forked"))?;
        if forked.is_none_or(|f| f.is_truthy().unwrap_or(true)) {
            return Ok(None);
        }
        let dict = handler.getattr(intern!(py, "__dict__"))?;
        let Ok(dict) = dict.cast_into::<PyDict>() else {
            return Ok(None);
        };
        let item = |name: &Bound<'py, PyString>| dict.get_item(name);
        match item(intern!(py, "filters"))? {
            Some(f) if f.cast::<PyList>().is_ok_and(|l| l.is_empty()) => {}
            _ => return Ok(None),
        }
        let Some(format) = item(intern!(py, "_native_format"))? else {
            return Ok(None);
        };
        let Ok(format) = format.cast_into::<RecordFormat>() else {
            return Ok(None);
        };
        let (Some(writer), Some(terminator), Some(newline), Some(encoding), Some(errors)) = (
            item(intern!(py, "_writer"))?,
            item(intern!(py, "terminator"))?,
            item(intern!(py, "_newline"))?,
            item(intern!(py, "_codec"))?,
            item(intern!(py, "_errors"))?,
        ) else {
            return Ok(None);
        };
        let newline = if newline.is_none() {
            None
        } else {
            match newline.cast_into::<PyString>() {
                Ok(s) => Some(s),
                Err(_) => return Ok(None),
            }
        };
        let (Ok(writer), Ok(encoding), Ok(errors)) = (
            writer.cast_into::<Writer>(),
            encoding.cast_into::<PyString>(),
            errors.cast_into::<PyString>(),
        ) else {
            return Ok(None);
        };
        Ok(Some(Fast {
            writer,
            format,
            terminator,
            newline,
            encoding,
            errors,
        }))
    }
}
