"""The real Python de-identifiers run to a recorded status, with the quirks midib works around."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from midib.cli import main
from midib.run.runfile import read_record
from test_run_helpers import MRN, NAME, make_bench

pytestmark = pytest.mark.tools


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bench(tmp_path_factory.mktemp("b") / "bench")


def run_tool(bench: Path, out: Path, tool: str, *extra: str) -> tuple[int, object]:
    code = main(["run", str(bench), "--tool", tool, "--out", str(out), *extra])
    return code, read_record(out)


def outputs(run: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f) for f in sorted((run / "output").rglob("*")) if f.is_file()]


def folder_names(run: Path) -> set[str]:
    return {p.relative_to(run / "output").parent.as_posix() for p in (run / "output").rglob("*") if p.is_file()}


def test_dicognito_runs_through_python_m(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("dicognito")
    code, rec = run_tool(bench, tmp_path / "run", "dicognito", "--seed", "3")
    assert code == 0 and rec.status == "ok"
    assert rec.tool["version"] and rec.command[1:3] == ["-m", "dicognito"]
    assert rec.output_files == 2 and rec.mapping == {"uid": None, "patid": None}
    for ds in outputs(tmp_path / "run"):
        assert str(ds.PatientName) != NAME and ds.PatientID != MRN


def test_deid_default_recipe_drops_uids(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("deid")
    code, rec = run_tool(bench, tmp_path / "run", "deid")
    assert code == 0 and rec.output_files == 2 and rec.tool["version"]
    # two inputs share the base name 1.dcm: one folder each keeps both, named for no input folder
    assert folder_names(tmp_path / "run") == {"series-0001", "series-0002"}
    for ds in outputs(tmp_path / "run"):
        assert "SOPClassUID" not in ds and "SOPInstanceUID" not in ds  # deid as shipped


def test_deid_midib_recipe_keeps_objects_valid(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("deid")
    code, rec = run_tool(bench, tmp_path / "run", "deid", "--set", "recipe=midib")
    assert code == 0 and rec.options == {"recipe": "midib"}
    ds_all = outputs(tmp_path / "run")
    for ds in ds_all:
        assert ds.SOPClassUID and ds.SOPInstanceUID.startswith("2.25.") and ds.PatientName == "ANONYMOUS"
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert not any(e.tag.is_private for e in ds)
    assert len({ds.PatientID for ds in ds_all}) == 1 and ds_all[0].PatientID != MRN
    mr = next(ds for ds in ds_all if ds.Modality == "MR")
    ct = next(ds for ds in ds_all if ds.Modality == "CT")
    assert mr.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ct.SOPInstanceUID
    assert folder_names(tmp_path / "run") == {"series-0001", "series-0002"}   # not DOE_JOHN/ct
    code, rec = run_tool(bench, tmp_path / "bad", "deid", "--set", "recipe=/no/such/recipe")
    assert code == 1 and rec.status == "failed" and "not found" in rec.reason


def test_dicom_anonymizer_reaches_nested_folders(bench: Path, tmp_path: Path) -> None:
    """Each input folder is anonymised (it is not recursive), all in one process, so the two
    series of one study keep one new StudyInstanceUID; the output folders are neutral: the
    input's (DOE_JOHN/...) were the adapter's, not the tool's, and were scored as its leak."""
    pytest.importorskip("dicomanonymizer")
    code, rec = run_tool(bench, tmp_path / "run", "dicom-anonymizer")
    assert code == 0 and rec.output_files == 2 and rec.tool["version"]
    done = outputs(tmp_path / "run")
    for ds in done:
        assert str(ds.PatientName) != NAME
    sources = [pydicom.dcmread(f) for f in sorted((bench / "input").rglob("*.dcm"))]
    assert len({ds.StudyInstanceUID for ds in sources}) == 1
    assert len({ds.StudyInstanceUID for ds in done}) == 1
    assert done[0].StudyInstanceUID != sources[0].StudyInstanceUID
    assert folder_names(tmp_path / "run") == {"series-0001", "series-0002"}


def test_presidio_needs_a_model(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("presidio_image_redactor")
    spacy = pytest.importorskip("spacy")
    if spacy.util.is_package("en_core_web_lg"):
        pytest.skip("the default model is installed here")
    code, rec = run_tool(bench, tmp_path / "none", "presidio")
    assert code == 1 and rec.status == "unavailable" and "en_core_web_lg" in rec.reason
    code, rec = run_tool(bench, tmp_path / "bad", "presidio", "--set", "model=/no/such/model")
    assert code == 1 and rec.status == "unavailable" and "/no/such/model" in rec.reason


@pytest.mark.slow
def test_presidio_runs_with_a_model_folder(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("presidio_image_redactor")
    spacy = pytest.importorskip("spacy")
    model = tmp_path / "blank_en"
    spacy.blank("en").to_disk(model)
    code, rec = run_tool(bench, tmp_path / "run", "presidio", "--set", f"model={model}")
    assert code == 0 and rec.status == "ok" and rec.output_files == 2
    for ds in outputs(tmp_path / "run"):
        assert str(ds.PatientName) == NAME  # pixels only: headers untouched
