"""Fork safety: a handler created before os.fork() keeps working in the parent and in
every child, each child with its own lock (CLH bug #8: children sharing the parent's
flock wrote over each other), without deadlocking when the fork catches another
thread inside a write, and without writing any record twice.

Every record is framed (tests/python/logcheck.py: writer id, sequence number, CRC, end
marker), so lost, duplicated, torn and interleaved records are all detected.
Scale with CLH_SOAK_SCALE (default 1).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Callable

import logcheck
import pytest
from conftest import SOAK_SCALE, StrictHandler, assert_complete, held_lock, wait_blocked

CHILD_TIMEOUT = 30.0  # seconds: a deadlock guard, far above the time a child needs
POOL_LOGGER = "test_fork.pool"


def payload(wid: str, seq: int) -> str:
    """Every 8th record is 8 KiB (a record spanning pages is the one most likely to be
    torn or interleaved), the others 150-250 bytes."""
    size = 8 * 1024 if seq % 8 == 0 else 150 + seq % 100
    unit = f"{wid}:{seq} "
    return (unit * (size // len(unit) + 1))[:size]


def log_records(logger: logging.Logger, wid: str, seqs: Iterable[int]) -> None:
    for seq in seqs:
        logger.info(logcheck.format_record(wid, seq, payload(wid, seq)))


def strict_handler(log: Path, **kwargs: object) -> StrictHandler:
    """A StrictHandler on ``log`` that keeps every backup."""
    return StrictHandler(str(log), backupCount=1_000_000, **kwargs)  # type: ignore[arg-type]


def fork_child(body: Callable[[], None]) -> int:
    """Fork; the child runs ``body`` and leaves with os._exit (0 if it returned, 1 if it
    raised, after printing the traceback) so it never runs any of pytest's code."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            body()
            code = 0
        except BaseException:  # noqa: BLE001 - reported through the exit code
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def wait_exit(pid: int, timeout: float = CHILD_TIMEOUT) -> int:
    """The exit code of child ``pid``. A child still running after ``timeout`` seconds
    is deadlocked: kill it and fail."""
    deadline = time.monotonic() + timeout
    if hasattr(os, "pidfd_open"):  # Linux: wait for the exit itself
        fd = os.pidfd_open(pid)
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"child {pid} did not exit within {timeout} s: deadlocked")
        time.sleep(0.01)  # only without pidfd_open: poll


def test_handler_made_before_fork_serves_parent_and_children(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """One handler, created and used before fork(): 4 children x 5000 records and the
    parent log at once, rotating every few records (64 KiB, every 8th record 8 KiB).
    Were the children's flock the parent's (one open file description), it would not
    exclude them: concurrent rotations would collide (errors, lost or doubled backups).
    A fifth child only flushes, closes and shuts logging down: none of the parent's
    pre-fork records may be written again. The parent keeps logging after the children
    have closed their copies."""
    children, per_child = 4, 5000 * SOAK_SCALE
    pre, during, post = 200, 1000 * SOAK_SCALE, 200
    log = tmp_path / "app.log"
    handler = strict_handler(log, maxBytes=64 * 1024)
    logger = make_logger(handler, "test_fork.shared")
    log_records(logger, "parent", range(pre))

    go_read, go_write = os.pipe()

    def child(i: int) -> Callable[[], None]:
        def body() -> None:
            os.read(go_read, 1)  # start together with the others
            log_records(logger, f"child{i}", range(per_child))
            handler.flush()
            handler.close()

        return body

    def idle() -> None:
        os.read(go_read, 1)
        handler.flush()
        handler.close()
        logging.shutdown()  # what interpreter exit does

    pids = [fork_child(child(i)) for i in range(children)] + [fork_child(idle)]
    os.close(go_read)
    os.write(go_write, b"g" * len(pids))
    os.close(go_write)
    log_records(logger, "parent", range(pre, pre + during))
    codes = [wait_exit(pid) for pid in pids]
    assert codes == [0] * len(pids)
    log_records(logger, "parent", range(pre + during, pre + during + post))
    handler.close()

    expected = {f"child{i}": per_child for i in range(children)}
    expected["parent"] = pre + during + post
    assert_complete(log, expected, min_backups=50)


class LoggingThread(threading.Thread):
    """Logs records of writer "thread" in a tight loop until stopped; ``logged`` counts
    the records whose logging call returned."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(daemon=True)
        self.logger = logger
        self.logged = 0
        self.failure: BaseException | None = None
        self.progress = threading.Condition()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                log_records(self.logger, "thread", range(self.logged, self.logged + 1))
                with self.progress:
                    self.logged += 1
                    self.progress.notify_all()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            with self.progress:
                self.failure = e
                self.progress.notify_all()

    def assert_not_failed(self) -> bool:
        """Fail the test if the thread failed; False otherwise (for wait_blocked)."""
        assert self.failure is None, repr(self.failure)
        return False

    def wait_logged(self, n: int) -> None:
        """Wait until the thread has logged ``n`` records; fail if it stalls or fails."""
        with self.progress:
            ok = self.progress.wait_for(
                lambda: self.logged >= n or self.failure is not None, CHILD_TIMEOUT
            )
        assert self.failure is None, f"the logging thread failed: {self.failure!r}"
        assert ok, f"the logging thread stalled at {self.logged} records"

    def finish(self) -> int:
        """Stop the thread; the number of records it logged."""
        self.stop.set()
        self.join(CHILD_TIMEOUT)
        assert not self.is_alive(), "the logging thread hung"
        assert self.failure is None, f"the logging thread failed: {self.failure!r}"
        return self.logged


def fork_loggers(
    logger: logging.Logger,
    handler: StrictHandler,
    j: int,
    per_fork: int,
    close_fd: int | None = None,
) -> int:
    """Fork a child that logs ``per_fork`` records of writer fork<j> and closes the
    handler (closing ``close_fd`` first); return its pid."""

    def body() -> None:
        if close_fd is not None:
            os.close(close_fd)
        log_records(logger, f"fork{j}", range(per_fork))
        handler.close()

    return fork_child(body)


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_fork_while_another_thread_logs(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """A thread logs in a tight loop (gzip, rotating every few records) while the main
    thread forks 50 times at arbitrary moments: a fork can catch the thread inside the
    native write, holding its mutex and the flock. Each child must log at once (a
    deadlock is caught by a timeout), its records must appear exactly once, and the
    parent's thread must keep logging through and after the forks."""
    forks, per_fork = 50 * SOAK_SCALE, 20
    log = tmp_path / "app.log"
    handler = strict_handler(log, maxBytes=16 * 1024, use_gzip=True)
    logger = make_logger(handler, "test_fork.threaded")
    thread = LoggingThread(logger)
    thread.start()
    try:
        thread.wait_logged(50)
        for j in range(forks):
            assert wait_exit(fork_loggers(logger, handler, j, per_fork)) == 0, f"fork {j}"
        thread.wait_logged(thread.logged + 100)  # still logging after the last fork
    finally:
        logged = thread.finish()
    handler.close()

    expected = {f"fork{j}": per_fork for j in range(forks)}
    expected["thread"] = logged
    assert_complete(log, expected, min_backups=10)


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux /proc/locks")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_fork_while_another_thread_waits_inside_a_write(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """The deterministic version: the test holds the flock itself, so the logging
    thread blocks inside the native write holding the writer's mutex (and the
    handler's lock); only then does the main thread fork. The child inherits that
    mutex locked by a thread it does not have: it must still log at once (once the
    test releases the flock), with its own descriptors, and the thread goes on."""
    forks, per_fork = 10 * SOAK_SCALE, 20
    log = tmp_path / "app.log"
    handler = strict_handler(log, maxBytes=16 * 1024)
    logger = make_logger(handler, "test_fork.blocked")
    lock_path = Path(handler.lockFilename)
    thread = LoggingThread(logger)
    thread.start()
    try:
        thread.wait_logged(10)
        for j in range(forks):
            with held_lock(lock_path) as fd:
                wait_blocked(
                    os.fstat(fd).st_ino,
                    [os.getpid()],
                    timeout=CHILD_TIMEOUT,
                    abort=thread.assert_not_failed,
                )
                pid = fork_loggers(logger, handler, j, per_fork, close_fd=fd)
            assert wait_exit(pid) == 0, f"fork {j}"
        thread.wait_logged(thread.logged + 100)
    finally:
        logged = thread.finish()
    handler.close()

    expected = {f"fork{j}": per_fork for j in range(forks)}
    expected["thread"] = logged
    assert_complete(log, expected, min_backups=5)


def _pool_task(task: int) -> int:
    """Runs in a pool worker: log through the handler the parent configured."""
    log_records(logging.getLogger(POOL_LOGGER), f"task{task}", range(500))
    return os.getpid()


def test_multiprocessing_fork_pool(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """A Pool of 4 'fork' workers logs through the logger and handler the parent set up
    (and had already used): every record once, whole, with rotation at 32 KiB."""
    tasks = 16 * SOAK_SCALE
    log = tmp_path / "app.log"
    handler = strict_handler(log, maxBytes=32 * 1024)
    logger = make_logger(handler, POOL_LOGGER)
    log_records(logger, "parent", range(100))
    pool = multiprocessing.get_context("fork").Pool(4)
    try:
        pids = pool.map_async(_pool_task, range(tasks), chunksize=1).get(timeout=120)
        pool.close()
        pool.join()
    finally:
        pool.terminate()
    assert os.getpid() not in pids
    log_records(logger, "parent", range(100, 200))
    handler.close()

    expected = {f"task{t}": 500 for t in range(tasks)}
    expected["parent"] = 200
    assert_complete(log, expected, min_backups=20)


DROP_IN_CHILD = r"""
import os, sys
from concurrent_log_handler._clh import Options, Writer

writer = Writer(sys.argv[1], Options(max_bytes=10, backup_count=5, use_gzip=True))
for _ in range(5):
    writer.write(b"some record here\n")  # rotations start the compression thread
writer.flush()
pid = os.fork()
if pid == 0:
    del writer  # dropped in the child, which never used it: it is the parent's
    sys.exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_writer_dropped_in_a_child_that_never_used_it(tmp_path: Path) -> None:
    """A child that drops a writer whose compression thread runs in the parent must not
    join that thread (it does not exist in the child): no panic, no hang."""
    result = subprocess.run(
        [sys.executable, "-c", DROP_IN_CHILD, str(tmp_path / "app.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "panicked" not in result.stderr, result.stderr
