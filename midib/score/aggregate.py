"""From counts to the numbers people compare: overall, weighted, and every breakdown.

``overall`` is the MIDI-B formula: passed / all checks, where a check that could not be
scored is a failed row (never dropped), so a tool cannot gain by crashing on hard files.
``weighted`` gives each category its weight (HIPAA 70 / DICOM 20 / best practice 10) over the
categories present, so a key with no best-practice checks is not penalised. Breakdowns use the
same four numbers everywhere; ``per_patient`` feeds bootstrap intervals in reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from midib.score.sink import Tally

if TYPE_CHECKING:  # only the midi-b formula needs pandas: not imported by every score
    import pandas as pd

WEIGHTS = {"hipaa": 70.0, "dicom": 20.0, "best_practice": 10.0}


def counts(passed: int, total: int) -> dict[str, Any]:
    """{passed, failed, total, percent} with percent rounded to 4 decimals (100.0 if empty)."""
    pct = 100.0 * passed / total if total else 100.0
    return {"passed": int(passed), "failed": int(total - passed), "total": int(total),
            "percent": round(pct, 4)}


def weighted(by_category: dict[str, dict[str, Any]], weights: dict[str, float] = WEIGHTS) -> dict[str, Any]:
    """Category percents combined by weight, over the categories that have checks."""
    present = {c: w for c, w in weights.items() if c in by_category}
    total_w = sum(present.values())
    pct = (sum(w * by_category[c]["percent"] for c, w in present.items()) / total_w) if total_w else 100.0
    return {"percent": round(pct, 4), "weights": dict(weights)}


def summarize(tally: Tally) -> dict[str, Any]:
    """The aggregate part of summary.json."""
    out: dict[str, Any] = {"overall": counts(tally.passed, tally.total)}
    for name, groups in tally.groups.items():
        out[name] = {k: counts(p, t) for k, (p, t) in sorted(groups.items())}
    out["weighted"] = weighted(out["by_category"])
    out["per_patient"] = {p: {"passed": c[0], "total": c[1]} for p, c in sorted(tally.patients.items())}
    return out


def midi_b_overall(df: "pd.DataFrame", series_mode: bool) -> dict[str, Any]:
    """The official MIDI-B aggregate, computed by midib.keys.midi_b_formula (same rows)."""
    try:
        from midib.keys.midi_b_formula import midi_b_score
    except ImportError:
        from midib.keys.midi_b import midi_b_score  # type: ignore[attr-defined,no-redef]
    return dict(midi_b_score(df, series_mode))
