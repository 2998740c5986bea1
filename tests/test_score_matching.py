"""Matching outputs to sources without mapping files, from content a de-identifier keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
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


def _reports(root: Path, texts: list[str]) -> dict[str, Path]:
    """Reports of one template (no pixels, no geometry), one per text, in folders of their own."""
    sources = {}
    for i, text in enumerate(texts):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
        ds.SOPInstanceUID, ds.ImageComments = f"1.2.3.{i + 1}", text
        for kw in ("Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient", "InstanceNumber"):
            delattr(ds, kw)
        path = root / "src" / f"study{i}" / "report.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path)
        sources[ds.SOPInstanceUID] = path
    return sources


def test_a_rewritten_report_in_its_source_place_is_paired_by_path(tmp_path: Path) -> None:
    """Every word and UID of the report rewritten: content cannot choose between the two reports
    of the template, but the output sits where exactly one source sits (folders and name)."""
    sources = _reports(tmp_path, ["no acute fracture seen alignment normal",
                                  "large pleural effusion on the left side"])
    for where in ("study1/report.dcm", "elsewhere/report.dcm"):
        _strip_uids(sources["1.2.3.2"], tmp_path / "out" / where)
        ds = pydicom.dcmread(tmp_path / "out" / where)
        ds.ImageComments = "ANONYMIZED"
        ds.save_as(tmp_path / "out" / where, enforce_file_format=False)
    result = match_outputs(records(tmp_path / "out"), sources, {}, PixelFingerprint(tmp_path / "out", sources, {}))
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.2": "study1/report.dcm"}
    assert result.method == {"1.2.3.2": "path"} and result.extra_outputs == ["elsewhere/report.dcm"]


def test_a_bare_file_name_is_no_evidence_of_the_source(tmp_path: Path) -> None:
    """Only one source is named report.dcm, but an output with no folder proves nothing by it."""
    sources = _reports(tmp_path, ["alpha beta gamma", "delta epsilon zeta"])
    sources["1.2.3.1"] = sources["1.2.3.1"].rename(sources["1.2.3.1"].with_name("first.dcm"))
    _strip_uids(sources["1.2.3.2"], tmp_path / "out" / "report.dcm")
    ds = pydicom.dcmread(tmp_path / "out" / "report.dcm")
    ds.ImageComments = "ANONYMIZED"
    ds.save_as(tmp_path / "out" / "report.dcm", enforce_file_format=False)
    result = match_outputs(records(tmp_path / "out"), sources, {}, PixelFingerprint(tmp_path / "out", sources, {}))
    assert result.pairs == {} and result.extra_outputs == ["report.dcm"], result.method


# --- a unique candidate is confirmed by pixels when the output has any -----------------------

def _one_source(root: Path, pixels: np.ndarray | None = None, number: int = 1,
                uid: str = "1.2.3.1") -> Path:
    """CT_small with its own pixels (or ``pixels``), InstanceNumber ``number``."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    if pixels is not None:
        ds.PixelData = pixels.astype(ds.pixel_array.dtype).tobytes()
    ds.SOPInstanceUID, ds.InstanceNumber = uid, number
    path = root / "src" / f"{uid}.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)
    return path


def _rewrite(src: Path, out: Path, pixels: np.ndarray | None = None, number: int | None = None) -> None:
    """A de-identified-looking copy of ``src``: new UID, name gone, optionally other pixels."""
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID, ds.PatientName = "2.25.77", "ANON"
    if pixels is not None:
        ds.PixelData = pixels.astype(ds.pixel_array.dtype).tobytes()
    if number is not None:
        ds.InstanceNumber = number
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out)


def _other_image() -> np.ndarray:
    """Another CT image of the same size, class and value range (the original, mirrored)."""
    return np.fliplr(pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array)


def test_unique_header_twin_with_another_image_is_not_paired(tmp_path: Path) -> None:
    """Same class, matrix, InstanceNumber and geometry as the only source, but another image:
    pairing it would let an unrelated file pass the source's removal checks."""
    src = _one_source(tmp_path)
    _rewrite(src, tmp_path / "out" / "x.dcm", pixels=_other_image())
    fp = PixelFingerprint(tmp_path / "out", {"1.2.3.1": src}, {})
    result = match_outputs(records(tmp_path / "out"), {"1.2.3.1": src}, {}, fp)
    assert result.pairs == {} and result.extra_outputs == ["x.dcm"]
    assert result.unmatched_inputs == ["1.2.3.1"]


def test_refuted_twin_is_paired_with_the_source_its_pixels_match(tmp_path: Path) -> None:
    """A tool that renumbered instances: InstanceNumber points at one slice, pixels at another."""
    a = _one_source(tmp_path, number=1, uid="1.2.3.1")
    b = _one_source(tmp_path, pixels=_other_image(), number=2, uid="1.2.3.2")
    sources = {"1.2.3.1": a, "1.2.3.2": b}
    _rewrite(b, tmp_path / "out" / "x.dcm", number=1)
    fp = PixelFingerprint(tmp_path / "out", sources, {})
    result = match_outputs(records(tmp_path / "out"), sources, {}, fp)
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.2": "x.dcm"}


def test_tie_winner_must_still_be_the_same_image(tmp_path: Path) -> None:
    """Two like sources: the closer of two wrong images is still a wrong image."""
    sources = write_sources(tmp_path)
    noise = np.random.default_rng(0).integers(-300, 300, (128, 128))
    _rewrite(sources["1.2.3.1"], tmp_path / "out" / "x.dcm", pixels=_other_image().T + noise)
    fp = PixelFingerprint(tmp_path / "out", sources, {})
    result = match_outputs(records(tmp_path / "out"), sources, {}, fp)
    assert result.pairs == {} and result.extra_outputs == ["x.dcm"]


def test_masked_and_lossy_reencoded_true_pair_is_still_paired(tmp_path: Path) -> None:
    """Burned-in text masked inside its box, a band outside any box blanked, then JPEG-LS
    near-lossless: still the source's image."""
    pytest.importorskip("jpeg_ls")
    from pydicom.uid import JPEGLSNearLossless
    src = _one_source(tmp_path)
    box = [0, 0, 60, 20]
    ds = pydicom.dcmread(src)
    px = ds.pixel_array.copy()
    px[box[1]:box[3], box[0]:box[2]] = 0
    px[-12:, :] = px.min()
    ds.SOPInstanceUID, ds.PixelData = "2.25.5", px.tobytes()
    ds.compress(JPEGLSNearLossless, jls_error=3)
    (tmp_path / "out").mkdir()
    ds.save_as(tmp_path / "out" / "x.dcm")
    fp = PixelFingerprint(tmp_path / "out", {"1.2.3.1": src}, {"1.2.3.1": [box]})
    assert fp.confirm("x.dcm", "1.2.3.1", None) is True
    result = match_outputs(records(tmp_path / "out"), {"1.2.3.1": src}, {}, fp)
    assert result.pairs["1.2.3.1"].file == "x.dcm" and result.method["1.2.3.1"] == "content"


def test_blank_output_keeps_its_unique_candidate(tmp_path: Path) -> None:
    """A tool that blanked every pixel leaves no evidence against the source: kept paired."""
    src = _one_source(tmp_path)
    _rewrite(src, tmp_path / "out" / "x.dcm", pixels=np.zeros((128, 128)))
    fp = PixelFingerprint(tmp_path / "out", {"1.2.3.1": src}, {})
    assert fp.confirm("x.dcm", "1.2.3.1", None) is None
    result = match_outputs(records(tmp_path / "out"), {"1.2.3.1": src}, {}, fp)
    assert result.pairs["1.2.3.1"].file == "x.dcm"


def test_document_without_pixels_keeps_its_unique_candidate(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    ds.SOPInstanceUID = "1.2.3.1"
    for kw in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation"):
        delattr(ds, kw)
    (tmp_path / "src").mkdir()
    ds.save_as(tmp_path / "src" / "doc.dcm")
    sources = {"1.2.3.1": tmp_path / "src" / "doc.dcm"}
    _strip_uids(sources["1.2.3.1"], tmp_path / "out" / "d.dcm")
    fp = PixelFingerprint(tmp_path / "out", sources, {})
    result = match_outputs(records(tmp_path / "out"), sources, {}, fp)
    assert result.pairs["1.2.3.1"].file == "d.dcm"


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "examples_rgb_color.dcm",
                                  "examples_palette.dcm", "SC_rgb_small_odd.dcm", "rtdose_1frame.dcm",
                                  "liver_1frame.dcm"])
def test_raw_frame_reads_what_pydicom_decodes(name: str) -> None:
    """The fast path must give pydicom's values (else a source and its re-encoded output,
    read different ways, would differ)."""
    from midib.score.fingerprint import _raw_first_frame
    from midib.score.pixels import frame
    path = Path(get_testdata_file(name))
    raw = _raw_first_frame(path)
    if raw is None:
        pytest.skip(f"{name}: not a layout the raw path reads")
    assert np.array_equal(raw, frame(pydicom.dcmread(path), 0))


def test_raw_frame_masks_unused_high_bits(tmp_path: Path) -> None:
    """12 bits stored in 16 with junk above: pydicom ignores the junk, so must the raw path."""
    from midib.score.fingerprint import _raw_first_frame
    from midib.score.pixels import frame
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    px = ds.pixel_array.astype(np.int16) & 0x0FFF
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
    ds.PixelData = (px.astype(np.uint16) | 0xF000).tobytes()
    ds.save_as(tmp_path / "x.dcm")
    expected = frame(pydicom.dcmread(tmp_path / "x.dcm"), 0)
    assert expected.max() < 4096 and np.array_equal(_raw_first_frame(tmp_path / "x.dcm"), expected)


def test_raw_frame_reads_planar_colour(tmp_path: Path) -> None:
    from midib.score.fingerprint import _raw_first_frame
    ds = pydicom.dcmread(get_testdata_file("examples_rgb_color.dcm"))
    rgb = ds.pixel_array
    ds.PlanarConfiguration, ds.PixelData = 1, rgb.transpose(2, 0, 1).tobytes()
    ds.save_as(tmp_path / "p.dcm")
    assert np.array_equal(_raw_first_frame(tmp_path / "p.dcm"), rgb)


def test_thumbnails_on_an_executor_are_cached_and_prefetched(tmp_path: Path, monkeypatch) -> None:
    """Sources' thumbnails computed once per benchmark version (a second scorer reads the
    cache), outputs' grids read in units up front: same verdicts as computing on demand."""
    from types import SimpleNamespace
    from midib.score import fingerprint
    from midib.score.workunits import InlineExecutor
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(tmp_path / "cache"))
    sources = write_sources(tmp_path)
    (tmp_path / "key.jsonl").write_text("{}")
    bench = SimpleNamespace(checks_path=tmp_path / "key.jsonl", manifest_path=tmp_path / "none.json",
                            input_dir=tmp_path / "src")
    out = tmp_path / "out"
    _rewrite(sources["1.2.3.1"], out / "a.dcm", number=1)
    _rewrite(sources["1.2.3.1"], out / "b.dcm", pixels=np.fliplr(pydicom.dcmread(sources["1.2.3.2"]).pixel_array).T)

    def pair_all() -> dict[str, str]:
        thumbs = fingerprint.source_thumbnails(InlineExecutor(), bench, sources, {})
        fp = PixelFingerprint(out, sources, {}, thumbs)
        return {i: r.file for i, r in match_outputs(records(out), sources, {}, fp).pairs.items()}
    first = pair_all()

    def must_not_run(items):
        raise AssertionError("sources' thumbnails computed again despite a warm cache")
    monkeypatch.setattr(fingerprint, "thumbnails_unit", must_not_run)
    assert pair_all() == first and first["1.2.3.1"] == "a.dcm" and "b.dcm" not in first.values()
    # on disk, read by instance (held whole they grew the parent by ~5 KB a source), and only
    # the last SOURCE_MEMO asked for are kept: the same pairs with a memory of one
    from midib.score.diskmap import DiskMap
    stored = fingerprint.source_thumbnails(InlineExecutor(), bench, sources, {}).of_sources()
    assert isinstance(stored, DiskMap) and sorted(stored) == sorted(sources)
    monkeypatch.setattr(fingerprint, "SOURCE_MEMO", 1)
    assert pair_all() == first


def test_a_reused_uid_on_another_matrix_is_not_its_source(tmp_path: Path) -> None:
    """Two benchmarks made with one seed share UIDs: a file keeping the UID of a 128x128 source
    but holding a 64x64 image is not that source's output (and content cannot pair it)."""
    src = _one_source(tmp_path)
    ds = pydicom.dcmread(src)
    small = ds.pixel_array[::2, ::2].copy()
    ds.Rows, ds.Columns, ds.PixelData = 64, 64, small.tobytes()
    (tmp_path / "out").mkdir()
    ds.save_as(tmp_path / "out" / "x.dcm")
    _rewrite(src, tmp_path / "out" / "y.dcm")
    y = pydicom.dcmread(tmp_path / "out" / "y.dcm")
    y.SOPInstanceUID = "1.2.3.1"  # kept its UID: paired by it
    y.save_as(tmp_path / "out" / "y.dcm")
    fp = PixelFingerprint(tmp_path / "out", {"1.2.3.1": src}, {})
    result = match_outputs(records(tmp_path / "out"), {"1.2.3.1": src}, {}, fp)
    assert result.pairs["1.2.3.1"].file == "y.dcm" and result.method["1.2.3.1"] == "uid"
    assert result.extra_outputs == ["x.dcm"] and result.duplicate_outputs == []


def test_a_cropped_output_keeping_its_uid_is_still_paired(tmp_path: Path) -> None:
    """A tool that crops a banner changes the matrix but keeps the UID: when content cannot pair
    it and no other output claims the source, the UID still does (judged, not dropped)."""
    src = _one_source(tmp_path)
    ds = pydicom.dcmread(src)
    cropped = ds.pixel_array[16:, :].copy()
    ds.Rows, ds.PixelData = cropped.shape[0], cropped.tobytes()
    (tmp_path / "out").mkdir()
    ds.save_as(tmp_path / "out" / "x.dcm")
    fp = PixelFingerprint(tmp_path / "out", {"1.2.3.1": src}, {})
    result = match_outputs(records(tmp_path / "out"), {"1.2.3.1": src}, {}, fp)
    assert result.pairs["1.2.3.1"].file == "x.dcm" and result.method["1.2.3.1"] == "uid"
    assert result.extra_outputs == [] and result.unmatched_inputs == []


def test_a_stored_matcher_reads_waiting_outputs_back_and_pairs_the_same(tmp_path: Path) -> None:
    """With ``stored``, outputs waiting for content keep only their file name (read back from
    the record store at the end, as the scorer's observe phase stored them): same pairs, same
    extras, and every pair slimmed to its file."""
    from midib.score.matching import Matcher
    from midib.score.workunits import SlimRecord
    sources = write_sources(tmp_path)
    out, box = tmp_path / "out", [0, 0, 40, 12]
    deidentified(sources["1.2.3.2"], out / "a.dcm", "2.25.1", box)
    deidentified(sources["1.2.3.1"], out / "b.dcm", "2.25.2", box)
    _rewrite(sources["1.2.3.1"], out / "c.dcm", pixels=_other_image())
    recs = records(out)

    def matched(stored: bool):
        matcher = Matcher(sources, {}, slim=lambda r: SlimRecord(r), stored=stored)
        for rec in recs:
            matcher.add(rec)
        assert (matcher.pending == []) == stored and len(matcher.pending_files) == (3 if stored else 0)
        fp = PixelFingerprint(out, sources, {i: [box] for i in sources})
        return matcher.finish(fp, {r.file: r for r in recs} if stored else None)
    kept, stored = matched(False), matched(True)
    assert {i: r.file for i, r in stored.pairs.items()} == {i: r.file for i, r in kept.pairs.items()} \
        == {"1.2.3.2": "a.dcm", "1.2.3.1": "b.dcm"}
    assert stored.extra_outputs == kept.extra_outputs == ["c.dcm"] and stored.method == kept.method
    assert all(isinstance(r, SlimRecord) for r in stored.pairs.values())
    with pytest.raises(ValueError, match="needs the outputs' records"):
        Matcher(sources, {}, stored=True).finish(None)


@pytest.mark.parametrize("renumbered", [False, True])
def test_real_output_of_a_source_a_raw_copy_claimed_is_its_duplicate(tmp_path: Path, renumbered: bool) -> None:
    """A submission that leaves a copy of an input beside the real output: the copy claims the
    source by its unchanged UID; the real output (same pixels) must be reported its second
    claimant, not paired with the free neighbouring slice whose pixels are nearly the same
    (then judged against the wrong image). Renumbered: found by pixels among all the slices."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.int32)
    a = _one_source(tmp_path, number=1, uid="1.2.3.1")
    b = _one_source(tmp_path, pixels=base + np.random.default_rng(1).integers(-4, 5, base.shape),
                    number=2, uid="1.2.3.2")
    sources = {"1.2.3.1": a, "1.2.3.2": b}
    out = tmp_path / "out"
    out.mkdir()
    (out / "0_copy.dcm").write_bytes(a.read_bytes())
    _rewrite(a, out / "1_real.dcm", number=7 if renumbered else None)
    fp = PixelFingerprint(out, sources, {})
    assert fp.confirm("1_real.dcm", "1.2.3.2", None) is True   # the neighbour would pass alone
    result = match_outputs(records(out), sources, {}, fp)
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.1": "0_copy.dcm"}
    assert result.duplicate_outputs == [{"file": "1_real.dcm", "instance": "1.2.3.1", "scored": "0_copy.dcm"}]
    assert result.unmatched_inputs == ["1.2.3.2"]


def test_an_output_equally_like_a_claimed_and_a_free_twin_is_the_free_ones(tmp_path: Path) -> None:
    """Two sources alike in header and pixels (a series written twice): one kept its UID and
    claimed its source; the other's output has a new UID and must pair with the free twin."""
    a = _one_source(tmp_path, number=1, uid="1.2.3.1")
    b = _one_source(tmp_path, number=1, uid="1.2.3.2")
    sources = {"1.2.3.1": a, "1.2.3.2": b}
    out = tmp_path / "out"
    out.mkdir()
    (out / "0_kept.dcm").write_bytes(a.read_bytes())
    _rewrite(b, out / "1_new.dcm")
    result = match_outputs(records(out), sources, {}, PixelFingerprint(out, sources, {}))
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.1": "0_kept.dcm", "1.2.3.2": "1_new.dcm"}
    assert result.duplicate_outputs == []


@pytest.mark.parametrize("shape,dtype", [((512, 640), np.uint16), ((97, 131), np.int16),
                                         ((64, 80, 3), np.uint8), ((12, 40), np.uint16)])
def test_boxed_thumbnails_equal_the_plain_thumbnail_for_every_box_set(shape, dtype) -> None:
    """Ties weigh an output against each candidate's own boxes: the shortcut (block sums once,
    the boxes' pixels subtracted) must give exactly the thumbnail of the blanked frame, also for
    overlapping boxes, boxes past the edges or inverted, and tiny frames (repeated block edges)."""
    from midib.score.fingerprint import BoxedThumbnails, thumbnail
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    px = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    frame = np.asarray(px, dtype=np.float64)
    h, w = shape[:2]
    box_sets = [[], [[10, 5, 60, 30]], [[10, 5, 60, 30], [40, 20, 90, 45]],   # overlapping
                [[-20, -5, 15, 8], [w - 9, h - 3, w + 40, h + 50]],           # past the edges
                [[30, 30, 10, 10]], [[0, 0, w, h]],                           # inverted, all of it
                [[int(x) for x in sorted(rng.integers(0, w, 2))[:1]] + [1] +
                 [int(rng.integers(0, w)) + 1, h - 1]]]
    boxed = BoxedThumbnails(frame)
    for boxes in box_sets:
        got, want = boxed(boxes), thumbnail(frame, boxes)
        assert got.shape == want.shape
        if len(shape) == 2:   # integer grey frames: exact, so ties are settled as before
            assert np.array_equal(got, want), boxes
        else:
            assert np.allclose(got, want, rtol=0, atol=1e-9), boxes


def test_document_words_read_from_bytes_equal_pydicoms(mini_bench: Path) -> None:
    """Ties between documents are settled by their words, read by the raw walker (pydicom cost
    ~40 ms per RTSTRUCT): the same words as a pydicom reading, multi-valued elements included,
    for every generated document and pydicom's own SR, RTSTRUCT, implicit-VR and big-endian
    files; a file that is not DICOM has no words."""
    from midib.score.wording import _pydicom_words, text_words
    docs = [p for p in sorted(mini_bench.joinpath("input").rglob("*.dcm"))
            if pydicom.dcmread(p, stop_before_pixels=True).Modality in ("SR", "RTSTRUCT", "SEG", "DOC")]
    named = [get_testdata_file(n) for n in ("test-SR.dcm", "rtstruct.dcm", "rtplan.dcm", "CT_small.dcm",
                                            "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "chr_arab.dcm")]
    files = docs + [Path(p) for p in named if p]
    assert len(docs) >= 2 and len(files) >= len(docs) + 6
    for path in files:
        words = text_words(path)
        assert words == _pydicom_words(path), path.name
    assert "axial" in text_words(Path(get_testdata_file("CT_small.dcm")))   # ImageType, multi-valued
    assert text_words(Path(__file__)) == set()


def test_structure_sets_whose_roi_names_were_blanked_are_paired_by_their_number(tmp_path: Path) -> None:
    """A tool may empty ROI names (anyone may have typed a name there; Orthanc does): the
    structure set is then paired on how many ROIs and contours it has, not left unmatched;
    a blanked output with another number of ROIs than the only source is not paired to it."""
    rt = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
    n_rois = len(rt.StructureSetROISequence)
    assert n_rois >= 2
    sources = {}
    for i, keep in enumerate((n_rois, n_rois - 1)):   # two structure sets, a different ROI count
        ds = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
        ds.SOPInstanceUID = f"1.2.3.{i + 1}"
        for seq in ("StructureSetROISequence", "ROIContourSequence", "RTROIObservationsSequence"):
            setattr(ds, seq, getattr(ds, seq)[:keep])
        sources[ds.SOPInstanceUID] = tmp_path / "src" / f"{i}.dcm"
        sources[ds.SOPInstanceUID].parent.mkdir(exist_ok=True)
        ds.save_as(sources[ds.SOPInstanceUID])
    for name, src in (("a.dcm", "1.2.3.2"), ("b.dcm", "1.2.3.1")):
        ds = pydicom.dcmread(sources[src], force=True)
        ds.SOPInstanceUID = f"2.25.{len(name)}{ord(name[0])}"
        for roi in ds.StructureSetROISequence:
            roi.ROIName = ""
        (tmp_path / "out").mkdir(exist_ok=True)
        ds.save_as(tmp_path / "out" / name)
    result = match_outputs(records(tmp_path / "out"), sources, {}, PixelFingerprint(tmp_path / "out", sources, {}))
    assert {i: r.file for i, r in result.pairs.items()} == {"1.2.3.2": "a.dcm", "1.2.3.1": "b.dcm"}
    only = {"1.2.3.1": sources["1.2.3.1"]}
    alone = match_outputs([r for r in records(tmp_path / "out") if r.file == "a.dcm"], only, {}, None)
    assert not alone.pairs and alone.extra_outputs == ["a.dcm"]
