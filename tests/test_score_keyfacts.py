"""Key records become Checks quickly but never differently: the fast path (a record with
exactly the Check's fields) must equal the careful one, and other records keep the careful one."""

from __future__ import annotations

import dataclasses

from midib.answer_key import Check
from midib.score.keyfacts import _check, instance_facts

RECORD = {"action": "text_removed", "category": "hipaa", "expected": {"value": "DOE^JOHN"},
          "file": "P1/study/series/1.dcm", "hipaa_class": "names", "id": "L1/text_removed",
          "instance": "1.2.3.4", "iod_type": "1", "ledger_ids": ["L1"], "modality": "CT",
          "path": "(0010,0010)", "patient_id": "P1", "ps315_action": "Z", "ps315_option": None,
          "scope": "instance", "series_uid": "1.2.3", "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
          "study_uid": "1.2", "tag_name": "PatientName", "weight": 1.0}


def test_a_complete_record_takes_the_fast_path_and_equals_the_careful_one() -> None:
    assert set(RECORD) == {f.name for f in dataclasses.fields(Check)}, "update RECORD with Check"
    fast = _check(dict(RECORD))
    assert fast == Check.from_dict(dict(RECORD))
    assert fast.expected == {"value": "DOE^JOHN"} and fast.weight == 1.0
    assert dataclasses.replace(fast, path="(0010,0020)").path == "(0010,0020)"


def test_records_missing_or_adding_fields_keep_defaults_and_drop_extras() -> None:
    short = {k: v for k, v in RECORD.items() if k not in ("weight", "iod_type")}
    assert _check(short).weight == 1.0 and _check(short).iod_type is None
    extra = dict(RECORD, future_field="ignored")
    assert _check(extra) == Check.from_dict(dict(RECORD))
    assert not hasattr(_check(extra), "future_field")


def test_instance_facts_carry_what_rule_rows_copy() -> None:
    facts = instance_facts(RECORD)
    assert (facts.instance, facts.file, facts.patient_id, facts.series_uid, facts.modality) == (
        "1.2.3.4", "P1/study/series/1.dcm", "P1", "1.2.3", "CT")
