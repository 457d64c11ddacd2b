"""Hypothesis strategies for test_native_format_props.py: formatters (format strings of
the three styles over every LogRecord attribute, datefmts, converters, the class's
overridable parts) and batches of records (messages and args, extras, exceptions,
stack info, creation times around DST transitions), as plain specs that build the real
objects, so that a falsifying example prints readably.

Nothing here checks anything; the test module compares what is built from these.
"""

from __future__ import annotations

import decimal
import enum
import json
import logging
import os
import random
import re
import struct
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

from hypothesis import strategies as st

# -- record attributes ------------------------------------------------------------------

#: Every attribute a format may name (exc_info is left out: its text is exc_text).
INT_FIELDS = ("levelno", "lineno", "thread", "process")
FLOAT_FIELDS = ("created", "msecs", "relativeCreated")
TEXT_FIELDS = (
    "name",
    "levelname",
    "pathname",
    "filename",
    "module",
    "funcName",
    "threadName",
    "processName",
    "message",
    "asctime",
    "exc_text",
    "stack_info",
)
OTHER_FIELDS = ("msg", "args") + (("taskName",) if sys.version_info >= (3, 12) else ())
STD_FIELDS = INT_FIELDS + FLOAT_FIELDS + TEXT_FIELDS + OTHER_FIELDS
#: Attributes added with ``extra=``: an int, a float, texts (one not an identifier for
#: ``$``), an object. Records carry most of them, not always all.
EXTRA_FIELDS = ("n", "ratio", "user", "req_id", "obj", "ünï")
EXTRA_INT = ("n",)
EXTRA_FLOAT = ("ratio",)
NUMERIC = set(INT_FIELDS + FLOAT_FIELDS + EXTRA_INT + EXTRA_FLOAT)
INTEGRAL = set(INT_FIELDS + EXTRA_INT)
#: Fields ``$``-style can name (ASCII identifiers).
TEMPLATE_FIELDS = tuple(f for f in STD_FIELDS + EXTRA_FIELDS if f.isascii())

# -- text -------------------------------------------------------------------------------

#: Characters that matter to formatting, newline translation and encoding: every
#: style's specials, line breaks of all kinds, NUL, non-Latin-1, astral, combining,
#: and lone surrogates (encodable by no codec).
SPECIAL_CHARS = (
    "aZ09 _-.:/\\'\"#()[]!*<>^=,+"
    "%%%{{{}}}$$$"
    "\t\n\n\r\x0b\x0c\x1c\x85\u2028\x00"
    "éÿ€中😀\u0301ß"
    "\ud800\udfff\udc80"
)
#: Mostly ASCII (with the specials): text that every codec can encode; the rest any
#: code point, surrogates included (strict encoding fails those records on both sides).
SAFE_CHARS = "".join(c for c in SPECIAL_CHARS if c.isascii()) + "abcdefghijklmnopqrstuvwxyz" * 2
_any_char = st.one_of(st.sampled_from(SPECIAL_CHARS), st.characters())
text = st.one_of(
    st.text(st.sampled_from(SAFE_CHARS), max_size=12),
    st.text(st.sampled_from(SAFE_CHARS), max_size=12),
    st.text(st.sampled_from(SAFE_CHARS), max_size=12),
    st.text(_any_char, max_size=12),
)


@dataclass(frozen=True)
class Thing:
    """A message or value that is not a str (``str()`` gives ``text``)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class BadStr:
    """A value whose ``str()`` fails: formatting it must fail on both paths alike."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class Text(str):
    """A str subclass with a str() of its own: ``%s`` and ``{}`` call it, ``%r`` the
    repr, a native fast path for str must not take it for a plain str."""

    def __str__(self) -> str:
        return "T<" + str.__str__(self) + ">"


class Num(int):
    """An int subclass with its own str() and repr(): ``%d`` formats the number,
    ``%s`` and ``{}`` what str() says."""

    def __str__(self) -> str:
        return f"Num<{int(self)}>"

    def __repr__(self) -> str:
        return f"Num({int(self)})"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


#: Values of other types than the attribute normally has, each of which formats its
#: own way (bool, enum, Decimal, subclasses of str and int).
ODD_VALUES = (
    True,
    False,
    Level.HIGH,
    decimal.Decimal("1.50"),
    decimal.Decimal("-0"),
    Text("t"),
    Num(42),
    Num(-7),
    b"bytes",
    ("a", 1),
)


class BraceRecord(logging.LogRecord):
    """A LogRecord subclass with its own getMessage (as str.format-message adapters
    have): Formatter.format calls it for record.message."""

    def getMessage(self) -> str:  # noqa: N802
        return "<" + str(self.msg) + "|" + repr(self.args) + ">"


class DefaultsRecord(logging.LogRecord):
    """A subclass with class attributes: not in the record's __dict__, so a format
    naming them fails in the stdlib (it formats with __dict__, not getattr)."""

    user = "anon"
    n = 7


RECORD_CLASSES = {"LogRecord": logging.LogRecord, "brace": BraceRecord, "defaults": DefaultsRecord}


# -- format strings ---------------------------------------------------------------------


@dataclass
class FormatPiece:
    text: str
    #: False for what a native formatter may reasonably leave to Python (``*`` widths,
    #: ``%(name)%``, attribute/index access, nested or positional fields, a lone
    #: surrogate in the format); datefmts never count.
    core: bool = True


def _escape(literal: str, style: str) -> str:
    if style == "%":
        return literal.replace("%", "%%")
    if style == "{":
        return literal.replace("{", "{{").replace("}", "}}")
    return literal.replace("$", "$$")


#: Literal fragments with a meaning of their own: escapes, and text that contains an
#: ``asctime`` search string without naming the field (stdlib's usesTime() is a
#: substring search, so such formats still set record.asctime).
QUIRKS = {
    "%": ("%%", "%%(asctime)s", "100%% ", "%%(name)s", " %(asctime)", "(asctime)"),
    "{": ("{{", "}}", "{{asctime}}", "{{name}}", "{{asctime"),
    "$": ("$$", "$$asctime", "$${asctime}", "$$name", "$asctimes", "${asctime}x"),
}
#: Fragments that make a format invalid (rejected by validation) or failing at format
#: time (a bare ``%``, ``{0}``): rare, to check both paths fail the same records.
BROKEN = {
    "%": ("%", "%(name)", "%d", "%(name)*s"),
    "{": ("{", "}", "{0}", "{}", "{name!x}"),
    "$": ("$", "$ ", "${name"),
}


#: Attributes that are None in most records.
OFTEN_NONE = {"exc_text", "stack_info", "taskName", "funcName"}


def _text_or_numeric(name: str) -> str:
    return "int" if name in INTEGRAL else "float" if name in NUMERIC else "text"


@st.composite
def percent_field(draw: st.DrawFn, name: str) -> FormatPiece:
    kind = _text_or_numeric(name)
    fitting = {"int": "ddiixXoeEfgG", "float": "ffeEgGdi", "text": "sssra"}[kind]
    if draw(st.integers(0, 19)):
        conv = draw(st.sampled_from(fitting))
    else:
        conv = draw(st.sampled_from("sradiouxXeEfFgGc%"))
    flags = draw(st.text(st.sampled_from("-0+ #"), max_size=3))
    width = draw(st.sampled_from(["", "", "", "1", "5", "12", "03"]))
    prec = draw(st.sampled_from(["", "", "", ".0", ".1", ".3", ".12"]))
    if not draw(st.integers(0, 99)):  # from the arguments: with a mapping, always fails
        width, prec = draw(st.sampled_from([("*", ""), ("", ".*")]))
    length = draw(st.sampled_from([""] * 20 + ["l", "h", "L"]))
    core = "*" not in width + prec
    return FormatPiece(f"%({name}){flags}{width}{prec}{length}{conv}", core)


@st.composite
def format_spec(draw: st.DrawFn, kind: str) -> str:
    """A str.format spec, mostly one that fits a value of ``kind`` (int, float, text)."""
    if not draw(st.integers(0, 19)):
        kind = draw(st.sampled_from(["int", "float", "text"]))  # may not fit
    fill = draw(st.sampled_from(["", "", "", "*", " ", "0", "é", "\u2028"]))
    align = draw(st.sampled_from(["", "", "<", ">", "^"] + (["="] if kind != "text" else [])))
    if not align:
        fill = ""
    width = draw(st.sampled_from(["", "", "1", "6", "15"]))
    prec = draw(st.sampled_from(["", "", "", ".0", ".2", ".5"]))
    if kind == "text":
        return f"{fill}{align}{width}{prec}" + draw(st.sampled_from(["", "", "s"]))
    sign = draw(st.sampled_from(["", "", "", "+", "-", " "]))
    zero = draw(st.sampled_from(["", "", "", "0"]))
    group = draw(st.sampled_from(["", "", "", "", ",", "_"]))
    if kind == "int":
        typ = draw(st.sampled_from(["", "d", "d", "x", "X", "o", "b", "n", "e", "f", "%"]))
        alt = draw(st.sampled_from(["", "", "", "#"]))
        if typ in ("", "d", "x", "X", "o", "b", "n"):
            prec = ""  # not allowed for integers
        if typ == "n" or (typ in "oxXb" and group == ","):
            group = ""
    else:
        typ = draw(st.sampled_from(["", "f", "f", "F", "e", "E", "g", "G", "%", "n"]))
        alt = draw(st.sampled_from(["", "", "", "#"]))
        if typ == "n":
            group = ""
    return f"{fill}{align}{sign}{alt}{zero}{width}{group}{prec}{typ}"


@st.composite
def brace_field(draw: st.DrawFn, name: str) -> FormatPiece:
    kind = _text_or_numeric(name)
    core = True
    ref = name
    if draw(st.integers(0, 30)) == 0:  # attribute/index access
        ref = draw(st.sampled_from([f"{name}.real", "args[0]", "msg.__class__", "args[user]"]))
        core = False
    conversion = draw(st.sampled_from(["", "", "", "", "", "", "!r", "!s", "!a"]))
    spec = ""
    # often None: a spec fails for None (NoneType.__format__), so less often
    if draw(st.integers(0, 9)) < (2 if name in OFTEN_NONE else 5):
        spec = draw(format_spec("text" if conversion else kind))
        if draw(st.integers(0, 30)) == 0:  # nested field in the spec
            spec = draw(st.sampled_from([">{n}", ".{n}", "{n}"]))
            core = False
    text_ = "{" + ref + conversion + (":" + spec if spec else "") + "}"
    return FormatPiece(text_, core)


@st.composite
def template_field(draw: st.DrawFn, name: str) -> FormatPiece:
    return FormatPiece(draw(st.sampled_from([f"${name}", "${" + name + "}"])))


@st.composite
def format_string(
    draw: st.DrawFn, style: str, time_heavy: bool = False
) -> tuple[Optional[str], bool]:
    """A format string for ``style`` (or None/"": the style's default) and whether all
    of it is core (see FormatPiece); with ``time_heavy``, one that names asctime."""
    if not time_heavy and draw(st.integers(0, 40)) == 0:
        return draw(st.sampled_from([None, ""])), True
    names = TEMPLATE_FIELDS if style == "$" else STD_FIELDS + EXTRA_FIELDS
    field_strategy = {"%": percent_field, "{": brace_field, "$": template_field}[style]

    def literal(s: str) -> FormatPiece:
        # after $name, a literal that starts with an identifier character extends the
        # name (and the field is then missing): only now and then
        if style == "$" and s[:1].isascii() and (s[:1].isalnum() or s[:1] == "_"):
            if draw(st.integers(0, 9)):
                s = " " + s
        return FormatPiece(_escape(s, style))

    pieces: list[FormatPiece] = []
    for i in range(draw(st.integers(1, 6))):
        roll = draw(st.integers(0, 199))
        if roll < 50:
            pieces.append(literal(draw(text)))
        elif roll < 60:
            pieces.append(FormatPiece(draw(st.sampled_from(QUIRKS[style]))))
        elif roll < 61:
            pieces.append(FormatPiece(draw(st.sampled_from(BROKEN[style])), core=False))
        # a field, always, between literals
        name = "asctime" if time_heavy and i == 0 else draw(st.sampled_from(names))
        pieces.append(draw(field_strategy(name)))
    if draw(st.booleans()):
        pieces.append(literal(draw(text)))
    fmt = "".join(p.text for p in pieces)
    core = all(p.core for p in pieces) and (style != "%" or _percent_core(fmt))
    # a lone surrogate in the format itself (not in values) may be left to Python
    core = core and not any("\ud800" <= ch <= "\udfff" for ch in fmt)
    return fmt, core


#: A %-spec a native formatter must handle: a key, flags, width, precision, length
#: modifier (ignored by Python), conversion.
_CORE_PERCENT_SPEC = re.compile(r"%\(\w+\)[-0+ #]*\d*(?:\.\d*)?[hlL]?[diouxXeEfFgGcrsa]")


def _percent_core(fmt: str) -> bool:
    """Whether every % in ``fmt`` starts ``%%`` or a core spec (pieces side by side can
    make specs of their own, such as ``%(asctime)%``)."""
    i = fmt.find("%")
    while i >= 0:
        if fmt.startswith("%%", i):
            i = fmt.find("%", i + 2)
            continue
        m = _CORE_PERCENT_SPEC.match(fmt, i)
        if m is None:
            return False
        i = fmt.find("%", m.end())
    return True


# -- datefmt and the formatter ----------------------------------------------------------

#: strftime directives: the common ones (weighted up), more of C99/POSIX, and glibc
#: extensions or unknown ones (passed through by glibc as they are).
DIRECTIVES = "%Y %m %d %H %M %S %j %a %A %b %B %p %Z %z %%".split()
MORE_DIRECTIVES = (
    "%y %I %e %c %x %X %D %F %T %R %U %W %w %u %G %g %V %C %h %n %t %k %l %P %r %s".split()
)
EXOTIC_DIRECTIVES = "%Ey %Od %-d %_H %10Y %^a %#Z %Q %f %+".split()


@st.composite
def strftime_format(draw: st.DrawFn) -> str:
    """A strftime format: directives (glibc's extensions and unknown ones too), text,
    now and then a trailing % or a NUL (time.strftime fails then)."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        roll = draw(st.integers(0, 99))
        if roll < 55:
            parts.append(draw(st.sampled_from(DIRECTIVES)))
        elif roll < 75:
            parts.append(draw(st.sampled_from(MORE_DIRECTIVES)))
        elif roll < 80:
            parts.append(draw(st.sampled_from(EXOTIC_DIRECTIVES)))
        else:
            parts.append(draw(text).replace("%", "%%").replace("\x00", ""))
    if draw(st.integers(0, 50)) == 0:
        parts.append(draw(st.sampled_from(["%", "\x00"])))
    return "".join(parts)


@st.composite
def datefmt(draw: st.DrawFn, time_heavy: bool = False) -> Optional[str]:
    roll = draw(st.integers(0, 9))
    if time_heavy and roll >= 7:
        return draw(st.sampled_from(["%H:%M:%S %Z %z", "%Y-%m-%dT%H:%M:%S%z", "%c %Z", "%s %Z %z"]))
    if roll < 4:
        return None
    if roll == 4:
        return ""  # falsy: the default time format
    return draw(strftime_format())


def _shifted(seconds: float) -> Any:
    return time.gmtime(seconds + 3 * 3600 + 1800)


class AttrsFormatter(logging.Formatter):
    """A subclass that overrides none of format/formatTime/formatMessage/usesTime, only
    class attributes (set per example by FormatterSpec.build on a fresh subclass)."""


class FormatFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return "[" + super().format(record) + "]"


class FormatTimeFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: Optional[str] = None) -> str:  # noqa: N802
        return "T" + super().formatTime(record, datefmt) + "T"


class FormatMessageFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802
        return super().formatMessage(record).swapcase()


class UsesTimeFormatter(logging.Formatter):
    def usesTime(self) -> bool:  # noqa: N802
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        out = {"name": record.name, "level": record.levelname, "message": record.message}
        if self.usesTime():
            out["asctime"] = record.asctime = self.formatTime(record, self.datefmt)
        return json.dumps(out, ensure_ascii=False, default=str)


class ExceptionTextFormatter(logging.Formatter):
    """Overrides only formatException/formatStack, which the contract does not name."""

    def formatException(self, ei: Any) -> str:  # noqa: N802
        return "EXC<" + super().formatException(ei) + ">"

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return "STACK<" + stack_info + ">"


#: Formatter kinds: the class to build, and whether the handler must format natively
#: (True), must not (False), or may do either (None).
KINDS: dict[str, tuple[type, Optional[bool]]] = {
    "plain": (logging.Formatter, True),
    "attrs_subclass": (AttrsFormatter, True),
    "custom_converter": (logging.Formatter, None),
    "exception_text": (ExceptionTextFormatter, None),
    "override_format": (FormatFormatter, False),
    "override_formatTime": (FormatTimeFormatter, False),
    "override_formatMessage": (FormatMessageFormatter, False),
    "override_usesTime": (UsesTimeFormatter, False),
    "json": (JsonFormatter, False),
}
_NOT_SET = "<class default>"
MSEC_FORMATS = (_NOT_SET, None, "%s,%03d", "%s.%03d", "%s.%06.2f", "%s:%d ms", "%s")


@dataclass
class FormatterSpec:
    kind: str
    style: str
    fmt: Optional[str]
    datefmt: Optional[str]
    #: None: the class's; "localtime"/"gmtime"; "shifted" (a Python function).
    converter: Optional[str] = None
    default_time_format: Optional[str] = None  # None: the class's
    default_msec_format: Optional[str] = _NOT_SET
    defaults: Optional[dict[str, Any]] = None
    #: Everything within what a native formatter must handle (see FormatPiece).
    core: bool = True

    def build(self) -> logging.Formatter:
        """The formatter; ValueError when the stdlib rejects the format."""
        cls, _ = KINDS[self.kind]
        where: Any = None
        if self.kind == "attrs_subclass":
            cls = type("Attrs", (AttrsFormatter,), {})  # fresh class: attributes below
            where = cls
        kwargs: dict[str, Any] = {}
        if self.defaults is not None:
            kwargs["defaults"] = self.defaults
        formatter = cls(self.fmt, self.datefmt, self.style, **kwargs)
        if where is None:
            where = formatter
        if self.converter is not None:
            conv = {"localtime": time.localtime, "gmtime": time.gmtime, "shifted": _shifted}
            where.converter = conv[self.converter]  # builtins: no binding on a class
        if self.default_time_format is not None:
            where.default_time_format = self.default_time_format
        if self.default_msec_format != _NOT_SET:
            where.default_msec_format = self.default_msec_format
        return formatter

    @property
    def must_be_native(self) -> Optional[bool]:
        """True/False: what ``handler._native_format is not None`` must be; None: either."""
        expected = KINDS[self.kind][1]
        if expected and (not self.core or self.defaults is not None):
            return None
        return expected


@st.composite
def formatter_spec(draw: st.DrawFn, time_heavy: bool = False) -> FormatterSpec:
    kinds = list(KINDS)
    kind = draw(st.sampled_from(["plain"] * 12 + ["attrs_subclass"] * 3 + kinds))
    style = draw(st.sampled_from("%{$"))
    fmt, core = draw(format_string(style, time_heavy))
    spec = FormatterSpec(kind, style, fmt, draw(datefmt(time_heavy)), core=core)
    if kind == "custom_converter":
        spec.converter = "shifted"
    else:
        spec.converter = draw(st.sampled_from([None, None, "localtime", "gmtime"]))
    if draw(st.integers(0, 3)) == 0:
        spec.default_time_format = draw(strftime_format())
    if draw(st.integers(0, 3)) == 0:
        spec.default_msec_format = draw(st.sampled_from(MSEC_FORMATS))
    if sys.version_info >= (3, 10) and draw(st.integers(0, 9)) == 0:
        spec.defaults = draw(
            st.dictionaries(st.sampled_from(EXTRA_FIELDS), st.one_of(st.integers(), text))
        )
    return spec


# -- time zones -------------------------------------------------------------------------

#: Zones with DST (northern, southern, half-hour Lord Howe, negative-DST Dublin),
#: without (Kolkata +5:30), odd offsets (St John's, Chatham), POSIX rule strings, and
#: one unknown name (glibc: UTC under that name). None keeps the process's TZ.
ZONES = (
    None,
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
    "EST5EDT,M3.2.0,M11.1.0",
    "<+0330>-3:30",
    "Nowhere/Invalid",
)
CAN_SET_TZ = hasattr(time, "tzset")


def zone_available(zone: Optional[str]) -> bool:
    if zone is None:
        return True
    if not CAN_SET_TZ:
        return False
    if "/" in zone and zone != "Nowhere/Invalid":
        return os.path.exists(os.path.join("/usr/share/zoneinfo", zone))
    return True


AVAILABLE_ZONES = tuple(z for z in ZONES if zone_available(z))


@contextmanager
def timezone(zone: Optional[str]) -> Iterator[None]:
    """Run under ``TZ=zone`` (tzset), restoring the previous TZ after; None: as is."""
    if zone is None:
        yield
        return
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


#: Years scanned for transitions: the epoch's, recent ones, both sides of 2038 (32-bit
#: time_t, and where zoneinfo files switch to their POSIX rule).
TRANSITION_YEARS = (1971, 2021, 2024, 2037, 2038, 2040)


@lru_cache(maxsize=None)
def transitions(zone: Optional[str]) -> tuple[float, ...]:
    """The instants (to the second) where the UTC offset of ``zone`` changes in
    TRANSITION_YEARS; empty without DST (or TZ cannot be set)."""
    if zone is None or not CAN_SET_TZ:
        return ()
    found = []
    with timezone(zone):
        for year in TRANSITION_YEARS:
            start = int(time.mktime((year, 1, 1, 0, 0, 0, 0, 0, -1)))
            prev_t, prev = start, time.localtime(start).tm_gmtoff
            for day in range(1, 367):
                t = start + day * 86400
                off = time.localtime(t).tm_gmtoff
                if off != prev:
                    lo, hi = prev_t, t  # offset(lo) == prev != offset(hi)
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        if time.localtime(mid).tm_gmtoff == prev:
                            lo = mid
                        else:
                            hi = mid
                    found.append(float(hi))
                prev_t, prev = t, off
    return tuple(found)


# -- records ----------------------------------------------------------------------------


def _exc_info(make: Any) -> Any:
    try:
        make()
    except BaseException:  # noqa: BLE001
        return sys.exc_info()
    raise AssertionError("did not raise")


def _raise(exc: BaseException) -> None:
    raise exc


def _chained() -> None:
    try:
        {}["missing"]
    except KeyError as e:
        raise RuntimeError("while looking up\nsecond line") from e


class _BadStrError(Exception):
    def __str__(self) -> str:
        raise TypeError("unprintable")


#: Real exc_info tuples (tracebacks in this file), made once.
EXC_INFOS = {
    "value_error": _exc_info(lambda: _raise(ValueError("bad value é 中"))),
    "chained": _exc_info(_chained),
    "surrogate": _exc_info(lambda: _raise(OSError("name \ud800 here"))),
    "unprintable": _exc_info(lambda: _raise(_BadStrError())),
    "no_message": _exc_info(lambda: _raise(ZeroDivisionError())),
}
LEVELS = (0, 5, 10, 20, 25, 30, 40, 50, 60)


@dataclass
class RecordSpec:
    """A LogRecord; ``build`` makes it with LogRecord(), then sets the attributes
    LogRecord() takes from the clock and the process explicitly."""

    name: str
    level: int
    pathname: str
    lineno: int
    msg: Any
    args: Any
    func: Optional[str]
    created: float
    msecs: float
    relative_created: float
    thread: Optional[int]
    thread_name: Optional[str]
    process: Optional[int]
    process_name: Optional[str]
    exc: Optional[str] = None  # a key of EXC_INFOS
    exc_text: Optional[str] = None
    stack_info: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)
    cls: str = "LogRecord"  # a key of RECORD_CLASSES

    def build(self) -> logging.LogRecord:
        args = self.args
        record = RECORD_CLASSES[self.cls](
            self.name,
            self.level,
            self.pathname,
            self.lineno,
            self.msg,
            args,
            EXC_INFOS[self.exc] if self.exc else None,
            func=self.func,
            sinfo=self.stack_info,
        )
        record.created = self.created
        record.msecs = self.msecs
        record.relativeCreated = self.relative_created
        record.thread = self.thread
        record.threadName = self.thread_name
        record.process = self.process
        record.processName = self.process_name
        if self.exc_text is not None:
            record.exc_text = self.exc_text
        record.__dict__.update(self.extra)
        return record


def _odd_attribute(c: Chooser, spec: RecordSpec) -> None:
    """Now and then a standard attribute (set by logging to a str or number) holds a
    value of another type, through ``extra``: a native formatter must format it as
    Python does, or leave it to Python."""
    if c.integer(0, 9) == 0:
        name = c.choice(
            (
                "name",
                "levelname",
                "lineno",
                "levelno",
                "funcName",
                "thread",
                "process",
                "msecs",
                "created",
                "relativeCreated",
            )
        )
        spec.extra[name] = c.choice(ODD_VALUES + (None, 3.5, -1, "text"))


class Chooser:
    """The choices a record is made of. Two drivers: :class:`DrawChooser` (hypothesis:
    shrinkable, slow, for a few records per example) and :class:`RandomChooser` (a
    seeded random.Random drawn by hypothesis: fast, for the bulk of each batch)."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, options: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def any_integer(self) -> int:
        raise NotImplementedError

    def real(self, lo: Optional[float] = None, hi: Optional[float] = None) -> float:
        """Within [lo, hi] if given; else any float, nan and infinities included."""
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError


class DrawChooser(Chooser):
    _strategies: dict[Any, st.SearchStrategy[Any]] = {}

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def _s(self, key: Any, make: Any) -> Any:
        s = self._strategies.get(key)
        if s is None:
            s = self._strategies[key] = make()
        return self.draw(s)

    def integer(self, lo: int, hi: int) -> int:
        return self._s(("int", lo, hi), lambda: st.integers(lo, hi))

    def choice(self, options: tuple[Any, ...]) -> Any:
        return self._s(("choice", options), lambda: st.sampled_from(options))

    def any_integer(self) -> int:
        return self._s("any_int", lambda: st.one_of(st.integers(-(10**6), 10**6), st.integers()))

    def real(self, lo: Optional[float] = None, hi: Optional[float] = None) -> float:
        if lo is None or hi is None:
            return self._s("any_float", lambda: st.one_of(st.floats(-1e9, 1e9), st.floats()))
        return self._s(("float", lo, hi), lambda: st.floats(lo, hi))

    def text(self) -> str:
        return self.draw(text)


#: Floats the random driver mixes in: signed zero, nan, infinities, extremes.
ODD_FLOATS = (
    0.0,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    5e-324,
    1.7976931348623157e308,
    0.1,
    1e16,
    -2.5,
)


class RandomChooser(Chooser):
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: tuple[Any, ...]) -> Any:
        return self.rng.choice(options)

    def any_integer(self) -> int:
        roll = self.rng.random()
        if roll < 0.6:
            return self.rng.randint(-1000, 10**6)
        if roll < 0.9:
            return self.rng.randint(-(2**63), 2**64)
        return self.rng.randint(-(10**30), 10**30)

    def real(self, lo: Optional[float] = None, hi: Optional[float] = None) -> float:
        if lo is not None and hi is not None:
            return self.rng.uniform(lo, hi)
        roll = self.rng.random()
        if roll < 0.15:
            return self.rng.choice(ODD_FLOATS)
        if roll < 0.7:
            return self.rng.uniform(-1e6, 1e6)
        return struct.unpack("<d", self.rng.getrandbits(64).to_bytes(8, "little"))[0]

    def text(self) -> str:
        out = []
        for _ in range(self.rng.choice((0, 1, 3, 5, 8, 12))):
            roll = self.rng.random()
            if roll < 0.75:
                out.append(self.rng.choice(SAFE_CHARS))
            elif roll < 0.88:
                out.append(self.rng.choice(SPECIAL_CHARS))
            else:  # any code point: surrogates, unassigned, astral
                out.append(
                    chr(
                        self.rng.choice(
                            (self.rng.randint(0x80, 0x7FF), self.rng.randint(0, 0x10FFFF))
                        )
                    )
                )
        return "".join(out)


def _arg_value(c: Chooser) -> Any:
    kind = c.choice(("text", "text", "int", "float", "thing", "none", "odd"))
    if kind == "odd":
        return c.choice(ODD_VALUES)
    if kind == "text":
        return c.text()
    if kind == "int":
        return c.any_integer()
    if kind == "float":
        return c.real()
    if kind == "thing":
        return Thing(c.text())
    return None


#: Placeholders for an argument: ones that fit its type.
_HOLDERS_NUMBER = ("%s", "%d", "%5.2f", "%r", "%-6d", "%+.3e")
_HOLDERS = {
    "int": _HOLDERS_NUMBER + ("%x", "%o"),
    "float": _HOLDERS_NUMBER,
    "odd_float": ("%s", "%r", "%f"),
    "other": ("%s", "%s", "%r", "%a", "%-4s", "%.3s"),
}


def _message(c: Chooser) -> tuple[Any, Any]:
    """(msg, args): mostly a template with a fitting placeholder for each arg; also %
    signs without args, a dict arg, non-str messages, args that fail."""
    roll = c.integer(0, 99)
    if roll < 8:  # not a str
        return (c.any_integer() if c.integer(0, 2) else c.real()) if roll < 5 else Thing(
            c.text()
        ), None
    if roll < 16:  # mapping args
        arg = {"user": c.text(), "n": c.any_integer()}
        return _escape(c.text(), "%") + "%(user)s/%(n)d" + _escape(c.text(), "%"), (arg,)
    if roll < 30:  # no args: any % sign in msg is literal
        return c.text(), c.choice((None, ()))
    args = [_arg_value(c) for _ in range(c.integer(0, 3))]
    holders = []
    for a in args:
        if isinstance(a, int):
            fits = "int"
        elif isinstance(a, float):
            fits = "float" if a == a and abs(a) < 1e300 else "odd_float"
        else:
            fits = "other"
        holders.append(c.choice(_HOLDERS[fits]))
    if roll < 33:  # a mismatch: an arg too many or too few, or one that fails
        change = c.choice(("more", "fewer", "badstr", "wrongtype"))
        if change == "more":
            holders.append("%s")
        elif change == "fewer" and holders:
            holders.pop()
        elif change == "badstr":
            args.append(BadStr())
            holders.append("%s")
        else:
            args.append("text")
            holders.append("%d")
    parts = [_escape(c.text(), "%")]
    for h in holders:
        parts += [h, _escape(c.text(), "%")]
    if c.integer(0, 9) == 0:
        parts.append("%%")
    return "".join(parts), tuple(args)


EDGE_TIMES = (
    0.0,
    -0.5,
    -1.0,
    1e-7,
    0.9999999,
    2**31 - 0.25,
    2**31 + 0.5,
    253402300799.999,  # 9999-12-31T23:59:59
    253402300800.0,  # year 10000
    -62135596800.0,  # year 1
    float("nan"),
    float("inf"),
    1e20,  # out of time_t
)


def _created(c: Chooser, zone: Optional[str], near_share: int) -> float:
    """Mostly (``near_share`` %) within two hours of one of the zone's transitions, if
    it has any; else an edge case or any instant from 1901 to 2103."""
    near = transitions(zone)
    roll = c.integer(0, 99)
    if near and roll < near_share:
        offset = c.integer(-7200, 7200) if c.integer(0, 1) else c.real(-7200.0, 7200.0)
        return c.choice(near) + offset
    if roll < 55:
        return c.choice(EDGE_TIMES)
    return c.real(-(2.0**31), 4.2e9)


def _msecs(c: Chooser, created: float) -> float:
    """As LogRecord computes it (either way), or anything, or odd."""
    roll = c.integer(0, 19)
    if roll < 8 and created == created and abs(created) < 1e15:
        return (created - int(created)) * 1000  # Python <= 3.11
    if roll < 14 and created == created and abs(created) < 1e15:
        return int((created - int(created)) * 1000) + 0.0  # Python 3.12
    if roll < 19:
        return c.real(0.0, 999.9999999)
    return c.choice((999.9999999, 1000.0, -1.0, -0.0, float("nan")))


def _or_none(c: Chooser, value: Any) -> Any:
    """``value``, or now and then None (as logging sets thread, process... when
    disabled)."""
    return None if c.integer(0, 7) == 0 else value


def _common_or_text(c: Chooser, common: tuple[str, ...]) -> str:
    return c.choice(common) if c.integer(0, 1) else c.text()


def _extra_value(c: Chooser, name: str) -> Any:
    if c.integer(0, 19) == 0:
        return c.choice(ODD_VALUES)
    if name == "n":
        return c.integer(-5, 40)
    if name == "ratio":
        return c.real()
    if name == "req_id":
        return c.integer(0, 10**9) if c.integer(0, 1) else c.text()
    if name == "obj":
        roll = c.integer(0, 9)
        return BadStr() if roll == 0 else None if roll == 1 else Thing(c.text())
    return c.text()


def make_record(
    c: Chooser, zone: Optional[str], extras: tuple[str, ...], near_share: int
) -> RecordSpec:
    """A record: every attribute drawn through ``c``."""
    msg, args = _message(c)
    created = _created(c, zone, near_share)
    roll = c.integer(0, 9)
    exc = c.choice(tuple(sorted(EXC_INFOS))) if roll == 0 else None
    exc_text = c.text() if roll == 1 else c.choice(("", "tb\n", None)) if roll == 2 else None
    stack = None
    if c.integer(0, 9) == 0:
        stack = c.text() if c.integer(0, 1) else "Stack (most recent call last):\n  x\n"
    extra = {name: _extra_value(c, name) for name in extras if c.integer(0, 19)}  # mostly all
    spec = RecordSpec(
        name=_common_or_text(c, ("root", "app.db", "a.b.c")),
        level=c.choice(LEVELS),
        pathname=_common_or_text(c, ("/srv/app/main.py", "x.py", "")),
        lineno=c.integer(0, 5000) if c.integer(0, 1) else c.any_integer(),
        msg=msg,
        args=args,
        func=_or_none(c, _common_or_text(c, ("handler", "<module>"))),
        created=created,
        msecs=_msecs(c, created),
        relative_created=c.real(-1e12, 1e12),
        thread=_or_none(c, c.integer(0, 2**64 - 1)),
        thread_name=_or_none(c, _common_or_text(c, ("MainThread",))),
        process=_or_none(c, c.integer(0, 2**22)),
        process_name=_or_none(c, _common_or_text(c, ("MainProcess",))),
        exc=exc,
        exc_text=exc_text,
        stack_info=stack,
        extra=extra,
        cls="LogRecord" if c.integer(0, 9) else c.choice(tuple(RECORD_CLASSES)),
    )
    _odd_attribute(c, spec)
    return spec


# -- output options ---------------------------------------------------------------------

ENCODINGS = (None, "utf-8", "latin-1", "ascii", "cp1252", "utf-16", "utf-8-sig")
POLICIES = ("ignore", "replace", "strict")
#: (newline, terminator) pairs: default translation, CRLF, none, CR, and a terminator
#: other than a bare newline.
LINE_ENDINGS = ((None, "\n"), ("\r\n", "\n"), ("", "\r\n"), ("\r", "\n"), ("\n", " <EOL>\n"))


@dataclass(frozen=True)
class OutputSpec:
    encoding: Optional[str]
    policy: str
    newline: Optional[str]
    terminator: str


@st.composite
def output_spec(draw: st.DrawFn) -> OutputSpec:
    newline, terminator = draw(st.sampled_from(LINE_ENDINGS))
    return OutputSpec(
        draw(st.sampled_from(ENCODINGS)), draw(st.sampled_from(POLICIES)), newline, terminator
    )


@dataclass
class Example:
    out: OutputSpec
    formatter: FormatterSpec
    zone: Optional[str]
    records: list[RecordSpec]


@st.composite
def example(
    draw: st.DrawFn,
    bulk_records: int = 40,
    zones: tuple[Optional[str], ...] = AVAILABLE_ZONES,
    time_heavy: bool = False,
) -> Example:
    """One formatter, one output configuration, one time zone, a batch of records;
    ``time_heavy``: a format naming asctime, records mostly near DST transitions."""
    spec = draw(formatter_spec(time_heavy))
    zone = draw(st.sampled_from(zones))
    extras = tuple(
        draw(st.lists(st.sampled_from(EXTRA_FIELDS), unique=True, max_size=len(EXTRA_FIELDS)))
    )
    if draw(st.integers(0, 9)):  # mostly, the extras the format names are there
        extras = tuple(sorted(set(extras) | {f for f in EXTRA_FIELDS if f in (spec.fmt or "")}))
    near_share = 90 if time_heavy else 50
    # a few records drawn by hypothesis (shrinkable), the bulk from a drawn seed
    drawn = DrawChooser(draw)
    records = [make_record(drawn, zone, extras, near_share) for _ in range(draw(st.integers(1, 3)))]
    bulk = RandomChooser(draw(st.integers(0, 2**32 - 1)))
    count = draw(st.integers(bulk_records // 2, bulk_records))
    records += [make_record(bulk, zone, extras, near_share) for _ in range(count)]
    return Example(draw(output_spec()), spec, zone, records)
