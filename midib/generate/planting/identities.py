"""What counts as an identity of one study: the values the ledger walker looks for.

:func:`identity_fields` flattens a study's patient, staff, site and device into named text
values; the attribute catalog and free-text templates of synthetic_phi/ refer to those names.
:func:`match_values` is the subset worth searching for inside other text (long enough and
specific enough not to match ordinary clinical words), each with its kind and HIPAA class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from midib.generate.context import Device, Person, StudyContext, dicom_date, dicom_time


@dataclass(frozen=True)
class IdentityValue:
    text: str
    kind: str
    phi_class: str


#: kind -> HIPAA class (kinds not listed: "other")
CLASS_BY_KIND = {
    "patient_name": "names", "other_name": "names", "mothers_maiden_name": "names",
    "physician_name": "names", "operator_name": "names", "person_name": "names",
    "patient_id": "mrn", "other_patient_id": "mrn", "issuer": "mrn", "ssn": "ssn",
    "insurance": "health_plan", "accession": "account", "phone": "phone", "email": "email",
    "address": "geographic", "institution_address": "geographic", "city": "geographic",
    "zip": "geographic", "street": "geographic", "device_serial": "device", "station_name": "device",
    "detector_id": "device", "birth_date": "dates", "study_date": "dates",
}


def person_label(p: Person) -> str:
    """A name as devices print it in pixels and reports: ``DOE, JOHN`` (no ``^``)."""
    return f"{p.family}, {p.given}"


def _staff_name(p: Person) -> str:
    return f"Dr. {p.given.title()} {p.family.title()}" if p.prefix else f"{p.given.title()} {p.family.title()}"


def identity_fields(study: StudyContext, device: Device) -> dict[str, str]:
    """Named text values of one study's identities (used by catalogs and templates)."""
    p, s, site = study.patient, study.staff, study.institution
    return {
        "patient_name": p.name.dicom, "patient_family": p.name.family, "patient_label": person_label(p.name),
        "patient_display": f"{p.name.given} {p.name.family}", "patient_id": p.patient_id,
        "issuer": p.issuer, "other_id_1": p.other_ids[0], "other_id_2": p.other_ids[-1],
        "birth_date": dicom_date(p.birth_date), "birth_date_us": p.birth_date.strftime("%m/%d/%Y"),
        "patient_address": p.address.one_line, "patient_street": p.address.street,
        "patient_city": p.address.city, "patient_state": p.address.state, "patient_zip": p.address.zip,
        "patient_country": p.address.country, "patient_phone": p.phone, "patient_email": p.email,
        "ssn": p.ssn, "insurance": p.insurance, "mothers_maiden_name": p.mothers_maiden_name,
        "other_name": p.other_names[0].dicom if p.other_names else "", "ethnic_group": p.ethnic_group,
        "occupation": p.occupation, "accession": study.accession, "study_id": study.study_id,
        "study_date": dicom_date(study.study_date), "study_date_us": study.study_date.strftime("%m/%d/%Y"),
        "study_time": dicom_time(study.study_time),
        "referring_name": s.referring.dicom, "referring_display": _staff_name(s.referring),
        "performing_name": s.performing.dicom, "operator_name": s.operator.dicom,
        "reading_name": s.reading.dicom, "reading_display": _staff_name(s.reading),
        "requesting_name": s.requesting.dicom,
        "institution_name": site.name, "institution_address": site.address.one_line,
        "institution_phone": site.phone, "department": site.department,
        "station_name": device.station, "device_serial": device.serial,
    }


def match_values(study: StudyContext, device: Device) -> tuple[IdentityValue, ...]:
    """Identity values to search for inside any text, longest first (so ``contains`` prefers them).

    The last answer is kept for the same (study, device) objects, so every instance of a series
    shares one tuple and :func:`find_in_text` can reuse its matches.
    """
    last = _LAST_VALUES
    if last and last[0] is study and last[1] is device:
        return last[2]
    values = _match_values(study, device)
    _LAST_VALUES[:] = [study, device, values]
    return values


_LAST_VALUES: list = []


def _match_values(study: StudyContext, device: Device) -> tuple[IdentityValue, ...]:
    f = identity_fields(study, device)
    p, s = study.patient, study.staff
    values = [
        IdentityValue(p.name.family, "patient_name", "names"),
        IdentityValue(p.mothers_maiden_name, "mothers_maiden_name", "names"),
        IdentityValue(f["patient_id"], "patient_id", "mrn"), IdentityValue(f["issuer"], "issuer", "mrn"),
        IdentityValue(f["other_id_1"], "other_patient_id", "mrn"),
        IdentityValue(f["other_id_2"], "other_patient_id", "mrn"),
        IdentityValue(f["ssn"], "ssn", "ssn"), IdentityValue(f["insurance"], "insurance", "health_plan"),
        IdentityValue(f["patient_phone"], "phone", "phone"), IdentityValue(f["patient_email"], "email", "email"),
        IdentityValue(f["patient_address"], "address", "geographic"),
        IdentityValue(f["patient_street"], "address", "geographic"),
        IdentityValue(f["patient_city"], "address", "geographic"),
        IdentityValue(f["accession"], "accession", "account"),
        IdentityValue(f["birth_date_us"], "birth_date", "dates"),
        IdentityValue(f["study_date_us"], "study_date", "dates"),
        IdentityValue(f["institution_name"], "institution_name", "other"),
        IdentityValue(f["institution_address"], "institution_address", "geographic"),
        IdentityValue(f["institution_phone"], "phone", "phone"),
        IdentityValue(f["station_name"], "station_name", "device"),
        IdentityValue(f["device_serial"], "device_serial", "device"),
    ]
    values += [IdentityValue(o.family, "other_name", "names") for o in p.other_names]
    for person, kind in ((s.referring, "physician_name"), (s.performing, "physician_name"),
                         (s.reading, "physician_name"), (s.requesting, "physician_name"),
                         (s.operator, "operator_name")):
        values.append(IdentityValue(person.family, kind, "names"))
    seen: set[str] = set()
    out = []
    for v in sorted(values, key=lambda v: -len(v.text)):
        if len(v.text) >= 4 and v.text.upper() not in seen:
            seen.add(v.text.upper())
            out.append(v)
    return tuple(out)


def find_in_text(text: str, values: tuple[IdentityValue, ...]) -> list[tuple[IdentityValue, str]]:
    """Identity values contained in ``text`` as whole words: (value, fragment as it appears).

    One alternation, longest value first, so overlapping values yield the longest fragment.
    Results are remembered per text: the instances of a series repeat most of their values.
    """
    found = _matcher(values)
    hit = found.memo.get(text)
    if hit is None:
        by_text = found.by_text
        hit = [(by_text[m.group(0).upper()], m.group(0)) for m in found.pattern.finditer(text)]
        if len(found.memo) > 5000:
            found.memo.clear()
        found.memo[text] = hit
    return list(hit)


@dataclass
class _Matcher:
    values: tuple[IdentityValue, ...]
    pattern: re.Pattern[str]
    by_text: dict[str, IdentityValue]
    memo: dict[str, list[tuple[IdentityValue, str]]]


_MATCHERS: dict[int, _Matcher] = {}


def _matcher(values: tuple[IdentityValue, ...]) -> _Matcher:
    """The compiled alternation of ``values``, cached by identity (hashing the tuple of
    dataclasses on every call cost more than the regex search)."""
    found = _MATCHERS.get(id(values))
    if found is None or found.values is not values:
        if len(_MATCHERS) > 16:
            _MATCHERS.clear()
        alternation = "|".join(re.escape(v.text) for v in values) or r"(?!x)x"
        pattern = re.compile(r"(?<![A-Za-z0-9])(?:" + alternation + r")(?![A-Za-z0-9])", re.I)
        found = _Matcher(values, pattern, {v.text.upper(): v for v in values}, {})
        _MATCHERS[id(values)] = found
    return found
