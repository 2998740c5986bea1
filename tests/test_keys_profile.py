"""Profiles and the PS3.15 table: names, files, errors, option columns applied."""

from __future__ import annotations

import json

import pytest

from midib.errors import MidibError
from midib.keys.profile import Profile, load_profile, profile_names
from midib.keys.ps315 import action_for, attribute_name, table, table_key


def test_builtin_profiles_are_listed_and_default_is_midi_b():
    assert {"midi-b", "basic"} <= set(profile_names())
    p = load_profile()
    assert p.name == "midi-b"
    assert p.has("cleanPixelData") and p.has("rtnLongModifDatesOpt")
    assert load_profile("basic").options == ()


def test_unknown_profile_lists_valid_names():
    with pytest.raises(MidibError, match=r"unknown profile 'hospital'.*basic, midi-b"):
        load_profile("hospital")


def test_custom_profile_file_needs_no_code(tmp_path):
    f = tmp_path / "site.json"
    f.write_text(json.dumps({"name": "site", "options": ["rtnDevIdOpt"],
                             "overrides": {"(0008,0080)": "K"}}))
    p = load_profile(str(f))
    assert p.name == "site" and p.options == ("rtnDevIdOpt",)
    assert action_for("(0008,0080)", p) == ("K", "override")
    assert action_for("(0018,1000)", p) == ("K", "rtnDevIdOpt")
    assert action_for("(0010,0040)", p) == ("Z", None)
    assert Profile.from_dict(p.to_dict(), "x") == p


@pytest.mark.parametrize("data, message", [
    ({"name": "x", "options": ["rtnEverything"]}, "unknown option"),
    ({"name": "x", "overrides": {"PatientName": "K"}}, "not a tag"),
    ({"name": "x", "overrides": {"(0010,0010)": "KEEP"}}, "valid codes"),
    (["not", "an", "object"], "JSON object"),
])
def test_bad_profile_files_are_one_line_errors(tmp_path, data, message):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    with pytest.raises(MidibError, match=message):
        load_profile(str(f))


def test_missing_or_corrupt_profile_file(tmp_path):
    with pytest.raises(MidibError, match="not found"):
        load_profile(str(tmp_path / "none.json"))
    bad = tmp_path / "corrupt.json"
    bad.write_text("{")
    with pytest.raises(MidibError, match="cannot read profile"):
        load_profile(str(bad))


def test_table_has_newer_basic_actions_and_2020_option_columns():
    t = table()
    assert len(t["attributes"]) > 600
    row = t["attributes"]["(0008,0020)"]
    assert row["basic"] == "Z" and row["options"]["rtnLongModifDatesOpt"] == "C"
    assert t["private"] == {"basic": "X", "options": {"rtnSafePrivOpt": "C"}}
    assert attribute_name("(0010,0010)") == "Patient's Name"


@pytest.mark.parametrize("tag, midi_b, basic", [
    ("(0010,0040)", ("K", "rtnPatCharsOpt"), ("Z", None)),      # patient characteristics
    ("(0008,0020)", ("C", "rtnLongModifDatesOpt"), ("Z", None)),  # dates shifted
    ("(0018,1000)", ("K", "rtnDevIdOpt"), ("X/Z/D", None)),       # device identity
    ("(0008,1030)", ("C", "cleanDescOpt"), ("X", None)),          # descriptors cleaned
    ("(0040,a730)", ("C", "cleanStructContOpt"), ("D", None)),    # SR content
    ("(6002,3000)", ("C", "cleanGraphOpt"), ("X", None)),         # repeating overlay group
    ('(0019,"ACME",10)', ("C", "rtnSafePrivOpt"), ("X", None)),   # private
    ("(0020,000d)", ("U", None), ("U", None)),
    ("(0028,0010)", ("K", None), ("K", None)),                    # unlisted: kept
])
def test_action_for_applies_option_columns(tag, midi_b, basic):
    assert action_for(tag, load_profile("midi-b")) == midi_b
    assert action_for(tag, load_profile("basic")) == basic


def test_table_key_forms():
    assert table_key(0x00100010) == "(0010,0010)"
    assert table_key("(601e,4000)") == "(60xx,4000)"
    assert table_key("(5004,1234)") == "(50xx,xxxx)"
    assert table_key("(0009,1001)") == "private"


def test_retaining_option_beats_cleaning_one():
    both = Profile("both", options=("rtnLongModifDatesOpt", "rtnLongFullDatesOpt"))
    assert action_for("(0008,0020)", both) == ("K", "rtnLongFullDatesOpt")


def test_dates_and_times_missing_option_columns_follow_the_temporal_options() -> None:
    """Rows newer than the 2020 option columns (Instance Creation Time, Radiopharmaceutical
    Start DateTime...) are shifted under Retain Longitudinal Modified Dates, like Study Date;
    the patient's birth date is not retained by a temporal option."""
    from midib.keys.ps315 import action_for

    midi_b, basic = load_profile("midi-b"), load_profile("basic")
    for tag in ("(0008,0013)", "(0018,1078)", "(0008,0020)"):
        assert action_for(tag, midi_b) == ("C", "rtnLongModifDatesOpt"), tag
        assert action_for(tag, basic)[0] != "C", tag
    assert action_for("(0010,0030)", midi_b) == ("Z", None)
