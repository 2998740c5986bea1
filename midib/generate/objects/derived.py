"""What derived objects (SEG, RTSTRUCT, SR) read from the image series they reference.

Masks come from thresholds on the source's own pixels rather than from the phantom's labels,
so the same code works on any CT or MR series (including a user's real data under --base).
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset


def require_source(kind: str, source: list[Dataset] | None, modalities: tuple[str, ...]) -> list[Dataset]:
    """The referenced series, checked: derived objects cannot exist without one."""
    if not source:
        raise ValueError(f"{kind} needs source= the referenced series ({'/'.join(modalities)})")
    found = str(source[0].get("Modality", ""))
    if found not in modalities:
        raise ValueError(f"{kind} references a {'/'.join(modalities)} series, got {found!r}")
    return source


def rescaled(ds: Dataset) -> np.ndarray:
    """Pixel values in the modality's units (HU for CT)."""
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return ds.pixel_array.astype(np.float32) * slope + intercept


def thresholds(source: list[Dataset]) -> tuple[float, float]:
    """(body, dense) thresholds: HU for CT, fractions of the 99th percentile otherwise."""
    if source[0].Modality == "CT":
        return -400.0, 300.0
    p99 = float(np.percentile(rescaled(source[len(source) // 2]), 99))
    return 0.15 * p99, 0.6 * p99


def masks(source: list[Dataset]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (n, rows, cols) masks of the body and of dense tissue, in ``source`` order."""
    body_t, dense_t = thresholds(source)
    values = np.stack([rescaled(ds) for ds in source])
    return values > body_t, values > dense_t


def image_reference(ds: Dataset) -> tuple[str, str]:
    return str(ds.SOPClassUID), str(ds.SOPInstanceUID)
