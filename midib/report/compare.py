"""Regression comparison of two scored runs: which checks newly fail, which were fixed.

Checks are matched across runs by ``check_id`` (stable for one benchmark and profile). A check
*newly fails* when it fails in NEW and passed in BASE, or fails in NEW and was not in BASE at
all (an unmeasured leak is still a leak: the gate stays conservative). *Fixed*: failed in BASE,
passes in NEW. *Still failing*: fails in both. Fixed checks never offset new failures.

Tolerance (``--tolerance``) is how many newly failing checks are accepted before the gate fails:
``N`` (a whole number, default 0) allows up to N checks; ``P%`` allows up to floor(P/100 x the
number of checks in NEW). The gate fails (exit 1) when newly failing > allowed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from midib.errors import MidibError
from midib.report.loading import ScoredRun

ROW_FIELDS = ["check_id", "attribute", "action", "expected", "observed", "reason", "output_file"]


@dataclass(frozen=True)
class Tolerance:
    """Either an absolute count or a percentage of NEW's checks."""

    count: int = 0
    percent: float | None = None

    def allowed(self, n_checks: int) -> int:
        """Newly failing checks accepted for a run of ``n_checks`` checks."""
        if self.percent is not None:
            return math.floor(self.percent / 100.0 * n_checks + 1e-9)
        return self.count

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


def parse_tolerance(text: str) -> Tolerance:
    """'3' -> 3 checks; '0.5%' -> 0.5 percent of the checks; anything else is a user error."""
    text = str(text).strip()
    if re.fullmatch(r"\d+", text):
        return Tolerance(count=int(text))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", text)
    if m and float(m.group(1)) <= 100:
        return Tolerance(percent=float(m.group(1)))
    raise MidibError(f"--tolerance {text!r}: give a whole number of checks (e.g. 3) "
                     "or a percentage of the checks (e.g. 0.5%)")


@dataclass
class CheckGroup:
    """The checks of one attribute x action, split by how they changed."""

    attribute: str
    action: str
    total: int = 0
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    still_failing: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Comparison:
    """The outcome of comparing BASE with NEW."""

    base: str
    new: str
    groups: list[CheckGroup]
    n_checks: int
    only_in_base: int
    only_in_new: int

    def count(self, kind: str) -> int:
        return sum(len(getattr(g, kind)) for g in self.groups)


def _per_check(df: pd.DataFrame) -> pd.DataFrame:
    """One row per check_id with a group key; a check split over rows fails if any row fails."""
    df = df.copy()
    df["attribute"] = df["attribute"].where(df["attribute"] != "", df["path"])
    df["attribute"] = df["attribute"].where(df["attribute"] != "", "(" + df["source"] + ")")
    df["action"] = df["action"].where(df["action"] != "", df["source"])
    passed = df.groupby("check_id")["passed"].all()
    first = df.drop_duplicates("check_id").set_index("check_id")
    first["passed"] = passed
    first.index.name = "check_id"
    return first


def compare_runs(base: ScoredRun, new: ScoredRun) -> Comparison:
    """Match BASE and NEW check by check_id and group the changes by attribute and action."""
    for run in (base, new):
        if not run.scored:
            raise MidibError(f"{run.root} has no score (status {run.status}); run 'midib score' first")
    ids = [(run.summary or {}).get("benchmark_id") for run in (base, new)]
    if all(ids) and ids[0] != ids[1]:
        raise MidibError(f"{base.root} and {new.root} were scored against different benchmarks "
                         f"(ids {ids[0]} and {ids[1]}): their checks cannot be compared")
    profiles = [(run.summary or {}).get("profile") for run in (base, new)]
    if all(profiles) and profiles[0] != profiles[1]:
        raise MidibError(f"{base.root} and {new.root} were scored under different profiles "
                         f"({profiles[0]} and {profiles[1]}): their checks cannot be compared")
    b, n = _per_check(base.results()), _per_check(new.results())
    if len(b) and len(n) and not b.index.intersection(n.index).size:
        raise MidibError(f"{base.root} and {new.root} share no check id: were they scored "
                         "against the same benchmark and profile?")
    merged = n.join(b[["passed"]].rename(columns={"passed": "base_passed"}), how="left")
    base_failed = merged["base_passed"].notna() & ~merged["base_passed"].fillna(True).astype(bool)
    merged["change"] = np.select(
        [~merged["passed"] & base_failed, ~merged["passed"], merged["passed"] & base_failed],
        ["still_failing", "new_failures", "fixed"], default="")
    merged = merged.reset_index()
    groups = []
    for (attribute, action), rows in merged.groupby(["attribute", "action"], sort=True):
        group = CheckGroup(str(attribute), str(action), total=len(rows))
        for kind, items in rows[rows["change"] != ""].groupby("change"):
            getattr(group, str(kind)).extend(items[ROW_FIELDS].to_dict("records"))
        groups.append(group)
    return Comparison(base=str(base.root), new=str(new.root),
                      groups=groups,
                      n_checks=len(n), only_in_base=int(len(b.index.difference(n.index))),
                      only_in_new=int(len(n.index.difference(b.index))))


def describe(cmp: Comparison, tolerance: Tolerance, show: int = 5) -> list[str]:
    """Human-readable lines: totals, then each changed group with a few example checks."""
    new, allowed = cmp.count("new_failures"), tolerance.allowed(cmp.n_checks)
    lines = [f"base: {cmp.base}", f"new:  {cmp.new}",
             f"checks compared: {cmp.n_checks} (only in base: {cmp.only_in_base}, "
             f"only in new: {cmp.only_in_new})",
             f"newly failing: {new}   fixed: {cmp.count('fixed')}   "
             f"still failing: {cmp.count('still_failing')}   tolerance: {tolerance} "
             f"(allows {allowed})"]
    for kind, title in (("new_failures", "NEWLY FAILING"), ("fixed", "FIXED"),
                        ("still_failing", "STILL FAILING")):
        changed = [g for g in cmp.groups if getattr(g, kind)]
        if changed:
            lines.append(f"{title} ({cmp.count(kind)} checks in {len(changed)} groups)")
        for g in changed:
            items = getattr(g, kind)
            lines.append(f"  {g.attribute} x {g.action}: {len(items)} of {g.total}")
            if kind == "new_failures":
                lines += [f"    {r['check_id']}: expected {r['expected']} observed {r['observed']!s:.120}"
                          for r in items[:show]]
    lines.append("REGRESSION: newly failing checks beyond tolerance" if new > allowed
                 else "OK: no new failures beyond tolerance")
    return lines


def gate_failed(cmp: Comparison, tolerance: Tolerance) -> bool:
    """True when more checks newly fail than the tolerance allows."""
    return cmp.count("new_failures") > tolerance.allowed(cmp.n_checks)
