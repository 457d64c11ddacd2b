"""Background writing (``background=True``), off-lock compression and
``setup_logging_queues()``, checked with real processes, forks and files.

Records are framed (tests/python/logcheck.py: writer id, sequence number, CRC, end
marker), so lost, duplicated, torn and reordered records are all detected. Scenarios
that must exit the interpreter, fork with threads running or change user run in a
subprocess of their own. Scale with CLH_SOAK_SCALE (default 1).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import logcheck
import pytest
from concurrent_log_handler import ConcurrentRotatingFileHandler
from conftest import (
    LOGGING_ERROR,
    SOAK_SCALE,
    TESTS_DIR,
    StrictHandler,
    assert_complete,
    held_lock,
    needs_root,
)

SCRIPT_TIMEOUT = 240.0  # seconds: a deadlock guard, far above what a scenario needs
JOIN_TIMEOUT = 60.0

# Every scenario script starts with this. Its first lines register an exit hook before
# logging and this package are imported, so that hooks appended to ``EARLY_EXIT_HOOKS``
# run after logging.shutdown() and the package's own exit hook (atexit runs in reverse).
PRELUDE = f"""
import atexit
import sys

EARLY_EXIT_HOOKS = []
atexit.register(lambda: [hook() for hook in EARLY_EXIT_HOOKS])

import json
import logging
import os
from pathlib import Path

sys.path.insert(0, {str(TESTS_DIR)!r})
import logcheck
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)

mixed, short = logcheck.mixed_record, logcheck.short_record


def make_logger(handler, name="scenario"):
    return logcheck.framed_logger(handler, name)
"""


def run_script(
    directory: Path, body: str, *args: object, timeout: float = SCRIPT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run PRELUDE + ``body`` as a script in a fresh interpreter."""
    script = directory / "scenario.py"
    script.write_text(PRELUDE + body, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=directory,
    )


# -- 1. exit without close() ----------------------------------------------------------

EXIT_SCRIPT = r"""
import gc
import multiprocessing

how, log, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if how == "timed":
    handler = ConcurrentTimedRotatingFileHandler(
        log, when="D", backupCount=10_000, background=True
    )
else:
    handler = ConcurrentRotatingFileHandler(
        log, maxBytes=256 << 10, backupCount=10_000, use_gzip=True, background=True
    )
logger = make_logger(handler)
expected = {"main": n}

TASKS = 12
PER_TASK = (n - 2000) // TASKS


def pool_task(i):
    for seq in range(PER_TASK):
        logger.info(mixed(f"w{i}", seq))
    return os.getpid()  # no flush, no close: the worker leaves through os._exit


if how == "pool":
    for seq in range(1000):  # queued in the parent when the workers fork
        logger.info(mixed("main", seq))
    pool = multiprocessing.get_context("fork").Pool(3, maxtasksperchild=2)
    pids = pool.map(pool_task, range(TASKS), chunksize=1)
    pool.close()
    pool.join()
    assert len(set(pids)) >= TASKS // 2, pids  # maxtasksperchild made workers exit
    for seq in range(1000, 2000):
        logger.info(mixed("main", seq))
    expected = {"main": 2000, **{f"w{i}": PER_TASK for i in range(TASKS)}}
elif how == "pool-with":
    # `with Pool()` ends with terminate(): SIGTERM to workers that may still hold
    # records in memory; in multiprocessing workers, background handlers write
    # synchronously so that this loses nothing.
    for seq in range(1000):
        logger.info(mixed("main", seq))
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(pool_task, range(TASKS), chunksize=1)
    expected = {"main": 1000, **{f"w{i}": PER_TASK for i in range(TASKS)}}
else:
    for seq in range(n):
        logger.info(mixed("main", seq))

if how == "late":
    # Runs after logging.shutdown() closed the handler (CLH issue #80: logging during
    # interpreter shutdown): a library's exit hook registered before logging was set up.
    def late():
        for seq in range(100):
            logger.info(mixed("late", seq))

    EARLY_EXIT_HOOKS.append(late)
    expected["late"] = 100

print(json.dumps(expected), flush=True)
if how == "sys.exit":
    sys.exit(3)
if how == "raise":
    raise RuntimeError("uncaught on purpose")
if how == "unreferenced":
    logger.removeHandler(handler)
    del handler
    gc.collect()
"""


@pytest.mark.parametrize(
    ("how", "n", "code"),
    [
        ("end", 50_000, 0),
        ("sys.exit", 50_000, 3),
        ("raise", 10_000, 1),
        ("unreferenced", 10_000, 0),
        ("late", 10_000, 0),
        ("timed", 10_000, 0),
        ("pool", 50_000, 0),
        ("pool-with", 50_000, 0),
    ],
)
def test_exit_without_close_loses_nothing(tmp_path: Path, how: str, n: int, code: int) -> None:
    """A process that logs in background mode (rotating every 256 KiB, gzip) and never
    calls close() or flush() still writes every record exactly once, and leaves only
    complete .gz backups: falling off the end of the script, sys.exit() from a script
    without threads, an uncaught exception, a handler dropped unreferenced, records
    logged by an exit hook that runs after logging.shutdown(), the timed handler, and
    multiprocessing 'fork' Pool workers that log and return (workers leave through
    os._exit; maxtasksperchild makes several of them do it mid-run), and `with Pool()`,
    whose exit SIGTERMs the workers."""
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    result = run_script(tmp_path, EXIT_SCRIPT, how, log, n * SOAK_SCALE)
    assert result.returncode == code, result.stderr
    assert LOGGING_ERROR not in result.stderr, result.stderr
    if how == "raise":
        assert "RuntimeError: uncaught on purpose" in result.stderr
    else:
        assert "Traceback" not in result.stderr, result.stderr
    expected = json.loads(result.stdout)
    report = assert_complete(log, expected, gz=True)
    if how != "timed":
        assert len(report.backups) >= 5, report.summary()


# -- 2. flush() -----------------------------------------------------------------------


def read_log_set_locked(log: Path, lock_path: str) -> bytes:
    """The live log and every backup, read while holding CLH's lock, so that no
    rotation moves a record between the files being read."""
    with held_lock(lock_path):
        return b"".join(f.data for f in logcheck.read_log_set(log))


def test_flush_returns_after_every_record_emitted_before_it(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """Four threads each emit a burst, flush, and immediately read the files: every
    record of their burst is there. Two more threads log without flushing meanwhile
    (their records may or may not be written yet at any flush). At the end every
    record of every thread is there exactly once, in order."""
    log = tmp_path / "app.log"
    handler = StrictHandler(str(log), maxBytes=1 << 20, backupCount=10_000, background=True)
    logger = make_logger(handler, "test_background.flush")
    iterations = 120 * SOAK_SCALE
    checkers_done = threading.Event()
    counts: dict[str, int] = {}
    failures: list[str] = []

    def checker(wid: str) -> None:
        seq = 0
        try:
            for it in range(iterations):
                burst = [
                    logcheck.format_record(wid, s, f"burst {it}")
                    for s in range(seq, seq + 1 + it % 7)
                ]
                for text in burst:
                    logger.info(text)
                seq += len(burst)
                handler.flush()
                data = read_log_set_locked(log, handler.lockFilename)
                missing = [t for t in burst if (t + "\n").encode() not in data]
                if missing:
                    failures.append(f"{wid}: after flush, not in the files: {missing[:3]}")
                    return
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(f"{wid}: {type(e).__name__}: {e}")
        finally:
            counts[wid] = seq

    def noise(wid: str) -> None:
        seq = 0
        try:
            while not checkers_done.is_set() and seq < 20_000 * SOAK_SCALE:
                logger.info(logcheck.format_record(wid, seq, "noise " + "z" * (seq % 50)))
                seq += 1
        except BaseException as e:  # noqa: BLE001
            failures.append(f"{wid}: {type(e).__name__}: {e}")
        finally:
            counts[wid] = seq

    checkers = [threading.Thread(target=checker, args=(f"c{k}",)) for k in range(4)]
    noisy = [threading.Thread(target=noise, args=(f"n{k}",)) for k in range(2)]
    for t in checkers + noisy:
        t.start()
    for t in checkers:
        t.join(JOIN_TIMEOUT)
    checkers_done.set()
    for t in noisy:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in checkers + noisy), "a thread hangs"
    assert failures == []
    handler.close()
    assert_complete(log, counts, gz=False)


# -- 3. a full queue ------------------------------------------------------------------

DROP_NOTICE = re.compile(
    rb"concurrent_log_handler: (\d+) record\(s\) were not written: the background queue was full\n"
)


def test_drop_overflow_counts_exactly(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """queue_overflow="drop" with a 10-record queue whose writer thread is stuck (the
    test holds the lock): of 500 records, those written plus ``dropped_records`` make
    500, none written twice, in order; the notice lines (one per batch that followed
    drops: at most two, the batch the stuck thread holds and the next) state exactly
    ``dropped_records`` in total; after the lock is released logging goes on normally,
    with no further drop or notice."""
    log = tmp_path / "app.log"
    handler = StrictHandler(str(log), background=True, queue_records=10, queue_overflow="drop")
    logger = make_logger(handler, "test_background.drop")
    emitted = 500
    with held_lock(handler.lockFilename):
        for seq in range(emitted):
            logger.info(logcheck.format_record("d", seq, f"record {seq}"))
        dropped = handler.dropped_records
    handler.flush()
    assert handler.dropped_records == dropped  # the count is final once emits stopped
    assert dropped >= emitted - 20, dropped  # at most one batch taken + a full queue
    data = log.read_bytes()
    notices = [int(m.group(1)) for m in DROP_NOTICE.finditer(data)]
    assert 1 <= len(notices) <= 2, notices
    assert sum(notices) == dropped, notices
    parsed = logcheck.parse_records(DROP_NOTICE.sub(b"", data))
    assert parsed.torn == 0
    assert parsed.garbage_bytes == 0
    found = [seq for wid, seq in parsed.records if wid == "d"]
    assert len(parsed.records) == len(found)
    assert found == sorted(set(found)), found
    assert len(found) + dropped == emitted

    # With the thread free, a queue emptied by flush() takes 5 records without a drop.
    for first in range(emitted, emitted + 50, 5):
        for seq in range(first, first + 5):
            logger.info(logcheck.format_record("d", seq, f"record {seq}"))
        handler.flush()
    assert handler.dropped_records == dropped
    data = log.read_bytes()
    assert [int(m.group(1)) for m in DROP_NOTICE.finditer(data)] == notices
    later = [seq for _, seq in logcheck.parse_records(DROP_NOTICE.sub(b"", data)).records]
    assert later == found + list(range(emitted, emitted + 50))


def test_block_overflow_waits_and_loses_nothing(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """queue_overflow="block" with a 10-record queue whose writer thread is stuck (the
    test holds the lock): the emitting thread blocks, nothing reaches the file; once
    the lock is released it finishes and all 100 records are written, in order."""
    log = tmp_path / "app.log"
    handler = StrictHandler(str(log), background=True, queue_records=10)
    logger = make_logger(handler, "test_background.block")
    failures: list[BaseException] = []

    def emit_all() -> None:
        try:
            for seq in range(100):
                logger.info(logcheck.format_record("b", seq, f"record {seq}"))
        except BaseException as e:  # noqa: BLE001
            failures.append(e)

    with held_lock(handler.lockFilename):
        emitter = threading.Thread(target=emit_all, daemon=True)
        emitter.start()
        emitter.join(0.5)
        assert emitter.is_alive(), "emit did not block on a full queue"
        assert not log.exists() or log.read_bytes() == b""
    emitter.join(JOIN_TIMEOUT)
    assert not emitter.is_alive(), "emit still blocked after the lock was released"
    assert failures == []
    handler.flush()
    assert handler.dropped_records == 0
    assert_complete(log, {"b": 100}, gz=False)


# -- 4. fork while logging ------------------------------------------------------------

FORK_SCRIPT = r"""
import select
import signal
import threading
import traceback

log, forks, per_child = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
TIMEOUT = 60.0
handler = ConcurrentRotatingFileHandler(
    log, maxBytes=256 << 10, backupCount=100_000, use_gzip=True, background=True
)
logger = make_logger(handler)
progress = threading.Semaphore(0)
stop = threading.Event()
sent = {}


def parent_thread():
    seq = 0
    while not stop.is_set():
        logger.info(short("parent", seq))
        seq += 1
        if seq % 20 == 0:
            progress.release()
    sent["parent"] = seq


thread = threading.Thread(target=parent_thread)
thread.start()
codes = {}
for i in range(forks):
    progress.acquire()  # the thread is logging right now; its records are queued
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for seq in range(per_child):
                logger.info(short(f"c{i}", seq))
            if i % 2 == 0:
                handler.flush()
            code = 0
        except BaseException:
            traceback.print_exc()
        if i % 2 == 0:
            os._exit(code)  # after an explicit flush
        sys.exit(code)  # interpreter exit writes the queue
    fd = os.pidfd_open(pid)
    ready, _, _ = select.select([fd], [], [], TIMEOUT)
    os.close(fd)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        codes[i] = "deadlocked"
    else:
        codes[i] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
for seq in range(200):  # the parent's main thread goes on logging too
    logger.info(short("main", seq))
stop.set()
thread.join()
print(json.dumps({"codes": codes, "parent": sent["parent"], "main": 200}), flush=True)
"""


def test_fork_while_a_thread_logs_in_background(tmp_path: Path) -> None:
    """A process forks 24 times while a thread logs in background mode (rotating and
    compressing): every child gets a working writer of its own (logs, exits in time,
    half of them through os._exit after flush(), half through interpreter exit), no
    child writes the parent's queued records (every parent record exactly once) and
    the parent goes on logging, then exits without close()."""
    forks, per_child = 24 * SOAK_SCALE, 300
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    result = run_script(tmp_path, FORK_SCRIPT, log, forks, per_child)
    assert result.returncode == 0, result.stderr
    assert LOGGING_ERROR not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    out = json.loads(result.stdout)
    assert out["codes"] == {str(i): 0 for i in range(forks)}
    expected = {"parent": out["parent"], "main": out["main"]}
    expected.update({f"c{i}": per_child for i in range(forks)})
    assert out["parent"] >= 20 * forks
    assert_complete(log, expected, gz=True)


# -- 5. setup_logging_queues() --------------------------------------------------------

QUEUES_SCRIPT = r"""
import io
import threading

from concurrent_log_handler.queue import setup_logging_queues, stop_queue_listeners

out, use_queues = Path(sys.argv[1]), sys.argv[2] == "1"

# Deterministic record times, so that %(asctime)s and {created} compare across runs.
_make_record = logging.getLogRecordFactory()
_tick = [0]


def record_factory(*args, **kwargs):
    record = _make_record(*args, **kwargs)
    _tick[0] += 1
    record.created = 1_700_000_000.0 + _tick[0]
    record.msecs = 0.0
    record.relativeCreated = _tick[0] * 1000.0
    return record


logging.setLogRecordFactory(record_factory)


class StructFormatter(logging.Formatter):
    # What structlog's ProcessorFormatter does: render record.msg, a dict, with extras.
    def format(self, record):
        event = dict(record.msg) if isinstance(record.msg, dict) else {"event": record.getMessage()}
        event.update(
            level=record.levelname,
            logger=record.name,
            thread=record.threadName,
            request_id=getattr(record, "request_id", None),
        )
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, sort_keys=True)


class KeepFilter(logging.Filter):
    def filter(self, record):
        record.kept_by = "KeepFilter"
        return getattr(record, "tag", None) == "keep"


root = logging.getLogger()
root.setLevel(logging.DEBUG)
clh = ConcurrentRotatingFileHandler(str(out / "clh.log"))
clh.setFormatter(logging.Formatter(
    "%(asctime)s.%(msecs)03d %(levelname)s %(name)s [%(threadName)s] "
    "%(funcName)s:%(lineno)d %(message)s"
))
root.addHandler(clh)

app = logging.getLogger("app")
warn_file = logging.FileHandler(out / "warn.log", encoding="utf-8")
warn_file.setLevel(logging.WARNING)
warn_file.setFormatter(logging.Formatter("{levelname}|{name}|{created:.0f}|{message}", style="{"))
app.addHandler(warn_file)
kept_stream = io.StringIO()
kept = logging.StreamHandler(kept_stream)
kept.addFilter(KeepFilter())
kept.setFormatter(logging.Formatter("%(kept_by)s %(request_id)s %(levelname)s %(message)s"))
app.addHandler(kept)

net = logging.getLogger("app.net")
net_stream = io.StringIO()
net_handler = logging.StreamHandler(net_stream)
net_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
net.addHandler(net_handler)

struct = logging.getLogger("app.struct")
struct_stream = io.StringIO()
struct_handler = logging.StreamHandler(struct_stream)
struct_handler.setFormatter(StructFormatter())
struct.addHandler(struct_handler)

other = logging.getLogger("other")  # no handler of its own: propagates to root
LOGGERS = [root, app, net, struct, other]
LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
ORIGINAL = {lg.name: list(lg.handlers) for lg in LOGGERS}


def describe():
    return {
        "handlers": {lg.name: [type(h).__name__ for h in lg.handlers] for lg in LOGGERS},
        "restored": all(
            len(lg.handlers) == len(ORIGINAL[lg.name])
            and all(a is b for a, b in zip(lg.handlers, ORIGINAL[lg.name]))
            for lg in LOGGERS
        ),
        "clh_background": clh.background,
    }


def emit_all(prefix, n):
    for i in range(n):
        lg = LOGGERS[i % 5]
        level = LEVELS[(i // 5) % 5]
        extra = {"tag": "keep" if i % 3 == 0 else "skip", "request_id": f"{prefix}-{i}"}
        if lg is struct and i % 2:
            lg.log(level, {"event": "user_login", "user": "ann", "n": i, "roles": ["a", "b"]},
                   extra=extra)
        else:
            lg.log(level, "%s event %d: %r", prefix, i, {"k": i, "s": "é"}, extra=extra)
        if i % 50 == 7:
            try:
                raise ValueError(f"bad value {i}")
            except ValueError:
                LOGGERS[(i // 50) % 5].exception("failed at %d", i, extra=extra)


facts = {"before": describe()}
if use_queues:
    setup_logging_queues(queue_records=8)
    facts["during"] = describe()
emit_all("main", 400)
worker = threading.Thread(target=emit_all, args=("worker", 100), name="worker-1")
worker.start()
worker.join()
if use_queues:
    stop_queue_listeners()
facts["after"] = describe()
clh.close()
warn_file.close()
for name, stream in [("kept", kept_stream), ("net", net_stream), ("struct", struct_stream)]:
    (out / f"{name}.txt").write_text(stream.getvalue(), encoding="utf-8")
(out / "facts.json").write_text(json.dumps(facts), encoding="utf-8")
"""

QUEUE_OUTPUTS = ("clh.log", "warn.log", "kept.txt", "net.txt", "struct.txt")


def queue_scenario_model() -> Iterator[tuple[str, int, bool, str]]:
    """What QUEUES_SCRIPT logs: (logger name, level, tagged "keep", request id)."""
    names = ["root", "app", "app.net", "app.struct", "other"]
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
    for prefix, n in (("main", 400), ("worker", 100)):
        for i in range(n):
            yield names[i % 5], levels[(i // 5) % 5], i % 3 == 0, f"{prefix}-{i}"
            if i % 50 == 7:
                yield names[(i // 50) % 5], logging.ERROR, i % 3 == 0, f"{prefix}-{i}"


def test_setup_logging_queues_changes_no_output(tmp_path: Path) -> None:
    """setup_logging_queues() over handlers on several loggers (this package's, sync:
    switched to background; a stdlib FileHandler with its own '{' formatter and level
    WARNING; a StreamHandler with a filter that selects and annotates records; a
    StreamHandler to a StringIO; a structlog-style formatter rendering ``record.msg``
    dicts with ``extra=`` attributes), queues of 8 records so producers block, records
    from two threads, exceptions: after stop_queue_listeners() every handler holds
    byte for byte what it holds in the same run without queues, and the original
    handlers are back, this package's in sync mode."""
    plain, queued = tmp_path / "plain", tmp_path / "queued"
    for directory, flag in ((plain, 0), (queued, 1)):
        directory.mkdir()
        # The same script file for both runs: tracebacks name it.
        result = run_script(tmp_path, QUEUES_SCRIPT, directory, flag)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    for name in QUEUE_OUTPUTS:
        assert (queued / name).read_text("utf-8") == (plain / name).read_text("utf-8"), name

    # The reference run holds what it should (so the comparison is not vacuous).
    model = list(queue_scenario_model())

    def ids_reaching(target: str, min_level: int = logging.DEBUG) -> list[str]:
        return [
            rid
            for name, level, _, rid in model
            if (target == "root" or name == target or name.startswith(target + "."))
            and level >= min_level
        ]

    clh = (plain / "clh.log").read_text("utf-8")
    assert len(re.findall(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,000\.000 ", clh)) == len(model)
    assert clh.count(" [worker-1] ") == 102  # 100 records, 2 exceptions
    assert clh.count("Traceback (most recent call last)") == 10
    warn = re.findall(r"(?m)^([A-Z]+)\|app", (plain / "warn.log").read_text("utf-8"))
    assert len(warn) == len(ids_reaching("app", logging.WARNING))
    assert set(warn) == {"WARNING", "ERROR", "CRITICAL"}
    kept = re.findall(r"(?m)^KeepFilter (\S+) ", (plain / "kept.txt").read_text("utf-8"))
    assert kept == [rid for name, _, keep, rid in model if keep and name.startswith("app")]
    net = (plain / "net.txt").read_text("utf-8")
    assert len(re.findall(r"(?m)^app\.net [A-Z]+ ", net)) == len(ids_reaching("app.net"))
    assert "ValueError: bad value 107" in net
    struct = [json.loads(line) for line in (plain / "struct.txt").read_text("utf-8").splitlines()]
    assert [e["request_id"] for e in struct] == ids_reaching("app.struct")
    logins = [e for e in struct if e["event"] == "user_login"]
    assert len(logins) > 10
    assert all(e["roles"] == ["a", "b"] and e["user"] == "ann" for e in logins)
    assert {e["thread"] for e in struct} == {"MainThread", "worker-1"}
    assert "ValueError: bad value 157" in "".join(e.get("exception", "") for e in struct)

    facts = json.loads((queued / "facts.json").read_text("utf-8"))
    assert facts["before"]["clh_background"] is False
    assert facts["during"]["clh_background"] is True
    assert facts["during"]["handlers"]["root"] == ["ConcurrentRotatingFileHandler"]
    assert facts["during"]["handlers"]["app"] == ["_BoundedQueueHandler"] * 2
    assert facts["during"]["handlers"]["app.net"] == ["_BoundedQueueHandler"]
    assert facts["during"]["handlers"]["app.struct"] == ["_BoundedQueueHandler"]
    assert facts["after"]["restored"] is True
    assert facts["after"]["clh_background"] is False


MUTABLE_ARGS_SCRIPT = r"""
import io
import threading

from concurrent_log_handler.queue import setup_logging_queues, stop_queue_listeners

use_queues = sys.argv[1] == "1"
release = threading.Event()


class Gate(logging.StreamHandler):
    # Its first record waits for `release`: the record after it stays queued meanwhile.
    def emit(self, record):
        if record.getMessage() == "gate":
            release.wait(60)
        super().emit(record)


stream = io.StringIO()
handler = Gate(stream)
handler.setFormatter(logging.Formatter("%(message)s"))
logger = logging.getLogger("mutable")
logger.setLevel(logging.INFO)
logger.addHandler(handler)
if use_queues:
    setup_logging_queues()
else:
    release.set()
logger.info("gate")
items = ["at the call"]
logger.info("items=%s", items)
items.append("changed after the call")
release.set()
if use_queues:
    stop_queue_listeners()
print(stream.getvalue(), end="")
"""


@pytest.mark.parametrize("use_queues", [0, 1])
def test_queued_record_is_formatted_with_arguments_as_at_the_call(
    tmp_path: Path, use_queues: int
) -> None:
    """A stdlib handler behind setup_logging_queues() prints a record's arguments as
    they were when logging was called, as without queues (the stdlib QueueHandler
    merges them into the message at the call for this reason), even when the caller
    changes a mutable argument before the listener thread gets to the record."""
    result = run_script(tmp_path, MUTABLE_ARGS_SCRIPT, use_queues)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "gate\nitems=['at the call']\n"


# -- 6. errors of the writer thread ---------------------------------------------------

UNWRITABLE_SCRIPT = r"""
import pwd

logs = Path(sys.argv[1])
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
handler = ConcurrentRotatingFileHandler(
    str(logs / "app.log"), maxBytes=2048, backupCount=10_000, background=True
)
logger = make_logger(handler)


def log_range(start, stop):
    for seq in range(start, stop):
        logger.info(logcheck.format_record("main", seq, "x" * 100))


log_range(0, 60)
handler.flush()
print("MARK chmod", file=sys.stderr, flush=True)
os.chmod(logs, 0o500)  # rotation (a rename in the directory) now fails
log_range(60, 120)
handler.flush()
log_range(120, 130)  # the application goes on
handler.flush()
os.chmod(logs, 0o700)
print("MARK restored", file=sys.stderr, flush=True)
log_range(130, 200)
handler.flush()
handler.close()
print("END", flush=True)
"""


@needs_root
def test_writer_thread_error_is_reported_and_recovered(shared_dir: Path) -> None:
    """As user nobody, the log directory turns read-only mid-run (rotation cannot
    rename): the next emit or flush reports '--- Logging error ---' naming the
    directory on stderr, the application goes on, records still go to the current file
    meanwhile; once the directory is writable again rotation resumes with no further
    error, and every record is there exactly once."""
    logs = shared_dir / "logs"
    logs.mkdir(mode=0o700)
    import pwd  # POSIX only

    nobody = pwd.getpwnam("nobody")
    os.chown(logs, nobody.pw_uid, nobody.pw_gid)
    result = run_script(shared_dir, UNWRITABLE_SCRIPT, logs)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "END\n"
    before, rest = result.stderr.split("MARK chmod\n")
    during, after = rest.split("MARK restored\n")
    assert LOGGING_ERROR not in before, before
    assert LOGGING_ERROR in during
    assert str(logs) in during
    assert "ermission" in during  # PermissionError / Permission denied
    assert LOGGING_ERROR not in after, after
    report = assert_complete(logs / "app.log", {"main": 200}, gz=False)
    assert len(report.backups) >= 5


def test_directory_removed_in_background_mode(
    tmp_path: Path,
    make_logger: Callable[..., logging.Logger],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The log directory vanishes under a background handler: the next flush (or emit)
    reports '--- Logging error ---' naming the path, nothing raises; once the directory
    is back, later records are written, once each, without further errors."""
    monkeypatch.setattr(logging, "raiseExceptions", True)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    handler = ConcurrentRotatingFileHandler(str(log), backupCount=10, background=True)
    logger = make_logger(handler, "test_background.removed")

    def log_range(start: int, stop: int) -> None:
        for seq in range(start, stop):
            logger.info(logcheck.format_record("r", seq, f"record {seq}"))

    log_range(0, 20)
    handler.flush()
    assert capsys.readouterr().err == ""
    shutil.rmtree(logs)
    log_range(20, 40)
    handler.flush()
    err = capsys.readouterr().err
    assert LOGGING_ERROR in err
    assert str(logs) in err
    logs.mkdir()
    log_range(40, 60)
    handler.flush()
    assert LOGGING_ERROR not in capsys.readouterr().err
    parsed = logcheck.parse_records(log.read_bytes())
    assert parsed.torn == parsed.garbage_bytes == 0
    seqs = [seq for _, seq in parsed.records]
    assert len(seqs) == len(set(seqs))
    assert [s for s in seqs if s >= 40] == list(range(40, 60))
    assert all(s >= 20 for s in seqs)


# -- 7. compression off the emit path ------------------------------------------------


def test_sync_emit_does_not_wait_for_compression(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """Sync mode, maxBytes 8 MiB, use_gzip: right after an emit that rotated returns,
    the backup can still be seen uncompressed (app.log.1) or being compressed (the
    hidden gz temporary) in at least one of 3 rotations: compression runs
    after the emit returned. After flush() only complete .gz backups remain."""
    log = tmp_path / "app.log"
    handler = StrictHandler(str(log), maxBytes=8 << 20, backupCount=10, use_gzip=True)
    logger = make_logger(handler, "test_background.gzip")
    seen: list[list[str]] = []
    seq = 0
    while handler.num_rollovers < 3:
        before = handler.num_rollovers
        payload = os.urandom(2048).hex()  # compresses slowly enough to be seen
        logger.info(logcheck.format_record("g", seq, payload))
        seq += 1
        if handler.num_rollovers > before:
            seen.append(sorted(os.listdir(tmp_path)))
    pending = [
        names
        for names in seen
        if "app.log.1" in names
        or any(n.startswith(logcheck.temp_prefix("app.log") + "gz.") for n in names)
    ]
    assert pending, f"every compression had finished when its emit returned: {seen}"
    handler.flush()
    assert sorted(os.listdir(tmp_path)) == [
        ".__app.lock",
        "app.log",
        "app.log.1.gz",
        "app.log.2.gz",
        "app.log.3.gz",
    ]
    assert_complete(log, {"g": seq}, gz=True)


# -- switching at runtime -------------------------------------------------------------


def test_set_background_switches_while_threads_log(
    tmp_path: Path, make_logger: Callable[..., logging.Logger]
) -> None:
    """Three threads log while the main thread switches background mode on and off 20
    times: every record is written exactly once, each thread's in order, and the mode
    is what was asked for."""
    log = tmp_path / "app.log"
    handler = StrictHandler(str(log), maxBytes=512 << 10, backupCount=10_000)
    logger = make_logger(handler, "test_background.switch")
    progress = threading.Semaphore(0)
    failures: list[BaseException] = []
    per_thread = 3000 * SOAK_SCALE

    def writer(wid: str) -> None:
        try:
            for seq in range(per_thread):
                logger.info(logcheck.format_record(wid, seq, f"{wid} {seq} " + "w" * 80))
                if seq % 100 == 99:
                    progress.release()
        except BaseException as e:  # noqa: BLE001
            failures.append(e)
            progress.release()

    threads = [threading.Thread(target=writer, args=(f"t{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for switch in range(20):
        progress.acquire()
        on = switch % 2 == 0
        handler.set_background(on, queue_records=64)
        assert handler.background is on
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    handler.close()
    assert_complete(log, {f"t{k}": per_thread for k in range(3)}, gz=False)
