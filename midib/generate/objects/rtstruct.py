"""RT Structure Set: ROIs contoured slice by slice on a CT series.

An RTSTRUCT references its CT through the deepest UID nesting in routine DICOM
(ReferencedFrameOfReferenceSequence > RTReferencedStudySequence > RTReferencedSeriesSequence >
ContourImageSequence, and again per contour), which is exactly what a de-identifier that
changes UIDs inconsistently breaks. Contours are traced (scikit-image) on the CT's own
pixels: BODY (HU > -400) and DENSE (HU > 300), in patient coordinates.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from skimage import measure

from midib.generate.context import Device, StudyContext, UidFactory, dicom_date, dicom_time
from midib.generate.objects.common import (header, instance_uid, item, new_dataset,
                                           series_datetime, series_uid, set_times)
from midib.generate.objects.derived import image_reference, masks, require_source

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY_COMPONENT_SOP_CLASS = "1.2.840.10008.3.1.2.3.2"  # Detached Study Component Management (retired)
ROIS = (("BODY", "EXTERNAL", [255, 128, 0]), ("DENSE", "ORGAN", [255, 255, 255]))
MAX_POINTS = 64


def contour_points(mask: np.ndarray, ds: Dataset) -> list[float] | None:
    """Largest outline of ``mask`` on slice ``ds`` as flat x,y,z patient coordinates (mm)."""
    outlines = measure.find_contours(mask.astype(np.float32), 0.5)
    if not outlines:
        return None
    outline = max(outlines, key=len)[:-1]
    outline = outline[:: max(len(outline) // MAX_POINTS, 1)]
    if len(outline) < 3:
        return None
    x0, y0, z = (float(v) for v in ds.ImagePositionPatient)
    dr, dc = (float(v) for v in ds.PixelSpacing)
    xs = x0 + outline[:, 1] * dc
    ys = y0 + outline[:, 0] * dr
    return [round(float(v), 2) for p in zip(xs, ys, np.full(len(xs), z)) for v in p]


def roi_contours(mask: np.ndarray, source: list[Dataset], number: int, color: list[int]) -> Dataset:
    """ROIContourSequence item: one CLOSED_PLANAR contour per slice where the ROI shows."""
    contours = []
    for i, ds in enumerate(source):
        points = contour_points(mask[i], ds)
        if points is None:
            continue
        cls, uid = image_reference(ds)
        contours.append(item(ContourImageSequence=Sequence([item(ReferencedSOPClassUID=cls,
                                                                   ReferencedSOPInstanceUID=uid)]),
                             ContourGeometricType="CLOSED_PLANAR",
                             NumberOfContourPoints=len(points) // 3, ContourNumber=len(contours) + 1,
                             ContourData=points))
    return item(ReferencedROINumber=number, ROIDisplayColor=color, ContourSequence=Sequence(contours))


def referenced_frame(source: list[Dataset]) -> Sequence:
    """ReferencedFrameOfReferenceSequence with the full study/series/image nesting."""
    first = source[0]
    images = [item(ReferencedSOPClassUID=c, ReferencedSOPInstanceUID=u)
              for c, u in (image_reference(ds) for ds in source)]
    series = item(SeriesInstanceUID=first.SeriesInstanceUID, ContourImageSequence=Sequence(images))
    study = item(ReferencedSOPClassUID=STUDY_COMPONENT_SOP_CLASS,
                 ReferencedSOPInstanceUID=first.StudyInstanceUID,
                 RTReferencedSeriesSequence=Sequence([series]))
    return Sequence([item(FrameOfReferenceUID=first.FrameOfReferenceUID,
                          RTReferencedStudySequence=Sequence([study]))])


def build_rtstruct(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
                   series_number: int, source: list[Dataset] | None = None, **_: object) -> list[Dataset]:
    """One RT Structure Set with BODY and DENSE ROIs on ``source`` (a CT series)."""
    source = require_source("RTSTRUCT", source, ("CT",))
    suid = series_uid(uids, study, "RTSTRUCT", series_number)
    ds = new_dataset(RTSTRUCT_SOP_CLASS, instance_uid(uids, suid, 0))
    header(ds, study, device, uids, modality="RTSTRUCT", series_instance_uid=suid,
           series_number=series_number, description="RT Structures")
    when = series_datetime(study, series_number) + dt.timedelta(hours=1)
    set_times(ds, when, acquisition=False)
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "RTSTRUCT"
    ds.StructureSetName = "Contours"
    ds.StructureSetDate = dicom_date(when)
    ds.StructureSetTime = dicom_time(when)
    ds.ReferencedFrameOfReferenceSequence = referenced_frame(source)
    frame_uid = source[0].FrameOfReferenceUID
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = source[0].get("PositionReferenceIndicator", "")
    ds.StructureSetROISequence = Sequence([
        item(ROINumber=n, ReferencedFrameOfReferenceUID=frame_uid, ROIName=name,
             ROIGenerationAlgorithm="AUTOMATIC") for n, (name, _, _) in enumerate(ROIS, 1)])
    body, dense = masks(source)
    ds.ROIContourSequence = Sequence([roi_contours(m, source, n, color)
                                      for n, (m, (_, _, color)) in enumerate(zip((body, dense), ROIS), 1)])
    ds.RTROIObservationsSequence = Sequence([
        item(ObservationNumber=n, ReferencedROINumber=n, RTROIInterpretedType=kind,
             ROIInterpreter=study.staff.performing.dicom) for n, (_, kind, _) in enumerate(ROIS, 1)])
    ds.ApprovalStatus = "UNAPPROVED"
    return [ds]
