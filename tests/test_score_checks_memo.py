"""The check memo and the fast paths give the verdicts of the slow path, leaks and correct
de-identifications alike; a memo keyed on too little is caught here."""

from __future__ import annotations

import itertools
import random
from typing import Any, Optional

import pytest

from midib.answer_key import Check
from midib.score import checks as registry
from midib.score.checks import (PURE_ACTIONS, IdMaps, Observed, evaluate, evaluate_uncached,
                                load_families, memo_key, register)
from midib.score.observation import Element, OutputRecord
from midib.score.verdict import Verdict


@pytest.fixture(autouse=True)
def fresh_memo():
    registry.clear_memo()
    yield
    registry.clear_memo()


def check(action: str, expected: dict[str, Any], path: Optional[str] = "(0010,0010)",
          hipaa_class: str = "names", instance: str = "1.2.3") -> Check:
    return Check(id=f"{instance}/{action}", instance=instance, file="a.dcm", patient_id="P",
                 study_uid="1.2", series_uid="1.2.1", modality="CT", scope="instance",
                 action=action, path=path, tag_name="", expected=expected, hipaa_class=hipaa_class)


def seen(vr: str, *values: str, path: str = "(0010,0010)", file: str = "out/a.dcm",
         maps: Optional[IdMaps] = None) -> Observed:
    return Observed([Element(path, vr, tuple(values))] if values else [], OutputRecord(file=file),
                    maps or IdMaps())


def both_orders(pairs: list[tuple[Check, Observed]]) -> None:
    """Memoised verdicts equal the uncached ones whichever case fills the memo first."""
    for order in (pairs, pairs[::-1]):
        registry.clear_memo()
        for _ in range(2):  # the second round is served by the memo
            for c, o in order:
                assert evaluate(c, o) == evaluate_uncached(c, o), (c.action, c.expected, o.values)


def test_memo_serves_repeats_and_keeps_the_verdict() -> None:
    c = check("text_removed", {"value": "DOE^JOHN"})
    first = evaluate(c, seen("PN", "JOHN DOE"))
    assert not first.passed and "still holds" in first.reason
    again = evaluate(check("text_removed", {"value": "DOE^JOHN"}, instance="1.2.4"), seen("PN", "JOHN DOE"))
    assert again is first  # served by the memo: same object


def test_hipaa_class_is_part_of_the_key() -> None:
    # a name moved into an LO element is compared by components only when the class is names
    leak_as_name = check("text_removed", {"value": "DOE^JOHN"}, hipaa_class="names")
    plain = check("text_removed", {"value": "DOE^JOHN"}, hipaa_class="none")
    o = seen("LO", "John Smith")
    assert not evaluate_uncached(leak_as_name, o).passed and evaluate_uncached(plain, o).passed
    both_orders([(leak_as_name, o), (plain, o)])


def test_vr_is_part_of_the_key() -> None:
    c = check("text_retained", {"value": "1.0"}, hipaa_class="none")
    numeric, text = seen("DS", "1"), seen("LO", "1")
    assert evaluate_uncached(c, numeric).passed and not evaluate_uncached(c, text).passed
    both_orders([(c, numeric), (c, text)])


def test_every_element_is_part_of_the_key() -> None:
    c = check("date_shifted", {"value": "20040119"}, path="(0008,0020)")
    one = Observed([Element("(0008,0020)", "DA", ("20031011",))], OutputRecord(file="a"))
    two = Observed([Element("(0008,0020)", "DA", ("20031011",)),
                    Element("(0008,0020)", "DA", ("20040119",))], OutputRecord(file="a"))
    assert evaluate_uncached(c, one).passed and not evaluate_uncached(c, two).passed
    both_orders([(c, one), (c, two)])


def test_whole_expected_is_part_of_the_key() -> None:
    base = {"removed": ["John Doe"], "retained": ["nodule"], "value": "x"}
    more = {"removed": ["John Doe"], "retained": ["nodule", "spleen"], "value": "x"}
    o = seen("LT", "Nodule in left lobe")
    a, b = check("text_cleaned", base), check("text_cleaned", more)
    assert evaluate_uncached(a, o).passed and not evaluate_uncached(b, o).passed
    both_orders([(a, o), (b, o)])
    # same value, another key beside it: not confused with {"value": ...} alone
    assert memo_key(check("text_removed", {"value": "A"}), o) != memo_key(
        check("text_removed", {"value": "A", "where": "x"}), o)


def test_file_name_checks_are_never_memoised() -> None:
    c = check("text_removed", {"value": "DOE^JOHN", "where": "filename"}, path=None)
    leak, clean = Observed([], OutputRecord(file="DOE_JOHN/1.dcm")), Observed([], OutputRecord(file="P1/1.dcm"))
    assert memo_key(c, leak) is None
    both_orders([(c, leak), (c, clean)])
    assert not evaluate(c, leak).passed and evaluate(c, clean).passed


def test_checks_reading_maps_records_or_pixels_are_never_memoised() -> None:
    good = seen("UI", "2.25.7", maps=IdMaps(uid={"1.2.3": {"2.25.7"}}))
    split = seen("UI", "2.25.7", maps=IdMaps(uid={"1.2.3": {"2.25.7", "2.25.8"}}))
    c = check("uid_consistent", {"value": "1.2.3"}, path="(0008,0018)")
    assert memo_key(c, good) is None
    both_orders([(c, good), (c, split)])
    assert evaluate(c, good).passed and not evaluate(c, split).passed
    assert "uid_consistent" not in PURE_ACTIONS and "date_interval" not in PURE_ACTIONS
    assert not {"pixels_hidden", "pixels_retained", "overlay_hidden", "deid_recorded"} & PURE_ACTIONS


def test_re_registering_an_action_is_not_served_stale_verdicts(monkeypatch) -> None:
    c, o = check("tag_retained", {"value": "x"}), seen("LO", "y")
    assert evaluate(c, o).passed
    original = load_families()["tag_retained"]
    try:
        register("tag_retained")(lambda c, o: Verdict.fail("replaced"))
        assert evaluate(c, o).reason == "replaced"
    finally:
        register("tag_retained")(original)
    assert evaluate(c, o).passed


def test_unhashable_values_are_computed_not_memoised() -> None:
    c = check("text_removed", {"value": "DOE^JOHN"})
    o = Observed([Element("(0010,0010)", "PN", ["JOHN DOE"])], OutputRecord(file="a"))  # type: ignore[arg-type]
    assert evaluate(c, o) == evaluate_uncached(c, o)
    assert not evaluate(c, o).passed


def test_exceptions_still_fail_through_the_memo() -> None:
    c = check("text_cleaned", {"removed": None, "retained": []})  # iterating None raises
    v = evaluate(c, seen("LT", "x"))
    assert not v.passed and "check raised" in v.reason
    assert evaluate(c, seen("LT", "x")) == v


#: a small world of values where names, dates, numbers and free text meet
VALUES = ["DOE^JOHN", "JOHN DOE", "Doe, J", "Smith^Ann", "ANON", "", "20040119", "2004-01-19",
          "19-Jan-2004", "20031011", "1.0", "1", "01", "CHEST", "chest", "1.2.3", "2.25.99",
          "2.25.099", "Nodule in left lobe, John Doe", "nodule seen 01/19/2004", "DOE\\JOHN"]
VRS = ["PN", "LO", "LT", "DA", "DT", "DS", "CS", "UI", "UN", "SH"]
EXPECTED = [{"value": v} for v in VALUES] + [
    {"removed": ["John Doe"], "retained": ["nodule", "lobe"]},
    {"removed": ["20040119"], "retained": ["nodule"]},
    {"removed": ["John Doe", "20040119"], "retained": []},
]


def test_random_world_memo_equals_slow_path() -> None:
    """Hundreds of (action, expected, class, elements) drawn at random, in random order: the
    memo never returns another case's verdict."""
    rng = random.Random(4)
    cases = []
    for _ in range(1500):
        action = rng.choice(sorted(PURE_ACTIONS))
        expected = rng.choice(EXPECTED)
        hipaa = rng.choice(["names", "none", "dates"])
        elements = [Element(f"(0010,{rng.randrange(16):04x})", rng.choice(VRS),
                            tuple(rng.choice(VALUES) for _ in range(rng.randrange(1, 3))))
                    for _ in range(rng.randrange(0, 3))]
        cases.append((check(action, expected, hipaa_class=hipaa), Observed(elements, OutputRecord(file="f"))))
    slow = [evaluate_uncached(c, o) for c, o in cases]
    assert {v.passed for v in slow} == {True, False}
    for _ in range(2):
        order = list(range(len(cases)))
        rng.shuffle(order)
        for i in order:
            assert evaluate(cases[i][0], cases[i][1]) == slow[i], cases[i]


@pytest.mark.parametrize("action,value,leak,good", [
    ("text_removed", "DOE^JOHN", ("PN", "JOHN DOE"), ("PN", "ANON")),
    ("text_retained", "CHEST", ("CS", "HEAD"), ("CS", "chest")),
    ("text_notnull", "DOE^JOHN", ("PN", "Doe^John"), ("PN", "X^Y")),
    ("date_shifted", "20040119", ("DA", "20040119"), ("DA", "20031011")),
    ("uid_changed", "1.2.3", ("UI", "1.2.3"), ("UI", "2.25.99")),
])
def test_hand_made_leak_and_correct_output_through_the_memo(action, value, leak, good) -> None:
    """The fast path (a memo hit) fails the leak and passes the correct output, in any order."""
    c = check(action, {"value": value})
    pairs = [(c, seen(*leak)), (c, seen(*good))]
    both_orders(pairs)
    for _ in range(2):
        assert not evaluate(c, seen(*leak)).passed
        assert evaluate(c, seen(*good)).passed


def test_observed_values_are_computed_once_and_follow_elements() -> None:
    o = Observed([Element("(0010,0010)", "PN", ("A", "B")), Element("(0010,0010)", "PN", ("C",))])
    assert o.values == ["A", "B", "C"] and o.values is o.values
    assert o.shown() == "A\\B\\C" and o.vr == "PN"
    assert Observed([]).values == [] and Observed([]).vr is None
    assert Observed([]).lookup("x") is None and isinstance(Observed([]).maps, IdMaps)


def test_all_pairs_of_the_checks_suite_agree() -> None:
    """Every leak/correct pair of the checks suite, mixed together: memo == slow path."""
    from tests.test_score_checks import CASES, check as suite_check
    pairs = [(suite_check(a, e), o) for a, e, leak, good in CASES for o in (leak, good)]
    both_orders(pairs)
    for a, b in itertools.combinations(pairs[:12], 2):
        both_orders([a, b])


def test_a_full_memo_is_cleared_and_verdicts_stay_right(monkeypatch) -> None:
    monkeypatch.setattr(registry, "MEMO_SIZE", 3)
    cases = [(check("text_retained", {"value": v}, hipaa_class="none"), seen("LO", w))
             for v in ("A", "B", "C") for w in ("a", "b", "c")]
    for _ in range(3):
        for c, o in cases:
            assert evaluate(c, o) == evaluate_uncached(c, o)
            assert len(registry._MEMO) <= 3


def test_odd_shapes_fall_back_to_the_slow_path() -> None:
    """An expected that is not a dict: same verdict as the slow path (failed visibly)."""
    odd = check("text_removed", ["DOE^JOHN"])  # type: ignore[arg-type]
    v = evaluate(odd, seen("PN", "JOHN DOE"))
    assert v == evaluate_uncached(odd, seen("PN", "JOHN DOE")) and not v.passed
    assert memo_key(odd, seen("PN", "JOHN DOE")) is not None  # a list expected is still a key
