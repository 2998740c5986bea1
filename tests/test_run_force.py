"""`run --force` replaces an earlier run, never a folder of someone's files: it once deleted
any folder given as --out (import-key already refused a folder that is not a benchmark)."""

from __future__ import annotations

from pathlib import Path

from midib.cli import main
from tests.test_cli_paths import one_line


def test_force_refuses_a_folder_that_is_not_a_run(mini_bench: Path, tmp_path: Path, capsys) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    code = main(["run", str(mini_bench), "--tool", "identity", "--out", str(mine), "--force"])
    one_line(capsys, code, "not a midib run folder", "thesis.tex")
    assert (mine / "thesis.tex").read_text() == "years of work\n"


def test_force_replaces_an_earlier_run_and_one_cut_short(mini_bench: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["run", str(mini_bench), "--tool", "identity", "--out", str(run)]) == 0
    (run / "output" / "stale.dcm").write_bytes(b"old")
    assert main(["run", str(mini_bench), "--tool", "identity", "--out", str(run), "--force"]) == 0
    assert not (run / "output" / "stale.dcm").exists()
    (run / "run.json").unlink()                      # a run stopped before its record
    assert main(["run", str(mini_bench), "--tool", "identity", "--out", str(run), "--force"]) == 0
    assert (run / "run.json").is_file()
