"""Several processes log into ONE rotating, gzip-compressing log file at the same time;
then every file is read back to prove that each record arrived exactly once and whole.

    make demo                                 # 4 processes x 25,000 records, temp dir
    .venv/bin/python examples/demo.py --dir /tmp/mylogs --processes 8 --records 10000

Each process uses nothing but the standard logging API:

    handler = ConcurrentRotatingFileHandler("app.log", maxBytes=256 * 1024,
                                            backupCount=..., use_gzip=True)
    logger.addHandler(handler)
    logger.info(...)

Every record carries a header and an end marker, <<w2:123:57>>...<<end w2:123>>, holding
its writer, its number and its length in bytes, so a record that was lost, written twice,
cut short or mixed with another one is detected. Some records span several lines or hold
non-ASCII text. Exit status 0 only if everything checks out. Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    body = payload(worker, seq)
    return f"<<w{worker}:{seq}:{len(body.encode())}>>{body}<<end w{worker}:{seq}>>"


HEADER = re.compile(rb"<<w(\d+):(\d+):(\d+)>>")


def parse(data: bytes) -> tuple[list[tuple[int, int]], int]:
    """Split a file's bytes into whole records by their markers (not by lines).
    Returns the (worker, seq) of every whole record and how many records are torn;
    bytes outside any whole record count as torn too."""
    whole: list[tuple[int, int]] = []
    torn = 0
    pos = 0
    while pos < len(data):
        m = HEADER.match(data, pos)
        if m is None:  # junk where a record should start: skip to the next header
            torn += 1
            nxt = HEADER.search(data, pos)
            pos = nxt.start() if nxt else len(data)
            continue
        worker, seq, length = (int(g) for g in m.groups())
        end = m.end() + length
        trailer = f"<<end w{worker}:{seq}>>\n".encode()
        if data.startswith(trailer, end) and b"<<" not in data[m.end() : end]:
            whole.append((worker, seq))
            pos = end + len(trailer)
        else:
            torn += 1
            nxt = HEADER.search(data, m.end())
            pos = nxt.start() if nxt else len(data)
    return whole, torn


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
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("demo")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)

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


def read_files(log: Path) -> tuple[dict[str, bytes], list[str], list[str]]:
    """Contents of app.log and every backup app.log.N[.gz] (decompressed), the names of
    .gz files that do not decompress, and any other (leftover) file in the directory."""
    backup = re.compile(re.escape(log.name) + r"\.\d+(\.gz)?")
    contents: dict[str, bytes] = {}
    bad_gz: list[str] = []
    leftovers: list[str] = []
    for path in sorted(log.parent.iterdir()):
        if path.name == log.name or backup.fullmatch(path.name):
            data = path.read_bytes()
            if path.suffix == ".gz":
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError) as e:
                    bad_gz.append(f"{path.name} ({e})")
                    continue
            contents[path.name] = data
        elif path.name != ".__app.lock":  # the lock file every process locks
            leftovers.append(path.name)
    return contents, bad_gz, leftovers


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

    contents, bad_gz, leftovers = read_files(log)
    seen: dict[tuple[int, int], int] = {}
    torn = 0
    for data in contents.values():
        whole, t = parse(data)
        torn += t
        for key in whole:
            seen[key] = seen.get(key, 0) + 1
    expected = {(w, s) for w in range(args.processes) for s in range(args.records)}
    found = sum(seen.values())
    lost = len(expected - seen.keys())
    duplicated = sum(c - 1 for c in seen.values())
    unexpected = len(seen.keys() - expected)
    gz_count = sum(name.endswith(".gz") for name in contents)
    n_backups = len(contents) - (LOG_NAME in contents)

    print(f"found    {found:,} records in {LOG_NAME} + {n_backups} backup(s) ({gz_count} .gz)")
    print(f"rotated  {rotations} time(s) (sum of each handler's num_rollovers)")
    print(f"lost {lost}, duplicated {duplicated}, torn {torn}", end="")
    print(f", unknown {unexpected}" if unexpected else "")
    problems = [f"corrupt .gz: {name}" for name in bad_gz]
    problems += [f"leftover file: {name}" for name in leftovers]
    if lost or duplicated or torn or unexpected or found != n:
        problems.append("records are missing, duplicated or damaged")

    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        print(f"files kept for inspection in {log_dir}")
        return 1
    print("\nOK: every record is present exactly once and whole.")
    if args.dir or args.keep:
        print(f"files in {log_dir}")
    else:
        shutil.rmtree(log_dir)
        print("(temp dir removed; use --dir DIR or --keep to look at the files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
