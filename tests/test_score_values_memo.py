"""The memoised value helpers, the leak sweep's memos and the columnar rows/sink give exactly
what the plain computations give."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from midib.answer_key import Check
from midib.score import values
from midib.score.rows import RowBatch, expected_text, key_row, rule_row
from midib.score.sink import FileSink, RowSink, Tally, _pandas_frame, frame_of, table_of
from midib.score.sweep import Needle, Sweeper, covered, relevant_hits
from midib.score.verdict import Verdict

TEXTS = ["DOE^JOHN", "John Doe", "19-Jan-2004", "01/19/2004", "2004-01-19", "20040119083000",
         "January 19, 2004", "", "   ", "a-b_c", "Ünïcode Näme", "x" * 300 + " 20040119 doe",
         "1.2.840.10008", "Nodule in left lobe, patient Doe, John"]


@pytest.mark.parametrize("text", TEXTS)
def test_memoised_helpers_equal_the_plain_computation(text: str) -> None:
    folded = values.plain(text)   # what a reader sees: "Ünïcode" is the word "unicode", not "n code"
    plain_words = re.findall(r"[0-9a-z]+", folded.lower())
    assert values.words(text) == plain_words
    assert values.norm_text(text) == " ".join(plain_words)
    assert values.dates_in(text) == set(values._dates_in.__wrapped__(text))
    assert values.dicom_date(text) == values._dicom_date.__wrapped__(text)
    assert values.name_components(text) == [w for w in re.findall(
        r"[0-9a-z]+", folded.replace("^", " ").replace("=", " ").lower()) if len(w) >= 2]
    for needle in ("doe", "john doe", "doe john", "left lobe", ""):
        hay, ndl = plain_words, re.findall(r"[0-9a-z]+", needle)
        want = bool(ndl) and any(hay[i:i + len(ndl)] == ndl for i in range(len(hay) - len(ndl) + 1))
        assert values.contains_words(text, needle) is want


def test_memoised_helpers_hand_out_fresh_objects() -> None:
    """A caller changing a result must not change what the next caller gets."""
    values.words("DOE JOHN").append("x")
    assert values.words("DOE JOHN") == ["doe", "john"]
    values.dates_in("20040119").add(dt.date(1999, 1, 1))
    assert values.dates_in("20040119") == {dt.date(2004, 1, 19)}
    values.name_components("DOE^JOHN").clear()
    assert values.name_components("DOE^JOHN") == ["doe", "john"]


def test_non_string_values_are_compared_as_their_text() -> None:
    assert values.words(20040119) == ["20040119"]
    assert values.dicom_date(20040119) == dt.date(2004, 1, 19)
    assert values.contains_words(["DOE", "X"], "doe")


@pytest.mark.parametrize("expected", [
    {"value": "DOE^JOHN"}, {"value": 'quo"te\\back\nline\ttab\x01'}, {"value": "Ünï €"},
    {"value": ""}, {"value": 3}, {"value": None}, {"removed": ["a", "b"], "retained": [], "value": "x"},
    {}, {"text": "DOE", "box": [0, 0, 5, 5], "frame": 0}, {"value": "\ud800"[:0] + "\u2028"},
])
def test_expected_text_is_the_json_of_the_encoder(expected) -> None:
    assert expected_text(expected) == json.dumps(expected, sort_keys=True, ensure_ascii=False)


def _check(i: int, action: str = "text_removed", expected=None) -> Check:
    return Check(id=f"c{i}", instance=f"1.2.{i // 3}", file="a.dcm", patient_id=f"P{i % 4}",
                 study_uid="1.2", series_uid="1.2.1", modality=["CT", "MR"][i % 2], scope="instance",
                 action=action, path=[None, "(0010,0010)", "(0008,1110)[0](0008,1155)"][i % 3],
                 tag_name="PatientName", expected=expected or {"value": f"v{i}"},
                 category=["hipaa", "dicom", "best_practice"][i % 3], ps315_action=["X", None][i % 2],
                 weight=[1, 2.5][i % 2])


def _rows(n: int = 40) -> tuple[list[Check], list[Verdict], list[dict]]:
    checks = [_check(i) for i in range(n)]
    verdicts = [Verdict.ok("seen") if i % 3 else Verdict.fail("still holds", "x", score=0.5) for i in range(n)]
    return checks, verdicts, [key_row(c, v, "out/f.dcm") for c, v in zip(checks, verdicts)]


def test_row_batch_equals_dict_rows() -> None:
    checks, verdicts, rows = _rows()
    extra = [rule_row("uid", "uid/x/valid", "uid_valid", Verdict.ok(), like=checks[0], output_file="f"),
             rule_row("dates", "dates/P0", "dates_intervals", Verdict.fail("no"), scope="patient")]
    batch = RowBatch()
    batch.add_keys(checks[:20], verdicts[:20], "out/f.dcm")
    batch.extend(extra)
    batch.add_keys(checks[20:], verdicts[20:], "out/f.dcm")
    assert len(batch) == len(rows) + 2
    assert batch.table().equals(table_of(rows[:20] + extra + rows[20:]))


def test_table_and_frame_of_rows_equal_the_pandas_way() -> None:
    _, _, rows = _rows()
    pd.testing.assert_frame_equal(frame_of(rows), _pandas_frame(rows))
    odd = [dict(rows[0], weight=1), {k: v for k, v in rows[1].items() if k != "reason"}]
    pd.testing.assert_frame_equal(frame_of(odd), _pandas_frame(odd))  # missing column, int weight
    assert frame_of([]).columns.tolist() == _pandas_frame([]).columns.tolist()


def _reference_tally(df: pd.DataFrame) -> tuple[int, int, dict, dict]:
    """The former pandas tally, kept here as the reference."""
    from midib.score.sink import BREAKDOWNS
    groups = {}
    for name, column in BREAKDOWNS.items():
        keys = df[column].fillna("").astype(str).replace("", "(none)")
        g = df["passed"].groupby(keys).agg(["sum", "count"])
        groups[name] = {str(k): [int(p), int(c)] for k, p, c in zip(g.index, g["sum"], g["count"])}
    with_patient = df[df["patient_id"].fillna("") != ""]
    g = with_patient["passed"].groupby(with_patient["patient_id"]).agg(["sum", "count"])
    patients = {str(k): [int(p), int(c)] for k, p, c in zip(g.index, g["sum"], g["count"])}
    return int(df["passed"].sum()), len(df), groups, patients


def test_tally_counts_as_the_pandas_groupby_did() -> None:
    _, _, rows = _rows(90)
    rows[3]["modality"] = ""          # counted as (none)
    rows[4]["patient_id"] = ""        # not a patient
    rows[5]["category"] = None
    tally = Tally()
    for i in range(0, len(rows), 25):
        tally.add_frame(frame_of(rows[i:i + 25]))
    passed, total, groups, patients = _reference_tally(_pandas_frame(rows))
    assert (tally.passed, tally.total) == (passed, total)
    assert {k: dict(v) for k, v in tally.groups.items()} == groups
    assert dict(tally.patients) == patients


def test_sinks_keep_the_same_rows_whatever_the_batch_shape(tmp_path: Path) -> None:
    checks, verdicts, rows = _rows(60)
    ways = {}
    for name in ("dicts", "frames", "tables"):
        sink = FileSink(tmp_path / name)
        if name == "dicts":
            sink.extend(rows[:7])
            sink.add(rows[7])
            sink.extend(rows[8:])
        elif name == "frames":
            sink.extend_frame(frame_of(rows[:30]))
            sink.extend_frame(frame_of(rows[30:]))
        else:
            batch = RowBatch()
            batch.add_keys(checks, verdicts, "out/f.dcm")
            sink.extend_table(batch.table())
        sink.close()
        ways[name] = ((tmp_path / name / "results.csv").read_bytes(), sink.tally.groups, sink.frame())
    for name in ("frames", "tables"):
        assert ways[name][0] == ways["dicts"][0]
        assert ways[name][1] == ways["dicts"][1]
        pd.testing.assert_frame_equal(ways[name][2], ways["dicts"][2])
    memory = RowSink()
    memory.extend(rows)
    pd.testing.assert_frame_equal(memory.frame(), ways["dicts"][2])
    assert memory.rows[5]["check_id"] == "c5" and memory.rows[5]["passed"] is True


def _sweeper() -> Sweeper:
    sw = Sweeper()
    for comp in ("doe", "john"):
        sw.add_words(comp, "patient_name", "P1", "names", "DOE^JOHN")
        sw.name_parts.add("w:" + comp)
    sw.add_words("VARIAN-TPS2", "station_name", "P2")
    sw.needles["d:2004-01-19"] = Needle("20040119", "birth_date", "dates", ("P1",), "20040119")
    return sw


def test_relevant_hits_lone_family_name_is_no_leak_but_two_parts_are() -> None:
    sw = Sweeper()
    for comp in ("brown", "debra"):
        sw.add_words(comp, "patient_name", "P1", "names", "BROWN^DEBRA^F")
        sw.name_parts.add("w:" + comp)
    lone = [("w:brown", "(0010,0010)", "BROWN^VIOLET")]
    both = [("w:brown", "(0010,0010)", "BROWN^DEBRA"), ("w:debra", "(0010,0010)", "BROWN^DEBRA")]
    assert relevant_hits(lone, sw, "P1") == []
    assert relevant_hits(both, sw, "P1") == both[:1]


def test_covered_memo_equals_the_plain_rule() -> None:
    date = Needle("20040119", "birth_date")
    name = Needle("doe", "patient_name", whole="DOE^JOHN")
    for _ in range(2):
        assert covered(date, ["19-Jan-2004"]) and covered(date, ["20040119"])
        assert not covered(date, ["20040120", "DOE^JOHN"])
        assert covered(name, ["DOE^JOHN"]) and not covered(name, ["20040119"])
        assert not covered(name, [])
