"""A mixed fleet: processes running the real concurrent-log-handler (CLH) 0.9.31 and
processes running this package write one rotating log at the same time, as during a
rolling upgrade. They must agree on the lock file, the lock, the size rule and the
backup names, so that nothing is lost, duplicated or torn.

CLH runs in its own interpreter: env CLH_REFERENCE_PYTHON (set by `make test-python`),
else the repo's .venv-clh (`make clh-venv`). Scale the record count with CLH_SOAK_SCALE.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import logcheck
import pytest
from conftest import (
    CLH_PYTHON,
    REPO,
    SOAK_SCALE,
    TESTS_DIR,
    held_lock,
    needs_clh,
    run_python,
    wait_blocked,
    worker_env,
)

RECORDS = 3000 * SOAK_SCALE  # per process
MAX_BYTES = 32 * 1024
BACKUP_COUNT = 10_000  # keep every backup: the check needs every record
TIMEOUT = 300 * SOAK_SCALE  # guard only: a hung run fails instead of blocking `make test`

pytestmark = needs_clh


# Runs in each worker, CLH or ours (same import name): build the handler, report who it
# is, log every record (the parent holds the lock file until every worker is blocked on
# it, so all start together), report num_rollovers.
WORKER = r"""
import importlib.util, json, os, sys, time
sys.path.insert(0, sys.argv[1])
import logcheck
import concurrent_log_handler
from concurrent_log_handler import ConcurrentRotatingFileHandler
from concurrent_log_handler.__version__ import __version__

log_path, wid, count, max_bytes, backup_count, use_gzip = sys.argv[2:8]
pause = float(sys.argv[8]) if len(sys.argv) > 8 else 0.0  # seconds after each record
handler = ConcurrentRotatingFileHandler(
    log_path, maxBytes=int(max_bytes), backupCount=int(backup_count),
    use_gzip=use_gzip == "1", encoding="utf-8",
)
errors = []
handler.handleError = lambda record: errors.append(repr(sys.exc_info()[1]))
logger = logcheck.framed_logger(handler, "fleet")
print(json.dumps({
    "pid": os.getpid(),
    "version": __version__,
    "module": concurrent_log_handler.__file__,
    "native": importlib.util.find_spec("concurrent_log_handler._clh") is not None,
    "lock": str(handler.lockFilename),
}), flush=True)
for seq in range(int(count)):
    logger.info(logcheck.mixed_record(wid, seq))
    if pause:
        time.sleep(pause)
handler.close()
print(json.dumps({"rollovers": handler.num_rollovers, "errors": errors[:5]}), flush=True)
"""


def _run_fleet(tmp_path: Path, use_gzip: bool) -> None:
    log = tmp_path / "app.log"
    lock = tmp_path / ".__app.lock"
    assert CLH_PYTHON is not None
    sides = {"clh": CLH_PYTHON, "ours": sys.executable}
    workers = [(f"{side}{n}", side) for n in range(2) for side in sides]
    expected = {wid: RECORDS for wid, _ in workers}

    # The gate: hold CLH's lock file. Every worker, CLH or ours, must end up blocked on
    # this very file before anything is written: proof that both sides lock the same
    # `.__app.lock` and write nothing without it.
    with held_lock(lock) as gate:
        procs = {}
        for wid, side in workers:
            procs[wid] = subprocess.Popen(
                [
                    sides[side],
                    "-c",
                    WORKER,
                    str(TESTS_DIR),
                    str(log),
                    wid,
                    str(RECORDS),
                    str(MAX_BYTES),
                    str(BACKUP_COUNT),
                    "1" if use_gzip else "0",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=worker_env(),
            )
        try:
            hello = {}
            for wid, p in procs.items():
                assert p.stdout is not None
                line = p.stdout.readline()
                assert line, f"{wid} died: {p.stderr.read() if p.stderr else ''}"
                hello[wid] = json.loads(line)

            def none_dead() -> bool:
                dead = [wid for wid, p in procs.items() if p.poll() is not None]
                assert not dead, f"workers exited while the gate was closed: {dead}"
                return False

            pids = {h["pid"] for h in hello.values()}
            inode = os.fstat(gate).st_ino
            wait_blocked(inode, pids, timeout=TIMEOUT, abort=none_dead, poll=0.005)
            assert not log.exists(), "a worker wrote without holding the lock"
        except BaseException:
            for p in procs.values():
                p.kill()
            raise

    results = {}
    for wid, p in procs.items():
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs.values():
                q.kill()
            pytest.fail(f"{wid} did not finish within {TIMEOUT}s")
        assert p.returncode == 0, f"{wid} rc={p.returncode}\n{err}"
        results[wid] = json.loads(out.strip().splitlines()[-1])

    # Who is who: the CLH side really is CLH 0.9.31 (pure Python), ours is native.
    for wid, side in workers:
        info = hello[wid]
        if side == "clh":
            assert info["version"] == "0.9.31" and not info["native"], info
        else:
            assert info["native"], info
            assert info["module"].startswith(str(REPO)), info
        assert info["lock"] == str(lock), info
        assert results[wid]["errors"] == [], (wid, results[wid]["errors"])

    report = logcheck.check(log, expected)
    rotations = {
        side: sum(results[w]["rollovers"] for w, s in workers if s == side) for side in sides
    }
    print(
        f"\nmixed fleet (use_gzip={use_gzip}): rotations by CLH 0.9.31 {rotations['clh']}, "
        f"by ours {rotations['ours']}; {report.summary()}"
    )
    assert report.lost == 0, report.summary()
    assert report.duplicated == 0, report.summary()
    assert report.torn == 0 and report.garbage_bytes == 0, report.summary()
    assert report.out_of_order == 0 and report.unexpected == 0, report.summary()
    assert report.bad_gz == [], report.summary()
    assert report.clean, report.summary()

    # Backup names: CLH's scheme only, slots 1..N without gaps, all .gz or none.
    backups = report.backups
    assert sorted(f.slot for f in backups) == list(range(1, len(backups) + 1))
    assert all(f.gz == use_gzip for f in backups), [f.path.name for f in backups]
    assert logcheck.stray_files(log) == []
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["app.log", ".__app.lock"] + [f.path.name for f in backups]
    )
    # Every rotation made exactly one backup, and both sides rotated files the other
    # side had written to.
    assert rotations["clh"] + rotations["ours"] == len(backups)
    assert rotations["clh"] > 0 and rotations["ours"] > 0, rotations
    assert all(len(f.data) >= MAX_BYTES for f in backups), "rotated before maxBytes"


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="reads Linux's /proc/locks")
@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_mixed_fleet_one_log(tmp_path: Path, use_gzip: bool) -> None:
    """2 CLH 0.9.31 processes + 2 processes of ours, 3000 mixed records each (multi-line,
    non-ASCII, some 5-9 KiB), one log rotated at 32 KiB: all block on the same
    `.__app.lock`; afterwards 0 lost, 0 duplicated, 0 torn, per-writer order kept across
    backups, only CLH-style backup names, no stray files, both sides rotated."""
    _run_fleet(tmp_path, use_gzip)


def test_signature_equals_installed_clh() -> None:
    """Our constructor's parameters (names, order, kinds, defaults) equal those of the
    CLH 0.9.31 actually installed in the reference interpreter."""
    code = (
        "import inspect, json\n"
        "from concurrent_log_handler import ConcurrentRotatingFileHandler as H\n"
        "print(json.dumps([[p.name, str(p.kind), repr(p.default)]"
        " for p in inspect.signature(H).parameters.values()]))\n"
    )
    proc = run_python(code, python=CLH_PYTHON, env=worker_env(), timeout=60)
    theirs = json.loads(proc.stdout)
    import inspect

    from concurrent_log_handler import ConcurrentRotatingFileHandler

    ours = [
        [p.name, str(p.kind), repr(p.default)]
        for p in inspect.signature(ConcurrentRotatingFileHandler).parameters.values()
    ]
    # CLH's parameters first and unchanged; after them only keyword-only extensions.
    assert ours[: len(theirs)] == theirs
    assert all(kind == "KEYWORD_ONLY" for _, kind, _ in ours[len(theirs) :])


def test_lock_names_equal_installed_clh(tmp_path: Path) -> None:
    """For a range of log names (with and without lock_file_directory), CLH 0.9.31 and
    ours name the same lock file."""
    names = ["app.log", "app.txt", "app", "app.log.txt", "my.app.log", ".log", "x.LOG"]
    locks = tmp_path / "locks"
    code = (
        "import json, sys\n"
        "from concurrent_log_handler import ConcurrentRotatingFileHandler as H\n"
        "d, locks, names = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
        "out = []\n"
        "for n in names:\n"
        "    for ld in (None, locks):\n"
        "        h = H(d + '/' + n, lock_file_directory=ld)\n"
        "        out.append(str(h.lockFilename)); h.close()\n"
        "print(json.dumps(out))\n"
    )
    args = [str(tmp_path), str(locks), *names]
    proc = run_python(code, *args, python=CLH_PYTHON, env=worker_env(), timeout=60)
    theirs = json.loads(proc.stdout)
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    ours: list[str] = []
    for n in names:
        for ld in (None, str(locks)):
            h = ConcurrentRotatingFileHandler(f"{tmp_path}/{n}", lock_file_directory=ld)
            ours.append(os.fspath(h.lockFilename))
            h.close()
    assert ours == theirs
    assert all(re.search(r"/\.__[^/]*\.lock$", p) for p in ours)


def test_clh_rotating_under_settled_writers_of_ours(tmp_path: Path) -> None:
    """CLH 0.9.31 rotates (and gzips, under its lock) every 150 ms while our processes
    write without pause and never rotate themselves. Between two rotations our
    writers' directory settles, and they stop checking the log path in full (the
    core's `name_watch.rs`): each rotation must still be noticed at the next record,
    or records would go into the renamed file, which CLH then gzips and deletes (lost)
    or leaves behind newer ones (out of order)."""
    log = tmp_path / "app.log"
    assert CLH_PYTHON is not None
    clh_records, ours_records = 16, 6000 * SOAK_SCALE

    def start(python: str, wid: str, count: int, max_bytes: int, pause: float):
        args = [str(TESTS_DIR), str(log), wid, str(count), str(max_bytes), str(BACKUP_COUNT)]
        return subprocess.Popen(
            [python, "-c", WORKER, *args, "1", str(pause)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=worker_env(),
        )

    procs = {
        f"ours{n}": start(sys.executable, f"ours{n}", ours_records, 0, 0.0003) for n in range(2)
    }
    procs["clh0"] = start(CLH_PYTHON, "clh0", clh_records, 4096, 0.15)
    results = {}
    for wid, p in procs.items():
        out, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, f"{wid} rc={p.returncode}\n{err}"
        results[wid] = json.loads(out.strip().splitlines()[-1])
        assert results[wid]["errors"] == [], (wid, results[wid]["errors"])

    expected = {"clh0": clh_records, "ours0": ours_records, "ours1": ours_records}
    report = logcheck.check(log, expected)
    print(
        f"\nCLH rotating under settled writers: {results['clh0']['rollovers']} rotations; {report.summary()}"
    )
    assert report.clean, report.summary()
    assert report.bad_gz == [], report.summary()
    assert results["ours0"]["rollovers"] == results["ours1"]["rollovers"] == 0
    assert results["clh0"]["rollovers"] >= clh_records // 2, results
