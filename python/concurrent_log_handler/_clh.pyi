"""Type stubs for the native module built from crates/clh-python (checked against it by
``mypy.stubtest`` in ``make lint``)."""

import logging
import os
import pathlib
import weakref
from typing import Any, Callable, Dict, Final, List, Literal, Optional, Tuple, Union, final

__version__: str
__all__ = [
    "DEFAULT_BACKUP_COUNT",
    "DEFAULT_KEEP_FILE_OPEN",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_QUEUE_BYTES",
    "DEFAULT_QUEUE_OVERFLOW",
    "DEFAULT_QUEUE_RECORDS",
    "FastHandle",
    "Options",
    "RecordFormat",
    "STALL_LIMIT_SECONDS",
    "Writer",
    "__version__",
    "cli_main",
    "lock_path_for",
]

_Path = Union[str, "os.PathLike[str]"]
_Overflow = Literal["block", "drop"]
_Style = Literal["%", "{", "$"]
_When = Literal[
    "S", "M", "H", "D", "MIDNIGHT", "W0", "W1", "W2", "W3", "W4", "W5", "W6",
    "s", "m", "h", "d", "midnight", "w0", "w1", "w2", "w3", "w4", "w5", "w6",
]  # fmt: skip

DEFAULT_MAX_BYTES: Final[int]
DEFAULT_BACKUP_COUNT: Final[int]
DEFAULT_KEEP_FILE_OPEN: Final[bool]
DEFAULT_QUEUE_RECORDS: Final[int]
DEFAULT_QUEUE_BYTES: Final[int]
DEFAULT_QUEUE_OVERFLOW: Final[_Overflow]
STALL_LIMIT_SECONDS: Final[float]

@final
class Options:
    """A writer's options (see the Rust `clh::Builder`); every default and check is
    the core's."""

    def __new__(
        cls,
        *,
        max_bytes: Optional[int] = None,
        backup_count: Optional[int] = None,
        use_gzip: bool = False,
        lock_file_directory: Optional[_Path] = None,
        chmod: Optional[int] = None,
        owner: Optional[Tuple[int, int]] = None,
        umask: Optional[int] = None,
        keep_file_open: Optional[bool] = None,
        debug: bool = False,
        header: Optional[bytes] = None,
        when: Optional[_When] = None,
        interval: Optional[int] = None,
        utc: bool = False,
        at_time: Optional[Tuple[int, int, int]] = None,
        suffix: Optional[str] = None,
        background: bool = False,
        queue_records: Optional[int] = None,
        queue_bytes: Optional[int] = None,
        queue_overflow: _Overflow = "block",
    ) -> Options: ...

@final
class Writer:
    """Appends records to one shared, rotating log file (the Rust core's LogWriter)."""

    def __new__(cls, path: _Path, options: Options) -> Writer: ...
    def write(self, data: bytes) -> None: ...
    def write_record(
        self,
        format: RecordFormat,
        record: logging.LogRecord,
        terminator: str,
        newline: Optional[str],
        encoding: str,
        errors: str,
    ) -> bool: ...
    def set_background(
        self,
        enabled: bool,
        queue_records: Optional[int] = None,
        queue_bytes: Optional[int] = None,
        queue_overflow: _Overflow = "block",
    ) -> None: ...
    @property
    def background_enabled(self) -> bool: ...
    @property
    def dropped_records(self) -> int: ...
    def should_rotate(self) -> bool: ...
    def rotate(self) -> None: ...
    def set_namer(self, namer: Optional[Callable[[str], str]]) -> None: ...
    @property
    def max_bytes(self) -> int: ...
    @max_bytes.setter
    def max_bytes(self, value: int) -> None: ...
    @property
    def backup_count(self) -> int: ...
    @backup_count.setter
    def backup_count(self, value: int) -> None: ...
    @property
    def use_gzip(self) -> bool: ...
    @use_gzip.setter
    def use_gzip(self, value: bool) -> None: ...
    @property
    def next_rollover(self) -> Optional[int]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    @property
    def num_rollovers(self) -> int: ...
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def lock_path(self) -> pathlib.Path: ...

@final
class FastHandle:
    """A handler's ``handle(record)`` for the common case, in one native call; every
    other case goes to ``python_handle(handler, record)``."""

    def __new__(
        cls,
        handler: weakref.ReferenceType[logging.Handler],
        python_handle: Callable[[logging.Handler, logging.LogRecord], Any],
        globals: Dict[str, Any],
        returns_record: bool,
    ) -> FastHandle: ...
    def __call__(self, record: logging.LogRecord) -> Any: ...

@final
class RecordFormat:
    """A plain ``logging.Formatter``'s format done natively: ``format(record)`` is
    exactly ``formatter.format(record)`` (``record.message``, ``record.asctime`` and
    ``record.exc_text`` set as it sets them); a record it cannot format natively is
    formatted by the formatter's own ``format``. ``ValueError`` from the constructors
    for a formatter that is not formatted natively."""

    def __new__(
        cls,
        fmt: Optional[str] = None,
        style: _Style = "%",
        datefmt: Optional[str] = None,
        default_time_format: str = "%Y-%m-%d %H:%M:%S",
        default_msec_format: Optional[str] = "%s,%03d",
        converter: Optional[Callable[[Optional[float]], Any]] = None,
        defaults: Optional[Dict[str, Any]] = None,
    ) -> RecordFormat: ...
    @staticmethod
    def from_formatter(formatter: logging.Formatter) -> RecordFormat: ...
    @property
    def formatter(self) -> logging.Formatter: ...
    @property
    def native(self) -> bool: ...
    @property
    def fallbacks(self) -> int: ...
    def format(self, record: logging.LogRecord) -> str: ...
    def format_bytes(
        self,
        record: logging.LogRecord,
        terminator: str,
        newline: Optional[str],
        encoding: str,
        errors: str,
    ) -> bytes:
        """``(format(record) + terminator)``, ``"\\n"`` replaced by ``newline`` unless
        None, encoded with ``encoding`` and ``errors``."""

def lock_path_for(path: _Path, lock_file_directory: Optional[_Path] = None) -> pathlib.Path: ...
def cli_main(argv: List[str]) -> int:
    """Run the ``clh`` command with ``argv`` (the program name first), the GIL
    released, and return its exit code (0, 1, or 2 for a usage error)."""
