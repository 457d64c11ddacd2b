"""The wheel's ``clh`` console script (``concurrent_log_handler._cli:main``), run as a
real process from this venv's ``bin``: the Rust command inside a Python interpreter.

What matters there and not for the ``clh`` binary: Python installs its own SIGINT
handler, and the command runs on the interpreter's main thread with the GIL released;
SIGTERM, SIGINT and SIGHUP must still end ``clh write`` cleanly (every line read
written, exit 0). Then a mixed fleet: ``clh write`` processes, this package's handler
and CLH 0.9.31 writing one rotating, gzipped log at once.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import logcheck
import pytest
from conftest import CLH_PYTHON, TESTS_DIR, assert_complete, needs_clh, worker_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and paths")

CLH = Path(sys.executable).parent / "clh"
PATIENCE = 30.0  # guard only: a hung process fails the test instead of blocking it


def clh(*args: str, input: Optional[bytes] = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(CLH), *args], input=input, capture_output=True, timeout=PATIENCE, check=False
    )


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_script_is_installed_and_is_the_rust_command() -> None:
    assert CLH.exists(), f"{CLH} missing: is the package installed (make dev)?"
    help_ = clh("write", "--help")
    assert help_.returncode == 0, help_.stderr
    assert b"EXIT STATUS" in help_.stdout and b"CustomLog" in help_.stdout
    version = clh("--version")
    assert version.returncode == 0 and version.stdout.startswith(b"clh ")
    usage = clh("write", "--max-bytes", "lots", "x.log")
    assert usage.returncode == 2
    assert b"not a size" in usage.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_ends_clh_write_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    log = tmp_path / "app.log"
    proc = subprocess.Popen(
        [str(CLH), "write", str(log), "--max-bytes", "4KiB", "--backups", "100"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"first\n")
        proc.stdin.flush()
        wait_until("the first record", lambda: log.exists() and b"first\n" in log.read_bytes())
        expected = [b"first"]
        for i in range(2000):
            line = b"line %04d written before the signal" % i
            proc.stdin.write(line + b"\n")
            expected.append(line)
        proc.stdin.write(b"unterminated")
        expected.append(b"unterminated")
        proc.stdin.flush()
        # Right away: much of it is still in the pipe, unread.
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (proc.returncode, err)
    assert err == b"" and out == b""
    cat = clh("cat", str(log))
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout.split(b"\n") == [*expected, b""]
    assert len(list(tmp_path.glob("app.log.*"))) > 5


def test_cat_and_status_through_the_script(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = b"".join(b"record %d\n" % i for i in range(300))
    write = clh("write", str(log), "--max-bytes", "1KiB", "--backups", "50", "--gzip", input=lines)
    assert write.returncode == 0 and write.stderr == b"", write.stderr
    cat = clh("cat", str(log))
    assert cat.returncode == 0 and cat.stdout == lines
    status = clh("status", str(log))
    assert status.returncode == 0, status.stderr
    assert b"app.log.1.gz" in status.stdout and b"pending       none" in status.stdout
    # `clh cat | head`: the reader goes away, quietly (Python ignores SIGPIPE too).
    head = subprocess.run(
        f"'{CLH}' cat '{log}' | head -n 1",
        shell=True,
        capture_output=True,
        timeout=PATIENCE,
        check=False,
    )
    assert head.stdout == b"record 0\n" and head.stderr == b""


# -- a mixed fleet ----------------------------------------------------------------------

RECORDS = 1500  # per writer
MAX_BYTES = 32 * 1024

# A Python writer, ours or CLH 0.9.31's (same import name): framed records via logging.
HANDLER_WORKER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import logcheck
from concurrent_log_handler import ConcurrentRotatingFileHandler
log_path, wid, count, max_bytes = sys.argv[2:6]
handler = ConcurrentRotatingFileHandler(
    log_path, maxBytes=int(max_bytes), backupCount=10000, use_gzip=True, encoding="utf-8"
)
errors = []
handler.handleError = lambda record: errors.append(repr(sys.exc_info()[1]))
logger = logcheck.framed_logger(handler, "fleet")
for seq in range(int(count)):
    logger.info(logcheck.mixed_record(wid, seq))
handler.close()
assert not errors, errors[:3]
"""


@needs_clh
def test_clh_write_shares_a_log_with_python_handlers_and_clh_0_9_31(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    env = worker_env()
    writers: list[tuple[str, subprocess.Popen[bytes], Optional[bytes]]] = []
    # Two `clh write -0`: framed records (some with newlines inside) separated by NUL,
    # each written with a newline, as logging writes them.
    for wid in ("cli0", "cli1"):
        data = b"".join(
            logcheck.mixed_record(wid, seq).encode("utf-8") + b"\0" for seq in range(RECORDS)
        )
        proc = subprocess.Popen(
            [str(CLH), "write", "-0", str(log), "--max-bytes", str(MAX_BYTES)]
            + ["--backups", "10000", "--gzip"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        writers.append((wid, proc, data))
    for wid, python in (("ours", sys.executable), ("clh", CLH_PYTHON)):
        assert python is not None
        args = [python, "-c", HANDLER_WORKER, str(TESTS_DIR), str(log), wid, str(RECORDS)]
        proc = subprocess.Popen(
            [*args, str(MAX_BYTES)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        writers.append((wid, proc, None))
    # All at once: each `clh write` fed from a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(len(writers)) as pool:
        results = list(
            pool.map(lambda w: (w[0], w[1].communicate(w[2], timeout=120), w[1]), writers)
        )
    for wid, (_out, err), proc in results:
        assert proc.returncode == 0 and err == b"", (wid, proc.returncode, err)
    report = assert_complete(log, {wid: RECORDS for wid, _, _ in writers}, gz=True, min_backups=5)
    assert report.intact == 4 * RECORDS
