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
from typing import Any, Mapping, Optional, Tuple, Union

from concurrent_log_handler._clh import Writer

_UNICODE_ERROR_POLICIES = ("ignore", "replace", "strict")

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


def optional_int(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    return count(name, value)


def count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


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
    """Mixin for a handler whose records go to a native ``Writer``: formats in Python
    (before any lock, so a formatter that itself logs cannot deadlock), encodes, and
    hands the bytes over. Subclasses call :meth:`_open_writer` in ``__init__``."""

    baseFilename: str
    encoding: Optional[str]
    terminator: str
    _writer: Writer

    def _store_options(self, args: Mapping[str, Any]) -> None:
        """Set CLH's attributes for the rotation options. ``args`` is the constructor's
        ``locals()`` (CLH's parameter names)."""
        self.maxBytes = args["maxBytes"]
        self.backupCount = args["backupCount"]
        self.use_gzip = bool(args["use_gzip"])
        self._debug = args["debug"]
        self.user_keep_file_open_preference = args["keep_file_open"]

    def _open_writer(self, args: Mapping[str, Any], **schedule: Any) -> None:
        """Validate and store the text and file options both handlers share, then create
        the native writer. ``args`` is the constructor's ``locals()`` (CLH's parameter
        names); ``schedule`` carries the timed handler's extra native options."""
        newline = args["newline"]
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline!r}")
        chmod = optional_int("chmod", args["chmod"])
        umask = optional_int("umask", args["umask"])
        policy = unicode_policy(args["unicode_error_policy"])
        self._errors = self.unicode_error_policy = policy
        # Text-mode newline translation, applied to message and terminator alike.
        out_newline = os.linesep if newline is None else newline
        self._newline = out_newline if out_newline not in ("", "\n") else None
        self.newline = newline
        self.terminator = args["terminator"] or "\n"
        owner = self.owner = args["owner"]
        self.chmod = chmod
        self.umask = umask
        lock_file_directory = args["lock_file_directory"]
        self._codec, header = codec_and_header(self.encoding)
        self._rollover_base = 0
        background = args["background"]
        if background and in_multiprocessing_child():
            # Ended by os._exit or SIGTERM: queued records would be lost (see above).
            background = False
            _flush_at_multiprocessing_exit()
        self._writer = Writer(
            self.baseFilename,
            lock_dir=os.fspath(lock_file_directory) if lock_file_directory else None,
            mode=chmod,
            owner=resolve_owner(owner) if owner and os.name == "posix" else None,
            umask=umask,
            header=header,
            max_bytes=args["maxBytes"],
            backup_count=args["backupCount"],
            gzip=bool(args["use_gzip"]),
            keep_file_open=args["keep_file_open"],
            debug=args["debug"],
            background=background,
            queue_records=args["queue_records"],
            queue_bytes=args["queue_bytes"],
            overflow=args["queue_overflow"],
            **schedule,
        )
        self.lockFilename = os.fspath(self._writer.lock_path)
        _track(self)

    def handle(self, record: logging.LogRecord) -> Any:
        """As :meth:`logging.Handler.handle`, but unless a subclass overrides
        :meth:`emit`, without taking the handler's lock around it: the native writer
        serializes threads itself, and formatting needs no lock."""
        if type(self).emit is not NativeFileHandler.emit:
            return super().handle(record)
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = rv
        if rv:
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record, then append it whole; a due rotation happens first,
        under the lock. Errors go to :meth:`handleError`, as with every stdlib handler
        (in background mode, an error of the writer thread is reported by the next emit
        or flush)."""
        if _forked:
            _after_fork_in_child()
        try:
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
        queue_records: int = 10_000,
        queue_bytes: int = 8 << 20,
        queue_overflow: str = "block",
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
        return self._writer.dropped

    @property
    def num_rollovers(self) -> int:
        """Rotations this handler carried out."""
        return self._writer.rollovers + self._rollover_base

    @num_rollovers.setter
    def num_rollovers(self, value: int) -> None:
        self._rollover_base = value - self._writer.rollovers
