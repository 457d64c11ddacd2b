"""Soak test: 8 separately started processes log mixed records (small, 5-9 KiB, non-ASCII,
multi-line) through ConcurrentRotatingFileHandler into one rotating log, all at once.

Scale the record count with CLH_SOAK_SCALE (default 1: 8 x 20,000 records; `make soak`: 5).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import logcheck
import pytest
import reliability
from conftest import SOAK_SCALE, TESTS_DIR

PROCESSES = 8
RECORDS = 20_000 * SOAK_SCALE
MAX_BYTES = 64 * 1024

# Runs in each worker: build the handler, report "ready", wait for the parent's "go"
# on stdin (the barrier), log every record, report rollovers as JSON.
WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import logcheck
from concurrent_log_handler import ConcurrentRotatingFileHandler

log_path, wid, count, max_bytes, backup_count, use_gzip = sys.argv[2:8]
handler = ConcurrentRotatingFileHandler(
    log_path, maxBytes=int(max_bytes), backupCount=int(backup_count),
    use_gzip=use_gzip == "1", encoding="utf-8",
)
logger = logcheck.framed_logger(handler, "soak")
print("ready", flush=True)
sys.stdin.readline()
start = time.perf_counter()
for seq in range(int(count)):
    logger.info(logcheck.mixed_record(wid, seq))
elapsed = time.perf_counter() - start
handler.close()
print(json.dumps({"rollovers": handler.num_rollovers, "elapsed": elapsed}), flush=True)
"""


@dataclass
class Run:
    expected: dict[str, int]
    rollovers: int
    elapsed: float


def wids() -> list[str]:
    return [f"w{i}" for i in range(PROCESSES)]


def total_bytes() -> int:
    """Exact size of everything the workers write (records plus terminators)."""
    return sum(
        len(logcheck.mixed_record(w, s).encode()) + 1 for w in wids() for s in range(RECORDS)
    )


def run_workers(log_path: Path, backup_count: int, use_gzip: bool) -> Run:
    """Start every worker, release them together, wait for all; fail on any error output."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(TESTS_DIR), str(log_path), wid, str(RECORDS)]
            + [str(MAX_BYTES), str(backup_count), "1" if use_gzip else "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for wid in wids()
    ]
    try:
        for p in procs:
            line = p.stdout.readline()  # type: ignore[union-attr]
            assert line == "ready\n", f"worker did not start: {line!r} {p.stderr.read()}"  # type: ignore[union-attr]
        start = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        results = [p.communicate(timeout=900) for p in procs]
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    rollovers = 0
    for p, (out, err) in zip(procs, results):
        # A failed write goes to Handler.handleError, which prints to stderr.
        assert p.returncode == 0 and err == "", f"worker failed ({p.returncode}): {err}"
        rollovers += json.loads(out)["rollovers"]
    return Run({w: RECORDS for w in wids()}, rollovers, elapsed)


def report_runtime(capsys: pytest.CaptureFixture[str], label: str, run: Run, t0: float) -> None:
    n = PROCESSES * RECORDS
    with capsys.disabled():
        print(
            f"\n[soak {label}] {PROCESSES} x {RECORDS} records, {run.rollovers} rotations: "
            f"writing {run.elapsed:.1f} s ({n / run.elapsed:,.0f} records/s), "
            f"case total {time.perf_counter() - t0:.1f} s"
        )


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_soak_nothing_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], use_gzip: bool
) -> None:
    """With enough backups to keep everything, every record of 8 concurrent processes is
    found exactly once, whole and in each writer's order; every backup is a complete,
    decompressible file numbered 1..N, holding between maxBytes and maxBytes + one record
    (rotation only when due, never twice in a row); one backup per rotation; no leftovers."""
    t0 = time.perf_counter()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    log_path = log_dir / "app.log"
    backup_count = total_bytes() // MAX_BYTES * 2 + 10

    run = run_workers(log_path, backup_count, use_gzip)
    report = logcheck.check(log_path, run.expected)

    assert report.bad_gz == []
    assert (report.lost, report.duplicated, report.torn) == (0, 0, 0), report.summary()
    assert report.clean, report.summary()
    assert report.intact == PROCESSES * RECORDS
    assert logcheck.stray_files(log_path) == []
    backups = report.backups
    assert len(backups) > 20, "expected many rotations"
    assert sorted(b.slot for b in backups) == list(range(1, len(backups) + 1))
    assert all(b.gz == use_gzip for b in backups)
    assert run.rollovers == len(backups), "each rotation must produce exactly one backup"
    for b in backups:
        assert MAX_BYTES <= len(b.data) < MAX_BYTES + report.largest_record, b.path.name
    report_runtime(capsys, "gzip" if use_gzip else "plain", run, t0)
    reliability.report(
        f"soak, {'use_gzip' if use_gzip else 'plain'}",
        f"{PROCESSES} processes x {RECORDS:,} records, {run.rollovers} rotations",
        lost=report.lost,
        duplicated=report.duplicated,
        torn=report.torn,
        stray=0,  # asserted above
        errors=0,  # asserted above: no worker wrote to stderr
        sent=PROCESSES * RECORDS,
        found=report.intact,
    )


def test_soak_small_backup_count_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With backupCount=5 and gzip, retention keeps exactly 5 compressed backups (slots 1..5)
    and leaves nothing behind; what remains has no duplicated or torn record, and for each
    writer it is a tail of its records (only the oldest are dropped)."""
    t0 = time.perf_counter()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    log_path = log_dir / "app.log"

    run = run_workers(log_path, 5, use_gzip=True)
    report = logcheck.check(log_path, run.expected)

    assert logcheck.stray_files(log_path) == []
    assert sorted((b.slot, b.gz) for b in report.backups) == [(k, True) for k in range(1, 6)]
    assert report.intact_without_loss, report.summary()
    assert report.lost > 0, "retention should have dropped the oldest backups"
    for wid, seqs in report.found.items():
        if seqs:
            assert seqs == list(range(seqs[0], RECORDS)), f"{wid}: kept records are not a tail"
    for b in report.backups:
        assert MAX_BYTES <= len(b.data) < MAX_BYTES + report.largest_record, b.path.name
    report_runtime(capsys, "gzip, backupCount=5", run, t0)
    reliability.report(
        "soak, use_gzip, backupCount=5",
        f"{PROCESSES} processes x {RECORDS:,} records, {run.rollovers} rotations",
        lost=0,  # only the oldest records, dropped by retention (asserted above)
        duplicated=report.duplicated,
        torn=report.torn,
        stray=0,
        errors=0,
        sent=PROCESSES * RECORDS,
        found=report.intact,
        note=f"{report.lost:,} oldest records dropped by retention (backupCount=5), as configured",
    )


def test_logcheck_detects_damage(tmp_path: Path) -> None:
    """The verifier itself is not vacuous: it reports a torn record, an interleaved one, a
    duplicate, a lost record, records out of order, a corrupt .gz and stray files."""
    recs = [logcheck.mixed_record("a", s) + "\n" for s in range(8)]
    raw = [r.encode() for r in recs]
    log_path = tmp_path / "app.log"
    # Slot 2 (oldest): records 0, 1 and record 5 (out of order: it also appears later).
    (tmp_path / "app.log.2").write_bytes(raw[0] + raw[1] + raw[5])
    # Slot 1: 2, torn 3 (cut short), 4 with 6 interleaved in its middle, 5 again.
    mid = len(raw[4]) // 2
    (tmp_path / "app.log.1.gz").write_bytes(
        gzip.compress(raw[2] + raw[3][:-9] + raw[4][:mid] + raw[6] + raw[4][mid:] + raw[5])
    )
    (tmp_path / "app.log.3.gz").write_bytes(b"not gzip data")
    log_path.write_bytes(raw[7])
    (tmp_path / "app.log.rotate.123").write_bytes(b"")
    (tmp_path / "app.log.1.gz.part").write_bytes(b"")
    (tmp_path / logcheck.lock_file_name("app.log")).write_bytes(b"")

    report = logcheck.check(log_path, {"a": 8})
    assert len(report.bad_gz) == 1 and "app.log.3.gz" in report.bad_gz[0]
    assert report.found["a"] == [0, 1, 2, 5, 6, 7]
    assert (report.lost, report.duplicated) == (2, 1)  # 3 and 4 are broken; 5 is twice
    assert report.torn == 2 and report.garbage_bytes > 0
    assert report.out_of_order == 2  # record 2 after 5, and 5 after 6
    assert not report.clean and not report.intact_without_loss
    assert logcheck.stray_files(log_path) == ["app.log.1.gz.part", "app.log.rotate.123"]
    whole = logcheck.parse_records(b"".join(raw))
    assert (len(whole.records), whole.torn, whole.garbage_bytes) == (8, 0, 0)
