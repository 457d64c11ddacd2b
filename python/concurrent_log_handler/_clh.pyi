"""Type stubs for the native module built from crates/clh-python."""

import os
import pathlib
from typing import Callable, Mapping, Optional, Tuple, Union

__version__: str

_Path = Union[str, "os.PathLike[str]"]

class Writer:
    """Appends records to one shared, rotating log file (the Rust core's LogWriter)."""

    def __init__(
        self,
        path: _Path,
        *,
        max_bytes: int = 0,
        backup_count: int = 0,
        gzip: bool = False,
        lock_dir: Optional[_Path] = None,
        mode: Optional[int] = None,
        owner: Optional[Tuple[int, int]] = None,
        umask: Optional[int] = None,
        keep_file_open: bool = True,
        debug: bool = False,
        header: Optional[bytes] = None,
        when: Optional[str] = None,
        interval: int = 1,
        utc: bool = False,
        at_time: Optional[Tuple[int, int, int]] = None,
        suffix: Optional[str] = None,
        background: bool = False,
        queue_records: int = 10_000,
        queue_bytes: int = 8 << 20,
        overflow: str = "block",
    ) -> None: ...
    def set_background(
        self,
        enabled: bool,
        queue_records: int = 10_000,
        queue_bytes: int = 8 << 20,
        overflow: str = "block",
    ) -> None: ...
    @property
    def background_enabled(self) -> bool: ...
    @property
    def dropped(self) -> int: ...
    def write(self, data: bytes) -> None: ...
    def should_rotate(self) -> bool: ...
    def rotate(self) -> None: ...
    def set_backup_names(self, names: Optional[Mapping[str, str]]) -> None: ...
    def set_namer(self, namer: Optional[Callable[[str], str]]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    @property
    def next_rollover(self) -> Optional[int]: ...
    @property
    def rollovers(self) -> int: ...
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def lock_path(self) -> pathlib.Path: ...

def lock_path_for(path: _Path, lock_dir: Optional[_Path] = None) -> pathlib.Path: ...
