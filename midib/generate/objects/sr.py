"""Comprehensive SR (highdicom): a radiology report as a content tree.

Structured reports carry PHI where header-only de-identifiers never look: TEXT items with
findings in free wording, the observer's name in the observation context, and IMAGE items
whose references must follow the image UIDs when a de-identifier changes them. The tree:
CONTAINER "Imaging report" > observer context (PNAME), History (TEXT), Findings (TEXT),
a finding CODE, a diameter NUM, IMAGE references to source instances, Impression (TEXT).
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
from midib.generate.objects.derived import image_reference, require_source

REPORT = hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report")
HISTORY = hd.sr.CodedConcept("121060", "DCM", "History")
FINDINGS = hd.sr.CodedConcept("121070", "DCM", "Findings")
FINDING = hd.sr.CodedConcept("121071", "DCM", "Finding")
IMPRESSION = hd.sr.CodedConcept("121073", "DCM", "Impression")
SOURCE = hd.sr.CodedConcept("121112", "DCM", "Source of Measurement")
DIAMETER = hd.sr.CodedConcept("81827009", "SCT", "Diameter")
NODULE = hd.sr.CodedConcept("27925004", "SCT", "Nodule")
LOCATIONS = ("right lower lobe", "left upper lobe", "liver segment VI", "right kidney")
MAX_IMAGE_REFS = 3


def findings_text(size_mm: float, location: str, image_number: int) -> str:
    return (f"There is a {size_mm:.0f} mm well-circumscribed nodule in the {location} "
            f"(image {image_number}). No lymphadenopathy. No pleural effusion.")


def content_tree(study: StudyContext, source: list[Dataset], rng: np.random.Generator) -> hd.sr.ContainerContentItem:
    """The report's root CONTAINER with its children."""
    size = float(np.round(rng.uniform(4, 25), 1))
    location = LOCATIONS[int(rng.integers(len(LOCATIONS)))]
    key = source[len(source) // 2]
    root = hd.sr.ContainerContentItem(name=REPORT, template_id="2000")
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=study.staff.reading.dicom, organization_name=study.institution.name))
    contains = hd.sr.RelationshipTypeValues.CONTAINS
    items: list[Dataset] = list(observer)
    items.append(hd.sr.TextContentItem(name=HISTORY, value=study.clinical_history or "None given.",
                                       relationship_type=contains))
    items.append(hd.sr.TextContentItem(name=FINDINGS, value=findings_text(size, location, int(key.get("InstanceNumber", 1))),
                                       relationship_type=contains))
    items.append(hd.sr.CodeContentItem(name=FINDING, value=NODULE, relationship_type=contains))
    items.append(hd.sr.NumContentItem(name=DIAMETER, value=size, unit=codes.UCUM.Millimeter,
                                      relationship_type=contains))
    step = max(len(source) // MAX_IMAGE_REFS, 1)
    for ds in source[::step][:MAX_IMAGE_REFS]:
        cls, uid = image_reference(ds)
        items.append(hd.sr.ImageContentItem(name=SOURCE, referenced_sop_class_uid=cls,
                                            referenced_sop_instance_uid=uid, relationship_type=contains))
    items.append(hd.sr.TextContentItem(name=IMPRESSION, value=f"Indeterminate {size:.0f} mm nodule; follow-up advised.",
                                       relationship_type=contains))
    root.ContentSequence = items
    return root


def build_sr(study: StudyContext, device: Device, uids: UidFactory, rng: np.random.Generator, *,
             series_number: int, source: list[Dataset] | None = None, **_: object) -> list[Dataset]:
    """One Comprehensive SR describing ``source`` (any image series)."""
    source = require_source("SR", source, ("CT", "MR", "PT", "CR", "DX", "MG", "US", "OT"))
    suid = series_uid(uids, study, "SR", series_number)
    sr = hd.sr.ComprehensiveSR(
        evidence=source, content=content_tree(study, source, rng), series_instance_uid=suid,
        series_number=series_number, sop_instance_uid=instance_uid(uids, suid, 0), instance_number=1,
        manufacturer=device.manufacturer, is_complete=True, is_final=True,
        institution_name=study.institution.name,
        institutional_department_name=study.institution.department)
    header(sr, study, device, uids, modality="SR", series_instance_uid=suid,
           series_number=series_number, description="Radiology Report")
    when = series_datetime(study, series_number) + dt.timedelta(hours=2)
    set_times(sr, when, acquisition=False)
    settle_clock(sr, when)
    return [sr]
