//! One field's text from its value, as the style's Python operation renders it. The
//! output is a list of `str` pieces joined once per record: padding is a piece of its
//! own (a cached run of spaces), so a padded `str` is never copied.
//!
//! Native cases, each exactly Python's result:
//! * `%s` `%r` `%a` (flags `-` and the ignored `0`, width, precision): the value itself
//!   when it is an exact `str` and the conversion `s`, else `str()`/`repr()`/`ascii()`;
//!   cut to `precision` code points, padded with spaces to `width`.
//! * `%d` `%i` `%u` (flags `-0+ `, width, no precision) of an exact `int` that fits in
//!   64 bits, or an exact finite `float` (truncated, as `int()` does).
//! * `%f` `%F` (flags `-0+ `, width, precision up to 40) of an exact finite `float`
//!   below 1e16 in magnitude: Rust's exact decimal expansion, rounded half to even as
//!   Python's `dtoa` rounds it.
//! * `{name}`: the value when it is an exact `str`; an exact `int` as its decimal
//!   digits; `{name!r}`-style conversions by `str()`/`repr()`/`ascii()`; a spec of
//!   `[ ][<>^][width][.precision][s]` applied to an exact `str` (`str.__format__`).
//! * `$name`: `str(value)` (the value itself for an exact `str`).
//!
//! Everything else asks Python for the one field: `"%<spec>" % (value,)` (the spec
//! without its key renders the value exactly as the keyed spec does) or
//! `format(value, spec)`.

use super::parse::{PercentSpec, Spec};
use super::text;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyFloat, PyInt, PyString, PyTuple};

/// How a field is rendered (from its parsed spec).
pub(crate) enum Render {
    Text(TextSpec),
    /// `%d` natively, else (a value not handled here) `spec % (value,)`.
    Int(NumberSpec, Py<PyString>),
    /// `%f` with this precision natively, else `spec % (value,)`.
    Float(NumberSpec, usize, Py<PyString>),
    /// `spec % (value,)`.
    Percent(Py<PyString>),
    Brace {
        conversion: Option<Conversion>,
        format_spec: Py<PyString>,
        simple: Option<TextSpec>,
        empty: bool,
    },
}

#[derive(Clone, Copy)]
pub(crate) enum Conversion {
    Str,
    Repr,
    Ascii,
}

/// Width (space padding, right-aligned unless `left`, centred if `centre`) and
/// precision (a cut) of a text.
#[derive(Clone, Copy, Default)]
pub(crate) struct TextSpec {
    conversion: Option<Conversion>,
    left: bool,
    centre: bool,
    width: usize,
    precision: Option<usize>,
}

/// Sign, padding and width of a number.
#[derive(Clone, Copy)]
pub(crate) struct NumberSpec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
}

/// Widths beyond this are left to Python (no huge runs of padding built here).
const MAX_WIDTH: usize = 1 << 16;
const MAX_FLOAT_PRECISION: usize = 40;
/// Runs of spaces kept as `str` objects.
const SPACE_RUNS: usize = 81;

impl Render {
    pub fn new(py: Python<'_>, spec: &Spec) -> Render {
        match spec {
            Spec::Percent(p) => Render::percent(py, p),
            Spec::Brace {
                conversion,
                format_spec,
            } => Render::Brace {
                conversion: conversion.map(|c| match c {
                    'r' => Conversion::Repr,
                    'a' => Conversion::Ascii,
                    _ => Conversion::Str,
                }),
                format_spec: PyString::new(py, format_spec).unbind(),
                simple: simple_str_spec(format_spec),
                empty: format_spec.is_empty(),
            },
            Spec::Dollar => Render::Text(TextSpec {
                conversion: Some(Conversion::Str),
                ..TextSpec::default()
            }),
        }
    }

    fn percent(py: Python<'_>, p: &PercentSpec) -> Render {
        let width = p.width.unwrap_or(0);
        let spec = || PyString::new(py, &p.text).unbind();
        if width > MAX_WIDTH || p.alt {
            return Render::Percent(spec());
        }
        let number = NumberSpec {
            left: p.left,
            zero: p.zero,
            plus: p.plus,
            space: p.space,
            width,
        };
        match p.conversion {
            's' | 'r' | 'a' if !p.plus && !p.space => Render::Text(TextSpec {
                conversion: Some(match p.conversion {
                    'r' => Conversion::Repr,
                    'a' => Conversion::Ascii,
                    _ => Conversion::Str,
                }),
                left: p.left,
                centre: false,
                width,
                precision: p.precision,
            }),
            'd' | 'i' | 'u' if p.precision.is_none() => Render::Int(number, spec()),
            'f' | 'F' if p.precision.unwrap_or(6) <= MAX_FLOAT_PRECISION => {
                Render::Float(number, p.precision.unwrap_or(6), spec())
            }
            _ => Render::Percent(spec()),
        }
    }

    /// Whether an exact `int` value may be served from the field's last-value cache
    /// (rendered as its plain digits).
    pub fn plain_int(&self) -> bool {
        match self {
            Render::Int(n, _) => n.width == 0 && !n.plus && !n.space,
            Render::Brace {
                conversion: None,
                empty: true,
                ..
            } => true,
            _ => false,
        }
    }

    /// Append `value`'s rendering to `out`. `int_cache` is the field's last plain
    /// `int` rendering, `(value, text)`, used and updated when `plain_int()`.
    pub fn render<'py>(
        &self,
        value: &Bound<'py, PyAny>,
        out: &mut Vec<Bound<'py, PyAny>>,
        int_cache: Option<&mut Option<(i64, Py<PyString>)>>,
    ) -> PyResult<()> {
        let py = value.py();
        match self {
            Render::Text(spec) => push_text(convert(value, spec.conversion)?, spec, out),
            Render::Int(spec, delegate) => {
                let Some(n) = int_value(value) else {
                    return push_percent(delegate.bind(py), value, out);
                };
                if let Some(cache) = int_cache.filter(|_| self.plain_int()) {
                    out.push(cached_int(py, n, cache).into_any());
                    return Ok(());
                }
                let digits = n.unsigned_abs().to_string();
                out.push(PyString::new(py, &spec.pad(n < 0, &digits)).into_any());
                Ok(())
            }
            Render::Float(spec, precision, delegate) => {
                let x = match value.cast_exact::<PyFloat>() {
                    Ok(f) if f.value().is_finite() && f.value().abs() < 1e16 => f.value(),
                    _ => return push_percent(delegate.bind(py), value, out),
                };
                let digits = format!("{:.*}", precision, x.abs());
                let text = spec.pad(x.is_sign_negative(), &digits);
                out.push(PyString::new(py, &text).into_any());
                Ok(())
            }
            Render::Percent(spec) => push_percent(spec.bind(py), value, out),
            Render::Brace {
                conversion,
                format_spec,
                simple,
                empty,
            } => {
                let value = match conversion {
                    None => value.clone(),
                    Some(c) => convert(value, Some(*c))?,
                };
                if value.is_exact_instance_of::<PyString>() {
                    if *empty {
                        out.push(value);
                        return Ok(());
                    }
                    if let Some(spec) = simple {
                        return push_text(value, spec, out);
                    }
                } else if *empty && conversion.is_none() && value.is_exact_instance_of::<PyInt>() {
                    if let (Some(cache), Ok(n)) = (int_cache, value.extract::<i64>()) {
                        out.push(cached_int(py, n, cache).into_any());
                        return Ok(());
                    }
                }
                out.push(text::format(&value, format_spec.bind(py))?);
                Ok(())
            }
        }
    }
}

/// A `%`-style field rendered by Python: `spec % (value,)`.
fn push_percent<'py>(
    spec: &Bound<'py, PyString>,
    value: &Bound<'py, PyAny>,
    out: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    out.push(text::percent(spec, &PyTuple::new(value.py(), [value])?)?);
    Ok(())
}

/// `str(value)` (the value itself for an exact `str`), `repr(value)` or
/// `ascii(value)`; `None` leaves the value as it is.
fn convert<'py>(
    value: &Bound<'py, PyAny>,
    conversion: Option<Conversion>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match conversion {
        None => value.clone(),
        Some(Conversion::Str) if value.is_exact_instance_of::<PyString>() => value.clone(),
        Some(Conversion::Str) => value.str()?.into_any(),
        Some(Conversion::Repr) => value.repr()?.into_any(),
        Some(Conversion::Ascii) => text::ascii(value)?,
    })
}

/// Append a `str` cut to the spec's precision and padded to its width.
fn push_text<'py>(
    s: Bound<'py, PyAny>,
    spec: &TextSpec,
    out: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    if spec.width == 0 && spec.precision.is_none() {
        out.push(s);
        return Ok(());
    }
    let mut len = text::length(&s)?;
    let s = match spec.precision {
        Some(p) if len > p => {
            len = p;
            text::prefix(&s, p)?
        }
        _ => s,
    };
    if spec.width <= len {
        out.push(s);
        return Ok(());
    }
    let py = s.py();
    let pad = spec.width - len;
    let (before, after) = if spec.centre {
        (pad / 2, pad - pad / 2)
    } else if spec.left {
        (0, pad)
    } else {
        (pad, 0)
    };
    if before > 0 {
        out.push(spaces(py, before));
    }
    out.push(s);
    if after > 0 {
        out.push(spaces(py, after));
    }
    Ok(())
}

/// A run of `n` spaces.
fn spaces(py: Python<'_>, n: usize) -> Bound<'_, PyAny> {
    static RUNS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();
    let runs = RUNS.get_or_init(py, || {
        (0..SPACE_RUNS)
            .map(|n| PyString::intern(py, &" ".repeat(n)).unbind())
            .collect()
    });
    match runs.get(n) {
        Some(run) => run.bind(py).clone().into_any(),
        None => PyString::new(py, &" ".repeat(n)).into_any(),
    }
}

/// The integer `%d` renders: an exact `int` that fits in 64 bits, or `int(x)` of an
/// exact finite `float` that does. `None`: leave it to Python.
fn int_value(value: &Bound<'_, PyAny>) -> Option<i64> {
    if let Ok(f) = value.cast_exact::<PyFloat>() {
        let t = f.value().trunc();
        return (t.is_finite() && t.abs() < 9.0e18).then_some(t as i64);
    }
    if value.is_exact_instance_of::<PyInt>() {
        return value.extract::<i64>().ok();
    }
    None
}

/// The decimal text of `n`, from the field's one-entry cache when it holds `n`.
fn cached_int<'py>(
    py: Python<'py>,
    n: i64,
    cache: &mut Option<(i64, Py<PyString>)>,
) -> Bound<'py, PyString> {
    if let Some((v, s)) = cache {
        if *v == n {
            return s.bind(py).clone();
        }
    }
    let s = PyString::new(py, &n.to_string());
    *cache = Some((n, s.clone().unbind()));
    s
}

impl NumberSpec {
    /// Sign and digits padded to the width: spaces after (`-`), zeros between sign and
    /// digits (`0`), or spaces before.
    fn pad(&self, negative: bool, digits: &str) -> String {
        let sign = if negative {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        };
        let len = sign.len() + digits.len();
        let fill = self.width.saturating_sub(len);
        let mut s = String::with_capacity(len + fill);
        if fill > 0 && !self.left && !self.zero {
            s.extend(std::iter::repeat_n(' ', fill));
        }
        s.push_str(sign);
        if fill > 0 && !self.left && self.zero {
            s.extend(std::iter::repeat_n('0', fill));
        }
        s.push_str(digits);
        if fill > 0 && self.left {
            s.extend(std::iter::repeat_n(' ', fill));
        }
        s
    }
}

/// A `str.format` spec for a `str` done here: `[ ][<>^][width][.precision][s]`, the
/// fill (if given) a space and the width not starting with `0` (the `0` flag).
fn simple_str_spec(spec: &str) -> Option<TextSpec> {
    let mut rest = spec;
    let mut out = TextSpec {
        left: true, // a str's default alignment
        ..TextSpec::default()
    };
    let align = |c: char| matches!(c, '<' | '>' | '^');
    let mut chars = rest.chars();
    match (chars.next(), chars.next()) {
        (Some(' '), Some(a)) if align(a) => rest = &rest[2..],
        (Some(a), _) if align(a) => rest = &rest[1..],
        _ => {}
    }
    if rest.len() != spec.len() {
        let a = spec[..spec.len() - rest.len()].chars().last()?;
        out.left = a == '<';
        out.centre = a == '^';
    }
    let rest = rest.strip_suffix('s').unwrap_or(rest);
    let (width, precision) = match rest.split_once('.') {
        Some((w, p)) => (w, Some(p)),
        None => (rest, None),
    };
    if width.starts_with('0') || !width.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !width.is_empty() {
        out.width = width.parse().ok().filter(|w| *w <= MAX_WIDTH)?;
    }
    if let Some(p) = precision {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.precision = Some(p.parse().ok()?);
    }
    Some(out)
}
