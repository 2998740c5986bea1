"""Same seed and context -> byte-identical files; different seeds -> different objects."""

from __future__ import annotations

import hashlib
import io

import pytest

from midib.generate.objects import OBJECT_KINDS
from test_objects_fixtures import build


def digest(datasets) -> str:
    h = hashlib.sha256()
    for ds in datasets:
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        h.update(buf.getvalue())
    return h.hexdigest()


@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_same_seed_gives_identical_bytes(kind: str) -> None:
    assert digest(build(kind, seed=3, n=2)[2]) == digest(build(kind, seed=3, n=2)[2])


@pytest.mark.parametrize("kind", ["CT", "US", "SR"])
def test_different_seed_gives_different_objects(kind: str) -> None:
    assert digest(build(kind, seed=3, n=2)[2]) != digest(build(kind, seed=4, n=2)[2])


def test_instances_do_not_share_mutable_elements() -> None:
    """Planting into one instance (a nested item, a private element) must not touch its siblings."""
    _, _, cts, _ = build("CT", n=3)
    cts[0].RequestAttributesSequence[0].RequestingPhysician = "CHANGED^ONE"
    cts[0].OtherPatientIDsSequence[0].PatientID = "CHANGED"
    cts[0].PatientName = "CHANGED^NAME"
    private = next(e for e in cts[0] if e.tag.is_private and e.tag.element >= 0x1000
                   and e.VR in ("LO", "SH", "CS", "LT"))
    private.value = "LEAKED"
    for ds in cts[1:]:
        assert ds.RequestAttributesSequence[0].RequestingPhysician != "CHANGED^ONE"
        assert ds.OtherPatientIDsSequence[0].PatientID != "CHANGED"
        assert ds.PatientName != "CHANGED^NAME"
        assert ds[private.tag].value != "LEAKED"
