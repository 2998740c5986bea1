"""The official MIDI-B aggregate score, computed from midib results.

Official rule (the challenge's scoring report): score = passed / (passed + failed + blank), over
every check of the answer key, where *blank* is a check the scorer could not decide (the
official script leaves every pixels_hidden blank, and any check whose evaluation raised).
In *series mode* the official report drops the per-instance columns (instance, file name and
path, row indexes), sorts failures first and removes exact duplicate rows, so one series counts
an identical finding once while a failure is never hidden behind a pass.

midib results carry more checks than the official key (leak sweep, conformance, midib's own
actions); only key checks with a MIDI-B action take part, with text_cleaned counted as the
text_removed it is exported as. Filename checks (no attribute path) have no official
counterpart and are left out.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pandas as pd

MIDI_B_ACTIONS = ("text_removed", "text_retained", "tag_retained", "text_notnull", "date_shifted",
                  "uid_changed", "uid_consistent", "patid_consistent", "pixels_hidden",
                  "pixels_retained")
#: columns that survive the official series-mode de-duplication (midib names)
SERIES_COLUMNS = ("action", "path", "tag_name", "expected", "observed", "score", "passed",
                  "modality", "patient_id", "study_uid", "series_uid")


def official_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The result rows the official scorer would have: key checks with a MIDI-B action."""
    rows = results
    if "source" in rows.columns:
        rows = rows[rows["source"] == "key"]
    rows = rows[rows["action"].isin(MIDI_B_ACTIONS + ("text_cleaned",))]
    if "path" in rows.columns:
        rows = rows[rows["path"].notna() & (rows["path"] != "")]
    rows = rows.copy()
    rows["action"] = rows["action"].replace({"text_cleaned": "text_removed"})
    return rows


def _verdicts(rows: pd.DataFrame) -> pd.Series:
    """1 pass, 0 fail, NaN blank (None/NaN in ``passed``)."""
    return rows["passed"].map(lambda v: float("nan") if v is None or pd.isna(v) else float(bool(v)))


def series_dedup(rows: pd.DataFrame, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Official series mode: failures first, then drop rows identical on ``columns``."""
    cols = [c for c in (columns or SERIES_COLUMNS) if c in rows.columns]
    keyed = rows.assign(_verdict=_verdicts(rows))
    keyed = keyed.sort_values("_verdict", kind="stable", na_position="last")
    as_text = keyed[cols].astype(str)
    return keyed.loc[~as_text.duplicated(keep="first")].drop(columns="_verdict")


def midi_b_score(results: pd.DataFrame, series_mode: bool = False,
                 columns: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Official aggregate: {"percent", "passed", "failed", "blank", "total", "series_mode"}.

    ``columns`` replaces the series-mode identity columns (default :data:`SERIES_COLUMNS`,
    the official report's); pass e.g. ``("action", "path", "patient_id", "study_uid",
    "series_uid")`` for one verdict per attribute and series.
    """
    rows = official_rows(results)
    if series_mode:
        rows = series_dedup(rows, columns)
    verdicts = _verdicts(rows)
    passed, failed = int((verdicts == 1).sum()), int((verdicts == 0).sum())
    blank = int(verdicts.isna().sum())
    total = passed + failed + blank
    return {"percent": round(100.0 * passed / total, 4) if total else None, "passed": passed,
            "failed": failed, "blank": blank, "total": total, "series_mode": series_mode}
