"""Print the reliability table from a report file, and optionally put it in the doc.

    python tests/reliability/table.py REPORT.jsonl [--junit FILE ...] [--failed PART ...]
        [--wall SECONDS] [--run-info TEXT] [--doc docs/reliability.md] [--update-doc]

REPORT.jsonl is what ``reliability.report(...)`` appended (tests/python/reliability.py):
one JSON object per scenario that passed its assertions (a scenario that failed or was
skipped writes nothing). Every row is kept, in the order written: the scenario names of
parametrized tests are distinct, so nothing is summed.

Missing scenarios: a scenario listed in the doc's previous table but absent from this
report is shown as a row with result MISSING (rename a scenario: delete its old row from
the doc by hand). Failed and skipped tests are listed under the table, from pytest's
``--junitxml`` files (``--junit``) and from ``--failed`` (parts of the run that exited
non-zero, given by the runner).

With ``--update-doc`` the text between ``<!-- reliability-table:start -->`` and
``<!-- reliability-table:end -->`` in the doc is replaced by the date, the machine
(nproc, kernel, Python), the wall time and the table. Exits 1 if a row is FAIL or
MISSING, or anything failed; 2 on a usage error (no report, no markers).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

START = "<!-- reliability-table:start -->"
END = "<!-- reliability-table:end -->"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_DOC = REPO / "docs" / "reliability.md"

HEADER = [
    "scenario",
    "load",
    "sent",
    "found",
    "lost",
    "duplicated",
    "torn",
    "stray files",
    "hangs",
    "errors reported",
    "result",
]
NUMERIC = {"sent", "found", "lost", "duplicated", "torn", "stray files", "hangs", "errors reported"}


@dataclass
class Row:
    scenario: str
    load: str
    sent: Optional[int] = None
    found: Optional[int] = None
    lost: Optional[int] = None
    duplicated: Optional[int] = None
    torn: Optional[int] = None
    stray: Optional[int] = None
    hangs: Optional[int] = None
    errors: Optional[int] = None
    result: str = "pass"
    note: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Row:
        return cls(
            scenario=str(d["scenario"]),
            load=str(d.get("load", "")),
            sent=d.get("sent"),
            found=d.get("found"),
            lost=d.get("lost"),
            duplicated=d.get("duplicated"),
            torn=d.get("torn"),
            stray=d.get("stray"),
            hangs=d.get("hangs"),
            errors=d.get("errors"),
            result="pass" if d.get("ok", True) else "FAIL",
            note=str(d.get("note") or ""),
        )

    def cells(self) -> list[str]:
        values = [self.sent, self.found, self.lost, self.duplicated, self.torn]
        values += [self.stray, self.hangs, self.errors]
        return [self.scenario, self.load] + [_num(v) for v in values] + [self.result]


@dataclass
class Outcome:
    rows: list[Row]
    failed_tests: list[str] = field(default_factory=list)
    skipped_tests: list[str] = field(default_factory=list)
    failed_parts: list[str] = field(default_factory=list)
    bad_lines: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.failed_tests
            or self.failed_parts
            or self.bad_lines
            or any(r.result != "pass" for r in self.rows)
        )


def _num(v: Optional[int]) -> str:
    return "–" if v is None else f"{v:,}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def read_report(path: Path) -> tuple[list[Row], int]:
    """The rows of a JSON-lines report, and how many lines could not be read."""
    rows, bad = [], 0
    if not path.exists():
        return rows, bad
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(Row.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            bad += 1
    return rows, bad


def previous_rows(doc: Path) -> list[tuple[str, str]]:
    """(scenario, load) of every row of the table between the doc's markers."""
    if not doc.exists():
        return []
    text = doc.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return []
    section = text.split(START, 1)[1].split(END, 1)[0]
    found = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != len(HEADER) or cells[0] == HEADER[0] or set(cells[0]) <= set("-: "):
            continue
        found.append((cells[0], cells[1]))
    return found


def junit_results(paths: list[Path]) -> tuple[list[str], list[str]]:
    """Failed (failure or error) and skipped test ids from pytest --junitxml files.
    A file that is missing or unreadable counts as a failure of its own."""
    failed, skipped = [], []
    for p in paths:
        try:
            root = ET.parse(p).getroot()
        except (OSError, ET.ParseError) as e:
            failed.append(f"{p.name}: no pytest result ({e.__class__.__name__})")
            continue
        for case in root.iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":")
            for child in case:
                if child.tag in ("failure", "error"):
                    msg = (child.get("message") or "").splitlines()[0:1]
                    failed.append(name + (f" ({msg[0][:160]})" if msg else ""))
                    break
                if child.tag == "skipped":
                    msg = (child.get("message") or "").splitlines()[0:1]
                    skipped.append(name + (f" ({msg[0][:160]})" if msg else ""))
                    break
    return failed, skipped


def collect(report: Path, doc: Path, junit: list[Path], failed_parts: list[str]) -> Outcome:
    rows, bad = read_report(report)
    have = {r.scenario for r in rows}
    for scenario, load in previous_rows(doc):
        if scenario not in have:
            rows.append(Row(scenario, load, result="MISSING"))
            have.add(scenario)
    failed, skipped = junit_results(junit)
    return Outcome(rows, failed, skipped, list(failed_parts), bad)


def markdown_table(rows: list[Row]) -> str:
    align = ["---:" if h in NUMERIC else "---" for h in HEADER]
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(c) for c in r.cells()) + " |")
    return "\n".join(lines)


def totals_line(rows: list[Row]) -> str:
    real = [r for r in rows if r.result != "MISSING"]

    def total(attr: str) -> int:
        return sum(getattr(r, attr) or 0 for r in real)

    counts = {k: sum(r.result == k for r in rows) for k in ("pass", "FAIL", "MISSING")}
    return (
        f"{len(rows)} scenarios: {counts['pass']} pass, {counts['FAIL']} FAIL, "
        f"{counts['MISSING']} MISSING. Records sent {total('sent'):,}, lost {total('lost')}, "
        f"duplicated {total('duplicated')}, torn {total('torn')}; stray files "
        f"{total('stray')}, hangs {total('hangs')}."
    )


def problems(outcome: Outcome) -> list[str]:
    lines = []
    if outcome.failed_parts:
        lines.append("Parts that failed: " + "; ".join(outcome.failed_parts) + ".")
    for t in outcome.failed_tests:
        lines.append(f"FAILED test: `{t}`")
    for t in outcome.skipped_tests:
        lines.append(f"skipped test: `{t}`")
    if outcome.bad_lines:
        lines.append(f"{outcome.bad_lines} unreadable line(s) in the report file.")
    missing = [r.scenario for r in outcome.rows if r.result == "MISSING"]
    if missing:
        lines.append(
            "MISSING (in the previous table, not reported this time: the test failed, "
            "was skipped or was not run): " + "; ".join(missing) + "."
        )
    return lines


def notes(rows: list[Row]) -> list[str]:
    return [f"{r.scenario}: {r.note}" for r in rows if r.note]


def machine() -> str:
    try:
        cpus = len(os.sched_getaffinity(0))  # what `nproc` prints
    except AttributeError:
        cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = ", " + line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"nproc {cpus}{model}; kernel {platform.release()}; "
        f"Python {platform.python_version()} ({sys.executable})"
    )


def doc_section(outcome: Outcome, wall: Optional[float], run_info: str) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = [f"Run of {now}" + (f": {run_info}" if run_info else "") + "."]
    head.append(f"Machine: {machine()}.")
    if wall is not None:
        head.append(f"Wall time: {wall / 60:.1f} min ({wall:.0f} s).")
    head.append(
        "Verdict: " + ("all parts passed." if outcome.ok else "**NOT all passed** (below).")
    )
    parts = [" ".join(head), "", markdown_table(outcome.rows), "", totals_line(outcome.rows)]
    extra = problems(outcome)
    if extra:
        parts += [""] + [f"- {p}" for p in extra]
    n = notes(outcome.rows)
    if n:
        parts += ["", "Notes:", ""] + [f"- {x}" for x in n]
    return "\n".join(parts)


def update_doc(doc: Path, section: str) -> None:
    text = doc.read_text(encoding="utf-8")
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(f"{doc}: needs exactly one {START} followed by one {END}")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    doc.write_text(f"{before}{START}\n{section}\n{END}{after}", encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report", type=Path, help="JSON-lines file written by reliability.report")
    p.add_argument("--junit", type=Path, action="append", default=[], help="pytest junit xml")
    p.add_argument("--failed", action="append", default=[], help="a part that failed (repeat)")
    p.add_argument("--wall", type=float, default=None, help="total wall time in seconds")
    p.add_argument("--run-info", default="", help="what was run (scales), for the doc")
    p.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    p.add_argument("--update-doc", action="store_true", help="rewrite the doc's table section")
    a = p.parse_args(argv)

    if not a.report.exists():
        print(f"table.py: no report file {a.report}", file=sys.stderr)
        return 2
    outcome = collect(a.report, a.doc, a.junit, a.failed)
    print(markdown_table(outcome.rows))
    print()
    print(totals_line(outcome.rows))
    for line in problems(outcome):
        print(line)
    for line in notes(outcome.rows):
        print(f"note: {line}")
    if a.update_doc:
        update_doc(a.doc, doc_section(outcome, a.wall, a.run_info))
        print(f"updated {a.doc}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
