"""Checks on dates: shifted (present, valid, different) and intervals kept between dates."""

from __future__ import annotations

import datetime as dt

from midib.answer_key import Check
from midib.score.checks import Observed, register
from midib.score.observation import generic_key
from midib.score.values import TM_VALUE, dates_in, dicom_date, dicom_moment, whole_days_around
from midib.score.verdict import Verdict



def valid_temporal(vr: str | None, value: str) -> bool:
    """True if ``value`` is a valid DA, DT or TM value (DICOM's own syntax)."""
    value = value.strip()
    if vr == "TM":
        return bool(TM_VALUE.match(value))
    if vr == "DT":
        time_part = value[8:].split("+")[0].split("-")[0]
        return dicom_date(value) is not None and (len(value) == 8 or bool(TM_VALUE.match(time_part)))
    return len(value) == 8 and dicom_date(value) is not None


@register("date_shifted")
def date_shifted(check: Check, observed: Observed) -> Verdict:
    """A date that must still be there (longitudinal studies need it), valid, and moved."""
    original = str(check.expected.get("value", "")).strip()
    values = [v for v in observed.values if v.strip()]
    if not values:
        return Verdict.fail("date removed or empty; it should be shifted", observed.shown())
    vr = observed.vr
    bad = [v for v in values if not valid_temporal(vr, v)]
    if bad:
        return Verdict.fail(f"not a valid {vr or 'date'}: {bad[0]!r}", observed.shown())
    old_date = dicom_date(original)
    for v in values:
        if v.strip() == original or (vr != "TM" and old_date is not None and old_date in dates_in(v)):
            return Verdict.fail(f"date not shifted: still {original!r}", observed.shown())
    return Verdict.ok(observed.shown())


def _shift(original: str, observed: str) -> dt.timedelta | None:
    a, b = dicom_date(original), dicom_date(observed)
    return None if a is None or b is None else b - a


@register("date_interval")
def date_interval(check: Check, observed: Observed) -> Verdict:
    """This date moved by the same amount as its reference date (intervals kept)."""
    exp = check.expected
    if observed.record is None:
        return Verdict.fail("no output matched")
    ref_record = observed.record
    if exp.get("reference_instance"):
        ref_record = observed.lookup(str(exp["reference_instance"]))
    if ref_record is None:
        return Verdict.fail("the reference date's instance has no matched output")
    reference = ref_record.at(generic_key(exp["reference_path"]))
    mine_text = observed.values[0].strip() if observed.values else ""
    theirs_text = reference[0].values[0].strip() if reference and reference[0].values else ""
    if not mine_text or not theirs_text:   # removed or emptied (an empty DA is no invalid date)
        which = "date and its reference date" if not (mine_text or theirs_text) else \
            "date" if not mine_text else "reference date"
        return Verdict.fail(f"{which} missing or empty", observed.shown())
    mine = _shift(str(exp.get("value", "")), mine_text)
    theirs = _shift(str(exp.get("reference", "")), theirs_text)
    if mine is None or theirs is None:
        which = "date" if mine is None else "reference date"
        return Verdict.fail(f"{which} not a valid date: "
                            f"{mine_text if mine is None else theirs_text!r}", observed.shown())
    if mine != theirs:
        offset = _reference_offset(exp, ref_record, theirs_text)
        if offset is not None and mine.days in whole_days_around(offset):
            return Verdict(True, 1.0, observed.shown(),
                           f"shifted by {mine.days} days, reference by {theirs.days}: one offset "
                           f"of {_offset_text(offset)} (days and hours) moves a date across midnight")
        return Verdict.fail(f"interval changed: shifted by {mine.days} days, reference by "
                            f"{theirs.days} days", observed.shown())
    return Verdict.ok(observed.shown())


def _reference_offset(exp: dict, ref_record, ref_date_out: str) -> dt.timedelta | None:
    """How far the tool moved the reference study's date and time together, when the key knows
    the planted StudyTime and the output still has one; None otherwise."""
    planted = str(exp.get("reference_time") or "")
    path = exp.get("reference_time_path")
    if not planted or not path:
        return None
    found = ref_record.at(generic_key(path))
    out_time = found[0].values[0] if found and found[0].values else ""
    before = dicom_moment(str(exp.get("reference", "")), planted)
    after = dicom_moment(ref_date_out, out_time)
    return None if before is None or after is None else after - before


def _offset_text(offset: dt.timedelta) -> str:
    sign = "-" if offset < dt.timedelta(0) else "+"
    total = abs(offset)
    return f"{sign}{total.days} d {total.seconds // 3600} h {total.seconds % 3600 // 60} min"
