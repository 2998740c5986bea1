"""Seeded synthetic identities: patients, their sites and staff, and their imaging histories.

Every person, place, number and date a benchmark contains comes from here, drawn from Faker
seeded per patient (``seed`` and patient index), so patient 17 is the same person whatever the
preset size or generation order, and two seeds give different people. Identities are shared
across presets on purpose (``mini`` is a preview of ``small``'s first patients, and a name is
not a unique identifier anyway); UIDs are not: a site's UID root carries the preset's arc
(:func:`site_uid_root`), so one UID never names two different objects. Nothing reads the wall
clock: dates are drawn inside fixed windows and laid out along each patient's history, so
ages stay consistent with birth dates and later studies come after earlier ones.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from faker import Faker

from midib.generate.context import Address, Institution, Patient, Person, Staff, StudyContext, UidFactory

#: fictional organisation roots (under a demo arc) so UIDs point at "a site" without being real
UID_ROOT_BASE = "1.2.826.0.1.3680043.10"
#: the arc of ``--base`` benchmarks (presets number theirs from 1: :attr:`Preset.uid_arc`)
BASE_UID_ARC = 99
#: the longest root that leaves a UidFactory UID at least 24 hash digits (~80 bits) within 64 chars
MAX_ROOT_LENGTH = 64 - 1 - 24
DEPARTMENTS = ("Radiology", "Diagnostic Imaging", "Nuclear Medicine", "Breast Imaging",
               "Radiation Oncology", "Emergency Radiology")
#: where in the site the department is: a planted department is the service plus this
#: qualifier ("Nuclear Medicine, Pavilion C"), as hospitals write them; the bare service name
#: ("Radiology") is what tools write as a dummy and what series descriptions say ("Radiology
#: Report"), so planting it made correct tools fail and clean folder names look like leaks
DEPARTMENT_PLACES = ("{cardinal} Wing", "Pavilion {letter}", "Building {letter}{digit}",
                     "{cardinal} Tower Level {digit}", "{cardinal} Campus", "Annex {letter}")
HOSPITAL_FORMS = ("{last} Memorial Hospital", "{city} General Hospital", "St. {first} Medical Center",
                  "{city} University Hospital", "{last} Imaging Center")
FIRST_STUDY = (dt.date(2006, 1, 1), dt.date(2021, 12, 31))


@dataclass
class PatientHistory:
    """One patient, the site that imaged them, and their studies in date order."""

    index: int
    patient: Patient
    institution: Institution
    studies: list[StudyContext]
    rng: random.Random


def seeded_random(seed: int, *key: object) -> random.Random:
    """A Random seeded from (seed, key) through its string form: stable across runs (no hash())."""
    return random.Random(":".join(str(k) for k in (seed,) + key))


def _faker(seed: int, *key: object) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seeded_random(seed, "faker", *key).getrandbits(63))
    return fake


def _address(fake: Faker) -> Address:
    return Address(street=fake.street_address(), city=fake.city(), state=fake.state_abbr(),
                   zip=fake.zipcode())


def _person(fake: Faker, sex: str = "", upper: bool = True, prefix: str = "") -> Person:
    first = fake.first_name_female() if sex == "F" else fake.first_name_male() if sex == "M" \
        else fake.first_name()
    middle = fake.random_uppercase_letter() if fake.pybool() else ""
    family, given = fake.last_name(), first
    if upper:
        family, given = family.upper(), given.upper()
    return Person(family=family, given=given, middle=middle, prefix=prefix)


def site_uid_root(seed: int, index: int, uid_arc: int) -> str:
    """``UID_ROOT_BASE.<arc>.<1000 + seed % 9000>.<site + 1>``: a valid root, disjoint per arc.

    The arc (preset or ``--base``) comes first so two kinds of benchmark never share a root,
    hence never a UID; the seed's arc only spreads roots (seeds 0 and 9000 share one, and their
    UIDs differ by the seed in the hash). Every component is a positive number without a
    leading zero, and the root is short enough for the hash digits after it.
    """
    if uid_arc < 1:
        raise ValueError(f"UID arc must be a positive number, got {uid_arc}")
    root = f"{UID_ROOT_BASE}.{uid_arc}.{1000 + (seed % 9000)}.{index + 1}"
    if len(root) > MAX_ROOT_LENGTH:
        raise ValueError(f"UID root {root} is longer than {MAX_ROOT_LENGTH} characters")
    return root


def make_institution(seed: int, index: int, uid_arc: int) -> Institution:
    """Site ``index`` of the benchmark: name, address, department and its own UID root.

    The site is the same place in every preset (same name and address); only its UID root
    depends on ``uid_arc`` (the preset's, or :data:`BASE_UID_ARC`), see :func:`site_uid_root`.
    """
    fake = _faker(seed, "site", index)
    city, last, first = fake.city(), fake.last_name(), fake.first_name()
    form = HOSPITAL_FORMS[index % len(HOSPITAL_FORMS)]
    return Institution(
        name=form.format(last=last, city=city, first=first),
        address=_address(fake),
        department=_department(seed, index, DEPARTMENTS[fake.random_int(0, len(DEPARTMENTS) - 1)]),
        uid_root=site_uid_root(seed, index, uid_arc),
        phone=fake.numerify("(###) ###-####"),
    )


def _department(seed: int, index: int, service: str) -> str:
    """Site ``index``'s department: ``service`` and where it is (``Radiology, East Wing``).

    The place comes from its own seeded stream, so the site's other values (drawn from the
    site's Faker) stay what they were; at most 64 characters (LO).
    """
    rng = seeded_random(seed, "department", index)
    place = rng.choice(DEPARTMENT_PLACES).format(
        cardinal=rng.choice(("North", "South", "East", "West")),
        letter=rng.choice("ABCDEFGH"), digit=rng.randrange(1, 10))
    return f"{service}, {place}"[:64]


def make_patient(seed: int, index: int, institution: Institution, first_study: dt.date) -> Patient:
    """Patient ``index``: a name with DICOM components, IDs, contact data, body size."""
    fake = _faker(seed, "patient", index)
    sex = "F" if fake.pybool() else "M"
    age_days = fake.random_int(18 * 365, 88 * 365)
    birth = first_study - dt.timedelta(days=age_days)
    size = round(fake.random_int(150, 195) / 100 - (0.1 if sex == "F" else 0), 2)
    return Patient(
        name=_person(fake, sex, upper=fake.random_int(0, 3) > 0),
        patient_id=fake.numerify("MRN%#######"),
        issuer=institution.name.split()[0].upper() + "_MRN",
        other_ids=[fake.numerify("PAT-%#####"), fake.bothify("??#######").upper()],
        birth_date=birth,
        sex=sex,
        weight_kg=float(fake.random_int(48, 125)),
        size_m=size,
        address=_address(fake),
        phone=fake.numerify("(###) ###-####"),
        email=fake.email(),
        ssn=fake.ssn(),
        insurance=fake.bothify("??#########").upper(),
        mothers_maiden_name=fake.last_name().upper(),
        other_names=[_person(fake, sex)],
        ethnic_group=("WHITE", "BLACK", "ASIAN", "HISPANIC", "OTHER")[fake.random_int(0, 4)],
        occupation=fake.job()[:16],
    )


def make_staff(seed: int, patient_index: int, study_index: int) -> Staff:
    """The physicians and technologist of one study (drawn per study, as rotas change)."""
    fake = _faker(seed, "staff", patient_index, study_index)
    return Staff(referring=_person(fake, prefix="DR"), performing=_person(fake, prefix="DR"),
                 operator=_person(fake), reading=_person(fake, prefix="DR"),
                 requesting=_person(fake, prefix="DR"))


def make_history(seed: int, index: int, institution: Institution, n_studies: int,
                 plans: list[tuple[str, str]]) -> PatientHistory:
    """A patient with ``n_studies`` studies (``plans`` = (description, body part) per study).

    Studies are 20-700 days apart, each at a plausible working-hours time, all under the site's
    UID root; accession numbers are site-style counters.
    """
    rng = seeded_random(seed, "history", index)
    span = (FIRST_STUDY[1] - FIRST_STUDY[0]).days
    date = FIRST_STUDY[0] + dt.timedelta(days=rng.randrange(span))
    patient = make_patient(seed, index, institution, date)
    uids = UidFactory(institution.uid_root, seed)
    studies = []
    for k in range(n_studies):
        description, body_part = plans[k % len(plans)]
        studies.append(StudyContext(
            patient=patient, institution=institution, staff=make_staff(seed, index, k),
            study_uid=uids.uid("study", index, k), study_date=date,
            study_time=dt.time(rng.randrange(7, 19), rng.randrange(60), rng.randrange(60)),
            accession=f"{rng.choice('ACEGR')}{rng.randrange(10**7, 10**8)}",
            study_id=str(rng.randrange(1000, 99999)), description=description,
            body_part=body_part, index=k))
        date = date + dt.timedelta(days=rng.randrange(20, 700))
    return PatientHistory(index, patient, institution, studies, rng)
