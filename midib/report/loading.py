"""Reading a scored run folder: what reports, leaderboards and comparisons are built from.

A *scored run* is whatever ``midib run`` + ``midib score`` left behind (``RUN/run.json`` and
``RUN/score/``), but reports must also cope with the other cases users hand us: a plain folder
that was scored without ``midib run`` (no run.json), a run that failed or was unavailable (a
run.json and no score), or the score folder itself. Each is loaded into one :class:`ScoredRun`
so that templates never need to know which case they are looking at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from midib.errors import FormatVersionError, MidibError

RUN_FORMAT, RUN_VERSION = "midib-run", 1
SCORE_FORMAT, SCORE_VERSION = "midib-score", 1


@dataclass
class ScoredRun:
    """One run as reports see it; ``summary``/``results`` are None when it was never scored."""

    root: Path
    run: Optional[dict[str, Any]]
    summary: Optional[dict[str, Any]]
    score_dir: Optional[Path]
    label: str = ""
    anchor: str = ""
    _results: Optional[pd.DataFrame] = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """ok | failed | timeout | crashed | unavailable | unscored (run.json absent means ok)."""
        status = (self.run or {}).get("status") or "ok"
        if status == "ok" and self.summary is None:
            return "unscored"
        return str(status)

    @property
    def scored(self) -> bool:
        return self.summary is not None

    @property
    def tool(self) -> dict[str, Any]:
        """{name, version}: from run.json, else from summary.json, else the folder name."""
        tool = dict((self.run or {}).get("tool") or (self.summary or {}).get("tool") or {})
        tool.setdefault("name", self.root.name)
        tool.setdefault("version", None)
        return tool

    def results(self) -> pd.DataFrame:
        """Per-check rows (parquet preferred, CSV otherwise); empty when unscored."""
        if self._results is None:
            self._results = read_results(self.score_dir) if self.score_dir else empty_results()
        return self._results


RESULT_COLUMNS = ["check_id", "source", "instance", "output_file", "patient_id", "study_uid",
                  "series_uid", "modality", "scope", "action", "path", "attribute", "tag_name",
                  "category", "hipaa_class", "ps315_action", "ps315_option", "iod_type",
                  "weight", "passed", "score", "expected", "observed", "reason"]


#: columns without which a results table cannot be read (older tables may lack the others)
REQUIRED_COLUMNS = ("check_id", "action", "passed")


def empty_results() -> pd.DataFrame:
    """A results table with the documented columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=bool if c == "passed" else object)
                         for c in RESULT_COLUMNS})


def read_results(score_dir: Path) -> pd.DataFrame:
    """The per-check results of a score folder, with ``passed`` as bool and text columns as str."""
    parquet, csv = score_dir / "results.parquet", score_dir / "results.csv"
    try:
        if parquet.is_file():
            df = pd.read_parquet(parquet)
        elif csv.is_file():
            df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        else:
            raise MidibError(f"{score_dir} has no results.parquet or results.csv; re-run 'midib score'")
    except (OSError, ValueError) as e:
        raise MidibError(f"cannot read results in {score_dir}: {e}") from e
    if missing := [c for c in REQUIRED_COLUMNS if c not in df.columns]:
        # filled with defaults, a foreign table read as "every check passed"
        raise MidibError(f"{score_dir}: the results table lacks {', '.join(missing)}: not a midib "
                         "results table; re-run 'midib score'")
    for col in RESULT_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    df["passed"] = df["passed"].map(_as_bool).astype(bool)
    text_cols = [c for c in RESULT_COLUMNS if c not in ("passed", "score", "weight")]
    df[text_cols] = df[text_cols].astype(object).where(df[text_cols].notna(), "").astype(str)
    return df


def _as_bool(value: Any) -> bool:
    """CSV stores booleans as text; parquet as bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def read_versioned_json(path: Path, kind: str, max_version: int) -> dict[str, Any]:
    """A midib JSON document, refusing other kinds and newer versions (as asv does)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise MidibError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict) or data.get("format") != kind:
        raise FormatVersionError(f"{path} is not a {kind} file")
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise FormatVersionError(f"{path}: version {version!r} is not a whole number; "
                                 f"not a {kind} file midib wrote")
    if version > max_version:
        raise FormatVersionError(f"{path} is {kind} version {version}, newer than this "
                                 f"midib understands ({max_version}); upgrade midib")
    return data


def check_summary(path: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` if it has the figures every report reads (overall percent, passed, total),
    else one line: a summary cut short or written by hand failed deep in the templates."""
    overall = summary.get("overall")
    if not isinstance(overall, dict) or not all(
            isinstance(overall.get(k), (int, float)) and not isinstance(overall.get(k), bool)
            for k in ("percent", "passed", "total")):
        raise MidibError(f"{path} has no overall percent, passed and total: not a complete "
                         "midib score; re-run 'midib score'")
    return summary


#: what a report or a JUnit file must never be written over: the scored run's own records
_INPUT_FILES = ("run.json", "summary.json", "results.parquet", "results.csv")


def refuse_overwriting(target: Path, runs: list["ScoredRun"], option: str) -> None:
    """One line when ``target`` is a file a loaded run is read from (its run.json, its score's
    summary or results) or lies in its output or mapping folder: `report --out
    SCORE/summary.json` replaced the score with HTML; or inside a benchmark. A report beside
    them is fine."""
    where = target.resolve()
    for folder in where.parents:   # --junit BENCH/benchmark.json replaced the manifest
        if (folder / "benchmark.json").is_file() and (folder / "input").is_dir():
            raise MidibError(f"{option} {target} is inside the benchmark {folder}; write it elsewhere")
    for r in runs:
        folders = [r.root / "output", r.root / "mapping"]
        files = [r.root / "run.json"] + [r.score_dir / n for n in _INPUT_FILES if r.score_dir]
        if any(where == f.resolve() for f in files) or any(
                f.resolve() in where.parents for f in folders if f.is_dir()):
            raise MidibError(f"{option} {target} is inside the run {r.root} it reads; "
                             "write it elsewhere")


def load_run(path: str | Path) -> ScoredRun:
    """Load a run folder, a scored plain folder, or a score folder itself."""
    root = Path(path)
    if not root.is_dir():
        raise MidibError(f"run folder not found: {root}")
    if (root / "summary.json").is_file() and not (root / "score").is_dir():
        score_dir: Optional[Path] = root
        root = root.parent if (root.parent / "run.json").is_file() else root
    else:
        score_dir = root / "score" if (root / "score" / "summary.json").is_file() else None
    run = read_versioned_json(root / "run.json", RUN_FORMAT, RUN_VERSION) \
        if (root / "run.json").is_file() else None
    summary = check_summary(score_dir / "summary.json", read_versioned_json(
        score_dir / "summary.json", SCORE_FORMAT, SCORE_VERSION)) if score_dir else None
    if run is None and summary is None:
        raise MidibError(f"{root} is neither a run folder (no run.json) nor scored "
                         "(no score/summary.json); run 'midib score BENCH " f"{root}' first")
    loaded = ScoredRun(root=root, run=run, summary=summary, score_dir=score_dir)
    loaded.label = loaded.tool["name"]
    return loaded


def load_runs(paths: list[str | Path]) -> list[ScoredRun]:
    """Load several runs and give each a unique label and HTML anchor."""
    runs = [load_run(p) for p in paths]
    seen: dict[str, int] = {}
    for r in runs:
        n = seen[r.label] = seen.get(r.label, 0) + 1
        if n > 1:
            r.label = f"{r.label} ({r.root.name})" if r.root.name != r.label else f"{r.label} #{n}"
    for i, r in enumerate(runs):
        r.anchor = f"run-{i + 1}-" + re.sub(r"[^a-z0-9]+", "-", r.label.lower()).strip("-")
    return runs
