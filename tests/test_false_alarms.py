"""Scorer false alarms found by auditing real tools' scores: each test fails on the old rule.

1. a free-text fragment the key retains elsewhere (a station name under rtnDevIdOpt) is not
   required removed; 2. only dates the key expects shifted feed ``dates_intervals``;
3. planted departments are distinctive (not a tool's dummy, not a series description);
4. the leak sweep searches date-times as dates; 5. an emptied PatientID is reported as emptied;
6. ``deid_recorded`` does not demand the profile's option codes from a tool that lists its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from midib.answer_key import Check
from midib.benchmark import Benchmark
from midib.generate.identity import DEPARTMENTS, make_institution
from midib.keys.derive import derive_checks, derive_key_file, expects_shift
from midib.keys.profile import load_profile
from midib.ledger import LedgerEntry, read_ledger, write_ledger
from midib.score.checks import IdMaps, Observed, evaluate
from midib.score.dates import shift_rows, shifts_by_patient
from midib.score.deid import deid_verdict
from midib.score.inputs import ledger_facts
from midib.score.observation import Element, OutputRecord
from midib.score.sweep import Sweeper, build_sweeper, scan_file_name
from midib.score.uids import concrete_key

MIDI_B = load_profile("midi-b")
BASIC = load_profile("basic")
_n = iter(range(100_000))


def entry(path: str | None, value: str, *, role: str = "phi", channel: str = "attribute",
          kind: str = "x", phi_class: str = "other", patient: str = "PID1",
          instance: str = "1.2.3.1", vr: str | None = None, **kw) -> LedgerEntry:
    return LedgerEntry(id=f"e{next(_n)}", role=role, channel=channel, kind=kind,
                       phi_class=phi_class, instance=instance, file="p/s/1.dcm",
                       patient_id=patient, study_uid="1.2.3", series_uid="1.2.3.4", modality="CT",
                       sop_class_uid="1.2.840.10008.5.1.4.1.1.2", path=path, value=value, vr=vr, **kw)


def actions(entries: list[LedgerEntry], profile) -> list[tuple[str, str]]:
    return [(c.action, c.tag_name) for c in derive_checks(entries, profile)
            if c.action != "deid_recorded"]


# ---- 1. a value the key retains is not required removed from free text ----------------------

def station_in_protocol(patient: str = "PID1") -> list[LedgerEntry]:
    station = entry("(0008,1010)", "CT19OC2", kind="station_name", phi_class="device",
                    patient=patient)
    fragment = entry("(0018,1030)", "CT19OC2", channel="free_text", kind="station_name",
                     phi_class="device", patient=patient, context="Chest Routine CT19OC2")
    return [station, fragment]


def test_fragment_retained_elsewhere_is_not_required_cleaned() -> None:
    assert actions(station_in_protocol(), MIDI_B) == [("text_retained", "StationName")]


def test_fragment_still_cleaned_when_the_profile_removes_the_value() -> None:
    # Basic profile: StationName removed, so the station name in ProtocolName is PHI too
    assert ("text_removed", "ProtocolName") in actions(station_in_protocol(), BASIC)


def test_fragment_kept_only_for_the_same_patient() -> None:
    station, _ = station_in_protocol("PID1")
    _, fragment = station_in_protocol("PID2")
    assert ("text_cleaned", "ProtocolName") in actions([station, fragment], MIDI_B)


def test_fragment_rule_does_not_depend_on_ledger_order_or_case(tmp_path: Path) -> None:
    station, fragment = station_in_protocol()
    fragment.value, fragment.context = "ct19oc2", "Chest Routine ct19oc2"
    ledger = tmp_path / "ledger.jsonl"
    write_ledger(ledger, [fragment, station])
    assert [c.action for c in derive_key_file(ledger, MIDI_B)
            if c.action != "deid_recorded"] == ["text_retained"]


def test_mini_key_never_requires_removing_a_value_it_retains(mini_bench: Path) -> None:
    bench = Benchmark(mini_bench)
    kept: set[tuple[str, str]] = set()
    removals: list[Check] = []
    for c in derive_key_file(bench.ledger_path, MIDI_B):
        if c.action in ("text_retained", "tag_retained"):
            kept.add((c.patient_id, str(c.expected["value"]).lower()))
        elif c.action == "text_cleaned":
            removals.append(c)
    clash = [c.id for c in removals
             if any((c.patient_id, str(r).lower()) in kept for r in c.expected["removed"])]
    assert not clash, clash[:5]


# ---- 2. dates_intervals: only dates the key expects shifted --------------------------------

def tiny_bench(root: Path, entries: list[LedgerEntry]) -> Benchmark:
    bench = Benchmark(root)
    bench.key_dir.mkdir(parents=True)
    write_ledger(bench.ledger_path, entries)
    bench.profile_path.write_text(json.dumps(MIDI_B.to_dict()), encoding="utf-8")
    return bench


def test_birth_date_does_not_feed_the_intervals(tmp_path: Path) -> None:
    study = entry("(0008,0020)", "20150530", kind="study_date", phi_class="dates", vr="DA")
    acq = entry("(0008,002a)", "20150530101010", kind="acquisition_datetime", phi_class="dates",
                vr="DT")
    birth = entry("(0010,0030)", "19600101", kind="birth_date", phi_class="dates", vr="DA")
    assert (expects_shift(study, MIDI_B), expects_shift(birth, MIDI_B)) == (True, False)
    facts = ledger_facts(tiny_bench(tmp_path / "b", [study, acq, birth]), Sweeper())
    assert sorted(k for k, _, _ in facts.dates["1.2.3.1"]) == ["(0008,0020)", "(0008,002a)"]
    # a tool that shifts the study dates by -100 days and writes a dummy birth date passes
    out = OutputRecord(file="a.dcm", elements={
        "(0008,0020)": [Element("(0008,0020)", "DA", ("20150219",))],
        "(0008,002a)": [Element("(0008,002a)", "DT", ("20150219101010",))],
        "(0010,0030)": [Element("(0010,0030)", "DA", ("19000101",))]})
    shifts = shifts_by_patient({"1.2.3.1": out}, facts.dates)
    (row,) = shift_rows(shifts, {})
    assert row["passed"], row["reason"]


def test_dates_of_the_mini_benchmark_are_the_shifted_ones(mini_bench: Path) -> None:
    facts = ledger_facts(Benchmark(mini_bench), Sweeper())
    keys = {k for dates in facts.dates.values() for k, _, _ in dates}
    assert concrete_key("(0008,0020)") in keys
    assert concrete_key("(0010,0030)") not in keys


# ---- 3. departments are distinctive -------------------------------------------------------

def test_planted_departments_are_not_bare_services() -> None:
    bare = {d.lower() for d in DEPARTMENTS} | {"radiology", "imaging", "anonymized"}
    for site in range(40):
        dept = make_institution(0, site, 1).department
        assert dept.lower() not in bare and len(dept.split()) >= 3 and len(dept) <= 64, dept


def test_dummy_department_and_report_folder_are_no_leak(mini_bench: Path) -> None:
    bench = Benchmark(mini_bench)
    depts = [e for e in read_ledger(bench.ledger_path) if e.kind == "department"]
    assert depts
    removed = Check(id="d", instance="i", file="a.dcm", patient_id="P", study_uid="",
                    series_uid="", modality="CT", scope="instance", action="text_removed",
                    path="(0008,1040)", tag_name="InstitutionalDepartmentName",
                    expected={"value": ""})
    for e in depts:
        removed.expected = {"value": e.value}
        dummy = Observed([Element("(0008,1040)", "LO", ("RADIOLOGY",))], OutputRecord(file="a.dcm"))
        assert evaluate(removed, dummy).passed, e.value
    sweeper = build_sweeper(depts, [])
    for folder in ("Radiology Report", "Nuclear Medicine", "Breast Imaging"):
        rel = f"MRN1/05-30-2015-CT CHEST-22752/3.000000-{folder}-11/1-1.dcm"
        assert not scan_file_name(sweeper, rel), rel


# ---- 4. the sweep searches date-times as dates, not times ---------------------------------

def test_date_times_are_swept_as_dates_times_are_not() -> None:
    ledger = [entry("(0018,a002)", "20150530101010", kind="contribution_date_time", vr="DT",
                    phi_class="dates"),
              entry("(0008,002a)", "20140102030405", kind="acquisition_datetime", vr="DT",
                    phi_class="dates"),
              entry("(0018,1078)", "20130405091500", kind="radiopharmaceutical_start_date_time",
                    vr="DT", phi_class="dates"),
              entry("(0008,0030)", "101512", kind="study_time", vr="TM", phi_class="dates")]
    sweeper = build_sweeper(ledger, [])
    found = {sweeper.needle(n).whole for text in ("seen 05/30/2015", "2014-01-02", "20130405")
             for n, _ in sweeper(text, "LT", "(0020,4000)")}
    assert found == {"20150530101010", "20140102030405", "20130405091500"}
    assert not sweeper("101512", "LT", "(0020,4000)")


# ---- 5. an emptied PatientID says so ------------------------------------------------------

def test_emptied_patient_id_fails_saying_it_was_emptied() -> None:
    c = Check(id="p", instance="i", file="a.dcm", patient_id="P", study_uid="", series_uid="",
              modality="CT", scope="patient", action="patid_consistent", path="(0010,0020)",
              tag_name="PatientID", expected={"value": "MRN56576718"})
    v = evaluate(c, Observed([Element("(0010,0020)", "LO", ("",))], OutputRecord(file="a.dcm"),
                             maps=IdMaps()))
    assert not v.passed
    assert "emptied" in v.reason and "not mapped" not in v.reason


# ---- 6. deid_recorded: YES and a method, codes as the tool used them ----------------------

def deid_record(removed: str = "YES", method: str = "", codes: tuple[str, ...] = ()) -> OutputRecord:
    elements = {"(0012,0062)": [Element("(0012,0062)", "CS", (removed,))]}
    if method:
        elements["(0012,0063)"] = [Element("(0012,0063)", "LO", (method,))]
    if codes:
        elements["(0012,0064)[*](0008,0100)"] = [
            Element(f"(0012,0064)[{i}](0008,0100)", "SH", (v,)) for i, v in enumerate(codes)]
    return OutputRecord(file="a.dcm", elements=elements)


def test_accurate_codes_pass_like_no_codes() -> None:
    options = list(MIDI_B.options)
    pixelmed = deid_record(method="Deidentified", codes=("113100", "113101", "113108", "113109"))
    assert deid_verdict(pixelmed, options).passed
    assert deid_verdict(deid_record(method="DICOGNITO"), options).passed
    assert deid_verdict(deid_record(codes=("113100",)), options).passed   # codes alone: PS3.3 1C


def test_deid_recorded_still_needs_yes_and_a_method() -> None:
    options = list(MIDI_B.options)
    no_method = deid_verdict(deid_record(), options)
    assert not no_method.passed and no_method.score == 0.5
    not_yes = deid_verdict(deid_record("NO", method="x", codes=("113100",)), options)
    assert not not_yes.passed and "YES" in not_yes.reason
