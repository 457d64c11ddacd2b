"""Many processes writing one log file safely, with rotation.

A drop-in replacement for concurrent-log-handler (CLH) 0.9.31, backed by a Rust core.
This module only adapts :mod:`logging`'s API: it formats each record and hands the
bytes to the native writer, which does the locking, rotation, compression and
permissions. Processes using CLH 0.9.31 and processes using this package can share
one log file: same lock file, same lock, same backup names.

Importing the package registers the handler in :mod:`logging.handlers`, so
``class=handlers.ConcurrentRotatingFileHandler`` works in ``fileConfig``.
"""

from __future__ import annotations

import codecs
import locale
import logging
import logging.handlers
import os
import sys
import warnings
from logging.handlers import BaseRotatingHandler
from typing import Callable, Optional, Tuple, Union

from concurrent_log_handler._clh import Writer

__all__ = ["ConcurrentRotatingFileHandler"]

LogFilenameType = Union[str, "os.PathLike[str]"]
_UNICODE_ERROR_POLICIES = ("ignore", "replace", "strict")


def _resolve_owner(owner: Tuple[Union[str, int], Union[str, int]]) -> Tuple[int, int]:
    """Turn CLH's ``(user, group)`` names (or ids) into ``(uid, gid)``."""
    try:
        user, group = owner
    except (TypeError, ValueError):
        raise TypeError(f"owner must be a (user, group) pair, got {owner!r}") from None
    import grp
    import pwd

    try:
        uid = user if isinstance(user, int) else pwd.getpwnam(user).pw_uid
    except KeyError:
        raise ValueError(f"owner: unknown user {user!r}") from None
    try:
        gid = group if isinstance(group, int) else grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"owner: unknown group {group!r}") from None
    return uid, gid


# Codecs that start a stream with a byte-order mark: records are encoded without it, and
# the core writes it once, at the start of each new file (as a text stream would).
_BOM_CODECS = {
    "utf-16": "utf-16-le" if sys.byteorder == "little" else "utf-16-be",
    "utf-32": "utf-32-le" if sys.byteorder == "little" else "utf-32-be",
    "utf-8-sig": "utf-8",
}


def _codec_and_header(encoding: str) -> Tuple[str, Optional[bytes]]:
    """The codec to encode records with, and the bytes a new file must start with."""
    name = codecs.lookup(encoding).name  # LookupError names an unknown encoding
    if name in _BOM_CODECS:
        return _BOM_CODECS[name], "".encode(name)
    return name, None


def _optional_int(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (e.g. 0o640), got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


class ConcurrentRotatingFileHandler(BaseRotatingHandler):
    """Handler for logging to a set of files, which switches from one file to the next
    when the current file reaches ``maxBytes``. Any number of threads and processes may
    write to the same file: every record is appended whole, under CLH's lock file.

    Differences from CLH 0.9.31, all on the safe side: ``mode="w"`` is treated as
    ``"a"`` (truncating a shared log would lose other processes' records), ``umask``
    never changes the process-wide umask, and ``rotator`` is not called (rotation is
    done by the native core so that every process agrees on it).
    """

    def __init__(  # noqa: PLR0913
        self,
        filename: LogFilenameType,
        mode: str = "a",
        maxBytes: int = 0,
        backupCount: int = 0,
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
        keep_file_open: bool = True,
    ) -> None:
        maxBytes = _count("maxBytes", maxBytes)
        backupCount = _count("backupCount", backupCount)
        chmod = _optional_int("chmod", chmod)
        umask = _optional_int("umask", umask)
        if unicode_error_policy not in _UNICODE_ERROR_POLICIES:
            warnings.warn(
                f"Invalid unicode_error_policy {unicode_error_policy!r} for "
                "concurrent_log_handler: must be ignore, replace, or strict. "
                "Defaulting to ignore.",
                UserWarning,
                stacklevel=2,
            )
            unicode_error_policy = "ignore"
        if delay not in (None, True):
            warnings.warn(
                "concurrent_log_handler parameter `delay` is now ignored and implied as True, "
                "please remove from your config.",
                DeprecationWarning,
                stacklevel=2,
            )
        if not isinstance(mode, str) or not mode or mode[0] not in "aw":
            raise ValueError(f"mode must be 'a' (append), got {mode!r}")
        if mode.startswith("w"):
            warnings.warn(
                "concurrent_log_handler: mode 'w' is treated as 'a'; truncating a log "
                "shared by several processes would lose their records.",
                UserWarning,
                stacklevel=2,
            )
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline!r}")
        super().__init__(filename, mode, encoding=encoding, delay=True)
        # FileHandler turns encoding=None into "locale" (3.10+), as CLH's stream does.
        codec = self.encoding
        if codec in (None, "locale"):
            codec = locale.getpreferredencoding(False)
        self._codec, header = _codec_and_header(codec)
        self._errors = unicode_error_policy
        self.unicode_error_policy = unicode_error_policy
        # Text-mode newline translation, applied to message and terminator alike.
        out_newline = os.linesep if newline is None else newline
        self._newline = out_newline if out_newline not in ("", "\n") else None
        self.newline = newline
        self.terminator = terminator or "\n"
        self.maxBytes = maxBytes
        self.backupCount = backupCount
        self.use_gzip = bool(use_gzip)
        self.owner = owner
        self.chmod = chmod
        self.umask = umask
        self._debug = debug
        self.user_keep_file_open_preference = keep_file_open
        self._rollover_base = 0
        self._writer = Writer(
            self.baseFilename,
            max_bytes=maxBytes,
            backup_count=backupCount,
            gzip=self.use_gzip,
            lock_dir=os.fspath(lock_file_directory) if lock_file_directory else None,
            mode=chmod,
            owner=_resolve_owner(owner) if owner and os.name == "posix" else None,
            umask=umask,
            keep_file_open=keep_file_open,
            debug=debug,
            header=header,
        )
        self.lockFilename = os.fspath(self._writer.lock_path)

    # -- logging.Handler API ---------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record (before any lock is taken, so a formatter that itself logs
        cannot deadlock), then append it whole; rotation happens under the lock first
        when due. Errors go to :meth:`handleError`, as with every stdlib handler."""
        try:
            msg = self.format(record) + self.terminator
            if self._newline is not None:
                msg = msg.replace("\n", self._newline)
            self._writer.write(msg.encode(self._codec, self._errors))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: ARG002
        """Whether the log, as it is on disk now (written by every process), has reached
        ``maxBytes``. Like CLH, the size of the pending record is not counted."""
        return self._writer.should_rotate()

    def doRollover(self) -> None:
        """Rotate now, under the lock."""
        self._writer.rotate()

    def flush(self) -> None:
        """Nothing to do: every record is written to the file when it is emitted."""

    def close(self) -> None:
        """Close the log and lock file (a later emit reopens them, like FileHandler)."""
        self.acquire()
        try:
            self._writer.close()
        finally:
            try:
                super().close()
            finally:
                self.release()

    # -- CLH attributes --------------------------------------------------------------

    @property
    def num_rollovers(self) -> int:
        """Rotations this handler carried out."""
        return self._writer.rollovers + self._rollover_base

    @num_rollovers.setter
    def num_rollovers(self, value: int) -> None:
        self._rollover_base = value - self._writer.rollovers

    @property
    def namer(self) -> Optional[Callable[[str], str]]:  # type: ignore[override]
        """As :attr:`logging.handlers.BaseRotatingHandler.namer`: maps ``app.log.3`` to
        the backup's name (``.gz`` is appended after it when compressing)."""
        return self.__dict__.get("_namer")

    @namer.setter
    def namer(self, namer: Optional[Callable[[str], str]]) -> None:
        self.__dict__["_namer"] = namer
        writer = self.__dict__.get("_writer")
        if writer is None:
            return
        if namer is None:
            writer.set_backup_names(None)
            return
        names = {}
        for k in range(1, self.backupCount + 1):
            default = f"{self.baseFilename}.{k}"
            names[default] = os.fspath(namer(default))
        writer.set_backup_names(names)


logging.handlers.ConcurrentRotatingFileHandler = ConcurrentRotatingFileHandler  # type: ignore[attr-defined]
