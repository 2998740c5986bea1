"""The sweep's packed UID needles answer exactly as the dict they replace."""

from __future__ import annotations

import pickle

import pytest

from midib.ledger import LedgerEntry
from midib.score import uidneedles
from midib.score.sweep import Sweeper, relevant_hits
from midib.score.uidneedles import UidFacts, UidNeedles

UIDS = [f"1.2.826.0.1.3680043.8.498.{n}.{n * 7919 % 104729}" for n in range(1, 400)]


def built(uids: list[str]) -> UidNeedles:
    table = UidNeedles()
    for n, uid in enumerate(uids):
        table.add(uid, "sop_uid" if n % 3 else "series_uid", "uids", f"P{n % 5}")
    return table


def test_packed_table_answers_like_the_building_one() -> None:
    building = built(UIDS)
    before = {uid: building.facts(uid) for uid in UIDS}
    building.freeze()
    assert {uid: building.facts(uid) for uid in UIDS} == before
    assert len(building) == len(UIDS) and sorted(building) == sorted(UIDS)
    assert building.get(UIDS[5]) == "u:" + UIDS[5]
    for absent in ("1.2.3", UIDS[0] + "1", UIDS[0][:-1], "", "ü.1"):
        assert building.get(absent) is None and absent not in building


def test_equal_crcs_are_told_apart_by_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uidneedles, "crc32", lambda data: 7)  # every UID collides
    table = built(UIDS[:50])
    table.freeze()
    assert all(table.facts(uid) is not None and table.get(uid) == "u:" + uid for uid in UIDS[:50])
    assert table.get(UIDS[60]) is None


def test_a_uid_of_several_patients_keeps_them_all_and_survives_pickle() -> None:
    table = UidNeedles()
    table.add("1.2.3.4", "study_uid", "uids", "P1")
    table.add("1.2.3.4", "sop_uid", "other", "P2")
    table.add("1.2.3.4", "study_uid", "uids", "P1")
    table.freeze()
    again = pickle.loads(pickle.dumps(table))
    assert again.facts("1.2.3.4") == UidFacts("study_uid", "uids", ("P1", "P2"))
    again.add("1.2.3.5", "sop_uid", "uids", "P3")  # adding after freezing thaws, keeps the rest
    again.freeze()
    assert again.facts("1.2.3.4").patients == ("P1", "P2") and "1.2.3.5" in again


def test_sweeper_finds_a_planted_uid_in_any_patient_s_output() -> None:
    """Another patient's original UID inside this patient's output is a leak too (only dates
    are taken for another patient's by chance: a shifted date may equal a birth date)."""
    sweeper = Sweeper()
    for n, uid in enumerate(UIDS[:20]):
        sweeper.add_entry(LedgerEntry(id=f"e{n}", role="phi", channel="uid", kind="sop_uid",
                                      phi_class="uids", instance=uid, file=f"{n}.dcm",
                                      patient_id=f"P{n % 2}", study_uid="1.2", series_uid="1.2.3",
                                      modality="CT", vr="UI", value=uid))
    sweeper.freeze()
    text = f"see {UIDS[3]} in the report"
    hits = [(nid, "(0040,A160)", found) for nid, found in sweeper(text, "UT", "(0040,A160)")]
    assert [nid for nid, _, _ in hits] == ["u:" + UIDS[3]]
    assert relevant_hits(hits, sweeper, "P1") == hits and relevant_hits(hits, sweeper, "P0") == hits
    needle = sweeper.needle("u:" + UIDS[3])
    assert (needle.text, needle.whole, needle.kind, needle.patients) == (UIDS[3], UIDS[3], "sop_uid", ("P1",))
    assert sweeper.needle("u:9.9.9") is None


def test_uid_needles_are_rebuilt_once_and_the_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leaky output's UIDs are asked about several times each (relevant hits, then rows):
    the needle is rebuilt once; the memo is emptied when full, never grows past its size."""
    from midib.score import sweep
    sweeper = Sweeper()
    for n, uid in enumerate(UIDS[:30]):
        sweeper.uids.add(uid, "sop_uid", "uids", f"P{n % 2}")
    sweeper.freeze()
    first = sweeper.needle("u:" + UIDS[4])
    assert sweeper.needle("u:" + UIDS[4]) is first and first.patients == ("P0",)
    assert sweeper.needle("u:9.9.9") is None and sweeper.needle("u:9.9.9") is None
    monkeypatch.setattr(sweep, "MEMO_SIZE", 5)
    found = [sweeper.needle("u:" + uid) for uid in UIDS[:30]]
    assert [n.text for n in found] == UIDS[:30] and len(sweeper.uid_memo) <= 5
    assert pickle.loads(pickle.dumps(sweeper)).needle("u:" + UIDS[7]).whole == UIDS[7]
