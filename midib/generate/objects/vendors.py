"""Vendors: which devices exist per modality, and the private blocks each writes.

The catalogue lives in ``synthetic_phi/vendors.json`` (schema in its ``_schema`` key) so that
organisers can add a scanner or a private element without touching code. Real scanners write
private blocks into every object; some elements are acquisition constants a de-identifier may
keep under *Retain Safe Private*, others quietly carry the patient's name, the accession or the
site. The object builders write both kinds; the planter learns which is which from
:func:`private_catalog`, so the ledger can say "keep" for one and "remove" for the other.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from midib.errors import MidibError
from midib.resources import synthetic_phi_dir
from midib.generate.context import Device, StudyContext, dicom_date, dicom_time

VENDORS_ENV = "MIDIB_VENDORS"

# Where each template field comes from, and the ledger kind of identifier it carries.
FIELD_KINDS: dict[str, str] = {
    "patient.name": "patient_name", "patient.id": "patient_id", "patient.birth_date": "birth_date",
    "study.accession": "accession", "study.uid": "study_uid",
    "study.date": "study_date", "study.time": "study_time",
    "study.id": "study_id", "device.serial": "device_serial", "device.station": "station_name",
    "institution.name": "institution_name", "institution.department": "department",
    "staff.operator": "operator_name", "staff.performing": "physician_name",
    "staff.referring": "physician_name", "staff.reading": "physician_name",
}
_FIELD = re.compile(r"\{([a-z_.]+)\}")
_MAX_LEN = {"SH": 16, "CS": 16, "LO": 64, "DS": 16, "IS": 12, "UI": 64}
_KIND_MODALITY = {"US_CINE": "US"}


def vendors_path() -> Path:
    """The catalogue in use: ``$MIDIB_VENDORS`` if set (tests, organisers), else the project's."""
    env = os.environ.get(VENDORS_ENV)
    return Path(env) if env else synthetic_phi_dir() / "vendors.json"


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[dict[str, Any], ...]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        families = tuple(data["devices"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise MidibError(f"cannot read the vendor catalogue {path}: {e}") from e
    for fam in families:
        for key in ("modality", "manufacturer", "models", "software", "station", "serial"):
            if key not in fam:
                raise MidibError(f"{path}: device family {fam.get('manufacturer')!r} lacks {key!r}")
    return families


def device_families(modality: str | None = None) -> list[dict[str, Any]]:
    """Device families of the catalogue, optionally only those of one modality."""
    families = _load(str(vendors_path()))
    return [f for f in families if modality is None or f["modality"] == modality]


def _fill(pattern: str, rng: np.random.Generator) -> str:
    """Expand ``#`` (digit) and ``?`` (letter) so serials and stations look like the vendor's."""
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(int(rng.integers(10))))
        elif ch == "?":
            out.append(chr(ord("A") + int(rng.integers(26))))
        else:
            out.append(ch)
    return "".join(out)


def pick_device(modality: str, rng: np.random.Generator, faker_seed: int) -> Device:
    """Draw one device of ``modality`` (``US_CINE`` counts as ``US``) deterministically.

    The family, model and software come from ``rng``; serial and station digits from a
    generator seeded by both ``faker_seed`` and ``rng`` so two benchmarks with different
    seeds do not share serial numbers even when they draw the same family.
    """
    modality = _KIND_MODALITY.get(modality, modality)
    families = device_families(modality)
    if not families:
        raise MidibError(f"{vendors_path()}: no device family for modality {modality!r}")
    weights = np.array([float(f.get("weight", 1)) for f in families])
    fam = families[int(rng.choice(len(families), p=weights / weights.sum()))]
    model = fam["models"][int(rng.integers(len(fam["models"])))]
    software = fam["software"][int(rng.integers(len(fam["software"])))]
    local = np.random.default_rng([abs(int(faker_seed)), int(rng.integers(2**32))])
    creators = [p["creator"] for p in fam.get("private", [])]
    return Device(modality=modality, manufacturer=fam["manufacturer"], model=model,
                  serial=_fill(fam["serial"], local), software=software,
                  station=_fill(fam["station"], local)[:16],
                  private_creator=creators[0] if creators else "")


def _family_of(device: Device) -> dict[str, Any] | None:
    for fam in device_families(device.modality):
        if fam["manufacturer"] == device.manufacturer:
            return fam
    return None


def context_fields(study: StudyContext, device: Device) -> dict[str, str]:
    """Values of every template field for one study on one device."""
    p, s = study.patient, study.staff
    return {
        "patient.name": p.name.dicom, "patient.id": p.patient_id,
        "patient.birth_date": dicom_date(p.birth_date), "study.accession": study.accession, "study.uid": study.study_uid,
        "study.date": dicom_date(study.study_date), "study.time": dicom_time(study.study_time),
        "study.id": study.study_id, "device.serial": device.serial, "device.station": device.station,
        "institution.name": study.institution.name,
        "institution.department": study.institution.department,
        "staff.operator": s.operator.dicom, "staff.performing": s.performing.dicom,
        "staff.referring": s.referring.dicom, "staff.reading": s.reading.dicom,
    }


def _render(element: dict[str, Any], fields: dict[str, str]) -> Any:
    if element.get("safe", False) or "template" not in element:
        return element.get("value", "")
    try:
        text = _FIELD.sub(lambda m: fields[m.group(1)], element["template"])
    except KeyError as e:
        raise MidibError(f"{vendors_path()}: unknown template field {e} in {element}") from e
    return text[: _MAX_LEN.get(element["vr"], len(text))]


def add_private_blocks(ds: Dataset, study: StudyContext, device: Device) -> None:
    """Write the device family's private elements into ``ds`` (blocks reserved in file order)."""
    fam = _family_of(device)
    if fam is None:
        return
    fields = context_fields(study, device)
    for el in fam.get("private", []):
        block = ds.private_block(int(el["group"], 16), el["creator"], create=True)
        block.add_new(int(el["element"], 16), el["vr"], _render(el, fields))


def private_catalog() -> list[dict[str, Any]]:
    """Every private element any vendor writes, with whether it is safe to keep.

    Each row: ``modality, manufacturer, group, creator, element`` (low byte), ``vr``, ``name``,
    ``safe``, ``value`` or ``template``, ``kind`` (``safe_private`` or the identifier kind the
    template carries) and ``path`` in midib notation, e.g. ``(0019,"GEMS_ACQU_01",23)``.
    """
    rows = []
    for fam in device_families():
        for el in fam.get("private", []):
            group, low = int(el["group"], 16), int(el["element"], 16)
            fields = _FIELD.findall(el.get("template", ""))
            row = {"modality": fam["modality"], "manufacturer": fam["manufacturer"],
                   "group": group, "creator": el["creator"], "element": low, "vr": el["vr"],
                   "name": el.get("name", ""), "safe": bool(el.get("safe", False)),
                   "kind": "safe_private" if el.get("safe") else
                   (FIELD_KINDS.get(fields[0], "unsafe_private") if fields else "unsafe_private"),
                   "path": f'({group:04x},"{el["creator"]}",{low:02x})'}
            row["value" if row["safe"] else "template"] = el.get("value" if row["safe"] else "template")
            rows.append(row)
    return rows
