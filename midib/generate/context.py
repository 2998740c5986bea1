"""The synthetic world a benchmark is built from: patients, studies, devices, and their UIDs.

These dataclasses are the contract between the identity factory (:mod:`midib.generate.identity`,
which fills them from a seeded Faker) and the object builders (:mod:`midib.generate.objects`,
which write them into DICOM attributes). Every string here that identifies a person, place,
date or device is PHI: the planter records each place it ends up in the ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field


@dataclass
class Person:
    """A person as DICOM names them: ``family^given^middle^prefix^suffix``."""

    family: str
    given: str
    middle: str = ""
    prefix: str = ""
    suffix: str = ""

    @property
    def dicom(self) -> str:
        """PN value with trailing empty components dropped, e.g. ``DOE^JOHN^Q``."""
        parts = [self.family, self.given, self.middle, self.prefix, self.suffix]
        while parts and not parts[-1]:
            parts.pop()
        return "^".join(parts)


@dataclass
class Address:
    street: str
    city: str
    state: str
    zip: str
    country: str = "USA"

    @property
    def one_line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zip}"


@dataclass
class Institution:
    name: str
    address: Address
    department: str
    uid_root: str                  # an org root identifying the site, e.g. "1.2.826.0.1.3680043.9.7133"
    phone: str = ""


@dataclass
class Device:
    """One scanner/workstation: the Equipment module and the vendor's private blocks."""

    modality: str
    manufacturer: str
    model: str
    serial: str
    software: str
    station: str
    private_creator: str = ""      # vendor's private creator string, e.g. "SIEMENS CT VA0  COAD"


@dataclass
class Patient:
    name: Person
    patient_id: str                # MRN as issued by the institution
    issuer: str                    # IssuerOfPatientID
    other_ids: list[str]
    birth_date: dt.date
    sex: str                       # M / F / O
    weight_kg: float
    size_m: float
    address: Address
    phone: str
    email: str
    ssn: str
    insurance: str                 # insurance plan / member ID
    mothers_maiden_name: str = ""
    other_names: list[Person] = field(default_factory=list)
    ethnic_group: str = ""
    occupation: str = ""

    def age_at(self, when: dt.date) -> str:
        """AS value (``045Y``) for this patient at ``when``."""
        years = when.year - self.birth_date.year - (
            (when.month, when.day) < (self.birth_date.month, self.birth_date.day))
        return f"{max(years, 0):03d}Y"


@dataclass
class Staff:
    referring: Person
    performing: Person
    operator: Person
    reading: Person
    requesting: Person


@dataclass
class StudyContext:
    """One imaging study of one patient: everything builders need to write the header."""

    patient: Patient
    institution: Institution
    staff: Staff
    study_uid: str
    study_date: dt.date
    study_time: dt.time
    accession: str
    study_id: str
    description: str
    body_part: str
    index: int                      # 0-based position in the patient's history
    clinical_history: str = ""      # free text; the planter may embed PHI in it

    @property
    def study_datetime(self) -> dt.datetime:
        return dt.datetime.combine(self.study_date, self.study_time)


class UidFactory:
    """Deterministic UIDs under an institution's root: same root, seed and key -> same UID.

    Using the site's root on purpose: real scanners do, and a UID root that identifies an
    institution is itself something a de-identifier must replace. The root also keeps kinds of
    benchmark apart: generated roots carry the preset's arc
    (:func:`midib.generate.identity.site_uid_root`), so the same key in ``mini`` and ``small``
    gives two different UIDs. UIDs longer than 64 characters lose trailing hash digits.
    """

    def __init__(self, root: str, seed: int) -> None:
        self.root = root.rstrip(".")
        self.seed = seed

    def uid(self, *key: object) -> str:
        digest = hashlib.sha256(repr((self.seed,) + key).encode()).hexdigest()
        number = str(int(digest[:30], 16))
        uid = f"{self.root}.{number}"
        return uid[:64].rstrip(".")


def dicom_date(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def dicom_time(t: dt.time | dt.datetime) -> str:
    return t.strftime("%H%M%S")


def dicom_datetime(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S")

