"""dciodvfy engine: errors a tool introduced are found; errors the source had are not blamed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from midib.errors import MidibError
from midib.score.conformance import Dciodvfy, normalise, parse

needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed")


@pytest.fixture()
def ct_source(tmp_path: Path) -> Path:
    path = tmp_path / "src.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), path)
    return path


def test_normalise_masks_values_keeps_names() -> None:
    a = normalise("Error - Value invalid for this VR - (0x0010,0x0030) DA Patient's Birth Date  DA [1] = <2004x> - Length invalid for this VR = 5, expected == 8 or 10")
    b = normalise("Error - Value invalid for this VR - (0x0010,0x0030) DA Patient's Birth Date  DA [1] = <19x> - Length invalid for this VR = 3, expected == 8 or 10")
    assert a == b and "2004x" not in a and "Birth Date DA" in a
    kept = normalise("Error - Missing attribute Type 1 Required Element=<StudyInstanceUID> Module=<GeneralStudy>")
    assert "<StudyInstanceUID>" in kept and "<GeneralStudy>" in kept


def test_parse_keeps_errors_only() -> None:
    out = "CTImage\nWarning - Value is zero\nError - Missing attribute Type 1 Required Element=<X> Module=<Y>\n"
    assert parse(out) == ["Error - Missing attribute Type 1 Required Element=<X> Module=<Y>"]


@needs_dciodvfy
def test_identical_copy_introduces_nothing(tmp_path: Path) -> None:
    src = get_testdata_file("rtstruct.dcm")  # carries errors of its own: not the tool's fault
    out = tmp_path / "out.dcm"
    shutil.copy(src, out)
    engine = Dciodvfy()
    assert engine.errors(src), "rtstruct.dcm is expected to have source errors"
    assert engine.introduced(src, out) == []


@needs_dciodvfy
def test_deleted_type1_element_is_introduced(ct_source: Path, tmp_path: Path) -> None:
    ds = dcmread(ct_source)
    del ds.StudyInstanceUID
    out = tmp_path / "out.dcm"
    ds.save_as(out)
    introduced = Dciodvfy().introduced(ct_source, out)
    assert any("Type 1" in e and "<StudyInstanceUID>" in e for e in introduced), introduced


@needs_dciodvfy
@pytest.mark.filterwarnings("ignore:Invalid value for VR")
def test_changed_value_with_same_error_is_not_introduced(tmp_path: Path) -> None:
    src, out = tmp_path / "src.dcm", tmp_path / "out.dcm"
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientBirthDate = "2004x"
    ds.save_as(src)
    ds.PatientBirthDate = "1999y"  # a tool replaced the (invalid) value by another invalid one
    ds.save_as(out)
    engine = Dciodvfy()
    assert engine.errors(src)
    assert engine.introduced(src, out) == []


@needs_dciodvfy
def test_source_results_are_cached(ct_source: Path, tmp_path: Path) -> None:
    engine = Dciodvfy()
    first = engine.source_errors(ct_source)
    ct_source.write_bytes(b"not dicom")  # a second run would now report errors
    assert engine.source_errors(ct_source) == first


def test_missing_dciodvfy(monkeypatch: pytest.MonkeyPatch, ct_source: Path) -> None:
    monkeypatch.setenv("PATH", "")
    engine = Dciodvfy()
    ok, reason = engine.available()
    assert not ok and "dciodvfy" in reason
    with pytest.raises(RuntimeError, match="unavailable"):
        engine.introduced(ct_source, ct_source)


@needs_dciodvfy
def test_missing_file_is_user_error(tmp_path: Path) -> None:
    with pytest.raises(MidibError, match="no such file"):
        Dciodvfy().errors(tmp_path / "absent.dcm")


@needs_dciodvfy
def test_introduced_many_keeps_order(ct_source: Path, tmp_path: Path) -> None:
    ds = dcmread(ct_source)
    del ds.StudyInstanceUID
    bad = tmp_path / "bad.dcm"
    ds.save_as(bad)
    pairs = [(ct_source, ct_source), (ct_source, bad), (ct_source, ct_source)]
    engine = Dciodvfy()
    assert engine.introduced_many(pairs, workers=3) == engine.introduced_many(pairs, workers=1)
    assert [bool(x) for x in engine.introduced_many(pairs)] == [False, True, False]


def test_one_conformance_check_per_matched_instance(tmp_path: Path, monkeypatch) -> None:
    """Every tool is judged on the same number of conformance checks: one per matched instance,
    failed when it introduced any error, whatever the number of errors (all named in the reason)."""
    from midib.score import conformance
    from midib.score.matching import MatchResult
    from midib.score.observation import OutputRecord
    from midib.score import rules
    from midib.score.rules import conformance_rows

    class FakeTool:
        def available(self):
            return True, "fake"

        def introduced_many(self, pairs, workers=2):
            return [[] if Path(src).name == "a.dcm" else ["Error - one", "Error - two"] for src, _ in pairs]

    monkeypatch.setattr(conformance, "Dciodvfy", FakeTool)
    sources = {}
    for name in ("a", "b"):
        sources[name] = tmp_path / f"{name}.dcm"
        sources[name].write_bytes(b"")
    match = MatchResult(pairs={n: OutputRecord(file=f"out/{n}.dcm") for n in sources})
    monkeypatch.setattr(rules, "CONFORMANCE_CHUNK", 1)  # two hand-overs, rows in key order
    batches: list[list[dict]] = []
    info = conformance_rows(match, sources, tmp_path, {}, True, 1, batches.append)
    assert len(batches) == 2
    rows = [r for batch in batches for r in batch]
    assert [(r["instance"] or r["check_id"], r["passed"]) for r in rows] == [("conformance/a", True),
                                                                             ("conformance/b", False)]
    assert "Error - one" in rows[1]["reason"] and "Error - two" in rows[1]["reason"]
    assert info["introduced_errors"] == 2


def _deflated(ds, path: Path) -> Path:
    from pydicom.uid import DeflatedExplicitVRLittleEndian
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


@needs_dciodvfy
def test_a_deflated_output_is_validated_inflated(ct_source: Path, tmp_path: Path) -> None:
    """dciodvfy reads deflated bytes as broken elements ("Tag read failed"): a correct tool
    writing Deflated Explicit VR Little Endian once failed conformance on every file. Its
    inflated copy is validated instead, and an error the tool made still shows through."""
    from midib.score import diskmap
    engine = Dciodvfy()
    plain = _deflated(dcmread(ct_source), tmp_path / "plain.dcm")
    assert b"ORIGINAL" not in plain.read_bytes()   # the dataset really is deflated
    assert engine.introduced(ct_source, plain) == []
    broken = dcmread(ct_source)
    del broken.StudyInstanceUID
    introduced = engine.introduced(ct_source, _deflated(broken, tmp_path / "broken.dcm"))
    assert any("Type 1" in e and "<StudyInstanceUID>" in e for e in introduced), introduced
    assert not any("Tag read failed" in e for e in introduced), introduced
    assert not list(diskmap.scratch_dir().glob("*.dcm"))   # inflated copies removed
    bundled = get_testdata_file("image_dfl.dcm")            # a deflated file from pydicom
    assert not any("Tag read failed" in e for e in engine.errors(bundled))


@needs_dciodvfy
def test_a_deflated_stream_that_breaks_or_explodes_is_one_error(ct_source: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    from midib.score import observation
    engine = Dciodvfy()
    good = _deflated(dcmread(ct_source), tmp_path / "good.dcm").read_bytes()
    at = good.index(b"1.2.840.10008.1.2.1.99") + 24
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(good[:at + 200] + b"\xff" * 64 + good[at + 264:])
    errors = engine.errors(garbage)
    assert len(errors) == 1 and "does not inflate" in errors[0], errors
    monkeypatch.setattr(observation, "MAX_INFLATED", 1000)
    errors = engine.errors(tmp_path / "good.dcm")
    assert errors == ["Error - deflated dataset inflates beyond 1,000 bytes: not validated"]
