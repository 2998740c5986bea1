"""Matching outputs to sources without mapping files, from content a de-identifier keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from midib.score.fingerprint import PixelFingerprint
from midib.score.matching import FEATURE_PATHS, match_outputs
from midib.score.observation import observe

WANTED = frozenset(FEATURE_PATHS)


def write_sources(root: Path) -> dict[str, Path]:
    """Two CT slices identical in every header feature, different only in their pixels."""
    sources = {}
    for i in range(2):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        px = ds.pixel_array.copy()
        ds.PixelData = (np.flipud(px) if i else px).tobytes()
        ds.SOPInstanceUID = f"1.2.3.{i + 1}"
        path = root / "src" / f"{i}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path)
        sources[ds.SOPInstanceUID] = path
    return sources


def deidentified(src: Path, out: Path, new_uid: str, box: list[int] | None = None) -> None:
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID, ds.PatientName = new_uid, "ANON"
    if box:
        px = ds.pixel_array.copy()
        x0, y0, x1, y1 = box
        px[y0:y1, x0:x1] = 0
        ds.PixelData = px.tobytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out)


def records(root: Path) -> list:
    return [observe(p, p.relative_to(root).as_posix(), WANTED, None) for p in sorted(root.rglob("*.dcm"))]


def test_ties_are_settled_by_pixels_outside_phi_boxes(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    out = tmp_path / "out"
    box = [0, 0, 40, 12]
    deidentified(sources["1.2.3.2"], out / "a.dcm", "2.25.1", box)   # masked burned-in text
    deidentified(sources["1.2.3.1"], out / "b.dcm", "2.25.2", box)
    fp = PixelFingerprint(out, sources, {i: [box] for i in sources})
    result = match_outputs(records(out), sources, {}, fp)
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.2": "a.dcm", "1.2.3.1": "b.dcm"}
    assert result.method["1.2.3.2"] == "content+pixels"   # the first tie needs pixels


def test_without_pixels_ties_stay_unmatched_and_are_reported(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    out = tmp_path / "out"
    deidentified(sources["1.2.3.1"], out / "a.dcm", "2.25.1")
    result = match_outputs(records(out), sources, {}, None)
    assert result.pairs == {} and result.extra_outputs == ["a.dcm"]
    assert result.unmatched_inputs == ["1.2.3.1", "1.2.3.2"]


def test_unchanged_uid_and_mapping_are_used_first(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    out = tmp_path / "out"
    deidentified(sources["1.2.3.1"], out / "kept.dcm", "1.2.3.1")
    deidentified(sources["1.2.3.2"], out / "mapped.dcm", "2.25.9")
    result = match_outputs(records(out), sources, {"2.25.9": "1.2.3.2"}, None)
    assert result.method == {"1.2.3.1": "uid", "1.2.3.2": "mapping"}


def test_same_uid_twice_is_a_duplicate_not_scored_twice(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    out = tmp_path / "out"
    deidentified(sources["1.2.3.1"], out / "a.dcm", "1.2.3.1")
    deidentified(sources["1.2.3.1"], out / "b.dcm", "1.2.3.1")
    result = match_outputs(records(out), sources, {}, None)
    assert result.pairs["1.2.3.1"].file == "a.dcm"
    assert result.duplicate_outputs == [{"file": "b.dcm", "instance": "1.2.3.1", "scored": "a.dcm"}]


def test_large_sequences_are_walked_not_skipped(tmp_path: Path) -> None:
    """pydicom defers any element over the read size, sequences included: they must be read."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    items = []
    for i in range(1500):
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", f"1.2.3.{i}"
        items.append(item)
    ds.ReferencedImageSequence = Sequence(items)
    ds["ReferencedImageSequence"].is_undefined_length = False
    ds.save_as(tmp_path / "big.dcm")
    key = "(0008,1140)[*](0008,1155)"
    rec = observe(tmp_path / "big.dcm", "big.dcm", frozenset({key}), None)
    assert len(rec.at(key)) == 1500 and not rec.error


def _strip_uids(src: Path, out: Path, *, blank: bool = False) -> None:
    """Like deid's default recipe: every UID gone, SOP class and instance UID included."""
    ds = pydicom.dcmread(src)
    for kw in ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID"):
        if kw in ds:
            delattr(ds, kw)
    if blank:  # like strip: no pixels left to compare, InstanceNumber emptied
        ds.PixelData = np.zeros_like(ds.pixel_array).tobytes()
        ds.InstanceNumber = None
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out, enforce_file_format=False)


def test_outputs_without_any_uid_are_matched_by_pixels(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    out = tmp_path / "out"
    _strip_uids(sources["1.2.3.2"], out / "a.dcm")
    _strip_uids(sources["1.2.3.1"], out / "b.dcm")
    fp = PixelFingerprint(out, sources, {})
    result = match_outputs(records(out), sources, {}, fp)
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.2": "a.dcm", "1.2.3.1": "b.dcm"}
    assert result.extra_outputs == [] and result.unmatched_inputs == []


def test_emptied_instance_number_is_no_evidence_against_a_source(tmp_path: Path) -> None:
    """A blanked image with InstanceNumber emptied still matches the only source of its size."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPInstanceUID = "1.2.3.9"
    (tmp_path / "src").mkdir()
    ds.save_as(tmp_path / "src" / "one.dcm")
    sources = {"1.2.3.9": tmp_path / "src" / "one.dcm"}
    _strip_uids(sources["1.2.3.9"], tmp_path / "out" / "x.dcm", blank=True)
    result = match_outputs(records(tmp_path / "out"), sources, {}, None)
    assert result.pairs["1.2.3.9"].file == "x.dcm"


def test_documents_without_pixels_tie_broken_by_their_wording(tmp_path: Path) -> None:
    """Two reports of one template: the one sharing the output's words is its source."""
    sources = {}
    texts = ["no acute fracture seen alignment normal", "large pleural effusion on the left side"]
    for i, text in enumerate(texts):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
        ds.SOPInstanceUID, ds.ImageComments = f"1.2.3.{i + 1}", text
        for kw in ("Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient", "InstanceNumber"):
            delattr(ds, kw)
        sources[ds.SOPInstanceUID] = tmp_path / "src" / f"{i}.dcm"
        sources[ds.SOPInstanceUID].parent.mkdir(exist_ok=True)
        ds.save_as(sources[ds.SOPInstanceUID])
    _strip_uids(sources["1.2.3.2"], tmp_path / "out" / "r.dcm")
    fp = PixelFingerprint(tmp_path / "out", sources, {})
    result = match_outputs(records(tmp_path / "out"), sources, {}, fp)
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.2": "r.dcm"}
