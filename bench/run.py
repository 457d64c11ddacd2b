"""Throughput and correctness benchmark: our ConcurrentRotatingFileHandler vs CLH 0.9.31 and stdlib.

Run it with ``make bench``, or directly::

    .venv/bin/python bench/run.py --ours-python .venv/bin/python --clh-python .venv-clh/bin/python
    .venv/bin/python bench/run.py ... --records 20000 --rounds 1      # quick check
    .venv/bin/python bench/run.py ... --handlers clh,ours --no-stall  # subset, without the gzip-stall scenario

Our package and CLH share the import name ``concurrent_log_handler``, so every measurement runs
``bench/worker.py`` in a subprocess of the right interpreter (stdlib handlers and the format-only
floor use ``--ours-python``).  Scenarios:

- ``1p``: one process, no rotation (maxBytes=0), ``--records`` records.
- ``4p``: four processes write one file concurrently, rotating at 1 MiB (backupCount 1000), each
  logging ``--records / 4`` records after a common start; rate = all records / (last finish -
  start).  Afterwards the log and its backups are read back and every record id is counted:
  lost and duplicated records are reported (stdlib RotatingFileHandler is expected to lose some).
- the stall scenario (on by default; ``--no-stall`` skips it): one process, maxBytes=32 MiB, gzip, backupCount=3, ~200-byte
  records until 3 rotations happened; reports the worst and p99.9 latency of a single logging call.

Timing covers the logging loop plus ``handler.close()``, so work a handler defers (a background
writer's backlog) is counted.  The log format is the same for every handler and each message is
~100 bytes.  Every round runs every handler once per scenario, in rotating order, each in a fresh
directory; the table shows the median over rounds (lost/dup: the worst round).  Raw results go to
``bench/out/results.json``.  The exit status is 0 unless a worker crashed or hung: target misses
are reported, not failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(REPO_DIR / "tests" / "python"))
import logcheck  # noqa: E402 - the test suite's record checker (standard library only)

WORKER = BENCH_DIR / "worker.py"
PREFIX = "@@bench "  # keep in sync with worker.PREFIX
LOG_NAME = "app.log"
MIB = 1024 * 1024
BUSY_LOAD = 0.7  # 1-minute load average above which the host is too busy for clean numbers

# One record per line: worker.FORMAT with worker.MESSAGE; the writer is "p<index>".
LINE_RE = re.compile(
    rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ INFO bench rec (?P<wid>p\d+) s(?P<seq>\d+) [a-z ]+"
)


@dataclass(frozen=True)
class HandlerSpec:
    """One handler configuration; add a line to HANDLERS to benchmark another one."""

    name: str
    runtime: str  # "ours" or "clh": which interpreter runs it
    kind: str  # "floor" | "file" | "rotating" | "crfh" (see worker.make_handler)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return self.kind != "floor"


HANDLERS: tuple[HandlerSpec, ...] = (
    HandlerSpec("floor", "ours", "floor"),
    HandlerSpec("stdlib-file", "ours", "file"),
    HandlerSpec("stdlib-rotating", "ours", "rotating"),
    HandlerSpec("clh", "clh", "crfh"),
    HandlerSpec("ours", "ours", "crfh"),
    HandlerSpec("clh-gzip", "clh", "crfh", {"use_gzip": True}),
    HandlerSpec("ours-gzip", "ours", "crfh", {"use_gzip": True}),
    HandlerSpec("ours-bg", "ours", "crfh", {"background": True}),
    # The same two with formatting in Python (handler.native_format = False).
    HandlerSpec("ours-pyfmt", "ours", "crfh", {"native_format": False}),
    HandlerSpec("ours-bg-pyfmt", "ours", "crfh", {"background": True, "native_format": False}),
)
HANDLERS_BY_NAME = {h.name: h for h in HANDLERS}
DEFAULT_STALL_HANDLERS = ("clh-gzip", "ours-gzip")


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    procs: int
    max_bytes: int
    backup_count: int


SCENARIOS = (
    Scenario("1p", "1 process", 1, 0, 1000),
    Scenario("4p", "4 processes", 4, 1 * MIB, 1000),
)
SCENARIOS_BY_KEY = {s.key: s for s in SCENARIOS}
STALL = Scenario("stall", "stall", 1, 32 * MIB, 3)


@dataclass(frozen=True)
class Target:
    label: str
    scenario: str
    numerator: str
    denominator: str
    minimum: float


# Issue 11's targets: formatting natively, ours against the stdlib's FileHandler (no
# lock, no rotation, one system call a record) and the format-only floor.
RATIO_TARGETS = (
    Target("1 process: ours / stdlib-file", "1p", "ours", "stdlib-file", 1.0),
    Target("1 process: ours / clh", "1p", "ours", "clh", 2.5),
    Target("1 process: ours-bg / floor", "1p", "ours-bg", "floor", 1.25),
    Target("4 processes: ours / clh", "4p", "ours", "clh", 4.0),
    Target("4 processes: ours-bg / stdlib-file", "4p", "ours-bg", "stdlib-file", 1.0),
)
#: Sync mode: the worst single emit while rotations gzip 32 MiB files (milliseconds).
STALL_TARGET_MS = 20.0
INFO_RATIOS = (
    ("1 process: ours / ours-pyfmt (native formatting)", "1p", "ours", "ours-pyfmt"),
    ("1 process: ours-bg / ours-bg-pyfmt (native formatting)", "1p", "ours-bg", "ours-bg-pyfmt"),
    ("1 process: ours-gzip / clh-gzip", "1p", "ours-gzip", "clh-gzip"),
    ("4 processes: ours-gzip / clh-gzip", "4p", "ours-gzip", "clh-gzip"),
    ("1 process: ours / floor", "1p", "ours", "floor"),
    ("4 processes: ours-bg / clh", "4p", "ours-bg", "clh"),
)


class WorkerError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# Running workers


class Worker:
    """A worker subprocess; its protocol lines are pumped into a queue by a thread."""

    def __init__(self, cmd: list[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - closed in finish()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                self.lines.put(line[len(PREFIX) :].rstrip("\n"))
        self.lines.put(None)

    def expect(self, word: str, deadline: float) -> str:
        """The payload of the next protocol line, which must start with ``word``."""
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise WorkerError(f"timed out waiting for '{word}'") from None
        if line is None:
            self.proc.wait()
            raise WorkerError(f"exited with status {self.proc.returncode} before '{word}'")
        if not line.startswith(word):
            raise WorkerError(f"expected '{word}', got {line[:200]!r}")
        return line[len(word) :].strip()

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.close()

    def finish(self, deadline: float) -> None:
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
        self._stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr_tail(self, limit: int = 2000) -> str:
        text = self.stderr_path.read_text(errors="replace")
        return text[-limit:]


def worker_cmd(python: str, spec: HandlerSpec, mode: str, **opts: Any) -> list[str]:
    cmd = [python, str(WORKER), "--mode", mode, "--kind", spec.kind]
    cmd += ["--kwargs", json.dumps(spec.kwargs)]
    for key, value in opts.items():
        cmd += ["--" + key.replace("_", "-"), str(value)]
    return cmd


def run_workers(cmds: Sequence[list[str]], rundir: Path, timeout: float) -> list[dict[str, Any]]:
    """Start the workers, release them at one common instant, return their result dicts."""
    deadline = time.monotonic() + timeout
    workers = [Worker(cmd, rundir / f"worker{i}.stderr") for i, cmd in enumerate(cmds)]
    try:
        for w in workers:
            w.expect("ready", deadline)
        start_at = time.time() + 0.05 + 0.02 * len(workers)
        for w in workers:
            w.send(f"{start_at:.6f}\n")
        results = [json.loads(w.expect("result", deadline)) for w in workers]
        for w in workers:
            w.finish(deadline)
    except (WorkerError, OSError, ValueError) as exc:
        details = []
        for i, w in enumerate(workers):
            w.kill()
            w.finish(deadline)
            tail = w.stderr_tail().strip()
            if tail:
                details.append(f"--- worker {i} stderr ---\n{tail}")
        raise WorkerError("\n".join([str(exc), *details])) from exc
    for i, w in enumerate(workers):
        if w.proc.returncode != 0:
            raise WorkerError(f"worker {i} exited with status {w.proc.returncode}")
    return results


def probe(spec: HandlerSpec, python: str | None) -> dict[str, Any]:
    if not python:
        return {"ok": False, "error": f"no interpreter given for runtime '{spec.runtime}'"}
    if not Path(python).exists():
        return {"ok": False, "error": f"interpreter not found: {python}"}
    cmd = worker_cmd(python, spec, "probe")
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "probe timed out"}
    for line in out.stdout.splitlines():
        if line.startswith(PREFIX + "result "):
            result: dict[str, Any] = json.loads(line[len(PREFIX + "result ") :])
            return result
    tail = out.stderr.strip().splitlines()[-1:] or [f"exit status {out.returncode}"]
    return {"ok": False, "error": tail[0]}


# --------------------------------------------------------------------------------------------
# Checking what was written


def verify(rundir: Path, procs: int, per_proc: int, backup_count: int) -> dict[str, Any]:
    """Check the log and its backups against the expected records (logcheck, with one
    record per line): every record id counted, every line whole and well formed."""
    log = rundir / LOG_NAME
    expected = {f"p{i}": per_proc for i in range(procs)}
    report = logcheck.check(log, expected, parse=logcheck.line_parser(LINE_RE))
    max_index = max((f.slot for f in report.files), default=0)
    # Hidden files are lock files and temporaries; *.stderr are our own worker logs.
    stray = [
        name
        for name in logcheck.stray_files(log)
        if not name.startswith(".") and not name.endswith(".stderr")
    ]  # e.g. CLH's orphaned app.log.rotate.* files
    return {
        "expected": procs * per_proc,
        "lost": report.lost,
        "duplicated": report.duplicated,
        "unexpected_ids": report.unexpected,
        "lines": report.intact + report.torn,
        "bad_lines": report.torn,
        "bad_gz": report.bad_gz,
        "bytes": sum(len(f.data) for f in report.files),
        "backups": max_index,
        "backup_limit_hit": max_index >= backup_count,
        "stray_files": stray,
    }


# --------------------------------------------------------------------------------------------
# One measurement


def run_throughput(
    spec: HandlerSpec, scen: Scenario, python: str, args: argparse.Namespace, round_no: int
) -> dict[str, Any]:
    per_proc = args.records // scen.procs
    warmup = args.warmup if args.warmup is not None else min(2000, per_proc // 10)
    rundir = Path(tempfile.mkdtemp(prefix=f"{spec.name}-{scen.key}-r{round_no}-", dir=args.workdir))
    run: dict[str, Any] = {"handler": spec.name, "scenario": scen.key, "round": round_no}
    try:
        cmds = [
            worker_cmd(
                python,
                spec,
                "throughput",
                path=rundir / LOG_NAME,
                max_bytes=scen.max_bytes,
                backup_count=scen.backup_count,
                records=per_proc,
                warmup=warmup,
                index=i,
                msg_bytes=args.msg_bytes,
            )
            for i in range(scen.procs)
        ]
        try:
            results = run_workers(cmds, rundir, args.timeout)
        except WorkerError as exc:
            run["error"] = str(exc)
            return run
        total = sum(r["records"] for r in results)
        if scen.procs == 1:
            elapsed = results[0]["loop_s"] + results[0]["close_s"]
        else:
            elapsed = max(r["wall_end"] for r in results) - results[0]["start_at"]
        run.update(
            records=total,
            elapsed_s=elapsed,
            rate=total / elapsed,
            max_late_s=max(r["late_s"] for r in results),
            workers=results,
        )
        if spec.writes:
            run["verify"] = verify(rundir, scen.procs, warmup + per_proc, scen.backup_count)
        return run
    finally:
        if not args.keep:
            shutil.rmtree(rundir, ignore_errors=True)


def run_stall(
    spec: HandlerSpec, python: str, args: argparse.Namespace, round_no: int
) -> dict[str, Any]:
    rundir = Path(tempfile.mkdtemp(prefix=f"{spec.name}-stall-r{round_no}-", dir=args.workdir))
    run: dict[str, Any] = {"handler": spec.name, "scenario": "stall", "round": round_no}
    try:
        cmd = worker_cmd(
            python,
            spec,
            "stall",
            path=rundir / LOG_NAME,
            max_bytes=STALL.max_bytes,
            backup_count=STALL.backup_count,
            warmup=200,
            rotations=args.stall_rotations,
            msg_bytes=args.stall_msg_bytes,
        )
        try:
            (result,) = run_workers([cmd], rundir, args.timeout)
        except WorkerError as exc:
            run["error"] = str(exc)
            return run
        backup = logcheck.backup_pattern(LOG_NAME)
        backups = [p for p in rundir.iterdir() if backup.fullmatch(p.name)]
        run.update(result)
        run["backups_on_disk"] = len(backups)
        return run
    finally:
        if not args.keep:
            shutil.rmtree(rundir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Reporting


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def summarize(runs: list[dict[str, Any]], specs: Sequence[HandlerSpec]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for spec in specs:
        per: dict[str, Any] = {}
        for scen in SCENARIOS:
            mine = [r for r in runs if r["handler"] == spec.name and r["scenario"] == scen.key]
            ok = [r for r in mine if "error" not in r]
            rates = [r["rate"] for r in ok]
            checked = [r["verify"] for r in ok if "verify" in r]
            per[scen.key] = {
                "by_round": {r["round"]: r["rate"] for r in ok},
                "runs": len(mine),
                "errors": len(mine) - len(ok),
                "median": statistics.median(rates) if rates else None,
                "min": min(rates) if rates else None,
                "max": max(rates) if rates else None,
                "lost_worst": max((v["lost"] for v in checked), default=None),
                "dup_worst": max((v["duplicated"] for v in checked), default=None),
                "bad_lines_worst": max((v["bad_lines"] for v in checked), default=None),
                "expected": checked[0]["expected"] if checked else None,
            }
        summary[spec.name] = per
    return summary


def print_table(
    summary: dict[str, Any], specs: Sequence[HandlerSpec], unavailable: dict[str, str]
) -> None:
    print("| handler | 1 process rec/s | 4 processes rec/s | lost (4p) | dup (4p) |")
    print("|---|---:|---:|---:|---:|")
    for spec in specs:
        if spec.name in unavailable:
            print(f"| {spec.name} | unavailable | unavailable | - | - |")
            continue
        one, four = summary[spec.name]["1p"], summary[spec.name]["4p"]
        cells = []
        for s in (one, four):
            text = fmt_rate(s["median"])
            if s["errors"]:
                text += f" ({s['errors']} failed)"
            cells.append(text)
        lost = dup = "-"
        if four["lost_worst"] is not None:
            lost = f"{four['lost_worst']:,}"
            if four["lost_worst"]:
                lost += f" ({100.0 * four['lost_worst'] / four['expected']:.1f}%)"
            dup = f"{four['dup_worst']:,}"
        print(f"| {spec.name} | {cells[0]} | {cells[1]} | {lost} | {dup} |")


def ratio(summary: dict[str, Any], scen: str, num: str, den: str) -> tuple[float | None, str]:
    """Ratio of the medians, and the range of the per-round ratios as text."""
    a, b = summary.get(num, {}).get(scen, {}), summary.get(den, {}).get(scen, {})
    if a.get("median") is None or not b.get("median"):
        return None, ""
    rounds = [a["by_round"][r] / b["by_round"][r] for r in a["by_round"] if r in b["by_round"]]
    spread = f"(per round {min(rounds):.2f}-{max(rounds):.2f})" if len(rounds) > 1 else ""
    return a["median"] / b["median"], spread


def evaluate_targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in RATIO_TARGETS:
        value, spread = ratio(summary, t.scenario, t.numerator, t.denominator)
        status = "SKIP" if value is None else ("PASS" if value >= t.minimum else "FAIL")
        shown = "n/a" if value is None else f"{value:.2f} {spread}".rstrip()
        out.append(
            {
                "target": f"{t.label} >= {t.minimum:g}",
                "value": value,
                "status": status,
                "shown": shown,
            }
        )
    four = summary.get("ours", {}).get("4p", {})
    lost, dup = four.get("lost_worst"), four.get("dup_worst")
    status = "SKIP" if lost is None else ("PASS" if lost == 0 else "FAIL")
    shown = "n/a" if lost is None else f"{lost:,} lost, {dup:,} duplicated (worst round)"
    out.append(
        {"target": "4 processes: ours lost == 0", "value": lost, "status": status, "shown": shown}
    )
    return out


def print_report(
    summary: dict[str, Any],
    targets: list[dict[str, Any]],
    specs: Sequence[HandlerSpec],
    unavailable: dict[str, str],
    args: argparse.Namespace,
) -> None:
    print()
    print(
        f"Records/s (higher is better), median of {args.rounds} interleaved round(s); "
        f"{args.records:,} records per scenario; 4 processes rotate at 1 MiB; "
        "lost/dup: worst round."
    )
    print()
    print_table(summary, specs, unavailable)
    if args.rounds > 1:
        print()
        print("Spread over rounds (min-max rec/s):")
        for name, per in summary.items():
            parts = [
                f"{key} {per[key]['min']:,.0f}-{per[key]['max']:,.0f}"
                for key in ("1p", "4p")
                if per[key]["min"] is not None
            ]
            if parts:
                print(f"  {name:<16} " + ", ".join(parts))
    print()
    print("Targets (same run; ratio of medians):")
    for t in targets:
        print(f"  {t['status']:<4}  {t['target']:<40} {t['shown']}")
    for label, scen_key, num, den in INFO_RATIOS:
        value, spread = ratio(summary, scen_key, num, den)
        if value is not None:
            print(f"  info  {label:<40} {value:.2f} {spread}".rstrip())
    bad = {n: s["4p"]["bad_lines_worst"] for n, s in summary.items() if s["4p"]["bad_lines_worst"]}
    if bad:
        print(f"  note  malformed lines found (worst round): {bad}")
    for name, why in unavailable.items():
        print(f"  note  {name} unavailable: {why}")


def print_stall(stall_runs: list[dict[str, Any]]) -> None:
    print()
    print(
        f"Stall: one process, maxBytes={STALL.max_bytes // MIB} MiB, use_gzip=True, "
        f"backupCount={STALL.backup_count}; latency of single logger.info calls"
    )
    print()
    print(
        "| handler | records | rotations | max emit (ms) | p99.9 (ms) | p99 (ms) "
        "| emits > 100 ms | rec/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in stall_runs:
        if "error" in r:
            print(f"| {r['handler']} | {r.get('unavailable', 'failed')} | | | | | | |")
            continue
        rot = r["num_rollovers"] if r["num_rollovers"] is not None else r["backups_on_disk"]
        print(
            f"| {r['handler']} | {r['records']:,} | {rot} | {1e3 * r['max_s']:.1f} "
            f"| {1e3 * r['p999_s']:.2f} | {1e3 * r['p99_s']:.3f} | {r['over_100ms']} "
            f"| {fmt_rate(r['records'] / (r['loop_s'] + r['close_s']))} |"
        )
    print()
    for r in stall_runs:
        if "error" not in r and r["handler"].startswith("ours"):
            worst = 1e3 * r["max_s"]
            status = "PASS" if worst < STALL_TARGET_MS else "FAIL"
            print(
                f"  {status}  sync mode, worst single emit while gzipping: "
                f"{r['handler']} {worst:.1f} ms < {STALL_TARGET_MS:g} ms"
            )


# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    default_clh = REPO_DIR / ".venv-clh" / "bin" / "python"
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--ours-python",
        default=sys.executable,
        help="interpreter with our package (also runs stdlib handlers and the floor)",
    )
    p.add_argument(
        "--clh-python",
        default=str(default_clh) if default_clh.exists() else None,
        help="interpreter with CLH 0.9.31 installed",
    )
    p.add_argument(
        "--records",
        type=int,
        default=100_000,
        help="records per scenario (4p: split over the processes); default 100000",
    )
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3; 0 = none)")
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed records per process before the start (default min(2000, n/10))",
    )
    p.add_argument(
        "--msg-bytes",
        type=int,
        default=86,
        help="message padding; the whole message is ~100 bytes by default",
    )
    p.add_argument(
        "--handlers",
        default=",".join(h.name for h in HANDLERS),
        help="comma-separated subset of: " + ", ".join(HANDLERS_BY_NAME),
    )
    p.add_argument(
        "--scenarios",
        default=",".join(s.key for s in SCENARIOS),
        help="comma-separated subset of: " + ", ".join(s.key for s in SCENARIOS),
    )
    p.add_argument(
        "--no-stall", dest="stall", action="store_false", help="skip the gzip stall scenario"
    )
    p.add_argument("--stall-handlers", default=",".join(DEFAULT_STALL_HANDLERS))
    p.add_argument("--stall-rotations", type=int, default=3)
    p.add_argument(
        "--stall-msg-bytes",
        type=int,
        default=143,
        help="message padding for the stall scenario (~200-byte lines)",
    )
    p.add_argument("--workdir", default=None, help="where run directories go (default: $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep run directories")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per run")
    p.add_argument("--out", default=str(BENCH_DIR / "out" / "results.json"))
    args = p.parse_args(argv)
    for option in ("handlers", "stall_handlers"):
        names = [n.strip() for n in getattr(args, option).split(",") if n.strip()]
        unknown = [n for n in names if n not in HANDLERS_BY_NAME]
        if unknown:
            p.error(f"unknown handler(s) {unknown}; known: {list(HANDLERS_BY_NAME)}")
        setattr(args, option, names)
    keys = [k.strip() for k in args.scenarios.split(",") if k.strip()]
    if any(k not in SCENARIOS_BY_KEY for k in keys):
        p.error(f"unknown scenario in {keys}; known: {list(SCENARIOS_BY_KEY)}")
    args.scenarios = keys
    if args.records < 4 or args.rounds < 0:
        p.error("--records must be >= 4 and --rounds >= 0")
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    return args


def load_average() -> float | None:
    """1-minute load average, if the platform has one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    pythons = {"ours": args.ours_python, "clh": args.clh_python}
    specs = [HANDLERS_BY_NAME[n] for n in args.handlers]
    scenarios = [SCENARIOS_BY_KEY[k] for k in args.scenarios]
    stall_specs = [HANDLERS_BY_NAME[n] for n in args.stall_handlers] if args.stall else []

    all_specs = list({s.name: s for s in [*specs, *stall_specs]}.values())
    probes: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    for spec in all_specs:
        probes[spec.name] = probe(spec, pythons[spec.runtime])
        if not probes[spec.name].get("ok"):
            unavailable[spec.name] = probes[spec.name].get("error", "unknown error")
    # Both packages import as concurrent_log_handler: make sure "ours" is not CLH by mistake.
    clh_files = {p["module_file"] for n, p in probes.items() if n.startswith("clh") and p.get("ok")}
    for spec in all_specs:
        mine = probes[spec.name]
        if spec.runtime == "ours" and mine.get("ok") and mine.get("module_file") in clh_files:
            unavailable[spec.name] = "--ours-python imports the same package as --clh-python"
    for spec in all_specs:
        pr = probes[spec.name]
        where = f"{pr.get('python', '?')} {pythons[spec.runtime]}"
        if pr.get("module_file"):
            where += f"; concurrent_log_handler {pr.get('version')} from {pr['module_file']}"
        state = f"UNAVAILABLE ({unavailable[spec.name]})" if spec.name in unavailable else "ok"
        log(f"[probe] {spec.name:<16} {state}: {where}")

    runnable = [s for s in specs if s.name not in unavailable]
    runs: list[dict[str, Any]] = []
    t_begin = time.monotonic()
    load_before = load_average()
    if load_before is not None and load_before > BUSY_LOAD:
        log(f"[warn] load average {load_before:.2f} before the run: other work will add noise")
    for rnd in range(args.rounds):
        shift = rnd % len(runnable) if runnable else 0
        order = runnable[shift:] + runnable[:shift]
        for scen in scenarios:
            for spec in order:
                run = run_throughput(spec, scen, pythons[spec.runtime], args, rnd + 1)
                runs.append(run)
                if "error" in run:
                    log(
                        f"[r{rnd + 1}/{args.rounds}] {scen.key} {spec.name:<16} FAILED: "
                        f"{run['error']}"
                    )
                    continue
                note = ""
                if "verify" in run:
                    v = run["verify"]
                    note = f"lost {v['lost']:,} dup {v['duplicated']:,}"
                    if v["bad_lines"]:
                        note += f" bad-lines {v['bad_lines']:,}"
                    if v["backup_limit_hit"]:
                        note += " (backupCount reached: raise it, records were deleted)"
                if run["max_late_s"] > 0.05:  # a worker missed the barrier: widen the margin
                    note += f" (a worker started {run['max_late_s'] * 1e3:.0f} ms late)"
                log(
                    f"[r{rnd + 1}/{args.rounds}] {scen.key} {spec.name:<16} "
                    f"{fmt_rate(run['rate']):>9} rec/s  {note}"
                )

    stall_runs: list[dict[str, Any]] = []
    for spec in stall_specs:
        if spec.name in unavailable:
            stall_runs.append(
                {
                    "handler": spec.name,
                    "scenario": "stall",
                    "error": "unavailable",
                    "unavailable": "unavailable",
                }
            )
            continue
        log(f"[stall] {spec.name} ...")
        run = run_stall(spec, pythons[spec.runtime], args, 1)
        if "error" in run:
            log(f"[stall] {spec.name} FAILED: {run['error']}")
        stall_runs.append(run)

    summary = summarize(runs, specs)
    targets = evaluate_targets(summary)
    load_after = load_average()
    log(f"[done] {time.monotonic() - t_begin:.0f} s")

    if runs:
        print_report(summary, targets, specs, unavailable, args)
    if stall_specs:
        print_stall(stall_runs)
    busy = [x for x in (load_before, load_after) if x is not None and x > BUSY_LOAD]
    if busy:
        print()
        print(
            f"Note: the host was busy (1-min load average {load_before:.2f} before, "
            f"{load_after:.2f} after, on {os.cpu_count()} CPUs): these numbers are noisy."
        )

    crashed = [r for r in runs + stall_runs if "error" in r and "unavailable" not in r]
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_after,
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "handlers": [asdict(s) for s in specs],
        "scenarios": [asdict(s) for s in SCENARIOS],
        "probes": probes,
        "unavailable": unavailable,
        "summary": summary,
        "targets": targets,
        "runs": runs,
        "stall": stall_runs,
    }
    out_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(f"Raw results: {out_path}")
    if crashed:
        print(f"{len(crashed)} run(s) crashed or hung; see the log above and {out_path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
