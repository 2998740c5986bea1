"""How long reports, leaderboards and comparisons take on a MIDI-B-sized result set.

Builds synthetic score folders (540 patients, ~100 checks each = ~54,000 rows, 3% failing) in
a temporary folder, then times loading, bootstrap, HTML rendering and compare. Prints numbers;
asserts nothing. Usage: python benchmarks/report_speed.py [--patients 540] [--checks 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_report_support import check_row, make_run  # noqa: E402

from midib.report.compare import compare_runs  # noqa: E402
from midib.report.html import render_report  # noqa: E402
from midib.report.leaderboard import build_leaderboard  # noqa: E402
from midib.report.loading import load_runs  # noqa: E402

ATTRS = [f"(0010,{i:04x})" for i in range(40)] + [f"(0008,{i:04x})" for i in range(40)]
ACTIONS = ["text_removed", "text_retained", "date_shifted", "uid_changed"]


def make_rows(patients: int, per_patient: int, fail_rate: float, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(patients):
        for c in range(per_patient):
            rows.append(check_row(f"p{p}c{c}", bool(rng.random() > fail_rate), patient=f"P{p}",
                                  attribute=ATTRS[c % len(ATTRS)], action=ACTIONS[c % 4],
                                  observed="Doe^John" if c % 7 == 0 else "x"))
    return rows


def timed(label: str, fn):
    start = time.perf_counter()
    value = fn()
    print(f"{label:<36} {time.perf_counter() - start:8.2f} s")
    return value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=540)
    ap.add_argument("--checks", type=int, default=100)
    ap.add_argument("--runs", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.runs):
            rows = make_rows(args.patients, args.checks, 0.01 + 0.01 * i, seed=i)
            paths.append(timed(f"write score folder {i} ({len(rows)} rows)",
                               lambda: make_run(Path(tmp) / f"run{i}", f"tool{i}", rows)))
        runs = timed("load runs", lambda: load_runs(paths))
        timed("read results (all runs)", lambda: [r.results() for r in runs])
        timed("leaderboard incl. bootstrap", lambda: build_leaderboard(runs))
        html = timed(f"render HTML ({args.runs} runs)", lambda: render_report(runs))
        print(f"{'HTML size':<36} {len(html) / 1e6:8.2f} MB")
        cmp = timed("compare run0 vs run1", lambda: compare_runs(runs[0], runs[1]))
        print(f"{'newly failing / fixed':<36} {cmp.count('new_failures')} / {cmp.count('fixed')}")


if __name__ == "__main__":
    main()
