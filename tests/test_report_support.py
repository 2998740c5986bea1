"""Hand-made scored run folders (run.json + score/) for report tests, per docs/architecture.md.

The report tests must not wait for the generator, runner and scorer: this factory writes the
documented Run-folder and Score-folder formats directly, computing summary.json from the rows
the same way the scorer documents it, so that the expected numbers are known exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import pydicom
from pydicom.data import get_testdata_file

from midib.answer_key import Check, write_key
from midib.report.loading import RESULT_COLUMNS

PIXEL_BOX = [10, 10, 60, 30]


def check_row(check_id: str, passed: bool, *, patient: str = "P1", action: str = "text_removed",
              attribute: str = "(0010,0010)", category: str = "hipaa", modality: str = "CT",
              expected: Any = None, observed: str = "", source: str = "key",
              output_file: str = "") -> dict[str, Any]:
    """One results row with the documented columns."""
    row = {c: "" for c in RESULT_COLUMNS}
    row.update(check_id=check_id, source=source, instance=f"1.2.3.{check_id}", patient_id=patient,
               modality=modality, scope="instance", action=action, path=attribute,
               attribute=attribute, tag_name="PatientName", category=category,
               hipaa_class="names", weight=1.0, passed=passed, score=1.0 if passed else 0.0,
               expected=json.dumps(expected if expected is not None else {"value": "X"}),
               observed=observed, reason="" if passed else "value still present",
               output_file=output_file)
    return row


def _groups(df: pd.DataFrame, col: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name, g in df.groupby(col):
        p, t = int(g["passed"].sum()), int(len(g))
        out[str(name)] = {"passed": p, "failed": t - p, "total": t, "percent": 100.0 * p / t}
    return out


def summary_for(df: pd.DataFrame, tool: str, bench: Optional[Path]) -> dict[str, Any]:
    """summary.json contents computed from rows (weighted = 70/20/10 over present categories)."""
    p, t = int(df["passed"].sum()), int(len(df))
    cats = _groups(df, "category")
    weights = {"hipaa": 70, "dicom": 20, "best_practice": 10}
    present = {c: w for c, w in weights.items() if c in cats}
    weighted = sum(cats[c]["percent"] * w for c, w in present.items()) / max(sum(present.values()), 1)
    per_patient = {k: {"passed": v["passed"], "total": v["total"]}
                   for k, v in _groups(df, "patient_id").items()}
    return {
        "format": "midib-score", "version": 1, "midib_version": "0.1.0",
        "benchmark": str(bench) if bench else "", "run": "", "tool": {"name": tool, "version": "1.0"},
        "profile": "midi-b", "formula": "midib",
        "overall": {"percent": 100.0 * p / t if t else 100.0, "passed": p, "failed": t - p, "total": t},
        "weighted": {"percent": weighted, "weights": weights},
        "by_category": cats, "by_action": _groups(df, "action"),
        "by_modality": _groups(df, "modality"), "by_attribute": _groups(df, "attribute"),
        "by_hipaa_class": _groups(df, "hipaa_class"),
        "matching": {"method": "pixels", "matched": 3, "unmatched_inputs": ["CT/missing.dcm"],
                     "extra_outputs": ["extra<b>.dcm"], "duplicate_outputs": []},
        "ocr": {"available": True, "boxes": 1, "seconds": 0.1},
        "conformance": {"available": True, "reason": "", "introduced_errors": [
            "out/a.dcm: Error - Missing attribute Type 1 Required Element=<PatientID>"]},
        "timings": {"match": 0.1}, "per_patient": per_patient,
    }


def make_run(root: Path, tool: str, rows: list[dict[str, Any]], *, status: str = "ok",
             run_json: bool = True, scored: bool = True, bench: Optional[Path] = None,
             wall_seconds: float = 1.5) -> Path:
    """Write RUN/run.json (optional) and RUN/score/{results.parquet,results.csv,summary.json}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(exist_ok=True)
    if run_json:
        run = {"format": "midib-run", "version": 1, "benchmark": str(bench) if bench else "",
               "tool": {"name": tool, "version": "1.0"}, "command": [tool, "in", "out"],
               "options": {}, "started": "2026-01-01T00:00:00Z", "ended": "2026-01-01T00:00:02Z",
               "wall_seconds": wall_seconds, "cpu_seconds": 1.0, "peak_memory_mb": 80.0,
               "exit_code": 0 if status == "ok" else 1, "status": status,
               "reason": "" if status == "ok" else f"{tool} is not installed",
               "stdout": "logs/stdout.txt", "stderr": "logs/stderr.txt", "input_files": 3,
               "output_files": 3, "input_untouched": True, "input_problems": [],
               "mapping": {"uid": None, "patid": None}}
        (root / "run.json").write_text(json.dumps(run), encoding="utf-8")
    if scored:
        score = root / "score"
        score.mkdir(exist_ok=True)
        df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        df.to_parquet(score / "results.parquet")
        df.to_csv(score / "results.csv", index=False)
        (score / "summary.json").write_text(json.dumps(summary_for(df, tool, bench)), encoding="utf-8")
    return root


def make_pixel_bench(tmp: Path) -> tuple[Path, Path]:
    """A benchmark with one input image and its answer key; returns (bench, image relative path)."""
    bench = tmp / "bench"
    src = Path(get_testdata_file("CT_small.dcm"))
    (bench / "input" / "CT").mkdir(parents=True)
    shutil.copy(src, bench / "input" / "CT" / "img.dcm")
    (bench / "benchmark.json").write_text(json.dumps({"format": "midib-benchmark", "version": 1}))
    check = Check(id="pix1", instance="1.2.3", file="CT/img.dcm", patient_id="P1", study_uid="1",
                  series_uid="2", modality="CT", scope="instance", action="pixels_hidden",
                  path=None, tag_name="PixelData",
                  expected={"text": "DOE^JOHN", "box": PIXEL_BOX, "frame": 0})
    write_key(bench / "answer_key" / "checks.jsonl", [check], {"profile": "midi-b"})
    return bench, Path("CT/img.dcm")


def copy_output(run_root: Path, rel: Path) -> None:
    """Put a (pixel-identical) output image into RUN/output/rel, as a tool that ignored pixels would."""
    src = Path(get_testdata_file("CT_small.dcm"))
    (run_root / "output" / rel).parent.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(src)
    ds.PatientName = "ANON"
    ds.save_as(run_root / "output" / rel)


def test_factory_summary_counts(tmp_path: Path) -> None:
    """The factory's summary must agree with its rows, or every report test is meaningless."""
    rows = [check_row("a", True), check_row("b", False, patient="P2"), check_row("c", True)]
    run = make_run(tmp_path / "r", "tool", rows)
    summary = json.loads((run / "score" / "summary.json").read_text())
    assert summary["overall"]["passed"] == 2 and summary["overall"]["total"] == 3
    assert summary["per_patient"]["P2"] == {"passed": 0, "total": 1}
