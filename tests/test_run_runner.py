"""The runner: statuses, time limit on the whole tree, input protection, run.json, CLI exits."""

from __future__ import annotations

import json
import sys
import time
import textwrap
from pathlib import Path

import psutil
import pytest

from midib.benchmark import checksum_tree
from midib.cli import main
from midib.run.runfile import read_mapping, read_record
from test_run_helpers import make_bench

PY = sys.executable


@pytest.fixture()
def bench(tmp_path: Path) -> Path:
    return make_bench(tmp_path / "bench")


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def run_cli(*args: object) -> int:
    return main(["run", *map(str, args)])


def test_identity_ok_record_fields(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run_cli(bench, "--tool", "identity", "--out", out) == 0
    rec = read_record(out)
    assert rec.status == "ok" and rec.exit_code == 0 and rec.tool["name"] == "identity"
    assert rec.input_files == 2 and rec.output_files == 2 and rec.input_untouched
    assert rec.peak_memory_mb > 0 and rec.wall_seconds > 0
    assert rec.mapping == {"uid": None, "patid": None}
    assert (out / "logs" / "stdout.txt").is_file() and not (out / "work").exists()
    data = json.loads((out / "run.json").read_text())
    assert data["format"] == "midib-run" and data["version"] == 1


def test_nonzero_exit_is_failed(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = run_cli(bench, "--cmd", f"{PY} -c 'import sys; sys.exit(3)' {{input}} {{output}}", "--out", out)
    rec = read_record(out)
    assert code == 1 and rec.status == "failed" and rec.exit_code == 3
    assert isinstance(rec.command, list) and rec.command[0] == PY


def test_timeout_kills_whole_tree(bench: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    s = script(tmp_path, "sleeper.py", f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(p.pid))
        time.sleep(60)
    """)
    out = tmp_path / "run"
    code = run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out, "--timeout", 1.5)
    rec = read_record(out)
    assert code == 1 and rec.status == "timeout"
    grandchild = int(pidfile.read_text())
    assert _dies(grandchild, within=5.0), f"grandchild {grandchild} outlived the timeout"


def test_a_daemon_that_double_forks_away_dies_with_the_run(bench: Path, tmp_path: Path) -> None:
    """setsid and a second fork at once (faster than a poll): it wrote a file into the run's
    output 8 s after run.json was written."""
    pidfile = tmp_path / "daemon.pid"
    s = script(tmp_path, "daemon.py", f"""
        import os, shutil, sys, time
        shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                open({str(pidfile)!r}, "w").write(str(os.getpid()))
                time.sleep(3)
                open(os.path.join(sys.argv[2], "late_leak.txt"), "w").write("DOE^JOHN")
            os._exit(0)
        time.sleep(0.5)
    """)
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 0
    daemon = int(pidfile.read_text())
    assert _dies(daemon, within=2.0), f"daemon {daemon} outlived the run"
    time.sleep(3.5)
    assert not (out / "output" / "late_leak.txt").exists()


def test_a_tool_that_links_its_output_elsewhere_or_removes_its_input_fails(bench: Path, tmp_path: Path) -> None:
    """A link from the output to the benchmark input was scored as the tool's 94/94 files."""
    s = script(tmp_path, "linker.py", f"""
        import os, shutil, sys
        shutil.rmtree(sys.argv[2])
        os.symlink({str(bench / "input")!r}, sys.argv[2])
        shutil.rmtree(sys.argv[1])
    """)
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 1
    rec = read_record(out)
    assert rec.status == "failed" and "output folder" in rec.reason and rec.output_files == 0
    assert (out / "output").is_dir() and not (out / "output").is_symlink()
    assert "tool's input copy removed or replaced" in rec.input_problems
    assert rec.benchmark_untouched and len(list((bench / "input").rglob("*.dcm"))) == 2


def test_files_a_tool_writes_beside_its_output_are_reported(bench: Path, tmp_path: Path, capsys) -> None:
    s = script(tmp_path, "stray.py", """
        import pathlib, shutil, sys
        shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)
        (pathlib.Path(sys.argv[2]).parent / "notes.txt").write_text("DOE^JOHN")
    """)
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 0
    assert any("outside its output folder: notes.txt" in n for n in read_record(out).notes)
    assert "outside its output folder" in capsys.readouterr().err


def _dies(pid: int, within: float) -> bool:
    """True once ``pid`` is gone or a zombie: SIGKILL is sent to the group at the timeout, but
    the kernel may take a moment to end a process that is not ours to wait for."""
    deadline = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_adapter_exception_is_crashed_and_partial_output_kept(bench: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    script(tmp_path, "crashy.py", """
        from midib.run.adapter import ToolAdapter
        class Crashy(ToolAdapter):
            name = "crashy"
            def available(self): return True, ""
            def run(self, input_dir, output_dir, ctx):
                (output_dir / "partial.dcm").write_bytes(b"x")
                raise RuntimeError("boom")
        class Segv(Crashy):
            def run(self, input_dir, output_dir, ctx):
                import os, signal
                os.kill(os.getpid(), signal.SIGSEGV)
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_cli(bench, "--tool", "crashy:Crashy", "--out", tmp_path / "r1") == 1
    rec = read_record(tmp_path / "r1")
    assert rec.status == "crashed" and "RuntimeError: boom" in rec.reason and rec.output_files == 1
    assert "boom" in (tmp_path / "r1" / "logs" / "stderr.txt").read_text()
    assert run_cli(bench, "--tool", "crashy:Segv", "--out", tmp_path / "r2") == 1
    rec = read_record(tmp_path / "r2")
    assert rec.status == "crashed" and "signal 11" in rec.reason


def test_unavailable_tool_is_recorded(bench: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", "no-such-deid-tool {input} {output}", "--out", out) == 1
    rec = read_record(out)
    assert rec.status == "unavailable" and "not found" in rec.reason and rec.output_files == 0
    assert "Traceback" not in capsys.readouterr().err


def test_tool_writing_into_its_input_is_caught(bench: Path, tmp_path: Path) -> None:
    before = checksum_tree(bench / "input")
    s = script(tmp_path, "vandal.py", """
        import pathlib, sys
        victim = sorted(pathlib.Path(sys.argv[1]).rglob("*.dcm"))[0]
        victim.write_bytes(b"scribbled")
        (pathlib.Path(sys.argv[1]) / "extra.txt").write_text("x")
        (pathlib.Path(sys.argv[2]) / "out.dcm").write_bytes(b"output")
    """)
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 0
    rec = read_record(out)
    assert not rec.input_untouched
    assert any("changed: DOE_JOHN" in p for p in rec.input_problems)
    assert any("added: extra.txt" in p for p in rec.input_problems)
    assert checksum_tree(bench / "input") == before  # the benchmark itself never changes


@pytest.mark.parametrize("victim", ["answer_key", "benchmark.json", "input"])
def test_a_tool_that_rewrites_the_benchmark_fails_and_its_run_is_not_scored(bench: Path, tmp_path: Path,
                                                                           capsys, victim: str) -> None:
    """A tool can find the benchmark (its parent's command line names it): one that rewrote the
    answer key to the checks it passes scored an identity copy 100 %."""
    body = """
        import pathlib, shutil, sys
        bench, victim = pathlib.Path(BENCH), VICTIM
        where = bench / victim
        target = sorted(p for p in where.rglob("*") if p.is_file())[0] if where.is_dir() else where
        target.write_bytes(target.read_bytes() + b"  ")
        shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)
    """
    s = script(tmp_path, "forger.py", body.replace("BENCH", repr(str(bench))).replace("VICTIM", repr(victim)))
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 1
    rec = read_record(out)
    assert rec.status == "failed" and not rec.benchmark_untouched
    assert "modified the benchmark" in rec.reason and rec.benchmark_problems[0].startswith("benchmark ")
    assert "modified the benchmark" in capsys.readouterr().err
    assert main(["score", str(bench), str(out), "--no-ocr", "--no-conformance"]) == 2
    assert "can no longer be trusted" in capsys.readouterr().err


def test_revealed_mapping_written_as_csv(bench: Path, tmp_path: Path, monkeypatch) -> None:
    script(tmp_path, "mapper.py", """
        from midib.run.adapter import ToolAdapter, ToolOutcome
        class Mapper(ToolAdapter):
            def available(self): return True, ""
            def run(self, input_dir, output_dir, ctx):
                (output_dir / "out.dcm").write_bytes(b"output")
                return ToolOutcome(uid_mapping={"1.2.3": "2.25.9"}, patid_mapping={"MRN4711": "P1"})
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "run"
    assert run_cli(bench, "--tool", "mapper:Mapper", "--out", out) == 0
    rec = read_record(out)
    assert rec.mapping == {"uid": "mapping/uid_mapping.csv", "patid": "mapping/patid_mapping.csv"}
    assert (out / "mapping" / "uid_mapping.csv").read_text().splitlines()[0] == "id_old,id_new"
    assert read_mapping(out / "mapping" / "patid_mapping.csv") == {"MRN4711": "P1"}


def test_user_errors_exit_2(bench: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_cli(bench, "--tool", "identity", "--out", out) == 2
    assert (out / "keep.txt").read_text() == "mine"
    assert run_cli(tmp_path / "nope", "--tool", "identity", "--out", tmp_path / "r") == 2
    assert run_cli(bench, "--tool", "no-such-tool", "--out", tmp_path / "r") == 2
    assert run_cli(bench, "--cmd", "tool {input}", "--out", tmp_path / "r") == 2
    assert run_cli(bench, "--tool", "identity", "--out", bench / "run") == 2
    assert run_cli(bench, "--tool", "identity", "--set", "novalue", "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "Traceback" not in err
    assert run_cli(bench, "--tool", "identity", "--out", out, "--force") == 2   # not a run folder
    assert (out / "keep.txt").read_text() == "mine"


def test_memory_of_the_tree_is_measured(bench: Path, tmp_path: Path) -> None:
    s = script(tmp_path, "hog.py", """
        import subprocess, sys, time
        code = "b = bytearray(150 * 2**20); import time; time.sleep(1.0)"
        p = subprocess.Popen([sys.executable, "-c", code])
        p.wait()
        open(sys.argv[2] + "/out.dcm", "wb").write(b"output")
    """)
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 0
    assert read_record(out).peak_memory_mb > 150


def test_a_tool_that_succeeds_but_writes_nothing_failed(bench: Path, tmp_path: Path, capsys) -> None:
    """Exit 0 and an empty output folder (a wrong {output}, a tool writing beside its input)
    was recorded ok: it is a failure, said on stderr, exit 1."""
    s = script(tmp_path, "idle.py", "import sys")
    out = tmp_path / "run"
    assert run_cli(bench, "--cmd", f"{PY} {s} {{input}} {{output}}", "--out", out) == 1
    rec = read_record(out)
    assert rec.status == "failed" and "wrote no output file" in rec.reason
    err = capsys.readouterr().err
    assert err.startswith("midib: error: ") and "wrote no output file" in err
