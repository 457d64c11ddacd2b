//! `RecordFormat`: `logging.Formatter.format(record)` done natively for a plain
//! `logging.Formatter`, byte for byte what the formatter gives, and the record left
//! as the formatter leaves it (`record.message`, `record.asctime`, `record.exc_text`).
//!
//! Per record, as `Formatter.format` does, in the same order:
//! 1. `record.message = record.getMessage()`: computed here for an exact `LogRecord`
//!    with the stock `getMessage` (not overridden on the instance) and an exact `str`
//!    `msg` (`msg` if `args` is falsy, else `msg % args`, Python's `%`); otherwise the
//!    record's own `getMessage()` is called;
//! 2. if the format uses the time, `record.asctime = formatTime(...)` (`time.rs`);
//! 3. the fields, read from `record.__dict__` (then the style's `defaults`), as each
//!    style's Python operation reads them, rendered by `render.rs`;
//! 4. `exc_info`/`exc_text`/`stack_info`: the formatter's own `formatException` and
//!    `formatStack` (overrides included), joined with `"\n"` as `format` does.
//!
//! An exact `LogRecord`'s attributes are read from and written to its `__dict__`
//! (what `getattr`/`setattr` do for it); any other record type goes through
//! `getattr`/`setattr`.
//!
//! Whenever something is not as expected (a field missing from the record, a Python
//! call that raised, a plan that is not native, a panic), this record is formatted by
//! the formatter's own `format()` instead: its result, or its exception, is Python's.
//! `BaseException`s that are not `Exception`s, and `RecursionError`, propagate as
//! raised. `format_bytes` adds what `NativeFileHandler.emit` does after formatting:
//! the terminator, newline translation and `str.encode`. In the common case (UTF-8,
//! no newline translation, no lone surrogate) the pieces are encoded one by one into
//! one buffer (an ASCII `str` is its own UTF-8), and neither the joined `str` nor a
//! `bytes` object is built; `Writer::write_record` writes that buffer.
//!
//! Caches (the time's text per second, the last value of each integer field) sit
//! behind a mutex that is only `try_lock`ed: a caller that finds it held (another
//! thread, or a re-entrant call from a `__str__` that logs) formats without them.
//! Formatting runs before the writer is called: no Python runs under the
//! cross-process lock.
//!
//! Files: `plan.rs` (which formatters qualify, what is read from them, the per-record
//! check that they did not change), `parse.rs` (format strings, per style),
//! `render.rs` (one field's text), `time.rs` (`asctime`), `text.rs` (the C API's
//! `str` operations).

mod parse;
mod plan;
mod render;
mod text;
mod time;

use parse::Style;
use plan::{Native, Piece, Plan, SetHere};
use pyo3::exceptions::{PyException, PyRecursionError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};

/// Why a record leaves the native path.
enum Miss {
    Py(PyErr),
    Unusual,
}

impl Miss {
    /// As an exception (a missing attribute as `AttributeError`).
    fn into_err(self, name: &str) -> PyErr {
        match self {
            Miss::Py(e) => e,
            Miss::Unusual => pyo3::exceptions::PyAttributeError::new_err(name.to_string()),
        }
    }
}

impl From<PyErr> for Miss {
    fn from(e: PyErr) -> Miss {
        Miss::Py(e)
    }
}

/// An encoding and error handler, and their C strings, for the `str` objects last
/// passed (compared by identity: a handler passes the same objects every time).
struct Codec {
    encoding: Py<PyString>,
    errors: Py<PyString>,
    encoding_c: CString,
    errors_c: CString,
    utf8: bool,
}

/// A `logging.Formatter`'s format done natively (see the module header).
#[pyclass(frozen, module = "concurrent_log_handler._clh")]
pub(crate) struct RecordFormat {
    formatter: Py<PyAny>,
    plan: Mutex<Arc<Plan>>,
    codec: Mutex<Option<Arc<Codec>>>,
    /// Records handed to the formatter's own `format`.
    fallbacks: AtomicU64,
}

fn try_lock<T>(m: &Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

#[pymethods]
impl RecordFormat {
    /// Built from a formatter's pieces, as `logging.Formatter(fmt, datefmt, style,
    /// validate=False, defaults=defaults)` with these `default_time_format`,
    /// `default_msec_format` and `converter` (the class's when `None`).
    #[new]
    #[allow(clippy::too_many_arguments)] // the Python signature's keywords
    #[pyo3(signature = (fmt=None, style="%", datefmt=None,
        default_time_format="%Y-%m-%d %H:%M:%S", default_msec_format=Some("%s,%03d"),
        converter=None, defaults=None))]
    #[pyo3(text_signature = "(fmt=None, style='%', datefmt=None, \
        default_time_format='%Y-%m-%d %H:%M:%S', default_msec_format='%s,%03d', \
        converter=None, defaults=None)")]
    fn new(
        py: Python<'_>,
        fmt: Option<String>,
        style: &str,
        datefmt: Option<String>,
        default_time_format: &str,
        default_msec_format: Option<&str>,
        converter: Option<Bound<'_, PyAny>>,
        defaults: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        if Style::from_char(style).is_none() {
            return Err(PyValueError::new_err(format!(
                "unsupported style {style:?}"
            )));
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("validate", false)?;
        if let Some(d) = defaults {
            kwargs.set_item("defaults", d)?;
        }
        let formatter = py
            .import("logging")?
            .getattr("Formatter")?
            .call((fmt, datefmt, style), Some(&kwargs))?;
        formatter.setattr("default_time_format", default_time_format)?;
        formatter.setattr("default_msec_format", default_msec_format)?;
        if let Some(c) = converter {
            formatter.setattr("converter", c)?;
        }
        Self::from_formatter(formatter)
    }

    /// For an existing formatter, watched for changes at each record (see
    /// `plan.rs`). `ValueError` when it is not one formatted natively.
    #[staticmethod]
    fn from_formatter(formatter: Bound<'_, PyAny>) -> PyResult<Self> {
        let plan = Plan::new(formatter.py(), &formatter);
        if let Err(why) = &plan.native {
            return Err(PyValueError::new_err(format!(
                "not formatted natively: {why}"
            )));
        }
        Ok(RecordFormat {
            formatter: formatter.unbind(),
            plan: Mutex::new(Arc::new(plan)),
            codec: Mutex::new(None),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// The formatter this formats for (its `format` is the fallback).
    #[getter]
    fn formatter(&self, py: Python<'_>) -> Py<PyAny> {
        self.formatter.clone_ref(py)
    }

    /// Whether records are formatted natively with the formatter as it is now (after
    /// a change to it that is not supported, they take its own `format`).
    #[getter]
    fn native(&self, py: Python<'_>) -> bool {
        self.plan(py).is_some_and(|p| p.native.is_ok())
    }

    /// How many records were formatted by the formatter's own `format` (a miss of
    /// the native path: an error, an unusual record, a formatter changed into one not
    /// formatted natively).
    #[getter]
    fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Exactly `formatter.format(record)`.
    fn format<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.render(py, record, None)
    }

    /// Exactly what the handler writes for `record`:
    /// `(formatter.format(record) + terminator)`, with `"\n"` replaced by `newline`
    /// unless it is `None`, encoded with `encoding` and `errors`. Also called from
    /// Rust (`Writer::write_record` formats and writes in one call).
    pub(crate) fn format_bytes<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        terminator: &Bound<'py, PyAny>,
        newline: Option<&Bound<'py, PyString>>,
        encoding: &Bound<'py, PyString>,
        errors: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        Ok(
            match self.encoded(py, record, terminator, newline, encoding, errors)? {
                Encoded::Utf8(v) => PyBytes::new(py, &v),
                Encoded::Bytes(b) => b,
            },
        )
    }
}

/// A record as [`RecordFormat::format_bytes`] gives it: UTF-8 built in Rust, or a
/// `bytes` object.
pub(crate) enum Encoded<'py> {
    Utf8(Vec<u8>),
    Bytes(Bound<'py, PyBytes>),
}

impl Encoded<'_> {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Encoded::Utf8(v) => v,
            Encoded::Bytes(b) => b.as_bytes(),
        }
    }
}

/// A record formatted: the pieces of the text (to be concatenated), or the text.
enum Rendered<'py> {
    Pieces(Vec<Bound<'py, PyAny>>),
    Text(Bound<'py, PyAny>),
}

impl<'py> Rendered<'py> {
    fn into_text(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Rendered::Pieces(pieces) => text::join(py, pieces),
            Rendered::Text(s) => Ok(s),
        }
    }
}

impl RecordFormat {
    /// [`format_bytes`](Self::format_bytes)' bytes. The common case (UTF-8, no newline
    /// translation, no lone surrogate) encodes the formatted pieces one by one into one
    /// buffer, without building the `str` nor a `bytes` object.
    pub(crate) fn encoded<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        terminator: &Bound<'py, PyAny>,
        newline: Option<&Bound<'py, PyString>>,
        encoding: &Bound<'py, PyString>,
        errors: &Bound<'py, PyString>,
    ) -> PyResult<Encoded<'py>> {
        let rendered = self.render_parts(py, record, Some(terminator))?;
        let codec = self.codec(encoding, errors)?;
        if let (Rendered::Pieces(pieces), None, true) = (&rendered, newline, codec.utf8) {
            if let Some(bytes) = text::utf8_concat(py, pieces) {
                return Ok(Encoded::Utf8(bytes));
            }
        }
        let mut s = rendered.into_text(py)?;
        if let Some(newline) = newline {
            s = if s.is_exact_instance_of::<PyString>() {
                text::replace(&s, intern!(py, "\n"), newline)?
            } else {
                s.call_method1(intern!(py, "replace"), ("\n", newline))?
            };
        }
        if !s.is_exact_instance_of::<PyString>() {
            return Ok(Encoded::Bytes(
                s.call_method1(intern!(py, "encode"), (encoding, errors))?
                    .cast_into::<PyBytes>()?,
            ));
        }
        if codec.utf8 {
            if let Some(bytes) = text::utf8(&s) {
                return Ok(Encoded::Bytes(bytes));
            }
        }
        text::encode(&s, &codec.encoding_c, &codec.errors_c).map(Encoded::Bytes)
    }

    /// The plan for the formatter as it is now (a new one if it changed); `None`
    /// only if another caller holds the plan's lock (never while it has the GIL).
    fn plan(&self, py: Python<'_>) -> Option<Arc<Plan>> {
        let plan = Arc::clone(&*try_lock(&self.plan)?);
        let formatter = self.formatter.bind(py);
        if plan.current(py) {
            return Some(plan);
        }
        let plan = Arc::new(Plan::new(py, formatter));
        if let Some(mut slot) = try_lock(&self.plan) {
            *slot = Arc::clone(&plan);
        }
        Some(plan)
    }

    fn codec(
        &self,
        encoding: &Bound<'_, PyString>,
        errors: &Bound<'_, PyString>,
    ) -> PyResult<Arc<Codec>> {
        if let Some(guard) = try_lock(&self.codec) {
            if let Some(c) = guard.as_ref() {
                if c.encoding.is(encoding) && c.errors.is(errors) {
                    return Ok(Arc::clone(c));
                }
            }
        }
        let name = encoding.to_cow()?;
        let normal = name.to_ascii_lowercase().replace('_', "-");
        let c_string =
            |s: &str| CString::new(s).map_err(|_| PyValueError::new_err("embedded null character"));
        let codec = Arc::new(Codec {
            encoding: encoding.clone().unbind(),
            errors: errors.clone().unbind(),
            encoding_c: c_string(&name)?,
            errors_c: c_string(&errors.to_cow()?)?,
            utf8: normal == "utf-8" || normal == "utf8",
        });
        if let Some(mut guard) = try_lock(&self.codec) {
            *guard = Some(Arc::clone(&codec));
        }
        Ok(codec)
    }

    /// The record formatted (with `terminator` added when given): natively, or by the
    /// formatter's own `format` when the native path misses.
    fn render<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        terminator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.render_parts(py, record, terminator)?.into_text(py)
    }

    /// [`render`](Self::render), leaving the pieces of a natively formatted record
    /// unjoined.
    fn render_parts<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        terminator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Rendered<'py>> {
        let native = catch_unwind(AssertUnwindSafe(|| {
            self.format_natively(py, record, terminator)
        }));
        match native {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(Miss::Py(e)))
                if !e.is_instance_of::<PyException>(py)
                    || e.is_instance_of::<PyRecursionError>(py) =>
            {
                return Err(e)
            }
            _ => {}
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let s = self
            .formatter
            .bind(py)
            .call_method1(intern!(py, "format"), (record,))?;
        Ok(Rendered::Text(match terminator {
            Some(t) => s.add(t)?,
            None => s,
        }))
    }

    fn format_natively<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        terminator: Option<&Bound<'py, PyAny>>,
    ) -> Result<Rendered<'py>, Miss> {
        let plan = self.plan(py).ok_or(Miss::Unusual)?;
        let native = plan.native.as_ref().map_err(|_| Miss::Unusual)?;
        let dict = record.getattr(intern!(py, "__dict__"))?;
        let dict = dict.cast_exact::<PyDict>().map_err(|_| Miss::Unusual)?;
        let rec = Record {
            record,
            dict,
            exact: record.get_type().is(native.log_record.bind(py)),
        };

        let message = message(native, &rec)?;
        rec.set(intern!(py, "message"), &message)?;
        let mut caches = try_lock(&native.caches);
        let mut asctime = None;
        if let Some(time) = &native.time {
            let created = rec.get(intern!(py, "created"))?;
            let value = time.asctime(
                py,
                &created,
                || {
                    rec.get(intern!(py, "msecs"))
                        .map_err(|m| m.into_err("msecs"))
                },
                caches.as_deref_mut().map(|c| &mut c.time),
            )?;
            rec.set(intern!(py, "asctime"), &value)?;
            asctime = Some(value);
        }

        let defaults = native.defaults.as_ref().map(|d| d.bind(py));
        if native.style == Style::Dollar
            && !(all_str_keys(dict) && defaults.is_none_or(|d| all_str_keys(d)))
        {
            return Err(Miss::Unusual); // `substitute(**values)` raises TypeError
        }
        let mut out = Vec::with_capacity(native.pieces.len() * 2 + 1);
        for (i, piece) in native.pieces.iter().enumerate() {
            match piece {
                Piece::Literal(s) => out.push(s.bind(py).clone().into_any()),
                Piece::Field {
                    key,
                    render,
                    set_here,
                } => {
                    let key = key.bind(py);
                    let known = match set_here {
                        Some(SetHere::Message) if rec.exact => Some(&message),
                        Some(SetHere::Asctime) if rec.exact => asctime.as_ref(),
                        _ => None,
                    };
                    let looked_up;
                    let value = match known {
                        Some(v) => v,
                        None => {
                            looked_up = lookup(dict, defaults, key)?;
                            &looked_up
                        }
                    };
                    let cache = caches.as_deref_mut().and_then(|c| c.ints.get_mut(i));
                    render.render(value, &mut out, cache)?;
                }
            }
        }
        drop(caches);

        // Step 4, as `Formatter.format` reads and writes the record.
        let formatter = self.formatter.bind(py);
        let exc_info = rec.get(intern!(py, "exc_info"))?;
        if truthy(&exc_info)? {
            let exc_text = rec.get(intern!(py, "exc_text"))?;
            if !truthy(&exc_text)? {
                let exc_text =
                    formatter.call_method1(intern!(py, "formatException"), (exc_info,))?;
                rec.set(intern!(py, "exc_text"), &exc_text)?;
            }
        }
        let mut s = None;
        let exc_text = rec.get(intern!(py, "exc_text"))?;
        if truthy(&exc_text)? {
            let base = text::join(py, std::mem::take(&mut out))?;
            s = Some(append_line(base, &exc_text)?);
        }
        let stack_info = rec.get(intern!(py, "stack_info"))?;
        if truthy(&stack_info)? {
            let base = match s {
                Some(s) => s,
                None => text::join(py, std::mem::take(&mut out))?,
            };
            let stack = formatter.call_method1(intern!(py, "formatStack"), (stack_info,))?;
            s = Some(append_line(base, &stack)?);
        }
        Ok(match (s, terminator) {
            (None, Some(t)) if t.is_exact_instance_of::<PyString>() => {
                out.push(t.clone());
                Rendered::Pieces(out)
            }
            (None, None) => Rendered::Pieces(out),
            (None, Some(t)) => Rendered::Text(text::join(py, out)?.add(t)?),
            (Some(s), Some(t)) => Rendered::Text(s.add(t)?),
            (Some(s), None) => Rendered::Text(s),
        })
    }
}

/// A record, with its `__dict__`.
struct Record<'a, 'py> {
    record: &'a Bound<'py, PyAny>,
    dict: &'a Bound<'py, PyDict>,
    /// An exact `LogRecord`: attributes are its `__dict__`'s entries.
    exact: bool,
}

impl<'py> Record<'_, 'py> {
    fn get(&self, name: &Bound<'py, PyString>) -> Result<Bound<'py, PyAny>, Miss> {
        if self.exact {
            self.dict.get_item(name)?.ok_or(Miss::Unusual)
        } else {
            Ok(self.record.getattr(name)?)
        }
    }

    fn set(&self, name: &Bound<'py, PyString>, value: &Bound<'py, PyAny>) -> PyResult<()> {
        if self.exact {
            self.dict.set_item(name, value)
        } else {
            self.record.setattr(name, value)
        }
    }
}

/// `record.getMessage()`.
fn message<'py>(native: &Native, rec: &Record<'_, 'py>) -> Result<Bound<'py, PyAny>, Miss> {
    let py = rec.record.py();
    if rec.exact
        && native.stock_get_message
        && rec.dict.get_item(intern!(py, "getMessage"))?.is_none()
    {
        let msg = rec.get(intern!(py, "msg"))?;
        if msg.is_exact_instance_of::<PyString>() {
            let args = rec.get(intern!(py, "args"))?;
            if !truthy(&args)? {
                return Ok(msg);
            }
            return Ok(msg.rem(&args)?);
        }
    }
    Ok(rec.record.call_method0(intern!(py, "getMessage"))?)
}

/// `values[key]` for `values = defaults | record.__dict__`; a missing key (a
/// `KeyError` in Python) is a miss.
fn lookup<'py>(
    dict: &Bound<'py, PyDict>,
    defaults: Option<&Bound<'py, PyDict>>,
    key: &Bound<'py, PyString>,
) -> Result<Bound<'py, PyAny>, Miss> {
    if let Some(v) = dict.get_item(key)? {
        return Ok(v);
    }
    match defaults {
        Some(d) => d.get_item(key)?.ok_or(Miss::Unusual),
        None => Err(Miss::Unusual),
    }
}

/// `bool(value)`, without a call for `None`.
fn truthy(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_none() {
        return Ok(false);
    }
    value.is_truthy()
}

/// `s` (a `str`) with `"\n"` added unless it ends with one, then `s + tail`.
fn append_line<'py>(
    s: Bound<'py, PyAny>,
    tail: &Bound<'py, PyAny>,
) -> Result<Bound<'py, PyAny>, Miss> {
    if !s.is_exact_instance_of::<PyString>() {
        return Err(Miss::Unusual);
    }
    let s = if text::ends_with_newline(&s)? {
        s
    } else {
        s.add(intern!(s.py(), "\n"))?
    };
    Ok(s.add(tail)?)
}

/// Whether every key of `dict` is a `str` (`f(**dict)` requires it).
fn all_str_keys(dict: &Bound<'_, PyDict>) -> bool {
    let mut pos: pyo3::ffi::Py_ssize_t = 0;
    let mut key = std::ptr::null_mut();
    let mut value = std::ptr::null_mut();
    // SAFETY: iterating a live dict with the GIL held and nothing else running (no
    // Python code can change it meanwhile); keys are borrowed and only type-checked.
    unsafe {
        while pyo3::ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) != 0 {
            if pyo3::ffi::PyUnicode_Check(key) == 0 {
                return false;
            }
        }
    }
    true
}
