"""Clean TCIA-like DICOM objects, one module per family, before any PHI is planted.

``build_series(kind, study, device, uids, rng, ...)`` returns complete datasets (file meta,
Patient/Study/Series/Equipment modules from the study context, the vendor's private blocks,
modality modules, pixels) ready to be planted into and written. ``pick_device`` draws a
device from ``synthetic_phi/vendors.json``; ``private_catalog`` lists every private element
any vendor writes and whether it is safe to keep.

Conformance: every kind passes ``dciodvfy`` without "Error" lines (tests/test_objects_conformance.py).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.ct import build_ct
from midib.generate.objects.mr import build_mr
from midib.generate.objects.pt import build_pt
from midib.generate.objects.us import build_us, build_us_cine
from midib.generate.objects.sc import build_sc
from midib.generate.objects.seg import build_seg
from midib.generate.objects.sr import build_sr
from midib.generate.objects.rtstruct import build_rtstruct
from midib.generate.objects.projection import build_cr, build_dx, build_mg
from midib.generate.objects.vendors import pick_device, private_catalog

OBJECT_KINDS: tuple[str, ...] = ("CT", "MR", "PT", "CR", "DX", "MG", "US", "US_CINE", "SC", "SR",
                                 "SEG", "RTSTRUCT")

Builder = Callable[..., list[Dataset]]


def _builders() -> dict[str, Builder]:
    return {"CT": build_ct, "MR": build_mr, "PT": build_pt,
            "CR": build_cr, "DX": build_dx, "MG": build_mg,
            "US": build_us, "US_CINE": build_us_cine, "SC": build_sc,
            "SEG": build_seg, "SR": build_sr,
            "RTSTRUCT": build_rtstruct}


def build_series(kind: str, study: StudyContext, device: Device, uids: UidFactory,
                 rng: np.random.Generator, *, series_number: int, n_instances: int | None = None,
                 matrix: int | None = None, source: list[Dataset] | None = None) -> list[Dataset]:
    """Build one series of ``kind`` (one of :data:`OBJECT_KINDS`) for ``study`` on ``device``."""
    builders = _builders()
    if kind not in builders:
        raise ValueError(f"unknown object kind {kind!r}; expected one of {', '.join(OBJECT_KINDS)}")
    return builders[kind](study, device, uids, rng, series_number=series_number,
                          n_instances=n_instances, matrix=matrix, source=source)


__all__ = ["OBJECT_KINDS", "build_series", "pick_device", "private_catalog"]
