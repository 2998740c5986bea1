"""CT Image Storage: an axial int16 stack with rescale to Hounsfield units.

Stored values are HU + 1024 in signed 16-bit with RescaleIntercept -1024, as GE and Siemens
scanners write them; the acquisition parameters (KVP, exposure, kernel...) are clinical content
a de-identifier must keep.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.common import (header, new_dataset, pixel_module, series_datetime,
                                           series_uid)
from midib.generate.objects.phantom import ct_stored, torso_labels
from midib.generate.objects.stack import build_stack, plane_module, stack_geometry

CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2"
DEFAULT_SLICES = 32
KERNELS = ("B30f", "STANDARD", "FC13", "B", "Br40d")


def ct_template(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator,
                series_number: int, matrix: int, thickness: float) -> Dataset:
    """Header shared by all slices of one CT series."""
    suid = series_uid(uids, study, "CT", series_number)
    ds = new_dataset(CT_SOP_CLASS, suid)
    header(ds, study, device, uids, modality="CT", series_instance_uid=suid,
           series_number=series_number, description=f"{study.body_part} {thickness:g}mm",
           protocol=f"{study.body_part.title()} Routine")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.AcquisitionNumber = 1
    ds.KVP = str(int(rng.choice([100, 120, 140])))
    ds.ExposureTime = str(int(rng.integers(500, 1000)))
    ds.XRayTubeCurrent = str(int(rng.integers(120, 400)))
    ds.Exposure = str(int(rng.integers(100, 300)))
    ds.ConvolutionKernel = str(KERNELS[int(rng.integers(len(KERNELS)))])
    ds.DataCollectionDiameter = "500"
    ds.GantryDetectorTilt = "0"
    ds.TableHeight = f"{rng.uniform(120, 180):.1f}"
    ds.RotationDirection = "CW"
    ds.FilterType = "BODY FILTER"
    ds.SpiralPitchFactor = 0.984375
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.BurnedInAnnotation = "NO"
    pixel_module(ds, matrix, matrix, bits=16, stored=16, signed=True)
    return ds


def build_ct(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
             series_number: int, n_instances: int | None = None, matrix: int | None = None,
             source: list[Dataset] | None = None) -> list[Dataset]:
    """An axial CT series of ``n_instances`` slices (default 32) of ``matrix``² pixels."""
    n, m = n_instances or DEFAULT_SLICES, matrix or 256
    thickness = float(rng.choice([1.0, 2.5, 5.0]))
    geom = stack_geometry(m, float(rng.uniform(340, 460)), thickness, rng)
    ds = ct_template(study, device, uids, rng, series_number, m, thickness)
    plane_module(ds, geom, study, uids, "CT")
    ds.ReconstructionDiameter = f"{geom.pixel_mm * m:.1f}"
    pixels = ct_stored(torso_labels(n, m, m, rng), rng)
    start = series_datetime(study, series_number) + dt.timedelta(seconds=20)
    return build_stack(ds, geom, pixels, uids, start)
