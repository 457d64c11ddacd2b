"""ConcurrentTimedRotatingFileHandler: the drop-in contract of CLH 0.9.31's timed handler
(constructor, attributes, logging.config, the finalize hook), argument errors, and its
behaviour with real processes and real time: one rotation per period for the whole fleet,
every record in the file of its period, the next rollover time shared through the lock
file, recovery from a corrupt lock file and from a rollover missed while no process ran,
retention and namers.

Everything uses when="S" so that periods pass in seconds; the file runs in about 42 s.
"""

from __future__ import annotations

import datetime
import gzip
import inspect
import json
import logging
import logging.handlers
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import logcheck
import pytest
from concurrent_log_handler import ConcurrentTimedRotatingFileHandler
from conftest import (
    CLH_PYTHON,
    TESTS_DIR,
    dict_config_script,
    file_config_script,
    needs_clh,
    rec,
    run_python,
)

HERE = str(TESTS_DIR)
SECOND_SUFFIX = "%Y-%m-%d_%H-%M-%S"
LOCK = ".__app.lock"

# Records are created (time.time() read, formatted) before the writer takes the lock, so a
# record created just before a rollover time may wait for the lock (held by the process
# rotating, which may be gzipping the whole period) and land in the next period's file; on
# this shared 2-core machine a process can also be descheduled for a while between reading
# the clock and locking. 0.5 s is far above both, and far below the 2 s period, so a record
# written to the wrong period's file is still caught.
SLACK = 0.5

# CLH 0.9.31's constructor, copied from its source (/tmp/clhsrc, concurrent_log_handler
# __init__.py): (name, default) in order, then **kwargs.
_NO_DEFAULT = inspect.Parameter.empty
CLH_0_9_31_SIGNATURE: list[tuple[str, object]] = [
    ("filename", _NO_DEFAULT),
    ("when", "h"),
    ("interval", 1),
    ("backupCount", 0),
    ("encoding", None),
    ("delay", False),
    ("utc", False),
    ("atTime", None),
    ("errors", None),
    ("maxBytes", 0),
    ("use_gzip", False),
    ("owner", None),
    ("chmod", None),
    ("umask", None),
    ("newline", None),
    ("terminator", "\n"),
    ("unicode_error_policy", "ignore"),
    ("lock_file_directory", None),
    ("keep_file_open", True),
]


# -- helpers ------------------------------------------------------------------------


def stamp(epoch: float, suffix: str = SECOND_SUFFIX) -> str:
    """``epoch`` formatted with a backup suffix, in local time (as the handler names)."""
    return time.strftime(suffix, time.localtime(epoch))


def suffix_regex(suffix: str) -> str:
    """A regex for the text ``time.strftime(suffix, ...)`` produces (numeric fields only)."""
    widths = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
    out, i = "", 0
    while i < len(suffix):
        if suffix[i] == "%":
            out += rf"\d{{{widths[suffix[i + 1]]}}}"
            i += 2
        else:
            out += re.escape(suffix[i])
            i += 1
    return out


@dataclass
class Backup:
    """One dated backup: ``app.log.<stamp>[.<counter>]<namer suffix>[.gz]``."""

    name: str
    stamp: str
    counter: int
    start: float  # the period start its stamp names (epoch seconds)
    gz: bool
    data: bytes


@dataclass
class FileSet:
    backups: list[Backup]  # oldest first: by period start, then counter
    live: bytes  # the log itself (b"" if absent)
    stray: list[str]  # names that are neither the log, its lock nor a dated backup


def read_file_set(log: Path, suffix: str = SECOND_SUFFIX, namer_suffix: str = "") -> FileSet:
    """Read the log, its dated backups (decompressed) and whatever else is beside it."""
    pattern = re.compile(
        re.escape(log.name)
        + rf"\.(?P<stamp>{suffix_regex(suffix)})(?:\.(?P<counter>[1-9][0-9]*))?"
        + re.escape(namer_suffix)
        + r"(?P<gz>\.gz)?"
    )
    backups, stray = [], []
    for name in os.listdir(log.parent):
        if name in (log.name, LOCK):
            continue
        m = pattern.fullmatch(name)
        if m is None:
            stray.append(name)
            continue
        raw = (log.parent / name).read_bytes()
        gz = m.group("gz") is not None
        backups.append(
            Backup(
                name=name,
                stamp=m.group("stamp"),
                counter=int(m.group("counter") or 0),
                start=time.mktime(time.strptime(m.group("stamp"), suffix)),
                gz=gz,
                data=gzip.decompress(raw) if gz else raw,
            )
        )
    backups.sort(key=lambda b: (b.start, b.counter))
    live = log.read_bytes() if log.exists() else b""
    return FileSet(backups, live, sorted(stray))


_TIMED_HEADER = re.compile(rb"<<([A-Za-z0-9_.-]+):(\d+):\d+:[0-9a-f]{8}>>t=(\d+\.\d+) ")


def record_times(data: bytes) -> list[tuple[str, int, float]]:
    """(writer, seq, creation time) of every record in ``data`` (checked intact apart)."""
    return [
        (m.group(1).decode(), int(m.group(2)), float(m.group(3)))
        for m in _TIMED_HEADER.finditer(data)
    ]


# -- worker processes ---------------------------------------------------------------

# Runs in each writer process: build the handler from JSON kwargs, report "ready", wait
# for the parent's "go" on stdin (the barrier), then log for `duration` seconds. Each
# record carries its writer id, its sequence number and time.time() at its creation.
# "first" is reported after the first record; a JSON summary at the end.
WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import logcheck
from concurrent_log_handler import ConcurrentTimedRotatingFileHandler

log_path, wid, kwargs = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
duration, pause = float(sys.argv[5]), float(sys.argv[6])
handler = ConcurrentTimedRotatingFileHandler(log_path, encoding="utf-8", **kwargs)
logger = logcheck.framed_logger(handler, "timed")
print("ready", flush=True)
sys.stdin.readline()
end = time.time() + duration
seq = 0
while True:
    now = time.time()
    if now >= end:
        break
    payload = f"t={now:.6f} " + logcheck.mixed_payload(wid, seq)
    logger.info(logcheck.format_record(wid, seq, payload))
    if seq == 0:
        print("first", flush=True)
    seq += 1
    time.sleep(pause)
handler.close()
summary = {"count": seq, "rollovers": handler.num_rollovers, "rollover_at": handler.rolloverAt}
print(json.dumps(summary), flush=True)
"""

# About 400 records/s per process: continuous logging without saturating the 2 cores.
PAUSE = 0.002


@dataclass
class WorkerResult:
    count: int
    rollovers: int
    rollover_at: int


class Fleet:
    """Writer processes started together; killed if the test fails midway."""

    def __init__(
        self,
        log: Path,
        wids: list[str],
        kwargs: dict[str, Any],
        duration: float,
        pythons: dict[str, str] | None = None,
    ):
        self.wids = wids
        pythons = pythons or {}
        self.procs = [
            subprocess.Popen(
                [pythons.get(wid, sys.executable), "-c", WORKER, HERE, str(log), wid]
                + [json.dumps(kwargs), str(duration), str(PAUSE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for wid in wids
        ]

    def go(self) -> None:
        """Wait until every writer has its handler, then release them all at once."""
        for p in self.procs:
            line = p.stdout.readline()  # type: ignore[union-attr]
            assert line == "ready\n", f"worker did not start: {line!r} {p.stderr.read()}"  # type: ignore[union-attr]
        for p in self.procs:
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]

    def wait_first_records(self) -> None:
        for p in self.procs:
            line = p.stdout.readline()  # type: ignore[union-attr]
            assert line == "first\n", f"worker failed: {line!r} {p.stderr.read()}"  # type: ignore[union-attr]

    def finish(self) -> dict[str, WorkerResult]:
        results = {}
        for wid, p in zip(self.wids, self.procs):
            out, err = p.communicate(timeout=120)
            # A failed write goes to Handler.handleError, which prints to stderr.
            assert p.returncode == 0 and err == "", f"worker {wid} failed ({p.returncode}): {err}"
            summary = json.loads(out.strip().splitlines()[-1])
            results[wid] = WorkerResult(**summary)
        return results

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


@contextmanager
def fleet(
    log: Path,
    wids: list[str],
    kwargs: dict[str, Any],
    duration: float,
    pythons: dict[str, str] | None = None,
) -> Iterator[Fleet]:
    f = Fleet(log, wids, kwargs, duration, pythons)
    try:
        yield f
    finally:
        f.kill()


def run_fleet(
    log: Path, n: int, kwargs: dict[str, Any], duration: float
) -> dict[str, WorkerResult]:
    with fleet(log, [f"w{i}" for i in range(n)], kwargs, duration) as f:
        f.go()
        return f.finish()


# -- 1. API -------------------------------------------------------------------------


def test_signature_is_clh_0_9_31() -> None:
    """Same parameters, order and defaults as CLH 0.9.31's constructor, then only our
    keyword-only extensions, then **kwargs."""
    params = list(
        inspect.signature(ConcurrentTimedRotatingFileHandler.__init__).parameters.values()
    )
    assert params[0].name == "self"
    n = len(CLH_0_9_31_SIGNATURE)
    clh, extra = params[1 : n + 1], params[n + 1 : -1]
    assert [(p.name, p.default) for p in clh] == CLH_0_9_31_SIGNATURE
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in clh)
    assert [p.name for p in extra] == [
        "background",
        "queue_records",
        "queue_bytes",
        "queue_overflow",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_is_a_timed_rotating_file_handler_registered_in_logging_handlers() -> None:
    """A subclass of the stdlib's TimedRotatingFileHandler, importable as
    logging.handlers.ConcurrentTimedRotatingFileHandler (for fileConfig)."""
    assert issubclass(ConcurrentTimedRotatingFileHandler, logging.handlers.TimedRotatingFileHandler)
    assert logging.handlers.ConcurrentTimedRotatingFileHandler is ConcurrentTimedRotatingFileHandler  # type: ignore[attr-defined]


def test_attributes(tmp_path: Path, make_timed_handler) -> None:
    """suffix, extMatch, when, interval (in seconds, as the stdlib), backupCount,
    num_rollovers; rolloverAt is an int epoch, and after the first write it is the shared
    value stored in the lock file."""
    log = tmp_path / "app.log"
    h = make_timed_handler(log, when="S", interval=2, backupCount=4)
    assert h.suffix == SECOND_SUFFIX
    assert h.extMatch.match(stamp(time.time()))
    assert (h.when, h.interval, h.backupCount, h.num_rollovers) == ("S", 2, 4, 0)
    assert isinstance(h.rolloverAt, int)
    assert h.lockFilename == str(tmp_path / LOCK)
    t0 = time.time()
    h.emit(rec("one"))
    shared = int(logcheck.read_locked(tmp_path / LOCK))
    assert isinstance(h.rolloverAt, int) and h.rolloverAt == shared
    assert t0 < shared <= time.time() + 2
    h.doRollover()
    assert h.num_rollovers == 1
    hourly = make_timed_handler(tmp_path / "h.log")
    assert (hourly.when, hourly.interval, hourly.suffix) == ("H", 3600, "%Y-%m-%d_%H")
    weekly = make_timed_handler(tmp_path / "w.log", when="w2", interval=1)
    assert (weekly.when, weekly.interval, weekly.suffix) == ("W2", 7 * 86400, "%Y-%m-%d")


_CONFIG_TAIL = """
root = logging.getLogger()
root.info("first")
h = root.handlers[0]
h.doRollover()
root.info("second")
print(type(h).__module__, type(h).__name__, h.when, h.interval, h.backupCount,
      h.num_rollovers, getattr(h, "use_gzip", None))
"""


def _check_config_files(log: Path, suffix: str, gz: bool) -> None:
    files = read_file_set(log, suffix)
    assert files.stray == []
    assert [(b.data, b.gz) for b in files.backups] == [(b"first\n", gz)]
    assert files.live == b"second\n"


def test_file_config(tmp_path: Path) -> None:
    """fileConfig with class=handlers.ConcurrentTimedRotatingFileHandler and positional
    args builds a working handler (in a fresh interpreter: fileConfig disables loggers)."""
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "app.log"
    args = (str(log), "M", 5, 3)
    code = file_config_script(tmp_path / "logging.ini", "ConcurrentTimedRotatingFileHandler", args)
    proc = run_python(code + _CONFIG_TAIL)
    assert proc.stdout.split() == [
        "concurrent_log_handler",
        "ConcurrentTimedRotatingFileHandler",
        "M",
        "300",
        "3",
        "1",
        "False",
    ]
    _check_config_files(log, "%Y-%m-%d_%H-%M", gz=False)


@pytest.mark.parametrize("key", ["()", "class"])
def test_dict_config(tmp_path: Path, key: str) -> None:
    """dictConfig with '()' or 'class' and keyword arguments builds a working handler."""
    log = tmp_path / "app.log"
    code = dict_config_script(
        key,
        "ConcurrentTimedRotatingFileHandler",
        filename=str(log),
        when="S",
        interval=30,
        backupCount=3,
        use_gzip=True,
    )
    proc = run_python(code + _CONFIG_TAIL)
    assert proc.stdout.split() == [
        "concurrent_log_handler",
        "ConcurrentTimedRotatingFileHandler",
        "S",
        "30",
        "3",
        "1",
        "True",
    ]
    _check_config_files(log, SECOND_SUFFIX, gz=True)


class SuffixedHandler(ConcurrentTimedRotatingFileHandler):
    """CLH's documented use of the hook: a different backup suffix."""

    hook_saw: ClassVar[list[str]] = []

    def finalize_handler_configuration(self) -> None:
        super().finalize_handler_configuration()
        lock = Path(self.baseFilename).parent / LOCK
        SuffixedHandler.hook_saw.append(lock.read_text() if lock.exists() else "")
        self.suffix = "%Y-%m-%d_%H-%M-%S.log"


def test_finalize_hook_changes_suffix(tmp_path: Path, make_timed_handler) -> None:
    """finalize_handler_configuration() runs once in the constructor, before any rollover
    time is computed (the lock file holds none yet); the suffix it sets names the backups
    (counters after it), and retention (backupCount=2) recognises those names."""
    SuffixedHandler.hook_saw.clear()
    log = tmp_path / "app.log"
    h = SuffixedHandler(log, when="S", interval=60, backupCount=2)
    try:
        assert SuffixedHandler.hook_saw == [""]
        for msg in ("a", "b", "c"):
            h.emit(rec(msg))
            h.doRollover()
        h.emit(rec("d"))
    finally:
        h.close()
    files = read_file_set(log, "%Y-%m-%d_%H-%M-%S.log")
    assert files.stray == []
    assert [b.data for b in files.backups] == [b"b\n", b"c\n"]
    # Under the default suffix, none of them is a backup name.
    assert len(read_file_set(log).stray) == 2
    assert files.live == b"d\n"
    assert SuffixedHandler.hook_saw == [""]


# -- 2. bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"when": "x"}, ValueError, "x"),
        ({"when": "W7"}, ValueError, "W7"),
        ({"when": 5}, TypeError, "5"),
        ({"interval": 0}, ValueError, "0"),
        ({"interval": -1}, ValueError, "-1"),
        ({"interval": 1.5}, TypeError, "1.5"),
        ({"interval": "2"}, TypeError, "'2'"),
        ({"when": "midnight", "atTime": "00:00"}, TypeError, "00:00"),
        ({"maxBytes": -1}, ValueError, "-1"),
        ({"backupCount": -2}, ValueError, "-2"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], exc: type, needle: str) -> None:
    """Bad when/interval/atTime/sizes fail in the constructor with an error naming the value."""
    with pytest.raises(exc) as info:
        ConcurrentTimedRotatingFileHandler(tmp_path / "app.log", **kwargs)
    assert needle.lower() in str(info.value).lower()
    assert not (tmp_path / "app.log").exists()


# -- 3. many processes, real time ---------------------------------------------------

INTERVAL = 2
DURATION = 7.0


def check_periods(files: FileSet, lock_value: int, interval: int, max_bytes: int) -> None:
    """Exactly one time rotation per period, periods at least `interval` apart, and no
    record in the file of a period that had ended when it was created (within SLACK):
    a rotation never leaves a writer appending to an ended period's file. A record may
    land in a later period than it was created in: its write waited for the lock (CLH
    fsyncs the lock file under it), which is latency, not an error, so that direction is
    not checked. The live log's period starts `interval` before the rollover time in the
    lock file; size rotations may already have made backups of it."""
    live_start = lock_value - interval
    periods: dict[float, list[Backup]] = defaultdict(list)
    for b in files.backups:
        periods[b.start].append(b)
    assert all(start <= live_start for start in periods), (live_start, sorted(periods))
    bounds = sorted({*periods, live_start})
    for a, b in zip(bounds, bounds[1:]):
        assert b - a >= interval, f"periods {stamp(a)} and {stamp(b)} are too close"
    for start, group in periods.items():
        counters = [b.counter for b in group]
        # The first rotation of a period takes the plain name, later ones .1, .2, ...
        assert counters == list(range(len(group))), [b.name for b in group]
        # Only the last rotation of an ended period may be its time rotation: the others
        # (all of them in the live period) were size rotations, of a file >= maxBytes.
        size_rotated = group if start == live_start else group[:-1]
        for b in size_rotated:
            assert max_bytes > 0, f"period rotated twice: {[b.name for b in group]}"
            assert len(b.data) >= max_bytes, f"{b.name}: {len(b.data)} bytes"
    for b in files.backups:
        later = [s for s in bounds if s > b.start]
        end = later[0] if later else float("inf")
        for wid, seq, t in record_times(b.data):
            assert t < end + SLACK, f"{wid}:{seq} created {t:.3f} is in {b.name} [{b.start}, {end})"


@pytest.mark.parametrize(
    ("use_gzip", "max_bytes"),
    [(False, 0), (True, 0), (True, 16 * 1024)],
    ids=["plain", "gzip", "gzip-maxBytes"],
)
def test_processes_rotate_once_per_period(tmp_path: Path, use_gzip: bool, max_bytes: int) -> None:
    """4 processes log for 7 s with when='S', interval=2 (backupCount=0: keep all): no
    record lost, duplicated, torn or out of order across the log and every backup; backups
    are named app.log.<period start>[.N][.gz]; one time rotation per period, periods >= 2 s
    apart; each record is in the file of the period it was created in; the processes'
    rotation counts add up to the number of backups; nothing else is left behind."""
    log = tmp_path / "app.log"
    kwargs = {"when": "S", "interval": INTERVAL, "maxBytes": max_bytes, "use_gzip": use_gzip}
    results = run_fleet(log, 4, kwargs, DURATION)

    files = read_file_set(log)
    assert files.stray == []
    expected = {wid: r.count for wid, r in results.items()}
    t = logcheck.check_data([b.data for b in files.backups] + [files.live], expected)
    assert (t.lost, t.duplicated, t.torn, t.garbage_bytes) == (0, 0, 0, 0), t.summary()
    assert t.intact_without_loss, t.summary()
    assert all(b.gz == use_gzip for b in files.backups)
    assert len({b.stamp for b in files.backups}) >= 2, "expected time rotations"
    if max_bytes:
        assert any(b.counter > 0 for b in files.backups), "expected size rotations too"
    assert sum(r.rollovers for r in results.values()) == len(files.backups)
    check_periods(files, int(logcheck.read_locked(tmp_path / LOCK)), INTERVAL, max_bytes)


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
@needs_clh
def test_mixed_fleet_with_clh_timed_handler(tmp_path: Path, use_gzip: bool) -> None:
    """2 processes running CLH 0.9.31's ConcurrentTimedRotatingFileHandler and 2 running
    ours log into one file with when='S', interval=2: they share the rollover time in the
    lock file, so each period is rotated exactly once (by whichever process comes first),
    nothing is lost, duplicated or torn, and only CLH-named backups are left."""
    clh = CLH_PYTHON
    assert clh is not None
    log = tmp_path / "app.log"
    kwargs = {"when": "S", "interval": INTERVAL, "use_gzip": use_gzip}
    wids = ["clh0", "ours0", "clh1", "ours1"]
    with fleet(log, wids, kwargs, DURATION, {"clh0": clh, "clh1": clh}) as f:
        f.go()
        results = f.finish()
    files = read_file_set(log)
    assert files.stray == []
    expected = {wid: r.count for wid, r in results.items()}
    t = logcheck.check_data([b.data for b in files.backups] + [files.live], expected)
    assert (t.lost, t.duplicated, t.torn, t.garbage_bytes) == (0, 0, 0, 0), t.summary()
    assert all(b.gz == use_gzip for b in files.backups)
    assert len({b.stamp for b in files.backups}) >= 2, "expected time rotations"
    by_side = {
        side: sum(r.rollovers for w, r in results.items() if w.startswith(side))
        for side in ("clh", "ours")
    }
    print(f"rotations: {by_side}, backups: {len(files.backups)}")
    assert sum(by_side.values()) == len(files.backups)
    check_periods(files, int(logcheck.read_locked(tmp_path / LOCK)), INTERVAL, 0)


@pytest.mark.parametrize("max_bytes", [0, 4096], ids=["time", "time+size"])
def test_processes_backup_count(tmp_path: Path, max_bytes: int) -> None:
    """With backupCount=2 (and gzip) exactly the 2 newest backups remain, ordered by period
    then counter (numerically: .10 is newer than .9), and nothing else is left behind:
    what remains is intact and, for each writer, a tail of what it wrote."""
    log = tmp_path / "app.log"
    kwargs = {
        "when": "S",
        "interval": 1,
        "backupCount": 2,
        "maxBytes": max_bytes,
        "use_gzip": True,
    }
    results = run_fleet(log, 2, kwargs, 4.5)

    files = read_file_set(log)
    assert files.stray == []
    assert len(files.backups) == 2 and all(b.gz for b in files.backups)
    total = sum(r.rollovers for r in results.values())
    assert total >= 3, "retention must have removed some backups"
    expected = {wid: r.count for wid, r in results.items()}
    t = logcheck.check_data([b.data for b in files.backups] + [files.live], expected)
    assert t.intact_without_loss, t.summary()
    assert t.lost > 0
    names = [b.name for b in files.backups]
    for wid, seqs in t.found.items():
        tail = list(range(seqs[0], expected[wid]))
        assert seqs == tail, f"{wid}: kept records are not a tail; kept backups {names}"


@pytest.mark.parametrize("use_gzip", [False, True])
def test_retention_keeps_the_newest_within_a_period(
    tmp_path: Path, make_timed_handler, use_gzip: bool
) -> None:
    """Size rotations inside one period (names .1, .2, ...) with backupCount=2: after
    every rotation the 2 newest backups remain, in order, whatever retention has already
    deleted (a freed name must not be reused for a newer backup that then sorts oldest)."""
    log = tmp_path / "app.log"
    h = make_timed_handler(
        log, when="S", interval=3600, backupCount=2, maxBytes=1, use_gzip=use_gzip
    )
    h.setFormatter(logging.Formatter("%(message)s"))
    for i in range(8):
        h.emit(rec(f"r{i}"))  # maxBytes=1: every write after the first rotates
        h.flush()  # compression runs off the lock, on a thread: wait for it
        files = read_file_set(log)
        kept = [b.data for b in files.backups]
        newest = [f"r{k}\n".encode() for k in range(max(0, i - 2), i)]
        assert kept == newest, f"after r{i}: {[b.name for b in files.backups]}"
        assert files.live == f"r{i}\n".encode()


# -- 4. the shared schedule ---------------------------------------------------------

# A process started late: reads the lock file (under its flock), builds a handler, writes
# one record and reports what it saw.
LATECOMER = r"""
import json, logging, sys, time
sys.path.insert(0, sys.argv[1])
import logcheck
from concurrent_log_handler import ConcurrentTimedRotatingFileHandler

log_path, lock_path, interval = sys.argv[2], sys.argv[3], int(sys.argv[4])
before = logcheck.read_locked(lock_path)
handler = ConcurrentTimedRotatingFileHandler(log_path, when="S", interval=interval)
handler.setFormatter(logging.Formatter("%(message)s"))
t = time.time()
handler.emit(logging.makeLogRecord({"msg": logcheck.format_record("late", 0, f"t={t:.6f} late")}))
out = {"before": before, "t": t, "rollover_at": handler.rolloverAt,
       "after": logcheck.read_locked(lock_path), "rollovers": handler.num_rollovers}
handler.close()
print(json.dumps(out))
"""


def test_late_process_adopts_the_shared_rollover_time(tmp_path: Path) -> None:
    """A process started while others log adopts the rollover time in the lock file (it
    would have computed a later one of its own: `interval` after its own start) and does
    not rotate at its start; the early processes end with the same rollover time."""
    log = tmp_path / "app.log"
    lock = tmp_path / LOCK
    interval = 30  # no rollover can come due while the test runs
    kwargs = {"when": "S", "interval": interval}
    with fleet(log, ["w0", "w1"], kwargs, duration=4.0) as f:
        f.go()
        f.wait_first_records()
        shared = int(logcheck.read_locked(lock))
        # Let the clock enter a later second than the first write, so that a rollover
        # time computed by the latecomer itself would differ from the shared one.
        time.sleep(max(0.0, shared - interval + 1.2 - time.time()))
        late = json.loads(run_python(LATECOMER, HERE, str(log), str(lock), str(interval)).stdout)
        results = f.finish()

    assert int(time.time()) < shared, "a rollover came due: the test is too slow to decide"
    assert int(late["t"]) + interval > shared, "precondition: its own value would differ"
    assert int(late["before"]) == shared
    assert late["rollover_at"] == shared
    assert int(late["after"]) == shared
    assert late["rollovers"] == 0
    assert int(logcheck.read_locked(lock)) == shared
    assert {r.rollover_at for r in results.values()} == {shared}
    assert sum(r.rollovers for r in results.values()) == 0
    files = read_file_set(log)
    assert files.backups == [] and files.stray == []
    expected = {wid: r.count for wid, r in results.items()} | {"late": 1}
    t = logcheck.check_data([files.live], expected)
    assert t.lost == 0 and t.intact_without_loss, t.summary()


@pytest.mark.parametrize(
    "content",
    ["garbage", "", "12", "0", "-5", "946684799", "far-future"],
)
def test_corrupt_lock_content_is_replaced(tmp_path: Path, make_timed_handler, content: str) -> None:
    """A lock file holding garbage, nothing, a pre-2000 time or a time far beyond one
    interval from now is not believed: the next rollover is recomputed (within one
    interval of now), written back, and no backup named 1969/1970 (or any backup: the
    existing log is recent) appears."""
    interval = 5
    log = tmp_path / "app.log"
    lock = tmp_path / LOCK
    log.write_text("earlier\n")  # a recent, non-empty log (its mtime is now)
    if content == "far-future":
        content = str(int(time.time()) + 1000 * interval)
    lock.write_text(content)
    h = make_timed_handler(log, when="S", interval=interval)
    h.setFormatter(logging.Formatter("%(message)s"))
    h.emit(rec("after"))
    now = time.time()
    value = int(logcheck.read_locked(lock))
    assert now < value <= now + interval
    assert h.rolloverAt == value
    assert h.num_rollovers == 0
    names = sorted(os.listdir(tmp_path))
    assert not [n for n in names if "1969" in n or "1970" in n], names
    assert names == [LOCK, "app.log"]
    assert log.read_bytes() == b"earlier\nafter\n"


# -- 5. restart after a missed rollover (#81) ---------------------------------------


@pytest.mark.parametrize("lock_state", ["kept", "deleted"])
def test_restart_after_missed_rollover(tmp_path: Path, make_timed_handler, lock_state: str) -> None:
    """A handler that starts after the rollover time passed with no process running
    rotates at its first write: the old record goes to the backup named for its period
    (from the lock file, or from the log's mtime if the lock file is gone)."""
    log = tmp_path / "app.log"
    lock = tmp_path / LOCK
    first = make_timed_handler(log, when="S", interval=1)
    first.emit(rec("old"))
    first.close()
    rollover_at = int(logcheck.read_locked(lock))
    old_period = rollover_at - 1 if lock_state == "kept" else int(log.stat().st_mtime)
    # Nothing to wait on but the clock: be well past the missed rollover time.
    time.sleep(max(0.0, rollover_at + 1.2 - time.time()))
    if lock_state == "deleted":
        lock.unlink()

    second = make_timed_handler(log, when="S", interval=1)
    second.emit(rec("new"))
    now = time.time()
    assert second.num_rollovers == 1
    assert sorted(os.listdir(tmp_path)) == [LOCK, "app.log", f"app.log.{stamp(old_period)}"]
    assert (tmp_path / f"app.log.{stamp(old_period)}").read_bytes() == b"old\n"
    assert log.read_bytes() == b"new\n"
    assert now - 1 < int(logcheck.read_locked(lock)) <= now + 1


# -- 6. namer -----------------------------------------------------------------------


@pytest.mark.parametrize("use_gzip", [False, True])
def test_namer_and_retention(tmp_path: Path, make_timed_handler, use_gzip: bool) -> None:
    """A namer set after construction names every dated backup (.gz appended after it),
    and retention (backupCount=2) counts those names: of 5 rotations (size ones with
    counters, and a time one), exactly the 2 newest remain."""
    log = tmp_path / "app.log"
    h = make_timed_handler(log, when="S", interval=1, backupCount=2, maxBytes=1, use_gzip=use_gzip)
    h.setFormatter(logging.Formatter("%(message)s"))
    h.namer = lambda name: name + ".bak"
    for i in range(6):
        if i == 3:
            time.sleep(1.1)  # let a rollover time pass: the next rotation is a time one
        h.emit(rec(f"r{i}"))  # maxBytes=1: every write after the first rotates
    assert h.num_rollovers == 5
    h.flush()  # compression runs off the lock, on a thread: wait for it
    files = read_file_set(log, namer_suffix=".bak")
    assert files.stray == []
    assert all(b.name.endswith(".bak.gz" if use_gzip else ".bak") for b in files.backups)
    assert [b.data for b in files.backups] == [b"r3\n", b"r4\n"]
    assert files.live == b"r5\n"


# -- the checker itself -------------------------------------------------------------


def test_period_check_detects_misplaced_records() -> None:
    """check_periods is not vacuous: it rejects a record created well after its file's
    period ended, a period rotated twice, and periods closer than the interval; a record
    written late (created before its file's period) is accepted."""
    t0 = float(int(time.time()))

    def backup(start: float, counter: int, times: list[float]) -> Backup:
        data = b"".join(
            (logcheck.format_record("w", i, f"t={t:.6f} x") + "\n").encode()
            for i, t in enumerate(times)
        )
        return Backup(f"b{start}.{counter}", stamp(start), counter, start, False, data)

    good = FileSet([backup(t0, 0, [t0 + 0.1, t0 + 1.9])], b"", [])
    check_periods(good, int(t0) + 4, 2, 0)
    late = FileSet([backup(t0, 0, [t0 - 1.0])], b"", [])  # its write waited for the lock
    check_periods(late, int(t0) + 4, 2, 0)
    cases = [
        FileSet([backup(t0, 0, [t0 + 2.9])], b"", []),  # record from the next period
        FileSet([backup(t0, 0, [t0]), backup(t0, 1, [t0 + 1])], b"", []),  # rotated twice
        FileSet([backup(t0, 0, [t0]), backup(t0 + 1, 0, [t0 + 1])], b"", []),  # 1 s apart
        FileSet([backup(t0 + 2, 0, [t0 + 2])], b"", []),  # the live period rotated by time
    ]
    for files in cases:
        with pytest.raises(AssertionError):
            check_periods(files, int(t0) + 4, 2, 0)


def test_naming_helpers_agree_with_stdlib() -> None:
    """The naming helpers agree with the stdlib: a stamp parses back to its epoch second."""
    t = float(int(time.time()))
    assert time.mktime(time.strptime(stamp(t), SECOND_SUFFIX)) == t
    assert re.fullmatch(suffix_regex(SECOND_SUFFIX), stamp(t))
    assert datetime.datetime.fromtimestamp(t).strftime(SECOND_SUFFIX) == stamp(t)
