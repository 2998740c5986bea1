"""The pixel phase OCRs crops in batches as units arrive: batch boundaries must not change a
verdict, and the OCR figures must count every box once. (Tesseract may read a crop slightly
differently beside other crops, so the observed text is not compared, only the verdicts.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from midib.benchmark import Benchmark
from midib.score import pixelphase
from midib.score.inputs import open_run
from midib.score.scorer import ScoreOptions, score_run


def pixel_rows(bench: Path, run: Path, jobs: int) -> tuple[pd.DataFrame, int]:
    result = score_run(Benchmark(bench), open_run(run), ScoreOptions(jobs=jobs, ocr=True, conformance=False))
    rows = result.sink.frame()
    rows = rows[rows.action.isin(["pixels_hidden", "pixels_retained", "overlay_hidden"])]
    return rows.reset_index(drop=True), result.ocr.boxes


def test_ocr_batches_of_one_box_or_all_boxes_give_the_same_verdicts(
        mini_bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pytesseract")
    run = mini_bench / "input"          # identity: every burned-in label still readable
    whole, boxes = pixel_rows(mini_bench, run, jobs=1)
    monkeypatch.setattr(pixelphase, "OCR_BATCH", 1)
    one_by_one, boxes_again = pixel_rows(mini_bench, run, jobs=2)
    verdicts = ["check_id", "action", "passed"]
    pd.testing.assert_frame_equal(whole[verdicts], one_by_one[verdicts])
    hidden = whole[whole.action == "pixels_hidden"]
    assert boxes == boxes_again == len(hidden) > 0
    if whole.reason.str.contains("OCR did not run").any():
        pytest.skip("tesseract not installed: only uniformity was judged")
    assert not hidden.passed.any(), "identity left burned-in text that OCR should read"
