"""Fixtures and helpers shared by the tests in tests/python, in one place.

Fixtures (ask for them by name):

- ``make_handler``, ``make_timed_handler``: build handlers, all closed at teardown;
- ``make_logger``: a logger writing through a handler; unwired and closed at teardown;
- ``shared_dir``, ``world_writable_dir``: directories under /tmp that user nobody can
  traverse / write.

Helpers (``from conftest import ...``):

- handlers and records: :class:`StrictHandler`, :func:`rec`, :func:`assert_complete`;
- other interpreters: :func:`run_python`, :func:`worker_env`, ``CLH_PYTHON`` and the
  ``needs_clh`` mark, :func:`file_config_script`, :func:`dict_config_script`;
- the lock: :func:`held_lock`, :func:`wait_blocked`;
- another user: ``IS_ROOT`` and the ``needs_root`` mark, :func:`nobody_group`,
  :func:`as_nobody`;
- ``SOAK_SCALE``, ``LOGGING_ERROR``, ``TESTS_DIR``, ``REPO``.

This directory is put on ``sys.path`` here, so tests import ``logcheck`` (the record
format and the one integrity checker) and ``reliability`` directly; scripts run in
fresh interpreters put ``TESTS_DIR`` there themselves.
"""

from __future__ import annotations

try:
    import fcntl  # POSIX only: the lock helpers below are not used elsewhere
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parents[1]
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
import logcheck  # noqa: E402 - after the sys.path line above

__all__ = [
    "CLH_PYTHON",
    "IS_ROOT",
    "LOGGING_ERROR",
    "REPO",
    "SOAK_SCALE",
    "TESTS_DIR",
    "StrictHandler",
    "as_nobody",
    "assert_complete",
    "dict_config_script",
    "file_config_script",
    "held_lock",
    "needs_clh",
    "needs_root",
    "nobody_group",
    "rec",
    "run_python",
    "wait_blocked",
    "worker_env",
]

#: Multiplies the load of the soak, fork, crash, interop and background tests (`make soak`).
SOAK_SCALE = int(os.environ.get("CLH_SOAK_SCALE", "1"))
#: What logging.Handler.handleError prints on stderr.
LOGGING_ERROR = "--- Logging error ---"


# -- handlers and loggers -----------------------------------------------------------


class StrictHandler(ConcurrentRotatingFileHandler):
    """Raises the error instead of printing it, so a failed emit or flush fails the test."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if error is None:
            raise RuntimeError("handleError called outside an exception")
        raise error


def rec(msg: str, level: int = logging.INFO) -> logging.LogRecord:
    """A record whose default formatting is exactly ``msg``."""
    return logging.makeLogRecord(
        {"msg": msg, "levelno": level, "levelname": logging.getLevelName(level)}
    )


def _closing_factory(cls: type) -> Iterator[Callable[..., Any]]:
    made: list[logging.Handler] = []

    def factory(*args: Any, **kwargs: Any) -> Any:
        h = cls(*args, **kwargs)
        made.append(h)
        return h

    yield factory
    for h in made:
        h.close()


@pytest.fixture
def make_handler() -> Iterator[Callable[..., ConcurrentRotatingFileHandler]]:
    """Build ConcurrentRotatingFileHandlers (the class's arguments); close them all at teardown."""
    yield from _closing_factory(ConcurrentRotatingFileHandler)


@pytest.fixture
def make_timed_handler() -> Iterator[Callable[..., ConcurrentTimedRotatingFileHandler]]:
    """Build ConcurrentTimedRotatingFileHandlers; close them all at teardown."""
    yield from _closing_factory(ConcurrentTimedRotatingFileHandler)


@pytest.fixture
def make_logger() -> Iterator[Callable[..., logging.Logger]]:
    """``make_logger(handler, name=None)``: a non-propagating INFO logger writing through
    ``handler`` with the formatter ``%(message)s`` (logcheck.framed_logger); a name of
    its own unless ``name`` is given. At teardown every handler is removed from its
    logger and closed (closing twice is harmless)."""
    wired: list[tuple[logging.Logger, logging.Handler]] = []

    def factory(handler: logging.Handler, name: Optional[str] = None) -> logging.Logger:
        logger = logcheck.framed_logger(handler, name or f"clh-test.{len(wired)}.{id(handler)}")
        wired.append((logger, handler))
        return logger

    yield factory
    for logger, handler in wired:
        logger.removeHandler(handler)
        handler.close()


def assert_complete(
    log: Path, expected: logcheck.Expected, *, gz: bool = False, min_backups: int = 0
) -> logcheck.Report:
    """Every expected record exactly once, whole, in order; backups numbered 1..N (at
    least ``min_backups`` of them), all compressed when ``gz`` (and all decompress);
    nothing else beside the log but its lock file. Returns the report."""
    report = logcheck.check(log, expected)
    assert report.clean, report.summary()
    assert logcheck.slot_problems(report.files, gzip=gz) == []
    assert len(report.backups) >= min_backups, (
        f"only {len(report.backups)} rotations: {report.summary()}"
    )
    assert logcheck.stray_files(log) == []
    return report


# -- other interpreters ---------------------------------------------------------------


def run_python(
    code: str,
    *args: str,
    timeout: float = 120,
    env: Optional[dict[str, str]] = None,
    python: Optional[str] = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) with ``args`` in a fresh interpreter (``python``, by
    default this venv's); fail with its output unless it exits 0 with nothing on
    stderr."""
    proc = subprocess.run(
        [python or sys.executable, "-c", textwrap.dedent(code), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0 and proc.stderr == "", (
        f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def worker_env() -> dict[str, str]:
    """The environment for a worker process: no PYTHONPATH, so that each interpreter
    (ours, CLH's) imports its own concurrent_log_handler."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def find_clh_python() -> Optional[str]:
    """The interpreter with the real CLH 0.9.31: $CLH_REFERENCE_PYTHON (set by `make
    test-python`), else the repo's .venv-clh (`make clh-venv`); None if neither exists."""
    for candidate in (
        os.environ.get("CLH_REFERENCE_PYTHON"),
        str(REPO / ".venv-clh" / "bin" / "python"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


CLH_PYTHON = find_clh_python()
#: Skips a test (or, as ``pytestmark``, a module) when CLH_PYTHON was not found.
needs_clh = pytest.mark.skipif(
    CLH_PYTHON is None,
    reason="CLH 0.9.31 reference interpreter not found: set CLH_REFERENCE_PYTHON or run "
    "`make clh-venv` (creates .venv-clh)",
)


# -- logging.config -------------------------------------------------------------------


def file_config_script(ini: Path, handler_class: str, args: tuple[Any, ...]) -> str:
    """Write a fileConfig file to ``ini`` (the root logger at INFO, one handler
    ``class=handlers.<handler_class>`` with ``args=<args>``, formatted ``%(message)s``)
    and return the code that loads it, for :func:`run_python` (a fresh interpreter:
    fileConfig disables the loggers that exist)."""
    ini.write_text(
        textwrap.dedent(
            f"""\
            [loggers]
            keys=root
            [handlers]
            keys=clh
            [formatters]
            keys=plain
            [logger_root]
            level=INFO
            handlers=clh
            [handler_clh]
            class=handlers.{handler_class}
            level=INFO
            formatter=plain
            args={args!r}
            [formatter_plain]
            format=%(message)s
            """
        )
    )
    return (
        f"import logging.config, concurrent_log_handler\nlogging.config.fileConfig({str(ini)!r})\n"
    )


def dict_config_script(key: str, handler_class: str, **options: Any) -> str:
    """Code that configures logging with dictConfig, for :func:`run_python`: the root
    logger at INFO, one handler made by ``key`` ("()" or "class") =
    ``concurrent_log_handler.<handler_class>`` with ``options`` as keyword arguments,
    formatted ``%(message)s``."""
    config = {
        "version": 1,
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {
            "clh": {key: f"concurrent_log_handler.{handler_class}", "formatter": "plain", **options}
        },
        "root": {"level": "INFO", "handlers": ["clh"]},
    }
    return f"import logging.config\nlogging.config.dictConfig({config!r})\n"


# -- the lock ---------------------------------------------------------------------------


@contextmanager
def held_lock(path: str | os.PathLike[str]) -> Iterator[int]:
    """Hold the lock file's flock (created if missing) from this test through an open
    file description of its own, so that it excludes the handlers of this process as
    it would another process; yields the descriptor, released and closed on exit."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def wait_blocked(
    inode: int,
    pids: Iterable[int],
    *,
    timeout: float,
    abort: Optional[Callable[[], bool]] = None,
    poll: float = 0.001,
) -> bool:
    """Wait until every process in ``pids`` has a thread blocked in flock() on the file
    with this inode (no event tells when a thread blocks: this polls /proc/locks).
    Returns True then; False as soon as ``abort()`` (called on each poll, and free to
    fail the test itself) returns True. Fails the test after ``timeout`` seconds."""
    pids = set(pids)
    deadline = time.monotonic() + timeout
    while not pids <= logcheck.flock_waiters(inode):
        if abort is not None and abort():
            return False
        assert time.monotonic() < deadline, (
            f"processes {sorted(pids)} never blocked in flock() on inode {inode} "
            f"within {timeout:.0f} s"
        )
        time.sleep(poll)
    return True


# -- another user -----------------------------------------------------------------------

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
#: Skips a test that must switch to user nobody when not run as root.
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (to switch to user nobody)")


def nobody_group() -> str:
    """The group of user nobody (``nogroup`` or ``nobody``); skips the test if neither
    exists."""
    import grp

    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    pytest.skip("no 'nogroup' or 'nobody' group on this machine")


def as_nobody(fn: Callable[[], None]) -> str:
    """Run ``fn`` in a forked child that has dropped root for nobody (needs root); return
    "ok" or "<ExceptionType>: <message>"."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                fn()
                out = "ok"
            except BaseException as e:  # noqa: BLE001
                out = f"{type(e).__name__}: {e}"
            os.write(w, out.encode("utf-8", "replace"))
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return b"".join(chunks).decode()


def _dir_under_tmp(prefix: str, mode: int) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(mode)
    yield d
    shutil.rmtree(d)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory under /tmp (mode 0755) that user nobody can traverse (pytest's
    tmp_path cannot); removed afterwards."""
    yield from _dir_under_tmp("clh-shared-", 0o755)


@pytest.fixture
def world_writable_dir() -> Iterator[Path]:
    """A directory under /tmp that root and nobody may both write (mode 0777). Not
    sticky: in a sticky directory nobody could not rename (rotate) a log that root
    created, whatever the handler does."""
    yield from _dir_under_tmp("clh-rw-", 0o777)
