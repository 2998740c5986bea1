"""Burned-in text and overlay labels are readable by OCR exactly inside their recorded boxes."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from midib.benchmark import Benchmark
from midib.generate.burnin import BUILTIN, burn, font_names
from midib.generate.overlay import overlay_plane
from midib.ledger import read_ledger

pytesseract = pytest.importorskip("pytesseract")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def _norm(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def ocr(crop: np.ndarray) -> str:
    """Crop -> 8-bit, dark text on light, scaled 3x with a white margin (what tesseract likes)."""
    from PIL import Image

    grey = crop.mean(axis=2) if crop.ndim == 3 else crop.astype(float)
    lo, hi = grey.min(), grey.max()
    img = ((grey - lo) / max(hi - lo, 1) * 255).astype(np.uint8)
    if np.median(img) < 128:
        img = 255 - img
    pil = Image.fromarray(img)
    pil = pil.resize((pil.width * 3, pil.height * 3), Image.LANCZOS)
    framed = Image.new("L", (pil.width + 40, pil.height + 40), 255)
    framed.paste(pil, (20, 20))
    return pytesseract.image_to_string(framed, config="--psm 7")


def readable(expected: str, got: str) -> bool:
    a, b = _norm(expected), _norm(got)
    return bool(a) and difflib.SequenceMatcher(None, a, b).ratio() >= 0.75


def _display(ds, frame: int) -> np.ndarray:
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return arr[frame] if frames > 1 else arr


def test_every_burned_in_label_is_read_by_ocr_in_its_box(mini_bench: Path):
    bench = Benchmark(mini_bench)
    entries = [e for e in read_ledger(bench.ledger_path) if e.channel == "pixel" and e.role == "phi"]
    assert entries
    unique = {}
    for e in entries:  # a cine banner repeats per frame: read each distinct label once
        unique.setdefault((e.file, e.value, tuple(e.box)), e)
    cache = {}
    failures = []
    for (file, text, box), e in unique.items():
        ds = cache.setdefault(file, dcmread(bench.input_dir / file))
        x0, y0, x1, y1 = box
        got = ocr(_display(ds, e.frame)[y0:y1, x0:x1])
        if not readable(text, got):
            failures.append((file, text, got, e.extra["font"], e.extra["size"]))
    assert not failures, failures


def test_overlay_labels_are_read_by_ocr(mini_bench: Path):
    bench = Benchmark(mini_bench)
    entries = [e for e in read_ledger(bench.ledger_path) if e.channel == "overlay"]
    seen = {}
    for e in entries:
        seen.setdefault((e.file, e.value), e)
    assert seen
    for (file, text), e in list(seen.items())[:6]:
        plane = overlay_plane(dcmread(bench.input_dir / file))
        x0, y0, x1, y1 = e.box
        assert readable(text, ocr(plane[y0:y1, x0:x1] * 255)), text


@pytest.mark.parametrize("font", font_names())
@pytest.mark.parametrize("polarity", ["white", "black"])
def test_burn_changes_only_the_box_and_is_readable(font, polarity):
    rng = np.random.default_rng(0)
    frames = rng.integers(200, 3000, size=(2, 300, 400), dtype=np.uint16)
    before = frames.copy()
    burned = burn(frames, ["DOE, JOHN", "MRN12345678"], font, 20, "top-right", polarity)
    assert len(burned) == 4 and {b.frame for b in burned} == {0, 1}
    outside = np.ones(frames.shape[1:], bool)
    for b in burned:
        x0, y0, x1, y1 = b.box
        outside[y0:y1, x0:x1] = False
    assert np.array_equal(frames[:, outside], before[:, outside])
    b = burned[1]
    x0, y0, x1, y1 = b.box
    assert readable("MRN12345678", ocr(frames[0, y0:y1, x0:x1]))


def test_builtin_font_is_offered():
    assert font_names()[-1] == BUILTIN
