"""Geometry for the inline SVG charts (the template draws them; this computes where).

Scores of real de-identifiers cluster near the top (MIDI-B: 97.91 to 99.93%), so a 0-100 axis
would show identical bars; the leaderboard axis starts just below the lowest interval so that
differences and overlapping intervals are visible, and the axis labels say where it starts.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from midib.report.leaderboard import BoardRow

WIDTH, LABEL_W, BAR_H, GAP = 640, 170, 18, 8


def axis_start(rows: list[BoardRow]) -> float:
    """A round lower bound below every score and interval (0 when scores are spread out)."""
    lows = [min(r.score, r.ci[0] if r.ci else r.score) for r in rows if r.score is not None]
    if not lows:
        return 0.0
    low = min(lows)
    step = 1.0 if low >= 90 else 10.0
    return max(0.0, math.floor((low - step / 2) / step) * step)


def scale(value: float, start: float, end: float = 100.0) -> float:
    """x position in the plot area for a percentage."""
    span = max(end - start, 1e-9)
    return LABEL_W + (min(max(value, start), end) - start) / span * (WIDTH - LABEL_W - 20)


def leaderboard_chart(rows: list[BoardRow]) -> Optional[dict[str, Any]]:
    """Bars with 95% interval whiskers, one per scored run, ranked order."""
    scored = [r for r in rows if r.score is not None]
    if not scored:
        return None
    start = axis_start(scored)
    bars = []
    for i, r in enumerate(scored):
        y = 24 + i * (BAR_H + GAP)
        bars.append({"label": r.label, "anchor": r.anchor, "y": y, "mid": y + BAR_H / 2,
                     "x0": LABEL_W, "x1": round(scale(r.score, start), 1),
                     "ci": [round(scale(v, start), 1) for v in r.ci] if r.ci else None,
                     "score": r.score})
    ticks = _ticks(start)
    height = 24 + len(scored) * (BAR_H + GAP) + 20
    return {"width": WIDTH, "height": height, "bar_h": BAR_H, "bars": bars,
            "ticks": [{"x": round(scale(t, start), 1), "label": f"{t:g}"} for t in ticks],
            "axis_y": height - 16}


def _ticks(start: float) -> list[float]:
    step = (100 - start) / 5 if 100 - start > 5 else 1.0
    step = max(round(step), 1) if step >= 1 else step
    ticks, t = [], start
    while t <= 100 + 1e-9:
        ticks.append(round(t, 2))
        t += step
    return ticks


def category_chart(categories: list[dict[str, Any]]) -> dict[str, Any]:
    """Simple 0-100 bars for a run's per-category percentages."""
    bars = []
    for i, c in enumerate(categories):
        pct = float(c["percent"]) if c.get("percent") is not None else 0.0
        y = 6 + i * (BAR_H + GAP)
        bars.append({"label": c["name"], "y": y, "mid": y + BAR_H / 2,
                     "x1": round(scale(pct, 0.0), 1), "percent": pct})
    return {"width": WIDTH, "height": 12 + len(bars) * (BAR_H + GAP), "bar_h": BAR_H,
            "x0": LABEL_W, "bars": bars}
