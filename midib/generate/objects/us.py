"""Ultrasound: single-frame RGB images and multi-frame cine loops (480x640 RGB).

Ultrasound is where burned-in PHI lives in practice (the banner across the top with name, ID
and date), so every image leaves the banner rows dark and puts the B-mode sector below it.
The US Region Calibration (SequenceOfUltrasoundRegions) is geometry a de-identifier must keep.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.common import (clone, header, instance_uid, item, new_dataset,
                                           pixel_module, series_datetime, series_uid, set_times)
from midib.generate.objects.stack import set_pixels

US_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.3.1"
ROWS, COLS = 480, 640
BANNER = 60          # rows kept free for the vendor banner (where the planter writes)
CM_PER_PIXEL = 0.03
DEFAULT_COUNT = {"US": 3, "US_CINE": 1}
DEFAULT_FRAMES = 8


def sector_frames(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """B-mode frames (n, rows, cols, 3) uint8: speckle in a fan, a cyst drifting with breathing."""
    y, x = np.mgrid[0:ROWS, 0:COLS].astype(np.float32)
    apex_y, apex_x = BANNER + 5.0, COLS / 2
    r = np.hypot(y - apex_y, x - apex_x)
    angle = np.arctan2(x - apex_x, y - apex_y)
    fan = (r < ROWS - BANNER - 20) & (np.abs(angle) < 0.62) & (y > apex_y)
    depth_gain = np.clip(1.1 - r / (ROWS * 1.2), 0.2, 1.0)
    speckle = rng.rayleigh(0.45, size=(n_frames, ROWS, COLS)).astype(np.float32)
    phase = np.sin(np.linspace(0, 2 * np.pi, n_frames, endpoint=False, dtype=np.float32))
    cy = 280.0 + 12.0 * phase[:, None, None] + rng.uniform(-20, 20)
    cx = COLS / 2 + rng.uniform(-60, 60)
    cyst = ((x[None] - cx) / 45.0) ** 2 + ((y[None] - cy) / 30.0) ** 2 <= 1.0
    gray = np.where(cyst, 0.08, 1.0) * speckle * depth_gain[None] * fan[None] * 170.0
    gray = np.clip(gray, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=3)


def region_calibration() -> Sequence:
    """SequenceOfUltrasoundRegions: one 2D tissue region in centimetres."""
    return Sequence([item(
        RegionSpatialFormat=1, RegionDataType=1, RegionFlags=0,
        RegionLocationMinX0=0, RegionLocationMinY0=BANNER, RegionLocationMaxX1=COLS - 1,
        RegionLocationMaxY1=ROWS - 1, PhysicalUnitsXDirection=3, PhysicalUnitsYDirection=3,
        PhysicalDeltaX=CM_PER_PIXEL, PhysicalDeltaY=CM_PER_PIXEL,
        ReferencePixelX0=COLS // 2, ReferencePixelY0=BANNER + 5)])


def us_template(kind: str, study: StudyContext, device: Device, uids: UidFactory,
                rng: np.random.Generator, series_number: int, n_frames: int) -> Dataset:
    """Header shared by the images of one US series."""
    suid = series_uid(uids, study, kind, series_number)
    sop_class = US_MULTIFRAME_SOP_CLASS if kind == "US_CINE" else US_SOP_CLASS
    ds = new_dataset(sop_class, suid)
    header(ds, study, device, uids, modality="US", series_instance_uid=suid,
           series_number=series_number, description="US ABDOMEN" if kind == "US" else "US CINE",
           protocol="Abdomen General")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL", "0001"]
    pixel_module(ds, ROWS, COLS, bits=8, stored=8, photometric="RGB")
    ds.LossyImageCompression = "00"
    ds.TransducerData = ["C5-1", "", ""]
    ds.ProcessingFunction = "ABDOMEN"
    ds.SequenceOfUltrasoundRegions = region_calibration()
    ds.BurnedInAnnotation = "NO"
    ds.PatientOrientation = ""
    if kind == "US_CINE":
        ds.NumberOfFrames = n_frames
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = "33.3"
        ds.CineRate = 30
        ds.RecommendedDisplayFrameRate = 30
        ds.StartTrim = 1
        ds.StopTrim = n_frames
        ds.ActualFrameDuration = 33
        ds.PreferredPlaybackSequencing = 0
    return ds


def build_us_kind(kind: str, study: StudyContext, device: Device, uids: UidFactory,
                  rng: np.random.Generator, *, series_number: int, n_instances: int | None = None,
                  **_: object) -> list[Dataset]:
    """``n_instances`` US images (default 3) or cine loops (default 1, 8 frames each)."""
    n_frames = DEFAULT_FRAMES if kind == "US_CINE" else 1
    template = us_template(kind, study, device, uids, rng, series_number, n_frames)
    start = series_datetime(study, series_number) + dt.timedelta(seconds=30)
    out = []
    for i in range(n_instances or DEFAULT_COUNT[kind]):
        ds = clone(template, instance_uid(uids, template.SeriesInstanceUID, i))
        ds.InstanceNumber = i + 1
        set_times(ds, start + dt.timedelta(seconds=25 * i))
        frames = sector_frames(n_frames, rng)
        set_pixels(ds, frames if kind == "US_CINE" else frames[0])
        out.append(ds)
    return out


def build_us(*args: object, **kwargs: object) -> list[Dataset]:
    return build_us_kind("US", *args, **kwargs)  # type: ignore[arg-type]


def build_us_cine(*args: object, **kwargs: object) -> list[Dataset]:
    return build_us_kind("US_CINE", *args, **kwargs)  # type: ignore[arg-type]
