"""The benchmark as a picture: records/s per handler, 1 and 4 processes, as bars.

Reads the JSON that ``bench/run.py`` writes and draws one PNG: a row per handler, a bar
for 1 process and one for 4 processes (the median of the rounds), and on each bar its
rate and its ratio to the stdlib's FileHandler in the same scenario (the reference every
target is stated against). ``make bench`` calls it after the run; by hand::

    .venv/bin/python bench/chart.py bench/out/results.json docs/bench.png

Needs matplotlib (``make bench`` installs it into the bench's venv).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REFERENCE = "stdlib-file"
SCENARIOS = (("1p", "1 process", "#4C72B0"), ("4p", "4 processes, rotation at 1 MiB", "#DD8452"))


def rows(report: dict[str, Any]) -> list[tuple[str, dict[str, float | None]]]:
    """(handler, {scenario: median records/s}) in the benchmark's order."""
    summary = report["summary"]
    out = []
    for spec in report["handlers"]:
        name = spec["name"]
        if name in report.get("unavailable", {}) or name not in summary:
            continue
        out.append((name, {key: summary[name][key]["median"] for key, _, _ in SCENARIOS}))
    return out


def draw(report: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    data = rows(report)
    reference = dict(data).get(REFERENCE, {})
    height = 0.38
    fig, ax = plt.subplots(figsize=(10, 0.75 * len(data) + 1.6))
    for i, (key, label, color) in enumerate(SCENARIOS):
        ys = [n + (i - 0.5) * height for n in range(len(data))]
        values = [rates.get(key) or 0 for _, rates in data]
        ax.barh(ys, values, height=height, color=color, label=label)
        for y, value in zip(ys, values):
            if not value:
                continue
            ref = reference.get(key)
            text = f" {value / 1000:,.0f}k"
            if ref:
                text += f"  {value / ref:.2f}×"
            ax.text(value, y, text, va="center", fontsize=8)
    ax.set_yticks(range(len(data)))
    ax.set_yticklabels([name for name, _ in data])
    ax.invert_yaxis()
    ax.set_xlabel(
        "records/s (median of the rounds); × = ratio to stdlib-file, same scenario", fontsize=8
    )
    created = report.get("created", "")
    cpus = report.get("host", {}).get("cpus", "?")
    ax.set_title(f"make bench: records/s per handler ({created}, {cpus} CPUs)", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8, frameon=False)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x / 1000:,.0f}k")
    ax.set_xlim(0, max((v or 0) for _, r in data for v in r.values()) * 1.25)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text())
    draw(report, Path(argv[1]))
    print(f"Chart: {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
