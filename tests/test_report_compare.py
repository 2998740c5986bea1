"""`midib compare`: exit codes of the regression gate, tolerance, and the JUnit file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from midib.cli import main
from midib.errors import MidibError
from midib.report.compare import compare_runs, parse_tolerance
from midib.report.loading import load_run
from test_report_support import check_row, make_run

NAME, BIRTH = "(0010,0010)", "(0010,0030)"


def rows(**passed: bool) -> list[dict]:
    """Checks a, b (PatientName) and c, d (PatientBirthDate) with the given pass states."""
    attrs = {"a": NAME, "b": NAME, "c": BIRTH, "d": BIRTH}
    return [check_row(k, passed.get(k, True), attribute=attrs[k], observed=f"obs-{k}")
            for k in attrs]


@pytest.fixture()
def runs(tmp_path: Path) -> dict[str, Path]:
    return {
        "base": make_run(tmp_path / "base", "t", rows(a=False, c=False)),
        "leak": make_run(tmp_path / "leak", "t", rows(a=False, c=False, b=False, d=False)),
        "fixed": make_run(tmp_path / "fixed", "t", rows(c=False)),
    }


def test_new_failure_exits_1_and_junit_names_the_group(tmp_path, runs, capsys):
    junit = tmp_path / "junit.xml"
    code = main(["compare", str(runs["base"]), str(runs["leak"]), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 1
    assert "newly failing: 2" in out and "REGRESSION" in out
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 2                             # (0010,0010) and (0010,0030) x text_removed
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 2
    assert "b: expected" in failed[0].find("failure").text or "b: expected" in failed[1].find("failure").text
    assert root.find("testsuite").get("failures") == "2"


def test_fixed_only_exits_0(tmp_path, runs, capsys):
    junit = tmp_path / "junit.xml"
    assert main(["compare", str(runs["base"]), str(runs["fixed"]), "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    assert "fixed: 1" in out and "still failing: 1" in out and "newly failing: 0" in out
    assert ET.parse(junit).getroot().findall(".//failure") == []


def test_tolerance_count_and_percent(runs):
    assert main(["compare", str(runs["base"]), str(runs["leak"]), "--tolerance", "2"]) == 0
    assert main(["compare", str(runs["base"]), str(runs["leak"]), "--tolerance", "1"]) == 1
    assert main(["compare", str(runs["base"]), str(runs["leak"]), "--tolerance", "50%"]) == 0
    assert main(["compare", str(runs["base"]), str(runs["leak"]), "--tolerance", "49%"]) == 1


def test_tolerance_syntax():
    assert parse_tolerance("3").allowed(1000) == 3
    assert parse_tolerance("0.5%").allowed(1000) == 5
    with pytest.raises(MidibError, match="tolerance"):
        parse_tolerance("-1")
    with pytest.raises(MidibError, match="tolerance"):
        parse_tolerance("0.5")


def test_groups_split_changes(runs):
    cmp = compare_runs(load_run(runs["base"]), load_run(runs["leak"]))
    by = {(g.attribute, g.action): g for g in cmp.groups}
    name = by[(NAME, "text_removed")]
    assert [r["check_id"] for r in name.new_failures] == ["b"]
    assert [r["check_id"] for r in name.still_failing] == ["a"]
    assert name.total == 2 and cmp.n_checks == 4


def test_check_missing_from_base_counts_as_new_failure(tmp_path, runs):
    new = make_run(tmp_path / "more", "t", rows(a=False, c=False) + [check_row("e", False)])
    cmp = compare_runs(load_run(runs["base"]), load_run(new))
    assert cmp.only_in_new == 1 and cmp.count("new_failures") == 1


def test_unrelated_runs_and_unscored_runs_are_user_errors(tmp_path, runs, capsys):
    other = make_run(tmp_path / "other", "t", [check_row("zzz", True)])
    assert main(["compare", str(runs["base"]), str(other)]) == 2
    assert "share no check id" in capsys.readouterr().err
    failed = make_run(tmp_path / "failed", "t", [], status="failed", scored=False)
    assert main(["compare", str(runs["base"]), str(failed)]) == 2
    assert "has no score" in capsys.readouterr().err


def _stamp(run: Path, **fields) -> None:
    path = run / "score" / "summary.json"
    summary = json.loads(path.read_text())
    summary.update(fields)
    path.write_text(json.dumps(summary))


def test_scores_of_different_benchmarks_or_profiles_are_refused(runs, capsys):
    """Check ids are ledger numbers, shared by every benchmark: two scores of different data
    once compared as 5,879 "newly failing" checks, exit 1."""
    _stamp(runs["base"], benchmark_id="aaaa", profile="midi-b")
    _stamp(runs["leak"], benchmark_id="bbbb", profile="midi-b")
    assert main(["compare", str(runs["base"]), str(runs["leak"])]) == 2
    assert "different benchmarks" in capsys.readouterr().err
    _stamp(runs["leak"], benchmark_id="aaaa", profile="basic")
    assert main(["compare", str(runs["base"]), str(runs["leak"])]) == 2
    assert "different profiles" in capsys.readouterr().err
    _stamp(runs["leak"], benchmark_id="aaaa", profile="midi-b")
    assert main(["compare", str(runs["base"]), str(runs["leak"])]) == 1     # same data: the gate


def test_the_benchmark_id_follows_the_data_not_the_folder(mini_bench: Path, tmp_path: Path) -> None:
    import shutil
    from midib.benchmark import Benchmark
    copy = tmp_path / "copy"
    shutil.copytree(mini_bench, copy)
    assert Benchmark(copy).fingerprint() == Benchmark(mini_bench).fingerprint()
    manifest = json.loads((copy / "benchmark.json").read_text())
    name = sorted(manifest["input_sha256"])[0]
    manifest["input_sha256"][name] = "0" * 64
    (copy / "benchmark.json").write_text(json.dumps(manifest))
    assert Benchmark(copy).fingerprint() != Benchmark(mini_bench).fingerprint()
