"""`--base DIR`: PHI planted into copies of pydicom's bundled files; bad files skipped and listed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from midib.benchmark import Benchmark
from midib.cli import main
from midib.ledger import read_ledger

#: files shipped inside pydicom itself (no download): varied vendors, encodings, one without preamble
BUNDLED = ("CT_small.dcm", "MR_small.dcm", "rtstruct.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm",
           "MR_small_bigendian.dcm", "MR_small_RLE.dcm")


@pytest.fixture(scope="module")
def base_bench(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("base")
    for name in BUNDLED:
        shutil.copy(get_testdata_file(name), base / name)
    (base / "sub").mkdir()
    (base / "sub" / "corrupt.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 50)
    (base / "sub" / "README.txt").write_text("not dicom")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in base.rglob("*") if p.is_file()}
    out = tmp_path_factory.mktemp("out") / "bench"
    assert main(["generate", str(out), "--base", str(base), "--seed", "3"]) == 0
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in base.rglob("*") if p.is_file()}
    assert before == after  # never modify an input
    return base, out


def test_bad_files_are_skipped_and_listed(base_bench, capsys):
    _, out = base_bench
    manifest = Benchmark(out).manifest()
    skipped = {s["file"] for s in manifest["skipped"]}
    assert {"sub/corrupt.dcm", "sub/README.txt"} <= skipped
    assert manifest["source"].startswith("base:")
    assert manifest["counts"]["instances"] + len(skipped) == len(BUNDLED) + 2
    assert manifest["counts"]["instances"] >= len(BUNDLED) - 1


def test_pixels_and_structure_are_kept_and_phi_planted(base_bench):
    base, out = base_bench
    bench = Benchmark(out)
    entries = list(read_ledger(bench.ledger_path))
    files = {e.file for e in entries}
    assert len(files) == bench.manifest()["counts"]["instances"]
    names = {e.value for e in entries if e.kind == "patient_name" and e.channel == "attribute"}
    assert names and all("^" in n for n in names)
    ct = next(f for f in files if dcmread(bench.input_dir / f).get("Modality") == "CT")
    original = dcmread(base / "CT_small.dcm")
    planted = dcmread(bench.input_dir / ct)
    assert planted.PixelData == original.PixelData
    assert planted.PatientName != original.PatientName
    assert planted.SOPInstanceUID != original.SOPInstanceUID


def test_rtstruct_without_preamble_is_read_and_references_follow(base_bench):
    _, out = base_bench
    bench = Benchmark(out)
    rt = [p for p in bench.input_files() if dcmread(p).get("Modality") == "RTSTRUCT"]
    assert len(rt) == 1
    ds = dcmread(rt[0])
    ref = ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID
    assert ref.startswith("1.2.826.0.1.3680043.10.")
