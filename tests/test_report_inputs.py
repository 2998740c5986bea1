"""`report` and `compare` read scored runs and must neither write over them nor take a broken
summary or a foreign results table for a score: `report --out SCORE/summary.json` replaced the
score with HTML, a summary whose version was "x" raised ValueError, and a Parquet file with one
column `a` was reported as "0 failed checks"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from midib.cli import main
from tests.test_cli_paths import one_line


@pytest.fixture(scope="module")
def scored(mini_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("inputs") / "identity"
    assert main(["run", str(mini_bench), "--tool", "identity", "--out", str(run)]) == 0
    assert main(["score", str(mini_bench), str(run), "--no-ocr", "--no-conformance", "--jobs", "1"]) == 0
    return run


@pytest.fixture
def copy(scored: Path, tmp_path: Path) -> Path:
    shutil.copytree(scored, tmp_path / "run")
    return tmp_path / "run"


@pytest.mark.parametrize("target", ["score/summary.json", "score/results.parquet", "run.json",
                                    "output/report.html"])
def test_report_never_writes_over_the_run_it_reads(copy: Path, capsys, target: str) -> None:
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    one_line(capsys, main(["report", str(copy), "--out", str(copy / target)]), "inside the run")
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    one_line(capsys, main(["report", str(copy), "--out", str(copy.parent / "r.html"),
                           "--markdown", str(copy / target)]), "--markdown")
    assert not (copy.parent / "r.html").exists()     # refused before anything was written


def test_a_report_beside_the_score_is_written(copy: Path) -> None:
    assert main(["report", str(copy), "--out", str(copy / "score" / "report.html")]) == 0
    assert (copy / "score" / "report.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_compare_junit_never_writes_over_a_compared_run(copy: Path, scored: Path, capsys) -> None:
    summary = (copy / "score" / "summary.json").read_bytes()
    code = main(["compare", str(scored), str(copy), "--junit", str(copy / "score" / "summary.json")])
    one_line(capsys, code, "--junit", "inside the run")
    assert (copy / "score" / "summary.json").read_bytes() == summary


@pytest.mark.parametrize("command", ["report", "compare"])
def test_report_and_compare_never_write_into_a_benchmark(mini_bench: Path, copy: Path, scored: Path,
                                                         capsys, command: str) -> None:
    """`compare --junit BENCH/benchmark.json` replaced the benchmark's manifest with XML."""
    target = mini_bench / "benchmark.json"
    before = target.read_bytes()
    args = (["report", str(copy), "--out", str(target)] if command == "report" else
            ["compare", str(scored), str(copy), "--junit", str(target)])
    one_line(capsys, main(args), "inside the benchmark")
    assert target.read_bytes() == before


@pytest.mark.parametrize("edit", [lambda s: s.update(version="x"), lambda s: s.update(version=None),
                                  lambda s: s.update(version=True), lambda s: s.pop("overall"),
                                  lambda s: s.update(overall={"percent": "high"})])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_damaged_summary_is_one_line(copy: Path, scored: Path, tmp_path: Path, capsys, edit,
                                       command: str) -> None:
    path = copy / "score" / "summary.json"
    summary = json.loads(path.read_text())
    edit(summary)
    path.write_text(json.dumps(summary))
    argv = (["report", str(copy), "--out", str(tmp_path / "r.html")] if command == "report"
            else ["compare", str(scored), str(copy)])
    one_line(capsys, main(argv), str(path))


def test_a_foreign_results_table_is_one_line_not_a_clean_run(copy: Path, tmp_path: Path, capsys) -> None:
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(copy / "score" / "results.parquet")
    code = main(["report", str(copy), "--out", str(tmp_path / "r.html")])
    one_line(capsys, code, "lacks check_id, action, passed")


def test_a_markdown_that_cannot_be_written_leaves_no_html(copy: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("a file\n")
    code = main(["report", str(copy), "--out", str(tmp_path / "r.html"),
                 "--markdown", str(tmp_path / "afile" / "x.md")])
    one_line(capsys, code, "--markdown")
    assert not (tmp_path / "r.html").exists()
