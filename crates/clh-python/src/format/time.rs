//! `record.asctime`, as `Formatter.formatTime(record, self.datefmt)` computes it:
//!
//! ```python
//! ct = self.converter(record.created)
//! if datefmt:
//!     s = time.strftime(datefmt, ct)
//! else:
//!     s = time.strftime(self.default_time_format, ct)
//!     if self.default_msec_format:
//!         s = self.default_msec_format % (s, record.msecs)
//! ```
//!
//! The `strftime` part is Python's own `time.strftime` (looked up on the `time` module
//! at each call, so a patched one is used), called on a cache miss only: when the
//! converter is `time.localtime` or `time.gmtime`, `ct` depends only on
//! `floor(created)` (both convert with `_PyTime_ROUND_FLOOR`), so the text is kept
//! for the last second seen. Any other converter is called for every record, and its
//! result formatted every time. (A locale or `TZ` change takes effect at the next
//! second.) The milliseconds come from `record.msecs`, never recomputed (its
//! computation differs between Python versions): with the stock `"%s,%03d"` and a
//! `float` in `[0, 1000)`, `s + "," + "%03d" % int(msecs)` is built here (and kept for
//! records in the same millisecond); anything else is `default_msec_format % (s,
//! msecs)` by Python.

use super::text;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyString, PyTuple};

/// What `formatTime` needs from the formatter, read when the plan was made.
pub(crate) struct TimePlan {
    /// `datefmt` when truthy, else `default_time_format`: what `strftime` is given.
    pub strftime_format: Py<PyString>,
    /// The milliseconds part (never with a truthy `datefmt`).
    pub msec: Msec,
    pub converter: Py<PyAny>,
    /// The converter is `time.localtime` or `time.gmtime`: cache by second.
    pub by_second: bool,
}

pub(crate) enum Msec {
    /// No milliseconds (`datefmt` given, or a falsy `default_msec_format`).
    None,
    /// The stock `"%s,%03d"`.
    Stock,
    /// Another format: `fmt % (s, record.msecs)`.
    Other(Py<PyString>),
}

pub(crate) const STOCK_MSEC_FORMAT: &str = "%s,%03d";

/// The last second and millisecond formatted.
#[derive(Default)]
pub(crate) struct TimeCache {
    /// `(second, strftime text, the text in Rust when it could be read)`.
    second: Option<(i64, Py<PyString>, Option<String>)>,
    /// `(second, millisecond, asctime)`.
    asctime: Option<(i64, i64, Py<PyString>)>,
}

/// `floor(created)` when `created` is an exact `float` or `int` in range: the second
/// `time.localtime`/`time.gmtime` convert.
fn second_of(created: &Bound<'_, PyAny>) -> Option<i64> {
    if let Ok(f) = created.cast_exact::<PyFloat>() {
        let v = f.value().floor();
        // i64::MIN and MAX are not exact doubles: keep well inside.
        return (v.is_finite() && v.abs() < 9.0e18).then_some(v as i64);
    }
    if created.is_exact_instance_of::<PyInt>() {
        return created.extract::<i64>().ok();
    }
    None
}

/// `int(msecs)` for a float in `[0, 1000)`, the only case built natively.
fn stock_millis(msecs: &Bound<'_, PyAny>) -> Option<i64> {
    let m = msecs.cast_exact::<PyFloat>().ok()?.value();
    (0.0..1000.0).contains(&m).then_some(m.trunc() as i64)
}

impl TimePlan {
    /// The asctime of a record whose `created` is `created`; `msecs` reads
    /// `record.msecs` (only called when the format wants it, as Python reads it).
    /// `cache` is `None` when another caller holds it (then nothing is cached).
    pub fn asctime<'py>(
        &self,
        py: Python<'py>,
        created: &Bound<'py, PyAny>,
        msecs: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
        cache: Option<&mut TimeCache>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let second = if self.by_second {
            second_of(created)
        } else {
            None
        };
        // The cache, when it may hold this record's second.
        let (slot, mut last) = match (cache, second) {
            (Some(c), Some(_)) => (Some(&mut c.second), Some(&mut c.asctime)),
            _ => (None, None),
        };
        let mut computed = None;
        let (text, rust) = match slot {
            Some(Some((sec, text, rust))) if Some(*sec) == second => {
                (text.bind(py).clone(), rust.as_deref())
            }
            slot => {
                let (text, rust) = self.strftime(py, created)?;
                match (slot, second) {
                    (Some(slot), Some(sec)) => {
                        let (_, text, rust) = slot.insert((sec, text.clone().unbind(), rust));
                        if let Some(last) = last.as_deref_mut() {
                            *last = None;
                        }
                        (text.bind(py).clone(), rust.as_deref())
                    }
                    _ => {
                        let kept = computed.insert((text, rust));
                        (kept.0.clone(), kept.1.as_deref())
                    }
                }
            }
        };
        match &self.msec {
            Msec::None => Ok(text.into_any()),
            Msec::Other(fmt) => text::percent(
                fmt.bind(py),
                &PyTuple::new(py, [text.into_any(), msecs()?])?,
            ),
            Msec::Stock => {
                let msecs = msecs()?;
                let (Some(ms), Some(rust)) = (stock_millis(&msecs), rust) else {
                    let fmt = pyo3::intern!(py, STOCK_MSEC_FORMAT);
                    return text::percent(fmt, &PyTuple::new(py, [text.into_any(), msecs])?);
                };
                if let (Some(Some((s, m, asctime))), Some(sec)) = (last.as_deref(), second) {
                    if *s == sec && *m == ms {
                        return Ok(asctime.bind(py).clone().into_any());
                    }
                }
                let asctime = with_millis(py, rust, ms);
                if let (Some(last), Some(sec)) = (last, second) {
                    *last = Some((sec, ms, asctime.clone().unbind()));
                }
                Ok(asctime.into_any())
            }
        }
    }

    /// `time.strftime(format, converter(created))`, and its text in Rust when it
    /// can be read (it has no lone surrogate).
    fn strftime<'py>(
        &self,
        py: Python<'py>,
        created: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyString>, Option<String>)> {
        let ct = self.converter.bind(py).call1((created,))?;
        let strftime = py.import("time")?.getattr("strftime")?;
        let text = strftime
            .call1((self.strftime_format.bind(py), ct))?
            .cast_into::<PyString>()?;
        let rust = text.to_cow().ok().map(|s| s.into_owned());
        Ok((text, rust))
    }
}

/// `"%s,%03d" % (text, ms)` for `0 <= ms < 1000`, without a heap buffer when short.
fn with_millis<'py>(py: Python<'py>, text: &str, ms: i64) -> Bound<'py, PyString> {
    let mut buf = [0u8; 64];
    let n = text.len();
    if n + 4 > buf.len() {
        return PyString::new(py, &format!("{text},{ms:03}"));
    }
    buf[..n].copy_from_slice(text.as_bytes());
    buf[n] = b',';
    let ms = ms.clamp(0, 999) as usize; // `stock_millis` gives 0..=999
    buf[n + 1] = b'0' + (ms / 100) as u8;
    buf[n + 2] = b'0' + (ms / 10 % 10) as u8;
    buf[n + 3] = b'0' + (ms % 10) as u8;
    // The bytes are `text` (valid UTF-8) followed by ASCII: always valid.
    match std::str::from_utf8(&buf[..n + 4]) {
        Ok(s) => PyString::new(py, s),
        Err(_) => PyString::new(py, &format!("{text},{ms:03}")),
    }
}
