"""MIDI-B interoperability: official SQLite keys, mapping CSVs, import/export round trips."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from midib.answer_key import read_key, read_key_header, write_key
from midib.benchmark import Benchmark
from midib.cli import main
from midib.errors import MidibError
from midib.keys.derive import derive_checks
from midib.keys.mapping_csv import read_mapping, write_mapping
from midib.keys.midi_b import unwrap, write_midi_b_key
from midib.keys.midi_b_read import read_midi_b_key
from midib.keys.profile import load_profile
from midib.ledger import LedgerEntry, read_ledger

CT = "1.2.840.10008.5.1.4.1.1.2"


def item(action, tag_ds, action_text, value=None, name="", hipaa=None):
    return {"action": f"<{action}>", "action_text": f"<{action_text}>",
            "value": f"<{value if value is not None else action_text}>", "tag": tag_ds.split(">")[0] + ">",
            "tag_ds": tag_ds, "tag_name": f"<{name}>",
            "answer_category_v2": {"hipaa": {"z": hipaa, "m": None},
                                   "dicom": {"p15": "DICOM-P15-BASIC-Z", "iod": "2", "safe": None},
                                   "tcia": {"ptkb": None, "p15": None, "rev": None},
                                   "prev_cat": None}}


def tcia_key(path):
    """An answer key shaped like the ones published with the MIDI-B collections."""
    box = json.dumps({"text": "DOE^JOHN", "top_left": [10, 5], "bottom_right": [120, 25]})
    items = [
        item("text_removed", "<(0010,0010)>", "DOE^JOHN", name="Patient's Name", hipaa="HIPAA-A"),
        item("date_shifted", "<(0008,0020)>", "20200101", name="Study Date", hipaa="HIPAA-C"),
        item("uid_changed", "<(0008,1110)>[<0000>]<(0008,1155)>", "1.2.3.99"),
        item("uid_consistent", "<(0020,000d)>", "1.2.3"),
        item("patid_consistent", "<(0010,0020)>", "MRN1"),
        item("text_retained", '<(0019,"SIEMENS CT VA0  COAD",92)>', "120.0"),
        item("pixels_hidden", "<(7fe0,0010)>", box, value="DOE^JOHN"),
        item("pixels_retained", "<(7fe0,0010)>", "0123456789abcdef0123456789abcdef"),
    ]
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE answer_data (SOPInstanceUID TEXT, SeriesInstanceUID TEXT, "
                "StudyInstanceUID TEXT, PatientID TEXT, Modality TEXT, SOPClassUID TEXT, "
                "AnswerData TEXT)")
    con.execute("INSERT INTO answer_data VALUES (?,?,?,?,?,?,?)",
                ("1.2.3.4.5", "1.2.3.4", "1.2.3", "MRN1", "CT", CT,
                 json.dumps({str(i): it for i, it in enumerate(items)})))
    con.commit()
    con.close()
    return path


def test_tcia_key_is_read_with_official_semantics(tmp_path):
    checks = list(read_midi_b_key(tcia_key(tmp_path / "answer_data.db")))
    by = {c.action: c for c in checks}
    assert len(checks) == 8
    name = by["text_removed"]
    assert (name.path, name.expected, name.hipaa_class, name.category) == \
        ("(0010,0010)", {"value": "DOE^JOHN"}, "names", "hipaa")
    assert (name.instance, name.patient_id, name.study_uid, name.sop_class_uid) == \
        ("1.2.3.4.5", "MRN1", "1.2.3", CT)
    assert name.ps315_action == "Z" and name.iod_type == "2"
    assert by["uid_changed"].path == "(0008,1110)[0](0008,1155)"
    assert by["text_retained"].path == '(0019,"SIEMENS CT VA0  COAD",92)'
    assert by["date_shifted"].expected == {"value": "20200101"}
    assert by["pixels_hidden"].expected == {"text": "DOE^JOHN", "box": [10, 5, 120, 25],
                                            "frame": 0}
    assert by["pixels_retained"].expected["boxes"] == [[10, 5, 120, 25]]
    assert by["pixels_retained"].category == "best_practice"
    assert by["patid_consistent"].category == "dicom"


def test_import_key_builds_a_benchmark_folder(tmp_path):
    key = tcia_key(tmp_path / "answer_data.db")
    before = key.read_bytes()
    uid = tmp_path / "uid.csv"
    write_mapping(uid, {"1.2.3": "9.9.9"})
    out = tmp_path / "bench"
    assert main(["import-key", str(key), "--uid-mapping", str(uid), "--out", str(out)]) == 0
    bench = Benchmark.open(out)
    manifest = bench.manifest()
    assert manifest["source"] == "midi-b-key" and manifest["profile"] == "midi-b"
    assert manifest["counts"]["instances"] == 1 and manifest["counts"]["checks"] == 8
    assert read_key_header(bench.checks_path)["profile"] == "midi-b"
    assert len(list(read_key(bench.checks_path))) == 8
    ledger = list(read_ledger(bench.ledger_path))
    assert {e.value for e in ledger} >= {"DOE^JOHN", "20200101", "1.2.3.99", "MRN1"}
    assert read_mapping(out / manifest["mapping"]["uid"]) == {"1.2.3": "9.9.9"}
    assert key.read_bytes() == before  # input untouched
    assert main(["import-key", str(key), "--out", str(out)]) == 2  # exists, no --force
    assert main(["import-key", str(key), "--out", str(out), "--force"]) == 0


def test_tcia_key_survives_import_export_import(tmp_path):
    first = list(read_midi_b_key(tcia_key(tmp_path / "a.db")))
    write_midi_b_key(tmp_path / "b.db", first)
    assert [c.to_dict() for c in read_midi_b_key(tmp_path / "b.db")] == \
        [c.to_dict() for c in first]


def _ledger():
    base = dict(file="p/1.dcm", patient_id="PID1", study_uid="1.2.3", series_uid="1.2.3.4",
                modality="US", sop_class_uid="1.2.840.10008.5.1.4.1.1.6.1")
    return [
        LedgerEntry("a", "phi", "attribute", "patient_name", "names", "1.1", path="(0010,0010)",
                    value="DOE^JOHN", **base),
        LedgerEntry("b", "phi", "free_text", "descriptor", "names", "1.1", path="(0008,1030)",
                    value="John Doe", context="US abdomen for John Doe", **base),
        LedgerEntry("c", "phi", "pixel", "burned_in_text", "names", "1.1", value="DOE",
                    box=[1, 2, 30, 12], frame=0, **base),
        LedgerEntry("d", "keep", "pixel", "pixel_data", "none", "1.1", extra={"md5": "ff"}, **base),
        LedgerEntry("e", "phi", "filename", "file_name", "names", "1.1", value="DOE_JOHN", **base),
        LedgerEntry("g", "phi", "attribute", "study_date", "dates", "1.1", path="(0008,0020)",
                    value="20200101", vr="DA", **base),
        LedgerEntry("f", "phi", "attribute", "sop_uid", "other", "1.2", path="(0008,0018)",
                    value="1.1", **base),
    ]


def test_midib_key_round_trip_export_import_gives_same_checks(tmp_path):
    checks = list(derive_checks(_ledger(), load_profile("midi-b")))
    bench = tmp_path / "bench"
    bench.mkdir()
    Benchmark(bench).write_manifest({"profile": "midi-b", "source": "synthetic"})
    write_key(Benchmark(bench).checks_path, checks, {"profile": "midi-b"})
    db = tmp_path / "answer_data.db"
    assert main(["export-key", str(bench), "--format", "midi-b", "--out", str(db)]) == 0
    con = sqlite3.connect(db)
    rows = con.execute("SELECT SOPInstanceUID, PatientID, SOPClassUID, AnswerData "
                       "FROM answer_data").fetchall()
    cols = [r[1] for r in con.execute("PRAGMA table_info(answer_data)")]
    con.close()
    assert "scope" not in cols and [r[0] for r in rows] == ["1.1", "1.2"]
    assert rows[0][1] == "PID1" and not rows[0][2].startswith("<")  # raw row values
    items = list(json.loads(rows[0][3]).values())
    assert all(i["action"].startswith("<") and i["tag_ds"].startswith("<") for i in items)
    actions = [unwrap(i["action"]) for i in items]
    assert "text_removed" in actions and "filename_removed" in actions
    cleaned = [i for i in items if i["midib"]["action"] == "text_cleaned"][0]
    assert (cleaned["action"], cleaned["action_text"]) == ("<text_removed>", "<John Doe>")
    hidden = [i for i in items if i["action"] == "<pixels_hidden>"][0]
    assert json.loads(unwrap(hidden["action_text"]))["bottom_right"] == [30, 12]
    out = tmp_path / "imported"
    assert main(["import-key", str(db), "--out", str(out)]) == 0
    again = list(read_key(Benchmark(out).checks_path))
    assert [c.to_dict() for c in again] == [c.to_dict() for c in checks]


def test_instances_split_across_the_key_are_merged_into_one_row(tmp_path):
    ledger = _ledger()
    ledger.append(LedgerEntry("h", "phi", "attribute", "patient_name", "names", "1.1",
                              file="p/1.dcm", patient_id="PID1", study_uid="1.2.3",
                              series_uid="1.2.3.4", modality="US", path="(0010,1001)",
                              value="ROE^J"))
    checks = list(derive_checks(ledger, load_profile("midi-b")))
    assert write_midi_b_key(tmp_path / "k.db", checks) == 2
    back = list(read_midi_b_key(tmp_path / "k.db"))
    assert sorted(c.id for c in back) == sorted(c.id for c in checks)
    assert [c.instance for c in back] == sorted(c.instance for c in back)


@pytest.mark.parametrize("content, message", [
    (b"not a database at all, just text" * 10, "not an SQLite answer key"),
    (None, "lacks column"),
])
def test_bad_answer_keys_are_one_line_errors(tmp_path, content, message):
    db = tmp_path / "k.db"
    if content is None:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE other (x TEXT)")
        con.close()
    else:
        db.write_bytes(content)
    with pytest.raises(MidibError, match=message):
        list(read_midi_b_key(db))
    with pytest.raises(MidibError, match="not found"):
        list(read_midi_b_key(tmp_path / "missing.db"))


def test_a_bad_key_touches_no_out_folder(tmp_path, capsys):
    """A key midib cannot read is refused before --out is touched: with --force it once
    deleted the benchmark already there, and a failed import left a half-made folder."""
    good = tmp_path / "good"
    assert main(["import-key", str(tcia_key(tmp_path / "k.db")), "--out", str(good)]) == 0
    before = sorted(p.relative_to(good) for p in good.rglob("*"))
    (tmp_path / "bad.db").write_bytes(b"not a database at all, just text" * 10)
    assert main(["import-key", str(tmp_path / "bad.db"), "--out", str(good), "--force"]) == 2
    assert sorted(p.relative_to(good) for p in good.rglob("*")) == before
    con = sqlite3.connect(tmp_path / "empty.db")
    con.execute("CREATE TABLE answer_data (x TEXT)")
    con.close()
    assert main(["import-key", str(tmp_path / "empty.db"), "--out", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_corrupt_answer_data_json_names_the_row(tmp_path):
    db = tcia_key(tmp_path / "k.db")
    con = sqlite3.connect(db)
    con.execute("UPDATE answer_data SET AnswerData='{broken'")
    con.commit()
    con.close()
    with pytest.raises(MidibError, match=r"row 1: AnswerData is not JSON"):
        list(read_midi_b_key(db))


def test_export_refuses_overwrite_and_unknown_format(tmp_path):
    bench = tmp_path / "b"
    bench.mkdir()
    Benchmark(bench).write_manifest({})
    write_key(Benchmark(bench).checks_path, [], {"profile": "midi-b"})
    (tmp_path / "x.db").write_text("keep me")
    assert main(["export-key", str(bench), "--out", str(tmp_path / "x.db")]) == 2
    assert (tmp_path / "x.db").read_text() == "keep me"
    assert main(["export-key", str(bench), "--format", "csv", "--out", str(tmp_path / "y")]) == 2
    for own in (Benchmark(bench).manifest_path, Benchmark(bench).checks_path):   # even with --force
        before = own.read_bytes()
        assert main(["export-key", str(bench), "--force", "--out", str(own)]) == 2
        assert own.read_bytes() == before


def test_mapping_csv_round_trip_and_errors(tmp_path):
    f = tmp_path / "m.csv"
    assert write_mapping(f, {"1.2": "9.8", "1.1": "9.9"}) == 2
    assert f.read_text() == "id_old,id_new\n1.1,9.9\n1.2,9.8\n"
    assert read_mapping(f) == {"1.1": "9.9", "1.2": "9.8"}
    f.write_text("\ufeffid_old,id_new\r\n007,0042\r\n\r\n")  # BOM, CRLF, leading zeros kept
    assert read_mapping(f) == {"007": "0042"}
    f.write_text("old,new\n1,2\n")
    with pytest.raises(MidibError, match="id_old,id_new"):
        read_mapping(f)
    f.write_text("id_old,id_new\n1,2\n1,3\n")
    with pytest.raises(MidibError, match="mapped twice"):
        read_mapping(f)
    with pytest.raises(MidibError, match="cannot read"):
        read_mapping(tmp_path / "none.csv")


def test_a_mapping_larger_than_any_benchmark_needs_is_refused_unread(tmp_path, monkeypatch):
    """A submission's mapping is held whole in memory: a huge one (sparse here) is one line."""
    from midib.keys import mapping_csv
    f = tmp_path / "uid_mapping.csv"
    f.write_text("id_old,id_new\n1.2,9.8\n")
    with f.open("r+b") as h:
        h.truncate(mapping_csv.MAX_BYTES + 1)
    with pytest.raises(MidibError, match="MiB: more than"):
        read_mapping(f)
    monkeypatch.setattr(mapping_csv, "MAX_BYTES", 64)
    f.write_text("id_old,id_new\n1.2,9.8\n")
    assert read_mapping(f) == {"1.2": "9.8"}


def test_a_mapping_that_is_a_device_or_a_fifo_is_refused_unopened(tmp_path):
    """/dev/zero was read as one endless line until the OOM killer; a FIFO hung the score."""
    import os
    fifo = tmp_path / "uid_mapping.csv"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(MidibError, match="not a regular file"):
            read_mapping(path)


def test_export_into_a_missing_folder_is_a_one_line_error(tmp_path) -> None:
    from midib.errors import MidibError
    from midib.keys.midi_b import write_midi_b_key

    with pytest.raises(MidibError, match="does not exist"):
        write_midi_b_key(tmp_path / "no" / "such" / "a.db", [])
