"""One benchmark worker process: log through one handler and report timings as JSON.

Started by ``bench/run.py`` (never by hand, although ``--mode probe`` is handy for debugging)
with the interpreter of the package under test, because our package and CLH 0.9.31 share the
import name ``concurrent_log_handler``.  Only the standard library is used here, so the same file
runs in every virtualenv (Python >= 3.8).

Protocol on stdout (lines prefixed with ``@@bench``; anything else on stdout is ignored):

- ``throughput`` and ``stall``: set up the handler, log the warm-up records, print
  ``@@bench ready``, then read one line ``<start_at>`` (wall-clock epoch seconds) from stdin, wait
  until that instant, run the timed loop, close the handler, print ``@@bench result <json>``.
- ``probe``: try to import and use the handler, print ``@@bench result <json>``.

Every record's message carries ``rec p<index> s<seq>``, unique within a run (warm-up records use
sequence numbers below the timed ones), so the parent can count lost and duplicated records.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import logging.handlers
import math
import os
import random
import sys
import tempfile
import time
from array import array
from typing import Any, Callable

PREFIX = "@@bench"
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"
LOGGER_NAME = "bench"
MESSAGE = "rec p%d s%d %s"
PAD_VARIANTS = 1024  # distinct paddings, so that the data compresses like real text
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "request",
    "user",
    "session",
    "cache",
    "query",
    "timeout",
    "retry",
    "latency",
    "worker",
    "upstream",
    "payload",
    "status",
]


class FormatOnlyHandler(logging.Handler):
    """The floor: pays for formatting the record, writes nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.format(record)
        except Exception:  # noqa: BLE001 - same policy as the stdlib handlers
            self.handleError(record)


def make_paddings(length: int) -> list[str]:
    """Deterministic, varied lower-case text of exactly ``length`` characters."""
    rng = random.Random(20240531)
    pads = []
    for _ in range(PAD_VARIANTS):
        words: list[str] = []
        size = 0
        while size < length:
            word = rng.choice(WORDS)
            words.append(word)
            size += len(word) + 1
        pads.append(" ".join(words)[:length])
    return pads


def make_handler(args: argparse.Namespace) -> logging.Handler:
    kwargs: dict[str, Any] = json.loads(args.kwargs)
    if args.kind == "floor":
        return FormatOnlyHandler()
    if args.kind == "file":
        return logging.FileHandler(args.path, "a", **kwargs)
    if args.kind == "rotating":
        return logging.handlers.RotatingFileHandler(
            args.path, "a", maxBytes=args.max_bytes, backupCount=args.backup_count, **kwargs
        )
    if args.kind == "crfh":
        from concurrent_log_handler import ConcurrentRotatingFileHandler

        # An attribute, not a constructor argument: False formats in Python (the rows
        # that show what native formatting is worth).
        native_format = kwargs.pop("native_format", None)
        handler = ConcurrentRotatingFileHandler(
            args.path, "a", maxBytes=args.max_bytes, backupCount=args.backup_count, **kwargs
        )
        if native_format is not None:
            handler.native_format = native_format
        return handler
    raise SystemExit(f"unknown handler kind {args.kind!r}")


def make_logger(handler: logging.Handler) -> logging.Logger:
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger(LOGGER_NAME)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def emit(line: str) -> None:
    sys.stdout.write(f"{PREFIX} {line}\n")
    sys.stdout.flush()


def wait_for_start() -> float:
    """Report readiness, then block until the common start instant given on stdin."""
    emit("ready")
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("parent closed stdin before the start signal")
    start_at = float(line)
    # No busy-wait: with more workers than cores, spinning would delay the others.
    while True:
        remaining = start_at - time.time()
        if remaining <= 0:
            return start_at
        time.sleep(remaining)


def package_info() -> dict[str, Any]:
    mod = sys.modules.get("concurrent_log_handler")
    if mod is None:
        return {}
    try:  # CLH: concurrent_log_handler.__version__ is a module holding __version__
        version = importlib.import_module("concurrent_log_handler.__version__").__version__
    except Exception:  # noqa: BLE001 - the version is informative only
        version = getattr(mod, "__version__", None)
    return {"module_file": getattr(mod, "__file__", None), "version": str(version)}


def env_info() -> dict[str, Any]:
    return {"python": sys.version.split()[0], "executable": sys.executable, **package_info()}


def run_throughput(args: argparse.Namespace) -> dict[str, Any]:
    handler = make_handler(args)
    logger = make_logger(handler)
    info = logger.info
    pads = make_paddings(args.msg_bytes)
    mask = PAD_VARIANTS - 1
    idx = args.index
    for seq in range(args.warmup):
        info(MESSAGE, idx, seq, pads[seq & mask])
    first, last = args.warmup, args.warmup + args.records

    start_at = wait_for_start()
    wall_start = time.time()
    t0 = time.perf_counter()
    for seq in range(first, last):
        info(MESSAGE, idx, seq, pads[seq & mask])
    t1 = time.perf_counter()
    handler.close()
    t2 = time.perf_counter()
    wall_end = time.time()
    return {
        "records": args.records,
        "warmup": args.warmup,
        "loop_s": t1 - t0,
        "close_s": t2 - t1,
        "start_at": start_at,
        "late_s": wall_start - start_at,
        "wall_start": wall_start,
        "wall_end": wall_end,
        "num_rollovers": getattr(handler, "num_rollovers", None),
        **package_info(),
    }


def run_stall(args: argparse.Namespace) -> dict[str, Any]:
    """Log until ``--rotations`` rotations are due; record the latency of every call."""
    handler = make_handler(args)
    logger = make_logger(handler)
    info = logger.info
    pads = make_paddings(args.msg_bytes)
    mask = PAD_VARIANTS - 1
    idx = args.index
    sample = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 0, MESSAGE, None, None)
    sample.args = (idx, 10**7, pads[0])
    line_bytes = len(logging.Formatter(FORMAT).format(sample)) + 1
    # 5% margin over the bytes needed: a rotation happens once the file has reached maxBytes.
    records = math.ceil(args.rotations * args.max_bytes * 1.05 / line_bytes)
    for seq in range(args.warmup):
        info(MESSAGE, idx, seq, pads[seq & mask])

    lat = array("d", bytes(8 * records))
    clock = time.perf_counter
    start_at = wait_for_start()
    t0 = clock()
    for i in range(records):
        seq = args.warmup + i
        a = clock()
        info(MESSAGE, idx, seq, pads[seq & mask])
        lat[i] = clock() - a
    t1 = clock()
    handler.close()
    t2 = clock()
    ordered = sorted(lat)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(p / 100.0 * len(ordered)) - 1)]

    return {
        "records": records,
        "warmup": args.warmup,
        "line_bytes": line_bytes,
        "loop_s": t1 - t0,
        "close_s": t2 - t1,
        "start_at": start_at,
        "max_s": ordered[-1],
        "p50_s": pct(50),
        "p99_s": pct(99),
        "p999_s": pct(99.9),
        "over_10ms": sum(1 for x in ordered if x > 0.010),
        "over_100ms": sum(1 for x in ordered if x > 0.100),
        "num_rollovers": getattr(handler, "num_rollovers", None),
        **package_info(),
    }


def run_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Can this interpreter build the handler with these kwargs, log and close?"""
    try:
        with tempfile.TemporaryDirectory(prefix="clhbench-probe-") as tmp:
            args.path = os.path.join(tmp, "probe.log")
            handler = make_handler(args)
            make_logger(handler).info("probe")
            handler.close()
            if args.kind != "floor":
                with open(args.path, "rb") as fh:
                    if b"probe" not in fh.read():
                        return {"ok": False, "error": "probe record not found in the log file"}
    except Exception as exc:  # noqa: BLE001 - any failure means "unavailable"
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", **env_info()}
    return {"ok": True, **env_info()}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("throughput", "stall", "probe"), required=True)
    p.add_argument("--kind", choices=("floor", "file", "rotating", "crfh"), required=True)
    p.add_argument("--kwargs", default="{}", help="extra handler keyword arguments, as JSON")
    p.add_argument("--path", default="", help="log file path")
    p.add_argument("--max-bytes", type=int, default=0)
    p.add_argument("--backup-count", type=int, default=0)
    p.add_argument("--records", type=int, default=0, help="timed records (throughput)")
    p.add_argument("--warmup", type=int, default=0, help="untimed records logged first")
    p.add_argument("--index", type=int, default=0, help="worker index, part of each record id")
    p.add_argument("--msg-bytes", type=int, default=80, help="padding length in each message")
    p.add_argument("--rotations", type=int, default=3, help="rotations to cause (stall)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    modes: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
        "throughput": run_throughput,
        "stall": run_stall,
        "probe": run_probe,
    }
    result = modes[args.mode](args)
    emit("result " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
