"""Log through a background thread: ``setup_logging_queues()``.

As in the original concurrent-log-handler README::

    from concurrent_log_handler.queue import setup_logging_queues
    setup_logging_queues()

After the call, every handler of every configured logger is written to in the
background, so logging calls return without waiting for the disk:

* this package's handlers switch to their native background mode (a bounded queue and
  a writer thread in Rust that never needs the GIL);
* any other handler is put behind a :class:`logging.handlers.QueueHandler` with a
  *bounded* queue, drained by a :class:`logging.handlers.QueueListener`. Records are
  queued as they are, not pre-formatted, so each handler formats them exactly as before
  (structlog's ``ProcessorFormatter``, which reads ``record.msg``, keeps working), and
  each handler's level and filters still apply.

When a bounded queue is full the caller waits (``queue_overflow="block"``, nothing is
lost) or the record is dropped and counted (``queue_overflow="drop"``; the count is each
handler's ``dropped_records``, for other handlers the queue handler's). Errors raised by a handler
in the listener thread are reported through that handler's ``handleError``, as usual.
:func:`stop_queue_listeners` writes what is queued and restores the original
handlers; it also runs at interpreter exit.
"""

from __future__ import annotations

import atexit
import copy
import logging
import logging.handlers
import queue
import threading
from typing import Dict, List, Optional, Tuple

from concurrent_log_handler import _clh
from concurrent_log_handler._common import NativeFileHandler

__all__ = ["setup_logging_queues", "stop_queue_listeners"]

_lock = threading.Lock()
# logger -> [(original handler, queue handler or None if switched natively)]
_installed: Dict[logging.Logger, List[Tuple[logging.Handler, Optional[logging.Handler]]]] = {}
_listeners: List[logging.handlers.QueueListener] = []


class _BoundedQueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler that queues the record itself (a shallow copy, not formatted),
    waits or drops when the queue is full, and counts drops."""

    def __init__(self, q: "queue.Queue[logging.LogRecord]", overflow: str) -> None:
        super().__init__(q)
        self.overflow = overflow
        self.dropped_records = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """A shallow copy with %-arguments merged now, as the stdlib does (they may
        change before the listener formats the record); a non-string ``msg`` (a
        structlog event dict) is left for the handler's formatter."""
        record = copy.copy(record)
        if isinstance(record.msg, str) and record.args:
            record.msg = record.getMessage()
            record.args = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.overflow == "drop":
            try:
                self.queue.put_nowait(record)
            except queue.Full:
                self.dropped_records += 1
        else:
            self.queue.put(record)


def _all_loggers() -> List[logging.Logger]:
    loggers = [logging.getLogger()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            loggers.append(logger)
    return loggers


def setup_logging_queues(
    *,
    queue_records: int = _clh.DEFAULT_QUEUE_RECORDS,
    queue_bytes: int = _clh.DEFAULT_QUEUE_BYTES,
    queue_overflow: str = _clh.DEFAULT_QUEUE_OVERFLOW,
) -> None:
    """Make every handler of every configured logger write in the background.

    ``queue_records`` bounds each queue in records (and ``queue_bytes`` the native
    queues in bytes); ``queue_overflow`` is ``"block"`` (wait, the default) or
    ``"drop"``: the same options, checked the same way, as the handlers' own. Calling
    it again only converts handlers added since.
    """
    # The native core checks the values (ValueError naming the bad one).
    _clh.Options(
        queue_records=queue_records, queue_bytes=queue_bytes, queue_overflow=queue_overflow
    )
    with _lock:
        # A handler on several loggers gets one queue (and one listener), not one each.
        queued = {id(orig): qh for entries in _installed.values() for orig, qh in entries if qh}
        wrappers = {id(qh) for qh in queued.values()}
        for logger in _all_loggers():
            entries = _installed.setdefault(logger, [])
            for index, handler in enumerate(list(logger.handlers)):
                if id(handler) in wrappers or any(handler is orig for orig, _ in entries):
                    continue
                if id(handler) in queued:
                    logger.handlers[index] = queued[id(handler)]
                    entries.append((handler, queued[id(handler)]))
                    continue
                if isinstance(handler, NativeFileHandler):
                    if not handler.background:
                        handler.set_background(
                            True,
                            queue_records=queue_records,
                            queue_bytes=queue_bytes,
                            queue_overflow=queue_overflow,
                        )
                        entries.append((handler, None))
                    continue
                q: "queue.Queue[logging.LogRecord]" = queue.Queue(maxsize=queue_records)
                queue_handler = _BoundedQueueHandler(q, queue_overflow)
                listener = logging.handlers.QueueListener(q, handler, respect_handler_level=True)
                listener.start()
                _listeners.append(listener)
                logger.handlers[index] = queue_handler
                entries.append((handler, queue_handler))
                queued[id(handler)] = queue_handler
                wrappers.add(id(queue_handler))


def stop_queue_listeners() -> None:
    """Write everything queued, stop the listener threads, and put the original
    handlers back (this package's handlers return to writing synchronously)."""
    with _lock:
        for listener in _listeners:
            listener.stop()  # processes what is queued first
        _listeners.clear()
        for logger, entries in _installed.items():
            for original, queue_handler in entries:
                if queue_handler is None:
                    original.set_background(False)  # type: ignore[attr-defined]
                elif queue_handler in logger.handlers:
                    logger.handlers[logger.handlers.index(queue_handler)] = original
        _installed.clear()


atexit.register(stop_queue_listeners)
