"""Paths the system refuses (under a file, a folder where a file is expected, no permission)
reach the user as one line and exit 2, whichever command met them: an OSError escaping a
command once printed a traceback (run, generate, import-key, demo, export-key --force)."""

from __future__ import annotations

import errno
import sqlite3
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


def _key(tmp_path: Path) -> Path:
    db = tmp_path / "k.db"
    sqlite3.connect(db).close()
    return db


@pytest.mark.parametrize("argv", [
    lambda bench, f, tmp: ["run", str(bench), "--tool", "identity", "--out", str(f / "sub")],
    lambda bench, f, tmp: ["generate", str(f / "b"), "--preset", "mini"],
    lambda bench, f, tmp: ["demo", "--out", str(f), "--tools", "identity"],
    lambda bench, f, tmp: ["demo", "--out", str(tmp / "d"), "--work", str(f / "w"), "--tools", "identity"],
    lambda bench, f, tmp: ["import-key", str(_key(tmp)), "--out", str(f / "x")],
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
