"""Modules every object shares: Patient, Study, Series, Equipment, SOP Common, file meta.

Each function writes one DICOM module (PS3.3 names) from the study context, so every family
fills the same attributes the same way and a planted value is where the planter expects it.
Builders make one *template* dataset per series and :func:`clone` it per instance: copying
elements is far cheaper than rebuilding them or ``copy.deepcopy`` of a whole dataset, and
cloned sequences are deep copies so planting into one instance never leaks into another.
"""

from __future__ import annotations

import copy
import datetime as dt

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

from midib.generate.context import (Device, StudyContext, UidFactory, dicom_date,
                                    dicom_datetime, dicom_time)
from midib.generate.objects.vendors import add_private_blocks

CHARSET = "ISO_IR 192"  # UTF-8: synthetic names may come from non-Latin-1 locales
IMPLEMENTATION_VERSION = "MIDIB_010"
MPPS_SOP_CLASS = "1.2.840.10008.3.1.2.3.3"
STUDY_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired, still written)


def item(**attrs: object) -> Dataset:
    """A sequence item from keyword arguments (order-independent: pydicom sorts by tag)."""
    ds = Dataset()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def series_datetime(study: StudyContext, series_number: int) -> dt.datetime:
    """Series start: a few minutes after the study start per series, as a scanner logs it."""
    return study.study_datetime + dt.timedelta(minutes=2 + 3 * max(series_number - 1, 0))


def series_uid(uids: UidFactory, study: StudyContext, kind: str, series_number: int) -> str:
    return uids.uid("series", study.study_uid, kind, series_number)


def instance_uid(uids: UidFactory, series_instance_uid: str, index: int) -> str:
    return uids.uid("sop", series_instance_uid, index)


def new_dataset(sop_class: str, sop_uid: str) -> Dataset:
    """Empty dataset with file meta (Explicit VR Little Endian) and SOP Common."""
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.file_meta = meta
    ds.SpecificCharacterSet = CHARSET
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def patient_module(ds: Dataset, study: StudyContext) -> None:
    """Patient and Patient Study modules: identity, demographics, characteristics, history."""
    p = study.patient
    ds.PatientName = p.name.dicom
    ds.PatientID = p.patient_id
    ds.IssuerOfPatientID = p.issuer
    ds.PatientBirthDate = dicom_date(p.birth_date)
    ds.PatientSex = p.sex
    ds.OtherPatientIDsSequence = Sequence(
        [item(PatientID=oid, IssuerOfPatientID=p.issuer, TypeOfPatientID="TEXT") for oid in p.other_ids])
    if p.other_names:
        ds.OtherPatientNames = [n.dicom for n in p.other_names]
    if p.mothers_maiden_name:
        ds.PatientMotherBirthName = p.mothers_maiden_name
    ds.PatientAddress = p.address.one_line
    ds.PatientTelephoneNumbers = p.phone
    if p.ethnic_group:
        ds.EthnicGroup = p.ethnic_group[:16]
    if p.occupation:
        ds.Occupation = p.occupation[:16]
    ds.PatientAge = p.age_at(study.study_date)
    ds.PatientWeight = f"{p.weight_kg:.1f}"
    ds.PatientSize = f"{p.size_m:.2f}"
    if study.clinical_history:
        ds.AdditionalPatientHistory = study.clinical_history


def study_module(ds: Dataset, study: StudyContext) -> None:
    """General Study module, with the physicians a RIS writes into it."""
    ds.StudyInstanceUID = study.study_uid
    ds.StudyDate = dicom_date(study.study_date)
    ds.StudyTime = dicom_time(study.study_time)
    ds.ReferringPhysicianName = study.staff.referring.dicom
    ds.StudyID = study.study_id
    ds.AccessionNumber = study.accession
    ds.StudyDescription = study.description
    ds.NameOfPhysiciansReadingStudy = study.staff.reading.dicom
    ds.PhysiciansOfRecord = study.staff.referring.dicom
    ds.ReferencedStudySequence = Sequence([item(
        ReferencedSOPClassUID=STUDY_SOP_CLASS, ReferencedSOPInstanceUID=study.study_uid)])


def equipment_module(ds: Dataset, study: StudyContext, device: Device) -> None:
    """General Equipment module: the device and the site it stands in."""
    inst = study.institution
    ds.Manufacturer = device.manufacturer
    ds.InstitutionName = inst.name
    ds.InstitutionAddress = inst.address.one_line
    ds.StationName = device.station
    ds.InstitutionalDepartmentName = inst.department
    ds.ManufacturerModelName = device.model
    ds.DeviceSerialNumber = device.serial
    ds.SoftwareVersions = device.software


def series_module(ds: Dataset, study: StudyContext, uids: UidFactory, *, modality: str,
                  series_instance_uid: str, series_number: int, description: str,
                  protocol: str | None = None) -> None:
    """General Series module with the request and performed-procedure-step attributes."""
    when = series_datetime(study, series_number)
    ds.Modality = modality
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = series_number
    ds.SeriesDate = dicom_date(when)
    ds.SeriesTime = dicom_time(when)
    ds.SeriesDescription = description
    if protocol is not None:
        ds.ProtocolName = protocol
    ds.BodyPartExamined = study.body_part
    ds.PerformingPhysicianName = study.staff.performing.dicom
    ds.OperatorsName = study.staff.operator.dicom
    ds.PerformedProcedureStepStartDate = dicom_date(study.study_date)
    ds.PerformedProcedureStepStartTime = dicom_time(study.study_time)
    ds.PerformedProcedureStepID = f"PPS{study.study_id}"[:16]
    ds.PerformedProcedureStepDescription = study.description
    ds.ReferencedPerformedProcedureStepSequence = Sequence([item(
        ReferencedSOPClassUID=MPPS_SOP_CLASS,
        ReferencedSOPInstanceUID=uids.uid("mpps", study.study_uid))])
    ds.RequestAttributesSequence = Sequence([item(
        RequestedProcedureID=f"RP{study.accession}"[:16],
        ScheduledProcedureStepID=f"SPS{study.accession}"[:16],
        ScheduledProcedureStepDescription=study.description,
        RequestedProcedureDescription=study.description,
        AccessionNumber=study.accession, StudyInstanceUID=study.study_uid,
        RequestingPhysician=study.staff.requesting.dicom)])


def header(ds: Dataset, study: StudyContext, device: Device, uids: UidFactory, *,
           modality: str, series_instance_uid: str, series_number: int, description: str,
           protocol: str | None = None) -> None:
    """Everything but the modality-specific modules: patient, study, series, equipment, private."""
    patient_module(ds, study)
    study_module(ds, study)
    series_module(ds, study, uids, modality=modality, series_instance_uid=series_instance_uid,
                  series_number=series_number, description=description, protocol=protocol)
    equipment_module(ds, study, device)
    add_private_blocks(ds, study, device)


def set_times(ds: Dataset, when: dt.datetime, *, acquisition: bool = True) -> None:
    """Content (and acquisition) date/time of one instance."""
    ds.ContentDate = dicom_date(when)
    ds.ContentTime = dicom_time(when)
    if acquisition:
        ds.AcquisitionDate = dicom_date(when)
        ds.AcquisitionTime = dicom_time(when)
        ds.AcquisitionDateTime = dicom_datetime(when)


def settle_clock(ds: Dataset, when: dt.datetime) -> None:
    """Replace the wall-clock stamps libraries write (highdicom) so output depends on the seed only."""
    if "InstanceCreationDate" in ds or "InstanceCreationTime" in ds:
        ds.InstanceCreationDate = dicom_date(when)
        ds.InstanceCreationTime = dicom_time(when)
    for equipment in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in equipment:
            equipment.ContributionDateTime = dicom_datetime(when)


def _copy_dataset(src: Dataset) -> Dataset:
    """Element-wise copy: each element object is new, sequences are copied recursively.

    ``copy.copy`` of an element skips pydicom's value validation (already done once on the
    template), which makes this several times cheaper than ``copy.deepcopy``. Multi-valued
    values are shared: assigning a new value replaces them, only in-place item edits would not.
    """
    copied = {}
    for tag, elem in src._dict.items():
        new = copy.copy(elem)
        if getattr(elem, "VR", None) == "SQ":
            new.value = Sequence([_copy_dataset(child) for child in elem.value])
        copied[tag] = new
    return Dataset(copied)


def clone(template: Dataset, sop_uid: str) -> Dataset:
    """A new instance from a series template: every element copied, SOP UIDs replaced."""
    ds = _copy_dataset(template)
    ds.file_meta = FileMetaDataset(_copy_dataset(template.file_meta))
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SOPInstanceUID = sop_uid
    return ds


def pixel_module(ds: Dataset, rows: int, cols: int, *, bits: int = 16, stored: int = 16,
                 signed: bool = False, photometric: str = "MONOCHROME2") -> None:
    """Image Pixel module attributes (the PixelData itself is set per instance)."""
    ds.SamplesPerPixel = 3 if photometric == "RGB" else 1
    ds.PhotometricInterpretation = photometric
    if photometric == "RGB":
        ds.PlanarConfiguration = 0
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = bits
    ds.BitsStored = stored
    ds.HighBit = stored - 1
    ds.PixelRepresentation = 1 if signed else 0
