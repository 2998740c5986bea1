"""Burned-in text: draw identifying labels into pixel data and say exactly where they are.

Text is rendered by Pillow onto a label patch (text on a solid background, as scanners and
screen captures print it), so the box is exact (x1, y1 exclusive) and the patch is the only
pixels that change. Fonts: DejaVu from the system when present, and Pillow's built-in font;
sizes, corners and polarity vary, and every label is drawn large enough to be read by OCR,
because a leak nobody can read is not a fair test.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEJAVU_FACES = ("DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf",
                "DejaVuSansCondensed.ttf")
BUILTIN = "pillow-default"
RGB_COLOURS = {"white": ((255, 255, 255), (0, 0, 0)), "black": ((0, 0, 0), (255, 255, 255)),
               "yellow": ((255, 255, 0), (0, 0, 0)), "green": ((0, 255, 0), (0, 0, 0))}


@dataclass(frozen=True)
class BurnedText:
    """One label drawn into one frame: its text, box [x0, y0, x1, y1) and how it looks."""

    text: str
    box: tuple[int, int, int, int]
    frame: int
    font: str
    size: int
    polarity: str


def font_names() -> list[str]:
    """Fonts available here: the DejaVu faces found on disk, then Pillow's built-in one."""
    return [f for f in DEJAVU_FACES if (DEJAVU / f).is_file()] + [BUILTIN]


@lru_cache(maxsize=64)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font by name and pixel size (built-in: Pillow's scalable default when FreeType exists)."""
    if name == BUILTIN:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(DEJAVU / name), size)


def layout(lines: list[str], width: int, height: int, font_name: str, size: int, corner: str
           ) -> list[tuple[str, tuple[int, int, int, int], tuple[int, int]]]:
    """Place lines as a stack in a corner: [(text, patch box, text origin)]; lines that don't fit are dropped."""
    font = load_font(font_name, size)
    pad, gap, margin = max(2, size // 4), max(2, size // 5), max(4, width // 50)
    placed = []
    y = margin if corner.startswith("top") else None
    sizes = []
    for text in lines:
        x0, y0, x1, y1 = font.getbbox(text)
        sizes.append((text, x0, y0, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad))
    if y is None:
        y = height - margin - sum(s[4] + gap for s in sizes)
    for text, bx, by, w, h in sizes:
        if w > width - 2 * margin or y < 0 or y + h > height:
            continue
        x = margin if corner.endswith("left") else width - margin - w
        placed.append((text, (x, y, x + w, y + h), (x + pad - bx, y + pad - by)))
        y += h + gap
    return placed


def text_mask(box: tuple[int, int, int, int], text: str, origin: tuple[int, int], font_name: str,
              size: int) -> np.ndarray:
    """Boolean mask (patch-sized) of the glyphs of ``text`` drawn at ``origin`` (binarised)."""
    x0, y0, x1, y1 = box
    img = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(img).text((origin[0] - x0, origin[1] - y0), text, fill=255,
                             font=load_font(font_name, size))
    return np.asarray(img) >= 128


def burn_frame(frame: np.ndarray, placed, font_name: str, size: int, polarity: str,
               monochrome1: bool = False) -> None:
    """Draw placed labels into one frame in place (grey: frame min/max; RGB: named colours)."""
    if frame.ndim == 3:
        fg, bg = RGB_COLOURS.get(polarity, RGB_COLOURS["white"])
    else:
        lo, hi = (frame.min(), frame.max()) if frame.max() > frame.min() else _range(frame.dtype)
        bright_text = (polarity != "black") != monochrome1
        fg, bg = (hi, lo) if bright_text else (lo, hi)
    for text, (x0, y0, x1, y1), origin in placed:
        mask = text_mask((x0, y0, x1, y1), text, origin, font_name, size)
        patch = frame[y0:y1, x0:x1]
        patch[...] = bg
        patch[mask] = fg


def _range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    return (0, 1) if info is None else (max(info.min, 0), min(info.max, 4095))


def burn(frames: np.ndarray, lines: list[str], font_name: str, size: int, corner: str,
         polarity: str, monochrome1: bool = False) -> list[BurnedText]:
    """Burn ``lines`` into every frame of ``frames`` (F, H, W[, 3]) in place; one record per label per frame."""
    height, width = frames.shape[1:3]
    placed = layout(lines, width, height, font_name, size, corner)
    out = []
    for f in range(frames.shape[0]):
        burn_frame(frames[f], placed, font_name, size, polarity, monochrome1)
        out += [BurnedText(t, box, f, font_name, size, polarity) for t, box, _ in placed]
    return out
