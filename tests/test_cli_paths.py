"""Paths the system refuses (under a file, a folder where a file is expected, no permission)
reach the user as one line and exit 2, whichever command met them: an OSError escaping a
command once printed a traceback (run, generate, import-key, demo, export-key --force)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from midib.cli import main


def one_line(capsys: pytest.CaptureFixture, code: int, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("midib: error: ")
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture
def afile(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a folder\n")
    return path


def _key(bench: Path, tmp_path: Path) -> Path:
    """A readable MIDI-B key (import-key reads it before it touches --out)."""
    db = tmp_path / "k.db"
    assert main(["export-key", str(bench), "--out", str(db)]) == 0
    return db


@pytest.mark.parametrize("argv", [
    lambda bench, f, tmp: ["run", str(bench), "--tool", "identity", "--out", str(f / "sub")],
    lambda bench, f, tmp: ["generate", str(f / "b"), "--preset", "mini"],
    lambda bench, f, tmp: ["demo", "--out", str(f), "--tools", "identity"],
    lambda bench, f, tmp: ["demo", "--out", str(tmp / "d"), "--work", str(f / "w"), "--tools", "identity"],
    lambda bench, f, tmp: ["import-key", str(_key(bench, tmp)), "--out", str(f / "x")],
], ids=["run", "generate", "demo-out", "demo-work", "import-key"])
def test_an_out_under_a_file_is_one_line(mini_bench: Path, afile: Path, tmp_path: Path, capsys,
                                          argv) -> None:
    before = afile.read_text()
    one_line(capsys, main(argv(mini_bench, afile, tmp_path)), str(afile), "file, not a folder")
    assert afile.read_text() == before


def test_export_key_forced_onto_a_folder_is_one_line(mini_bench: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "dirkey"
    folder.mkdir()
    one_line(capsys, main(["export-key", str(mini_bench), "--out", str(folder), "--force"]), str(folder))


def test_a_permission_error_anywhere_in_a_command_is_one_line(mini_bench: Path, tmp_path: Path,
                                                               capsys, monkeypatch) -> None:
    """Tests run as root, so a read-only folder is simulated where every command makes one."""
    real = Path.mkdir

    def refuse(self: Path, *a, **k) -> None:
        if tmp_path in self.parents or self == tmp_path / "ro":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "mkdir", refuse)
    code = main(["run", str(mini_bench), "--tool", "identity", "--out", str(tmp_path / "ro" / "run")])
    one_line(capsys, code, "Permission denied")


@pytest.mark.parametrize("argv,words", [
    (lambda b, t: ["demo", "--preset", "huge", "--out", str(t / "d")], ["unknown preset 'huge'"]),
    (lambda b, t: ["demo", "--tools", "identity,nosuch", "--out", str(t / "d")], ["nosuch"]),
    (lambda b, t: ["demo", "--tools", ",", "--out", str(t / "d")], ["--tools names no tool"]),
    (lambda b, t: ["generate", str(t / "d"), "--base", str(t / "empty")], ["nothing to plant"]),
    (lambda b, t: ["report", str(b), "--bench", str(t / "nope"), "--out", str(t / "d" / "r.html")],
     ["--bench", "not a midib benchmark"]),
    (lambda b, t: ["run", str(b), "--cmd", " ", "--out", str(t / "d")], ["--cmd is empty"]),
    (lambda b, t: ["run", str(b), "--tool", "identity", "--timeout", "nan", "--out", str(t / "d")],
     ["--timeout must be a positive number"]),
], ids=["demo-preset", "demo-unknown-tool", "demo-no-tool", "generate-empty-base", "report-bench",
        "run-empty-cmd", "run-timeout-nan"])
def test_wrong_arguments_are_one_line_and_nothing_is_made(mini_bench: Path, tmp_path: Path, capsys,
                                                          argv, words) -> None:
    """Each once went on: demo printed two error lines (or ran every tool for ``--tools ,``,
    or skipped an unknown one with exit 0), generate made a benchmark of 0 checks, report
    ignored a --bench that is not one, run called an empty --cmd "unknown tool ''"."""
    (tmp_path / "empty").mkdir()
    one_line(capsys, main(argv(mini_bench, tmp_path)), *words)
    assert not (tmp_path / "d").exists()


def test_jobs_beyond_the_machine_are_lowered_and_nonsense_refused(capsys, monkeypatch) -> None:
    """--jobs 100000 forked 100,000 workers until the out-of-memory killer stopped the machine."""
    import argparse

    from midib.commands import options
    monkeypatch.setattr(options, "usable_cpus", lambda: 2)
    assert options.worker_count("3") == 3
    assert options.worker_count("100000") == 2 * options.JOBS_PER_CPU
    assert "using 8" in capsys.readouterr().err
    for bad in ("0", "-4", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            options.worker_count(bad)
    with pytest.raises(SystemExit) as e:
        main(["score", "bench", "run", "--jobs", "0"])
    assert e.value.code == 2 and "--jobs" in capsys.readouterr().err
