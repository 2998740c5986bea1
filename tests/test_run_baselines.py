"""Calibration baselines: identity copies, strip empties, oracle does exactly what the key says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from midib.answer_key import read_key
from midib.cli import main
from midib.run.runfile import read_mapping, read_record
from midib.tagpath import TagPath, iter_elements
from test_run_helpers import FREE_TEXT, INSTITUTION, MRN, NAME, OPTIONS, UNSAFE_PATH, make_bench, pixel_box


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bench(tmp_path_factory.mktemp("b") / "bench")


def run_tool(bench: Path, out: Path, tool: str, *extra: str) -> Path:
    assert main(["run", str(bench), "--tool", tool, "--out", str(out), *extra]) == 0
    return out


def test_identity_copies_byte_identically(bench: Path, tmp_path: Path) -> None:
    out = run_tool(bench, tmp_path / "run", "identity")
    for src in (bench / "input").rglob("*.dcm"):
        assert (out / "output" / src.relative_to(bench / "input")).read_bytes() == src.read_bytes()


def test_strip_leaves_valid_but_empty_objects(bench: Path, tmp_path: Path) -> None:
    out = run_tool(bench, tmp_path / "run", "strip")
    files = sorted((out / "output").rglob("*.dcm"))
    assert len(files) == 2
    originals = {str(pydicom.dcmread(f).SOPClassUID) for f in (bench / "input").rglob("*.dcm")}
    for f in files:
        ds = pydicom.dcmread(f)
        assert str(ds.SOPClassUID) in originals and ds.SOPInstanceUID.startswith("2.25.")
        assert ds.PatientName == "" and ds.PatientID == "" and "InstitutionName" not in ds
        assert not any(e.tag.is_private for e in ds) and not np.any(ds.pixel_array)
        assert NAME.encode() not in f.read_bytes() and MRN.encode() not in f.read_bytes()
        assert "DOE" not in f.as_posix()
    if shutil.which("dciodvfy"):
        for f in files:
            msg = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True).stderr
            assert "Error - Missing attribute Type 1 " not in msg, msg


@pytest.fixture(scope="module")
def oracle_run(bench: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_tool(bench, tmp_path_factory.mktemp("o") / "run", "oracle")


def oracle_pairs(bench: Path, run: Path) -> dict[str, tuple[pydicom.Dataset, pydicom.Dataset]]:
    """input rel path -> (input dataset, oracle output dataset), matched by the UID mapping."""
    uids = read_mapping(run / "mapping" / "uid_mapping.csv")
    outputs = {str(pydicom.dcmread(f).SOPInstanceUID): f for f in (run / "output").rglob("*.dcm")}
    pairs = {}
    for src in (bench / "input").rglob("*.dcm"):
        ds = pydicom.dcmread(src)
        pairs[src.relative_to(bench / "input").as_posix()] = (ds, pydicom.dcmread(outputs[uids[ds.SOPInstanceUID]]))
    return pairs


def test_oracle_satisfies_every_check(bench: Path, oracle_run: Path) -> None:
    pairs = oracle_pairs(bench, oracle_run)
    uids = read_mapping(oracle_run / "mapping" / "uid_mapping.csv")
    patids = read_mapping(oracle_run / "mapping" / "patid_mapping.csv")
    seen = set()
    for c in read_key(bench / "answer_key" / "checks.jsonl"):
        src, out = pairs[c.file]
        elem = TagPath.parse(c.path).resolve(out) if c.path else None
        value = "" if elem is None or elem.value is None else str(elem.value)
        want = c.expected.get("value")
        seen.add(c.action)
        if c.action == "text_removed":
            assert want not in value, c
        elif c.action in ("text_retained", "tag_retained"):
            assert value == want, c
        elif c.action == "date_shifted":
            assert len(value) == 8 and value != want, c
        elif c.action == "uid_changed":
            assert value and value != want and value.startswith("2.25."), c
        elif c.action in ("uid_consistent", "uid_reference"):
            assert value == uids[want], c
        elif c.action == "patid_consistent":
            assert value == patids[want] and value != want, c
        elif c.action == "text_cleaned":
            assert "John Doe" not in value and "chest" in value and "nodule" in value, c
        elif c.action == "pixels_hidden":
            assert len(np.unique(pixel_box(out))) == 1 and pixel_box(src).max() > pixel_box(out).max()
        elif c.action == "deid_recorded":
            codes = {i.CodeValue for i in out.DeidentificationMethodCodeSequence}
            assert out.PatientIdentityRemoved == "YES" and codes == {"113100", "113111", "113105", "113101"}
    assert seen >= {"text_removed", "text_retained", "tag_retained", "date_shifted", "uid_changed",
                    "uid_consistent", "uid_reference", "patid_consistent", "text_cleaned",
                    "pixels_hidden", "deid_recorded"}


def test_oracle_changes_nothing_else(bench: Path, oracle_run: Path) -> None:
    """Outside checked paths, UIDs, private elements and the deid record, every element is equal."""
    checked = {c.path for c in read_key(bench / "answer_key" / "checks.jsonl") if c.path}
    added = {"(0012,0062)", "(0012,0063)", "(0012,0064)"}
    for src, out in oracle_pairs(bench, oracle_run).values():
        out_elems = {str(p): e for p, e in iter_elements(out)}
        for path, elem in iter_elements(src):
            p = str(path)
            if p in checked or elem.VR in ("UI", "SQ") or path.is_private or elem.tag.is_private:
                continue
            if p == "(7fe0,0010)" and "(0008,1030)" in checked and FREE_TEXT in str(src.StudyDescription):
                continue  # pixels: only the box differs (checked above)
            assert p in out_elems and out_elems[p].value == elem.value, p
        assert not [p for p in out_elems if p not in {str(q) for q, _ in iter_elements(src)}
                    and p.split("[")[0] not in added and not TagPath.parse(p).is_private]
        assert not TagPath.parse(UNSAFE_PATH).resolve(out)


def test_oracle_output_holds_no_planted_phi(bench: Path, oracle_run: Path) -> None:
    for f in (oracle_run / "output").rglob("*"):
        assert "DOE" not in f.as_posix() and MRN not in f.as_posix()
        if f.is_file():
            data = f.read_bytes()
            for value in (NAME, MRN, INSTITUTION, "John Doe", "19600304", "20200115"):
                assert value.encode() not in data, (f, value)
    rec = read_record(oracle_run)
    assert rec.status == "ok" and rec.input_untouched and rec.output_files == 2
    assert OPTIONS  # the options the key asked for are the ones recorded (checked above)
