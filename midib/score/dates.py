"""Dates across a patient: a shift must move all of a patient's dates by the same amount.

Retain Longitudinal Temporal Information with Modified Dates (PS3.15 E.3.6) allows shifting
dates only if the intervals between them survive: a follow-up 30 days after baseline must stay
30 days after. The key's date_interval checks compare each date with the patient's first
study; this rule looks at every planted date of the patient at once (one row per patient) and
fails when the shifts differ, naming them.

Only the dates the key expects shifted take part (:func:`midib.score.inputs.ledger_facts`
collects them with :func:`midib.keys.derive.expects_shift`): a date the profile removes or
empties, such as PatientBirthDate, may be replaced by any dummy, and the distance between that
dummy and the original is no shift at all.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

from midib.answer_key import Check
from midib.keys.derive import STUDY_DATE, STUDY_TIME
from midib.score.observation import OutputRecord
from midib.score.rows import rule_row
from midib.score.uids import value_at
from midib.score.values import dicom_date, dicom_moment, whole_days_around
from midib.score.verdict import Verdict

PlantedDates = dict[str, list[tuple[str, str, str]]]   # instance -> [(path key, old, patient)]


Offsets = dict[str, set[int]]   # patient -> date-and-time shifts of its studies, in seconds


def shifts_by_patient(pairs: Union[Mapping[str, OutputRecord], Iterable[tuple[str, OutputRecord]]],
                      dates: Mapping[str, list[tuple[str, str, str]]],
                      study_times: Optional[Mapping[str, str]] = None,
                      offsets: Optional[Offsets] = None) -> dict[str, dict[int, int]]:
    """patient -> {shift in days: how many dates moved by it} (removed dates ignored); the
    pairs as instance -> record, or a stream of them. With the planted StudyTimes
    (instance -> time), ``offsets`` is filled with each study's date-and-time shift."""
    shifts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for inst, rec in (pairs.items() if isinstance(pairs, Mapping) else pairs):
        for key, old, patient in dates.get(inst, []):
            new = value_at(rec, key)
            a, b = dicom_date(old), dicom_date(new) if new else None
            if a is not None and b is not None:
                shifts[patient][(b - a).days] += 1
                if offsets is not None and key == STUDY_DATE and study_times and inst in study_times:
                    before = dicom_moment(old, study_times[inst])
                    after = dicom_moment(new or "", value_at(rec, STUDY_TIME) or "")
                    if before is not None and after is not None:
                        offsets.setdefault(patient, set()).add(round((after - before).total_seconds()))
    return shifts


def date_rows(pairs: dict[str, OutputRecord], dates: PlantedDates,
              first_check_of_patient: dict[str, Check],
              study_times: Optional[Mapping[str, str]] = None) -> list[dict[str, Any]]:
    """One row per patient with dates seen: pass when every date moved by the same shift."""
    offsets: Offsets = {}
    return shift_rows(shifts_by_patient(pairs, dates, study_times, offsets), first_check_of_patient,
                      offsets)


def shift_rows(shifts: dict[str, dict[int, int]], first_check_of_patient: dict[str, Check],
               offsets: Optional[Offsets] = None) -> list[dict[str, Any]]:
    """:func:`date_rows` from the shifts already counted (the scorer counts them right after
    matching, so the matched records need not keep every date until the end).

    Two neighbouring day shifts are one shift when the patient's studies all moved by one
    date-and-time offset of days and hours (``offsets``, from the planted StudyTimes): such an
    offset moves the dates whose time is past the hours by one day less (dicognito does this)."""
    rows = []
    for patient, counts in sorted(shifts.items()):
        shown = ", ".join(f"{d:+d} days x{n}" for d, n in sorted(counts.items()))
        one = (offsets or {}).get(patient)
        if len(counts) > 1 and one and max(one) - min(one) <= 1 and \
                set(counts) <= whole_days_around(dt.timedelta(seconds=min(one))):
            verdict = Verdict(True, 1.0, shown, f"one date-and-time offset of {min(one) / 86400:+.3f} "
                                                "days moves some dates across midnight")
        elif len(counts) <= 1:
            verdict = Verdict.ok(shown)
        else:
            verdict = Verdict.fail(f"dates of one patient shifted by {len(counts)} different amounts",
                                   shown)
        like = first_check_of_patient.get(patient)
        row = rule_row("dates", f"dates/{patient}", "dates_intervals", verdict, like=like,
                       category="best_practice", scope="patient")
        row["instance"], row["patient_id"] = "", patient
        rows.append(row)
    return rows
