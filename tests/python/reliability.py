"""Shared by the reliability scenarios (issue 7): scale and the result table.

Every scenario test calls :func:`report` once with what it measured. ``make test`` runs
the scenarios short (``CLH_RELIABILITY_SCALE`` unset = 1); ``make reliability`` runs them
long (a larger scale) with ``CLH_RELIABILITY_REPORT`` naming a JSON-lines file, from
which ``tests/reliability/table.py`` prints one table: scenario, load, lost,
duplicated, torn, stray files, hangs, errors reported, result.

A row is written only when the environment asks for it, so the short runs leave no
files behind.
"""

from __future__ import annotations

import json
import os
import time
from typing import Optional

SCALE = max(1, int(os.environ.get("CLH_RELIABILITY_SCALE", "1")))


def scaled(n: int) -> int:
    """``n`` times the scale (the short run's load is ``n``)."""
    return n * SCALE


def report(
    scenario: str,
    load: str,
    *,
    lost: int = 0,
    duplicated: int = 0,
    torn: int = 0,
    stray: int = 0,
    hangs: int = 0,
    errors: Optional[int] = None,
    sent: Optional[int] = None,
    found: Optional[int] = None,
    ok: bool = True,
    note: str = "",
) -> None:
    """Record one scenario's figures (appended to ``$CLH_RELIABILITY_REPORT`` if set).

    ``load`` describes the work in words ("4 processes x 2,000 records, 180 rotations").
    ``errors`` is how many errors were reported to ``handleError`` (None: not counted).
    ``ok`` is the test's verdict: call this *after* the assertions, so a failing
    scenario writes no row and the table shows it as missing.
    """
    path = os.environ.get("CLH_RELIABILITY_REPORT")
    if not path:
        return
    row = {
        "scenario": scenario,
        "load": load,
        "sent": sent,
        "found": found,
        "lost": lost,
        "duplicated": duplicated,
        "torn": torn,
        "stray": stray,
        "hangs": hangs,
        "errors": errors,
        "ok": ok,
        "note": note,
        "time": time.time(),
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
