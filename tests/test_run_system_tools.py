"""The system-tool adapters (PixelMed, gdcmanon, Orthanc) on a handful of hand-made files.

Each test runs the real tool when it is installed (skipped with the adapter's own reason
otherwise) and checks what the adapter promises: an output or a recorded note for every
input, identifiers replaced, the input untouched, the mapping, and for Orthanc that its
private server is gone afterwards.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import psutil
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from midib.errors import MidibError
from midib.run.adapter import RunContext, ToolFailed, ToolOutcome
from midib.run.tools import gdcm as gdcm_module
from midib.run.tools.gdcm import GdcmAnonAdapter
from midib.run.tools.orthanc import OrthancAdapter
from midib.run.tools.pixelmed import PixelMedAdapter, parse_log

PIXELMED, GDCM, ORTHANC = PixelMedAdapter(), GdcmAnonAdapter(), OrthancAdapter()
NAMES = {"ct/CT_small.dcm": "Doe^John", "mr/MR_small.dcm": "Roe^Jane",
         "us/us1.dcm": "Smith^Anna", "us/us2.dcm": "Smith^Anna"}


def needs(adapter):
    ok, why = adapter.available()
    return pytest.mark.skipif(not ok, reason=f"{adapter.name} unavailable: {why}")


def ultrasound(study_uid: str, series_uid: str, number: int) -> Dataset:
    """A small US-like RGB image: a modality whose files are often burned-in."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientID, ds.Modality, ds.InstanceNumber = "US-PAT-1", "US", number
    ds.StudyDate, ds.AccessionNumber = "20240102", "ACC123"
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.full((64, 64, 3), 200, dtype=np.uint8).tobytes()
    return ds


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Four files in sub-folders: CT, MR (pydicom's bundled files) and two US of one study."""
    root = tmp_path / "input"
    study, series = generate_uid(), generate_uid()
    for rel, name in NAMES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.startswith("us/"):
            ds = ultrasound(study, series, int(rel[-5]))
        else:
            ds = pydicom.dcmread(get_testdata_file(Path(rel).name))
        ds.PatientName = name
        ds.save_as(path, enforce_file_format=True)
    return root


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run(adapter, source: Path, tmp_path: Path, **options: str) -> tuple[ToolOutcome, Path]:
    out = tmp_path / "output"
    ctx = RunContext(options=options, work_dir=tmp_path / "work", log_dir=tmp_path / "logs")
    return adapter.run(source, out, ctx), out


def outputs(out: Path) -> list[Dataset]:
    return [pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))]


def assert_deidentified(outcome: ToolOutcome, source: Path, out: Path, before: dict) -> None:
    """Every input has an output or a note naming it; names replaced; input untouched."""
    assert digest(source) == before
    datasets = outputs(out)
    noted = [rel for rel in NAMES if any(rel in note for note in outcome.notes)]
    assert len(datasets) + len(noted) == len(NAMES), outcome.notes
    assert datasets, "the tool wrote nothing"
    for ds in datasets:
        assert str(ds.get("PatientName", "")) not in NAMES.values()
    old_sops = {pydicom.dcmread(source / rel).SOPInstanceUID for rel in NAMES if rel not in noted}
    assert old_sops <= set(outcome.uid_mapping)
    assert {ds.SOPInstanceUID for ds in datasets} == {outcome.uid_mapping[u] for u in old_sops}


@pytest.mark.parametrize("adapter", [pytest.param(a, marks=needs(a), id=a.name)
                                     for a in (PIXELMED, GDCM)])   # Orthanc: below
def test_adapter_deidentifies_every_input(adapter, source: Path, tmp_path: Path) -> None:
    before = digest(source)
    outcome, out = run(adapter, source, tmp_path)
    assert_deidentified(outcome, source, out, before)
    assert adapter.version()


def test_pixelmed_log_parsing_pairs_inputs_and_failures() -> None:
    text = ("INFO: Deidentified and Redacted /in/a b.dcm into /out/1.2_Anon.dcm\n"
            "SEVERE: failed to deidentify and redact /in/c.dcm\n")
    pairs, failed = parse_log(text)
    assert pairs == {Path("/in/a b.dcm"): Path("/out/1.2_Anon.dcm")}
    assert failed == {Path("/in/c.dcm")}


@needs(PIXELMED)
def test_pixelmed_records_files_it_skips(source: Path, tmp_path: Path) -> None:
    shutil.copy(get_testdata_file("JPEG2000.dcm"), source / "j2k.dcm")
    shutil.copy(source / "ct/CT_small.dcm", source / "ct/copy.dcm")   # same SOP Instance UID
    outcome, out = run(PIXELMED, source, tmp_path)
    assert any("j2k.dcm" in n and "skipped by PixelMed" in n for n in outcome.notes)
    assert any("ct/copy.dcm" in n and "overwrote" in n for n in outcome.notes)
    assert len(outputs(out)) == len(NAMES)


@needs(PIXELMED)
def test_pixelmed_redacts_the_boxes_of_a_control_file(source: Path, tmp_path: Path) -> None:
    regions = tmp_path / "regions.txt"
    regions.write_text("# US frames\n64x64=(0,0,16,8)\n")
    _, out = run(PIXELMED, source, tmp_path, regions=str(regions))
    us = [ds for ds in outputs(out) if ds.Modality == "US"]
    assert len(us) == 2
    pixels = us[0].pixel_array
    assert pixels[:8, :16].max() == 0 and pixels[8:, 16:].min() == 200


def test_pixelmed_rejects_a_bad_option(source: Path, tmp_path: Path) -> None:
    with pytest.raises(MidibError, match="method=zap"):
        run(PIXELMED, source, tmp_path, method="zap")


@needs(GDCM)
def test_gdcmanon_skips_deidentified_files_and_keeps_studies_whole(source: Path, tmp_path: Path) -> None:
    done = pydicom.dcmread(source / "ct/CT_small.dcm")
    done.PatientIdentityRemoved = "YES"
    done.save_as(source / "ct/already.dcm")
    outcome, out = run(GDCM, source, tmp_path)
    assert any("ct/already.dcm" in n and "already de-identified" in n for n in outcome.notes)
    assert not (out / "ct/already.dcm").exists()
    us = [pydicom.dcmread(out / f"us/us{i}.dcm") for i in (1, 2)]
    assert us[0].StudyInstanceUID == us[1].StudyInstanceUID != pydicom.dcmread(source / "us/us1.dcm").StudyInstanceUID
    assert "EncryptedAttributesSequence" in us[0]


@needs(GDCM)
def test_gdcmanon_resumes_after_the_file_it_stops_on(source: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (source / "mr/notes.txt").write_text("not DICOM")
    monkeypatch.setattr(gdcm_module, "refusal", lambda path: None)   # let gdcmanon meet it
    outcome, out = run(GDCM, source, tmp_path)
    assert any("mr/notes.txt" in n and "stopped on it" in n for n in outcome.notes)
    assert all((out / rel).is_file() for rel in NAMES)


@needs(GDCM)
def test_gdcmanon_dumb_mode_variant(source: Path, tmp_path: Path) -> None:
    before = digest(source)
    outcome, out = run(GDCM, source, tmp_path, mode="dumb")
    assert "--dumb" in outcome.command
    assert_deidentified(outcome, source, out, before)


def server_pid(outcome: ToolOutcome) -> int:
    match = next(re.search(r"server pid (\d+) stopped", n) for n in outcome.notes if "server pid" in n)
    return int(match.group(1))


def server_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).name() != "Orthanc"
    except psutil.NoSuchProcess:
        return True


@needs(ORTHANC)
def test_orthanc_keeps_studies_whole_and_stops_its_server(source: Path, tmp_path: Path) -> None:
    before = digest(source)
    outcome, out = run(ORTHANC, source, tmp_path)
    assert server_gone(server_pid(outcome))
    assert_deidentified(outcome, source, out, before)
    assert ORTHANC.version()
    us = [ds for ds in outputs(out) if ds.Modality == "US"]
    assert len({ds.StudyInstanceUID for ds in us}) == 1
    assert set(outcome.patid_mapping) == {"US-PAT-1", "1CT1", "4MR1"}
    for path in out.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        rel = path.relative_to(out).parts
        assert rel[1:3] == (ds.StudyInstanceUID, ds.SeriesInstanceUID)


@needs(ORTHANC)
def test_orthanc_failure_is_reported_and_server_stopped(source: Path, tmp_path: Path) -> None:
    # Replacing PatientID without "Force" is refused by Orthanc: the run fails, cleanly.
    with pytest.raises(ToolFailed, match="HTTP 400"):
        run(ORTHANC, source, tmp_path, body='{"Replace": {"PatientID": "X"}}')
    log = (tmp_path / "logs" / "orthanc-server.log").read_text()
    assert log.rstrip().endswith("Orthanc has stopped")


def test_orthanc_without_binary_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from midib.run.tools import orthanc as orthanc_module

    monkeypatch.setattr(orthanc_module, "orthanc_binary", lambda: None)
    ok, why = OrthancAdapter().available()
    assert not ok and "Orthanc not found" in why
