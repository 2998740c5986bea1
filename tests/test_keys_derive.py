"""Answer-key derivation: every rule of docs/answer-key.md on hand-made ledger entries."""

from __future__ import annotations

import pytest

from midib.answer_key import ACTIONS, CATEGORIES
from midib.errors import MidibError
from midib.keys.derive import derive_checks, derive_key_file
from midib.keys.profile import Profile, load_profile
from midib.ledger import LedgerEntry, write_ledger

MIDI_B = load_profile("midi-b")
BASIC = load_profile("basic")
_n = iter(range(10_000))


def entry(path, value, *, role="phi", channel="attribute", kind="x", phi_class="other",
          instance="1.2.3.1", **kw):
    defaults = dict(file="p/s/1.dcm", patient_id="PID1", study_uid="1.2.3", series_uid="1.2.3.4",
                    modality="CT", vr=None, sop_class_uid="1.2.840.10008.5.1.4.1.1.2")
    defaults.update(kw)
    return LedgerEntry(id=f"e{next(_n)}", role=role, channel=channel, kind=kind,
                       phi_class=phi_class, instance=instance, path=path, value=value, **defaults)


def checks(entries, profile):
    return [c for c in derive_checks(entries, profile) if c.action != "deid_recorded"]


def actions(entries, profile):
    return [(c.action, c.expected.get("value")) for c in checks(entries, profile)]


def test_removal_codes_give_text_removed_and_d_adds_notnull():
    name = entry("(0010,0010)", "DOE^JOHN", kind="patient_name", phi_class="names")
    person = entry("(0040,a123)", "ROE^JANE", kind="physician_name", phi_class="names")
    (c,) = checks([name], MIDI_B)
    assert (c.action, c.expected, c.ps315_action, c.category, c.hipaa_class) == \
        ("text_removed", {"value": "DOE^JOHN"}, "Z", "hipaa", "names")
    got = checks([person], MIDI_B)
    assert [x.action for x in got] == ["text_removed", "text_notnull"]
    assert got[1].category == "dicom"


def test_ancestor_sequence_removal_removes_the_leaf():
    # Other Patient IDs Sequence is X: the nested Patient ID is removed, not patid_consistent
    nested = entry("(0010,1002)[0](0010,0020)", "MRN-OTHER", phi_class="mrn")
    (c,) = checks([nested], MIDI_B)
    assert c.action == "text_removed" and c.ps315_action == "X"
    # a nested UID under an X/Z sequence is removed too, not replaced
    ref = entry("(0008,1110)[0](0008,1155)", "1.2.3.9", phi_class="other")
    assert actions([ref], MIDI_B) == [("text_removed", "1.2.3.9")]


def test_patient_id_is_patid_consistent_only():
    (c,) = checks([entry("(0010,0020)", "MRN1", phi_class="mrn")], BASIC)
    assert (c.action, c.scope, c.expected) == ("patid_consistent", "patient", {"value": "MRN1"})


@pytest.mark.parametrize("path, scope", [("(0020,000d)", "study"), ("(0020,000e)", "series"),
                                         ("(0008,0018)", "instance"), ("(0020,0052)", "instance")])
def test_uids_changed_and_consistent_with_scope(path, scope):
    got = checks([entry(path, "1.2.826.0.1.5", kind="study_uid")], MIDI_B)
    assert [(c.action, c.scope) for c in got] == [("uid_changed", scope), ("uid_consistent", scope)]
    assert got[1].category == "dicom"


def test_dates_shifted_with_interval_under_option_removed_without():
    first = entry("(0008,0020)", "20200101", kind="study_date", phi_class="dates", vr="DA",
                  instance="1.1")
    later = entry("(0008,0020)", "20210301", kind="study_date", phi_class="dates", vr="DA",
                  instance="2.1", study_uid="9.9")
    time = entry("(0008,0030)", "101500", kind="study_time", phi_class="dates", vr="TM")
    got = checks([later, first, time], MIDI_B)
    assert [(c.action, c.instance) for c in got] == [
        ("date_shifted", "2.1"), ("date_interval", "2.1"), ("date_shifted", "1.1"),
        ("date_shifted", "1.2.3.1")]
    interval = got[1]
    assert interval.category == "best_practice"
    assert interval.expected["reference"] == "20200101"
    assert interval.expected["reference_instance"] == "1.1"
    assert [c.action for c in checks([later, first, time], BASIC)] == ["text_removed"] * 3


def test_patient_characteristics_and_device_identity_kept_only_by_options():
    sex = entry("(0010,0040)", "F", kind="sex", phi_class="none")
    serial = entry("(0018,1000)", "SN-4411", kind="device_serial", phi_class="device")
    got = checks([sex, serial], MIDI_B)
    assert [(c.action, c.ps315_option, c.category) for c in got] == [
        ("text_retained", "rtnPatCharsOpt", "dicom"), ("text_retained", "rtnDevIdOpt", "dicom")]
    assert [c.action for c in checks([sex, serial], BASIC)] == ["text_removed", "text_removed"]


def test_free_text_cleaned_under_clean_descriptors_removed_without():
    ctx = "Follow-up for John Smith lung nodule"
    e = entry("(0008,1030)", "John Smith", channel="free_text", kind="descriptor",
              phi_class="names", context=ctx)
    (c,) = checks([e], MIDI_B)
    assert c.action == "text_cleaned" and c.ps315_option == "cleanDescOpt"
    assert c.expected["removed"] == ["John Smith"] and c.expected["value"] == ctx
    assert "lung" in c.expected["retained"] and "nodule" in c.expected["retained"]
    assert "John" not in c.expected["retained"]
    assert actions([e], BASIC) == [("text_removed", "John Smith")]


def test_sr_text_inherits_clean_structured_content():
    e = entry("(0040,a730)[0](0040,a730)[1](0040,a160)", "Dr Who", channel="free_text",
              phi_class="names", context="Seen by Dr Who today")
    (c,) = checks([e], MIDI_B)
    assert (c.action, c.ps315_option) == ("text_cleaned", "cleanStructContOpt")
    assert [x.action for x in checks([e], BASIC)] == ["text_removed"]  # Content Sequence is D


def test_private_entries_safe_kept_only_under_rtn_safe_priv():
    safe = entry('(0019,"SIEMENS CT VA0  COAD",92)', "120.0", channel="private",
                 kind="safe_private", phi_class="none", extra={"safe": True})
    unsafe = entry('(0029,"ACME",10)', "DOE^JOHN", channel="private", phi_class="names")
    keep_safe = entry('(0019,"SIEMENS CT VA0  COAD",93)', "5", role="keep", channel="private",
                      phi_class="none", extra={"safe": True})
    assert actions([safe, unsafe, keep_safe], MIDI_B) == [
        ("text_retained", "120.0"), ("text_removed", "DOE^JOHN"), ("text_retained", "5")]
    assert actions([safe, unsafe, keep_safe], BASIC) == [
        ("text_removed", "120.0"), ("text_removed", "DOE^JOHN")]


def test_keep_entries_retained_unless_profile_removes_them():
    thick = entry("(0018,0050)", "1.25", role="keep", phi_class="none", kind="geometry")
    loose = entry("(0018,1030)", "CHEST", role="keep", phi_class="none", extra={"exact": False})
    age = entry("(0010,1010)", "045Y", role="keep", phi_class="none", kind="age")
    got = checks([thick, loose, age], MIDI_B)
    assert [(c.action, c.category) for c in got] == [
        ("text_retained", "dicom"), ("tag_retained", "dicom"), ("text_retained", "dicom")]
    assert [c.action for c in checks([thick, loose, age], BASIC)] == ["text_retained"]


def test_pixels_hidden_under_clean_pixel_data_and_retained_outside_boxes():
    box1 = entry(None, "DOE^JOHN", channel="pixel", kind="burned_in_text", phi_class="names",
                 box=[0, 0, 100, 20], frame=0, extra={"text": "DOE^JOHN"})
    box2 = entry(None, "MRN1", channel="pixel", kind="burned_in_text", phi_class="mrn",
                 box=[0, 30, 60, 50], frame=2)
    other = entry(None, "X", channel="pixel", kind="burned_in_text", box=[1, 1, 2, 2],
                  instance="other")
    keep = entry(None, "", role="keep", channel="pixel", kind="pixel_data", phi_class="none",
                 extra={"md5": "abc"})
    got = checks([keep, box1, box2, other], MIDI_B)
    assert [c.action for c in got] == ["pixels_retained"] + ["pixels_hidden"] * 3
    assert got[0].expected == {"md5": "abc", "boxes": [[0, 0, 100, 20], [0, 30, 60, 50]],
                               "frames": [0, 2]}
    assert got[2].expected == {"text": "MRN1", "box": [0, 30, 60, 50], "frame": 2}
    assert [c.action for c in checks([keep, box1, box2], BASIC)] == ["pixels_retained"]


def test_overlay_filename_and_deid_recorded():
    ov = entry("(6000,3000)", "DOE", channel="overlay", kind="overlay_text", phi_class="names",
               box=[1, 2, 3, 4])
    fn = entry(None, "DOE_JOHN", channel="filename", kind="file_name", phi_class="names")
    got = list(derive_checks([ov, fn], MIDI_B))
    assert [c.action for c in got] == ["deid_recorded", "overlay_hidden", "text_removed"]
    assert got[0].expected == {"options": list(MIDI_B.options)} and got[0].category == "dicom"
    assert got[1].expected == {"text": "DOE", "group": "6000", "box": [1, 2, 3, 4]}
    assert (got[1].ps315_action, got[1].ps315_option) == ("C", "cleanGraphOpt")
    assert got[2].path is None and got[2].expected == {"value": "DOE_JOHN", "where": "filename"}
    assert list(derive_checks([ov], BASIC))[1].ps315_action == "X"


def test_unlisted_attribute_with_identifier_is_best_practice_removal():
    e = entry("(0018,1030)", "DOE", phi_class="names")  # Protocol Name: unlisted in the table?
    e2 = entry("(0028,0301)", "JOHN", phi_class="names")  # Burned In Annotation: not in the table
    got = checks([e2], MIDI_B)
    assert [(c.action, c.category, c.ps315_action) for c in got] == [
        ("text_removed", "best_practice", None)]
    assert checks([e], MIDI_B)  # whatever the table says, an identifier yields a check


def test_profile_switch_changes_the_key_and_shapes_are_valid():
    ledger = [entry("(0010,0040)", "M", kind="sex", phi_class="none"),
              entry("(0008,0020)", "20200101", kind="study_date", phi_class="dates", vr="DA"),
              entry("(0008,1030)", "Smith", channel="free_text", phi_class="names",
                    context="CT for Smith")]
    a, b = list(derive_checks(ledger, MIDI_B)), list(derive_checks(ledger, BASIC))
    assert [c.action for c in a] != [c.action for c in b]
    for c in a + b:
        assert c.action in ACTIONS and c.category in CATEGORIES and c.weight == 1.0
    assert len({c.id for c in a}) == len(a)


def test_deterministic_ids_order_and_streaming_from_file(tmp_path):
    ledger = [entry("(0010,0010)", "A^B", instance=f"1.{i}") for i in range(5)]
    one = [c.to_dict() for c in derive_checks(iter(ledger), MIDI_B)]
    two = [c.to_dict() for c in derive_checks(ledger, MIDI_B)]
    write_ledger(tmp_path / "ledger.jsonl", ledger)
    three = [c.to_dict() for c in derive_key_file(tmp_path / "ledger.jsonl", MIDI_B)]
    assert one == two == three
    assert [c["id"] for c in one][:2] == ["deid/1.0", f"{ledger[0].id}/text_removed"]
    assert sum(c["action"] == "deid_recorded" for c in one) == 5


def test_override_in_profile_changes_action():
    custom = Profile("c", options=MIDI_B.options, overrides={"(0010,0010)": "K"})
    assert actions([entry("(0010,0010)", "DOE^J")], custom) == [("text_retained", "DOE^J")]


def test_entry_without_path_on_attribute_channel_is_an_error():
    with pytest.raises(MidibError, match="needs an attribute path"):
        list(derive_checks([entry(None, "x")], MIDI_B))
