"""Reliability of the file set against what happens to its files: the lock file deleted
or replaced under running writers, hostile files planted in the log's directory, a log
shared with another user, file names that are not UTF-8 or are too long, a stale
rollover time, and bad input at construction.

Scenarios (each names what must hold):

1. Lock file deleted while writers run (plain, use_gzip, timed; and replaced by a file
   with other content, plain and timed): 2 processes write, the lock file is deleted,
   2 new processes start, all 4 write at once: nothing lost, duplicated or torn, no
   error reported.
2. Hostile files (never follow a symlink, never open anything but a regular file):
   a. lock path a symlink to a victim: construction fails with ELOOP naming the lock
      file and "symbolic link"; the victim keeps content, mode and owner (also with
      chmod and owner);
   b. a dangling lock symlink: ELOOP, the target is not created;
   c. a symlink or FIFO planted at the lock path after construction: emits neither hang
      nor touch the victim, and report "symbolic link" / "not a regular file";
   d. a FIFO named app.log.1 beside a use_gzip log: two processes log with rotations and
      finish, every record is in a regular file once, the FIFO is still a FIFO;
   e. app.log.1 a symlink to /dev/zero beside a use_gzip log: logging and close()
      finish in seconds, no file grows beyond a few MB;
   f. a symlink at a .gz backup's name: the victim is never written, and (recovery) a
      victim that looks like a complete compression of app.log.1 does not cost
      app.log.1's records;
   g. the log path itself a symlink (as with logging.FileHandler): rotation renames the
      link, a new app.log takes later records; backupCount=0 truncates the target.
3. Another user (nobody) sharing root's log, whose lock file it can only read: it
   constructs, logs and rotates by size (with root logging at once), and by time
   (keeping the next rollover time in memory): every record arrives, no empty backup.
4. Names: a non-UTF-8 name given as bytes (same lock file as CLH 0.9.31, which logs into
   the same set at once); a name whose lock or backup name exceeds NAME_MAX (255) fails
   at construction with ENAMETOOLONG; a 246-character name rotates and compresses.
5. A lock file holding a rollover time 400 days old: an empty or missing log gives no
   backup, rolloverAt is in the future; a recent log's backup survives retention.
6. Bad input at construction: NUL in a path, a directory, too large interval or
   backupCount.

Scenarios that could hang run in subprocesses with a timeout (a hang fails the test).
Loads scale with CLH_RELIABILITY_SCALE (tests/python/reliability.py); each scenario
reports its figures with ``reliability.report`` after its assertions.
"""

from __future__ import annotations

import datetime
import errno
import gzip
import json
import logging
import os
import queue
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import logcheck
import pytest
import reliability
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)
from conftest import (
    CLH_PYTHON,
    IS_ROOT,
    LOGGING_ERROR,
    TESTS_DIR,
    needs_clh,
    needs_root,
    nobody_group,
    worker_env,
)

HANG_TIMEOUT = 60.0  # seconds: a hang guard only, far above what any scenario needs
LOCK = ".__app.lock"
HANDLERS = {"size": ConcurrentRotatingFileHandler, "timed": ConcurrentTimedRotatingFileHandler}

# Every subprocess script starts with this: imports, a handler class that counts what
# reaches handleError (with the exception's text), and framed records.
PRELUDE = f"""
import json, logging, os, sys, time
sys.path.insert(0, {str(TESTS_DIR)!r})
import logcheck
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)

ERRORS = []
CLASSES = {{"size": ConcurrentRotatingFileHandler, "timed": ConcurrentTimedRotatingFileHandler}}


def counting(cls):
    class Counting(cls):
        def handleError(self, record):
            e = sys.exc_info()[1]
            ERRORS.append(f"{{type(e).__name__}}: {{e}}")

    return Counting


record = logcheck.short_record


def emit(handler, wid, seq):
    handler.handle(logging.makeLogRecord({{"msg": record(wid, seq), "levelno": logging.INFO}}))
"""


# -- helpers ------------------------------------------------------------------------


#: The record every script writes (about 110 bytes with its newline).
record = logcheck.short_record


def log_record(wid: str, seq: int) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": record(wid, seq), "levelno": logging.INFO})


def record_bytes(wid: str, seqs: range) -> bytes:
    return b"".join((record(wid, s) + "\n").encode() for s in seqs)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the process group of a child we started (start_new_session=True)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def run_script(code: str, *args: str, timeout: float = HANG_TIMEOUT) -> dict[str, Any]:
    """Run PRELUDE + ``code`` in a fresh interpreter; a run longer than ``timeout`` is a
    hang and fails the test. The script prints one JSON object last; returns it, with
    the script's stderr under ``"stderr"``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        env=worker_env(),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        hung = True
    if hung:
        pytest.fail(f"hang: the scenario did not finish within {timeout:.0f} s\n{err[-3000:]}")
    assert proc.returncode == 0, f"rc={proc.returncode}\n{out[-2000:]}\n{err[-3000:]}"
    result = json.loads(out.strip().splitlines()[-1])
    result["stderr"] = err
    return result


# Runs in every concurrent writer (ours or CLH 0.9.31's; optionally as user nobody):
# build the handler from the JSON spec, report "ready" (with the lock file's name), then
# for each phase wait for a line on stdin, write that many records and report "done";
# close and report a summary.
WORKER = (
    PRELUDE
    + r"""
spec = json.loads(sys.argv[1])
if spec.get("as_nobody"):
    import pwd

    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
path = bytes.fromhex(spec["path_hex"])
if not spec.get("as_bytes"):
    path = os.fsdecode(path)
try:
    handler = counting(CLASSES[spec["cls"]])(path, **spec["kwargs"])
except Exception as e:
    print(json.dumps({"failed": f"{type(e).__name__}: {e}"}), flush=True)
    sys.exit(3)
print(json.dumps({
    "ready": True,
    "lock_hex": os.fsencode(handler.lockFilename).hex(),
    "base_type": type(handler.baseFilename).__name__,
}), flush=True)
wid, pause, seq = spec["wid"], spec.get("pause", 0), 0
for n in spec["phases"]:
    sys.stdin.readline()
    for _ in range(n):
        emit(handler, wid, seq)
        seq += 1
        if pause:
            time.sleep(pause)
    print(json.dumps({"done": seq}), flush=True)
handler.close()
print(json.dumps({
    "count": seq,
    "n_errors": len(ERRORS),
    "errors": ERRORS[:5],
    "rollovers": handler.num_rollovers,
}), flush=True)
"""
)


def worker_spec(
    path: Path | bytes,
    wid: str,
    cls: str,
    kwargs: dict[str, Any],
    phases: list[int],
    *,
    pause: float = 0.0,
    as_bytes: bool = False,
    as_nobody: bool = False,
) -> dict[str, Any]:
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    return {
        "path_hex": raw.hex(),
        "wid": wid,
        "cls": cls,
        "kwargs": kwargs,
        "phases": phases,
        "pause": pause,
        "as_bytes": as_bytes,
        "as_nobody": as_nobody,
    }


class Worker:
    """One writer process, driven line by line; every wait is bounded (a hang fails)."""

    def __init__(self, spec: dict[str, Any], python: Optional[str] = None):
        self.name = spec["wid"]
        self.proc = subprocess.Popen(
            [python or sys.executable, "-c", WORKER, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            env=worker_env(),
            cwd="/",
        )
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self._err: list[str] = []
        self._out_thread = threading.Thread(target=self._pump_out, daemon=True)
        self._err_thread = threading.Thread(target=self._pump_err, daemon=True)
        self._out_thread.start()
        self._err_thread.start()

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        self._err.append(self.proc.stderr.read())

    def stderr(self) -> str:
        self._err_thread.join(5)
        return "".join(self._err)

    def message(self, timeout: float = HANG_TIMEOUT) -> dict[str, Any]:
        """The worker's next JSON line (fails on a hang, an exit or a failed start)."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"hang: worker {self.name} said nothing for {timeout:.0f} s")
        if line is None:
            self.proc.wait(10)
            pytest.fail(
                f"worker {self.name} exited (rc={self.proc.returncode}):\n{self.stderr()[-3000:]}"
            )
        msg = json.loads(line)
        if "failed" in msg:
            pytest.fail(f"worker {self.name} could not construct its handler: {msg['failed']}")
        return msg

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> dict[str, Any]:
        """The closing summary; the process must exit 0."""
        summary = self.message()
        try:
            self.proc.wait(HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"hang: worker {self.name} did not exit")
        assert self.proc.returncode == 0, f"{self.name}: rc={self.proc.returncode}"
        summary["stderr"] = self.stderr()
        return summary

    def kill(self) -> None:
        _kill_group(self.proc)


@pytest.fixture
def spawn() -> Iterator[Callable[..., Worker]]:
    """Start workers; whatever still runs at teardown (a failed test) is killed."""
    made: list[Worker] = []

    def factory(spec: dict[str, Any], python: Optional[str] = None) -> Worker:
        w = Worker(spec, python)
        made.append(w)
        return w

    yield factory
    for w in made:
        w.kill()


def run_phases(workers: list[Worker], timeout: float = HANG_TIMEOUT) -> None:
    """Release every worker for one phase and wait until all have done it."""
    for w in workers:
        w.go()
    for w in workers:
        assert "done" in w.message(timeout)


def assert_no_errors(results: dict[str, dict[str, Any]]) -> int:
    """No worker reported an error to handleError (nor printed one); returns the count."""
    n = sum(r["n_errors"] for r in results.values())
    details = {wid: r["errors"] for wid, r in results.items() if r["n_errors"]}
    assert n == 0, f"{n} error(s) reported to handleError: {details}"
    for wid, r in results.items():
        assert LOGGING_ERROR not in r["stderr"], f"{wid}: {r['stderr'][-2000:]}"
    return n


def tally_regular(log: Path, expected: dict[str, int]) -> logcheck.Report:
    """Check ``expected`` records (writer -> how many, seq 0..n-1) against every file of
    the log's set — the log and every ``<log name>.*`` (numbered or dated, .gz
    decompressed) — that is a regular file; anything else (FIFO, symlink) is skipped,
    never opened. Files are read in name order, so the report's order is meaningless:
    use ``clean_any_order``."""
    files = []
    for name in sorted(os.listdir(log.parent)):
        if name != log.name and not name.startswith(log.name + "."):
            continue
        path = log.parent / name
        if stat.S_ISREG(os.lstat(path).st_mode):
            files.append(logcheck.read_file(path))
    return logcheck.check_files(files, expected)


def regular_backups(t: logcheck.Report, log: Path) -> dict[str, bytes]:
    """name -> data of the backups (every file but the log) that ``tally_regular`` read."""
    return {f.path.name: f.data for f in t.files if f.path.name != log.name and not f.error}


@dataclass(frozen=True)
class FileState:
    content: bytes
    mode: int
    uid: int
    gid: int


def state_of(path: Path) -> FileState:
    st = os.stat(path)
    return FileState(path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def make_victim(directory: Path, content: bytes = b"victim: must never change\n") -> Path:
    """A file outside the log's directory (root's, mode 0644 when run as root)."""
    directory.mkdir(exist_ok=True)
    victim = directory / "victim"
    victim.write_bytes(content)
    victim.chmod(0o644)
    return victim


def construct(cls: type, *args: Any, **kwargs: Any) -> None:
    """Construct and close a handler (so one that should have failed leaks nothing)."""
    cls(*args, **kwargs).close()


# -- 1. the lock file deleted while writers run -------------------------------------

LOCK_SCENARIOS: dict[str, tuple[str, dict[str, Any], str]] = {
    "plain": ("size", {}, "delete"),
    "gzip": ("size", {"use_gzip": True}, "delete"),
    "timed": ("timed", {"when": "S", "interval": 1}, "delete"),
    "replaced, plain": ("size", {}, "replace"),
    "replaced, timed": ("timed", {"when": "S", "interval": 1}, "replace"),
}


@pytest.mark.parametrize("variant", list(LOCK_SCENARIOS))
def test_lock_file_deleted_while_writers_run(
    tmp_path: Path, spawn: Callable[..., Worker], variant: str
) -> None:
    """2 processes write, then pause; the lock file is deleted (or replaced by a file
    with other content, as someone else would); 2 new processes start (creating a new
    lock file); all 4 write at once, with rotations. All must end up locking the same
    file: nothing lost, duplicated or torn, no error reported."""
    cls, extra, action = LOCK_SCENARIOS[variant]
    log = tmp_path / "app.log"
    kwargs = {"maxBytes": 3000, "backupCount": 100_000, **extra}
    # Timed: spread the writes over a few seconds, so that rotations by time happen too.
    pause = 0.001 if cls == "timed" else 0.0
    first, second = reliability.scaled(200), reliability.scaled(1500)

    old = [
        spawn(worker_spec(log, f"old{i}", cls, kwargs, [first, second], pause=pause))
        for i in range(2)
    ]
    for w in old:
        w.message()  # ready
    run_phases(old)  # the old ones write `first` records each, then wait
    lock = tmp_path / LOCK
    assert lock.is_file()
    lock.unlink()
    if action == "replace":
        lock.write_text("someone else's lock file\n")
    new = [
        spawn(worker_spec(log, f"new{i}", cls, kwargs, [0, second], pause=pause)) for i in range(2)
    ]
    for w in new:
        w.message()
    run_phases(new)  # (nothing to write in their first phase)
    everyone = old + new
    # All 4 at once. Each rotation renames every backup (app.log.1 is the newest), so
    # this phase takes time quadratic in the scale: about 70 s at scale 10.
    run_phases(everyone, timeout=HANG_TIMEOUT * reliability.SCALE)
    results = {w.name: w.finish() for w in everyone}

    expected = {w.name: results[w.name]["count"] for w in everyone}
    sent = sum(expected.values())
    rollovers = sum(r["rollovers"] for r in results.values())
    stray = 0
    if cls == "size":
        report = logcheck.check(log, expected)
        lost, dup, torn = report.lost, report.duplicated, report.torn
        assert report.clean, report.summary()
        found = report.intact
        stray = len(logcheck.stray_files(log))
    else:
        t = tally_regular(log, expected)
        lost, dup, torn = t.lost, t.duplicated, t.torn
        assert t.clean_any_order, t.summary()
        found = t.matched
    errors = assert_no_errors(results)
    assert rollovers > 10  # the scenario did rotate (a lot)
    label = "lock file replaced" if action == "replace" else "lock file deleted"
    kind = variant.split(", ")[-1]
    reliability.report(
        f"{label} ({kind})",
        f"2 processes x {first:,} records, lock file {action}d, then 4 x {second:,}; "
        f"{rollovers} rotations",
        lost=lost,
        duplicated=dup,
        torn=torn,
        stray=stray,
        errors=errors,
        sent=sent,
        found=found,
    )


# -- 2. hostile files in the log's directory ----------------------------------------


LINK_OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "chmod": {"chmod": 0o600},
    "chmod+owner": {"chmod": 0o600, "owner": ("nobody", "<nobody's group>")},
}


@pytest.mark.parametrize("options", list(LINK_OPTIONS))
@pytest.mark.parametrize("cls", ["size", "timed"])
def test_lock_symlink_to_victim_is_refused(tmp_path: Path, cls: str, options: str) -> None:
    """The lock path is a symlink to someone else's file: construction raises OSError
    ELOOP naming the lock file and "symbolic link"; the victim keeps its content, mode
    and owner (chmod and owner never reach it). Today the timed handler writes its
    rollover time into the victim."""
    kwargs = dict(LINK_OPTIONS[options])
    if "owner" in kwargs:
        if not IS_ROOT:
            pytest.skip("chown to another user needs root")
        kwargs["owner"] = ("nobody", nobody_group())
    if cls == "timed":
        kwargs.update(when="S", interval=1)
    victim = make_victim(tmp_path / "elsewhere")
    before = state_of(victim)
    logs = tmp_path / "logs"
    logs.mkdir()
    lock = logs / LOCK
    lock.symlink_to(victim)
    with pytest.raises(OSError) as info:
        construct(HANDLERS[cls], str(logs / "app.log"), **kwargs)
    assert info.value.errno == errno.ELOOP, info.value
    assert str(lock) in str(info.value)
    assert "symbolic link" in str(info.value)
    assert state_of(victim) == before
    reliability.report(f"lock path a symlink to a victim ({cls}, {options})", "construction")


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_dangling_lock_symlink_is_refused(tmp_path: Path, cls: str) -> None:
    """A lock symlink pointing to a path that does not exist: ELOOP at construction, and
    the target is not created."""
    target = tmp_path / "elsewhere" / "planted-target"
    target.parent.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / LOCK).symlink_to(target)
    kwargs = {"when": "S"} if cls == "timed" else {}
    with pytest.raises(OSError) as info:
        construct(HANDLERS[cls], str(logs / "app.log"), **kwargs)
    assert info.value.errno == errno.ELOOP, info.value
    assert not os.path.lexists(target)
    assert os.listdir(target.parent) == []
    reliability.report(f"dangling lock symlink ({cls})", "construction")


PLANT_LOCK_SCRIPT = r"""
cls, kind, log, victim = sys.argv[1:5]
kwargs = {"when": "S", "interval": 1} if cls == "timed" else {}
handler = counting(CLASSES[cls])(log, maxBytes=100_000, backupCount=3, **kwargs)
emit(handler, "w", 0)
lock = handler.lockFilename
os.unlink(lock)
if kind == "symlink":
    os.symlink(victim, lock)
else:
    os.mkfifo(lock)
for seq in range(1, 4):
    emit(handler, "w", seq)
handler.close()
print(json.dumps({"errors": ERRORS}))
"""


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
@pytest.mark.parametrize("cls", ["size", "timed"])
def test_lock_replaced_by_symlink_or_fifo_after_construction(
    tmp_path: Path, cls: str, kind: str
) -> None:
    """After the first record, the lock file is deleted and a symlink to a victim (or a
    FIFO) put at its path: the next emits neither hang nor touch the victim, and report
    the problem to handleError ("symbolic link" / "not a regular file"). Today the
    handler keeps locking the deleted file and says nothing."""
    victim = make_victim(tmp_path / "elsewhere")
    before = state_of(victim)
    logs = tmp_path / "logs"
    logs.mkdir()
    result = run_script(PLANT_LOCK_SCRIPT, cls, kind, str(logs / "app.log"), str(victim))
    errors = result["errors"]
    assert errors, "the planted lock path was not reported"
    for e in errors:
        assert "symbolic link" in e or "not a regular file" in e, errors
    assert state_of(victim) == before
    reliability.report(
        f"{kind} planted at the lock path ({cls})", "1 + 3 records", errors=len(errors), hangs=0
    )


FIFO_BACKUP_SPEC = {"maxBytes": 4096, "backupCount": 5, "use_gzip": True}


def test_fifo_named_as_backup_does_not_block(tmp_path: Path, spawn: Callable[..., Worker]) -> None:
    """A FIFO named app.log.1 beside a use_gzip log (which recovery would compress, and
    opening a FIFO blocks until a writer appears): two processes log with rotations at
    once and both finish; every record is in a regular file of the set exactly once;
    the FIFO is still a FIFO (rotation may have shifted it to another slot: with 3
    rotations and backupCount=5 it cannot have been deleted); errors reported, if any,
    say "not a regular file". Today this blocks forever in open()."""
    log = tmp_path / "app.log"
    os.mkfifo(tmp_path / "app.log.1")
    # 2 x 60 records of ~110 bytes = ~13 KB: 3 rotations at maxBytes=4096.
    n = 60
    workers = [spawn(worker_spec(log, f"w{i}", "size", FIFO_BACKUP_SPEC, [n])) for i in range(2)]
    for w in workers:
        w.message()
    run_phases(workers, timeout=30)
    results = {w.name: w.finish() for w in workers}
    t = tally_regular(log, {w.name: n for w in workers})
    assert t.clean_any_order, t.summary()
    fifos = [p.name for p in tmp_path.iterdir() if stat.S_ISFIFO(os.lstat(p).st_mode)]
    assert len(fifos) == 1, sorted(os.listdir(tmp_path))
    errors = [e for r in results.values() for e in r["errors"]]
    for e in errors:
        assert "not a regular file" in e, errors
    rollovers = sum(r["rollovers"] for r in results.values())
    assert rollovers >= 2
    reliability.report(
        "FIFO named app.log.1 (use_gzip)",
        f"2 processes x {n} records, {rollovers} rotations",
        lost=t.lost,
        duplicated=t.duplicated,
        torn=t.torn,
        errors=sum(r["n_errors"] for r in results.values()),
        sent=2 * n,
        found=t.matched,
        hangs=0,
    )


@pytest.fixture
def small_dir(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs when root (so a runaway file cannot fill the disk), else tmp_path."""
    d = tmp_path / "small"
    d.mkdir()
    mounted = False
    if IS_ROOT and shutil.which("mount"):
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(d)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    try:
        yield d
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(d)], capture_output=True, check=False)


DEV_ZERO_SCRIPT = r"""
log = sys.argv[1]
start = time.monotonic()
handler = counting(ConcurrentRotatingFileHandler)(
    log, maxBytes=4096, backupCount=5, use_gzip=True
)
for seq in range(110):
    emit(handler, "w", seq)
handler.close()
print(json.dumps({"seconds": time.monotonic() - start, "rollovers": handler.num_rollovers,
                  "errors": ERRORS}))
"""


def test_backup_symlink_to_dev_zero(small_dir: Path) -> None:
    """app.log.1 is a symlink to /dev/zero beside a use_gzip log: logging with rotations
    and close() finish within seconds, no file in the directory grows beyond a few MB,
    and every record is in a regular file exactly once. Today close() never returns
    (it compresses /dev/zero)."""
    log = small_dir / "app.log"
    (small_dir / "app.log.1").symlink_to("/dev/zero")

    def regular_files() -> list[os.stat_result]:
        found = (os.lstat(p) for p in small_dir.iterdir())
        return [st for st in found if stat.S_ISREG(st.st_mode)]

    try:
        result = run_script(DEV_ZERO_SCRIPT, str(log), timeout=30)
    except pytest.fail.Exception as e:
        sizes = sorted(st.st_size for st in regular_files())
        pytest.fail(f"{e}\nsizes of the regular files: {sizes}")
    sizes = sorted(st.st_size for st in regular_files())
    used = sum(st.st_blocks * 512 for st in regular_files())
    assert result["seconds"] < 10, result
    assert max(sizes) < 4 << 20, sizes
    assert used < 8 << 20, sizes
    t = tally_regular(log, {"w": 110})
    assert t.clean_any_order, t.summary()
    assert result["rollovers"] >= 2
    reliability.report(
        "app.log.1 -> /dev/zero (use_gzip)",
        f"110 records, {result['rollovers']} rotations, close()",
        lost=t.lost,
        duplicated=t.duplicated,
        torn=t.torn,
        errors=len(result["errors"]),
        sent=110,
        found=t.matched,
        hangs=0,
    )


GZ_LINK_SCRIPT = r"""
log, n = sys.argv[1], int(sys.argv[2])
handler = counting(ConcurrentRotatingFileHandler)(log, maxBytes=1000, backupCount=3,
                                                  use_gzip=True)
for seq in range(n):
    emit(handler, "w", seq)
handler.close()
print(json.dumps({"rollovers": handler.num_rollovers, "errors": ERRORS}))
"""


def test_symlink_at_gz_name_is_not_written_through(tmp_path: Path) -> None:
    """A symlink planted at app.log.1.gz (the name the first compressed backup gets),
    pointing to a victim: after rotation and compression the victim is unchanged and
    app.log.1.gz is a regular file holding the rotated records. Already holds on main
    (the link is shifted away or replaced by a rename, never written through)."""
    victim = make_victim(tmp_path / "elsewhere")
    before = state_of(victim)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log.1.gz").symlink_to(victim)
    result = run_script(GZ_LINK_SCRIPT, str(logs / "app.log"), "15")
    assert result["rollovers"] == 1
    assert state_of(victim) == before
    gz = logs / "app.log.1.gz"
    assert stat.S_ISREG(os.lstat(gz).st_mode)
    t = tally_regular(logs / "app.log", {"w": 15})
    assert t.clean_any_order, t.summary()
    assert logcheck.parse_records(gzip.decompress(gz.read_bytes())).records
    reliability.report(
        "symlink at app.log.1.gz", "15 records, 1 rotation", sent=15, found=t.matched
    )


def test_gz_symlink_beside_backup_does_not_cost_its_records(tmp_path: Path) -> None:
    """An uncompressed app.log.1 (records) and, beside it, app.log.1.gz: a symlink to a
    victim that is a complete gzip of as many bytes (what recovery would take for a
    finished compression of app.log.1). Recovery must not read through the link: the
    victim is unchanged and app.log.1's records are still in a regular file, once.
    Today app.log.1 is deleted as "already compressed"."""
    logs = tmp_path / "logs"
    logs.mkdir()
    backup = record_bytes("pre", range(8))
    (logs / "app.log.1").write_bytes(backup)
    victim = make_victim(tmp_path / "elsewhere", gzip.compress(b"z" * len(backup)))
    before = state_of(victim)
    (logs / "app.log.1.gz").symlink_to(victim)
    result = run_script(GZ_LINK_SCRIPT, str(logs / "app.log"), "3")
    assert state_of(victim) == before
    t = tally_regular(logs / "app.log", {"pre": 8, "w": 3})
    assert t.clean_any_order, (t.summary(), sorted(os.listdir(logs)), result)
    reliability.report(
        "gz symlink beside a backup (recovery)", "8 + 3 records", lost=t.lost, sent=11
    )


def _log_through_symlink(tmp_path: Path, backup_count: int) -> tuple[Path, Path, int]:
    """Log 15 records through ``logs/app.log``, a symlink to ``real/target.log``, with
    maxBytes=1000 (one rotation). Returns (log, target, the first record written
    after the rotation)."""
    target = tmp_path / "real" / "target.log"
    target.parent.mkdir()
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.symlink_to(target)
    h = ConcurrentRotatingFileHandler(str(log), maxBytes=1000, backupCount=backup_count)
    try:
        split = None
        for seq in range(15):
            h.handle(log_record("w", seq))
            if split is None and h.num_rollovers == 1:
                split = seq  # rotation happens before writing this record
        assert h.num_rollovers == 1, h.num_rollovers
    finally:
        h.close()
    assert split is not None
    return log, target, split


def test_log_symlink_rotation_renames_the_link(tmp_path: Path) -> None:
    """The log path is a symlink (as logging.FileHandler allows): records go to the
    target; a size rotation renames the link itself (app.log.1 is the link, still to
    the target, which keeps the records written so far) and a new regular app.log
    receives later records; nothing lost. Already holds on main."""
    log, target, split = _log_through_symlink(tmp_path, backup_count=2)
    link = log.parent / "app.log.1"
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == record_bytes("w", range(split))
    assert stat.S_ISREG(os.lstat(log).st_mode)
    assert log.read_bytes() == record_bytes("w", range(split, 15))
    reliability.report("log path a symlink (rotation)", "15 records, 1 rotation", sent=15)


def test_log_symlink_backup_count_zero_truncates_target(tmp_path: Path) -> None:
    """With backupCount=0, rotation truncates the file being written (the link's
    target); app.log stays the link. Already holds on main."""
    log, target, split = _log_through_symlink(tmp_path, backup_count=0)
    assert log.is_symlink() and os.readlink(log) == str(target)
    assert target.read_bytes() == record_bytes("w", range(split, 15))
    assert sorted(os.listdir(log.parent)) == [LOCK, "app.log"]
    reliability.report("log path a symlink (backupCount=0)", "15 records, 1 truncation")


# -- 3. another user sharing a log --------------------------------------------------


def _roots_lock_file(lock: Path) -> None:
    st = os.stat(lock)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o644), "precondition"


@needs_root
def test_other_user_shares_roots_log_size(
    world_writable_dir: Path, spawn: Callable[..., Worker]
) -> None:
    """Root made the log first (the lock file is root's, mode 0644: nobody can only read
    it; flock works on a read-only descriptor) and made app.log writable for all. User
    nobody constructs a handler for the same log (today: PermissionError), and nobody
    and root log at once with size rotation: every record of both arrives, both
    rotate, no error."""
    old_umask = os.umask(0o022)
    try:
        log = world_writable_dir / "app.log"
        construct(ConcurrentRotatingFileHandler, str(log))
        _roots_lock_file(world_writable_dir / LOCK)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o666)
        os.fchmod(fd, 0o666)
        os.close(fd)
    finally:
        os.umask(old_umask)
    n = reliability.scaled(1500)
    kwargs = {"maxBytes": 3000, "backupCount": 100_000}
    # Root's process makes the files it creates writable for nobody (as a shared
    # deployment would configure it); nobody's own files are root-writable anyway.
    root = spawn(worker_spec(log, "root", "size", {**kwargs, "chmod": 0o666}, [n]))
    nobody = spawn(worker_spec(log, "nobody", "size", kwargs, [n], as_nobody=True))
    workers = [root, nobody]
    for w in workers:
        w.message()
    run_phases(workers)
    results = {w.name: w.finish() for w in workers}
    report = logcheck.check(log, {"root": n, "nobody": n})
    assert report.clean, report.summary()
    errors = assert_no_errors(results)
    assert results["nobody"]["rollovers"] >= 1
    assert results["root"]["rollovers"] >= 1
    reliability.report(
        "another user shares the log (size)",
        f"root + nobody x {n:,} records, {sum(r['rollovers'] for r in results.values())} rotations",
        lost=report.lost,
        duplicated=report.duplicated,
        torn=report.torn,
        errors=errors,
        sent=2 * n,
        found=report.intact,
    )


@needs_root
def test_other_user_shares_roots_log_timed(
    world_writable_dir: Path, spawn: Callable[..., Worker]
) -> None:
    """Timed: root wrote a record (the lock file, root's and read-only for nobody, holds
    the next rollover time) and made app.log writable for all; nobody then logs for
    a few seconds with when="S", interval=1. Nobody's process constructs (today:
    PermissionError), rotates by time on its own (keeping the next rollover time in
    memory, as it cannot store it): every record arrives, no backup is empty, and no
    period is rotated twice (no counter suffix: maxBytes is 0)."""
    old_umask = os.umask(0o022)
    try:
        log = world_writable_dir / "app.log"
        h = ConcurrentTimedRotatingFileHandler(str(log), when="S", interval=1)
        h.handle(log_record("root", 0))
        h.close()
        _roots_lock_file(world_writable_dir / LOCK)
        log.chmod(0o666)
    finally:
        os.umask(old_umask)
    n = reliability.scaled(600)
    kwargs = {"when": "S", "interval": 1, "backupCount": 100_000}
    nobody = spawn(worker_spec(log, "nobody", "timed", kwargs, [n], pause=0.005, as_nobody=True))
    nobody.message()
    run_phases([nobody])
    results = {"nobody": nobody.finish()}
    errors = assert_no_errors(results)
    t = tally_regular(log, {"root": 1, "nobody": n})
    assert t.clean_any_order, t.summary()
    backups = regular_backups(t, log)
    assert results["nobody"]["rollovers"] >= 2, results
    assert backups, sorted(os.listdir(world_writable_dir))
    empty = [name for name, data in backups.items() if not data]
    assert empty == [], sorted(backups)
    # app.log.YYYY-mm-dd_HH-MM-SS has 3 dots in total; a counter adds one more.
    twice = [name for name in backups if name.count(".") > 2]
    assert twice == [], sorted(backups)
    reliability.report(
        "another user shares the log (timed)",
        f"nobody x {n:,} records over {n * 0.005:.0f}+ s, "
        f"{results['nobody']['rollovers']} rotations",
        lost=t.lost,
        duplicated=t.duplicated,
        torn=t.torn,
        errors=errors,
        sent=n + 1,
        found=t.matched,
    )


# -- 4. names -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_non_utf8_name_as_bytes(tmp_path: Path, cls: str) -> None:
    """A log name that is not UTF-8, passed as bytes: accepted (today: TypeError);
    baseFilename is a str (os.fsdecode), and lockFilename keeps the original byte (not
    U+FFFD); records go to the file of that exact name."""
    raw_dir = os.fsencode(tmp_path)
    path = raw_dir + b"/app\xff.log"
    kwargs = {"when": "S"} if cls == "timed" else {"maxBytes": 1000, "backupCount": 2}
    h = HANDLERS[cls](path, **kwargs)
    try:
        assert isinstance(h.baseFilename, str)
        assert os.fsencode(h.baseFilename) == path
        assert os.fsencode(h.lockFilename) == raw_dir + b"/.__app\xff.lock"
        h.handle(log_record("w", 0))
    finally:
        h.close()
    assert sorted(os.listdir(raw_dir)) == sorted([b".__app\xff.lock", b"app\xff.log"])
    with open(path, "rb") as f:
        assert f.read() == record_bytes("w", range(1))
    reliability.report(f"non-UTF-8 log name as bytes ({cls})", "1 record")


@needs_clh
def test_non_utf8_name_shared_with_clh(tmp_path: Path, spawn: Callable[..., Worker]) -> None:
    """Ours (given the bytes name) and CLH 0.9.31 (given os.fsdecode of it: CLH does not
    accept bytes) use the same lock file and write one rotating set at once: nothing
    lost, duplicated or torn."""
    clh = CLH_PYTHON
    path = os.fsencode(tmp_path) + b"/app\xff.log"
    kwargs = {"maxBytes": 3000, "backupCount": 100_000}
    n = reliability.scaled(800)
    ours = spawn(worker_spec(path, "ours", "size", kwargs, [n], as_bytes=True))
    theirs = spawn(worker_spec(path, "clh", "size", kwargs, [n]), python=clh)
    locks = {w.name: bytes.fromhex(w.message()["lock_hex"]) for w in (ours, theirs)}
    assert locks["ours"] == locks["clh"] == os.fsencode(tmp_path) + b"/.__app\xff.lock", locks
    run_phases([ours, theirs])
    results = {w.name: w.finish() for w in (ours, theirs)}
    errors = assert_no_errors(results)
    report = logcheck.check(Path(os.fsdecode(path)), {"ours": n, "clh": n})
    assert report.clean, report.summary()
    assert len(report.backups) > 10
    reliability.report(
        "non-UTF-8 log name shared with CLH 0.9.31",
        f"ours + CLH x {n:,} records, {len(report.backups)} backups",
        lost=report.lost,
        duplicated=report.duplicated,
        torn=report.torn,
        errors=errors,
        sent=2 * n,
        found=report.intact,
    )


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_lock_name_too_long(tmp_path: Path, cls: str) -> None:
    """A 253-byte log name: its lock file name (.__<name minus .log>.lock) is 257 bytes.
    Construction raises OSError ENAMETOOLONG naming the name and NAME_MAX (255)."""
    name = "x" * 249 + ".log"
    lock_name = ".__" + "x" * 249 + ".lock"
    assert (len(name), len(lock_name)) == (253, 257)
    kwargs = {"when": "S"} if cls == "timed" else {}
    with pytest.raises(OSError) as info:
        construct(HANDLERS[cls], str(tmp_path / name), **kwargs)
    msg = str(info.value)
    assert info.value.errno == errno.ENAMETOOLONG, msg
    assert lock_name in msg
    assert "NAME_MAX" in msg and "255" in msg
    assert os.listdir(tmp_path) == []
    reliability.report(f"lock file name too long ({cls})", "construction")


def test_backup_name_too_long(tmp_path: Path) -> None:
    """A 250-byte log name with backupCount=10 and use_gzip: backup "<name>.10.gz" would
    be 256 bytes. Construction raises OSError ENAMETOOLONG naming it and NAME_MAX
    (255). Without gzip ("<name>.10", 253 bytes) it constructs."""
    name = "x" * 246 + ".log"
    assert len(name + ".10.gz") == 256
    with pytest.raises(OSError) as info:
        construct(
            ConcurrentRotatingFileHandler, str(tmp_path / name), backupCount=10, use_gzip=True
        )
    msg = str(info.value)
    assert info.value.errno == errno.ENAMETOOLONG, msg
    assert name + ".10.gz" in msg
    assert "NAME_MAX" in msg and "255" in msg
    construct(ConcurrentRotatingFileHandler, str(tmp_path / name), backupCount=10)
    reliability.report("backup name too long", "construction")


@pytest.mark.parametrize("chmod", [None, 0o640])
def test_long_name_rotates_and_compresses(tmp_path: Path, chmod: Optional[int]) -> None:
    """A 246-byte log name with use_gzip (backups up to "<name>.50.gz", 252 bytes):
    rotation and compression work (their temporaries have short names), every record
    is found, every backup is a .gz that decompresses, nothing stray is left, no error.
    With chmod the log is created through a temporary name too."""
    name = "x" * 242 + ".log"
    assert len(name) == 246
    log = tmp_path / name
    errors: list[str] = []

    class Counting(ConcurrentRotatingFileHandler):
        def handleError(self, record: Any) -> None:  # noqa: ARG002
            errors.append(repr(sys.exc_info()[1]))

    n = 200
    h = Counting(str(log), maxBytes=2000, backupCount=50, use_gzip=True, chmod=chmod)
    try:
        for seq in range(n):
            h.handle(log_record("w", seq))
        h.flush()
    finally:
        h.close()
    assert errors == []
    report = logcheck.check(log, {"w": n})
    assert report.clean, report.summary()
    assert len(report.backups) >= 5
    assert all(f.gz for f in report.backups), [f.path.name[-8:] for f in report.backups]
    assert logcheck.stray_files(log) == []
    reliability.report(
        f"246-byte log name, use_gzip (chmod={chmod and oct(chmod)})",
        f"{n} records, {len(report.backups)} backups",
        lost=report.lost,
        sent=n,
        found=report.intact,
    )


# -- 5. a stale rollover time in the lock file --------------------------------------

DAY = 86400


def _date_stamp(days_ago: int) -> str:
    return (datetime.date.today() - datetime.timedelta(days=days_ago)).strftime("%Y-%m-%d")


@pytest.mark.parametrize("log_state", ["missing", "empty"])
@pytest.mark.parametrize("when", ["D", "midnight"])
def test_stale_rollover_time_empty_log(tmp_path: Path, when: str, log_state: str) -> None:
    """The lock file holds a rollover time 400 days old and the log is missing or empty:
    the first writes create no backup at all (never an empty one), and rolloverAt
    is then in the future."""
    log = tmp_path / "app.log"
    (tmp_path / LOCK).write_text(str(int(time.time()) - 400 * DAY))
    if log_state == "empty":
        log.write_bytes(b"")
    h = ConcurrentTimedRotatingFileHandler(str(log), when=when, backupCount=5)
    try:
        for seq in range(3):
            h.handle(log_record("w", seq))
        rollover_at = h.rolloverAt
    finally:
        h.close()
    assert sorted(os.listdir(tmp_path)) == [LOCK, "app.log"]
    assert log.read_bytes() == record_bytes("w", range(3))
    assert rollover_at > time.time(), rollover_at
    reliability.report(f"rollover time 400 days old, {log_state} log ({when})", "3 records")


@pytest.mark.parametrize("when", ["D", "midnight"])
def test_stale_rollover_time_recent_log(tmp_path: Path, when: str) -> None:
    """The lock file holds a rollover time 400 days old, but the log was started a
    minute ago (and holds records), and 5 dated backups of recent days exist
    (backupCount=5). The first write may rotate, but then the backup is not empty,
    holds the old records and is named for the period the log was started in, so
    retention keeps it: every record is still there. Today the backup is named 400
    days ago and retention deletes it at once."""
    log = tmp_path / "app.log"
    for days_ago in range(2, 7):
        planted = record_bytes(f"day{days_ago}", range(2))
        (tmp_path / f"app.log.{_date_stamp(days_ago)}").write_bytes(planted)
    log.write_bytes(record_bytes("pre", range(5)))
    minute_ago = time.time() - 60
    os.utime(log, (minute_ago, minute_ago))
    stale = int(time.time()) - 400 * DAY
    (tmp_path / LOCK).write_text(str(stale))
    h = ConcurrentTimedRotatingFileHandler(str(log), when=when, backupCount=5)
    try:
        for seq in range(3):
            h.handle(log_record("new", seq))
        rollover_at = h.rolloverAt
    finally:
        h.close()
    t = tally_regular(log, {"pre": 5, "new": 3})  # (the planted backups' are "unexpected")
    assert (t.lost, t.duplicated, t.torn, t.garbage_bytes) == (0, 0, 0, 0), (
        t.summary(),
        sorted(os.listdir(tmp_path)),
    )
    backups = regular_backups(t, log)
    assert [name for name, data in backups.items() if not data] == []
    for stale_day in (stale, stale - DAY):
        stamp = time.strftime("%Y-%m-%d", time.localtime(stale_day))
        assert not [n for n in os.listdir(tmp_path) if stamp in n], sorted(os.listdir(tmp_path))
    assert len(backups) <= 5
    assert rollover_at > time.time(), rollover_at
    reliability.report(f"rollover time 400 days old, recent log ({when})", "5 + 3 records")


# -- 6. bad input at construction ---------------------------------------------------


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_nul_in_path(tmp_path: Path, cls: str) -> None:
    """A NUL byte in the log path: ValueError (as open() raises), not OSError."""
    with pytest.raises(ValueError) as info:
        construct(HANDLERS[cls], str(tmp_path / "a\x00b.log"))
    assert not isinstance(info.value, OSError)
    assert "nul" in str(info.value).lower()
    assert os.listdir(tmp_path) == []
    reliability.report(f"NUL in the log path ({cls})", "construction")


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_nul_in_lock_file_directory(tmp_path: Path, cls: str) -> None:
    """A NUL byte in lock_file_directory: ValueError, nothing created."""
    with pytest.raises(ValueError) as info:
        construct(
            HANDLERS[cls],
            str(tmp_path / "app.log"),
            lock_file_directory=str(tmp_path / "lo\x00cks"),
        )
    assert not isinstance(info.value, OSError)
    assert "nul" in str(info.value).lower()
    assert os.listdir(tmp_path) == []
    reliability.report(f"NUL in lock_file_directory ({cls})", "construction")


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_path_is_a_directory(tmp_path: Path, cls: str) -> None:
    """The log path is an existing directory: IsADirectoryError (EISDIR) naming it."""
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        construct(HANDLERS[cls], str(d))
    assert info.value.errno == errno.EISDIR
    assert str(d) in str(info.value)
    reliability.report(f"log path is a directory ({cls})", "construction")


def test_interval_too_large(tmp_path: Path) -> None:
    """when="D", interval=10**9 (2.7 million years): ValueError naming interval, the
    value and "too large"."""
    with pytest.raises(ValueError) as info:
        construct(
            ConcurrentTimedRotatingFileHandler, str(tmp_path / "app.log"), when="D", interval=10**9
        )
    msg = str(info.value)
    assert "interval" in msg and "1000000000" in msg and "too large" in msg, msg
    reliability.report("interval too large", "construction")


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_backup_count_too_large(tmp_path: Path, cls: str) -> None:
    """backupCount=2**40: ValueError naming backupCount and "too large". Already holds
    on main."""
    with pytest.raises(ValueError) as info:
        construct(HANDLERS[cls], str(tmp_path / "app.log"), backupCount=2**40)
    msg = str(info.value)
    assert "backupCount" in msg and "too large" in msg, msg
    reliability.report(f"backupCount too large ({cls})", "construction")


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"mode": "r"}, ValueError, "'r'"),
        ({"encoding": "no-such-codec"}, LookupError, "no-such-codec"),
        ({"queue_overflow": "spill"}, ValueError, "spill"),
        ({"queue_records": 0}, ValueError, "queue_records"),
        ({"queue_bytes": 0}, ValueError, "queue_bytes"),
    ],
    ids=["mode r", "unknown encoding", "queue_overflow", "queue_records 0", "queue_bytes 0"],
)
def test_more_bad_values_fail_at_construction(
    tmp_path: Path, kwargs: dict[str, Any], exc: type, needle: str
) -> None:
    """More values that fail in the constructor, naming the value, creating nothing."""
    with pytest.raises(exc) as info:
        construct(ConcurrentRotatingFileHandler, str(tmp_path / "app.log"), **kwargs)
    assert needle in str(info.value), str(info.value)
    assert os.listdir(tmp_path) == []
    reliability.report(
        f"bad value: {next(iter(kwargs))}={next(iter(kwargs.values()))!r}", "construction"
    )


def test_mode_w_warns_and_appends(tmp_path: Path) -> None:
    """mode="w" would truncate a log other processes write: it warns and appends."""
    log = tmp_path / "app.log"
    log.write_bytes(b"earlier\n")
    with pytest.warns(UserWarning, match="'w' is treated as 'a'"):
        h = ConcurrentRotatingFileHandler(str(log), mode="w")
    try:
        h.handle(log_record("w", 0))
    finally:
        h.close()
    assert log.read_bytes() == b"earlier\n" + record_bytes("w", range(1))
    reliability.report("mode='w' (warns, appends)", "1 record")


@pytest.mark.parametrize("cls", ["size", "timed"])
def test_lock_path_a_fifo_at_construction(tmp_path: Path, cls: str) -> None:
    """A FIFO at the lock path before construction: OSError (ENXIO) saying it is not a
    regular file, at once (opening it would block)."""
    lock = tmp_path / LOCK
    os.mkfifo(lock)
    with pytest.raises(OSError) as info:
        construct(HANDLERS[cls], str(tmp_path / "app.log"))
    assert info.value.errno == errno.ENXIO, info.value
    assert "not a regular file" in str(info.value) and str(lock) in str(info.value)
    assert stat.S_ISFIFO(os.lstat(lock).st_mode)
    reliability.report(f"lock path a FIFO at construction ({cls})", "construction")
