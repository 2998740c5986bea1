"""Positron Emission Tomography Image Storage: an FDG whole-body stack.

PET headers nest dates and times (RadiopharmaceuticalStartDateTime inside the
Radiopharmaceutical Information Sequence) that a de-identifier must shift consistently with
the study dates, or SUVs computed after de-identification come out wrong. Pixels are
activity concentration (BQML) stored as int16 with a per-slice RescaleSlope, as scanners do.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.generate.context import (Device, StudyContext, UidFactory, dicom_datetime,
                                    dicom_time)
from midib.generate.objects.common import (header, item, new_dataset, pixel_module,
                                           series_datetime, series_uid)
from midib.generate.objects.phantom import pet_activity, torso_labels
from midib.generate.objects.stack import build_stack, plane_module, stack_geometry

PT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.128"
DEFAULT_SLICES = 32
F18_HALF_LIFE = 6586.2


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    return item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def radiopharmaceutical(injected: dt.datetime, dose_bq: float) -> Sequence:
    """Radiopharmaceutical Information Sequence with its nested date-times and codes."""
    return Sequence([item(
        Radiopharmaceutical="Fluorodeoxyglucose",
        RadiopharmaceuticalStartTime=dicom_time(injected),
        RadiopharmaceuticalStartDateTime=dicom_datetime(injected),
        RadionuclideTotalDose=f"{dose_bq:.0f}",
        RadionuclideHalfLife=f"{F18_HALF_LIFE}",
        RadionuclidePositronFraction="0.97",
        RadiopharmaceuticalRoute="Intravenous route",
        RadionuclideCodeSequence=Sequence([_code("77004003", "SCT", "^18^Fluorine")]),
        RadiopharmaceuticalCodeSequence=Sequence([_code("35321007", "SCT", "Fluorodeoxyglucose F^18^")]),
    )])


def pet_series_modules(ds: Dataset, study: StudyContext, n: int, injected: dt.datetime,
                       dose_bq: float) -> None:
    """PET Series, PET Isotope and NM/PET Patient Orientation modules."""
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.RandomsCorrectionMethod = "DLYD"
    ds.DecayCorrection = "START"
    ds.ReconstructionMethod = "OSEM3D 3i21s"
    ds.AttenuationCorrectionMethod = "measured,AC_CT"
    ds.ScatterCorrectionMethod = "Model-based"
    ds.CollimatorType = "NONE"
    ds.NumberOfSlices = n
    ds.AxialAcceptance = "0"
    ds.RadiopharmaceuticalInformationSequence = radiopharmaceutical(injected, dose_bq)
    ds.PatientOrientationCodeSequence = Sequence([item(
        CodeValue="102538003", CodingSchemeDesignator="SCT", CodeMeaning="recumbent",
        PatientOrientationModifierCodeSequence=Sequence([_code("40199007", "SCT", "supine")]))])
    ds.PatientGantryRelationshipCodeSequence = Sequence([_code("102540008", "SCT", "headfirst")])


def build_pt(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
             series_number: int, n_instances: int | None = None, matrix: int | None = None,
             source: list[Dataset] | None = None) -> list[Dataset]:
    """A PET stack (default 32 slices, 128² pixels) of an FDG scan started ~60 min after injection."""
    n, m = n_instances or DEFAULT_SLICES, matrix or 128
    start = series_datetime(study, series_number) + dt.timedelta(seconds=10)
    injected = start - dt.timedelta(minutes=int(rng.integers(55, 75)))
    dose = float(rng.uniform(300e6, 420e6))
    geom = stack_geometry(m, 700.0, 3.27, rng)
    suid = series_uid(uids, study, "PT", series_number)
    ds = new_dataset(PT_SOP_CLASS, suid)
    header(ds, study, device, uids, modality="PT", series_instance_uid=suid,
           series_number=series_number, description="PET WB AC", protocol="PET-CT Whole Body FDG")
    pet_series_modules(ds, study, n, injected, dose)
    plane_module(ds, geom, study, uids, "PT")
    del ds.PatientPosition  # PET uses the orientation code sequences instead
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.RescaleIntercept = "0"
    ds.FrameReferenceTime = "0"
    ds.ActualFrameDuration = 180000
    ds.DecayFactor = f"{2 ** (((start - injected).total_seconds()) / F18_HALF_LIFE):.5f}"
    ds.DoseCalibrationFactor = "1"
    ds.AcquisitionNumber = 1
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    pixel_module(ds, m, m, bits=16, stored=16, signed=True)
    activity = pet_activity(torso_labels(n, m, m, rng), dose / (float(study.patient.weight_kg) * 1000), rng)
    peaks = np.maximum(activity.reshape(n, -1).max(axis=1), 1.0)
    slopes = peaks / 32767.0
    stored = np.rint(activity / slopes[:, None, None]).astype(np.int16)

    def per_slice(slice_ds: Dataset, i: int) -> None:
        slice_ds.RescaleSlope = f"{slopes[i]:.6g}"[:16]
        slice_ds.ImageIndex = i + 1

    return build_stack(ds, geom, stored, uids, start, per_slice)
