//! The plan: what a formatter's attributes say about formatting a record, read once,
//! and the attributes it was read from (checked again for every record).
//!
//! A formatter is formatted natively when it is a `logging.Formatter` (or a subclass)
//! whose `format`, `formatTime`, `formatMessage` and `usesTime` are the stdlib's
//! (by module, qualified name and no `__wrapped__`; not overridden on the instance),
//! its `_style` is exactly `PercentStyle`, `StrFormatStyle` or `StringTemplateStyle`,
//! its `_style._fmt` is a `str` the style's parser accepts (`parse.rs`), `_defaults`
//! (3.10+) is empty or a `dict`, a `$` style's `_tpl` is a plain `string.Template` of
//! that same format, and, when the format uses the time, `datefmt` is `None` or a
//! `str`, `default_time_format` a `str`, `default_msec_format` `None` or a `str`.
//! Anything else is a plan that says why not: the formatter's own `format` is used.
//!
//! Every attribute the plan read is watched: for each record the formatter's
//! `_style`, the style's `_fmt` (and `_defaults`, `_tpl`), and when the time is used
//! `datefmt`, `converter`, `default_time_format` and `default_msec_format` are
//! compared by identity with the values planned from, as `Formatter.format` would
//! read them: an attribute found in the instance dict (and not intercepted by the
//! class) by a lookup in that dict, anything else, class attributes included, by
//! `getattr` (`Formatter.converter = time.gmtime` is seen). Any change makes a new
//! plan. An attribute that is not the same object at two reads in a row (a property
//! building a new one) is not watched, and its formatter keeps the Python path. Not
//! watched: methods replaced on the class after planning, the template text inside a
//! `$` style's `Template`, `logging._defaultFormatter` swapped.

use super::parse::{self, Part, Style};
use super::render::Render;
use super::time::{Msec, TimeCache, TimePlan, STOCK_MSEC_FORMAT};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};
use std::sync::Mutex;

/// One check of a watched attribute.
enum Watched {
    /// `owner.__dict__.get(name) is value`, for an attribute that lives in the
    /// instance dict when nothing on the class intercepts it (`__getattribute__`,
    /// `__getattr__`, a data descriptor): a borrowed dict lookup, the cheap check.
    Entry {
        dict: Py<PyDict>,
        name: Py<PyString>,
        value: Py<PyAny>,
    },
    /// `getattr(owner, name) is value` (for a class attribute too: one lookup that
    /// misses the instance dict and finds the class's).
    Attr {
        owner: Py<PyAny>,
        name: Py<PyString>,
        value: Py<PyAny>,
    },
}

impl Watched {
    fn holds(&self, py: Python<'_>) -> bool {
        match self {
            Watched::Entry { dict, name, value } => {
                // SAFETY: valid dict and key; the result is borrowed (compared, never
                // used); NULL with an exception set is an error, cleared here.
                let found = unsafe { ffi::PyDict_GetItemWithError(dict.as_ptr(), name.as_ptr()) };
                // SAFETY: a plain query of this thread's exception state.
                if found.is_null() && !unsafe { ffi::PyErr_Occurred() }.is_null() {
                    drop(PyErr::take(py));
                    return false;
                }
                found == value.as_ptr()
            }
            Watched::Attr { owner, name, value } => owner
                .bind(py)
                .getattr(name.bind(py))
                .is_ok_and(|v| v.is(value)),
        }
    }
}

pub(crate) struct Plan {
    watched: Vec<Watched>,
    /// The native plan, or why the formatter's own `format` is used.
    pub native: Result<Native, String>,
}

/// A formatter's format, ready to render records.
pub(crate) struct Native {
    pub style: Style,
    pub pieces: Vec<Piece>,
    /// `Some` when the format uses the time (`usesTime()`).
    pub time: Option<TimePlan>,
    /// The style's `_defaults` when not empty (3.10+).
    pub defaults: Option<Py<PyDict>>,
    /// `logging.LogRecord`: its instances' attributes are read from their `__dict__`.
    pub log_record: Py<PyType>,
    /// `LogRecord.getMessage` is the stdlib's: its result may be computed here.
    pub stock_get_message: bool,
    pub caches: Mutex<Caches>,
}

pub(crate) enum Piece {
    Literal(Py<PyString>),
    Field {
        key: Py<PyString>,
        render: Render,
        /// The key is `message` or `asctime`: for an exact `LogRecord`, the value just
        /// set is the one in its `__dict__`.
        set_here: Option<SetHere>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetHere {
    Message,
    Asctime,
}

/// What is kept between records (only used when not held by another caller).
pub(crate) struct Caches {
    pub time: TimeCache,
    /// Per piece: the last plain `int` rendered, `(value, text)`.
    pub ints: Vec<Option<(i64, Py<PyString>)>>,
}

impl Plan {
    /// Read `formatter` and plan its format.
    pub fn new(py: Python<'_>, formatter: &Bound<'_, PyAny>) -> Plan {
        let mut watched = Vec::new();
        let native = build(py, formatter, &mut watched);
        Plan { watched, native }
    }

    /// Whether every watched attribute is still the object planned from (checked in
    /// the order read: the style's attributes only matter while `_style` holds).
    pub fn current(&self, py: Python<'_>) -> bool {
        self.watched.iter().all(|w| w.holds(py))
    }
}

/// Read `owner.<name>` (twice: it must be the same object) and watch it.
fn watch<'py>(
    watched: &mut Vec<Watched>,
    owner: &Bound<'py, PyAny>,
    name: &str,
) -> Result<Bound<'py, PyAny>, String> {
    let py = owner.py();
    let key = PyString::intern(py, name);
    let value = owner.getattr(&key).map_err(|e| format!("{name}: {e}"))?;
    let again = owner.getattr(&key).map_err(|e| format!("{name}: {e}"))?;
    if !value.is(&again) {
        return Err(format!("{name} is a new object at each read"));
    }
    watched.push(match instance_dict(owner, &key) {
        Some(dict)
            if dict
                .get_item(&key)
                .ok()
                .flatten()
                .is_some_and(|v| v.is(&value)) =>
        {
            Watched::Entry {
                dict: dict.unbind(),
                name: key.unbind(),
                value: value.clone().unbind(),
            }
        }
        _ => Watched::Attr {
            owner: owner.clone().unbind(),
            name: key.unbind(),
            value: value.clone().unbind(),
        },
    });
    Ok(value)
}

/// The instance dict of `owner`, when attribute access on it is the generic one for
/// `name`: `object.__getattribute__`, no `__getattr__`, and no data descriptor `name`
/// on the class. `None` otherwise.
fn instance_dict<'py>(
    owner: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyDict>> {
    let py = owner.py();
    let cls = owner.get_type();
    let object = py.get_type::<pyo3::types::PyAny>();
    let generic = cls
        .getattr("__getattribute__")
        .ok()?
        .is(&object.getattr("__getattribute__").ok()?);
    if !generic || cls.hasattr("__getattr__").unwrap_or(true) {
        return None;
    }
    if let Some(on_class) = cls.getattr_opt(name).ok()? {
        let descr = on_class.get_type();
        if descr.hasattr("__set__").unwrap_or(true) || descr.hasattr("__delete__").unwrap_or(true) {
            return None;
        }
    }
    owner
        .getattr("__dict__")
        .ok()?
        .cast_into_exact::<PyDict>()
        .ok()
}

/// Whether `cls.<name>` is the stdlib's `<owner>.<name>` from module `logging`.
fn stdlib_method(cls: &Bound<'_, PyAny>, owner: &str, name: &str) -> bool {
    let Ok(method) = cls.getattr(name) else {
        return false;
    };
    let attr = |a: &str| method.getattr(a).and_then(|v| v.extract::<String>()).ok();
    attr("__module__").as_deref() == Some("logging")
        && attr("__qualname__") == Some(format!("{owner}.{name}"))
        && !method.hasattr("__wrapped__").unwrap_or(true)
}

fn exact_str<'py>(value: &Bound<'py, PyAny>, what: &str) -> Result<Bound<'py, PyString>, String> {
    value
        .cast_exact::<PyString>()
        .cloned()
        .map_err(|_| format!("{what} is not a str"))
}

fn text(s: &Bound<'_, PyString>, what: &str) -> Result<String, String> {
    s.to_cow()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{what} is not encodable text"))
}

fn build(
    py: Python<'_>,
    f: &Bound<'_, PyAny>,
    watched: &mut Vec<Watched>,
) -> Result<Native, String> {
    let err = |e: PyErr| e.to_string();
    let logging = py.import("logging").map_err(err)?;
    let cls = f.get_type();
    let instance = f.getattr("__dict__").ok();
    for name in ["format", "formatTime", "formatMessage", "usesTime"] {
        if !stdlib_method(cls.as_any(), "Formatter", name) {
            return Err(format!("Formatter.{name} is overridden"));
        }
        if let Some(d) = instance.as_ref().and_then(|d| d.cast::<PyDict>().ok()) {
            if d.contains(name).unwrap_or(true) {
                return Err(format!("{name} is set on the formatter"));
            }
        }
    }

    let style_obj = watch(watched, f, "_style")?;
    let style_cls = style_obj.get_type();
    let style = [
        ("PercentStyle", Style::Percent),
        ("StrFormatStyle", Style::Brace),
        ("StringTemplateStyle", Style::Dollar),
    ]
    .into_iter()
    .find(|(name, _)| logging.getattr(*name).is_ok_and(|c| style_cls.is(&c)))
    .map(|(_, s)| s)
    .ok_or("the style is not one of logging's")?;
    let fmt_obj = exact_str(&watch(watched, &style_obj, "_fmt")?, "_fmt")?;
    let fmt = text(&fmt_obj, "_fmt")?;

    let defaults = match style_obj.getattr_opt("_defaults").map_err(err)? {
        None => None,
        Some(_) => {
            let d = watch(watched, &style_obj, "_defaults")?;
            if d.is_none() || !d.is_truthy().map_err(err)? {
                None
            } else {
                Some(
                    d.cast_exact::<PyDict>()
                        .map_err(|_| "_defaults is not a dict")?
                        .clone()
                        .unbind(),
                )
            }
        }
    };
    if style == Style::Dollar {
        let tpl = watch(watched, &style_obj, "_tpl")?;
        let template = py
            .import("string")
            .and_then(|m| m.getattr("Template"))
            .map_err(err)?;
        if !tpl.get_type().is(&template) {
            return Err("_tpl is not a string.Template".into());
        }
        if !tpl.getattr("template").is_ok_and(|t| t.is(&fmt_obj)) {
            return Err("_tpl is not the template of _fmt".into());
        }
    }

    let parts = parse::parse(style, &fmt)?;
    let time = if style.uses_time(&fmt) {
        Some(time_plan(py, f, watched)?)
    } else {
        None
    };

    let log_record = logging
        .getattr("LogRecord")
        .and_then(|c| Ok(c.cast_into::<PyType>()?))
        .map_err(err)?;
    let stock_get_message = stdlib_method(log_record.as_any(), "LogRecord", "getMessage");
    let pieces: Vec<Piece> = parts
        .into_iter()
        .map(|part| match part {
            Part::Literal(s) => Piece::Literal(PyString::new(py, &s).unbind()),
            Part::Field(field) => Piece::Field {
                set_here: match field.key.as_str() {
                    "message" => Some(SetHere::Message),
                    "asctime" if time.is_some() => Some(SetHere::Asctime),
                    _ => None,
                },
                key: PyString::intern(py, &field.key).unbind(),
                render: Render::new(py, &field.spec),
            },
        })
        .collect();
    let caches = Caches {
        time: TimeCache::default(),
        ints: pieces.iter().map(|_| None).collect(),
    };
    Ok(Native {
        style,
        pieces,
        time,
        defaults,
        log_record: log_record.unbind(),
        stock_get_message,
        caches: Mutex::new(caches),
    })
}

fn time_plan(
    py: Python<'_>,
    f: &Bound<'_, PyAny>,
    watched: &mut Vec<Watched>,
) -> Result<TimePlan, String> {
    let err = |e: PyErr| e.to_string();
    let datefmt = watch(watched, f, "datefmt")?;
    let converter = watch(watched, f, "converter")?;
    let time = py.import("time").map_err(err)?;
    let by_second = ["localtime", "gmtime"]
        .into_iter()
        .any(|name| time.getattr(name).is_ok_and(|c| c.is(&converter)));
    let datefmt = if datefmt.is_none() {
        None
    } else {
        let d = exact_str(&datefmt, "datefmt")?;
        d.is_truthy().map_err(err)?.then_some(d)
    };
    let (strftime_format, msec) = match datefmt {
        Some(d) => (d, Msec::None),
        None => {
            let dtf = exact_str(
                &watch(watched, f, "default_time_format")?,
                "default_time_format",
            )?;
            let dmf = watch(watched, f, "default_msec_format")?;
            let msec = if dmf.is_none() {
                Msec::None
            } else {
                let dmf = exact_str(&dmf, "default_msec_format")?;
                match text(&dmf, "default_msec_format")?.as_str() {
                    "" => Msec::None,
                    STOCK_MSEC_FORMAT => Msec::Stock,
                    _ => Msec::Other(dmf.unbind()),
                }
            };
            (dtf, msec)
        }
    };
    Ok(TimePlan {
        strftime_format: strftime_format.unbind(),
        msec,
        converter: converter.unbind(),
        by_second,
    })
}
