"""Crash safety: writers SIGKILLed in the middle of rotations, and recovery from every
state such a kill can leave on disk (ours and CLH 0.9.31's).

The random-kill run (tests/chaos/crashkit.py) runs 30 kills per variant by default;
CLH_SOAK_SCALE multiplies that. `make chaos` runs the same harness with 500+ kills.
"""

from __future__ import annotations

import gzip
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, SOAK_SCALE

sys.path.insert(0, str(REPO / "tests" / "chaos"))
import crashkit  # noqa: E402 - after the sys.path line above
import logcheck  # noqa: E402
from concurrent_log_handler import ConcurrentRotatingFileHandler  # noqa: E402

KILLS = 30 * SOAK_SCALE


# -- real SIGKILLs ----------------------------------------------------------------------


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_writers_killed_while_rotating_lose_no_accepted_record(
    tmp_path: Path, use_gzip: bool
) -> None:
    """3 writers rotate every ~8 records (maxBytes 4 KiB, ~500-byte records); one is
    SIGKILLed every few ms (mostly the lock holder), replaced, KILLS times; then a clean
    writer runs. Every record whose emit() returned is in the file set exactly once, whole
    and in order; killed in-flight records are whole or absent; every .gz decompresses;
    backups are app.log.1..N; no app.log.rotate.*, .part or temp file is left."""
    cfg = crashkit.KillConfig(
        root=tmp_path / "run", kills=KILLS, writers=3, gzip=use_gzip, seed=4242 + use_gzip
    )
    outcome = crashkit.run_kills(cfg)
    verdict = crashkit.verify(outcome)
    summary = verdict.summary()
    print(f"{outcome.seconds:.1f} s\n{summary}")
    assert verdict.ok, summary
    assert outcome.kills >= KILLS
    final = outcome.writers[-1]
    assert final.wid == "final"
    assert final.returncode == 0
    assert final.accepted() == cfg.final_records
    # The run proves something only if kills did cut rotations short: the writers' debug
    # traces show each interrupted rotation that a later writer had to finish.
    assert outcome.recoveries > 0, f"no kill interrupted a rotation: {summary}"


# -- hand-made crash states -------------------------------------------------------------

LOG = "app.log"
OURS = "app.log.rotate.4242-187b1e5c0ffee-0"  # our rotating name: <pid>-<nanos hex>-<n>
OURS_2 = "app.log.rotate.4243-187b1e5d0ffee-0"
CLHS = "app.log.rotate.12345678"  # CLH 0.9.31: f"{log}.rotate.{randbits(64):08}"


def content(wid: str, n: int = 3) -> bytes:
    """n framed records of writer ``wid``, as a handler writes them."""
    return b"".join(
        (logcheck.format_record(wid, seq, f"{wid} record {seq} " + "x" * 80) + "\n").encode()
        for seq in range(n)
    )


def recs(wid: str, n: int = 3) -> list[tuple[str, int]]:
    return [(wid, seq) for seq in range(n)]


@dataclass
class Crash:
    """A state a kill leaves: files (name -> (writer id, form)), and what the set must
    hold after a handler with ``use_gzip`` writes one record: slot -> (gz, writer id);
    slot 0 is the live log."""

    name: str
    use_gzip: bool
    files: dict[str, tuple[str, str]]  # form: raw | gz | part (a cut-off gzip stream)
    expect: dict[int, tuple[bool, str]]


def _gz(plain: dict[int, str], gz: bool) -> dict[int, tuple[bool, str]]:
    out = {k: (gz, wid) for k, wid in plain.items()}
    out[0] = (False, "fresh")
    return out


# In every case the log itself is gone (renamed away by the killed rotation); backups A
# (newer) and B (older) existed before it.
CRASHES = [
    Crash(
        "renamed_not_inserted",
        False,
        {"app.log.1": ("A", "raw"), "app.log.2": ("B", "raw"), OURS: ("X", "raw")},
        _gz({1: "X", 2: "A", 3: "B"}, False),
    ),
    Crash(
        "renamed_not_compressed",
        True,
        {"app.log.1.gz": ("A", "gz"), "app.log.2.gz": ("B", "gz"), OURS: ("X", "raw")},
        _gz({1: "X", 2: "A", 3: "B"}, True),
    ),
    Crash(
        "killed_while_compressing",
        True,
        {
            "app.log.1.gz": ("A", "gz"),
            "app.log.2.gz": ("B", "gz"),
            OURS: ("X", "raw"),
            OURS + ".gz.part": ("X", "part"),
        },
        _gz({1: "X", 2: "A", 3: "B"}, True),
    ),
    Crash(
        "compressed_raw_not_yet_removed",
        True,
        {
            "app.log.1.gz": ("A", "gz"),
            "app.log.2.gz": ("B", "gz"),
            OURS: ("X", "raw"),
            OURS + ".gz": ("X", "gz"),
        },
        _gz({1: "X", 2: "A", 3: "B"}, True),
    ),
    Crash(
        "compressed_not_inserted",
        True,
        {"app.log.1.gz": ("A", "gz"), "app.log.2.gz": ("B", "gz"), OURS + ".gz": ("X", "gz")},
        _gz({1: "X", 2: "A", 3: "B"}, True),
    ),
    Crash(
        # The shift renamed .2 -> .3 and was killed before .1 -> .2.
        "backups_shifted_halfway",
        False,
        {"app.log.1": ("A", "raw"), "app.log.3": ("B", "raw"), OURS: ("X", "raw")},
        _gz({1: "X", 2: "A", 3: "B"}, False),
    ),
    Crash(
        "backups_shifted_halfway_gzip",
        True,
        {"app.log.1.gz": ("A", "gz"), "app.log.3.gz": ("B", "gz"), OURS + ".gz": ("X", "gz")},
        _gz({1: "X", 2: "A", 3: "B"}, True),
    ),
    Crash(
        "first_rotation_ever",
        True,
        {OURS: ("X", "raw")},
        _gz({1: "X"}, True),
    ),
    Crash(
        # A process with use_gzip=True was killed; this one does not compress.
        "compressed_orphan_found_by_plain_handler",
        False,
        {"app.log.1": ("A", "raw"), "app.log.2": ("B", "raw"), OURS + ".gz": ("X", "gz")},
        {0: (False, "fresh"), 1: (True, "X"), 2: (False, "A"), 3: (False, "B")},
    ),
    Crash(
        "clh_orphan",
        False,
        {"app.log.1": ("A", "raw"), "app.log.2": ("B", "raw"), CLHS: ("X", "raw")},
        _gz({1: "X", 2: "A", 3: "B"}, False),
    ),
    Crash(
        # CLH gzips straight to <orphan>.gz: killed mid-way, it is cut off.
        "clh_orphan_with_partial_gz",
        True,
        {
            "app.log.1.gz": ("A", "gz"),
            "app.log.2.gz": ("B", "gz"),
            CLHS: ("X", "raw"),
            CLHS + ".gz": ("X", "part"),
        },
        _gz({1: "X", 2: "A", 3: "B"}, True),
    ),
    Crash(
        # Two interrupted rotations (X older than Y: mtimes are set in file order) and a
        # temporary file of an interrupted creation.
        "two_orphans_oldest_first",
        False,
        {
            "app.log.1": ("A", "raw"),
            "app.log.2": ("B", "raw"),
            CLHS: ("X", "raw"),
            OURS_2: ("Y", "raw"),
            logcheck.temp_name("app.log", "new", 4242, 0): ("T", "raw"),
        },
        _gz({1: "Y", 2: "X", 3: "A", 4: "B"}, False),
    ),
]


def make_files(directory: Path, files: dict[str, tuple[str, str]]) -> None:
    """Create the files, with increasing mtimes in the given order (backups first)."""
    base = 1_700_000_000
    for i, (name, (wid, form)) in enumerate(files.items()):
        data = content(wid)
        if form == "gz":
            data = gzip.compress(data)
        elif form == "part":
            data = gzip.compress(data)[:40]
        path = directory / name
        path.write_bytes(data)
        os.utime(path, (base + 10 * i, base + 10 * i))


def layout(log: Path) -> dict[int, tuple[bool, list[tuple[str, int]]]]:
    """slot -> (compressed, records in file order) of the log's file set."""
    out = {}
    for f in logcheck.read_log_set(log):
        assert f.error is None, f"{f.path.name}: {f.error}"
        parsed = logcheck.parse_records(f.data)
        assert (parsed.torn, parsed.garbage_bytes) == (0, 0), f"{f.path.name} damaged"
        assert f.slot not in out, f"slot {f.slot} twice"
        out[f.slot] = (f.gz, parsed.records)
    return out


def write_one(log: Path, use_gzip: bool, max_bytes: int = 0) -> ConcurrentRotatingFileHandler:
    handler = ConcurrentRotatingFileHandler(
        str(log), maxBytes=max_bytes, backupCount=10, use_gzip=use_gzip
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    msg = logcheck.format_record("fresh", 0, "fresh record after the crash")
    handler.emit(logging.makeLogRecord({"msg": msg}))
    handler.close()
    return handler


@pytest.mark.parametrize("crash", CRASHES, ids=[c.name for c in CRASHES])
def test_next_writer_finishes_interrupted_rotation(tmp_path: Path, crash: Crash) -> None:
    """Given the on-disk state a kill leaves at one point of a rotation (ours or CLH's),
    the next handler's first write puts the orphaned records into the backup series
    exactly once and in order (newest at .1), complete (a partial .gz is never taken
    for a backup), and removes every leftover (.part, partial .gz, temp files)."""
    make_files(tmp_path, crash.files)
    log = tmp_path / LOG
    write_one(log, crash.use_gzip)
    expected = {
        slot: (gz, recs("fresh", 1) if wid == "fresh" else recs(wid))
        for slot, (gz, wid) in crash.expect.items()
    }
    assert layout(log) == expected
    assert logcheck.stray_files(log) == []


def test_clh_orphan_next_to_a_recreated_log(tmp_path: Path) -> None:
    """CLH 0.9.31 never recovers its orphans: after a killed CLH rotation, the next CLH
    writer simply creates a new app.log (L). Our handler must still fold the orphan (X,
    older than L) into the series, in order, by the time it rotates."""
    make_files(
        tmp_path,
        {
            "app.log.1": ("A", "raw"),
            "app.log.2": ("B", "raw"),
            CLHS: ("X", "raw"),
            LOG: ("L", "raw"),
        },
    )
    log = tmp_path / LOG
    # maxBytes = the log's size: the first write rotates first.
    write_one(log, False, max_bytes=log.stat().st_size)
    assert layout(log) == {
        0: (False, recs("fresh", 1)),
        1: (False, recs("L")),
        2: (False, recs("X")),
        3: (False, recs("A")),
        4: (False, recs("B")),
    }
    assert logcheck.stray_files(log) == []
