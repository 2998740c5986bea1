"""The oracle applies PS3.15 actions at the right depth and keeps objects conformant."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pydicom
import pytest

from midib.cli import main
from midib.keys.profile import load_profile
from midib.run.runfile import read_mapping
from midib.run.tools.oracle_policy import choose, edit_for
from midib.tagpath import TagPath


@pytest.mark.parametrize("code,required,nested,learning,expected", [
    ("X/Z/D", "1", False, True, "D"), ("X/Z/D", "2", False, True, "Z"),
    ("X/Z/D", None, False, True, "X"), ("X/Z/D", None, False, False, "Z"),
    ("Z/D", None, True, True, "D"), ("X/D", "2", False, True, "D"),
    ("X/Z", "1", False, True, "Z"), ("X", "1", True, True, "X"), ("Z", None, False, True, "Z"),
])
def test_choose_most_private_conformant_edit(code, required, nested, learning, expected) -> None:
    assert choose(code, required, nested, learning) == expected


def test_removed_ancestor_sequence_is_deleted_whole() -> None:
    path = TagPath.parse("(0010,1002)[0](0010,0020)")  # PatientID in Other Patient IDs Sequence
    edit = edit_for(path, "PatientID", load_profile("midi-b"), {}, learning=True)
    assert (edit.code, edit.path) == ("X", "(0010,1002)")


def introduced(src: Path, out: Path) -> list[str]:
    def errors(p: Path) -> Counter:
        run = subprocess.run(["dciodvfy", str(p)], capture_output=True, text=True, errors="replace")
        return Counter(l for l in (run.stderr + run.stdout).splitlines() if "Error - " in l)
    return sorted((errors(out) - errors(src)).elements())


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
def test_oracle_introduces_no_dciodvfy_error(mini_bench: Path, tmp_path: Path) -> None:
    assert main(["run", str(mini_bench), "--tool", "oracle", "--out", str(tmp_path / "run")]) == 0
    uids = read_mapping(tmp_path / "run" / "mapping" / "uid_mapping.csv")
    outputs = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID): f
               for f in (tmp_path / "run" / "output").rglob("*.dcm")}
    sources = sorted((mini_bench / "input").rglob("*.dcm"))
    problems = []
    for src in sources:
        new = uids[str(pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID)]
        out = outputs[new]
        assert "OtherPatientIDsSequence" not in pydicom.dcmread(out, stop_before_pixels=True)
        problems += [f"{src.name}: {e}" for e in introduced(src, out)]
    assert problems == []
