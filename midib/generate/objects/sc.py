"""Secondary Capture: an RGB screenshot of a viewing workstation (480x640).

Screen captures are a classic leak: the viewer's overlay text (name, MRN, dates) is burned
into the pixels and the header says nothing. The clean capture is a dark viewer window with a
toolbar, a CT-like image pane and empty info corners where the planter writes the overlay.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.common import (clone, header, instance_uid, new_dataset, pixel_module,
                                           series_datetime, series_uid, set_times)
from midib.generate.objects.phantom import CT_HU, torso_labels
from midib.generate.objects.stack import set_pixels

SC_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"
ROWS, COLS = 480, 640
TOOLBAR = 28


def screenshot(rng: np.random.Generator) -> np.ndarray:
    """(rows, cols, 3) uint8 viewer screenshot with a windowed CT slice in the middle."""
    img = np.full((ROWS, COLS, 3), 18, dtype=np.uint8)
    img[:TOOLBAR] = (46, 52, 64)
    for k in range(8):
        img[6:TOOLBAR - 6, 10 + 34 * k:34 + 34 * k] = (90, 110, 140)
    side = ROWS - TOOLBAR - 40
    labels = torso_labels(1, side, side, rng)[0]
    hu = CT_HU[labels] + rng.standard_normal(labels.shape, dtype=np.float32) * 10.0
    gray = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    top, left = TOOLBAR + 20, (COLS - side) // 2
    img[top:top + side, left:left + side] = gray[..., None]
    img[top - 1, left - 1:left + side + 1] = (200, 170, 40)
    return img


def build_sc(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
             series_number: int, n_instances: int | None = None, **_: object) -> list[Dataset]:
    """``n_instances`` (default 1) workstation screenshots."""
    suid = series_uid(uids, study, "SC", series_number)
    template = new_dataset(SC_SOP_CLASS, suid)
    header(template, study, device, uids, modality="OT", series_instance_uid=suid,
           series_number=series_number, description="Screen Capture", protocol=None)
    template.ConversionType = "WSD"
    template.SecondaryCaptureDeviceManufacturer = device.manufacturer
    template.SecondaryCaptureDeviceManufacturerModelName = device.model
    template.SecondaryCaptureDeviceSoftwareVersions = device.software
    template.ImageType = ["DERIVED", "SECONDARY"]
    template.PatientOrientation = ""
    template.BurnedInAnnotation = "NO"
    pixel_module(template, ROWS, COLS, bits=8, stored=8, photometric="RGB")
    when = series_datetime(study, series_number) + dt.timedelta(minutes=20)
    out = []
    for i in range(n_instances or 1):
        ds = clone(template, instance_uid(uids, suid, i))
        ds.InstanceNumber = i + 1
        set_times(ds, when + dt.timedelta(seconds=5 * i), acquisition=False)
        ds.DateOfSecondaryCapture = ds.ContentDate
        ds.TimeOfSecondaryCapture = ds.ContentTime
        set_pixels(ds, screenshot(rng))
        out.append(ds)
    return out
