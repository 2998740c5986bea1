"""Before/after thumbnails of burned-in text failures, as PNG ``data:`` URIs.

A reader believes a pixel leak when they see it: the source frame and the tool's output frame
side by side with the PHI box drawn. The PNGs are inlined so the report stays one file that
makes no request; they are downscaled (``MAX_SIDE``) to keep the page light, and the number
shown is capped by the caller.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from collections import defaultdict
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import pydicom
from PIL import Image, ImageDraw

from midib.answer_key import read_key
from midib.benchmark import Benchmark

MAX_SIDE = 192
PALETTE = 64            # colours kept in a thumbnail
PIXEL_ACTIONS = ("pixels_hidden", "overlay_hidden")


@dataclass
class PixelFailure:
    """The failed pixel checks of one frame, pictured once (None when a file could not be read)."""

    check_ids: list[str]
    texts: list[str]
    boxes: list[list[int]]
    before: Optional[str]
    after: Optional[str]
    note: str = ""


def frame_to_png(path: Path, frame: int = 0, boxes: Sequence[list[int]] = ()) -> Optional[str]:
    """A downscaled 8-bit rendering of one frame with ``boxes`` outlined, as a data URI."""
    try:
        ds = pydicom.dcmread(path, force=True)
        pixels = ds.pixel_array
    except Exception:  # any unreadable or pixel-less file: the caller shows "not available"
        return None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1 and pixels.ndim >= 3:
        pixels = pixels[min(frame, frames - 1)]
    image = _to_image(pixels, str(getattr(ds, "PhotometricInterpretation", "")))
    image = image.convert("RGB")
    draw = ImageDraw.Draw(image)
    for box in boxes:
        if box and len(box) == 4:
            draw.rectangle([int(v) for v in box], outline=(255, 40, 40),
                           width=max(2, max(image.size) // 120))
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    buf = io.BytesIO()
    image.quantize(PALETTE).save(buf, format="PNG", optimize=True)   # ~4x smaller, text still legible
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _to_image(pixels: np.ndarray, photometric: str) -> Image.Image:
    """Window the full range to 8 bits (MONOCHROME1 inverted) so text is visible."""
    arr = pixels.astype(np.float64)
    low, high = float(arr.min()), float(arr.max())
    arr = (arr - low) / (high - low) * 255 if high > low else np.zeros_like(arr)
    arr = arr.astype(np.uint8)
    if photometric == "MONOCHROME1":
        arr = 255 - arr
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        return Image.fromarray(arr[..., :3], "RGB")
    return Image.fromarray(arr if arr.ndim == 2 else arr[..., 0], "L")


def source_files(bench_dir: Optional[Path], check_ids: set[str]) -> dict[str, str]:
    """check_id -> source file (relative to BENCH/input) from the benchmark's answer key."""
    if not bench_dir or not check_ids:
        return {}
    key = Benchmark(bench_dir).checks_path
    if not key.is_file():
        return {}
    return {c.id: c.file for c in read_key(key) if c.id in check_ids}


def _output_path(run_root: Path, output_file: str) -> Optional[Path]:
    """Results name output files relative to RUN/output (or the scored folder itself)."""
    if not output_file:
        return None
    for candidate in (Path(output_file), run_root / "output" / output_file, run_root / output_file):
        if candidate.is_file():
            return candidate
    return None


def _expected(row: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(row.get("expected") or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def pixel_failures(rows: Iterable[dict[str, Any]], run_root: Path, bench_dir: Optional[Path],
                   limit: int) -> list[PixelFailure]:
    """Before/after pictures of the first ``limit`` frames with failed pixel checks (all boxes drawn)."""
    frames: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        key = (str(r.get("instance") or r["check_id"]), int(_expected(r).get("frame") or 0))
        if key in frames or len(frames) < limit:
            frames[key].append(r)
    sources = source_files(bench_dir, {r["check_id"] for group in frames.values() for r in group})
    shown = []
    for (_, frame), group in frames.items():
        boxes = [b for b in (_expected(r).get("box") for r in group) if b]
        src = next((sources[r["check_id"]] for r in group if r["check_id"] in sources), None)
        before = frame_to_png(bench_dir / "input" / src, frame, boxes) if bench_dir and src else None
        out = _output_path(run_root, group[0].get("output_file", ""))
        after = frame_to_png(out, frame, boxes) if out else None
        note = "" if before and after else "source or output image not available"
        shown.append(PixelFailure([r["check_id"] for r in group],
                                  [str(_expected(r).get("text", "")) for r in group],
                                  boxes, before, after, note))
    return shown
