"""Each check kind: a hand-made leak it must catch, a correct de-identification it must pass."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from midib.answer_key import Check
from midib.score.checks import IdMaps, Observed, evaluate, load_families, register
from midib.score.observation import Element, OutputRecord
from midib.score.verdict import Verdict


def check(action: str, expected: dict[str, Any], path: Optional[str] = "(0010,0010)",
          hipaa_class: str = "names") -> Check:
    return Check(id=f"x/{action}", instance="1.2.3", file="a.dcm", patient_id="P",
                 study_uid="1.2", series_uid="1.2.1", modality="CT", scope="instance",
                 action=action, path=path, tag_name="", expected=expected, hipaa_class=hipaa_class)


def seen(vr: str, *values: str, path: str = "(0010,0010)", maps: IdMaps | None = None,
         record: OutputRecord | None = None) -> Observed:
    rec = record or OutputRecord(file="out/a.dcm")
    return Observed([Element(path, vr, tuple(values))] if values else [], rec, maps or IdMaps())


CASES = [
    # action, expected, observed(leak), observed(correct)
    ("text_removed", {"value": "DOE^JOHN"}, seen("PN", "JOHN DOE"), seen("PN", "ANON")),
    ("text_removed", {"value": "DOE^JOHN"}, seen("PN", "DOE, J"), seen("PN")),
    ("text_retained", {"value": "CHEST"}, seen("CS"), seen("CS", "chest")),
    ("tag_retained", {"value": "x"}, seen("LO"), seen("LO", "")),
    ("text_notnull", {"value": "DOE^JOHN"}, seen("PN", ""), seen("PN", "ANON^PATIENT")),
    ("text_notnull", {"value": "DOE^JOHN"}, seen("PN", "Doe^John"), seen("PN", "X^Y")),
    ("date_shifted", {"value": "20040119"}, seen("DA", "20040119"), seen("DA", "20031011")),
    ("date_shifted", {"value": "20040119"}, seen("DA", "2003-10-11"), seen("DA", "20031011")),
    ("date_shifted", {"value": "20040119"}, seen("DA"), seen("DA", "20031011")),
    ("uid_changed", {"value": "1.2.3"}, seen("UI", "1.2.3"), seen("UI", "2.25.99")),
    ("uid_changed", {"value": "1.2.3"}, seen("UI", "2.25.099"), seen("UI", "2.25.99")),
    ("uid_consistent", {"value": "1.2.3"},
     seen("UI", "2.25.7", maps=IdMaps(uid={"1.2.3": {"2.25.7", "2.25.8"}})),
     seen("UI", "2.25.7", maps=IdMaps(uid={"1.2.3": {"2.25.7"}}))),
    ("patid_consistent", {"value": "MRN1"},
     seen("LO", "Q2", maps=IdMaps(patid={"MRN1": {"Q1"}})),
     seen("LO", "Q1", maps=IdMaps(patid={"MRN1": {"Q1"}}))),
    # the identity mapping is "consistent" but replaces nothing: a leak, not a pass
    ("patid_consistent", {"value": "MRN1"},
     seen("LO", "MRN1", maps=IdMaps(patid={"MRN1": {"MRN1"}})),
     seen("LO", "Q1", maps=IdMaps(patid={"MRN1": {"Q1"}}))),
    ("uid_consistent", {"value": "1.2.3"},
     seen("UI", "1.2.3", maps=IdMaps(uid={"1.2.3": {"1.2.3"}})),
     seen("UI", "2.25.7", maps=IdMaps(uid={"1.2.3": {"2.25.7"}}))),
    ("uid_reference", {"value": "1.2.3"},
     seen("UI", "1.2.3", maps=IdMaps(primary={"1.2.3": {"2.25.7"}})),
     seen("UI", "2.25.7", maps=IdMaps(primary={"1.2.3": {"2.25.7"}}))),
    ("text_cleaned", {"removed": ["John Doe"], "retained": ["nodule", "lobe"]},
     seen("LT", "Nodule in left lobe, patient Doe, John"), seen("LT", "Nodule in left lobe, patient [X]")),
    ("text_cleaned", {"removed": ["20040119"], "retained": ["nodule"]},
     seen("LT", "nodule seen 01/19/2004"), seen("LT", "nodule seen [date]")),
]


@pytest.mark.parametrize("action,expected,leak,good", CASES)
def test_check_catches_leak_and_passes_correct_output(action, expected, leak, good) -> None:
    c = check(action, expected)
    bad = evaluate(c, leak)
    assert not bad.passed and bad.reason and bad.score < 1
    assert evaluate(c, good).passed, evaluate(c, good).reason


def test_every_action_has_a_registered_check() -> None:
    from midib.answer_key import ACTIONS
    assert set(ACTIONS) <= set(load_families())


def test_exception_inside_a_check_fails_with_the_error() -> None:
    @register("boom_test")
    def boom(c: Check, o: Observed) -> Verdict:
        raise ZeroDivisionError("division by zero")
    v = evaluate(check("boom_test", {}), seen("PN", "x"))
    assert not v.passed and "ZeroDivisionError" in v.reason


def test_unknown_action_fails() -> None:
    v = evaluate(check("no_such_action", {}), seen("PN", "x"))
    assert not v.passed and "unknown action" in v.reason


def test_filename_check_reads_the_output_path() -> None:
    c = check("text_removed", {"value": "DOE^JOHN", "where": "filename"}, path=None)
    leak = Observed([], OutputRecord(file="DOE_JOHN/1.dcm"))
    assert not evaluate(c, leak).passed
    assert evaluate(c, Observed([], OutputRecord(file="P001/1.dcm"))).passed


def test_deid_recorded_requires_flag_method_and_codes() -> None:
    c = check("deid_recorded", {"options": ["rtnLongModifDatesOpt"]}, path="(0012,0062)")
    rec = OutputRecord(file="a.dcm")
    assert not evaluate(c, Observed([], rec)).passed
    rec.elements = {"(0012,0062)": [Element("(0012,0062)", "CS", ("YES",))],
                    "(0012,0063)": [Element("(0012,0063)", "LO", ("midib oracle",))],
                    "(0012,0064)[*](0008,0100)": [Element("(0012,0064)[0](0008,0100)", "SH", ("113100",)),
                                                  Element("(0012,0064)[1](0008,0100)", "SH", ("113107",))]}
    assert evaluate(c, Observed([], rec)).passed
    # codes list what was done, not the profile's options: one not listed is not a failure
    # here (a code claiming what was not done fails deid_truthful instead)
    c2 = check("deid_recorded", {"options": ["rtnLongModifDatesOpt", "cleanDescOpt"]}, path="(0012,0062)")
    assert evaluate(c2, Observed([], rec)).passed
    del rec.elements["(0012,0063)"], rec.elements["(0012,0064)[*](0008,0100)"]
    v = evaluate(c2, Observed([], rec))
    assert not v.passed and v.score == 0.5


def test_date_interval_uses_reference_instance() -> None:
    ref = OutputRecord(file="b.dcm", elements={"(0008,0020)": [Element("(0008,0020)", "DA", ("20031001",))]})
    c = check("date_interval", {"value": "20040201", "reference": "20040101",
                                "reference_path": "(0008,0020)", "reference_instance": "9.9"},
              path="(0008,0020)")
    ok = Observed([Element("(0008,0020)", "DA", ("20031101",))], OutputRecord(file="a.dcm"),
                  lookup={"9.9": ref}.get)
    assert evaluate(c, ok).passed
    bad = Observed([Element("(0008,0020)", "DA", ("20031102",))], OutputRecord(file="a.dcm"),
                   lookup={"9.9": ref}.get)
    assert "interval changed" in evaluate(c, bad).reason


def test_date_interval_says_whether_a_date_is_empty_or_invalid() -> None:
    """An emptied date (Orthanc's Z) is missing, not "not a valid date"; a broken one is shown."""
    ref = OutputRecord(file="b.dcm", elements={"(0008,0020)": [Element("(0008,0020)", "DA", ("20031001",))]})
    c = check("date_interval", {"value": "20040201", "reference": "20040101",
                                "reference_path": "(0008,0020)", "reference_instance": "9.9"},
              path="(0008,0020)")
    reasons = {v: evaluate(c, Observed([Element("(0008,0020)", "DA", (v,))], OutputRecord(file="a.dcm"),
                                       lookup={"9.9": ref}.get)).reason for v in ("", "  ", "2003-13-45")}
    assert reasons[""] == reasons["  "] == "date missing or empty"
    assert reasons["2003-13-45"] == "date not a valid date: '2003-13-45'"
    gone = OutputRecord(file="b.dcm", elements={"(0008,0020)": [Element("(0008,0020)", "DA", ("",))]})
    v = evaluate(c, Observed([Element("(0008,0020)", "DA", ("20031101",))], OutputRecord(file="a.dcm"),
                             lookup={"9.9": gone}.get))
    assert not v.passed and v.reason == "reference date missing or empty"


def test_pixel_checks_never_pass_without_a_computed_verdict() -> None:
    c = check("pixels_hidden", {"text": "DOE", "box": [0, 0, 5, 5], "frame": 0})
    assert not evaluate(c, seen("OW")).passed


def test_a_uid_gone_with_a_sequence_the_profile_lets_go_passes() -> None:
    """Source Image Sequence is X/Z/U* in PS3.15 E.1-1: a SEG without it lost its references
    as the profile allows. The instance's own UID (U) removed still fails, and so does a
    reference kept unchanged; the memo (paths are not in its key) never mixes the two."""
    from midib.score.checks import memo_key
    old = "1.2.826.0.1.9.1"
    maps = IdMaps(uid={old: ("2.25.1",)}, primary={old: ("2.25.1",)})
    source_image = "(0008,2112)[0](0008,1155)"
    for action in ("uid_changed", "uid_consistent", "uid_reference"):
        gone = evaluate(check(action, {"value": old}, path=source_image), Observed([], OutputRecord(file="a"), maps))
        assert gone.passed and "Source Image Sequence" in gone.observed, (action, gone)
        own = evaluate(check(action, {"value": old}, path="(0008,0018)"), Observed([], OutputRecord(file="a"), maps))
        assert not own.passed, action
    kept = Observed([Element(source_image, "UI", (old,))], OutputRecord(file="a"), maps)
    assert not evaluate(check("uid_changed", {"value": old}, path=source_image), kept).passed
    assert memo_key(check("uid_changed", {"value": old}, path=source_image), Observed([])) is None
    assert memo_key(check("uid_changed", {"value": old}, path="(0008,0018)"), Observed([])) is not None


def _interval(date_out: str, ref_date_out: str, ref_time_out: str | None, planted_ref_time: str | None):
    """The date_interval verdict for a date planted 20040201 against a study planted
    20040101 at 16:00 (when ``planted_ref_time``), as a tool wrote them."""
    ref_elems = {"(0008,0020)": [Element("(0008,0020)", "DA", (ref_date_out,))]}
    if ref_time_out is not None:
        ref_elems["(0008,0030)"] = [Element("(0008,0030)", "TM", (ref_time_out,))]
    expected = {"value": "20040201", "reference": "20040101", "reference_path": "(0008,0020)",
                "reference_instance": "9.9"}
    if planted_ref_time:
        expected.update(reference_time=planted_ref_time, reference_time_path="(0008,0030)")
    c = check("date_interval", expected, path="(0008,0012)")
    return evaluate(c, Observed([Element("(0008,0012)", "DA", (date_out,))], OutputRecord(file="a.dcm"),
                                lookup={"9.9": OutputRecord(file="b.dcm", elements=ref_elems)}.get))


def test_a_date_and_time_offset_that_crosses_midnight_keeps_the_interval() -> None:
    """dicognito moves dates and times together (-10 days 4 hours here): the study at 16:00
    lands on day -10 at 12:00, a date without a time (midnight) on day -11 at 20:00."""
    v = _interval("20040121", "20031222", "120000", "160000")
    assert v.passed and "across midnight" in v.reason
    assert _interval("20040122", "20031222", "120000", "160000").passed      # day -10: also one offset
    bad = _interval("20040120", "20031222", "120000", "160000")              # day -12: no offset gives it
    assert not bad.passed and "interval changed" in bad.reason


def test_without_the_times_a_one_day_difference_still_fails() -> None:
    assert not _interval("20040121", "20031222", None, "160000").passed      # the tool removed StudyTime
    assert not _interval("20040121", "20031222", "120000", None).passed      # a key without the time
    assert not _interval("20040121", "20031222", "160000", "160000").passed  # a whole-day shift


def test_the_patient_rule_takes_two_neighbouring_shifts_of_one_offset_only() -> None:
    from midib.score.dates import shift_rows
    counts = {"P1": {-10: 5, -11: 2}}
    offset = {"P1": {round(-10.25 * 86400)}}
    assert shift_rows(counts, {}, offset)[0]["passed"]
    assert not shift_rows(counts, {}, None)[0]["passed"]                              # no times known
    assert not shift_rows(counts, {}, {"P1": {-10 * 86400}})[0]["passed"]             # whole days
    assert not shift_rows(counts, {}, {"P1": {round(-10.25 * 86400), -3 * 86400}})[0]["passed"]
    assert not shift_rows({"P1": {-10: 5, -13: 1}}, {}, offset)[0]["passed"]
