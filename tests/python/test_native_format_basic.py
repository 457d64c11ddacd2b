"""Native formatting, by example: a plain ``logging.Formatter`` is applied in Rust
(``_clh.RecordFormat``) with exactly the stdlib's result.

Each check formats a record with the formatter (the Python path) and a copy of it
natively, and compares the text and the record's ``__dict__`` afterwards; handler
tests compare the bytes our handler writes with a ``logging.FileHandler``'s. The
property tests (test_native_format_props.py) cover the same ground at random.
"""

from __future__ import annotations

import copy
import io
import logging
import logging.config
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)
from concurrent_log_handler._clh import RecordFormat
from concurrent_log_handler._format import native_format_for

CREATED = 1_700_000_000.123456  # 2023-11-14 22:13:20 UTC


def record(
    msg: Any = "hello %s",
    args: Any = ("world",),
    *,
    level: int = logging.INFO,
    exc_info: Any = None,
    extra: Optional[dict[str, Any]] = None,
    stack_info: bool = False,
    created: Optional[float] = None,
) -> logging.LogRecord:
    logger = logging.getLogger("app.native")
    r = logger.makeRecord(
        logger.name, level, "/src/app.py", 42, msg, args, exc_info, "func", extra, None
    )
    if stack_info:
        r.stack_info = "Stack (most recent call last):\n  File 'x', line 1, in <module>"
    if created is not None:
        r.created = created
        r.msecs = (created - int(created)) * 1000
    return r


def same(formatter: logging.Formatter, r: logging.LogRecord) -> str:
    """Format ``r`` natively and a copy with the formatter; both must agree, records
    included. Returns the text."""
    native = RecordFormat.from_formatter(formatter)
    assert native.native
    expected_record = copy.copy(r)
    expected = formatter.format(expected_record)
    got = native.format(r)
    assert got == expected
    assert type(got) is str
    assert r.__dict__ == expected_record.__dict__
    assert native.fallbacks == 0  # formatted natively, not by the formatter
    return got


# -- formats ----------------------------------------------------------------------------

PERCENT_FORMATS = [
    "%(message)s",
    "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s",
    "%(asctime)s - %(name)s - %(levelname)-8s - %(message)s",
    "[%(levelname)8s] %(name)-12s|%(name).3s|%(funcName)s:%(lineno)5d %(message)s",
    "%(created)f %(created).3f %(created).0f %(created)12.2f %(created)-14.1f| %(created)+f",
    "%(msecs)03d %(msecs)d %(msecs)5.1f %(relativeCreated)d %(relativeCreated)08.2f",
    "%(levelno)d %(levelno)+d %(levelno) d %(levelno)05d %(levelno)-5d| %(levelno)i %(levelno)u",
    "%(levelno)x %(levelno)#x %(levelno)X %(levelno)o %(levelno)e %(levelno)g %(levelno)c",
    "%(name)r %(name)a %(msg)r %(args)s %(args)r %(name)10r %(name)-10a|",
    "%(thread)d %(threadName)s %(process)d %(processName)s %(module)s %(filename)s %(pathname)s",
    "100%% %(message)s %%(not a field)s %(name)ls %(levelno)hd %(levelno)Ld",
    "%(name)05s %(name)#s %(name).s %(name)+s %(name) 5s",
    "%(a(b)c)s",
    "no fields at all, 100%%",
]


@pytest.mark.parametrize("fmt", PERCENT_FORMATS)
def test_percent_style(fmt: str) -> None:
    r = record(extra={"a(b)c": "nested key"})
    same(logging.Formatter(fmt, validate=False), r)


BRACE_FORMATS = [
    "{message}",
    "{asctime} {process} {levelname} {name} {message}",
    "{levelname:>10}|{levelname:<10}|{levelname:^9}|{levelname:10}|{levelname:.2}|{levelname:^7.3s}",
    "{name!r} {name!s} {name!a} {name!r:>20} {msg!r:.4}",
    "{created:.3f} {created} {msecs:03.0f} {levelno:03d} {levelno:x} {levelno:>5} {levelno:,}",
    "{{literal}} {{{message}}} }}{{",
    "{levelname:*^11} {levelname:0>8} {levelname: >8} {levelname: <8}| {levelname:s}",
    "{args} {exc_info} {lineno:=+6}",
]


@pytest.mark.parametrize("fmt", BRACE_FORMATS)
def test_brace_style(fmt: str) -> None:
    same(logging.Formatter(fmt, style="{", validate=False), record())


DOLLAR_FORMATS = [
    "${message}",
    "$asctime $process $levelname $name $message",
    "$$ ${name}x $name.x $levelno$$ ${asctime}",
    "$msecs $created $args",
]


@pytest.mark.parametrize("fmt", DOLLAR_FORMATS)
def test_dollar_style(fmt: str) -> None:
    same(logging.Formatter(fmt, style="$", validate=False), record())


def test_uses_time_as_the_stdlib_decides() -> None:
    """``{{asctime}}`` and ``$asctimex`` count as using the time: asctime is set."""
    for fmt, style, extra in [
        ("{{asctime}} {message}", "{", None),
        ("$asctimex", "$", {"asctimex": 1}),
        ("%(message)s", "%", None),
    ]:
        r = record(extra=extra)
        same(logging.Formatter(fmt, style=style, validate=False), r)
        assert ("asctime" in r.__dict__) == (fmt != "%(message)s")


def test_float_formatting_matches_python() -> None:
    """``%f`` at every precision, rounding ties included, against Python's."""
    values = [0.5, 1.5, 2.5, -0.5, -0.0, 0.125, 0.375, 1e15 + 0.5, 123.456, -1e-9, 9.995]
    values += [CREATED + i * 0.000_000_1 for i in range(50)]
    values += [i / 7 for i in range(-30, 30)]
    for precision in range(0, 12):
        f = logging.Formatter(
            f"%(created).{precision}f|%(created)+.{precision}f|%(created)012.{precision}f",
            validate=False,
        )
        for v in values:
            r = record()
            r.created = v
            same(f, r)


def test_integer_fields_from_floats_and_large_values() -> None:
    f = logging.Formatter("%(x)d %(x)5d %(x)-5d| %(x)05d %(x)+d", validate=False)
    for x in [0, -1, 7, 2**63 - 1, -(2**63), 2**70, -(2**70), 3.99, -3.99, 1e20, True]:
        same(f, record(extra={"x": x}))
    g = logging.Formatter("{x} {x!r}", style="{", validate=False)
    for x in [0, -5, 2**80, True, 3.5]:
        same(g, record(extra={"x": x}))


# -- messages and extra fields ----------------------------------------------------------


@pytest.mark.parametrize(
    "msg, args",
    [
        ("plain", None),
        ("plain", ()),
        ("with %s and %d", ("str", 5)),
        ("mapping %(a)s", ({"a": 1},)),
        (123, None),
        ({"a": 1}, None),
        (["x"], ()),
        ("100%% sure", ()),
        ("%s", ([],)),
        ("empty args %s", ([],)),
    ],
)
def test_messages(msg: Any, args: Any) -> None:
    r = record(msg, args)
    if args == ({"a": 1},):
        r.args = {"a": 1}  # as logging does for a single mapping argument
    same(logging.Formatter("%(levelname)s %(message)s"), r)


def test_extra_fields() -> None:
    r = record(extra={"user": "ann", "n": 3, "ratio": 0.25, "obj": object.__new__(object)})
    text = same(logging.Formatter("%(user)s %(n)d %(ratio).2f %(obj)s %(message)s"), r)
    assert text.startswith("ann 3 0.25 <object object")
    same(
        logging.Formatter("{user!r} {n:>4} {ratio:%}", style="{"),
        record(extra={"user": "b", "n": 1, "ratio": 0.5}),
    )
    same(logging.Formatter("$user $n", style="$"), record(extra={"user": "c", "n": 2}))


def test_record_attributes_are_set() -> None:
    r = record()
    assert "message" not in r.__dict__ and "asctime" not in r.__dict__
    native = RecordFormat.from_formatter(logging.Formatter("%(asctime)s %(message)s"))
    native.format(r)
    assert r.message == "hello world"
    assert r.asctime == logging.Formatter().formatTime(r)
    r2 = record()
    RecordFormat.from_formatter(logging.Formatter("%(message)s")).format(r2)
    assert "asctime" not in r2.__dict__ and r2.message == "hello world"


def test_str_subclasses_and_odd_values() -> None:
    class Loud(str):
        def __str__(self) -> str:
            return "LOUD"

    class Weird:
        def __repr__(self) -> str:
            return "Weird()\u00e9"

        def __format__(self, spec: str) -> str:
            return f"<{spec}>"

    r = record(extra={"loud": Loud("quiet"), "weird": Weird()})
    same(logging.Formatter("%(loud)s %(loud)r %(weird)r %(weird)a %(weird)s"), r)
    same(
        logging.Formatter("{loud} {loud!s} {weird:spec} {weird!r:>12}", style="{", validate=False),
        r,
    )
    same(logging.Formatter("$loud $weird", style="$"), r)


def test_unicode_and_surrogates() -> None:
    r = record("h\u00e9llo \U0001f600 %s", ("\udcff",))
    same(logging.Formatter("%(levelname)-10s|%(message).8s|%(message)20s"), r)
    same(logging.Formatter("{message:^30}|{message:.3}", style="{"), r)


# -- time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "datefmt",
    [None, "", "%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%f %% %Q %s", "%a %b %d %j %U %Z", "plain"],
)
def test_datefmt(datefmt: Optional[str]) -> None:
    for created in [CREATED, CREATED + 0.9999, 0.0, 86399.5, -1.5]:
        same(logging.Formatter("%(asctime)s|%(message)s", datefmt), record(created=created))


def test_msecs_formats() -> None:
    class NoMsecs(logging.Formatter):
        default_msec_format = None  # type: ignore[assignment]

    class Dot(logging.Formatter):
        default_time_format = "%H:%M:%S"
        default_msec_format = "%s.%03d"

    for cls in [logging.Formatter, NoMsecs, Dot]:
        same(cls("%(asctime)s"), record())
    f = logging.Formatter("%(asctime)s")
    f.default_msec_format = "%s+%06.2f"  # type: ignore[assignment]
    f.default_time_format = "%d/%m/%y %H%M%S"
    same(f, record())
    for msecs in [0.0, 999.9999, 1000.0, -0.5, 12]:
        r = record()
        r.msecs = msecs
        same(logging.Formatter("%(asctime)s"), r)


def test_converters() -> None:
    """The converter: time.gmtime on the instance or a subclass, or any function."""

    class UTC(logging.Formatter):
        converter = time.gmtime

    gm = logging.Formatter("%(asctime)s")
    gm.converter = time.gmtime
    shifted = logging.Formatter("%(asctime)s", "%H:%M:%S")
    shifted.converter = lambda t: time.gmtime(t + 3600.5)  # type: ignore[method-assign]
    for f in [UTC("%(asctime)s"), gm, shifted]:
        for created in [CREATED, CREATED + 0.5, CREATED + 1]:
            same(f, record(created=created))
    assert same(gm, record(created=0.25)) == "1970-01-01 00:00:00,250"


def test_time_cache_follows_seconds_and_milliseconds() -> None:
    f = logging.Formatter("%(asctime)s %(message)s")
    native = RecordFormat.from_formatter(f)
    for created in [CREATED, CREATED, CREATED + 0.001, CREATED + 0.999, CREATED + 1.0, CREATED]:
        r = record(created=created)
        expected = f.format(copy.copy(r))
        assert native.format(r) == expected


# -- exceptions and stacks --------------------------------------------------------------


def _exc_info() -> Any:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        return sys.exc_info()


def test_exc_info_and_stack_info() -> None:
    f = logging.Formatter("%(levelname)s %(message)s")
    same(f, record(exc_info=_exc_info()))
    same(f, record(stack_info=True))
    same(f, record(exc_info=_exc_info(), stack_info=True))
    r = record("ends with newline\n", None, exc_info=_exc_info())
    same(f, r)
    assert r.exc_text and r.exc_text.startswith("Traceback")
    r = record()
    r.exc_text = "cached text"
    assert same(f, r) == "INFO hello world\ncached text"


def test_overridden_format_exception_and_stack_are_used() -> None:
    class Short(logging.Formatter):
        def formatException(self, ei: Any) -> str:  # noqa: N802
            return f"EXC {ei[0].__name__}"

        def formatStack(self, stack_info: str) -> str:  # noqa: N802
            return "STACK"

    f = Short("%(message)s")
    assert native_format_for(f) is not None
    assert same(f, record(exc_info=_exc_info(), stack_info=True)) == (
        "hello world\nEXC ValueError\nSTACK"
    )


# -- what is not native -----------------------------------------------------------------


class CustomFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return "custom"


class CustomTime(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: Optional[str] = None) -> str:  # noqa: N802
        return "T"


class CustomStyle(logging.PercentStyle):
    pass


def _custom_style() -> logging.Formatter:
    f = logging.Formatter("%(message)s")
    f._style = CustomStyle("%(message)s")  # type: ignore[attr-defined]
    return f


@pytest.mark.parametrize(
    "make",
    [
        lambda: CustomFormat("%(message)s"),
        lambda: CustomTime("%(asctime)s"),
        _custom_style,
        lambda: logging.Formatter("%s", validate=False),
        lambda: logging.Formatter("%(message)*d", validate=False),
        lambda: logging.Formatter("%(message)", validate=False),
        lambda: logging.Formatter("%(message)k", validate=False),
        lambda: logging.Formatter("{0} {}", style="{", validate=False),
        lambda: logging.Formatter("{a.b} {c[0]}", style="{", validate=False),
        lambda: logging.Formatter("{a:{b}}", style="{", validate=False),
        lambda: logging.Formatter("$ x", style="$", validate=False),
        lambda: logging.Formatter("${a b}", style="$", validate=False),
    ],
)
def test_not_native(make: Any) -> None:
    f = make()
    assert native_format_for(f) is None
    with pytest.raises(ValueError):
        RecordFormat.from_formatter(f)


def test_instance_override_is_not_native() -> None:
    f = logging.Formatter("%(message)s")
    f.format = lambda record: "x"  # type: ignore[method-assign]
    assert native_format_for(f) is None


def test_constructor_from_pieces() -> None:
    rf = RecordFormat("%(asctime)s %(message)s", "%", None, "%H:%M", "%s|%03d", time.gmtime)
    f = logging.Formatter("%(asctime)s %(message)s")
    f.default_time_format, f.default_msec_format = "%H:%M", "%s|%03d"
    f.converter = time.gmtime  # type: ignore[method-assign]
    r = record()
    assert rf.format(copy.copy(r)) == f.format(r)
    assert RecordFormat().format(record()) == "hello world"
    assert RecordFormat("{message}", "{").format(record()) == "hello world"
    assert RecordFormat(style="$").format(record()) == "hello world"
    assert RecordFormat("%(asctime)s", default_msec_format=None).format(record()).count(",") == 0
    for bad in [("%s", "%"), ("{}", "{"), ("$", "$"), ("x", "?")]:
        with pytest.raises(ValueError):
            RecordFormat(*bad)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="defaults= is 3.10+")
def test_defaults() -> None:
    f = logging.Formatter("%(user)s %(message)s", defaults={"user": "-"})
    same(f, record())
    same(f, record(extra={"user": "bob"}))
    g = logging.Formatter("$user $message", style="$", defaults={"user": "-"})
    same(g, record())


def test_missing_field_falls_back_to_python() -> None:
    """A missing field: the formatter's own exception (ValueError from the style)."""
    native = RecordFormat.from_formatter(logging.Formatter("%(nope)s"))
    with pytest.raises(ValueError, match="Formatting field not found"):
        native.format(record())
    native = RecordFormat.from_formatter(logging.Formatter("{nope}", style="{"))
    with pytest.raises(ValueError, match="Formatting field not found"):
        native.format(record())


def test_record_subclass_and_custom_get_message() -> None:
    class MyRecord(logging.LogRecord):
        def getMessage(self) -> str:  # noqa: N802
            return "custom:" + super().getMessage()

    r = MyRecord("n", logging.INFO, "p", 1, "m %s", ("a",), None)
    same(logging.Formatter("%(asctime)s %(message)s"), r)
    r2 = record()
    r2.getMessage = lambda: "instance"  # type: ignore[method-assign]
    same(logging.Formatter("%(message)s"), r2)


def test_formatter_mutated_after_planning() -> None:
    """Changes to the formatter are seen at the next record (identity checks)."""
    f = logging.Formatter("%(asctime)s %(message)s")
    native = RecordFormat.from_formatter(f)

    def check() -> str:
        r = record()
        expected = f.format(copy.copy(r))
        assert native.format(r) == expected
        return expected

    check()
    f.datefmt = "%H:%M"
    assert len(check().split()[0]) == 5
    f.converter = time.gmtime  # type: ignore[method-assign]
    check()
    f._style._fmt = "%(levelname)s %(message)s"  # type: ignore[attr-defined]
    assert check() == "INFO hello world"
    f._style = logging.StrFormatStyle("{name}")  # type: ignore[attr-defined]
    assert check() == "app.native"
    f._style._fmt = "{0}"  # type: ignore[attr-defined]
    assert not native.native
    with pytest.raises(IndexError):
        native.format(record())
    f._style._fmt = "{message}"  # type: ignore[attr-defined]
    assert native.native and check() == "hello world"


def test_class_attribute_changes_are_seen() -> None:
    class Sub(logging.Formatter):
        pass

    f = Sub("%(asctime)s")
    native = RecordFormat.from_formatter(f)
    r = record(created=CREATED)
    local = native.format(copy.copy(r))
    try:
        Sub.converter = time.gmtime  # type: ignore[assignment]
        Sub.default_msec_format = "%s.%03d"
        assert native.format(copy.copy(r)) == f.format(copy.copy(r))
        assert native.format(copy.copy(r)).endswith(".123")
    finally:
        del Sub.converter, Sub.default_msec_format
    assert native.format(copy.copy(r)) == local


# -- handlers ---------------------------------------------------------------------------


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


class Collecting(ConcurrentRotatingFileHandler):
    errors: list[str]

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self.errors.append(repr(sys.exc_info()[1]))


class StdCollecting(logging.FileHandler):
    errors: list[str]

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self.errors.append(repr(sys.exc_info()[1]))


def pair(log_dir: Path, **kwargs: Any) -> Iterator[tuple[Collecting, StdCollecting]]:
    ours = Collecting(str(log_dir / "ours.log"), **kwargs)
    std = StdCollecting(
        str(log_dir / "std.log"),
        encoding=kwargs.get("encoding"),
        errors=kwargs.get("unicode_error_policy", "ignore"),
    )
    ours.errors, std.errors = [], []
    std.terminator = ours.terminator
    try:
        yield ours, std
    finally:
        ours.close()
        std.close()


def emit_both(ours: Collecting, std: StdCollecting, r: logging.LogRecord) -> None:
    std.handle(copy.copy(r))
    ours.handle(r)


def test_handler_writes_the_stdlib_bytes(log_dir: Path) -> None:
    for ours, std in pair(log_dir, encoding="utf-8"):
        for f in [
            logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"),
            logging.Formatter("{asctime}|{levelname:>8}|{message}", style="{"),
            logging.Formatter("$levelname $message", style="$"),
        ]:
            ours.setFormatter(f)
            std.setFormatter(f)
            assert ours._native_format is not None
            for r in [record(), record("line1\nline2", None), record(exc_info=_exc_info())]:
                emit_both(ours, std, r)
            assert ours._native_format.fallbacks == 0
        ours.setFormatter(logging.Formatter("%(nope)s"))
        std.setFormatter(logging.Formatter("%(nope)s"))
        emit_both(ours, std, record())
        assert ours.errors == std.errors and len(ours.errors) == 1
    assert (log_dir / "ours.log").read_bytes() == (log_dir / "std.log").read_bytes()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"encoding": "latin-1", "unicode_error_policy": "replace"},
        {"encoding": "ascii", "unicode_error_policy": "ignore"},
        {"encoding": "utf-8", "unicode_error_policy": "strict"},
        {"encoding": "utf-16"},
        {"encoding": "utf-8", "terminator": "\r\n"},
    ],
)
def test_handler_encodings(log_dir: Path, kwargs: dict[str, Any]) -> None:
    for ours, std in pair(log_dir, **kwargs):
        f = logging.Formatter("%(levelname)s %(message)s")
        ours.setFormatter(f)
        std.setFormatter(f)
        for msg in ["plain", "h\u00e9llo \u20ac", "emoji \U0001f600", "lone \udcff", "a\nb"]:
            emit_both(ours, std, record(msg, None))
        assert len(ours.errors) == len(std.errors)
    assert (log_dir / "ours.log").read_bytes() == (log_dir / "std.log").read_bytes()


def test_newline_translation(log_dir: Path) -> None:
    h = ConcurrentRotatingFileHandler(str(log_dir / "nl.log"), newline="\r\n")
    try:
        h.setFormatter(logging.Formatter("%(message)s"))
        assert h._native_format is not None
        h.handle(record("a\nb", None))
    finally:
        h.close()
    assert (log_dir / "nl.log").read_bytes() == b"a\r\nb\r\n"


def test_formatter_selection(log_dir: Path) -> None:
    """setFormatter, assignment, None (the default formatter), dictConfig, the switch."""
    h = ConcurrentRotatingFileHandler(str(log_dir / "sel.log"))
    t = ConcurrentTimedRotatingFileHandler(str(log_dir / "timed.log"))
    try:
        for handler in (h, t):
            assert handler.formatter is None
            assert handler._native_format is not None  # logging's default formatter
            handler.setFormatter(CustomFormat())
            assert handler._native_format is None
            handler.formatter = logging.Formatter("%(message)s")
            assert handler._native_format is not None
            handler.native_format = False
            assert handler._native_format is None and not handler.native_format
            handler.formatter = logging.Formatter("%(message)s")
            assert handler._native_format is None
            handler.native_format = True
            assert handler._native_format is not None
            handler.formatter = None
            assert handler._native_format is not None
            handler.handle(record())
    finally:
        h.close()
        t.close()
    assert (log_dir / "sel.log").read_text() == "hello world\n"


def test_dict_config(log_dir: Path) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"f": {"format": "{levelname}: {message}", "style": "{"}},
            "handlers": {
                "h": {
                    "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
                    "filename": str(log_dir / "dc.log"),
                    "formatter": "f",
                }
            },
            "loggers": {"dc": {"handlers": ["h"], "level": "INFO", "propagate": False}},
        }
    )
    logger = logging.getLogger("dc")
    try:
        (h,) = logger.handlers
        assert h._native_format is not None
        logger.info("configured %d", 1)
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
    assert (log_dir / "dc.log").read_text() == "INFO: configured 1\n"


def test_handler_subclass_overriding_format_is_not_native(log_dir: Path) -> None:
    class Upper(ConcurrentRotatingFileHandler):
        def format(self, record: logging.LogRecord) -> str:
            return super().format(record).upper()

    h = Upper(str(log_dir / "up.log"))
    try:
        h.setFormatter(logging.Formatter("%(message)s"))
        assert h._native_format is None
        h.handle(record())
    finally:
        h.close()
    assert (log_dir / "up.log").read_text() == "HELLO WORLD\n"


def test_errors_reach_handle_error_as_in_python(log_dir: Path, capsys: Any) -> None:
    class Bad:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    for ours, std in pair(log_dir):
        f = logging.Formatter("%(bad)s %(message)s")
        ours.setFormatter(f)
        std.setFormatter(f)
        emit_both(ours, std, record(extra={"bad": Bad()}))
        emit_both(ours, std, record("%d", ("x",)))
        assert ours.errors == std.errors and len(ours.errors) == 2
    # handleError itself (not overridden) prints the same report as the stdlib's
    h = ConcurrentRotatingFileHandler(str(log_dir / "err.log"))
    s = logging.StreamHandler(io.StringIO())
    try:
        h.setFormatter(logging.Formatter("%(nope)s"))
        s.setFormatter(logging.Formatter("%(nope)s"))
        h.handle(record())
        ours_report = capsys.readouterr().err
        s.handle(record())
        std_report = capsys.readouterr().err
    finally:
        h.close()
    assert "Formatting field not found in record: 'nope'" in ours_report
    assert ours_report.splitlines()[-2:] == std_report.splitlines()[-2:]


def test_format_bytes_directly() -> None:
    native = RecordFormat.from_formatter(logging.Formatter("%(levelname)s %(message)s"))
    r = record("caf\u00e9\nnext \udcff", None)
    assert native.format_bytes(r, "\n", None, "utf-8", "surrogateescape") == (
        b"INFO caf\xc3\xa9\nnext \xff\n"
    )
    assert native.format_bytes(r, "|", "\r\n", "latin-1", "replace") == (b"INFO caf\xe9\r\nnext ?|")
    with pytest.raises(UnicodeEncodeError):
        native.format_bytes(r, "\n", None, "utf-8", "strict")
    with pytest.raises(TypeError):
        native.format_bytes(r, b"\n", None, "utf-8", "strict")  # type: ignore[arg-type]


def test_threads(log_dir: Path) -> None:
    """Threads sharing a handler (and its caches) write what the stdlib writes."""
    f = logging.Formatter("%(asctime)s %(threadName)s %(process)d %(levelname)s %(message)s")
    for ours, std in pair(log_dir):
        ours.setFormatter(f)
        std.setFormatter(f)

        def work(n: int, ours: Collecting, std: StdCollecting) -> None:
            for i in range(500):
                r = record("thread %d record %d", (n, i), created=CREATED + (i % 7) * 0.3)
                emit_both(ours, std, r)

        threads = [threading.Thread(target=work, args=(n, ours, std)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ours_lines = sorted((log_dir / "ours.log").read_bytes().splitlines())
    std_lines = sorted((log_dir / "std.log").read_bytes().splitlines())
    assert len(ours_lines) == 3000 and ours_lines == std_lines


def test_a_formatter_that_logs(log_dir: Path) -> None:
    """A value whose ``__str__`` logs through the same handler: inner record first, as
    the stdlib writes them."""
    for ours, std in pair(log_dir):
        f = logging.Formatter("%(levelname)s %(message)s %(asctime)s")
        ours.setFormatter(f)
        std.setFormatter(f)

        class Chatty:
            def __init__(self, handler: logging.Handler) -> None:
                self.handler = handler

            def __str__(self) -> str:
                self.handler.handle(record("inner", None, created=CREATED))
                return "chatty"

        for h in (std, ours):
            h.handle(record("outer %s", (Chatty(h),), created=CREATED))
    assert (log_dir / "ours.log").read_bytes() == (log_dir / "std.log").read_bytes()
    assert (log_dir / "ours.log").read_text().splitlines()[0].startswith("INFO inner ")
