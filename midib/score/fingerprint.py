"""A pixel fingerprint that survives de-identification: block means outside the PHI boxes.

Used by matching only to settle ties (same SOP class, size and geometry) or outputs whose
InstanceNumber/geometry changed. The frame is decoded (so a new transfer syntax does not
matter), the ledger's PHI boxes are blanked on both sides (so masking burned-in text does not
matter) and the image is reduced to 16x16 block means (so lossy re-encoding barely moves it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pydicom

from midib.score.observation import OutputRecord

GRID = 16
#: mean absolute difference of normalised block means under which two frames are "the same image"
MAX_DISTANCE = 0.05


def _first_frame(path: Path) -> Optional[np.ndarray]:
    try:
        from midib.score.pixels import frame
        ds = pydicom.dcmread(path, force=True)
        return np.asarray(frame(ds, 0), dtype=np.float64)
    except Exception:
        return None


def thumbnail(pixels: np.ndarray, boxes: list[list[int]]) -> np.ndarray:
    """16x16 block means of ``pixels`` (grey), with ``boxes`` blanked to 0 first."""
    img = pixels.mean(axis=-1) if pixels.ndim == 3 else pixels.copy()
    for x0, y0, x1, y1 in boxes:
        img[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 0
    h, w = img.shape
    ys = np.linspace(0, h, GRID + 1).astype(int)[:-1]
    xs = np.linspace(0, w, GRID + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(img, ys, axis=0), xs, axis=1)
    rows = np.diff(np.append(ys, h))[:, None]
    cols = np.diff(np.append(xs, w))[None, :]
    return sums / np.maximum(rows * cols, 1)


class PixelFingerprint:
    """Callable for :func:`midib.score.matching.match_outputs`: the best source, or None."""

    def __init__(self, out_root: Path, sources: dict[str, Path],
                 boxes: dict[str, list[list[int]]]) -> None:
        self.out_root = out_root
        self.sources = sources
        self.boxes = boxes
        self._src: dict[str, Optional[np.ndarray]] = {}

    def _source_thumb(self, instance: str) -> Optional[np.ndarray]:
        if instance not in self._src:
            px = _first_frame(self.sources[instance])
            self._src[instance] = None if px is None else thumbnail(px, self.boxes.get(instance, []))
        return self._src[instance]

    def __call__(self, out_file: str, candidates: list[str], rec: OutputRecord) -> Optional[str]:
        out_px = _first_frame(self.out_root / out_file)
        if out_px is not None and float(out_px.max() - out_px.min()) == 0:
            return None  # a blank image matches nothing
        if out_px is None:  # no pixels (SR, RTSTRUCT...): the non-PHI words settle the tie
            return self._by_text(out_file, candidates)
        best, best_d = None, MAX_DISTANCE
        for inst in sorted(candidates):
            src = self._source_thumb(inst)
            out = thumbnail(out_px, self.boxes.get(inst, []))
            if src is None or src.shape != out.shape:
                continue
            scale = float(src.max() - src.min()) or 1.0
            d = float(np.abs(src - out).mean()) / scale
            if d < best_d:
                best, best_d = inst, d
        return best

    def _by_text(self, out_file: str, candidates: list[str]) -> Optional[str]:
        """The candidate sharing clearly the most words with the output (Jaccard), or None.

        Ties between documents of one template (two radiology reports of the same size) are
        settled by their wording: a de-identifier removes a few PHI words, not the findings.
        """
        out = text_words(self.out_root / out_file)
        if not out:
            return None
        scored = sorted(((_jaccard(out, text_words(self.sources[i])), i) for i in sorted(candidates)),
                        key=lambda t: -t[0])
        if scored and scored[0][0] >= MIN_TEXT_OVERLAP and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            return scored[0][1]
        return None


#: share of words an output must have in common with its source for a text-only match
MIN_TEXT_OVERLAP = 0.5
_NOT_WORDS = frozenset({"UI", "DA", "DT", "TM", "PN", "AS"})


def text_words(path: Path) -> set[str]:
    """The words of every text value of a file (any depth), UIDs, dates and names left out."""
    from midib.score.values import words
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        found: set[str] = set()
        for elem in ds.iterall():
            if elem.VR in _NOT_WORDS or elem.VR == "SQ" or not isinstance(elem.value, (str, list)):
                continue
            values = elem.value if isinstance(elem.value, list) else [elem.value]
            found.update(w for v in values if isinstance(v, str) for w in words(v))
        return found
    except Exception:
        return set()


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
