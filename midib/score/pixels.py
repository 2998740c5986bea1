"""Pixel data engine: decode frames and judge whether pixels outside PHI boxes were kept.

A de-identifier may legitimately re-encode pixel data (another transfer syntax, even a lossy
one), so retention is judged on *decoded* values, never on bytes or MD5s. Pixels inside the PHI
boxes are the ones a tool is supposed to change, so they are excluded from the comparison.

Decision rule for ``pixels_retained`` (documented threshold):

1. identical decoded values outside the boxes -> pass, score 1.0;
2. otherwise the difference is judged with SSIM (scikit-image, 7x7 windows, data range of the
   source frame), computed only over pixels outside the boxes. A frame passes when its mean SSIM
   is >= :data:`SSIM_PASS` (0.97, the usual "visually lossless" level of JPEG at quality ~90)
   AND at most :data:`MAX_DAMAGED_FRACTION` (0.1 %) of its outside-box pixels have a local SSIM
   below :data:`LOCAL_SSIM_FLOOR` (0.5). The second condition exists because a mean hides a
   small local edit: new text burned into a corner of a 512x512 image barely moves the mean, but
   every pixel under it has a near-zero local SSIM, whereas compression noise is spread thinly.
   Score = the lowest mean SSIM over frames.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import iter_pixels, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from midib.score.verdict import Verdict

#: mean SSIM (outside the boxes) a lossy re-encoding must reach to count as "pixels retained"
SSIM_PASS = 0.97
#: local SSIM below which a pixel counts as damaged (not merely compressed)
LOCAL_SSIM_FLOOR = 0.5
#: largest fraction of outside-box pixels allowed to be damaged
MAX_DAMAGED_FRACTION = 0.001

Box = tuple[int, list[int]]


def frame_count(ds: Dataset) -> int:
    """Number of frames of the pixel data (1 when NumberOfFrames is absent or empty)."""
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


#: the largest decoded frame the scorer allocates (1 GiB): a hostile output's header can claim
#: 65535 x 65535 pixels over a few bytes of RLE, and the decoder would ask for 8 GiB
MAX_FRAME_BYTES = 1 << 30


def matrix(ds: Dataset) -> tuple[int, int, int]:
    """(Rows, Columns, SamplesPerPixel) as the header states them (0 where absent or unreadable)."""
    def number(keyword: str, default: int) -> int:
        try:
            return int(ds.get(keyword) or default)
        except (TypeError, ValueError):
            return 0
    return number("Rows", 0), number("Columns", 0), number("SamplesPerPixel", 1)


def check_frame_size(ds: Dataset) -> None:
    """Refuse (ValueError with the reason) a frame whose decoded size exceeds MAX_FRAME_BYTES."""
    rows, cols, samples = matrix(ds)
    try:
        bits = int(ds.get("BitsAllocated") or 8)
    except (TypeError, ValueError):
        bits = 8
    size = rows * cols * samples * max(1, (bits + 7) // 8)
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {rows} x {cols} x {samples} at {bits} bits ({size / 2**30:.1f} GiB) "
                         f"is over the {MAX_FRAME_BYTES // 2**30} GiB the scorer decodes")


def with_syntax(ds: Dataset) -> None:
    """Give a dataset read without a file meta header (a bare dataset, as some tools write:
    valid DICOM on the wire, and pydicom reads it) the transfer syntax it was read in, so that
    its native pixels decode: pydicom's decoders refuse a dataset without (0002,0010), and
    every pixel check of such an output failed as undecodable. Only the dataset in memory."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return
    syntax = (ImplicitVRLittleEndian if implicit else
              ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    if meta is None:
        from pydicom.dataset import FileMetaDataset
        ds.file_meta = meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax


def frame(ds: Dataset, index: int) -> np.ndarray:
    """Decoded frame ``index`` (RGB as HxWx3); raises ValueError with the reason if impossible.

    Only decoding is applied (and YCbCr -> RGB, so a colour image re-encoded as JPEG compares
    with its source); no modality or VOI LUT, since the comparison is between raw stored values.
    """
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ValueError("no pixel data")
    count = frame_count(ds)
    if not 0 <= index < count:
        raise ValueError(f"frame {index} out of range (the object has {count} frame(s))")
    check_frame_size(ds)
    with_syntax(ds)
    try:
        return pixel_array(ds, index=index if count > 1 else None)
    except Exception as exc:  # decoders raise many types; callers need one with a reason
        raise ValueError(f"cannot decode frame {index}: {type(exc).__name__}: {exc}") from exc


def frames(ds: Dataset) -> Iterator[np.ndarray]:
    """Every decoded frame in order, with one decoder set-up (multi-frame objects are long)."""
    if "PixelData" not in ds:
        raise ValueError("no pixel data")
    check_frame_size(ds)
    with_syntax(ds)
    count, index = frame_count(ds), 0
    try:
        for arr in iter_pixels(ds):
            if index >= count:
                return
            yield arr
            index += 1
    except Exception as exc:  # decoders raise many types; callers need one with a reason
        raise ValueError(f"cannot decode frame {index}: {type(exc).__name__}: {exc}") from exc


def outside_mask(shape: tuple[int, ...], boxes: list[list[int]]) -> np.ndarray:
    """Boolean HxW mask, True outside every box ([x0, y0, x1, y1], x1/y1 exclusive, clipped)."""
    height, width = shape[0], shape[1]
    mask = np.ones((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[max(y0, 0):max(min(y1, height), 0), max(x0, 0):max(min(x1, width), 0)] = False
    return mask


def boxes_by_frame(boxes: list[Box], frames: int) -> dict[int, list[list[int]]]:
    """Group boxes by frame; a frame of None/-1 means the box applies to every frame."""
    grouped: dict[int, list[list[int]]] = {i: [] for i in range(frames)}
    for index, box in boxes:
        targets = range(frames) if index is None or index < 0 else [index]
        for i in targets:
            if i in grouped:
                grouped[i].append(list(box))
    return grouped


def luminance(arr: np.ndarray) -> np.ndarray:
    """Float grey levels; RGB (HxWx3) weighted as ITU-R BT.601 luma."""
    grey = arr.astype(np.float64)
    return grey[..., :3] @ np.array([0.299, 0.587, 0.114]) if grey.ndim == 3 else grey


def frame_similarity(src: np.ndarray, out: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(mean SSIM, damaged fraction) over the pixels where ``mask`` is True.

    Box content of ``out`` is replaced by the source's so SSIM windows straddling a box edge
    see only what changed outside it. Colour frames are compared on luminance: chroma
    subsampling (JPEG YBR_FULL_422) is a normal lossy re-encoding, not a loss of content.
    """
    a, b = luminance(src), luminance(out)
    b[~mask] = a[~mask]
    data_range = float(a.max() - a.min()) or 1.0
    win = min(7, a.shape[0], a.shape[1])
    if win < 3:
        return (1.0 if np.array_equal(a, b) else 0.0), 0.0
    win -= 1 - win % 2  # odd window size
    total, count, damaged = 0.0, 0, 0
    for local, inside in _local_ssim_strips(a, b, mask, data_range, win):
        values = local[inside]
        total, count = total + float(values.sum()), count + values.size
        damaged += int((values < LOCAL_SSIM_FLOOR).sum())
    if count == 0:
        return 1.0, 0.0
    return total / count, damaged / count


#: rows of a frame whose local SSIM map is computed at once: a 5-megapixel mammogram in one go
#: needed ~400 MB of float64 temporaries, in 256-row strips ~60 MB
STRIP_ROWS = 256


def _local_ssim_strips(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float,
                       win: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(local SSIM, mask) strip by strip. Each strip is computed with ``win`` rows of real
    neighbours above and below, then trimmed, so every window sees the same pixels as on the
    whole frame: the values equal the whole-frame map (up to float rounding)."""
    # imported here: it pulls in scipy (~0.25 s in every scoring worker), and runs whose pixel
    # data is byte-identical or only blacked out in boxes never need SSIM
    from skimage.metrics import structural_similarity

    height = a.shape[0]
    if height <= STRIP_ROWS + 2 * win:
        yield structural_similarity(a, b, data_range=data_range, win_size=win, full=True)[1], mask
        return
    for r0 in range(0, height, STRIP_ROWS):
        r1 = min(r0 + STRIP_ROWS, height)
        lo, hi = max(r0 - win, 0), min(r1 + win, height)
        _, local = structural_similarity(a[lo:hi], b[lo:hi], data_range=data_range, win_size=win, full=True)
        yield local[r0 - lo:r1 - lo], mask[r0:r1]


def changed_outside(a: np.ndarray, b: np.ndarray, boxes: list[list[int]]) -> bool:
    """True if any decoded value differs outside the boxes (no masked copies: frames are big)."""
    changed = a != b
    if changed.ndim == 3:
        changed = changed.any(axis=-1)
    for x0, y0, x1, y1 in boxes:
        changed[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = False
    return bool(changed.any())


def compare_frame(index: int, a: np.ndarray, b: np.ndarray,
                  boxes: list[list[int]]) -> tuple[Verdict | None, float, str]:
    """(failure or None, mean SSIM outside the boxes, note) for one pair of decoded frames."""
    if a.shape != b.shape:
        return (Verdict.fail(f"frame {index}: shape changed {a.shape} -> {b.shape}",
                             observed=f"shape {b.shape}"), 0.0, "")
    if np.array_equal(a, b) or not changed_outside(a, b, boxes):
        return None, 1.0, ""
    mean, damaged = frame_similarity(a, b, outside_mask(a.shape, boxes))
    if damaged > MAX_DAMAGED_FRACTION:
        return (Verdict.fail(f"frame {index}: {damaged:.2%} of pixels outside the PHI boxes "
                             f"changed beyond compression noise", observed=f"SSIM {mean:.4f}",
                             score=mean * (1 - damaged)), mean, "")
    return None, mean, f"frame {index} SSIM {mean:.4f}"


def retained(src_ds: Dataset, out_ds: Dataset, boxes: list[Box]) -> Verdict:
    """Judge whether decoded pixels outside the PHI boxes are unchanged (see module docstring)."""
    if "PixelData" not in out_ds and "PixelData" in src_ds:
        return Verdict.fail("pixel data removed", observed="no pixel data")
    n_src, n_out = frame_count(src_ds), frame_count(out_ds)
    if n_src != n_out:
        return Verdict.fail(f"frame count changed: {n_src} -> {n_out}", observed=f"{n_out} frames")
    if matrix(src_ds) != matrix(out_ds):  # judged on the header: nothing decoded for a bomb
        src_m, out_m = matrix(src_ds), matrix(out_ds)
        return Verdict.fail(f"pixel matrix changed: {src_m[0]} x {src_m[1]} x {src_m[2]} -> "
                            f"{out_m[0]} x {out_m[1]} x {out_m[2]}",
                            observed=f"{out_m[0]} x {out_m[1]} x {out_m[2]}")
    grouped = boxes_by_frame(boxes, n_src)
    worst, notes, compared = 1.0, [], 0
    try:
        for index, (a, b) in enumerate(zip(frames(src_ds), frames(out_ds))):
            failure, mean, note = compare_frame(index, a, b, grouped[index])
            if failure is not None:
                return failure
            worst = min(worst, mean)
            notes += [note] if note else []
            compared += 1
    except ValueError as exc:
        return Verdict.fail(str(exc))
    if compared != n_src:  # a decoder yielding fewer frames must not pass by silence
        return Verdict.fail(f"only {compared} of {n_src} frames could be compared")
    if worst >= SSIM_PASS:
        return Verdict(True, worst, "; ".join(notes) or "identical", "")
    return Verdict.fail(f"pixels outside PHI boxes changed (SSIM {worst:.4f} < {SSIM_PASS})",
                        observed="; ".join(notes), score=worst)
