"""Drop-in fidelity with concurrent-log-handler (CLH) 0.9.31, checked against CLH itself.

Every check is a small script that prints one JSON result. It runs twice, in a fresh
directory each time: in this interpreter (this package) and in CLH 0.9.31's interpreter
(env CLH_REFERENCE_PYTHON, else the repo's .venv-clh). The two results must be equal;
where this package deliberately differs, the test asserts both results and its docstring
says why. Nothing is assumed to be "as CLH": CLH's side is always run.

What is checked (issue "CLH 0.9.31 drop-in fidelity"):
1. the helpers ``baseLockFilename`` (static) and ``getLockFilename`` (instance method);
2. ``maxBytes``, ``backupCount`` and ``use_gzip`` assigned after construction;
3. a custom ``rotator``;
4. a custom ``namer``.

Backup names of the timed handler carry the period's start; results compare them with
the stamp replaced by ``<T>``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import CLH_PYTHON

TIMEOUT = 60  # guard only: a hung script fails instead of blocking the run


NO_CLH = (
    "CLH 0.9.31 reference interpreter not found: set CLH_REFERENCE_PYTHON or run "
    "`make clh-venv` (creates .venv-clh); without it, 'same as CLH' cannot be checked"
)

# Shared by every script. IMPL says which package was imported (the native extension is
# ours only); `files()` describes a directory: each name (stamp normalized) with the
# first and last record number in it and how many records it holds (gzip read through).
PRELUDE = r'''
import gzip, importlib.util, inspect, json, logging, os, re, sys, time
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)
from concurrent_log_handler.__version__ import __version__

IMPL = "ours" if importlib.util.find_spec("concurrent_log_handler._clh") else "clh"
CLASSES = {"size": ConcurrentRotatingFileHandler, "timed": ConcurrentTimedRotatingFileHandler}
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}(_\d{2}(-\d{2}){0,2})?")

# An hourly period must not end while a script runs: its backups would get two stamps.
while time.localtime().tm_min == 59 and time.localtime().tm_sec >= 50:
    time.sleep(0.5)


def norm(text):
    return STAMP.sub("<T>", text)


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read()


def files(d="."):
    out = {}
    for name in sorted(os.listdir(d)):
        if name.startswith(".__"):
            out[norm(name)] = "lock"
            continue
        seqs = [int(s) for s in re.findall(r"^r(\d+) ", read(os.path.join(d, name)), re.M)]
        out[norm(name)] = [seqs[0], seqs[-1], len(seqs)] if seqs else []
    return out


SEQ = [0]


def burst(h, n):
    """n records of 47 bytes each ("r0001 " + 40 x + newline), then flush (ours may
    compress on a thread: flush waits for it; for CLH it only flushes the stream)."""
    h.setFormatter(logging.Formatter("%(message)s"))
    lg = logging.getLogger("fidelity")
    lg.propagate = False
    lg.setLevel(logging.INFO)
    lg.handlers[:] = [h]
    for _ in range(n):
        lg.info("r%04d %s", SEQ[0], "x" * 40)
        SEQ[0] += 1
    h.flush()


def kind(cls, name):
    attr = inspect.getattr_static(cls, name, None)
    return None if attr is None else type(attr).__name__


def owner(h, name):
    """Who provides the helper `name`: the handler itself, else (CLH's timed handler)
    the size handler it wraps, h.clh."""
    if hasattr(type(h), name):
        return h, "handler"
    if hasattr(h, "clh"):
        return h.clh, "clh"
    return None, "missing"


def done(result):
    print(json.dumps({"impl": IMPL, "version": __version__, "result": result}))
'''


def _env() -> dict[str, str]:
    """No PYTHONPATH: each interpreter imports its own concurrent_log_handler."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(python: str, body: str, cwd: Path) -> dict[str, Any]:
    cwd.mkdir()
    proc = subprocess.run(
        [python, "-c", PRELUDE + textwrap.dedent(body)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, f"script failed in {python}:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_both(tmp_path: Path, body: str) -> tuple[Any, Any]:
    """The script's result in ours, then in CLH 0.9.31 (skipped if CLH is missing)."""
    ours = _run(sys.executable, body, tmp_path / "ours")
    assert ours["impl"] == "ours", f"{sys.executable} did not import this package"
    if CLH_PYTHON is None:
        pytest.skip(NO_CLH)
    clh = _run(CLH_PYTHON, body, tmp_path / "clh")
    assert clh["impl"] == "clh", f"{CLH_PYTHON} did not import CLH"
    assert clh["version"] == "0.9.31", f"reference is CLH {clh['version']}, not 0.9.31"
    return ours["result"], clh["result"]


def backups(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without the live log and the lock file."""
    return {k: v for k, v in snapshot.items() if v != "lock" and k != "app.log"}


# -- 1. baseLockFilename, getLockFilename ---------------------------------------------

BASE_LOCK_FILENAME = r"""
INPUTS = [
    "app.log", "app", "app.txt", "app.LOG", "app.log.log", "app.log.1", "my.app.log",
    "my.app", "a.b.c", ".log", "x/.hidden.log", "logs/app.log", "logs/app", "dir.d/app",
    "/var/log/app.log", "/var/log.d/my.app.log", "/app.log", "app.log/", "",
]


def call(fn, arg):
    try:
        r = fn(arg)
    except Exception as e:
        return type(e).__name__
    return {"type": type(r).__name__, "value": list(r)}


out = {}
for cname, cls in CLASSES.items():
    h = cls("app.log")
    target, via = owner(h, "baseLockFilename")
    res = {"kind": kind(cls, "baseLockFilename"), "via": via}
    if target is not None:
        res["on class"] = {i: call(type(target).baseLockFilename, i) for i in INPUTS}
        res["on instance"] = {i: call(target.baseLockFilename, i) for i in INPUTS}
    h.close()
    out[cname] = res
done(out)
"""


def test_base_lock_filename(tmp_path: Path) -> None:
    """``baseLockFilename(baseFilename)`` is CLH's static method: it drops a trailing
    ``.log`` (only that extension, case-sensitive, once), appends ``.lock``, splits the
    path and hides the name: it returns the tuple ``(dir, ".__" + name)``, e.g.
    ``"/var/log/app.log"`` -> ``("/var/log", ".__app.lock")``, ``"app"`` ->
    ``("", ".__app.lock")``, ``"my.app.log"`` -> ``("", ".__my.app.lock")``,
    ``"app.txt"`` -> ``("", ".__app.txt.lock")``. Same results here, called on the class
    and on an instance.

    Deliberate difference, asked for by the issue (a superset, harmless to CLH code): CLH
    0.9.31's ConcurrentTimedRotatingFileHandler has no ``baseLockFilename`` (it is a
    stdlib TimedRotatingFileHandler wrapping a size handler, ``h.clh``, which has it);
    ours has it on both classes, with the results of CLH's ``h.clh``."""
    ours, clh = run_both(tmp_path, BASE_LOCK_FILENAME)
    assert clh["size"]["kind"] == "staticmethod"
    assert clh["size"]["on class"]["/var/log/app.log"] == {
        "type": "tuple",
        "value": ["/var/log", ".__app.lock"],
    }
    # CLH 0.9.31: only the wrapped size handler of the timed handler has the helper.
    assert (clh["timed"]["kind"], clh["timed"]["via"]) == (None, "clh")
    assert ours["size"] == clh["size"]
    assert ours["timed"] == {**clh["timed"], "kind": "staticmethod", "via": "handler"}


GET_LOCK_FILENAME = r"""
os.mkdir("logs")
open("afile", "w").close()
cwd = os.getcwd()


def show(p):
    # The two runs use different directories: show absolute paths relative to cwd.
    if not isinstance(p, str):
        return repr(p)
    return ["abs", os.path.relpath(p)] if os.path.isabs(p) else ["rel", p]


out = {"lock_file_directory": {}}
for cname, cls in CLASSES.items():
    for k, fname in enumerate(("logs/app.log", "logs/my.app", "logs/a.b.log")):
        tag = f"{cname}{k}"
        h = cls(fname)
        target, via = owner(h, "getLockFilename")
        res = {"kind": kind(cls, "getLockFilename"), "via": via}
        if target is not None:
            before = target.lockFilename
            args = {
                "None": None,
                "empty": "",
                "new relative": f"new-{tag}",
                "new nested": f"nested-{tag}/deep/er",
                "new absolute": os.path.join(cwd, f"abs-{tag}"),
                "existing dir": "logs",
                "existing file": "afile",
            }
            for label, arg in args.items():
                existed = os.path.exists(arg) if arg else None
                try:
                    r = show(target.getLockFilename(arg))
                except Exception as e:
                    r = type(e).__name__
                res[label] = {
                    "returns": r,
                    "existed": existed,
                    "is dir": bool(arg) and os.path.isdir(arg),
                    "contents if new": sorted(os.listdir(arg)) if arg and not existed else None,
                }
            res["lockFilename before, after"] = [show(before), show(target.lockFilename)]
        h.close()
        out[f"{cname} {fname}"] = res
    for label, ldir in (("relative", f"ldir-{cname}/x"), ("absolute", f"{cwd}/ldir2-{cname}")):
        h = cls("app.log", lock_file_directory=ldir)
        # CLH 0.9.31's timed handler has no lockFilename: its wrapped h.clh has.
        target = h if hasattr(h, "lockFilename") else h.clh
        out["lock_file_directory"][f"{cname} {label}"] = show(target.lockFilename)
        h.close()
done(out)
"""


def test_get_lock_filename(tmp_path: Path) -> None:
    """``getLockFilename(lock_file_directory)`` is CLH's instance method: with None or
    "" it returns ``os.path.join(dir of baseFilename, ".__<name>.lock")`` (absolute, as
    baseFilename is); with a directory it creates it if missing (``os.makedirs``, nested
    too; no lock file is created in it) and returns ``os.path.join(directory, lock
    name)``, relative if the directory was given relative. An existing regular file as
    the directory is not an error (only existence is checked). It does not change
    ``lockFilename``. ``lockFilename`` from the constructor's ``lock_file_directory`` is
    the same value (relative stays relative; for CLH's timed handler, ``h.clh``'s).

    Deliberate difference, as for baseLockFilename: CLH 0.9.31's timed handler has no
    ``getLockFilename`` (nor ``lockFilename``), only its wrapped ``h.clh`` has; ours has
    them on both classes, with the results of CLH's ``h.clh``."""
    ours, clh = run_both(tmp_path, GET_LOCK_FILENAME)
    size = [k for k in clh if k.startswith("size ")]
    timed = [k for k in clh if k.startswith("timed ")]
    first = clh["size logs/app.log"]
    assert first["kind"] == "function"
    assert first["None"]["returns"] == ["abs", "logs/.__app.lock"]
    assert first["new nested"] == {
        "returns": ["rel", "nested-size0/deep/er/.__app.lock"],
        "existed": False,
        "is dir": True,
        "contents if new": [],
    }
    # CLH 0.9.31: only the wrapped size handler of the timed handler has the helper.
    assert all(clh[k]["via"] == "clh" for k in timed)
    assert all(clh[k]["kind"] is None for k in timed)
    assert clh["lock_file_directory"]["size relative"] == ["rel", "ldir-size/x/.__app.lock"]
    assert ours["lock_file_directory"] == clh["lock_file_directory"]
    assert {k: ours[k] for k in size} == {k: clh[k] for k in size}
    expected = {k: {**clh[k], "kind": "function", "via": "handler"} for k in timed}
    assert {k: ours[k] for k in timed} == expected


# -- 2. maxBytes, backupCount, use_gzip assigned after construction -------------------

SIZE_LIMITS_CHANGED = r"""
h = ConcurrentRotatingFileHandler("app.log", maxBytes=0, backupCount=5)
snaps = []


def snap(label):
    snaps.append([label, files(), h.num_rollovers])


burst(h, 10)
snap("maxBytes=0")
h.maxBytes = 200
burst(h, 8)
snap("then maxBytes=200")
h.backupCount = 2
burst(h, 15)
snap("then backupCount=2")
h.use_gzip = True
burst(h, 10)
snap("then use_gzip=True")
h.close()
done(snaps)
"""


def test_size_limits_assigned_after_construction(tmp_path: Path) -> None:
    """CLH (like the stdlib) reads ``maxBytes``, ``backupCount`` and ``use_gzip`` at
    every write, so assigning them takes effect at the next record: with maxBytes=0
    nothing rotates; after ``h.maxBytes = 200`` files of 5 records rotate (2 backups);
    after ``h.backupCount = 2`` three more rotations still leave only ``.1`` and ``.2``;
    after ``h.use_gzip = True`` new backups are ``.gz`` (the old ``.1`` is shifted to
    ``.2`` uncompressed, then replaced by the next ``.gz``)."""
    ours, clh = run_both(tmp_path, SIZE_LIMITS_CHANGED)
    names = [sorted(backups(s)) for _, s, _ in clh]
    assert names == [
        [],
        ["app.log.1", "app.log.2"],
        ["app.log.1", "app.log.2"],
        ["app.log.1.gz", "app.log.2.gz"],
    ]
    assert [n for _, _, n in clh] == [0, 2, 5, 7]
    assert ours == clh


LOWER_BACKUP_COUNT = r"""
h = ConcurrentRotatingFileHandler("app.log", maxBytes=200, backupCount=5)
burst(h, 30)
before = files()
h.backupCount = 2
burst(h, 10)
after = files()
h.close()
done([before, after])
"""


def test_lower_backup_count_leaves_higher_backups(tmp_path: Path) -> None:
    """Lowering ``backupCount`` from 5 to 2 with 5 backups on disk: the next rotations
    shift only ``.1`` -> ``.2`` (the old ``.2`` is replaced); ``.3`` to ``.5`` are left as
    they were, never deleted, as CLH 0.9.31 (and the stdlib) do."""
    ours, clh = run_both(tmp_path, LOWER_BACKUP_COUNT)
    before, after = clh
    assert sorted(backups(after)) == [f"app.log.{k}" for k in range(1, 6)]
    assert {k: after[k] for k in ("app.log.3", "app.log.4", "app.log.5")} == {
        k: before[k] for k in ("app.log.3", "app.log.4", "app.log.5")
    }
    assert ours == clh


TIMED_MAX_BYTES_CHANGED = r"""
out = {}
for how in ("h.maxBytes", "h.maxBytes and h.clh.maxBytes"):
    d = "d" + str(len(out))
    os.mkdir(d)
    SEQ[0] = 0
    h = ConcurrentTimedRotatingFileHandler(f"{d}/app.log", when="h", backupCount=5)
    burst(h, 10)
    h.maxBytes = 200
    if how != "h.maxBytes" and hasattr(h, "clh"):
        h.clh.maxBytes = 200  # where CLH 0.9.31's timed handler reads the limit
    burst(h, 10)
    out[how] = {"files": files(d), "rollovers": h.num_rollovers}
    h.close()
done(out)
"""


def test_timed_max_bytes_assigned_after_construction(tmp_path: Path) -> None:
    """Deliberate difference, asked for by the issue: ``h.maxBytes = 200`` on the timed
    handler starts size rotation here. In CLH 0.9.31 it does nothing: the timed handler
    checks the size through its wrapped size handler, so only ``h.clh.maxBytes`` counts
    (``h.maxBytes`` is an attribute no code reads). Ours, given ``h.maxBytes``, must
    rotate exactly as CLH does when given ``h.clh.maxBytes`` too."""
    ours, clh = run_both(tmp_path, TIMED_MAX_BYTES_CHANGED)
    ignored, honoured = clh["h.maxBytes"], clh["h.maxBytes and h.clh.maxBytes"]
    assert ignored == {"files": {".__app.lock": "lock", "app.log": [0, 19, 20]}, "rollovers": 0}
    assert sorted(backups(honoured["files"])) == ["app.log.<T>", "app.log.<T>.1"]
    assert ours == {"h.maxBytes": honoured, "h.maxBytes and h.clh.maxBytes": honoured}


TIMED_BACKUP_COUNT_CHANGED = r"""
h = ConcurrentTimedRotatingFileHandler("app.log", when="h", maxBytes=200, backupCount=5)
burst(h, 15)
before = files()
h.backupCount = 2
burst(h, 5)
after = files()
h.close()
done([before, after, h.num_rollovers])
"""


def test_timed_backup_count_assigned_after_construction(tmp_path: Path) -> None:
    """CLH 0.9.31's timed handler reads ``backupCount`` at each rotation: 2 backups kept
    with backupCount=5, then ``h.backupCount = 2`` and one more rotation deletes the
    oldest (``app.log.<T>``), leaving ``.1`` and ``.2``. (One rotation only: CLH's
    next one reuses the freed name, see test_timed_retention_within_a_period.)"""
    ours, clh = run_both(tmp_path, TIMED_BACKUP_COUNT_CHANGED)
    before, after, _ = clh
    assert sorted(backups(before)) == ["app.log.<T>", "app.log.<T>.1"]
    assert backups(after) == {"app.log.<T>.1": [5, 9, 5], "app.log.<T>.2": [10, 14, 5]}
    assert ours == clh


TIMED_RETENTION = r"""
h = ConcurrentTimedRotatingFileHandler("app.log", when="h", maxBytes=200, backupCount=2)
snaps = []
for _ in range(6):
    burst(h, 5)
    snaps.append(files())
h.close()
done(snaps)
"""


def test_timed_retention_within_a_period(tmp_path: Path) -> None:
    """Deliberate difference (CLH bug; see CLH issue #70, "Deletes wrong files"): size
    rotations inside one period with backupCount=2. Once CLH 0.9.31 deletes
    ``app.log.<T>``, the next rotation reuses that free name for the newest backup,
    which then sorts oldest and is deleted at once: records 15-24 are lost, and the
    backups stay the old ``.1`` and ``.2``. Ours never reuses a name in a period and
    keeps the 2 newest backups. The first 3 rotations agree (the third deletes the
    oldest, rightly)."""
    ours, clh = run_both(tmp_path, TIMED_RETENTION)
    assert backups(clh[-1]) == {"app.log.<T>.1": [5, 9, 5], "app.log.<T>.2": [10, 14, 5]}
    assert ours[:4] == clh[:4]
    assert sorted(backups(ours[-1]).values()) == [[15, 19, 5], [20, 24, 5]]
    assert all(name.startswith("app.log.<T>") for name in backups(ours[-1]))
    assert ours[-1]["app.log"] == clh[-1]["app.log"] == [25, 29, 5]


# -- 3. rotator -------------------------------------------------------------------------

ROTATOR = r"""
calls = []


def rotator(source, dest):
    calls.append({
        "source": norm(os.path.relpath(source)),
        "dest": norm(os.path.relpath(dest)),
        "absolute": [os.path.isabs(source), os.path.isabs(dest)],
        "exist": [os.path.exists(source), os.path.exists(dest)],
    })
    os.rename(source, dest)


CLASS, TRIGGER, GZIP = PARAMS
if TRIGGER == "time":
    time.sleep(1.01 - time.time() % 1)  # start just after a second boundary
    h = ConcurrentTimedRotatingFileHandler("app.log", when="S", backupCount=3)
elif CLASS == "timed":
    h = ConcurrentTimedRotatingFileHandler(
        "app.log", when="h", maxBytes=200, backupCount=3, use_gzip=GZIP
    )
else:
    h = ConcurrentRotatingFileHandler("app.log", maxBytes=200, backupCount=3, use_gzip=GZIP)
h.rotator = rotator
if TRIGGER == "time":
    burst(h, 3)
    time.sleep(1.2)  # the next record starts a new one-second period
    burst(h, 3)
else:
    burst(h, 15)
h.close()
done({"calls": calls, "files": files(), "rollovers": h.num_rollovers})
"""


@pytest.mark.parametrize("use_gzip", [False, True])
def test_rotator_size_handler_is_not_called(tmp_path: Path, use_gzip: bool) -> None:
    """CLH 0.9.31's size handler never calls ``self.rotator``: its doRollover renames
    with ``os.rename`` itself (only ``rotation_filename``, the namer, is used). So a
    custom rotator is ignored, and rotation happens as without it; same here."""
    body = f"PARAMS = ('size', 'size', {use_gzip})\n" + ROTATOR
    ours, clh = run_both(tmp_path, body)
    assert clh["calls"] == []
    assert clh["rollovers"] == 2
    assert ours == clh


@pytest.mark.parametrize("trigger, use_gzip", [("size", False), ("size", True), ("time", False)])
def test_rotator_timed_handler(tmp_path: Path, trigger: str, use_gzip: bool) -> None:
    """CLH 0.9.31's timed handler calls ``self.rotate(self.baseFilename, dfn)``
    (BaseRotatingHandler.rotate), which calls a custom rotator as ``rotator(source,
    dest)``: source is the absolute ``baseFilename``, dest the absolute backup name
    (``app.log.<T>``, then ``app.log.<T>.1`` for a second rotation in the period; per
    CLH's source, after the namer; without ``.gz``: CLH compresses dest after the rotator returned).
    The dest does not exist yet. Called for size and for time rotations alike.

    Deliberate difference: ours never calls a rotator, in either handler. The rotation
    runs under the cross-process lock, and Python code there (a rotator may log) could
    deadlock every process sharing the log; names come from the namer (asked outside
    the lock) and compression from ``use_gzip``. Checked here: CLH calls it as said;
    ours does not, and rotates and names the backups as CLH does without a rotator."""
    body = f"PARAMS = ('timed', '{trigger}', {use_gzip})\n" + ROTATOR
    ours, clh = run_both(tmp_path, body)
    expected_calls = ["app.log.<T>"] if trigger == "time" else ["app.log.<T>", "app.log.<T>.1"]
    assert [c["dest"] for c in clh["calls"]] == expected_calls
    assert all(c["source"] == "app.log" for c in clh["calls"])
    assert all(c["absolute"] == [True, True] for c in clh["calls"])
    assert all(c["exist"] == [True, False] for c in clh["calls"])
    assert ours["calls"] == []
    assert {k: v for k, v in ours.items() if k != "calls"} == {
        k: v for k, v in clh.items() if k != "calls"
    }


# -- 4. namer ---------------------------------------------------------------------------

NAMER = r"""
def bak(name):
    return name + ".bak"


def moved(name):
    # The logging cookbook's style: the counter moves before the extension,
    # app.log.1 -> app.1.log.
    root, counter = name.rsplit(".", 1)
    stem, ext = os.path.splitext(root)
    return f"{stem}.{counter}{ext}"


CLASS, NAMER_NAME, GZIP = PARAMS
if CLASS == "timed":
    h = ConcurrentTimedRotatingFileHandler(
        "app.log", when="h", maxBytes=200, backupCount=3, use_gzip=GZIP
    )
else:
    h = ConcurrentRotatingFileHandler("app.log", maxBytes=200, backupCount=3, use_gzip=GZIP)
h.namer = {"bak": bak, "moved": moved}[NAMER_NAME]
snaps = {}
for k in range(1, 7):
    burst(h, 5)  # every burst after the first rotates once
    if k in (4, 6):
        snaps[f"after {k - 1} rotations"] = files()
h.close()
done(snaps)
"""

NAMER_CASES = [(n, gz) for n in ("bak", "moved") for gz in (False, True)]


@pytest.mark.parametrize("namer, use_gzip", NAMER_CASES)
def test_namer_size_handler(tmp_path: Path, namer: str, use_gzip: bool) -> None:
    """CLH 0.9.31's size handler names every backup ``rotation_filename(app.log.N)``
    (``.gz`` appended after the namer's name): ``app.log.N.bak[.gz]``, or with the
    counter moved ``app.N.log[.gz]``; backupCount=3 keeps 3 of them. Same names and the
    same records in each, after 3 and after 5 rotations."""
    body = f"PARAMS = ('size', '{namer}', {use_gzip})\n" + NAMER
    ours, clh = run_both(tmp_path, body)
    gz = ".gz" if use_gzip else ""
    name = "app.log.{k}.bak" if namer == "bak" else "app.{k}.log"
    assert sorted(backups(clh["after 5 rotations"])) == [name.format(k=k) + gz for k in (1, 2, 3)]
    assert ours == clh


class DiffersFromCLH(AssertionError):
    """Raised only by the final "ours == CLH" comparison of an xfail test, so that the
    xfail covers that difference and nothing else (a crash, or CLH not doing what the
    test says it does, still fails)."""


def assert_same_as_clh(ours: Any, clh: Any) -> None:
    if ours != clh:
        raise DiffersFromCLH(
            "ours:\n"
            + json.dumps(ours, indent=1, sort_keys=True)
            + "\nCLH 0.9.31:\n"
            + json.dumps(clh, indent=1, sort_keys=True)
        )


_TIMED_NAMER_BAK = (
    "CLH 0.9.31 names a second rotation in a period namer(app.log.<T>) + '.1' "
    "(app.log.<T>.bak.1, .bak.2; with gzip .bak.1.gz), ours namer(app.log.<T>.1) "
    "(app.log.<T>.1.bak); and CLH's retention takes the counter only right after the "
    "stamp, so it sorts these names as text and reuses freed names: after 5 rotations "
    "with backupCount=3 it has deleted the newest backup (records 20-24 lost; with gzip "
    "it deletes .bak.1.gz and keeps the oldest, .bak.gz, as '.bak.gz' sorts after "
    "'.bak.1.gz'), ours keeps the 3 newest"
)
_TIMED_NAMER_MOVED = (
    "CLH 0.9.31 names a second rotation in a period namer(app.log.<T>) + '.1' "
    "(app.<T>.log.1), ours namer(app.log.<T>.1), which this namer turns into "
    "app.log.1.<T>; and CLH's retention only considers names starting with 'app.log.', "
    "so it never deletes app.<T>.log*: after 5 rotations with backupCount=3 CLH keeps "
    "all 5 backups, ours the 3 newest"
)


def _clh_timed_namer_result(namer: str, use_gzip: bool) -> dict[str, dict[str, Any]]:
    """CLH 0.9.31's backups (name: [first, last, count]) after 3 and 5 rotations of 5
    records each, backupCount=3 (see the xfail reasons)."""
    gz = ".gz" if use_gzip else ""
    blocks = [[0, 4, 5], [5, 9, 5], [10, 14, 5], [15, 19, 5], [20, 24, 5]]
    if namer == "moved":
        names = ["app.<T>.log"] + [f"app.<T>.log.{k}" for k in (1, 2, 3, 4)]
        after5 = dict(zip(names, blocks))
    elif use_gzip:
        names = ["app.log.<T>.bak"] + [f"app.log.<T>.bak.{k}" for k in (1, 2, 3)]
        after5 = {names[0]: blocks[0], names[2]: blocks[2], names[3]: blocks[3]}
    else:
        names = ["app.log.<T>.bak"] + [f"app.log.<T>.bak.{k}" for k in (1, 2, 3)]
        after5 = {names[1]: blocks[1], names[2]: blocks[2], names[3]: blocks[3]}
    after3 = dict(zip(names[:3], blocks[:3]))
    return {
        "after 3 rotations": {k + gz: v for k, v in after3.items()},
        "after 5 rotations": {k + gz: v for k, v in after5.items()},
    }


@pytest.mark.parametrize(
    "namer, use_gzip",
    [
        pytest.param(
            n,
            gz,
            marks=pytest.mark.xfail(
                raises=DiffersFromCLH,
                strict=True,
                reason=_TIMED_NAMER_BAK if n == "bak" else _TIMED_NAMER_MOVED,
            ),
        )
        for n, gz in NAMER_CASES
    ],
)
def test_namer_timed_handler(tmp_path: Path, namer: str, use_gzip: bool) -> None:
    """The timed handler with a namer, size rotations inside one hourly period,
    backupCount=3: the same names and records as CLH 0.9.31 after 3 and after 5
    rotations. CLH's own results are asserted first (they are what the xfail reasons
    describe); ours is known to differ (xfail, strict, only for that comparison): CLH
    appends the period's counter after the namer's name, and its retention then deletes
    the wrong backups (bak) or none (moved)."""
    body = f"PARAMS = ('timed', '{namer}', {use_gzip})\n" + NAMER
    ours, clh = run_both(tmp_path, body)
    assert {k: backups(v) for k, v in clh.items()} == _clh_timed_namer_result(namer, use_gzip)
    assert all(v["app.log"] == [25, 29, 5] for k, v in clh.items() if k.startswith("after 5"))
    assert_same_as_clh(ours, clh)
