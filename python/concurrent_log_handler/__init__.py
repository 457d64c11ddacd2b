"""Many processes writing one log file safely, with rotation.

A drop-in replacement for concurrent-log-handler (CLH) 0.9.31, backed by a Rust core.
This module only adapts :mod:`logging`'s API: it formats each record and hands the
bytes to the native writer, which does the locking, rotation, compression and
permissions. Processes using CLH 0.9.31 and processes using this package can share
one log file: same lock file, same lock, same backup names.

Importing the package registers both handlers in :mod:`logging.handlers`, so
``class=handlers.ConcurrentRotatingFileHandler`` works in ``fileConfig``.
"""

from __future__ import annotations

import datetime
import logging
import logging.handlers
import os
import warnings
from logging.handlers import BaseRotatingHandler, TimedRotatingFileHandler
from typing import Any, Optional, Tuple, Union

from concurrent_log_handler import _clh
from concurrent_log_handler._common import NativeFileHandler

__all__ = ["ConcurrentRotatingFileHandler", "ConcurrentTimedRotatingFileHandler"]

LogFilenameType = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _warn_delay(delay: Optional[bool]) -> None:
    if delay not in (None, True):
        warnings.warn(
            "concurrent_log_handler parameter `delay` is now ignored and implied as True, "
            "please remove from your config.",
            DeprecationWarning,
            stacklevel=3,
        )


def _text_path(filename: LogFilenameType) -> str:
    """The path as text: a ``bytes`` path (a file name that need not be valid UTF-8)
    is decoded with :func:`os.fsdecode`, which the native core turns back into the
    same bytes, as ``open()`` would."""
    return os.fsdecode(os.fspath(filename))


class ConcurrentRotatingFileHandler(NativeFileHandler, BaseRotatingHandler):
    """Handler for logging to a set of files, which switches from one file to the next
    when the current file reaches ``maxBytes``. Any number of threads and processes may
    write to the same file: every record is appended whole, under CLH's lock file.

    Extensions (keyword-only): ``background=True`` queues records in memory and writes
    them from a thread of the native core, in batches (``flush()`` waits for them;
    ``close()`` and interpreter exit write them); the queue holds at most
    ``queue_records`` records and ``queue_bytes`` bytes, and when full either waits
    (``queue_overflow="block"``, the default: nothing is lost) or drops the record,
    counts it and logs how many were dropped (``"drop"``).

    Differences from CLH 0.9.31, all on the safe side: ``mode="w"`` is treated as
    ``"a"`` (truncating a shared log would lose other processes' records), ``umask``
    never changes the process-wide umask, and ``rotator`` is not called (rotation is
    done by the native core so that every process agrees on it).
    """

    def __init__(  # noqa: PLR0913
        self,
        filename: LogFilenameType,
        mode: str = "a",
        maxBytes: int = _clh.DEFAULT_MAX_BYTES,
        backupCount: int = _clh.DEFAULT_BACKUP_COUNT,
        encoding: Optional[str] = None,
        debug: bool = False,
        delay: Optional[bool] = None,
        use_gzip: bool = False,
        owner: Optional[Tuple[str, str]] = None,
        chmod: Optional[int] = None,
        umask: Optional[int] = None,
        newline: Optional[str] = None,
        terminator: str = "\n",
        unicode_error_policy: str = "ignore",
        lock_file_directory: Optional[str] = None,
        keep_file_open: bool = _clh.DEFAULT_KEEP_FILE_OPEN,
        *,
        background: bool = False,
        queue_records: int = _clh.DEFAULT_QUEUE_RECORDS,
        queue_bytes: int = _clh.DEFAULT_QUEUE_BYTES,
        queue_overflow: str = _clh.DEFAULT_QUEUE_OVERFLOW,
    ) -> None:
        _warn_delay(delay)
        if not isinstance(mode, str) or not mode or mode[0] not in "aw":
            raise ValueError(f"mode must be 'a' (append), got {mode!r}")
        if mode.startswith("w"):
            warnings.warn(
                "concurrent_log_handler: mode 'w' is treated as 'a'; truncating a log "
                "shared by several processes would lose their records.",
                UserWarning,
                stacklevel=2,
            )
        filename = _text_path(filename)
        BaseRotatingHandler.__init__(self, filename, mode, encoding=encoding, delay=True)
        self._open_writer(
            newline=newline,
            terminator=terminator,
            unicode_error_policy=unicode_error_policy,
            owner=owner,
            debug=debug,
            max_bytes=maxBytes,
            backup_count=backupCount,
            use_gzip=bool(use_gzip),
            lock_file_directory=lock_file_directory,
            chmod=chmod,
            umask=umask,
            keep_file_open=keep_file_open,
            background=background,
            queue_records=queue_records,
            queue_bytes=queue_bytes,
            queue_overflow=queue_overflow,
        )

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: ARG002
        """Whether the log, as it is on disk now (written by every process), has reached
        ``maxBytes``. Like CLH, the size of the pending record is not counted."""
        return self._writer.should_rotate()

    def doRollover(self) -> None:
        """Rotate now, under the lock."""
        self._writer.rotate()


class ConcurrentTimedRotatingFileHandler(NativeFileHandler, TimedRotatingFileHandler):
    """Rotates the log at timed intervals (``when``/``interval``/``utc``/``atTime``, as
    :class:`logging.handlers.TimedRotatingFileHandler`), and also by size when
    ``maxBytes > 0``, with any number of processes writing. Exactly one process rotates
    per period: the next rollover time is shared through the lock file, as CLH does.

    Backups are named ``app.log.<period start>`` (the stdlib's suffixes), plus ``.1``,
    ``.2``… for size rotations within a period, plus ``.gz``; ``backupCount`` keeps the
    newest. Unlike the stdlib (3.11), ``interval`` is honoured for ``MIDNIGHT`` and
    weekly rollovers (every ``interval`` days or weeks), and local time follows DST.

    Like the size handler, it never calls a custom ``rotator`` (CLH 0.9.31's timed
    handler does): the rotation runs under the cross-process lock, and Python code there
    could deadlock every process (a rotator that logs); use ``namer`` for names and
    ``use_gzip`` for compression. ``maxBytes``, ``backupCount`` and ``use_gzip`` may be
    changed at any time (CLH's timed handler ignores such changes).
    """

    def __init__(  # noqa: PLR0913
        self,
        filename: LogFilenameType,
        when: str = "h",
        interval: int = 1,
        backupCount: int = 0,
        encoding: Optional[str] = None,
        delay: bool = False,  # noqa: ARG002
        utc: bool = False,
        atTime: Optional[datetime.time] = None,
        errors: Optional[str] = None,
        maxBytes: int = _clh.DEFAULT_MAX_BYTES,
        use_gzip: bool = False,
        owner: Optional[Tuple[str, str]] = None,
        chmod: Optional[int] = None,
        umask: Optional[int] = None,
        newline: Optional[str] = None,
        terminator: str = "\n",
        unicode_error_policy: str = "ignore",
        lock_file_directory: Optional[str] = None,
        keep_file_open: bool = _clh.DEFAULT_KEEP_FILE_OPEN,
        *,
        background: bool = False,
        queue_records: int = _clh.DEFAULT_QUEUE_RECORDS,
        queue_bytes: int = _clh.DEFAULT_QUEUE_BYTES,
        queue_overflow: str = _clh.DEFAULT_QUEUE_OVERFLOW,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("mode", None)
        debug = bool(kwargs.pop("debug", False))
        kwargs.pop("delay", None)
        if kwargs:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if not isinstance(when, str):
            raise TypeError(f"when must be a str such as 'h' or 'midnight', got {when!r}")
        if atTime is not None and not isinstance(atTime, datetime.time):
            raise TypeError(f"atTime must be a datetime.time, got {atTime!r}")
        at_time = (atTime.hour, atTime.minute, atTime.second) if atTime else None
        # The core checks the schedule first (the stdlib's own arithmetic would fail
        # unclearly on a bad interval).
        _clh.Options(when=when, interval=interval, at_time=at_time)
        # The stdlib validates `when` (ValueError naming it), sets suffix/extMatch/interval.
        TimedRotatingFileHandler.__init__(
            self,
            _text_path(filename),
            when=when,
            interval=interval,
            backupCount=backupCount,
            encoding=encoding,
            delay=True,
            utc=utc,
            atTime=atTime,
            errors=errors,
        )
        self.finalize_handler_configuration()
        self._open_writer(
            newline=newline,
            terminator=terminator,
            unicode_error_policy=unicode_error_policy,
            owner=owner,
            debug=debug,
            max_bytes=maxBytes,
            backup_count=backupCount,
            use_gzip=bool(use_gzip),
            lock_file_directory=lock_file_directory,
            chmod=chmod,
            umask=umask,
            keep_file_open=keep_file_open,
            background=background,
            queue_records=queue_records,
            queue_bytes=queue_bytes,
            queue_overflow=queue_overflow,
            when=self.when,
            interval=interval,
            utc=utc,
            at_time=at_time,
            suffix=self.suffix,
        )

    def finalize_handler_configuration(self) -> None:
        """Hook for subclasses, called before the native writer is created: change
        ``self.suffix`` (or ``self.namer``) here."""

    @property
    def rolloverAt(self) -> int:  # type: ignore[override]
        """The next rollover time (epoch seconds), as shared by all processes once this
        handler has written; before that, the stdlib's estimate."""
        writer = self.__dict__.get("_writer")
        shared = writer.next_rollover if writer is not None else None
        return shared if shared is not None else self.__dict__.get("_rollover_estimate", 0)

    @rolloverAt.setter
    def rolloverAt(self, value: int) -> None:
        self.__dict__["_rollover_estimate"] = value

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: ARG002
        """Whether the shared rollover time has come, or the size limit is reached."""
        return self._writer.should_rotate()

    def doRollover(self) -> None:
        """Rotate now, under the lock, and start a new period."""
        self._writer.rotate()


logging.handlers.ConcurrentRotatingFileHandler = ConcurrentRotatingFileHandler  # type: ignore[attr-defined]
logging.handlers.ConcurrentTimedRotatingFileHandler = ConcurrentTimedRotatingFileHandler  # type: ignore[attr-defined]
