"""Segmentation Storage (highdicom): a binary body/dense-tissue segmentation of a CT or MR series.

highdicom builds a valid SEG and its references to the source (ReferencedSeriesSequence, per-
frame SourceImageSequence, shared Frame of Reference); midib then writes the same Patient,
Study, Series and Equipment modules as every other object (the planter expects them there) and
replaces the values highdicom draws at random or from the clock (DimensionOrganizationUID,
content date/time) so that the same seed gives the same bytes.
"""

from __future__ import annotations

import datetime as dt

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.objects.common import (header, instance_uid, series_datetime, series_uid,
                                           set_times, settle_clock)
from midib.generate.objects.derived import masks, require_source

ALGORITHM = hd.AlgorithmIdentificationSequence(
    name="midib threshold", family=codes.cid7162.ArtificialIntelligence, version="1")


def segment_descriptions() -> list[hd.seg.SegmentDescription]:
    """Segment 1: the body outline; segment 2: dense tissue (bone on CT)."""
    common = dict(algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                  algorithm_identification=ALGORITHM)
    return [
        hd.seg.SegmentDescription(segment_number=1, segment_label="Body",
                                  segmented_property_category=codes.SCT.Tissue,
                                  segmented_property_type=codes.SCT.Tissue, **common),
        hd.seg.SegmentDescription(segment_number=2, segment_label="Dense tissue",
                                  segmented_property_category=codes.SCT.Tissue,
                                  segmented_property_type=codes.SCT.Bone, **common),
    ]


def _restamp(seg: Dataset, study: StudyContext, device: Device, uids: UidFactory,
             suid: str, series_number: int) -> None:
    """Write midib's shared modules and make highdicom's random/clock values deterministic."""
    header(seg, study, device, uids, modality="SEG", series_instance_uid=suid,
           series_number=series_number, description="Segmentation")
    when = series_datetime(study, series_number) + dt.timedelta(minutes=30)
    set_times(seg, when, acquisition=False)
    settle_clock(seg, when)
    for dim in seg.get("DimensionOrganizationSequence", []):
        dim.DimensionOrganizationUID = uids.uid("dimension-organization", suid)
    for idx in seg.get("DimensionIndexSequence", []):
        idx.DimensionOrganizationUID = uids.uid("dimension-organization", suid)
    seg.ContentCreatorName = study.staff.reading.dicom
    seg.ContentLabel = "SEGMENTATION"


def build_seg(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
              series_number: int, source: list[Dataset] | None = None, **_: object) -> list[Dataset]:
    """One SEG instance segmenting ``source`` (a CT or MR series)."""
    source = require_source("SEG", source, ("CT", "MR"))
    body, dense = masks(source)
    labelmap = np.where(dense, 2, np.where(body, 1, 0)).astype(np.uint8)
    suid = series_uid(uids, study, "SEG", series_number)
    seg = hd.seg.Segmentation(
        source_images=source, pixel_array=labelmap, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(), series_instance_uid=suid,
        series_number=series_number, sop_instance_uid=instance_uid(uids, suid, 0), instance_number=1,
        manufacturer=device.manufacturer, manufacturer_model_name=device.model,
        software_versions=device.software, device_serial_number=device.serial,
        content_creator_name=study.staff.reading.dicom, omit_empty_frames=True)
    _restamp(seg, study, device, uids, suid, series_number)
    return [seg]
