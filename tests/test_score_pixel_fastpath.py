"""The pixel phase's byte-level fast path: same verdicts as the pydicom path, far fewer reads.

Every scenario is judged twice, with ``pixelstage.FAST_PATH`` on and off (off = both files read
and decoded with pydicom, the reference), and the two verdicts must be equal, pass or fail.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import numpy as np
import pydicom
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from midib.answer_key import Check
from midib.score import pixelstage, rawpixels
from midib.score.verdict import Verdict

BOX = [10, 10, 60, 40]


def check(action: str, expected: dict, cid: str = "c") -> Check:
    return Check(cid, "inst", "f", "p", "st", "se", "CT", "instance", action, None, "", expected)


def retained(boxes=(BOX,), frames=None) -> Check:
    return check("pixels_retained", {"boxes": [list(b) for b in boxes],
                                     "frames": frames or [0] * len(boxes)}, "keep")


def explicit(ds: Dataset) -> Dataset:
    """``ds`` as native explicit VR little endian (the walker's syntax)."""
    ds = copy.deepcopy(ds)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


@pytest.fixture()
def ct() -> Dataset:
    return dcmread(get_testdata_file("CT_small.dcm"))


@pytest.fixture()
def rgb_planar() -> Dataset:
    """An RGB image stored colour-by-plane (PlanarConfiguration 1)."""
    ds = explicit(dcmread(get_testdata_file("SC_rgb_rle.dcm")))
    arr = ds.pixel_array
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(arr.transpose(2, 0, 1)).tobytes()
    return ds


@pytest.fixture()
def multiframe() -> Dataset:
    return explicit(dcmread(get_testdata_file("rtdose.dcm")))


def judge(src: Dataset, out: Dataset | bytes, tmp_path: Path, checks: list[Check],
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Verdict]:
    """Verdicts with the fast path, after asserting the pydicom path gives the same."""
    src_path, out_path = tmp_path / "src.dcm", tmp_path / "out.dcm"
    src.save_as(src_path, enforce_file_format=True)
    if isinstance(out, bytes):
        out_path.write_bytes(out)
    else:
        out.save_as(out_path, enforce_file_format=True)
    found = {}
    for fast in (False, True):
        monkeypatch.setattr(pixelstage, "FAST_PATH", fast)
        job = pixelstage.PixelJob()
        found[fast] = (pixelstage.instance_verdicts(checks, src_path, out_path, job),
                       [(cid, crop.tobytes(), box, text) for cid, crop, box, text in job.crops])
    assert found[True] == found[False]
    return found[True][0]


def edit(ds: Dataset, change: Callable[[np.ndarray], None]) -> Dataset:
    out = copy.deepcopy(ds)
    arr = out.pixel_array.copy()
    change(arr)
    out.PixelData = arr.tobytes()
    return out


def test_scan_matches_pydicom(ct: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "ct.dcm"
    ct.save_as(path)
    found = rawpixels.scan(path)
    assert found is not None and found.pixel_bytes().tobytes() == ct.PixelData
    assert (found.number("rows"), found.number("columns"), found.number("frames")) == (128, 128, 1)
    assert rawpixels.layout(found) == ("MONOCHROME2", 0, 128, 128, 16, 16, 1, 1, 1)


@pytest.mark.parametrize("kind", ["multiframe", "rgb_planar", "ct"])
def test_changed_pixels_are_located_exactly(kind: str, request, tmp_path: Path) -> None:
    ds = request.getfixturevalue(kind)
    arr = ds.pixel_array.copy()  # as (frames, rows, columns, samples)
    arr = arr.reshape((int(ds.get("NumberOfFrames") or 1), ds.Rows, ds.Columns, ds.SamplesPerPixel))
    frames, rows, cols = arr.shape[:3]
    where = [(0, 0, 0), (frames - 1, rows - 1, cols - 1), (0, 3, 5), (0, 3, 6)]
    for f, r, c in where:
        arr[f, r, c, -1] = arr[f, r, c, -1] + 1 if arr[f, r, c, -1] < 200 else 0
    out = copy.deepcopy(ds)
    stored = arr.transpose(0, 3, 1, 2) if kind == "rgb_planar" else arr
    out.PixelData = np.ascontiguousarray(stored).tobytes()
    paths = [tmp_path / "a.dcm", tmp_path / "b.dcm"]
    ds.save_as(paths[0], enforce_file_format=True)
    out.save_as(paths[1], enforce_file_format=True)
    src, dst = (rawpixels.scan(p) for p in paths)
    points = rawpixels.changed_pixels(src, dst)
    assert set(map(tuple, points.tolist())) == set(where)
    corner = {i: [] for i in range(frames)}
    corner[0].append([0, 0, 7, 4])
    assert rawpixels.outside_boxes(points, corner)  # the last pixel is outside every box
    corner[frames - 1].append([cols - 1, rows - 1, 9999, 9999])
    assert not rawpixels.outside_boxes(points, corner)


def test_scan_follows_encapsulated_pixel_data(tmp_path: Path) -> None:
    path = Path(get_testdata_file("SC_rgb_rle.dcm"))
    found = rawpixels.scan(path)
    assert found is not None and found.encapsulated and rawpixels.layout(found) is None
    assert found.pixel_bytes().tobytes().rstrip(b"\0") == dcmread(path).PixelData.rstrip(b"\0")


def test_scan_follows_undefined_length_sequences(ct: Dataset, tmp_path: Path) -> None:
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "113100", "DCM"
    item = Dataset()
    item.CodeMeaning = "x" * 11  # odd length, padded
    item.ConceptCodeSequence = Sequence([inner])
    ct.ReferencedImageSequence = Sequence([item, Dataset()])
    for elem in (ct["ReferencedImageSequence"], item["ConceptCodeSequence"]):
        elem.is_undefined_length = True
    item.is_undefined_length_sequence_item = True
    path = tmp_path / "seq.dcm"
    ct.save_as(path)
    assert b"\xfe\xff\xdd\xe0" in path.read_bytes()[:path.read_bytes().find(ct.PixelData)]
    found = rawpixels.scan(path)
    assert found is not None and found.pixel_bytes().tobytes() == dcmread(path).PixelData


@pytest.mark.parametrize("name", ["MR_small_implicit.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm"])
def test_scan_gives_up_on_other_syntaxes(name: str) -> None:
    assert rawpixels.scan(Path(get_testdata_file(name))) is None


@pytest.mark.parametrize("damage", [lambda b: b[:-100], lambda b: b[:128] + b"XXXX" + b[132:],
                                    lambda b: b + b"\x01\x02\x03", lambda b: b"", lambda b: b[200:]])
def test_scan_gives_up_on_damaged_files(ct: Dataset, tmp_path: Path, damage) -> None:
    path = tmp_path / "ct.dcm"
    ct.save_as(path)
    path.write_bytes(damage(path.read_bytes()))
    assert rawpixels.scan(path) is None


def test_common_cases_build_no_dataset(ct: Dataset, tmp_path: Path, monkeypatch) -> None:
    """Header-only changes and boxes blacked out: judged from bytes, pydicom never reads."""
    header_only = copy.deepcopy(ct)
    header_only.PatientName = "ANON"
    blacked = edit(ct, lambda a: a.__setitem__((slice(10, 40), slice(10, 60)), 0))
    for out, observed in ((header_only, "identical pixel data"), (blacked, "identical")):
        src_path, out_path = tmp_path / "s.dcm", tmp_path / "o.dcm"
        ct.save_as(src_path)
        out.save_as(out_path)
        monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: pytest.fail("pydicom read"))
        verdicts = pixelstage.instance_verdicts([retained(), check("overlay_hidden", {})],
                                                src_path, out_path, pixelstage.PixelJob())
        monkeypatch.undo()
        assert verdicts == {"keep": Verdict.ok(observed), "c": Verdict.ok("overlay removed")}


def test_change_outside_box_fails_both_ways(ct: Dataset, tmp_path: Path, monkeypatch) -> None:
    out = edit(ct, lambda a: a.__setitem__((slice(100, 128), slice(100, 128)), 0))
    assert not judge(ct, out, tmp_path, [retained()], monkeypatch)["keep"].passed


def test_box_change_on_another_frame_fails(multiframe: Dataset, tmp_path: Path, monkeypatch) -> None:
    out = edit(multiframe, lambda a: a.__setitem__((0, slice(2, 5), slice(2, 5)), 7))
    assert not judge(multiframe, out, tmp_path, [retained([[0, 0, 8, 8]], [1])], monkeypatch)["keep"].passed
    assert judge(multiframe, out, tmp_path, [retained([[0, 0, 8, 8]], [0])], monkeypatch)["keep"].passed
    assert judge(multiframe, out, tmp_path, [retained([[0, 0, 8, 8]], [-1])], monkeypatch)["keep"].passed


def test_planar_rgb_box_only_passes(rgb_planar: Dataset, tmp_path: Path, monkeypatch) -> None:
    out, arr = copy.deepcopy(rgb_planar), rgb_planar.pixel_array.copy()
    arr[10:40, 10:60] = 255
    out.PixelData = np.ascontiguousarray(arr.transpose(2, 0, 1)).tobytes()
    assert judge(rgb_planar, out, tmp_path, [retained()], monkeypatch)["keep"].passed
    arr[70:90, 70:90] = 255 - arr[70:90, 70:90]  # outside the box
    out.PixelData = np.ascontiguousarray(arr.transpose(2, 0, 1)).tobytes()
    assert not judge(rgb_planar, out, tmp_path, [retained()], monkeypatch)["keep"].passed


def test_transfer_syntax_change_still_decoded(ct: Dataset, tmp_path: Path, monkeypatch) -> None:
    out = copy.deepcopy(ct)
    out.compress(RLELossless)
    assert judge(ct, out, tmp_path, [retained()], monkeypatch)["keep"].passed


def test_layout_change_is_not_judged_from_bytes(ct: Dataset, tmp_path: Path, monkeypatch) -> None:
    """Same bytes under another BitsStored decode differently: decided by pydicom, not here."""
    out = edit(ct, lambda a: a.__setitem__((slice(10, 40), slice(10, 60)), 0))
    out.BitsStored = 12
    judge(ct, out, tmp_path, [retained()], monkeypatch)


def test_removed_or_unreadable_output(ct: Dataset, tmp_path: Path, monkeypatch) -> None:
    no_pixels = copy.deepcopy(ct)
    del no_pixels.PixelData
    assert not judge(ct, no_pixels, tmp_path, [retained()], monkeypatch)["keep"].passed
    broken = judge(ct, b"not dicom at all", tmp_path, [retained(), check("overlay_hidden", {})],
                   monkeypatch)
    assert not broken["keep"].passed  # pydicom (force=True) reads it as a header without pixels


def overlay(ds: Dataset, bits: np.ndarray) -> Dataset:
    out = copy.deepcopy(ds)
    out.add_new(0x60000010, "US", bits.shape[0])
    out.add_new(0x60000011, "US", bits.shape[1])
    out.add_new(0x60000100, "US", 1)
    out.add_new(0x60000102, "US", 0)
    out.add_new(0x60000050, "SS", [1, 1])
    out.add_new(0x60000040, "CS", "G")
    out.add_new(0x60003000, "OW", np.packbits(bits.ravel(), bitorder="little").tobytes())
    return out


@pytest.mark.parametrize("drawn", [True, False])
def test_overlay_verdicts_match(ct: Dataset, tmp_path: Path, monkeypatch, drawn: bool) -> None:
    bits = np.zeros((128, 128), dtype=np.uint8)
    bits[12:20, 12:50] = 1 if drawn else 0
    bits[100:110, 100:110] = 1  # outside the box: allowed
    out = overlay(ct, bits)
    verdict = judge(ct, out, tmp_path, [check("overlay_hidden", {"group": "6000", "box": BOX})],
                    monkeypatch)["c"]
    assert verdict.passed is not drawn


def test_ocr_crops_identical_both_ways(ct: Dataset, tmp_path: Path, monkeypatch) -> None:
    hidden = [check("pixels_hidden", {"box": BOX, "frame": 0, "text": "DOE"}, "h"), retained()]
    judge(ct, copy.deepcopy(ct), tmp_path, hidden, monkeypatch)


def test_pixels_changed_everywhere_are_left_to_the_decoding_path(ct: Dataset, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Locating every changed byte costs ~30x its size in indexes: beyond MAX_CHANGED_WORDS the
    raw comparison steps aside (None) and the verdict is the decoding path's, unchanged."""
    out = edit(ct, lambda a: a.__setitem__(slice(None), a + 1))      # every pixel changed
    paths = [tmp_path / "a.dcm", tmp_path / "b.dcm"]
    ct.save_as(paths[0], enforce_file_format=True)
    out.save_as(paths[1], enforce_file_format=True)
    src, dst = (rawpixels.scan(p) for p in paths)
    assert rawpixels.changed_pixels(src, dst) is not None          # small enough to locate
    monkeypatch.setattr(rawpixels, "MAX_CHANGED_WORDS", 16)
    assert rawpixels.changed_pixels(src, dst) is None
    verdicts = judge(ct, out, tmp_path, [retained()], monkeypatch)
    assert "SSIM" in verdicts["keep"].observed   # judged by decoding (a +1 shift is near-lossless)
