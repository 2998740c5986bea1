"""IOD requirement types: the look-up table and its use in derived answer keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from midib.answer_key import read_key
from midib.benchmark import Benchmark
from midib.keys.iod import iod_table, iod_type, sop_classes, tables
from midib.tagpath import TagPath

CT = "1.2.840.10008.5.1.4.1.1.2"
SR = "1.2.840.10008.5.1.4.1.1.88.33"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"


def test_top_level_types_in_ct_image():
    assert iod_type(CT, "(0010,0010)") == "2"  # PatientName
    assert iod_type(CT, "(0008,0018)") == "1"  # SOPInstanceUID
    assert iod_type(CT, TagPath.of("StudyDate")) == "2"
    assert iod_type(CT, "(0008,1030)") == "3"  # StudyDescription


def test_iod_specific_module_tightens_the_general_one():
    # General Image lists ImageType as 3; the CT Image module makes it 1
    assert iod_type(CT, "(0008,0008)") == "1"


def test_unknown_sop_class_private_and_unlisted_give_none():
    assert iod_type("1.2.3.4.5", "(0010,0010)") is None
    assert iod_type(None, "(0010,0010)") is None
    assert iod_type(CT, None) is None
    assert iod_type(CT, '(0019,"SIEMENS CT VA0  COAD",92)') is None
    assert iod_type(CT, "(0010,1040)") is None  # PatientAddress: not in composite image IODs


def test_nested_paths_take_the_type_within_their_item():
    # Request Attributes Sequence is type 3, Requested Procedure ID inside it is 1C
    assert iod_type(CT, "(0040,0275)") == "3"
    assert iod_type(CT, "(0040,0275)[0](0040,1001)") == "1C"
    assert iod_type(CT, "(0040,0275)[*](0008,0050)") == "3"
    assert iod_type(CT, "(0008,1110)[0](0008,1155)") == "1"  # SOP Instance Reference macro
    assert iod_type(CT, "(0040,0275)[0](0099,9999)") is None


def test_sr_content_tree_recurses_and_repeating_groups_match():
    assert iod_type(SR, "(0040,a730)[3](0040,a160)") == "1C"
    assert iod_type(SR, "(0040,a730)[3](0040,a730)[0](0040,a730)[1](0040,a160)") == "1C"
    assert iod_type(CT, "(6002,3000)") == iod_type(CT, "(6000,3000)") == "1"


def test_functional_group_macros_sit_in_the_functional_group_items():
    assert iod_type(SEG, "(5200,9229)") is not None
    assert iod_type(SEG, "(5200,9230)[0](0020,9113)") == "1"  # Plane Position Sequence
    # Image Position (Patient) inside it: 1C (required for ORIGINAL frames), per the macro
    assert iod_type(SEG, "(5200,9230)[0](0020,9113)[0](0020,0032)") == "1C"
    assert iod_type(CT, "(5200,9230)[0](0020,9113)") is None  # CT Image has no functional groups


def test_every_generated_sop_class_is_covered_and_the_file_stays_small():
    path = Path(__file__).resolve().parents[1] / "midib" / "data" / "iod_types.json"
    assert path.stat().st_size < 1_000_000
    assert tables()["format"] == "midib-iod-types"
    for uid in (CT, SR, SEG, "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.128"):
        assert uid in sop_classes()
        assert len(iod_table(uid)) > 500


def test_derived_key_carries_iod_types(mini_bench: Path):
    bench = Benchmark(mini_bench)
    checks = list(read_key(bench.key_dir / "checks.jsonl"))
    by_path = {}
    for c in checks:
        if c.path and c.sop_class_uid == CT:
            by_path.setdefault(c.path, c.iod_type)
    assert by_path.get("(0010,0010)") == "2"
    assert by_path.get("(0008,0018)", "1") == "1"
    assert all(c.iod_type is None for c in checks if c.path is None)
    assert all(c.iod_type is None for c in checks if c.path and '"' in c.path)
    typed = [c for c in checks if c.iod_type is not None]
    assert len(typed) > len(checks) // 2
    assert {c.iod_type for c in typed} <= {"1", "1C", "2", "2C", "3"}


def test_midi_b_export_carries_iod_type(mini_bench: Path):
    midi_b = pytest.importorskip("midib.keys.midi_b")
    bench = Benchmark(mini_bench)
    check = next(c for c in read_key(bench.key_dir / "checks.jsonl")
                 if c.path == "(0010,0010)" and c.sop_class_uid == CT)
    items = midi_b.check_to_items(check)
    assert items and all(i["answer_category_v2"]["dicom"]["iod"] == "2" for i in items)
