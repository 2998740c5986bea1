"""pixels engine: decoded frames, and pixels outside PHI boxes judged unchanged or not.

Only files bundled inside pydicom are used (others would trigger a download).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import JPEGLSNearLossless, RLELossless

from midib.score import pixels
from midib.score.pixels import SSIM_PASS, frame, retained

BOX = (0, [10, 10, 60, 40])


@pytest.fixture()
def ct() -> Dataset:
    return dcmread(get_testdata_file("CT_small.dcm"))


def with_pixels(ds: Dataset, arr: np.ndarray) -> Dataset:
    """A copy of ``ds`` carrying ``arr`` as native (uncompressed) pixel data."""
    out = copy.deepcopy(ds)
    if out.file_meta.TransferSyntaxUID.is_compressed:
        out.decompress()
    out.PixelData = arr.astype(ds.pixel_array.dtype).tobytes()
    return out


def test_frame_decodes_single_and_multi_frame(ct: Dataset) -> None:
    assert frame(ct, 0).shape == (128, 128)
    multi = dcmread(get_testdata_file("rtdose.dcm"))
    assert np.array_equal(frame(multi, 3), multi.pixel_array[3])
    rgb = dcmread(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    assert frame(rgb, 1).shape == (rgb.Rows, rgb.Columns, 3)
    assert np.array_equal(frame(rgb, 1), rgb.pixel_array[1])


def test_frame_errors_are_value_errors(ct: Dataset) -> None:
    with pytest.raises(ValueError, match="out of range"):
        frame(ct, 1)
    del ct.PixelData
    with pytest.raises(ValueError, match="no pixel data"):
        frame(ct, 0)


def test_identical_passes(ct: Dataset) -> None:
    v = retained(ct, copy.deepcopy(ct), [BOX])
    assert v.passed and v.score == 1.0


def test_change_outside_box_fails(ct: Dataset) -> None:
    arr = ct.pixel_array.copy()
    arr[80:100, 20:90] = arr.max()  # e.g. new text burned outside any PHI box
    v = retained(ct, with_pixels(ct, arr), [BOX])
    assert not v.passed and v.score < 1.0 and "outside" in v.reason


def test_change_only_inside_box_passes(ct: Dataset) -> None:
    arr = ct.pixel_array.copy()
    x0, y0, x1, y1 = BOX[1]
    arr[y0:y1, x0:x1] = 0  # the PHI box blacked out, as a correct tool does
    assert retained(ct, with_pixels(ct, arr), [BOX]).passed
    assert not retained(ct, with_pixels(ct, arr), []).passed  # same change with no box: caught


def test_box_on_another_frame_does_not_excuse_change(ct: Dataset) -> None:
    arr = ct.pixel_array.copy()
    x0, y0, x1, y1 = BOX[1]
    arr[y0:y1, x0:x1] = 0
    assert not retained(ct, with_pixels(ct, arr), [(1, BOX[1])]).passed


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_lossless_transfer_syntax_change_passes(name: str) -> None:
    src = dcmread(get_testdata_file("MR_small.dcm"))
    out = dcmread(get_testdata_file(name))
    assert out.file_meta.TransferSyntaxUID != src.file_meta.TransferSyntaxUID
    v = retained(src, out, [BOX])
    assert v.passed and v.score == 1.0, v


def test_reencoded_by_pydicom_passes(ct: Dataset) -> None:
    out = copy.deepcopy(ct)
    out.compress(RLELossless)
    assert retained(ct, out, [BOX]) == retained(ct, ct, [BOX])


def test_lossy_colour_jpeg_passes_on_ssim() -> None:
    src = dcmread(get_testdata_file("SC_rgb_rle.dcm"))
    out = dcmread(get_testdata_file("SC_rgb_dcmtk_+eb+cy+np.dcm"))  # JPEG, YBR 4:2:2
    v = retained(src, out, [])
    assert v.passed and SSIM_PASS <= v.score < 1.0


def test_lossy_reencoding_judged_by_ssim(ct: Dataset) -> None:
    out = copy.deepcopy(ct)
    out.compress(JPEGLSNearLossless, jls_error=4)
    assert not np.array_equal(frame(out, 0), frame(ct, 0))
    v = retained(ct, out, [BOX])
    assert v.passed and SSIM_PASS <= v.score < 1.0 and "SSIM" in v.observed


def test_heavy_noise_fails_light_noise_passes(ct: Dataset) -> None:
    arr = ct.pixel_array.astype(np.float64)
    rng = np.random.default_rng(0)
    span = arr.max() - arr.min()
    light = with_pixels(ct, arr + rng.normal(0, span * 0.002, arr.shape))
    heavy = with_pixels(ct, arr + rng.normal(0, span * 0.05, arr.shape))
    assert retained(ct, light, []).passed
    bad = retained(ct, heavy, [])
    assert not bad.passed and bad.score < SSIM_PASS


def test_shape_and_frame_count_changes_fail(ct: Dataset) -> None:
    small = copy.deepcopy(ct)
    small.Rows = 64
    small.PixelData = ct.pixel_array[:64].tobytes()
    v = retained(ct, small, [BOX])
    assert not v.passed and "pixel matrix changed: 128 x 128 x 1 -> 64 x 128 x 1" in v.reason
    multi = copy.deepcopy(ct)
    multi.NumberOfFrames = 2
    multi.PixelData = np.stack([ct.pixel_array] * 2).tobytes()
    v = retained(ct, multi, [BOX])
    assert not v.passed and "frame count" in v.reason
    gone = copy.deepcopy(ct)
    del gone.PixelData
    assert not retained(ct, gone, []).passed


def test_multiframe_change_in_one_frame(ct: Dataset) -> None:
    src = dcmread(get_testdata_file("rtdose.dcm"))
    arr = src.pixel_array.copy()
    arr[5, 2:6, 2:6] = arr.max() + 1000
    out = with_pixels(src, arr)
    assert not retained(src, out, [(0, [2, 2, 6, 6])]).passed
    assert retained(src, out, [(5, [2, 2, 6, 6])]).passed
    assert retained(src, out, [(-1, [2, 2, 6, 6])]).passed  # frame -1: box on every frame


def test_rgb_change_detected() -> None:
    src = dcmread(get_testdata_file("SC_rgb_rle.dcm"))
    arr = src.pixel_array.copy()
    arr[20:60, 20:80] = 255 - arr[20:60, 20:80]
    out = with_pixels(src, arr)
    bad = retained(src, out, [])
    assert not bad.passed and "outside" in bad.reason
    assert retained(src, out, [(0, [20, 20, 80, 60])]).passed


def test_outside_mask_clips_boxes() -> None:
    mask = pixels.outside_mask((10, 10), [[-5, -5, 3, 2], [8, 8, 50, 50]])
    assert not mask[0:2, 0:3].any() and not mask[8:, 8:].any() and mask.sum() == 100 - 6 - 4


def test_truncated_multiframe_output_fails() -> None:
    src = dcmread(get_testdata_file("rtdose.dcm"))
    out = copy.deepcopy(src)
    frame_bytes = len(src.PixelData) // int(src.NumberOfFrames)
    out.PixelData = src.PixelData[: frame_bytes * (int(src.NumberOfFrames) - 1)]
    verdict = retained(src, out, [])
    assert not verdict.passed and verdict.reason


def test_boxes_on_one_frame_decode_it_once(ct: Dataset, tmp_path, monkeypatch) -> None:
    """Each box's crop comes from its own frame, and a frame holding several boxes is decoded
    once (decoding dominated the pixel stage of instances with many boxes)."""
    from midib.answer_key import Check
    from midib.score import pixelstage

    path = tmp_path / "ct.dcm"
    ct.save_as(path)
    calls: list[int] = []
    real = pixels.frame
    monkeypatch.setattr(pixels, "frame", lambda ds, i: calls.append(i) or real(ds, i))
    boxes = [[10, 10, 60, 40], [20, 30, 50, 60], [0, 0, 8, 8]]
    checks = [Check(f"c{i}", "inst", "f", "p", "st", "se", "CT", "instance", "pixels_hidden", None,
                    "", {"box": b, "frame": 0, "text": "DOE"}) for i, b in enumerate(boxes)]
    job = pixelstage.PixelJob()
    assert pixelstage.instance_verdicts(checks, None, path, job) == {}
    assert calls == [0]
    arr = ct.pixel_array
    for (cid, crop, box, text), b in zip(job.crops, boxes):
        x0, y0, x1, y1 = box
        assert np.array_equal(crop[y0:y1, x0:x1], arr[b[1]:b[3], b[0]:b[2]]) and text == "DOE"


def test_ssim_in_strips_equals_ssim_of_the_whole_frame(monkeypatch) -> None:
    """Large frames are compared strip by strip to bound memory: same figures as in one go."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(7)
    src = rng.integers(0, 4096, size=(700, 300)).astype(np.uint16)
    out = src.copy()
    out[100:400, 50:120] = rng.integers(0, 4096, size=(300, 70))     # damage crossing strips
    out = np.clip(out.astype(np.int32) + rng.integers(-3, 4, size=out.shape), 0, 4095).astype(np.uint16)
    mask = pixels.outside_mask(src.shape, [[200, 600, 260, 650]])
    monkeypatch.setattr(pixels, "STRIP_ROWS", 128)
    mean, damaged = pixels.frame_similarity(src, out, mask)
    a, b = src.astype(np.float64), out.astype(np.float64)
    b[~mask] = a[~mask]
    _, local = structural_similarity(a, b, data_range=float(a.max() - a.min()), win_size=7, full=True)
    assert mean == pytest.approx(float(local[mask].mean()), abs=1e-9)
    assert damaged == pytest.approx(float((local[mask] < pixels.LOCAL_SSIM_FLOOR).mean()), abs=1e-9)
    assert 0 < damaged < 1


def test_a_header_claiming_a_huge_matrix_is_refused_before_decoding(ct: Dataset, monkeypatch) -> None:
    """A few bytes of RLE whose header says 65535 x 65535: the decoder would allocate 8 GiB.
    Retention fails on the header alone, and decoding such a frame is refused with the reason."""
    bomb = copy.deepcopy(ct)
    bomb.Rows = bomb.Columns = 65535
    bomb.file_meta.TransferSyntaxUID = RLELossless
    bomb.PixelData = b"\x00" * 64
    decoded = []
    monkeypatch.setattr(pixels, "pixel_array", lambda *a, **k: decoded.append(a) or np.zeros(1))
    v = retained(ct, bomb, [BOX])
    assert not v.passed and "65535 x 65535" in v.reason
    with pytest.raises(ValueError, match="over the 1 GiB the scorer decodes"):
        frame(bomb, 0)
    with pytest.raises(ValueError, match="over the 1 GiB"):
        next(pixels.frames(bomb))
    assert decoded == []


@pytest.mark.parametrize("implicit", [False, True])
def test_pixels_of_a_dataset_written_without_file_meta_decode(tmp_path, implicit: bool) -> None:
    """A tool that writes bare datasets (no preamble, no (0002,0010)) keeps valid pixels; pydicom
    refuses to decode them without a transfer syntax, and every pixel check of such an output
    failed as undecodable."""
    import pydicom
    from pydicom.data import get_testdata_file
    from midib.score.pixels import frame, frames
    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    bare = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del bare.file_meta
    bare.preamble = None
    path = tmp_path / "bare.dcm"
    bare.save_as(path, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
    assert path.read_bytes()[128:132] != b"DICM"
    again = pydicom.dcmread(path, force=True)
    assert np.array_equal(frame(again, 0), original.pixel_array)
    assert np.array_equal(next(frames(pydicom.dcmread(path, force=True))), original.pixel_array)
    assert path.read_bytes()[128:132] != b"DICM"     # the file itself is never written
