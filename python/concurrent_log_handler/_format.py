"""Which formatters are formatted natively: ``native_format_for`` decides, once per
formatter set on a handler, whether a :class:`_clh.RecordFormat` formats its records.

Native formatting gives the same bytes as the Python path (``handler.format(record)``
then ``+ terminator``, newline translation and encoding). It applies to a plain
:class:`logging.Formatter` with a ``%``, ``{`` or ``$`` style: the class itself, or a
subclass that does not override ``format``, ``formatTime``, ``formatMessage`` or
``usesTime`` (overriding ``formatException``, ``formatStack`` or setting ``converter``
is fine: they are used through the instance). The native side checks the formatter's
attributes and format string (``crates/clh-python/src/format/``), and keeps watching
them: a formatter changed afterwards is planned again at its next record. Anything
else, a custom ``Handler.format``, or ``handler.native_format = False``, takes the
Python path unchanged.
"""

from __future__ import annotations

import logging
from typing import Optional

from concurrent_log_handler._clh import RecordFormat

__all__ = ["native_format_for"]

_HANDLER_FORMAT = logging.Handler.format


def native_format_for(
    formatter: Optional[logging.Formatter], handler: Optional[logging.Handler] = None
) -> Optional[RecordFormat]:
    """The native format for ``formatter`` set on ``handler``, or ``None`` when its
    records take the Python path. ``formatter=None`` (or a falsy formatter) means
    logging's default formatter, as :meth:`logging.Handler.format` does."""
    if handler is not None:
        if not getattr(handler, "native_format", True):
            return None
        if type(handler).format is not _HANDLER_FORMAT or "format" in vars(handler):
            return None
    fmt = formatter if formatter else logging._defaultFormatter  # type: ignore[attr-defined]
    if not isinstance(fmt, logging.Formatter):
        return None
    try:
        return RecordFormat.from_formatter(fmt)
    except ValueError:
        return None
