"""Hand-built study contexts for the object builder tests (no Faker: fixed, readable values)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from midib.generate.context import (Address, Institution, Patient, Person, Staff, StudyContext,
                                    UidFactory)

ROOT = "1.2.826.0.1.3680043.9.7133"


def make_study(index: int = 0) -> StudyContext:
    """One study of one fixed patient; ``index`` shifts the study along the patient's history."""
    addr = Address("12 Elm Street", "Springfield", "IL", "62704")
    patient = Patient(name=Person("DOE", "JANE", "Q"), patient_id="MRN0012345", issuer="SPRINGFIELD GEN",
                      other_ids=["OID-778899", "SSN-123-45-6789"], birth_date=dt.date(1961, 4, 12),
                      sex="F", weight_kg=71.5, size_m=1.66, address=addr, phone="217-555-0142",
                      email="jane.doe@example.org", ssn="123-45-6789", insurance="BCBS-99812",
                      other_names=[Person("SMITH", "JANE")], ethnic_group="WHITE", occupation="TEACHER")
    inst = Institution("Springfield General Hospital", Address("1 Hospital Way", "Springfield", "IL", "62701"),
                       "Radiology", ROOT)
    staff = Staff(referring=Person("HOUSE", "GREGORY"), performing=Person("GREY", "MEREDITH"),
                  operator=Person("TECH", "TOM"), reading=Person("WATSON", "JOHN", "H"),
                  requesting=Person("QUINN", "MICHAELA"))
    uids = UidFactory(ROOT, 0)
    return StudyContext(patient=patient, institution=inst, staff=staff,
                        study_uid=uids.uid("study", index), study_date=dt.date(2019, 3, 5 + index),
                        study_time=dt.time(9, 41, 7), accession=f"ACC{4400 + index}", study_id=f"S{index + 1}",
                        description="CT CHEST ABDOMEN PELVIS W CONTRAST", body_part="CHEST", index=index,
                        clinical_history="Follow-up of pulmonary nodule")


@pytest.fixture()
def study() -> StudyContext:
    return make_study()


@pytest.fixture()
def uids() -> UidFactory:
    return UidFactory(ROOT, 0)


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_fixture_study_is_consistent(study: StudyContext) -> None:
    assert study.patient.age_at(study.study_date) == "057Y"


def build(kind: str, seed: int = 0, *, n: int | None = 4, matrix: int = 32, series_number: int = 2,
          manufacturer: str | None = None):
    """Build one series of ``kind`` (with a small CT source for derived kinds), deterministic."""
    from midib.generate.objects import build_series, pick_device

    study, rng, uids = make_study(), np.random.default_rng(seed), UidFactory(ROOT, seed)
    source = None
    if kind in ("SEG", "RTSTRUCT", "SR"):
        source = build_series("CT", study, pick_device("CT", rng, seed), uids, rng,
                              series_number=1, n_instances=4, matrix=matrix)
    device = pick_device(kind, rng, seed)
    if manufacturer is not None:
        device.manufacturer = manufacturer
    datasets = build_series(kind, study, device, uids, rng, series_number=series_number,
                            n_instances=n if kind in ("CT", "MR", "PT") else None,
                            matrix=matrix, source=source)
    return study, device, datasets, source
