"""Overlay planes with text: identifying annotations stored beside the pixels in (60xx,3000).

Older workstations save annotations ("PAT: DOE, JOHN") as a one-bit graphics overlay; a tool
that only cleans PixelData leaves them. The plane is drawn with the burn-in renderer, so the
box of each label is exact, and described by OverlayDescription/OverlayLabel as devices do.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import pack_bits, unpack_bits

from midib.generate.burnin import layout, text_mask


def add_overlay(ds: Dataset, lines: list[str], font: str, size: int, corner: str,
                description: str, label: str, group: int = 0x6000
                ) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Draw ``lines`` into a new graphics overlay in ``group``; return (text, box) per label."""
    rows, cols = int(ds.Rows), int(ds.Columns)
    placed = layout(lines, cols, rows, font, size, corner)
    plane = np.zeros((rows, cols), dtype=np.uint8)
    for text, box, origin in placed:
        x0, y0, x1, y1 = box
        plane[y0:y1, x0:x1][text_mask(box, text, origin, font, size)] = 1
    if not placed:
        return []
    ds.add_new((group, 0x0010), "US", rows)
    ds.add_new((group, 0x0011), "US", cols)
    ds.add_new((group, 0x0022), "LO", description)
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", [1, 1])
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    ds.add_new((group, 0x1500), "LO", label)
    ds.add_new((group, 0x3000), "OW", pack_bits(plane.ravel()))
    return [(text, box) for text, box, _ in placed]


def overlay_plane(ds: Dataset, group: int = 0x6000) -> np.ndarray | None:
    """The overlay in ``group`` as a (rows, cols) 0/1 array, or None when there is none."""
    if (group, 0x3000) not in ds:
        return None
    rows, cols = int(ds[group, 0x0010].value), int(ds[group, 0x0011].value)
    bits = unpack_bits(ds[group, 0x3000].value)[: rows * cols]
    return bits.reshape(rows, cols).astype(np.uint8)
