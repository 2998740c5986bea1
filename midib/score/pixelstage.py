"""Verdicts of the pixel checks, computed per instance and OCR'd in one batch.

Only instances with pixel checks have their pixel data read. The common case never builds a
pydicom Dataset: :mod:`midib.score.rawpixels` locates the PixelData bytes of source and output,
and equal bytes (or native bytes equal outside the PHI boxes) pass at once; OCR crops, changed
or re-encoded pixels and overlays still drawn are decoded with pydicom (3-4x fewer ms an
instance on `small`, benchmarks/bench_pixels.py; same verdicts, which that script checks). Boxes for OCR are cropped with a margin right
away so the batch holds small crops, not frames.
With OCR off (``--no-ocr``) or unavailable, a box passes only when it is uniform (nothing can be
written in it) and fails otherwise, saying OCR did not run: unscorable is never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pydicom

from midib.answer_key import Check
from midib.score import rawpixels
from midib.score.verdict import Verdict

PIXEL_ACTIONS = frozenset({"pixels_hidden", "pixels_retained", "overlay_hidden"})
MARGIN = 8
#: False: every check reads both files with pydicom (the reference the fast path must equal;
#: tests and benchmarks/bench_pixels.py compare the two)
FAST_PATH = True
UNIFORM_STD = 2.0


@dataclass
class OcrStats:
    available: bool = False
    reason: str = ""
    boxes: int = 0
    seconds: float = 0.0


@dataclass
class PixelJob:
    """Crops waiting for OCR: (check id, crop, box inside crop, text)."""

    crops: list[tuple[str, np.ndarray, list[int], str]] = field(default_factory=list)


def _crop(frame: np.ndarray, box: list[int]) -> tuple[np.ndarray, list[int]]:
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    cx0, cy0 = max(x0 - MARGIN, 0), max(y0 - MARGIN, 0)
    cx1, cy1 = min(x1 + MARGIN, w), min(y1 + MARGIN, h)
    return frame[cy0:cy1, cx0:cx1].copy(), [x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0]


def _overlay_verdict(ds: pydicom.Dataset, check: Check) -> Verdict:
    group = int(str(check.expected.get("group", "6000")), 16)
    if (group << 16 | 0x3000) not in ds:
        return Verdict.ok("overlay removed")
    try:
        plane = ds.overlay_array(group)
    except Exception as e:
        return Verdict.fail(f"overlay present but unreadable: {e}", "overlay present")
    box = check.expected.get("box") or [0, 0, plane.shape[-1], plane.shape[-2]]
    x0, y0, x1, y1 = box
    region = plane[..., y0:y1, x0:x1]
    if region.size and region.any():
        return Verdict.fail(f"overlay still draws {int(region.sum())} pixels in the text box",
                            "overlay present")
    return Verdict.ok("overlay blank in box")


class _Unreadable(Exception):
    """The output cannot be read by pydicom: every pixel check of the instance fails."""


class _Files:
    """One instance's source and output, each read at most once and only as far as needed:
    the byte layout first (:mod:`midib.score.rawpixels`), a pydicom Dataset only when a check
    has to decode (OCR crops, changed or re-encoded pixels, overlays) or the walker gave up."""

    def __init__(self, src_path: Optional[Path], out_path: Path, fast: bool = True) -> None:
        self.src_path, self.out_path = src_path, out_path
        self._raw: dict[str, Optional[rawpixels.RawPixels]] = {} if fast else {"src": None, "out": None}
        self._out_ds: Optional[pydicom.Dataset] = None
        self.src_ds: Optional[pydicom.Dataset] = None

    def raw(self, which: str) -> Optional[rawpixels.RawPixels]:
        if which not in self._raw:
            path = self.out_path if which == "out" else self.src_path
            self._raw[which] = rawpixels.scan(path) if path is not None else None
        return self._raw[which]

    def out_ds(self) -> pydicom.Dataset:
        if self._out_ds is None:
            try:
                self._out_ds = pydicom.dcmread(self.out_path, force=True)
            except Exception as e:
                raise _Unreadable(f"cannot read output pixels: {e}") from e
        return self._out_ds

    def source_ds(self) -> pydicom.Dataset:
        if self.src_ds is None:
            self.src_ds = pydicom.dcmread(self.src_path, force=True)
        return self.src_ds


def instance_verdicts(checks: list[Check], src_path: Optional[Path], out_path: Path,
                      job: PixelJob) -> dict[str, Verdict]:
    """Verdicts for the pixel checks of one instance; pixels_hidden crops go to ``job``."""
    files = _Files(src_path, out_path, FAST_PATH)
    try:
        if files.raw("out") is None:
            files.out_ds()  # the walker gave up: read with pydicom up front, as it always was
        return _verdicts(checks, files, job)
    except _Unreadable as e:
        return {c.id: Verdict.fail(str(e)) for c in checks}


def _verdicts(checks: list[Check], files: _Files, job: PixelJob) -> dict[str, Verdict]:
    from midib.score import pixels
    out: dict[str, Verdict] = {}
    decoded: dict[int, np.ndarray] = {}  # several boxes on one frame: decode it once
    for c in checks:
        try:
            if c.action == "overlay_hidden":
                out[c.id] = _fast_overlay(files, c) or _overlay_verdict(files.out_ds(), c)
            elif c.action == "pixels_retained":
                if files.src_path is None or not files.src_path.is_file():
                    out[c.id] = Verdict.fail("source instance not available to compare pixels")
                    continue
                frames = c.expected.get("frames") or [0] * len(c.expected.get("boxes", []))
                boxes = list(zip(frames, c.expected.get("boxes", [])))
                out[c.id] = _fast_retained(files, boxes) or _full_retained(files, boxes)
            else:
                index = int(c.expected.get("frame", 0) or 0)
                if index not in decoded:
                    decoded[index] = pixels.frame(files.out_ds(), index)
                crop, box = _crop(decoded[index], list(c.expected["box"]))
                job.crops.append((c.id, crop, box, str(c.expected.get("text", ""))))
        except _Unreadable:
            raise
        except Exception as e:  # decoding problems fail the check with the reason
            out[c.id] = Verdict.fail(f"{c.action}: {type(e).__name__}: {e}")
    return out


def _full_retained(files: _Files, boxes: list) -> Verdict:
    """The pydicom path: byte-identical PixelData, else decoded frames compared (SSIM)."""
    from midib.score import pixels
    src_ds, out_ds = files.source_ds(), files.out_ds()
    return (Verdict.ok("identical pixel data") if _same_bytes(src_ds, out_ds)
            else pixels.retained(src_ds, out_ds, boxes))


def _fast_retained(files: _Files, boxes: list) -> Optional[Verdict]:
    """The verdict the pydicom path would give, when the bytes alone prove a pass; else None.

    Same transfer syntax and same PixelData bytes: "identical pixel data". Native pixels of the
    same layout whose bytes differ only inside the boxes decode to values equal outside them:
    "identical", as :func:`midib.score.pixels.retained` says. Anything else is decoded.
    """
    src, dst = files.raw("src"), files.raw("out")
    if src is None or dst is None or src.span is None or dst.span is None:
        return None
    if src.transfer_syntax != dst.transfer_syntax:
        return None
    if src.same_pixel_bytes(dst):
        return Verdict.ok("identical pixel data")
    changed = rawpixels.changed_pixels(src, dst)
    if changed is None:
        return None
    from midib.score.pixels import boxes_by_frame
    frames = rawpixels.layout(src)[-1]
    return None if rawpixels.outside_boxes(changed, boxes_by_frame(boxes, frames)) else Verdict(True, 1.0, "identical", "")


def _fast_overlay(files: _Files, check: Check) -> Optional[Verdict]:
    """The overlay verdict from the overlay group's own elements (pydicom converts them), or
    None to read the whole file (walker gave up, or the overlay could not be read)."""
    found = files.raw("out")
    if found is None:
        return None
    group = int(str(check.expected.get("group", "6000")), 16)
    if (group << 16 | 0x3000) not in found.overlays:
        return Verdict.ok("overlay removed")
    verdict = _overlay_verdict(found.overlay_dataset(group), check)
    return None if verdict.reason.startswith("overlay present but unreadable") else verdict


def _same_bytes(src: pydicom.Dataset, out: pydicom.Dataset) -> bool:
    """Same transfer syntax and byte-identical PixelData: retained without decoding."""
    if "PixelData" not in src or "PixelData" not in out:
        return False
    ts = lambda ds: str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    return ts(src) == ts(out) and src.PixelData == out.PixelData


def _uniform(crop: np.ndarray, box: list[int]) -> bool:
    """True if the box's grey levels (scaled 0..255 over the crop) barely vary: nothing written."""
    x0, y0, x1, y1 = box
    region = crop[y0:y1, x0:x1].astype(np.float64)
    if region.size == 0:
        return False
    span = float(crop.max() - crop.min()) or 1.0
    return float(region.std()) / span * 255.0 < UNIFORM_STD


def run_ocr(job: PixelJob, use_ocr: bool, stats: OcrStats) -> dict[str, Verdict]:
    """Verdicts for the queued crops: OCR in one batch, or uniformity only without OCR."""
    import time
    stats.boxes = len(job.crops)
    engine = None
    if use_ocr:
        try:
            from midib.score.ocr import OcrEngine
            engine = OcrEngine()
            stats.available, stats.reason = engine.available()
        except ImportError as e:
            stats.available, stats.reason = False, f"OCR module missing: {e}"
    else:
        stats.available, stats.reason = False, NO_OCR
    start = time.perf_counter()
    if engine is not None and stats.available and job.crops:
        verdicts = engine.hidden_many([(crop, box, text) for _, crop, box, text in job.crops])
        result = {cid: v for (cid, *_), v in zip(job.crops, verdicts)}
    else:
        result = {cid: _without_ocr(crop, box, stats.reason) for cid, crop, box, _ in job.crops}
    stats.seconds = time.perf_counter() - start
    return result


NO_OCR = "disabled (--no-ocr)"


def _without_ocr(crop: np.ndarray, box: list[int], reason: str) -> Verdict:
    return (Verdict.ok("uniform") if _uniform(crop, box) else
            Verdict.fail(f"box not uniform and OCR did not run ({reason})"))


def settle_without_ocr(job: PixelJob, use_ocr: bool) -> dict[str, Verdict]:
    """Verdicts of the queued crops that need no OCR, taken out of ``job``: decided where the
    crop was cut (a worker), so only crops still showing something travel to the OCR batch in
    the parent. Without OCR that is every crop; with it, a crop uniform by both tests of
    :func:`run_ocr` (the engine's and the fallback's), whose verdict is "uniform" either way."""
    from midib.score.ocr import UNIFORM_STD, to_gray8
    settled: dict[str, Verdict] = {}
    left = []
    for item in job.crops:
        cid, crop, box, _ = item
        if not use_ocr:
            settled[cid] = _without_ocr(crop, box, NO_OCR)
        elif _uniform(crop, box) and (gray := to_gray8(crop, box)).size and float(gray.std()) < UNIFORM_STD:
            settled[cid] = Verdict.ok("uniform")
        else:
            left.append(item)
    job.crops = left
    return settled
