"""Vendor catalogue: deterministic devices, private blocks as vendors write them, safe flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydicom._private_dict import private_dictionaries
from pydicom.valuerep import validate_value

from midib.errors import MidibError
from midib.generate.objects import OBJECT_KINDS, pick_device, private_catalog
from midib.generate.objects.vendors import FIELD_KINDS, _load, device_families, vendors_path
from test_objects_fixtures import build

MODALITIES = {"US_CINE": "US"}


def test_catalogue_documents_its_schema() -> None:
    data = json.loads(vendors_path().read_text())
    assert "_schema" in data and "private[].safe" in data["_schema"]


@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_every_kind_has_a_device(kind: str) -> None:
    device = pick_device(kind, np.random.default_rng(0), 0)
    assert device.modality == MODALITIES.get(kind, kind)
    assert device.manufacturer and device.model and device.serial and device.station
    assert len(device.station) <= 16


def test_pick_device_is_deterministic_and_seed_sensitive() -> None:
    a = pick_device("CT", np.random.default_rng(7), 1)
    b = pick_device("CT", np.random.default_rng(7), 1)
    c = pick_device("CT", np.random.default_rng(7), 2)
    assert a == b
    assert (a.serial, a.station) != (c.serial, c.station)
    manufacturers = {pick_device("CT", np.random.default_rng(s), s).manufacturer for s in range(40)}
    assert {"SIEMENS", "GE MEDICAL SYSTEMS", "Philips", "TOSHIBA"} <= manufacturers


def test_unknown_modality_is_a_user_error() -> None:
    with pytest.raises(MidibError, match="no device family for modality 'XA'"):
        pick_device("XA", np.random.default_rng(0), 0)


def test_catalogue_rows_are_safe_or_carry_a_known_identifier() -> None:
    rows = private_catalog()
    assert any(r["safe"] for r in rows) and any(not r["safe"] for r in rows)
    for r in rows:
        assert r["group"] % 2 == 1, r
        assert r["path"].startswith(f'({r["group"]:04x},"{r["creator"]}",')
        if r["safe"]:
            assert r["kind"] == "safe_private" and "value" in r
        else:
            assert r["kind"] in FIELD_KINDS.values(), r


def test_private_vrs_agree_with_known_vendor_dictionaries() -> None:
    for r in private_catalog():
        known = private_dictionaries.get(r["creator"], {}).get(f"{r['group']:04X}xx{r['element']:02X}")
        assert known is None or known[0] == r["vr"], r


def test_safe_values_are_valid_for_their_vr() -> None:
    for r in private_catalog():
        if r["safe"] and isinstance(r["value"], str):
            validate_value(r["vr"], r["value"], validation_mode=2)


@pytest.mark.parametrize("kind", ["CT", "MR", "MG", "US"])
def test_private_blocks_written_with_context_values(kind: str) -> None:
    study, device, datasets, _ = build(kind, n=1)
    fam = next(f for f in device_families(device.modality) if f["manufacturer"] == device.manufacturer)
    ds = datasets[0]
    fields = {"{patient.name}": study.patient.name.dicom, "{patient.id}": study.patient.patient_id,
              "{institution.name}": study.institution.name, "{device.station}": device.station,
              "{staff.operator}": study.staff.operator.dicom}
    for el in fam["private"]:
        value = ds.private_block(int(el["group"], 16), el["creator"])[int(el["element"], 16)].value
        if el["safe"]:
            expected = el["value"]
            assert (list(value) if isinstance(expected, list) else value) == expected
        else:
            for field, text in fields.items():
                if field in el["template"]:
                    assert text[:16] in str(value)


def test_unreadable_catalogue_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "vendors.json"
    bad.write_text("{not json")
    monkeypatch.setenv("MIDIB_VENDORS", str(bad))
    _load.cache_clear()
    with pytest.raises(MidibError, match="vendors.json"):
        pick_device("CT", np.random.default_rng(0), 0)
