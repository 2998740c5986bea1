"""The official MIDI-B aggregate on hand-made results, figures computed by hand."""

from __future__ import annotations

import math

import pandas as pd

from midib.keys.midi_b import midi_b_score


def row(action, passed, *, path="(0010,0010)", source="key", series="S1", instance="I1",
        expected='{"value": "DOE"}', observed=""):
    return {"check_id": f"{action}-{instance}-{path}", "source": source, "instance": instance,
            "patient_id": "P1", "study_uid": "ST1", "series_uid": series, "modality": "CT",
            "action": action, "path": path, "tag_name": "PatientName", "category": "hipaa",
            "passed": passed, "score": float(passed) if passed is not None else math.nan,
            "expected": expected, "observed": observed, "reason": ""}


RESULTS = pd.DataFrame([
    row("text_removed", True, instance="I1"),
    row("text_removed", True, instance="I2"),                     # same finding, other instance
    row("text_removed", False, path="(0010,1001)", observed="DOE"),
    row("pixels_hidden", None, path="(7fe0,0010)"),                 # blank: undecided
    row("text_cleaned", True, path="(0008,1030)"),                  # counted as text_removed
    row("deid_recorded", False, path="(0012,0062)"),                # midib-only action: left out
    row("text_removed", False, source="sweep", path="(0009,1010)"),  # leak sweep: left out
    row("text_removed", False, path=None),                          # file name: left out
])


def test_instance_mode_is_passed_over_passed_failed_blank():
    s = midi_b_score(RESULTS, series_mode=False)
    assert (s["passed"], s["failed"], s["blank"], s["total"]) == (3, 1, 1, 5)
    assert s["percent"] == 60.0 and s["series_mode"] is False


def test_series_mode_counts_identical_findings_once():
    s = midi_b_score(RESULTS, series_mode=True)
    assert (s["passed"], s["failed"], s["blank"], s["total"]) == (2, 1, 1, 4)
    assert s["percent"] == 50.0


def test_series_mode_keeps_failures_when_deduplicating_on_fewer_columns():
    df = pd.DataFrame([row("uid_changed", True, instance="I1", observed="9.1"),
                       row("uid_changed", False, instance="I2", observed="1.2"),
                       row("uid_changed", True, instance="I3", series="S2")])
    official = midi_b_score(df, series_mode=True)  # observed values differ: nothing merged
    assert (official["passed"], official["failed"]) == (2, 1)
    coarse = midi_b_score(df, series_mode=True,
                          columns=("action", "path", "patient_id", "study_uid", "series_uid"))
    assert (coarse["passed"], coarse["failed"], coarse["total"]) == (1, 1, 2)


def test_empty_results_have_no_percent():
    s = midi_b_score(pd.DataFrame([row("deid_recorded", True)]), series_mode=False)
    assert s["total"] == 0 and s["percent"] is None
