"""Projection radiography: CR, DX (For Presentation) and MG (For Presentation).

These are the images burned-in labels land on (technologist initials, patient name, L/R
markers), so they have realistic but modest fixed sizes (CR/DX 512x512, MG 512x400) for the
planter to draw into. MG carries laterality and view codes, which a de-identifier must keep.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.common import (clone, header, instance_uid, item, new_dataset,
                                           pixel_module, series_datetime, series_uid, set_times)
from midib.generate.objects.phantom import radiograph
from midib.generate.objects.stack import set_pixels

SOP_CLASSES = {"CR": "1.2.840.10008.5.1.4.1.1.1", "DX": "1.2.840.10008.5.1.4.1.1.1.1",
               "MG": "1.2.840.10008.5.1.4.1.1.1.2"}
SIZES = {"CR": (512, 512), "DX": (512, 512), "MG": (512, 400)}
DEFAULT_COUNT = {"CR": 1, "DX": 2, "MG": 4}
# (laterality, view code, meaning, view position) in the order mammographers take them
MG_VIEWS = (("R", "399162004", "cranio-caudal", "CC"), ("L", "399162004", "cranio-caudal", "CC"),
            ("R", "399368009", "medio-lateral oblique", "MLO"),
            ("L", "399368009", "medio-lateral oblique", "MLO"))
DX_VIEWS = (("PA", "399348003", "postero-anterior"), ("LL", "399067008", "lateral"))


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    return item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def _exposure(ds: Dataset, rng: np.random.Generator, kind: str) -> None:
    """Acquisition parameters (kept by a good de-identifier)."""
    ds.KVP = str(int(rng.integers(26, 32))) if kind == "MG" else str(int(rng.integers(70, 125)))
    ds.ExposureTime = str(int(rng.integers(10, 900)))
    ds.XRayTubeCurrent = str(int(rng.integers(50, 400)))
    ds.Exposure = str(int(rng.integers(2, 80)))
    ds.DistanceSourceToDetector = "650" if kind == "MG" else "1800"
    ds.ImagerPixelSpacing = ["0.1", "0.1"] if kind == "MG" else ["0.7", "0.7"]


def _dx_image(ds: Dataset, kind: str) -> None:
    """DX Image, DX Detector and DX Anatomy Imaged attributes (shared by DX and MG)."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""] if kind == "DX" else ["ORIGINAL", "PRIMARY", ""]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.WindowCenter = "2048"
    ds.WindowWidth = "4096"
    ds.DetectorType = "DIRECT" if kind == "MG" else "SCINTILLATOR"
    ds.DetectorConfiguration = "AREA"
    ds.PixelSpacing = ds.ImagerPixelSpacing
    ds.AcquisitionContextSequence = Sequence()
    ds.PositionerType = "MAMMOGRAPHIC" if kind == "MG" else "NONE"


def projection_template(kind: str, study: StudyContext, device: Device, uids: UidFactory,
                        rng: np.random.Generator, series_number: int) -> Dataset:
    """Header shared by every view of one CR/DX/MG series."""
    suid = series_uid(uids, study, kind, series_number)
    ds = new_dataset(SOP_CLASSES[kind], suid)
    body = "BREAST" if kind == "MG" else study.body_part
    desc = {"CR": f"{body} PA", "DX": f"{body} 2 VIEWS", "MG": "Screening Mammogram"}[kind]
    header(ds, study, device, uids, modality=kind, series_instance_uid=suid,
           series_number=series_number, description=desc, protocol=desc)
    ds.BodyPartExamined = body
    _exposure(ds, rng, kind)
    rows, cols = SIZES[kind]
    pixel_module(ds, rows, cols, bits=16, stored=12)
    ds.BurnedInAnnotation = "NO"
    if kind == "CR":
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.ViewPosition = "PA"
        ds.PatientOrientation = ["L", "F"]
    else:
        _dx_image(ds, kind)
    if kind == "MG":
        ds.OrganExposed = "BREAST"
        ds.BreastImplantPresent = "NO"
        ds.CompressionForce = f"{rng.uniform(60, 140):.1f}"
        ds.BodyPartThickness = f"{rng.uniform(35, 70):.0f}"
        ds.AnatomicRegionSequence = Sequence([_code("76752008", "SCT", "Breast")])
    return ds


def _view(ds: Dataset, kind: str, index: int) -> None:
    """Per-instance view: laterality, view position and view code."""
    if kind == "MG":
        lat, code, meaning, position = MG_VIEWS[index % len(MG_VIEWS)]
        ds.ImageLaterality = lat
        ds.ViewPosition = position
        ds.ViewCodeSequence = Sequence([item(CodeValue=code, CodingSchemeDesignator="SCT",
                                             CodeMeaning=meaning, ViewModifierCodeSequence=Sequence())])
        ds.PatientOrientation = ["A", "R"] if lat == "L" else ["P", "L"]
    elif kind == "DX":
        position, code, meaning = DX_VIEWS[index % len(DX_VIEWS)]
        ds.ImageLaterality = "U"
        ds.ViewPosition = position
        ds.ViewCodeSequence = Sequence([_code(code, "SCT", meaning)])
        ds.AnatomicRegionSequence = Sequence([_code("51185008", "SCT", "Thorax")])
        ds.PatientOrientation = ["L", "F"] if position == "PA" else ["P", "F"]


def build_projection(kind: str, study: StudyContext, device: Device, uids: UidFactory,
                     rng: np.random.Generator, *, series_number: int,
                     n_instances: int | None = None, **_: object) -> list[Dataset]:
    """One CR/DX/MG series: ``n_instances`` views (defaults CR 1, DX 2, MG 4)."""
    template = projection_template(kind, study, device, uids, rng, series_number)
    rows, cols = SIZES[kind]
    start = series_datetime(study, series_number) + dt.timedelta(seconds=15)
    out = []
    for i in range(n_instances or DEFAULT_COUNT[kind]):
        ds = clone(template, instance_uid(uids, template.SeriesInstanceUID, i))
        ds.InstanceNumber = i + 1
        ds.AcquisitionNumber = i + 1
        _view(ds, kind, i)
        set_times(ds, start + dt.timedelta(seconds=40 * i))
        image = radiograph(rows, cols, rng)
        set_pixels(ds, image[:, ::-1].copy() if kind == "MG" and ds.ImageLaterality == "L" else image)
        out.append(ds)
    return out


def build_cr(*args: object, **kwargs: object) -> list[Dataset]:
    return build_projection("CR", *args, **kwargs)  # type: ignore[arg-type]


def build_dx(*args: object, **kwargs: object) -> list[Dataset]:
    return build_projection("DX", *args, **kwargs)  # type: ignore[arg-type]


def build_mg(*args: object, **kwargs: object) -> list[Dataset]:
    return build_projection("MG", *args, **kwargs)  # type: ignore[arg-type]
