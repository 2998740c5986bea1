"""Channel 1, standard attributes: plant the catalog, then record every identity in the dataset.

:func:`plant` writes the attributes of synthetic_phi/attributes.json (rates drawn per study,
so a study is consistent). :func:`record` is the ledger's safety net: it walks the final
dataset at every depth and records each element that is a name, date, UID, identifying
attribute or contains an identity value (plus the values that must be kept), skipping paths a
planter already recorded. Whatever a builder or planter wrote, the ledger sees it.
"""

from __future__ import annotations

import re
from typing import Iterator

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID_dictionary

from midib.generate.identity import seeded_random
from midib.generate.planting.catalog import load
from midib.generate.planting.identities import CLASS_BY_KIND, find_in_text, identity_fields, match_values
from midib.generate.planting.instance import PlantedInstance, value_text

#: keyword -> ledger kind where the snake_case of the keyword is not the documented name
KIND_BY_KEYWORD = {
    "PatientName": "patient_name", "OtherPatientNames": "other_name", "PatientBirthDate": "birth_date",
    "PatientMotherBirthName": "mothers_maiden_name", "PatientID": "patient_id",
    "IssuerOfPatientID": "issuer", "OtherPatientIDs": "other_patient_id", "PatientAddress": "address",
    "PatientTelephoneNumbers": "phone", "AccessionNumber": "accession",
    "ReferringPhysicianName": "physician_name", "PerformingPhysicianName": "physician_name",
    "NameOfPhysiciansReadingStudy": "physician_name", "PhysiciansOfRecord": "physician_name",
    "RequestingPhysician": "physician_name", "ConsultingPhysicianName": "physician_name",
    "OperatorsName": "operator_name", "PersonName": "person_name", "ContentCreatorName": "person_name",
    "VerifyingObserverName": "person_name", "InstitutionName": "institution_name",
    "InstitutionAddress": "institution_address", "InstitutionalDepartmentName": "department",
    "StationName": "station_name", "DeviceSerialNumber": "device_serial", "StudyDate": "study_date",
    "StudyTime": "study_time", "SeriesDate": "series_date", "ContentDate": "content_date",
    "AcquisitionDateTime": "acquisition_datetime", "StudyInstanceUID": "study_uid",
    "SeriesInstanceUID": "series_uid", "SOPInstanceUID": "sop_uid", "ReferencedSOPInstanceUID": "sop_uid",
    "FrameOfReferenceUID": "frame_of_reference_uid",
    "ReferencedFrameOfReferenceUID": "frame_of_reference_uid",
    "PatientSex": "sex", "PatientAge": "age", "PatientWeight": "weight", "PatientSize": "size",
    "Manufacturer": "manufacturer", "ManufacturerModelName": "model", "SoftwareVersions": "software_version",
}
UID_KINDS = {"study_uid", "series_uid", "sop_uid", "frame_of_reference_uid"}
KEEP_KINDS = {
    **{k: "patient_characteristic" for k in ("PatientSex", "PatientAge", "PatientWeight", "PatientSize")},
    **{k: "device" for k in ("Manufacturer", "ManufacturerModelName", "SoftwareVersions")},
    **{k: "geometry" for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                               "SliceThickness", "SpacingBetweenSlices", "Rows", "Columns",
                               "NumberOfFrames", "ImagerPixelSpacing", "SliceLocation")},
    **{k: "acquisition_param" for k in ("KVP", "ExposureTime", "XRayTubeCurrent", "Exposure",
                                        "RepetitionTime", "EchoTime", "FlipAngle", "MagneticFieldStrength",
                                        "ConvolutionKernel", "RescaleIntercept", "RescaleSlope",
                                        "ScanningSequence", "RadionuclideTotalDose", "BodyPartExamined",
                                        "Modality", "SOPClassUID", "ViewPosition", "Laterality",
                                        "ImageLaterality")},
    **{k: "descriptor" for k in ("StudyDescription", "SeriesDescription", "ProtocolName")},
}
SKIP_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"}
PHI_KEYWORDS = {a["keyword"] for a in load("attributes")["attributes"]} | {
    "OtherPatientIDs", "DetectorID", "PatientBirthTime", "ContentCreatorName", "PersonName",
    "VerifyingObserverName", "RequestedProcedureID", "ScheduledProcedureStepID"}


def kind_for(keyword: str) -> str:
    """The ledger kind of an attribute: documented name, else its keyword in snake_case."""
    return KIND_BY_KEYWORD.get(keyword) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", keyword).lower()


def plant(inst: PlantedInstance) -> None:
    """Write the catalog's identity attributes, each present in a seeded share of studies."""
    fields = identity_fields(inst.ctx.study, inst.ctx.device)
    for spec in load("attributes")["attributes"]:
        if not _in_study(inst.ctx.seed, inst.ctx.study.study_uid, spec["keyword"], spec.get("rate", 1.0)):
            continue
        field = spec["field"]
        value = field[len("literal:"):] if field.startswith("literal:") else fields[field]
        if value:
            tag = tag_for_keyword(spec["keyword"])
            inst.ds.add_new(tag, dictionary_VR(tag), value)


_IN_STUDY: dict[tuple[int, str, str, float], bool] = {}


def _in_study(seed: int, study_uid: str, keyword: str, rate: float) -> bool:
    """Whether the study carries ``keyword`` (one seeded draw per study, remembered: seeding a
    Random per attribute per instance was a visible share of planting)."""
    key = (seed, study_uid, keyword, rate)
    hit = _IN_STUDY.get(key)
    if hit is None:
        if len(_IN_STUDY) > 100000:
            _IN_STUDY.clear()
        hit = _IN_STUDY[key] = seeded_random(seed, study_uid, keyword).random() < rate
    return hit


def record(inst: PlantedInstance) -> None:
    """Record every identity-bearing or must-keep element of the final dataset (see module doc)."""
    values = match_values(inst.ctx.study, inst.ctx.device)
    with inst.header_frozen():               # record() adds entries, it never edits the dataset
        for key, private, depth, elem in walk(inst.ds):
            if key in inst.explicit_paths or elem.VR in SKIP_VRS or _is_structural(elem):
                continue
            text = value_text(elem)
            if not text.strip():
                continue
            if private:
                _record_private(inst, key, elem, text, values)
            else:
                _record_standard(inst, key, elem, text, values, nested=depth > 1)


def walk(ds: Dataset, prefix: str = "", private: bool = False,
         depth: int = 1) -> Iterator[tuple[str, bool, int, DataElement]]:
    """(path text, is private, depth, element) at every depth, as ``str``/``is_private``/``depth``
    of :func:`midib.tagpath.iter_elements`' paths would give them.

    The ledger walk visits every element of every instance; building and printing a TagPath
    per element, and sorting tags through their Python-level comparisons, was most of its cost.
    """
    for tag in sorted(ds._dict, key=int):
        elem = ds[tag]
        if tag.is_private and tag.element >= 0x1000:       # as tagpath.step_for names it
            creator_tag = Tag(tag.group, tag.element >> 8)
            creator = ds[creator_tag].value if creator_tag in ds else ""
            if isinstance(creator, bytes):
                creator = creator.decode("latin-1", "replace")
            key, here_private = f'{prefix}({tag.group:04x},"{creator}",{tag.element & 0xFF:02x})', True
        else:
            key, here_private = f"{prefix}({tag.group:04x},{tag.element:04x})", private
        yield key, here_private, depth, elem
        if elem.VR == "SQ" and elem.value:
            for i, item in enumerate(elem.value):
                yield from walk(item, f"{key}[{i}]", here_private, depth + 1)


def _is_structural(elem: DataElement) -> bool:
    tag = elem.tag
    return tag.element == 0 or (tag.is_private and 0x10 <= tag.element < 0x100)


def _record_standard(inst: PlantedInstance, key: str, elem: DataElement, text: str, values,
                     nested: bool) -> None:
    kw = elem.keyword
    channel = "sequence" if nested else "attribute"
    if elem.VR == "UI":
        if text not in UID_dictionary:
            kind = kind_for(kw) if kind_for(kw) in UID_KINDS else "other_uid"
            inst.add("phi", "uid", kind, "other", value=text, path=key, elem=elem, explicit=False,
                     extra={"nested": True} if nested else None)
        return
    if kw in KEEP_KINDS:
        group = KEEP_KINDS[kw]
        kind = group if group in ("geometry", "acquisition_param", "descriptor") else kind_for(kw)
        inst.add("keep", channel, kind, "none", value=text, path=key, elem=elem, explicit=False)
        return
    if elem.VR in ("PN", "DA", "DT", "TM") or kw in PHI_KEYWORDS:
        kind = kind_for(kw)
        cls = "names" if elem.VR == "PN" else "dates" if elem.VR in ("DA", "DT", "TM") \
            else CLASS_BY_KIND.get(kind, "other")
        inst.add("phi", channel, kind, cls, value=text, path=key, elem=elem, explicit=False)
        return
    for value, fragment in find_in_text(text, values):
        equal = fragment == text
        inst.add("phi", channel if equal else "free_text", value.kind, value.phi_class, value=fragment,
                 path=key, elem=elem, context=None if equal else text, explicit=False)


def _record_private(inst: PlantedInstance, key: str, elem: DataElement, text: str, values) -> None:
    step = key.rsplit("(", 1)[-1]
    group = int(step[:4], 16)
    creator = step.split('"')[1] if '"' in step else ""
    low = int(step.rsplit(",", 1)[-1].rstrip(")"), 16) if creator else elem.tag.element & 0xFF
    safe = inst.ctx.private_safety.get((group, creator.strip().upper(), low))
    found = find_in_text(text, values)
    if safe and not found:
        inst.add("keep", "private", "safe_private", "none", value=text, path=key, elem=elem,
                 explicit=False, extra={"safe": True, "creator": creator})
        return
    cls = found[0][0].phi_class if found else "other"
    extra = {"safe": False, "creator": creator}
    if found:
        extra["identity_kind"] = found[0][0].kind
    inst.add("phi", "private", "unsafe_private", cls, value=text, path=key, elem=elem,
             explicit=False, extra=extra)
