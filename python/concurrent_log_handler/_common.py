"""What both handlers share: option checks, text encoding, and the emit/close path
onto the native writer. Nothing here knows about rotation policy."""

from __future__ import annotations

import atexit
import codecs
import locale
import logging
import os
import sys
import warnings
import weakref
from typing import Any, Callable, Optional, Tuple, Union

from concurrent_log_handler import _clh
from concurrent_log_handler._clh import Options, RecordFormat, Writer
from concurrent_log_handler._format import native_format_for

_UNICODE_ERROR_POLICIES = ("ignore", "replace", "strict")
# Filterer.filter returns the record itself (3.12+) or True when every filter passes.
_FILTER_RETURNS_RECORD = sys.version_info >= (3, 12)

# Codecs that start a stream with a byte-order mark: records are encoded without it, and
# the core writes it once, at the start of each new file (as a text stream would).
_BOM_CODECS = {
    "utf-16": "utf-16-le" if sys.byteorder == "little" else "utf-16-be",
    "utf-32": "utf-32-le" if sys.byteorder == "little" else "utf-32-be",
    "utf-8-sig": "utf-8",
}


def resolve_owner(owner: Tuple[Union[str, int], Union[str, int]]) -> Tuple[int, int]:
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


def codec_and_header(encoding: Optional[str]) -> Tuple[str, Optional[bytes]]:
    """The codec to encode records with, and the bytes a new file must start with.
    ``None``/``"locale"`` mean the locale's encoding, as for a text stream."""
    if encoding in (None, "locale"):
        encoding = locale.getpreferredencoding(False)
    name = codecs.lookup(encoding).name  # LookupError names an unknown encoding
    if name in _BOM_CODECS:
        return _BOM_CODECS[name], "".encode(name)
    return name, None


def unicode_policy(policy: str) -> str:
    if policy in _UNICODE_ERROR_POLICIES:
        return policy
    warnings.warn(
        f"Invalid unicode_error_policy {policy!r} for concurrent_log_handler: "
        "must be ignore, replace, or strict. Defaulting to ignore.",
        UserWarning,
        stacklevel=4,
    )
    return "ignore"


# Background records live in memory until the writer thread writes them. Interpreter
# exit flushes them (logging.shutdown flushes and closes every handler), but a
# multiprocessing child leaves through os._exit (fork and forkserver start methods), and
# is routinely ended by SIGTERM (Pool.terminate(), which ``with Pool()`` calls): neither
# runs atexit. So in a multiprocessing child, background handlers write synchronously,
# whether inherited through fork or created there, and a multiprocessing finalizer
# (run at the child's normal exit) flushes any handler switched back to background.
# The finalizer must be registered after the child's start-up cleared the finalizer
# registry: by the first emit of an inherited handler, or when a handler is created.
_handlers: "weakref.WeakSet[NativeFileHandler]" = weakref.WeakSet()
_forked = False
_finalizer_pid = 0


def _report_error(handler: logging.Handler, record: logging.LogRecord, exc: Exception) -> None:
    """``handler.handleError(record)`` for ``exc``, raised by the native ``handle``
    (``_clh.FastHandle``): from an ``except`` block, where handleError finds it."""
    try:
        raise exc
    except Exception:
        handler.handleError(record)


def _track(handler: "NativeFileHandler") -> None:
    _handlers.add(handler)


def flush_all() -> None:
    """Flush every handler of this package (queued records, pending compressions)."""
    for handler in list(_handlers):
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - at exit, report and go on
            logging.raiseExceptions and sys.stderr.write(f"flushing {handler!r} failed\n")


def _mark_forked() -> None:
    global _forked
    _forked = True


def in_multiprocessing_child() -> bool:
    """Whether this process is a multiprocessing child (any start method)."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


def _flush_at_multiprocessing_exit() -> None:
    """Register (once per process) a multiprocessing finalizer that flushes every
    handler at the child's normal exit."""
    global _finalizer_pid
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None or _finalizer_pid == os.getpid():
        return
    _finalizer_pid = os.getpid()
    mp_util.Finalize(None, flush_all, exitpriority=100)


def _after_fork_in_child() -> None:
    """First emit in a forked child: in a multiprocessing child, background handlers
    switch to synchronous writing (see above). Any other child keeps background mode."""
    global _forked
    _forked = False
    if in_multiprocessing_child():
        for handler in list(_handlers):
            if handler.background:
                handler.set_background(False)
        _flush_at_multiprocessing_exit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)
atexit.register(flush_all)

# handleError wants a record: this one names the flush that failed.
_FLUSH_RECORD = logging.LogRecord(
    "concurrent_log_handler", logging.ERROR, __file__, 0, "error while flushing", None, None
)


class NativeFileHandler(logging.Handler):
    """Mixin for a handler whose records go to a native ``Writer``: formats (before any
    lock, so a formatter that itself logs cannot deadlock), encodes, and hands the bytes
    over. Subclasses call :meth:`_open_writer` in ``__init__``.

    A plain :class:`logging.Formatter` (see ``_format.py``) is applied natively, with
    the same bytes as in Python; ``native_format = False`` turns that off (every record
    then takes the Python path: ``self.format(record)``, terminator, newlines, encode).

    Every option is checked, and every default kept, by the native core (its defaults
    are ``_clh.DEFAULT_*``); this class only adapts :mod:`logging`'s API: text encoding,
    newlines, CLH's attribute names."""

    baseFilename: str
    encoding: Optional[str]
    terminator: str
    _writer: Writer
    # The native format for the current formatter, or None: the Python path.
    _native_format: Optional[RecordFormat] = None

    def _open_writer(
        self,
        *,
        newline: Optional[str],
        terminator: str,
        unicode_error_policy: str,
        owner: Optional[Tuple[Union[str, int], Union[str, int]]],
        debug: bool,
        **options: Any,
    ) -> None:
        """Set up the text options, then create the native writer with ``options``
        (``_clh.Options``' keywords: the rotation, file and queue options)."""
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline!r}")
        policy = unicode_policy(unicode_error_policy)
        self._errors = self.unicode_error_policy = policy
        # Text-mode newline translation, applied to message and terminator alike.
        out_newline = os.linesep if newline is None else newline
        self._newline = out_newline if out_newline not in ("", "\n") else None
        self.newline = newline
        self.terminator = terminator or "\n"
        self.owner = owner
        self.chmod = options.get("chmod")
        self.umask = options.get("umask")
        self._debug = debug
        self.user_keep_file_open_preference = options.get("keep_file_open", True)
        self._codec, header = codec_and_header(self.encoding)
        self._rollover_base = 0
        if options.get("background") and in_multiprocessing_child():
            # Ended by os._exit or SIGTERM: queued records would be lost (see above).
            options["background"] = False
            _flush_at_multiprocessing_exit()
        directory = options.pop("lock_file_directory", None)
        native = Options(
            header=header,
            owner=resolve_owner(owner) if owner and os.name == "posix" else None,
            debug=debug,
            lock_file_directory=os.fspath(directory) if directory else None,
            **options,
        )
        self.__dict__["_writer"] = Writer(self.baseFilename, native)
        self.lockFilename = os.fspath(self._writer.lock_path)
        namer = self.__dict__.get("_namer")
        if namer is not None:
            self._writer.set_namer(namer)
        # logging calls handler.handle(record) for every record: unless a subclass
        # overrides handle or emit, a native callable takes the common case (no filter,
        # native format) and hands every other one to handle() (see
        # crates/clh-python/src/handle.rs).
        cls = type(self)
        if cls.handle is NativeFileHandler.handle and cls.emit is NativeFileHandler.emit:
            self.__dict__["handle"] = _clh.FastHandle(
                weakref.ref(self), NativeFileHandler.handle, globals(), _FILTER_RETURNS_RECORD
            )
        _track(self)

    # -- CLH's attributes, read by the native core at every write or rotation --------

    def _native(self, name: str, default: Any) -> Any:
        writer = self.__dict__.get("_writer")
        return default if writer is None else getattr(writer, name)

    def _set_native(self, name: str, value: Any) -> None:
        writer = self.__dict__.get("_writer")
        if writer is None:  # a base class's __init__, before the writer exists
            self.__dict__[f"_early_{name}"] = value
        else:
            setattr(writer, name, value)

    @property
    def maxBytes(self) -> int:  # noqa: N802 - CLH's name
        """Rotate once the log reaches this size (0: never); can be changed at any time."""
        return self._native("max_bytes", self.__dict__.get("_early_max_bytes", 0))

    @maxBytes.setter
    def maxBytes(self, value: int) -> None:  # noqa: N802
        self._set_native("max_bytes", value)

    @property
    def backupCount(self) -> int:  # noqa: N802 - CLH's name
        """How many backups to keep; can be changed at any time (next rotation)."""
        return self._native("backup_count", self.__dict__.get("_early_backup_count", 0))

    @backupCount.setter
    def backupCount(self, value: int) -> None:  # noqa: N802
        self._set_native("backup_count", value)

    @property
    def use_gzip(self) -> bool:
        """Whether backups are gzipped; can be changed at any time (next rotation)."""
        return self._native("use_gzip", self.__dict__.get("_early_use_gzip", False))

    @use_gzip.setter
    def use_gzip(self, value: bool) -> None:
        self._set_native("use_gzip", bool(value))

    @property
    def namer(self) -> Optional[Callable[[str], str]]:  # type: ignore[override]
        """As :attr:`logging.handlers.BaseRotatingHandler.namer`: maps a backup's default
        name (``app.log.3``, ``app.log.2026-11-28``) to the name to use (``.gz`` is
        appended after it). It is called outside the cross-process lock, by the thread
        that logs, and its answers kept: a namer may itself log."""
        return self.__dict__.get("_namer")

    @namer.setter
    def namer(self, namer: Optional[Callable[[str], str]]) -> None:
        self.__dict__["_namer"] = namer
        writer = self.__dict__.get("_writer")
        if writer is not None:
            writer.set_namer(namer)

    @staticmethod
    def baseLockFilename(baseFilename: str) -> Tuple[str, str]:  # noqa: N802, N803
        """CLH's helper: ``(directory, lock file name)`` for a log path: a trailing
        ``.log`` dropped, ``.lock`` added, the name prefixed with ``.__``."""
        lock_file = baseFilename[:-4] if baseFilename.endswith(".log") else baseFilename
        lock_path, lock_name = os.path.split(lock_file + ".lock")
        return lock_path, ".__" + lock_name

    def getLockFilename(self, lock_file_directory: Optional[str]) -> str:  # noqa: N802
        """CLH's helper: the lock file's path, in ``lock_file_directory`` (created if
        missing) or beside the log."""
        lock_path, lock_name = self.baseLockFilename(self.baseFilename)
        if lock_file_directory:
            if not os.path.exists(lock_file_directory):  # CLH checks existence only
                os.makedirs(lock_file_directory)
            return os.path.join(lock_file_directory, lock_name)
        return os.path.join(lock_path, lock_name)

    # -- formatting -----------------------------------------------------------------

    @property  # type: ignore[override]
    def formatter(self) -> Optional[logging.Formatter]:
        """As :attr:`logging.Handler.formatter`; setting it (``setFormatter``,
        ``dictConfig``, assignment) also decides whether it is applied natively."""
        return self.__dict__.get("_formatter")

    @formatter.setter
    def formatter(self, formatter: Optional[logging.Formatter]) -> None:
        self.__dict__["_formatter"] = formatter
        self._native_format = native_format_for(formatter, self)

    @property
    def native_format(self) -> bool:
        """Whether a plain :class:`logging.Formatter` is applied natively (default
        True; the output is the same). False sends every record through
        ``self.format()`` in Python, e.g. to debug or to measure the difference."""
        return self.__dict__.get("_native_format_enabled", True)

    @native_format.setter
    def native_format(self, enabled: bool) -> None:
        self.__dict__["_native_format_enabled"] = bool(enabled)
        self._native_format = native_format_for(self.formatter, self)

    # -- logging.Handler ------------------------------------------------------------

    def handle(self, record: logging.LogRecord) -> Any:
        """As :meth:`logging.Handler.handle`, but unless a subclass overrides
        :meth:`emit`, without taking the handler's lock around it: the native writer
        serializes threads itself, and formatting needs no lock."""
        if type(self).emit is not NativeFileHandler.emit:
            return super().handle(record)
        if self.filters:
            rv = self.filter(record)
            if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
                record = rv
            if not rv:
                return rv
        else:  # what Filterer.filter returns when there is no filter
            rv = record if _FILTER_RETURNS_RECORD else True
        self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record, then append it whole; a due rotation happens first,
        under the lock. Errors go to :meth:`handleError`, as with every stdlib handler
        (in background mode, an error of the writer thread is reported by the next emit
        or flush). With a native format, formatting and writing are one native call; a
        record it cannot format (an exception: a missing field, a failing
        ``__str__``...) is formatted again by the Python path, which reports the error
        exactly as without it."""
        if _forked:
            _after_fork_in_child()
        try:
            native = self._native_format
            if native is not None and self._writer.write_record(
                native, record, self.terminator, self._newline, self._codec, self._errors
            ):
                return
            msg = self.format(record) + self.terminator
            if self._newline is not None:
                msg = msg.replace("\n", self._newline)
            self._writer.write(msg.encode(self._codec, self._errors))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Wait until every record emitted so far is written (background mode) and every
        rotated file is compressed. Errors are reported as :meth:`handleError` does."""
        try:
            self._writer.flush()
        except Exception:
            self.handleError(_FLUSH_RECORD)

    def close(self) -> None:
        """Close the log and lock file (a later emit reopens them, like FileHandler)."""
        self.acquire()
        try:
            writer = self.__dict__.get("_writer")
            if writer is not None:
                writer.close()
        finally:
            try:
                super().close()
            finally:
                self.release()

    @property
    def background(self) -> bool:
        """Whether records are written by a background thread (see ``set_background``)."""
        return self._writer.background_enabled

    def set_background(
        self,
        enabled: bool,
        *,
        queue_records: int = _clh.DEFAULT_QUEUE_RECORDS,
        queue_bytes: int = _clh.DEFAULT_QUEUE_BYTES,
        queue_overflow: str = _clh.DEFAULT_QUEUE_OVERFLOW,
    ) -> None:
        """Switch background writing on or off (switching off writes what is queued)."""
        self.acquire()
        try:
            self._writer.set_background(enabled, queue_records, queue_bytes, queue_overflow)
        finally:
            self.release()
        _track(self)

    @property
    def dropped_records(self) -> int:
        """How many records the ``"drop"`` overflow policy dropped in this process."""
        return self._writer.dropped_records

    @property
    def num_rollovers(self) -> int:
        """Rotations this handler carried out."""
        return self._writer.num_rollovers + self._rollover_base

    @num_rollovers.setter
    def num_rollovers(self, value: int) -> None:
        self._rollover_base = value - self._writer.num_rollovers
