"""The score folder: results.parquet, results.csv (written by :class:`FileSink`) and summary.json
(``sink.SCORE_FILES``: nothing else is written there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from midib import __version__
from midib.benchmark import Benchmark
from midib.errors import MidibError
from midib.score.aggregate import midi_b_overall, summarize
from midib.score.inputs import RunFolder
from midib.score.scorer import ScoreResult
from midib.score.sink import open_score_file

SUMMARY_FORMAT = "midib-score"
SUMMARY_VERSION = 1


def build_summary(result: ScoreResult, bench: Benchmark, run: RunFolder, formula: str,
                  series_mode: bool, mappings: Optional[list[Optional[Path]]] = None) -> dict[str, Any]:
    """summary.json's content (versioned); ``mappings``: the UID and PatientID mapping CSVs
    read (default: the run folder's own)."""
    used = mappings if mappings is not None else [run.uid_mapping, run.patid_mapping]
    m = result.match
    summary: dict[str, Any] = {
        "format": SUMMARY_FORMAT, "version": SUMMARY_VERSION, "midib_version": __version__,
        "benchmark": str(bench.root), "benchmark_id": bench.fingerprint(), "run": str(run.run_dir),
        "tool": dict(run.run_info.get("tool") or {"name": run.output_root.name, "version": None}),
        "profile": result.profile, "formula": formula, **summarize(result.sink.tally),
        "matching": {"method": m.methods_used(), "matched": len(m.pairs),
                     "unmatched_inputs": m.unmatched_inputs, "extra_outputs": m.extra_outputs,
                     "duplicate_outputs": m.duplicate_outputs,
                     "unreadable_outputs": m.unreadable_outputs,
                     "rejected_outputs": m.rejected_outputs,
                     "mapping_files": [str(f) for f in used if f]},
        "ocr": {"available": result.ocr.available, "reason": result.ocr.reason,
                "boxes": result.ocr.boxes, "seconds": round(result.ocr.seconds, 3)},
        "conformance": result.conformance,
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
    if formula == "midi-b":
        try:
            official = midi_b_overall(result.sink.frame(), series_mode)
        except ImportError as e:
            raise MidibError(f"--formula midi-b needs midib.keys.midi_b_formula (not available: {e})") from e
        summary["midi_b"] = official
        if official.get("percent") is not None:
            summary["overall"] = {k: official[k] for k in ("percent", "passed", "failed", "total")}
    return summary


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """Write summary.json (the result tables were streamed by the sink), never through a link:
    the score folder may sit in an untrusted submission (:func:`open_score_file`)."""
    text = json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with open_score_file(out_dir, "summary.json") as f:
        # a file name that is not UTF-8 reaches here as lone surrogates: written as the JSON
        # escape \udcff (backslashreplace gives exactly that text), never a crash
        f.write(text.encode("utf-8", "backslashreplace"))
