"""End to end on the generator's `mini` benchmark: every built-in tool reaches a recorded status."""

from __future__ import annotations

from pathlib import Path

import pytest

from midib.cli import main
from midib.run.registry import BUILTINS
from midib.run.runfile import STATUSES, read_record


@pytest.mark.slow
@pytest.mark.parametrize("tool", list(BUILTINS))
def test_every_builtin_reaches_a_status_on_mini(mini_bench: Path, tmp_path: Path, tool: str) -> None:
    out = tmp_path / tool
    code = main(["run", str(mini_bench), "--tool", tool, "--out", str(out), "--timeout", "300"])
    rec = read_record(out)
    assert rec.status in STATUSES and code == (0 if rec.status == "ok" else 1)
    assert rec.input_untouched, rec.input_problems
    if tool in ("identity", "strip", "oracle"):
        assert rec.status == "ok" and rec.output_files == rec.input_files


@pytest.mark.slow
def test_oracle_scores_100_percent_on_mini(mini_bench: Path, tmp_path: Path) -> None:
    score_cmd = pytest.importorskip("midib.commands.score")
    assert score_cmd is not None
    out = tmp_path / "oracle"
    assert main(["run", str(mini_bench), "--tool", "oracle", "--out", str(out)]) == 0
    assert main(["score", str(mini_bench), str(out), "--no-ocr"]) == 0
    import json

    summary = json.loads((out / "score" / "summary.json").read_text())
    assert summary["overall"]["failed"] == 0 and summary["overall"]["percent"] == 100.0
