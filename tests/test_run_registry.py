"""The registry: built-ins listed lazily, third-party adapters through the `midib.tools` group."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from midib.cli import main
from midib.run import registry
from midib.run.runfile import read_record
from test_run_helpers import make_bench


@pytest.fixture()
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake installed distribution registering two adapters (one broken) on sys.path."""
    site = tmp_path / "site"
    info = site / "fake_tool-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-tool\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [midib.tools]
        fake = fake_tool:FakeAdapter
        broken = fake_tool_missing:Nope
        identity = fake_tool:FakeAdapter
    """))
    (site / "fake_tool.py").write_text(textwrap.dedent("""
        import shutil
        from midib.run.adapter import ToolAdapter, ToolOutcome
        class FakeAdapter(ToolAdapter):
            description = "a plugin"
            def available(self): return True, ""
            def version(self): return "0.1"
            def run(self, input_dir, output_dir, ctx):
                shutil.copytree(input_dir, output_dir, dirs_exist_ok=True)
                return ToolOutcome(command="fake", notes=[ctx.options.get("flavour", "")])
    """))
    monkeypatch.syspath_prepend(str(site))
    return site


def test_builtins_all_listed_and_unknown_name_is_user_error() -> None:
    names = [e.name for e in registry.all_tools()]
    assert names[:len(registry.BUILTINS)] == list(registry.BUILTINS)
    with pytest.raises(Exception, match="unknown tool 'nope'"):
        registry.get_tool("nope")


def test_import_failure_is_a_reason_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTINS, "ghost", "midib.run.tools.no_such_module:Ghost")
    entry = registry.get_tool("ghost")
    assert entry.adapter is None and entry.status()[0] is False
    assert "no_such_module" in entry.status()[1]


def test_entry_point_plugin_is_listed_and_runs(fake_dist: Path, tmp_path: Path, capsys) -> None:
    tools = {e.name: e for e in registry.all_tools()}
    assert tools["fake"].origin == "plugin:fake-tool" and tools["fake"].status() == (True, "")
    assert tools["broken"].status()[0] is False
    assert tools["identity"].origin == "builtin"  # a plugin cannot shadow a built-in
    assert main(["tools", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["fake"]["version"] == "0.1" and rows["broken"]["available"] is False
    bench = make_bench(tmp_path / "bench")
    out = tmp_path / "run"
    assert main(["run", str(bench), "--tool", "fake", "--set", "flavour=mint", "--out", str(out)]) == 0
    rec = read_record(out)
    assert rec.tool == {"name": "fake", "version": "0.1"} and rec.notes == ["mint"]
    assert rec.options == {"flavour": "mint"} and rec.output_files == 2


def test_tools_table_mentions_every_builtin(capsys) -> None:
    assert main(["tools"]) == 0
    out = capsys.readouterr().out
    for name in registry.BUILTINS:
        assert name in out
