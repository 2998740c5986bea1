"""Every ledger entry of the mini benchmark really is where it says, and every channel is used."""

from __future__ import annotations

import collections
import hashlib
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from midib.benchmark import Benchmark, sha256_file
from midib.generate.overlay import overlay_plane
from midib.generate.planting.instance import value_text
from midib.ledger import read_ledger
from midib.tagpath import TagPath


@pytest.fixture(scope="module")
def ledger(mini_bench: Path):
    return list(read_ledger(Benchmark(mini_bench).ledger_path))


@pytest.fixture(scope="module")
def datasets(mini_bench: Path, ledger):
    root = Benchmark(mini_bench).input_dir
    return {f: dcmread(root / f) for f in {e.file for e in ledger}}


def _names_equal(a: str, b: str) -> bool:
    split = lambda s: [c.strip().upper() for c in s.split("^")]  # noqa: E731
    return split(a) == split(b)


def test_every_attribute_entry_reads_back_at_its_path(ledger, datasets):
    failures = []
    for e in ledger:
        if e.channel in ("filename", "pixel", "overlay"):
            continue
        elem = TagPath.parse(e.path).resolve(datasets[e.file])
        got = value_text(elem) if elem is not None else None
        if got is None:
            failures.append((e.id, e.path, "absent"))
        elif e.context is not None:
            if e.value not in got or got != e.context:
                failures.append((e.id, e.path, e.value, got))
        elif e.vr == "PN" and not _names_equal(got, e.value):
            failures.append((e.id, e.path, e.value, got))
        elif e.vr != "PN" and got != e.value:
            failures.append((e.id, e.path, e.value, got))
    assert not failures, failures[:10]


def test_filename_fragments_are_in_the_file_path(ledger, mini_bench):
    entries = [e for e in ledger if e.channel == "filename"]
    assert entries
    for e in entries:
        assert e.value in e.file and e.context == e.file
        assert (Benchmark(mini_bench).input_dir / e.file).is_file()


def test_pixel_md5_matches_the_written_pixel_data(ledger, datasets):
    keeps = [e for e in ledger if e.kind == "pixel_data"]
    assert len({e.instance for e in keeps}) == len(keeps) > 50
    for e in keeps:
        assert hashlib.md5(datasets[e.file].PixelData).hexdigest() == e.extra["md5"] == e.value


def test_overlay_entries_have_set_bits_in_their_box(ledger, datasets):
    entries = [e for e in ledger if e.channel == "overlay"]
    assert entries
    for e in entries:
        plane = overlay_plane(datasets[e.file])
        x0, y0, x1, y1 = e.box
        assert plane is not None and plane[y0:y1, x0:x1].sum() > 20
        assert plane.sum() == sum(  # nothing drawn outside the recorded boxes
            int(plane[b[1]:b[3], b[0]:b[2]].sum()) for b in
            {tuple(o.box) for o in entries if o.file == e.file})


def test_burned_in_boxes_are_inside_the_image_and_flagged_as_devices_do(ledger, datasets):
    entries = [e for e in ledger if e.channel == "pixel" and e.role == "phi"]
    assert entries
    flags = collections.Counter()
    for e in entries:
        ds = datasets[e.file]
        x0, y0, x1, y1 = e.box
        assert 0 <= x0 < x1 <= ds.Columns and 0 <= y0 < y1 <= ds.Rows
        assert e.frame < int(ds.get("NumberOfFrames", 1) or 1)
        flag = e.extra["burned_in_annotation"]
        flags[flag] += 1
        assert ds.get("BurnedInAnnotation") == flag
    assert {e.modality for e in entries} >= {"US", "CR"} or len(entries) > 5


def test_every_channel_and_the_keep_role_are_used(ledger):
    channels = {e.channel for e in ledger}
    assert channels == {"attribute", "free_text", "sequence", "private", "pixel", "overlay",
                        "filename", "uid"}
    keep = {e.kind for e in ledger if e.role == "keep"}
    assert {"clinical_text", "safe_private", "pixel_data", "geometry", "acquisition_param",
            "sex", "age", "weight", "size", "manufacturer"} <= keep
    private = [e for e in ledger if e.channel == "private"]
    assert any(e.extra.get("safe") for e in private) and any(not e.extra.get("safe") for e in private)


def test_free_text_keeps_clinical_wording_beside_the_phi(ledger):
    by_place = collections.defaultdict(set)
    for e in ledger:
        if e.channel == "free_text":
            by_place[(e.instance, e.path)].add(e.role)
    assert any(roles == {"phi", "keep"} for roles in by_place.values())


def test_nested_sequences_carry_identities(ledger):
    nested = {TagPath.parse(e.path).steps[0] for e in ledger if e.channel == "sequence"}
    names = {TagPath((s,)).keyword() for s in nested}
    assert {"OtherPatientIDsSequence", "RequestAttributesSequence"} <= names
    uids = {e.kind for e in ledger if e.channel == "uid"}
    assert {"study_uid", "series_uid", "sop_uid", "frame_of_reference_uid"} <= uids


def test_uids_carry_the_site_root(ledger):
    study_uids = {e.value for e in ledger if e.kind == "study_uid"}
    assert all(u.startswith("1.2.826.0.1.3680043.10.") for u in study_uids)


def test_manifest_checksums_match_the_files(mini_bench):
    bench = Benchmark(mini_bench)
    manifest = bench.manifest()
    assert manifest["counts"]["instances"] == len(manifest["input_sha256"])
    rel, digest = sorted(manifest["input_sha256"].items())[0]
    assert sha256_file(bench.input_dir / rel) == digest
    assert 60 <= manifest["counts"]["instances"] <= 160


def test_every_object_kind_is_in_mini(ledger, datasets):
    from midib.generate.objects import OBJECT_KINDS

    modalities = {ds.Modality for ds in datasets.values()}
    cine = any(ds.Modality == "US" and int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in datasets.values())
    wanted = {k for k in OBJECT_KINDS if k != "US_CINE"}
    wanted = {"OT" if k == "SC" and "OT" in modalities else k for k in wanted}
    missing = wanted - modalities - ({"SC"} if "OT" in modalities else set())
    assert not missing, f"object kinds missing from mini: {sorted(missing)}"
    assert cine
    assert np is not None
