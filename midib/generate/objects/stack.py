"""Cross-sectional stacks (CT, MR, PT): geometry consistent along the stack, one clone per slice.

A de-identifier must keep geometry (ImagePositionPatient, PixelSpacing, FrameOfReferenceUID...)
intact, and the scorer matches outputs to inputs partly by it, so every slice of a stack shares
orientation, spacing and frame of reference and steps its position by exactly the slice spacing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.context import StudyContext, UidFactory
from midib.generate.objects.common import clone, instance_uid, set_times

SliceHook = Callable[[Dataset, int], None]


@dataclass(frozen=True)
class StackGeometry:
    """Axial, head-first supine: rows run anterior->posterior, slices head->feet."""

    rows: int
    cols: int
    pixel_mm: float
    thickness: float
    origin: tuple[float, float, float]

    def position(self, index: int) -> list[float]:
        x, y, z = self.origin
        return [round(x, 4), round(y, 4), round(z - index * self.thickness, 4)]


def stack_geometry(matrix: int, fov_mm: float, thickness: float,
                   rng: np.random.Generator) -> StackGeometry:
    """Geometry centred on the table, with a random table height and start position."""
    pixel = round(fov_mm / matrix, 6)
    half = fov_mm / 2 - pixel / 2
    z0 = float(np.round(rng.uniform(-200.0, 100.0), 1))
    dy = float(np.round(rng.uniform(-30.0, 30.0), 1))
    return StackGeometry(rows=matrix, cols=matrix, pixel_mm=pixel, thickness=thickness,
                         origin=(-half, -half + dy, z0))


def plane_module(ds: Dataset, geom: StackGeometry, study: StudyContext, uids: UidFactory,
                 modality: str) -> None:
    """Image Plane and Frame of Reference modules; one frame of reference per modality and study."""
    ds.FrameOfReferenceUID = uids.uid("for", study.study_uid, modality)
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [geom.pixel_mm, geom.pixel_mm]
    ds.SliceThickness = geom.thickness
    ds.PatientPosition = "HFS"


def set_pixels(ds: Dataset, array: np.ndarray) -> None:
    """PixelData as raw little-endian bytes with the VR its bit depth calls for."""
    vr = "OB" if array.dtype.itemsize == 1 else "OW"
    ds.add_new(0x7FE00010, vr, array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def build_stack(template: Dataset, geom: StackGeometry, pixels: np.ndarray, uids: UidFactory,
                start: dt.datetime, hook: SliceHook | None = None) -> list[Dataset]:
    """One dataset per slice of ``pixels`` (n, rows, cols), cloned from ``template``."""
    out = []
    for i in range(pixels.shape[0]):
        ds = clone(template, instance_uid(uids, template.SeriesInstanceUID, i))
        ds.InstanceNumber = i + 1
        position = geom.position(i)
        ds.ImagePositionPatient = position
        ds.SliceLocation = position[2]
        set_times(ds, start + dt.timedelta(seconds=i))
        set_pixels(ds, pixels[i])
        if hook is not None:
            hook(ds, i)
        out.append(ds)
    return out
