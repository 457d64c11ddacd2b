"""Writers SIGKILLed at random moments while they rotate, and the check of what they leave.

Shared by tests/python/test_crash.py (a short run inside ``make test``) and
tests/chaos/kill_during_rotation.py (the long run behind ``make chaos``).

A writer is this file run as a script (``python crashkit.py writer ...``). It logs
framed records (tests/python/logcheck.py's format: writer id, sequence number, CRC, end
marker) through ConcurrentRotatingFileHandler and, after each ``emit`` returns, appends
the record's sequence number to its own journal with one ``write()``. A journaled record
was ACCEPTED: it must be in the file set exactly once. The one record a writer may have
had in flight when it was killed (sequence number = journaled count) may be present or
not, but whole and once. Any emit error makes a writer exit with status 3.

The harness keeps a few writers running and, after a random delay, SIGKILLs one: most
often the one holding the lock (found in /proc/locks on Linux, so that kills land inside
writes and rotations rather than in lock waits), otherwise a random one. It starts a
replacement, and at the end runs one clean writer, which must finish any rotation left
half done, then checks the file set. Writers run with debug=True so that their traces
show how many interrupted rotations later writers had to finish.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import random
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import logcheck

LOG_NAME = "app.log"
BACKUP_RE = logcheck.backup_pattern(LOG_NAME)
WRITER_ERROR_EXIT = 3
FINAL_WRITER_TIMEOUT = 120.0  # seconds: a deadlock guard, far above the normal < 1 s


def payload(wid: str, seq: int, size: int) -> str:
    """Deterministic filler of ``size`` ASCII characters for record ``seq`` of ``wid``."""
    unit = f"{wid}.{seq}."
    return (unit * (size // len(unit) + 1))[:size]


def record_size(seq: int, low: int, high: int) -> int:
    """Payload size of record ``seq``: spread over [low, high) deterministically."""
    return low + (seq * 7919) % max(1, high - low)


# -- the writer process ---------------------------------------------------------------


def writer_main(argv: list[str]) -> int:
    """Log ``--count`` records, journaling each accepted one; print "ready" first."""
    p = argparse.ArgumentParser(prog="crashkit.py writer")
    p.add_argument("--log", required=True)
    p.add_argument("--journal", required=True)
    p.add_argument("--wid", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--max-bytes", type=int, required=True)
    p.add_argument("--backup-count", type=int, required=True)
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--trace", help="send the handler's debug trace to this file")
    p.add_argument("--size-low", type=int, default=400)
    p.add_argument("--size-high", type=int, default=600)
    a = p.parse_args(argv)

    from concurrent_log_handler import ConcurrentRotatingFileHandler

    handler = ConcurrentRotatingFileHandler(
        a.log,
        maxBytes=a.max_bytes,
        backupCount=a.backup_count,
        use_gzip=a.gzip,
        debug=a.trace is not None,
    )
    handler.setFormatter(logging.Formatter("%(message)s"))

    def fail(record: logging.LogRecord | None) -> None:
        # emit() calls this from its except block: report and die, never journal.
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(WRITER_ERROR_EXIT)

    handler.handleError = fail  # type: ignore[method-assign]
    journal = os.open(a.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    print("ready", flush=True)
    if a.trace is not None:
        # From now on stdout (where debug traces go) is the trace file, not the pipe.
        trace = os.open(a.trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(trace, 1)
        os.close(trace)
    for seq in range(a.count):
        text = payload(a.wid, seq, record_size(seq, a.size_low, a.size_high))
        handler.emit(logging.makeLogRecord({"msg": logcheck.format_record(a.wid, seq, text)}))
        os.write(journal, b"%d\n" % seq)
    handler.close()
    os.close(journal)
    return 0


# -- the harness ----------------------------------------------------------------------


@dataclass
class KillConfig:
    """One random-kill run in ``root`` (which must be empty or missing)."""

    root: Path
    kills: int
    writers: int = 3
    gzip: bool = False
    max_bytes: int = 4096
    # Large enough never to drop a backup: every accepted record must stay findable.
    backup_count: int = 1_000_000
    size_low: int = 400
    size_high: int = 600
    max_delay: float = 0.03  # seconds between kills: uniform in [0, max_delay)
    # Chance that the victim is the writer holding the lock (writing or rotating) rather
    # than any writer (most of which are usually waiting for the lock).
    aim_at_holder: float = 0.7
    records_per_writer: int = 400
    final_records: int = 20
    seed: int = 0
    trace: bool = True  # run writers with debug=True, traces in the journal directory
    python: str = sys.executable  # the writers' interpreter (and so their handler package)

    @property
    def log(self) -> Path:
        return self.root / "logs" / LOG_NAME


@dataclass
class WriterRun:
    """One writer process: its journal and how it ended."""

    wid: str
    journal: Path
    stderr: Path
    killed: bool = False
    returncode: int | None = None
    ready: bool = False
    hung: bool = False

    @property
    def trace(self) -> Path:
        return self.journal.with_suffix(".trace")

    def recoveries(self) -> int:
        """Interrupted rotations this writer finished (from its debug trace)."""
        if not self.trace.exists():
            return 0
        return self.trace.read_bytes().count(b": recovering ")

    def accepted(self) -> int:
        """How many records the writer journaled (always its first ones, in order)."""
        if not self.journal.exists():
            return 0
        data = self.journal.read_bytes()
        lines = data.split(b"\n")[:-1]  # a line cut by the kill has no newline: not accepted
        for i, line in enumerate(lines):
            if line != b"%d" % i:
                raise AssertionError(f"{self.journal}: line {i} is {line!r}")
        return len(lines)

    def error_text(self) -> str:
        return self.stderr.read_text(errors="replace") if self.stderr.exists() else ""


@dataclass
class KillOutcome:
    """What a run did: the writers (the clean final writer last), kills, time."""

    config: KillConfig
    writers: list[WriterRun]
    kills: int
    seconds: float
    # The state each kill left, as seen under the lock right after it. A lower bound:
    # another writer often takes the lock first and finishes the rotation.
    seen: Counter[str] = field(default_factory=Counter)

    @property
    def recoveries(self) -> int:
        """Rotations left half done by a kill that a later writer finished (from the
        writers' debug traces; 0 when run without traces)."""
        return sum(w.recoveries() for w in self.writers)


def crash_point(log: Path) -> str:
    """Classify the state of the file set, under the lock, as a writer would find it."""
    fd = os.open(log.parent / logcheck.lock_file_name(log.name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        names = os.listdir(log.parent)
    finally:
        os.close(fd)  # closing releases the lock
    rotating = [n for n in names if n.startswith(f"{log.name}.rotate.")]
    slots = sorted(int(m.group(1)) for n in names if (m := BACKUP_RE.fullmatch(n)))
    if any(n.endswith(".part") for n in rotating):
        return "while compressing (.gz.part)"
    if any(n.endswith(".gz") for n in rotating):
        return "compressed, not inserted"
    if slots != list(range(1, len(slots) + 1)):
        return "backups shifted halfway"
    if rotating:
        return "renamed away, not inserted"
    if log.name not in names:
        return "log missing"
    return "nothing half done"


class _Fleet:
    """The writer processes of one run."""

    def __init__(self, cfg: KillConfig) -> None:
        self.cfg = cfg
        self.live: list[tuple[WriterRun, subprocess.Popen[bytes]]] = []
        self.done: list[WriterRun] = []
        self.kills = 0
        self.seen: Counter[str] = Counter()
        self._count = 0

    def spawn(self, wid: str | None = None, count: int | None = None) -> None:
        cfg = self.cfg
        if wid is None:
            wid = f"w{self._count}"
            self._count += 1
        jdir = cfg.root / "journals"
        run = WriterRun(wid, jdir / f"{wid}.journal", jdir / f"{wid}.stderr")
        cmd = [
            cfg.python,
            str(Path(__file__).resolve()),
            "writer",
            f"--log={cfg.log}",
            f"--journal={run.journal}",
            f"--wid={wid}",
            f"--count={cfg.records_per_writer if count is None else count}",
            f"--max-bytes={cfg.max_bytes}",
            f"--backup-count={cfg.backup_count}",
            f"--size-low={cfg.size_low}",
            f"--size-high={cfg.size_high}",
        ]
        if cfg.gzip:
            cmd.append("--gzip")
        if cfg.trace:
            cmd.append(f"--trace={run.trace}")
        with open(run.stderr, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        self.live.append((run, proc))
        assert proc.stdout is not None
        # Wait (a pipe read, no sleep) until the writer has its handler and starts logging.
        run.ready = proc.stdout.readline() == b"ready\n"

    def retire(self, index: int, kill: bool, timeout: float | None = None) -> None:
        """Reap writer ``index`` of the live ones, SIGKILLing it first if ``kill``
        and it is still running. A writer not done within ``timeout`` seconds is
        killed and recorded as hung (returncode None)."""
        run, proc = self.live.pop(index)
        if kill and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            run.killed = True
            self.kills += 1
        try:
            run.returncode = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            run.hung = True
        if proc.stdout is not None:
            proc.stdout.close()
        self.done.append(run)
        if run.killed:
            self.seen[crash_point(self.cfg.log)] += 1

    def finished(self) -> list[int]:
        return [i for i, (_, proc) in enumerate(self.live) if proc.poll() is not None]

    def abort(self) -> None:
        for _, proc in self.live:
            proc.kill()
            proc.wait()


def run_kills(cfg: KillConfig) -> KillOutcome:
    """Keep ``cfg.writers`` writers logging, SIGKILL ``cfg.kills`` of them at random
    moments (replacing each), kill the last ones too, then run a clean final writer."""
    rng = random.Random(cfg.seed)
    cfg.log.parent.mkdir(parents=True)
    (cfg.root / "journals").mkdir(parents=True)
    lock_path = cfg.log.parent / logcheck.lock_file_name(cfg.log.name)
    start = time.monotonic()
    fleet = _Fleet(cfg)
    try:
        # A writer that cannot even start (a broken build) ends the run: nothing to kill.
        while fleet.kills < cfg.kills and all(w.ready for w in fleet.done):
            for i in reversed(fleet.finished()):  # writers that ran out of records
                fleet.retire(i, kill=False)
            while len(fleet.live) < cfg.writers:
                fleet.spawn()
            # The random moment of the kill: this sleep is the point, not a wait for an event.
            time.sleep(rng.uniform(0, cfg.max_delay))
            victim = rng.randrange(len(fleet.live))
            if rng.random() < cfg.aim_at_holder:
                pids = [proc.pid for _, proc in fleet.live]
                holder = logcheck.flock_holder(lock_path)
                if holder in pids:
                    victim = pids.index(holder)
            fleet.retire(victim, kill=True)
        while fleet.live:
            fleet.retire(0, kill=True)
        fleet.spawn("final", cfg.final_records)
        fleet.retire(0, kill=False, timeout=FINAL_WRITER_TIMEOUT)
    finally:
        fleet.abort()
    return KillOutcome(cfg, fleet.done, fleet.kills, time.monotonic() - start, fleet.seen)


# -- the check ------------------------------------------------------------------------


@dataclass
class Verdict:
    """Everything wrong with the file set a run left (all zero/empty when it is right)."""

    kills: int = 0
    writers: int = 0
    accepted: int = 0
    found: int = 0  # accepted records found (each counted once)
    in_flight_found: int = 0  # records being logged at a kill that made it (allowed)
    lost: int = 0
    duplicated: int = 0
    torn: int = 0
    garbage_bytes: int = 0
    out_of_order: int = 0
    unexpected: int = 0
    files: int = 0
    recoveries: int = 0  # rotations left half done by a kill, finished by a later writer
    seen: Counter[str] = field(default_factory=Counter)  # crash points seen after kills
    torn_files: list[str] = field(default_factory=list)
    bad_gz: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    slot_problems: list[str] = field(default_factory=list)
    writer_errors: list[str] = field(default_factory=list)
    lost_examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.torn
            or self.garbage_bytes
            or self.out_of_order
            or self.unexpected
            or self.bad_gz
            or self.stray
            or self.slot_problems
            or self.writer_errors
        )

    def summary(self) -> str:
        lines = [
            (
                f"kills {self.kills}, writers {self.writers}, files {self.files}, "
                f"accepted {self.accepted}, found {self.found} "
                f"(+{self.in_flight_found} in-flight records that made it), lost {self.lost}, "
                f"duplicated {self.duplicated}, torn {self.torn}, garbage bytes "
                f"{self.garbage_bytes}, out of order {self.out_of_order}, unexpected "
                f"{self.unexpected}, stray files {len(self.stray)}"
            ),
            f"  rotations left half done and finished later: {self.recoveries}; crash "
            f"points seen right after kills: "
            + ", ".join(f"{k}: {n}" for k, n in self.seen.most_common()),
        ]
        for label, items in (
            ("torn records in", self.torn_files),
            ("bad .gz", self.bad_gz),
            ("stray", self.stray),
            ("backup slots", self.slot_problems),
            ("writer errors", self.writer_errors),
            ("lost", self.lost_examples),
        ):
            if items:
                lines.append(f"  {label}: " + "; ".join(items[:10]))
        return "\n".join(lines)

    def add(self, other: Verdict) -> None:
        """Accumulate another run's verdict (for the chaos run's totals)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:  # counts and Counters add up
                setattr(self, f.name, mine + theirs)


def verify(outcome: KillOutcome) -> Verdict:
    """Check the file set against the writers' journals."""
    cfg = outcome.config
    v = Verdict(
        kills=outcome.kills,
        writers=len(outcome.writers),
        recoveries=outcome.recoveries,
        seen=Counter(outcome.seen),
    )
    accepted: dict[str, int] = {}
    expected: dict[str, int] = {}
    for w in outcome.writers:
        n = w.accepted()
        accepted[w.wid] = n
        # A killed writer's next record may have reached the file before the kill.
        expected[w.wid] = n + 1 if w.killed else n
        if not w.ready:
            v.writer_errors.append(f"{w.wid} never became ready: {w.error_text()[-1500:]}")
        elif w.hung:
            v.writer_errors.append(f"{w.wid} did not finish within {FINAL_WRITER_TIMEOUT} s")
        elif not w.killed and w.returncode != 0:
            v.writer_errors.append(f"{w.wid} exited with {w.returncode}: {w.error_text()[-1500:]}")
    report = logcheck.check(cfg.log, expected)
    v.files = len(report.files)
    v.accepted = sum(accepted.values())
    v.duplicated = report.duplicated
    v.torn = report.torn
    v.garbage_bytes = report.garbage_bytes
    v.out_of_order = report.out_of_order
    v.unexpected = report.unexpected
    v.bad_gz = list(report.bad_gz)
    for f in report.files:
        parsed = logcheck.parse_records(f.data)
        if parsed.torn or parsed.garbage_bytes:
            v.torn_files.append(
                f"{f.path.name} ({parsed.torn} torn, {parsed.garbage_bytes} garbage bytes)"
            )
    for wid, n in accepted.items():
        found = set(report.found.get(wid, []))
        missing = [seq for seq in range(n) if seq not in found]
        v.lost += len(missing)
        v.found += n - len(missing)
        v.in_flight_found += n in found
        v.lost_examples.extend(f"{wid}:{seq}" for seq in missing[:3])
    v.stray = logcheck.stray_files(cfg.log)
    v.slot_problems = [
        f"{cfg.log.name}: {p}" for p in logcheck.slot_problems(report.files, gzip=cfg.gzip)
    ]
    return v


if __name__ == "__main__":
    if sys.argv[1:2] != ["writer"]:
        sys.exit("usage: crashkit.py writer --log ... (run by the harness)")
    sys.exit(writer_main(sys.argv[2:]))
