"""OCR throughput for pixels_hidden: ms per box, batched vs one tesseract call per box.

Usage: .venv/bin/python benchmarks/bench_ocr.py [N_BOXES]   (default 200)

Boxes hold readable burned-in text (the worst case: nothing is uniform, every box is OCR'd),
DejaVu and Pillow's built-in font, both polarities, 12-24 px. Prints figures, asserts nothing.
The same cost through the scorer (decoding, crops, OCR) is benchmarks/bench_score_ocr.py.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from midib.score.ocr import OcrEngine

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TEXTS = ["DOE^JOHN", "SMITH^JANE Q", "MRN 4839201", "19-Jan-2004", "St Mary Hospital",
         "ACC 20240119-77", "O'BRIEN^PATRICK", "555-867-5309"]


def make_items(n: int) -> list[tuple[np.ndarray, list[int], str]]:
    """n frames (256x320, 12-bit range) with one text box each."""
    items = []
    for i in range(n):
        text = TEXTS[i % len(TEXTS)]
        size = 12 + (i % 5) * 3
        face = ImageFont.truetype(str(DEJAVU), size) if DEJAVU.exists() and i % 4 else ImageFont.load_default()
        fg, bg = (255, 0) if i % 2 else (0, 255)
        image = Image.new("L", (320, 256), bg)
        draw = ImageDraw.Draw(image)
        draw.text((20, 40), text, fill=fg, font=face)
        x0, y0, x1, y1 = draw.textbbox((20, 40), text, font=face)
        items.append((np.asarray(image).astype(np.uint16) * 16, [x0 - 4, y0 - 4, x1 + 4, y1 + 4], text))
    return items


def timed(label: str, fn, n: int) -> list:
    start = time.perf_counter()
    verdicts = fn()
    seconds = time.perf_counter() - start
    leaks = sum(not v.passed for v in verdicts)
    print(f"{label:<28} {n:5d} boxes {seconds:7.2f} s {1000 * seconds / n:8.1f} ms/box  leaks found {leaks}/{n}")
    return verdicts


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    engine = OcrEngine()
    ok, reason = engine.available()
    if not ok:
        print(f"OCR unavailable: {reason}")
        return
    print(f"{reason}, {os.cpu_count()} cores, OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT')}")
    items = make_items(n)
    batched = timed("batched (hidden_many)", lambda: engine.hidden_many(items), n)
    few = items[: max(n // 5, 1)]  # one-by-one is slow: time a fifth and report per box
    single = timed("one by one (hidden)", lambda: [engine.hidden(*it) for it in few], len(few))
    same = sum(a.passed == b.passed for a, b in zip(batched, single))
    print(f"same verdict batched vs one-by-one: {same}/{len(few)}")
    blank = [(np.zeros_like(f), b, t) for f, b, t in items]
    timed("uniform boxes (no OCR)", lambda: engine.hidden_many(blank), n)
    mosaic = [(pixelate(f, b), b, t) for f, b, t in items]
    timed("pixelated boxes (4 readings)", lambda: engine.hidden_many(mosaic), n)


def pixelate(frame: np.ndarray, box: list[int], block: int = 10) -> np.ndarray:
    """The box replaced by block means: hidden, but not uniform, so every reading is tried."""
    x0, y0, x1, y1 = box
    out = frame.copy()
    region = out[y0:y1, x0:x1]
    for y in range(0, region.shape[0], block):
        for x in range(0, region.shape[1], block):
            region[y:y + block, x:x + block] = region[y:y + block, x:x + block].mean()
    return out


if __name__ == "__main__":
    main()
