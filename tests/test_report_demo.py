"""`midib demo`: orchestration with stand-in commands (fast), and end to end once all parts exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from midib.cli import main
from midib.report import demo
from test_report_support import check_row, make_run


def fake_commands(monkeypatch: pytest.MonkeyPatch, outcomes: dict[str, str]) -> list[list[str]]:
    """Replace generate/run/score with stand-ins that write the documented files."""
    calls: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        calls.append(argv)
        if argv[0] == "generate":
            Path(argv[1]).mkdir(parents=True)
            (Path(argv[1]) / "benchmark.json").write_text(json.dumps(
                {"format": "midib-benchmark", "version": 1, "preset": "mini", "seed": 0}))
            return 0
        if argv[0] == "run":
            tool, out = argv[argv.index("--tool") + 1], Path(argv[argv.index("--out") + 1])
            status = outcomes[tool]
            if status == "crash-before-run-json":
                raise RuntimeError("adapter exploded")
            passed = {"oracle": [True, True], "identity": [False, False], "good": [True, False]}
            rows = [check_row(f"c{i}", p, patient=f"P{i}")
                    for i, p in enumerate(passed.get(tool, [False, False]))]
            make_run(out, tool, rows, status=status, scored=False)
            out.joinpath("pending.json").write_text(json.dumps(rows))
            return 0 if status == "ok" else 1
        if argv[0] == "score":
            run_dir = Path(argv[2])
            rows = json.loads(run_dir.joinpath("pending.json").read_text())
            make_run(run_dir, json.loads((run_dir / "run.json").read_text())["tool"]["name"], rows)
            return 0
        raise AssertionError(argv)

    monkeypatch.setattr(demo, "main", fake_main)
    return calls


def test_demo_ranks_tools_and_survives_failures(tmp_path, monkeypatch):
    outcomes = {"identity": "ok", "oracle": "ok", "good": "ok", "broken": "failed",
                "absent": "unavailable", "boom": "crash-before-run-json"}
    calls = fake_commands(monkeypatch, outcomes)
    result = demo.run_demo(tmp_path / "out", tools=list(outcomes))
    order = [(r.label, r.status) for r in result.board]
    assert order[:3] == [("oracle", "ok"), ("good", "ok"), ("identity", "ok")]
    assert {("broken", "failed"), ("absent", "unavailable")} <= set(order[3:])
    assert "boom" not in [label for label, _ in order]
    assert any(n.startswith("boom: not run") for n in result.notes)
    assert result.html.read_text().count('class="run"') == 5
    assert "| 1 | oracle" in result.markdown.read_text()
    assert [c[0] for c in calls].count("score") == 3          # only tools whose run was ok


def test_demo_reuses_matching_benchmark_and_refuses_another(tmp_path, monkeypatch):
    calls = fake_commands(monkeypatch, {"identity": "ok"})
    demo.run_demo(tmp_path / "out", tools=["identity"])
    demo.run_demo(tmp_path / "out", tools=["identity"])
    assert [c[0] for c in calls].count("generate") == 1
    with pytest.raises(Exception, match="another benchmark"):
        demo.run_demo(tmp_path / "out", tools=["identity"], seed=1)


def test_demo_default_tools_put_baselines_first():
    names = demo.tool_names(None)
    assert names[:3] == ["identity", "strip", "oracle"] and "dicognito" in names


def implemented(command: str) -> bool:
    """A placeholder command declares no arguments at all."""
    import argparse
    import importlib

    parser = argparse.ArgumentParser(add_help=False)
    importlib.import_module(f"midib.commands.{command}").configure(parser)
    return bool(parser._actions)


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    """The README's main job: needs the real generator, runner and scorer."""
    if not (demo.accepts("generate", "--preset") and implemented("score")):
        pytest.skip("generate/score commands not implemented yet")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--tools", "identity,strip,oracle"]) == 0
    html = (out / "leaderboard.html").read_text()
    assert 'id="leaderboard"' in html and "oracle" in html
    first = [line for line in (out / "leaderboard.md").read_text().splitlines()
             if line.startswith("| 1 |")]
    assert first and "oracle" in first[0]


def test_a_tool_that_cannot_run_is_a_plain_note(tmp_path):
    """The runner says a failed run on stderr as an error line; in the demo it is one row's
    note, not an error of the demo."""
    from midib.report.demo import run_and_score
    bench = tmp_path / "bench"
    assert demo.main(["generate", str(bench), "--preset", "mini"]) == 0
    note = run_and_score(bench, tmp_path / "runs" / "x", "identity", 1)
    assert note == "identity: scored"
    note = run_and_score(bench, tmp_path / "runs" / "p", "no_such_module:Tool", 1)
    assert "unavailable" in note and not note.startswith("midib: error"), note
