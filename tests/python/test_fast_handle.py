"""The native `handle` (crates/clh-python/src/handle.rs): installed only when a handler's
class overrides neither `handle` nor `emit`, it writes the common case natively and hands
every other case to the Python method, with the same results."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
    _clh,
)

FMT = "%(levelname)s %(name)s %(message)s"


class Recorder(ConcurrentRotatingFileHandler):
    """Counts handleError calls (overrides neither handle nor emit)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.errors: list[logging.LogRecord] = []

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self.errors.append(record)


class OwnEmit(ConcurrentRotatingFileHandler):
    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)


def make(cls: type, tmp_path: Path, **kwargs: object) -> logging.Handler:
    handler = cls(str(tmp_path / "app.log"), **kwargs)
    handler.setFormatter(logging.Formatter(FMT))
    return handler


def record(msg: object = "hello", *args: object) -> logging.LogRecord:
    return logging.LogRecord("app", logging.INFO, __file__, 1, msg, args or None, None)


def test_installed_only_where_nothing_is_overridden(tmp_path: Path) -> None:
    plain = make(ConcurrentRotatingFileHandler, tmp_path)
    timed = ConcurrentTimedRotatingFileHandler(str(tmp_path / "t.log"))
    own = make(OwnEmit, tmp_path)
    try:
        assert isinstance(vars(plain)["handle"], _clh.FastHandle)
        assert isinstance(vars(timed)["handle"], _clh.FastHandle)
        assert "handle" not in vars(own)
    finally:
        for h in (plain, timed, own):
            h.close()


def test_writes_and_returns_what_filterer_would(tmp_path: Path) -> None:
    handler = make(ConcurrentRotatingFileHandler, tmp_path)
    try:
        rec = record("one %s", "two")
        rv = handler.handle(rec)
        assert rv is (rec if sys.version_info >= (3, 12) else True)
        assert rec.message == "one two"  # the record left as Formatter.format leaves it
    finally:
        handler.close()
    assert (tmp_path / "app.log").read_text() == "INFO app one two\n"


def test_filters_and_a_python_formatter_take_the_python_method(tmp_path: Path) -> None:
    handler = make(ConcurrentRotatingFileHandler, tmp_path)
    try:
        handler.addFilter(lambda r: "keep" in r.getMessage())
        assert not handler.handle(record("drop me"))
        assert handler.handle(record("keep me"))
        handler.filters.clear()
        handler.native_format = False  # formatting in Python from now on
        assert handler._native_format is None
        assert handler.handle(record("python path"))
    finally:
        handler.close()
    text = (tmp_path / "app.log").read_text()
    assert text == "INFO app keep me\nINFO app python path\n"


def test_a_record_that_cannot_be_formatted_is_reported_once_and_not_written(
    tmp_path: Path,
) -> None:
    handler = make(Recorder, tmp_path)
    try:
        assert isinstance(vars(handler)["handle"], _clh.FastHandle)
        bad = record("%d items", "not a number")
        handler.handle(bad)
        handler.handle(record("after"))
    finally:
        handler.close()
    assert handler.errors == [bad]
    assert (tmp_path / "app.log").read_text() == "INFO app after\n"


def test_a_failing_write_goes_to_handle_error(tmp_path: Path) -> None:
    handler = make(Recorder, tmp_path, unicode_error_policy="strict")
    try:
        bad = record("lone surrogate \ud800")
        handler.handle(bad)  # encoding fails: the record cannot be written
        handler.handle(record("after"))
    finally:
        handler.close()
    assert handler.errors == [bad]
    assert (tmp_path / "app.log").read_text() == "INFO app after\n"


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RecursionError])
def test_what_emit_lets_through_propagates(tmp_path: Path, exc: type) -> None:
    class Boom:
        def __str__(self) -> str:
            raise exc()

    handler = make(Recorder, tmp_path)
    try:
        with pytest.raises(exc):
            handler.handle(record(Boom()))
    finally:
        handler.close()
    assert handler.errors == []
