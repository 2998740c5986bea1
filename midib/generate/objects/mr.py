"""MR Image Storage: axial magnitude stacks, one weighting per series (T1, T2, FLAIR...).

A study asks for several MR series by series number: series 1 is T1, 2 is T2, 3 is FLAIR and
so on cyclically, each with the sequence parameters (TR, TE, TI, flip angle) that weighting
uses, so the acquisition parameters a de-identifier must keep differ between series as on a
real scanner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.common import (header, new_dataset, pixel_module, series_datetime,
                                           series_uid)
from midib.generate.objects.phantom import mr_stored, torso_labels
from midib.generate.objects.stack import build_stack, plane_module, stack_geometry

MR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.4"
DEFAULT_SLICES = 24


@dataclass(frozen=True)
class Weighting:
    name: str
    tr: float
    te: float
    ti: float | None
    flip: float
    sequence: str          # SequenceName as scanners write it
    scanning: str          # ScanningSequence (SE, GR, IR)
    variant: str           # SequenceVariant


WEIGHTINGS = (
    Weighting("T1", 550.0, 12.0, None, 90.0, "*tse2d1_3", "SE", "SK\\SP"),
    Weighting("T2", 4000.0, 95.0, None, 150.0, "*tse2d1_15", "SE", "SK\\SP"),
    Weighting("FLAIR", 9000.0, 85.0, 2500.0, 150.0, "*tir2d1_16", "SE\\IR", "SK\\SP\\OSP"),
)


def weighting_for(series_number: int) -> Weighting:
    """The weighting of series ``series_number`` (1 -> T1, 2 -> T2, 3 -> FLAIR, 4 -> T1 ...)."""
    return WEIGHTINGS[(max(series_number, 1) - 1) % len(WEIGHTINGS)]


def mr_acquisition(ds: Dataset, w: Weighting, thickness: float, rng: np.random.Generator) -> None:
    """MR Image module attributes of one weighting."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"]
    ds.ScanningSequence = w.scanning.split("\\")
    ds.SequenceVariant = w.variant.split("\\")
    ds.ScanOptions = ["PFP", "FS"] if w.name != "T1" else ""
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = w.sequence
    ds.RepetitionTime = f"{w.tr:g}"
    ds.EchoTime = f"{w.te:g}"
    if w.ti is not None:
        ds.InversionTime = f"{w.ti:g}"
    ds.EchoTrainLength = 1 if w.name == "T1" else 16
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = "123.2"
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = str(rng.choice(["1.5", "3"]))
    ds.SpacingBetweenSlices = f"{thickness * 1.1:.2f}"
    ds.PixelBandwidth = "200"
    ds.FlipAngle = f"{w.flip:g}"
    ds.SAR = f"{rng.uniform(0.5, 2.5):.4f}"
    ds.dBdt = "0"
    ds.TransmitCoilName = "Body"
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.AcquisitionNumber = 1


def build_mr(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
             series_number: int, n_instances: int | None = None, matrix: int | None = None,
             source: list[Dataset] | None = None) -> list[Dataset]:
    """An axial MR series of the weighting its series number selects (default 24 slices)."""
    n, m = n_instances or DEFAULT_SLICES, matrix or 256
    w = weighting_for(series_number)
    thickness = float(rng.choice([3.0, 4.0, 5.0]))
    geom = stack_geometry(m, float(rng.uniform(350, 420)), thickness * 1.1, rng)
    suid = series_uid(uids, study, "MR", series_number)
    ds = new_dataset(MR_SOP_CLASS, suid)
    header(ds, study, device, uids, modality="MR", series_instance_uid=suid,
           series_number=series_number, description=f"AX {w.name}", protocol=f"ax_{w.name.lower()}_tse")
    mr_acquisition(ds, w, thickness, rng)
    plane_module(ds, geom, study, uids, "MR")
    ds.SliceThickness = thickness
    pixel_module(ds, m, m, bits=16, stored=12)
    ds.WindowCenter = "1000"
    ds.WindowWidth = "2000"
    ds.BurnedInAnnotation = "NO"
    pixels = mr_stored(torso_labels(n, m, m, rng), w.name, rng)
    start = series_datetime(study, series_number) + dt.timedelta(seconds=30)
    return build_stack(ds, geom, pixels, uids, start)
