"""Several processes log into ONE rotating, gzip-compressing log file at the same time;
then every file is read back to prove that each record arrived exactly once and whole.

    make demo                                 # 4 processes x 25,000 records, temp dir
    .venv/bin/python examples/demo.py --dir /tmp/mylogs --processes 8 --records 10000

Each process uses nothing but the standard logging API:

    handler = ConcurrentRotatingFileHandler("app.log", maxBytes=256 * 1024,
                                            backupCount=..., use_gzip=True)
    logger.addHandler(handler)
    logger.info(...)

Every record carries a header and an end marker, <<w2:123:75:fd3e31ed>>...<<w2:123:end>>,
holding its writer, its number, its length in bytes and its CRC-32, so a record that was
lost, written twice, cut short, mixed with another one or out of order is detected (the
check is tests/python/logcheck.py's, the one the test suite uses). Some records span
several lines or hold non-ASCII text. Exit status 0 only if everything checks out.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import logcheck  # noqa: E402 - the record format and checker of the test suite

LOG_NAME = "app.log"


# -- the records ----------------------------------------------------------------------


def payload(worker: int, seq: int) -> str:
    """A log message; every 10th is non-ASCII, every 50th spans several lines."""
    text = f"worker {worker} record {seq}: order {seq * 7919 % 100_000} status=ok"
    if seq % 10 == 3:
        text += " client=Zoë café 日本語 🚀"
    if seq % 50 == 7:
        text += "\nTraceback (most recent call last):\n  File 'shop.py', line 42\nValueError: demo"
    return text


def record(worker: int, seq: int) -> str:
    """The message as logged: header, payload, end marker."""
    return logcheck.format_record(f"w{worker}", seq, payload(worker, seq))


# -- one worker process -----------------------------------------------------------------


def worker_main(args: argparse.Namespace) -> None:
    """Log this worker's records through a ConcurrentRotatingFileHandler."""
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    handler = ConcurrentRotatingFileHandler(
        args.log,
        maxBytes=args.max_bytes,
        backupCount=args.backups,
        use_gzip=True,
        encoding="utf-8",
    )
    logger = logcheck.framed_logger(handler, "demo")

    print("ready", flush=True)
    sys.stdin.readline()  # wait for the parent's "go", so that all workers start together
    for seq in range(args.records):
        logger.info(record(args.worker, seq))
    handler.close()
    print(json.dumps({"rollovers": handler.num_rollovers}), flush=True)


# -- the parent: start, wait, check -------------------------------------------------------


def run_workers(args: argparse.Namespace, log: Path, backups: int) -> tuple[int, float]:
    """Start the workers, release them together, wait. Returns (rotations, seconds)."""
    procs = []
    for w in range(args.processes):
        cmd = [sys.executable, __file__, "--worker", str(w), "--log", str(log)]
        cmd += ["--records", str(args.records), "--max-bytes", str(args.max_bytes)]
        cmd += ["--backups", str(backups)]
        procs.append(
            subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        if p.stdout.readline() != "ready\n":  # type: ignore[union-attr]
            for other in procs:
                other.kill()
                other.wait()
            sys.exit(f"a worker failed to start:\n{p.stderr.read()}")  # type: ignore[union-attr]
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    outputs = [p.communicate() for p in procs]
    elapsed = time.perf_counter() - start

    rotations = 0
    for p, (out, err) in zip(procs, outputs):
        if p.returncode != 0 or err:  # logging reports a failed write on stderr
            sys.exit(f"a worker failed (exit status {p.returncode}):\n{err}")
        rotations += json.loads(out)["rollovers"]
    return rotations, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="directory for the logs (default: a new temp dir)")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--records", type=int, default=25_000, help="records per process")
    parser.add_argument("--max-bytes", type=int, default=256 * 1024, help="rotation size")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir afterwards")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--backups", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker_main(args)
        return 0
    if min(args.processes, args.records, args.max_bytes) < 1:
        parser.error("--processes, --records and --max-bytes must be at least 1")

    if args.dir:
        log_dir = Path(args.dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        if any(log_dir.iterdir()):
            sys.exit(f"{log_dir} is not empty: the demo counts every record, it needs a fresh dir")
    else:
        log_dir = Path(tempfile.mkdtemp(prefix="clh-demo-"))
    log = log_dir / LOG_NAME
    n = args.processes * args.records
    # Enough backups to keep every record, so that all of them can be counted (each
    # backup holds at least max_bytes; twice as many for margin).
    total_bytes = sum(
        len(record(w, s).encode()) + 1 for w in range(args.processes) for s in range(args.records)
    )
    backups = total_bytes // args.max_bytes * 2 + 10

    print(f"{args.processes} processes x {args.records:,} records -> {log}")
    print(
        f"rotating at {args.max_bytes / 1024:g} KiB, gzip backups, backupCount={backups}",
        flush=True,
    )
    rotations, elapsed = run_workers(args, log, backups)
    print(f"wrote    {n:,} records in {elapsed:.2f} s ({n / elapsed:,.0f} records/s)")

    report = logcheck.check(log, {f"w{w}": args.records for w in range(args.processes)})
    gz_count = sum(f.gz for f in report.backups)

    print(
        f"found    {report.intact:,} records in {LOG_NAME} + {len(report.backups)} backup(s) "
        f"({gz_count} .gz)"
    )
    print(f"rotated  {rotations} time(s) (sum of each handler's num_rollovers)")
    print(f"lost {report.lost}, duplicated {report.duplicated}, torn {report.torn}", end="")
    others = {
        "bytes outside any record": report.garbage_bytes,
        "out of order": report.out_of_order,
        "unknown": report.unexpected,
    }
    print("".join(f", {what} {n}" for what, n in others.items() if n))
    problems = [f"corrupt .gz: {bad}" for bad in report.bad_gz]
    problems += [f"leftover file: {name}" for name in logcheck.stray_files(log)]
    if not report.clean or report.intact != n:
        problems.append("records are missing, duplicated, damaged or out of order")

    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        print(f"files kept for inspection in {log_dir}")
        return 1
    print("\nOK: every record is present exactly once, whole and in its writer's order.")
    if args.dir or args.keep:
        print(f"files in {log_dir}")
    else:
        shutil.rmtree(log_dir)
        print("(temp dir removed; use --dir DIR or --keep to look at the files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
