"""Chaos run: SIGKILL writers at random moments while they rotate, hundreds of times.

    .venv/bin/python tests/chaos/kill_during_rotation.py [--kills 500] [--seconds 900]

Runs rounds of tests/chaos/crashkit.py's random-kill run (a few writers with
maxBytes=4 KiB and ~500-byte records, so that they rotate every few records; a random
one SIGKILLed every few milliseconds, often the one holding the lock; a clean writer at
the end), alternating use_gzip, each round in a fresh directory so that the backup
series stays a few hundred files long. After each round every record a writer had
accepted must be in the file set exactly once, whole, in order, every .gz must
decompress, the backups must be app.log.1..N and nothing else may be left over.

Stops after --kills kills or when --seconds have passed (then says so), prints a summary
per round and in total, keeps the directory of any failing round, and exits 1 if any
round failed. Not collected by pytest (`make chaos` runs it). With CLH_RELIABILITY_REPORT
set, it also appends one row for the whole run to that file (tests/python/reliability.py),
for `make reliability`'s table.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crashkit


def report_row(
    total: crashkit.Verdict, rounds: int, wanted_kills: int, seed: int, elapsed: float
) -> None:
    """One row for `make reliability`'s table (tests/python/reliability.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import reliability

    hangs = sum("did not finish" in e for e in total.writer_errors)
    other = {
        "garbage bytes": total.garbage_bytes,
        "out of order": total.out_of_order,
        "unexpected": total.unexpected,
        "bad .gz": len(total.bad_gz),
        "backup slot problems": len(total.slot_problems),
    }
    note = f"seed {seed}, {elapsed:.0f} s; {total.in_flight_found} in-flight records made it"
    note += "".join(f"; {k} {v}" for k, v in other.items() if v)
    if total.kills < wanted_kills:
        note += f"; stopped by the time budget after {total.kills} of {wanted_kills} kills"
    # Each round's file set is its backups plus the live log: rotations = files - rounds.
    reliability.report(
        "SIGKILL during rotation (chaos)",
        f"{rounds} rounds of 2-4 processes, {total.writers} writer processes, "
        f"{total.kills} kills, {total.files - rounds:,} rotations, "
        f"{total.recoveries} half-done rotations finished by others",
        lost=total.lost,
        duplicated=total.duplicated,
        torn=total.torn,
        stray=len(total.stray),
        hangs=hangs,
        errors=len(total.writer_errors) - hangs,
        sent=total.accepted,
        found=total.found,
        ok=total.ok,
        note=note,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=500, help="total SIGKILLs (default 500)")
    p.add_argument("--seconds", type=float, default=900, help="time budget; stop early when spent")
    p.add_argument("--round-kills", type=int, default=50, help="kills per round (default 50)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--dir", type=Path, default=None, help="where to put the rounds' files")
    p.add_argument("--keep", action="store_true", help="keep every round's files")
    p.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter the writers run (e.g. .venv-clh/bin/python to try CLH 0.9.31)",
    )
    a = p.parse_args(argv)

    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    base = Path(tempfile.mkdtemp(prefix="clh-chaos-", dir=a.dir))
    print(f"chaos: {a.kills} kills, {a.seconds:.0f} s budget, seed {seed}, files in {base}")
    start = time.monotonic()
    total = crashkit.Verdict()
    failed: list[Path] = []
    rounds = 0
    while total.kills < a.kills and time.monotonic() - start < a.seconds:
        cfg = crashkit.KillConfig(
            root=base / f"round{rounds:03d}",
            kills=min(a.round_kills, a.kills - total.kills),
            writers=rng.randint(2, 4),
            gzip=rounds % 2 == 1,
            size_low=rng.randint(200, 400),
            size_high=rng.randint(500, 900),
            max_delay=rng.uniform(0.005, 0.05),
            aim_at_holder=rng.choice([0.0, 0.5, 0.8]),
            records_per_writer=rng.randint(100, 600),
            seed=rng.randrange(2**32),
            python=a.python,
        )
        outcome = crashkit.run_kills(cfg)
        verdict = crashkit.verify(outcome)
        total.add(verdict)
        status = "ok" if verdict.ok else "FAILED"
        print(
            f"round {rounds} ({'gzip' if cfg.gzip else 'plain'}, {cfg.writers} writers, "
            f"{outcome.seconds:.1f} s): {status}\n{verdict.summary()}",
            flush=True,
        )
        if verdict.ok and not a.keep:
            shutil.rmtree(cfg.root)
        elif not verdict.ok:
            failed.append(cfg.root)
        rounds += 1
    elapsed = time.monotonic() - start
    if total.kills < a.kills:
        print(f"stopped by --seconds after {total.kills} of {a.kills} kills")
    print(f"\nTOTAL over {rounds} rounds in {elapsed:.0f} s (seed {seed}):")
    print(total.summary())
    if os.environ.get("CLH_RELIABILITY_REPORT"):
        report_row(total, rounds, a.kills, seed, elapsed)
    if failed:
        print("FAILED rounds kept in: " + ", ".join(str(f) for f in failed))
        return 1
    if not a.keep:
        shutil.rmtree(base, ignore_errors=True)
    print("chaos: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
