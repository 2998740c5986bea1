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


def test_an_option_the_tool_never_reads_is_one_line(mini_bench: Path, tmp_path: Path, capsys) -> None:
    """A typo in --set once ran the tool with its defaults and exit 0."""
    out = tmp_path / "run"
    code = main(["run", str(mini_bench), "--tool", "strip", "--set", "pixles=keep", "--out", str(out)])
    one_line(capsys, code, "unknown --set option pixles", "pixels")
    assert not out.exists()
    code = main(["run", str(mini_bench), "--tool", "identity", "--set", "x=1", "--out", str(out)])
    one_line(capsys, code, "takes no options")
    assert main(["run", str(mini_bench), "--tool", "strip", "--set", "pixels=keep", "--out", str(out)]) == 0


def test_every_built_in_adapter_lists_the_options_its_code_reads() -> None:
    """The accepted keys are the ones the adapter's module reads: none missing (a documented
    option refused) and none invented."""
    import re
    from midib.run.registry import known_tools, get_tool
    for name in known_tools():
        entry = get_tool(name)
        if entry.adapter is None:
            continue
        module = __import__(type(entry.adapter).__module__, fromlist=["_"])
        text = Path(module.__file__).read_text()
        read = set(re.findall(r'options(?:\.get\(|\[)"([a-z_]+)"', text))
        read |= set(re.findall(r'"([a-z_]+)" in (?:ctx\.|self\.)?options', text))
        read |= set(re.findall(r'_choice\((?:ctx\.)?options, "([a-z_]+)"', text))
        assert entry.adapter.options_accepted is not None, name
        assert set(entry.adapter.options_accepted) == read, (name, read)
