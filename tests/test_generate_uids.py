"""UIDs name one object worldwide: benchmarks of different presets (or --base) never share one.

``mini`` and ``small`` at one seed share their first patients (same people, same sites); their
UIDs must still differ, or one SOPInstanceUID would name a 128x128 CT in one benchmark and a
256x256 CT in the other. The proof here: every instance UID a benchmark holds lies under one
of its preset's site roots, and roots of different presets are disjoint (checked cheaply for
every preset and end to end on mini against small in a slow test).
"""

from __future__ import annotations

import shutil
from itertools import combinations
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import UID, UID_dictionary

from midib.cli import main
from midib.generate.context import UidFactory
from midib.generate.identity import (BASE_UID_ARC, MAX_ROOT_LENGTH, make_history, make_institution,
                                     site_uid_root)
from midib.generate.objects.common import instance_uid, series_uid
from midib.generate.presets import PRESETS, plan_patients

SEEDS = (0, 1, 8999, 9000, 2**63 + 5, -7)
#: the UIDs a de-identifier's scorer pairs outputs by; they must never be shared across benchmarks
PAIRING_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def _arcs() -> dict[str, int]:
    return {**{name: p.uid_arc for name, p in PRESETS.items()}, "--base": BASE_UID_ARC}


def _roots(arc: int, seed: int, sites: int) -> list[str]:
    return [site_uid_root(seed, i, arc) for i in range(sites)]


def _instance_uids(folder: Path) -> dict[str, set[str]]:
    """Every non-standard UID of every file (any depth), and the pairing UIDs by keyword."""
    found: dict[str, set[str]] = {"*": set(), **{k: set() for k in PAIRING_UIDS}}

    def visit(_, elem) -> None:
        if elem.VR == "UI" and elem.value:
            for v in map(str, elem.value if elem.VM > 1 else [elem.value]):
                if v not in UID_dictionary:
                    found["*"].add(v)
                    found.get(elem.keyword, set()).add(v)

    for path in sorted(folder.rglob("*.dcm")):
        dcmread(path, stop_before_pixels=True).walk(visit)
    return found


def test_each_preset_and_base_has_its_own_positive_arc():
    arcs = _arcs()
    assert all(isinstance(a, int) and a > 0 for a in arcs.values())
    assert len(set(arcs.values())) == len(arcs), arcs


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(_arcs()))
def test_site_roots_and_their_uids_are_valid(name, seed):
    sites = PRESETS[name].sites if name in PRESETS else 4
    for root in _roots(_arcs()[name], seed, sites):
        assert UID(root).is_valid and len(root) <= MAX_ROOT_LENGTH, root   # no leading zeros
        uid = UidFactory(root, seed).uid("sop", "x", 3)
        assert uid.startswith(root + ".") and len(uid) <= 64 and UID(uid).is_valid, uid
        assert len(uid) - len(root) - 1 >= 24                                # enough hash digits


def test_a_bad_arc_is_refused():
    with pytest.raises(ValueError):
        site_uid_root(0, 0, 0)


def test_roots_of_different_arcs_are_disjoint():
    """No root is a prefix of another kind's root (any seeds): no UID can be under both."""
    by_arc = {a: [r for s in (0, 1, 9000) for r in _roots(a, s, 12)] for a in _arcs().values()}
    for a, b in combinations(by_arc, 2):
        for ra in by_arc[a]:
            for rb in by_arc[b]:
                assert not (ra + ".").startswith(rb + ".") and not (rb + ".").startswith(ra + ".")


def test_mini_and_small_share_people_but_not_uids():
    """Same seed: patient 0 is the same person at the same site, every derived UID differs."""
    mini, small = PRESETS["mini"], PRESETS["small"]
    (_, site_m, plan_m), (_, site_s, plan_s) = next(plan_patients(mini, 0)), next(plan_patients(small, 0))
    assert site_m == site_s
    uids: dict[str, set[str]] = {}
    people = set()
    for preset, plan in ((mini, plan_m), (small, plan_s)):
        site = make_institution(0, site_m, preset.uid_arc)
        history = make_history(0, 0, site, 2, [(s["description"], s["body_part"]) for s in plan][:1])
        factory = UidFactory(site.uid_root, 0)
        people.add((history.patient.name.dicom, site.name))
        made = uids.setdefault(preset.name, set())
        for study in history.studies:
            suid = series_uid(factory, study, "CT", 1)
            made |= {study.study_uid, suid, instance_uid(factory, suid, 0),
                     factory.uid("for", study.study_uid, "CT")}
    assert len(people) == 1
    assert len(uids["mini"]) == len(uids["small"]) == 8
    assert not uids["mini"] & uids["small"]


def test_every_instance_uid_of_mini_lies_under_a_mini_site_root(mini_bench: Path):
    roots = tuple(r + "." for r in _roots(PRESETS["mini"].uid_arc, 0, PRESETS["mini"].sites))
    found = _instance_uids(mini_bench / "input")
    assert all(found[k] for k in PAIRING_UIDS)
    outside = sorted(u for u in found["*"] if not u.startswith(roots))
    assert not outside, outside[:5]
    invalid = sorted(u for u in found["*"] if not UID(u).is_valid)
    assert not invalid, invalid[:5]


def _one_file_base(tmp_path: Path, name: str) -> Path:
    base = tmp_path / f"base-{name}"
    base.mkdir()
    shutil.copy(get_testdata_file(name), base / name)
    out = tmp_path / f"bench-{name}"
    assert main(["generate", str(out), "--base", str(base), "--seed", "0"]) == 0
    return out / "input"


def test_base_benchmarks_share_no_study_uid_with_each_other_or_mini(tmp_path, mini_bench: Path):
    """At one seed, --base folders' first patients used to get mini's first StudyInstanceUID."""
    ct, mr = _one_file_base(tmp_path, "CT_small.dcm"), _one_file_base(tmp_path, "MR_small.dcm")
    found_ct, found_mr, found_mini = _instance_uids(ct), _instance_uids(mr), _instance_uids(mini_bench / "input")
    assert found_ct["StudyInstanceUID"] and found_mr["StudyInstanceUID"]
    for keyword in PAIRING_UIDS:     # not "*": both files name the same InstanceCreatorUID
        assert not found_ct[keyword] & found_mr[keyword], keyword
    assert not (found_ct["*"] | found_mr["*"]) & found_mini["*"]
    roots = tuple(r + "." for r in _roots(BASE_UID_ARC, 0, 4))
    assert all(u.startswith(roots) for u in found_ct["*"] | found_mr["*"])


@pytest.mark.slow
def test_small_shares_no_uid_with_mini_at_the_same_seed(tmp_path, mini_bench: Path):
    """End to end (small takes about two minutes on two cores)."""
    small = tmp_path / "small"
    assert main(["generate", str(small), "--preset", "small", "--seed", "0"]) == 0
    found_small, found_mini = _instance_uids(small / "input"), _instance_uids(mini_bench / "input")
    for keyword in PAIRING_UIDS:
        assert found_small[keyword] and found_mini[keyword], keyword
        assert not found_small[keyword] & found_mini[keyword], keyword
    assert not found_small["*"] & found_mini["*"]
    roots = tuple(r + "." for r in _roots(PRESETS["small"].uid_arc, 0, PRESETS["small"].sites))
    assert all(u.startswith(roots) and UID(u).is_valid for u in found_small["*"])
