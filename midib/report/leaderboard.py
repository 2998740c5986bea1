"""The leaderboard: runs ranked by score, with a 95% bootstrap interval over patients.

Why patients: checks of one patient are not independent (one forgotten attribute fails in every
instance of that patient), so the honest unit of resampling is the patient, as in a cluster
bootstrap. We resample patients with replacement under a fixed seed (the same board always gets
the same intervals) and recompute the pooled pass rate ``sum(passed) / sum(total)``.

The ranking score is ``summary.json`` ``overall.percent`` (the scorer's formula, ``midib`` or
``midi-b``: share of checks passed, MIDI-B's headline number); the weighted score
(hipaa 70 / dicom 20 / best practice 10) is shown beside it. Runs that failed, were unavailable
or were never scored are listed last, with their status, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from midib.answer_key import CATEGORIES
from midib.report.loading import ScoredRun

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20240


@dataclass
class BoardRow:
    """One leaderboard line."""

    rank: Optional[int]
    label: str
    anchor: str
    tool: str
    version: str
    status: str
    score: Optional[float]
    ci: Optional[tuple[float, float]]
    weighted: Optional[float]
    categories: dict[str, Optional[float]] = field(default_factory=dict)
    failed: Optional[int] = None
    total: Optional[int] = None
    wall_seconds: Optional[float] = None
    reason: str = ""


def bootstrap_interval(passed: np.ndarray, total: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES,
                       seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> Optional[tuple[float, float]]:
    """Percentile interval (in percent) of the pooled pass rate, resampling patients."""
    passed, total = np.asarray(passed, float), np.asarray(total, float)
    if len(total) == 0 or total.sum() == 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(total), size=(samples, len(total)))
    tot = total[idx].sum(axis=1)
    rates = np.divide(passed[idx].sum(axis=1), tot, out=np.ones(samples), where=tot > 0) * 100
    alpha = (1 - level) / 2
    low, high = np.quantile(rates, [alpha, 1 - alpha])
    return float(low), float(high)


def per_patient_counts(run: ScoredRun) -> tuple[np.ndarray, np.ndarray]:
    """(passed, total) per patient: summary.json ``per_patient``, else counted from results."""
    per_patient = (run.summary or {}).get("per_patient")
    if per_patient:
        values = list(per_patient.values())
        return (np.array([v.get("passed", 0) for v in values], float),
                np.array([v.get("total", 0) for v in values], float))
    df = run.results()
    if df.empty:
        return np.zeros(0), np.zeros(0)
    grouped = df.groupby(df["patient_id"].where(df["patient_id"] != "", "(none)"))["passed"]
    return grouped.sum().to_numpy(float), grouped.count().to_numpy(float)


def _percent(block: Any) -> Optional[float]:
    """``percent`` of a summary mapping entry, tolerating absent sections."""
    if isinstance(block, dict) and block.get("percent") is not None:
        return float(block["percent"])
    return None


def board_row(run: ScoredRun) -> BoardRow:
    """Summarise one run for the board (rank is set later)."""
    s, r = run.summary or {}, run.run or {}
    overall = s.get("overall") or {}
    by_cat = s.get("by_category") or {}
    ci = bootstrap_interval(*per_patient_counts(run)) if run.scored else None
    return BoardRow(
        rank=None, label=run.label, anchor=run.anchor, tool=str(run.tool["name"]),
        version=str(run.tool.get("version") or ""), status=run.status,
        score=_percent(overall) if run.scored else None, ci=ci,
        weighted=_percent(s.get("weighted")),
        categories={c: _percent(by_cat.get(c)) for c in CATEGORIES},
        failed=overall.get("failed"), total=overall.get("total"),
        wall_seconds=r.get("wall_seconds"), reason=str(r.get("reason") or ""))


def build_leaderboard(runs: list[ScoredRun]) -> list[BoardRow]:
    """Rows ranked by score (ties share a rank); unscored runs follow, unranked."""
    rows = [board_row(r) for r in runs]
    scored = sorted((x for x in rows if x.score is not None),
                    key=lambda x: (-x.score, -(x.weighted or 0), x.label))
    rank, previous = 0, None
    for i, row in enumerate(scored, start=1):
        if row.score != previous:
            rank, previous = i, row.score
        row.rank = rank
    return scored + [x for x in rows if x.score is None]


def _fmt(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def md_cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: a tool's name and version come from the tool
    (``<script>``, a ``|`` or a newline in them would run or break the table where it is shown)."""
    text = " ".join(str(text).split())
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|"))


def leaderboard_markdown(rows: list[BoardRow], title: str = "midib leaderboard") -> str:
    """The board as a Markdown table (for reports/ and terminals that show Markdown)."""
    head = ["#", "tool", "version", "status", "score %", "95% CI", "weighted %",
            *[f"{c} %" for c in CATEGORIES], "failed / total", "time s"]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    for x in rows:
        ci = f"{x.ci[0]:.2f}–{x.ci[1]:.2f}" if x.ci else "—"
        counts = f"{x.failed} / {x.total}" if x.total is not None else "—"
        secs = f"{x.wall_seconds:.1f}" if x.wall_seconds is not None else "—"
        cells = [str(x.rank or "—"), x.label, x.version or "—", x.status, _fmt(x.score), ci,
                 _fmt(x.weighted), *[_fmt(x.categories.get(c)) for c in CATEGORIES], counts, secs]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines += ["", "Score: share of answer-key checks passed (summary.json `overall.percent`); "
              "95% CI: percentile bootstrap over patients "
              f"({BOOTSTRAP_SAMPLES} resamples, seed {BOOTSTRAP_SEED}); weighted: "
              "HIPAA 70 / DICOM 20 / best practice 10."]
    return "\n".join(lines) + "\n"
