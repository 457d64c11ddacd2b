//! Thin wrappers over the C API's `str` operations that pyo3 does not offer under the
//! limited API of Python 3.9 (`abi3-py39`): each one is the operation Python code
//! would run (`"".join`, `str.replace`, `s[:n]`, `fmt % args`, `ascii()`,
//! `str.encode`), so results and errors are Python's own. Strings are never copied
//! into Rust on the per-record path (`PyUnicode_AsUTF8AndSize` needs 3.10).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use std::ffi::CStr;

/// `"".join(pieces)` (the pieces are `str`).
pub(crate) fn join<'py>(
    py: Python<'py>,
    pieces: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let empty = pyo3::intern!(py, "");
    // SAFETY: a new list of the right length, or NULL with an exception set.
    let list = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyList_New(pieces.len() as ffi::Py_ssize_t))?
            .cast_into_unchecked::<PyList>()
    };
    for (i, piece) in pieces.into_iter().enumerate() {
        // SAFETY: `i` is within the list's length; `PyList_SetItem` steals the
        // reference `into_ptr` hands over (it cannot fail for a valid index).
        unsafe { ffi::PyList_SetItem(list.as_ptr(), i as ffi::Py_ssize_t, piece.into_ptr()) };
    }
    // SAFETY: both arguments are valid objects for the duration of the call; the result
    // is a new reference or NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyUnicode_Join(empty.as_ptr(), list.as_ptr())) }
}

/// `s.replace(old, new)` (`s`, `old`, `new` are `str`).
pub(crate) fn replace<'py>(
    s: &Bound<'py, PyAny>,
    old: &Bound<'py, PyString>,
    new: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: valid borrowed objects; new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            s.py(),
            ffi::PyUnicode_Replace(s.as_ptr(), old.as_ptr(), new.as_ptr(), -1),
        )
    }
}

/// The length of `s` (a `str`) in code points.
pub(crate) fn length(s: &Bound<'_, PyAny>) -> PyResult<usize> {
    // SAFETY: `s` is a valid object; -1 (with an exception set) when it is not a str.
    let n = unsafe { ffi::PyUnicode_GetLength(s.as_ptr()) };
    if n < 0 {
        return Err(PyErr::fetch(s.py()));
    }
    Ok(n as usize)
}

/// `s[:n]` (`s` a `str`).
pub(crate) fn prefix<'py>(s: &Bound<'py, PyAny>, n: usize) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: valid object; new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            s.py(),
            ffi::PyUnicode_Substring(s.as_ptr(), 0, n as ffi::Py_ssize_t),
        )
    }
}

/// Whether `s` (an exact `str`) ends with `"\n"`, i.e. `s[-1:] == "\n"`.
pub(crate) fn ends_with_newline(s: &Bound<'_, PyAny>) -> PyResult<bool> {
    let n = length(s)?;
    if n == 0 {
        return Ok(false);
    }
    // SAFETY: `s` is a str and `n - 1` a valid index into it.
    let c = unsafe { ffi::PyUnicode_ReadChar(s.as_ptr(), (n - 1) as ffi::Py_ssize_t) };
    Ok(c == u32::from('\n'))
}

/// `ascii(value)`.
pub(crate) fn ascii<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: valid object; new reference or NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(value.py(), ffi::PyObject_ASCII(value.as_ptr())) }
}

/// `fmt % args` for a `str` format (`PyUnicode_Format`, what `str.__mod__` runs).
pub(crate) fn percent<'py>(
    fmt: &Bound<'py, PyString>,
    args: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: valid objects; new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(fmt.py(), ffi::PyUnicode_Format(fmt.as_ptr(), args.as_ptr()))
    }
}

/// `s.encode(encoding, errors)` (`PyUnicode_AsEncodedString`, what `str.encode` runs).
pub(crate) fn encode<'py>(
    s: &Bound<'py, PyAny>,
    encoding: &CStr,
    errors: &CStr,
) -> PyResult<Bound<'py, PyBytes>> {
    // SAFETY: valid object and NUL-terminated strings; new reference or NULL with an
    // exception set.
    let bytes = unsafe {
        Bound::from_owned_ptr_or_err(
            s.py(),
            ffi::PyUnicode_AsEncodedString(s.as_ptr(), encoding.as_ptr(), errors.as_ptr()),
        )?
    };
    Ok(bytes.cast_into::<PyBytes>()?)
}

/// `s.encode("utf-8")` when `s` has no lone surrogate (then every error handler gives
/// the same bytes); `None` when it has one (the caller encodes with its handler).
pub(crate) fn utf8<'py>(s: &Bound<'py, PyAny>) -> Option<Bound<'py, PyBytes>> {
    // SAFETY: valid object; new reference or NULL with an exception set.
    let bytes =
        unsafe { Bound::from_owned_ptr_or_err(s.py(), ffi::PyUnicode_AsUTF8String(s.as_ptr())) };
    bytes.ok()?.cast_into::<PyBytes>().ok()
}

// In the limited API from 3.10 on, and exported by CPython 3.9 too (the oldest this
// module supports): declared here because pyo3 offers it only from `abi3-py310`.
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const std::ffi::c_char;
}

/// `"".join(pieces).encode("utf-8")` (the pieces are `str`) when no piece has a lone
/// surrogate; `None` (and no exception set) when one has, or is not a `str`. An ASCII
/// `str` is its own UTF-8: only that memory is copied, once, into the result.
pub(crate) fn utf8_concat(py: Python<'_>, pieces: &[Bound<'_, PyAny>]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    for piece in pieces {
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: `piece` is a valid object; the result points into it (valid while it
        // lives, which covers the copy below) or is NULL with an exception set.
        let data = unsafe { PyUnicode_AsUTF8AndSize(piece.as_ptr(), &mut size) };
        if data.is_null() {
            drop(PyErr::take(py));
            return None;
        }
        // SAFETY: `data` holds `size` bytes of UTF-8.
        out.extend_from_slice(unsafe {
            std::slice::from_raw_parts(data.cast::<u8>(), size as usize)
        });
    }
    Some(out)
}

/// `format(value, spec)`.
pub(crate) fn format<'py>(
    value: &Bound<'py, PyAny>,
    spec: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: valid objects; new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            value.py(),
            ffi::PyObject_Format(value.as_ptr(), spec.as_ptr()),
        )
    }
}
