"""Every output walked once: the records the observe phase stores are the ones a second walk would
give, the check units read them instead of the file, and a missing store only costs a re-read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from midib.cli import main
from midib.score import observation, records
from midib.score.diskmap import Writer
from midib.score.observation import Element, OutputRecord, observe, pack_record, unpack_record


def _score(bench: Path, run: Path, out: Path, jobs: int = 1) -> bytes:
    assert main(["score", str(bench), str(run), "--out", str(out), "--no-ocr", "--no-conformance",
                 "--jobs", str(jobs)]) in (0, 1)
    return (out / "results.csv").read_bytes()


def test_a_packed_record_unpacks_equal_to_the_walk_it_came_from(mini_bench: Path) -> None:
    from midib.benchmark import Benchmark
    from midib.score.scorer import load_key
    index, _, _ = load_key(Benchmark.open(mini_bench), None)
    wanted = frozenset(index.facts.wanted)
    files = sorted(p for p in (mini_bench / "input").rglob("*") if p.is_file())[:12]
    for path in files:
        rec = observe(path, path.name, wanted, index.sweeper)
        assert rec.uids and rec.hits and rec.elements            # inputs hold all their PHI
        back = unpack_record(pack_record(rec))
        assert back == rec
        assert all(type(e) is Element for found in back.elements.values() for e in found)
        assert back.elements[next(iter(back.elements))][0].path  # fields by name still work
    broken = OutputRecord("junk.dcm", error="unreadable DICOM: InvalidDicomError: no header")
    assert unpack_record(pack_record(broken)) == broken


def test_matching_view_reads_like_the_record_it_slims(mini_bench: Path) -> None:
    """The compact view matching keeps in memory answers ``at``/``first`` exactly as the
    record trimmed to matching's paths, and survives the trip from a worker (pickle)."""
    import pickle

    from midib.score.matching import FEATURE_PATHS
    from midib.score.workunits import SlimRecord
    keys = frozenset(FEATURE_PATHS)
    files = sorted(p for p in (mini_bench / "input").rglob("*") if p.is_file())
    seen_nested = False
    for path in files:
        rec = observe(path, path.name, keys, None).trimmed(keys)
        view = pickle.loads(pickle.dumps(SlimRecord(rec)))
        assert (view.file, view.error, view.uids, view.hits) == (rec.file, rec.error, (), ())
        for key in FEATURE_PATHS:
            assert view.at(key) == rec.at(key) and view.first(key) == rec.first(key)
        seen_nested |= any("[" in e.path for found in rec.elements.values() for e in found)
    assert seen_nested  # SR/RTSTRUCT/SEG structure paths were among them
    assert SlimRecord(OutputRecord("x.dcm", error="unreadable")).at(FEATURE_PATHS[0]) == []


def test_a_record_marshal_cannot_write_is_pickled_instead() -> None:
    odd = OutputRecord("odd.dcm", {"(0010,0010)": [Element("(0010,0010)", "PN", (Path("x"),))]})  # type: ignore[arg-type]
    data = pack_record(odd)
    assert data[:1] == b"P" and unpack_record(data) == odd


def test_a_store_gives_none_for_a_file_it_lacks_or_once_removed(tmp_path: Path) -> None:
    spill = records.RecordSpill(tmp_path / "r.db")
    rec = OutputRecord("a.dcm", {"(0010,0020)": [Element("(0010,0020)", "LO", ("MRN1",))]},
                       hits=[("n1", "(0010,0020)", "MRN1")])
    spill.add([("a.dcm", *records.packed(rec, frozenset({"(0010,0020)"})))])
    ident, full = spill.finish()
    assert full["a.dcm"] == rec and ident["a.dcm"].elements == rec.elements and not ident["a.dcm"].hits
    assert full.get_record("b.dcm") is None and dict(full.items()) == {"a.dcm": rec}
    spill.remove()
    assert not (tmp_path / "r.db").exists()
    assert records.RecordStore(full.table).get_record("a.dcm") is None   # gone: the caller re-reads


def test_a_writer_refuses_an_unknown_table_and_leaves_no_open_file_on_error(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "w.db", ("one",))
    with pytest.raises(ValueError, match="no table 'two'"):
        writer.add("two", [("k", b"v")])
    with pytest.raises(ValueError, match="not a table name"):
        Writer(tmp_path / "x.db", ("drop table",))
    with pytest.raises(sqlite3.Error):
        with Writer(tmp_path / "y.db", ("t",)) as w:
            w.add("t", [("k", b"1"), ("k", b"2")])                   # duplicate key
    assert writer.finish()["one"].get("k") is None


def test_each_output_is_walked_once_and_judged_as_a_second_walk_would(
        mini_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scored inline (--jobs 1) so the walks can be counted: one per output file; then the same
    score with the store ignored (every check unit walks its file again) is byte-identical."""
    run = mini_bench / "input"
    outputs = sum(1 for p in run.rglob("*") if p.is_file())
    walked: list[str] = []
    real = observation.observe_raw

    def counting(path, rel, wanted, scan):
        if scan is not None:  # outputs (sources are read for matching features, unswept)
            walked.append(rel)
        return real(path, rel, wanted, scan)
    monkeypatch.setattr(observation, "observe_raw", counting)
    once = _score(mini_bench, run, tmp_path / "once")
    assert len(walked) == outputs and len(set(walked)) == outputs
    monkeypatch.setattr(records.RecordStore, "get_record", lambda self, file: None)
    walked.clear()
    twice = _score(mini_bench, run, tmp_path / "twice")
    assert len(walked) == 2 * outputs
    assert once == twice
    assert once == _score(mini_bench, run, tmp_path / "parallel", jobs=2)


def test_a_scratch_folder_that_cannot_be_written_is_one_clear_error(
        mini_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    from midib.score import diskmap
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the scratch folder should be")
    monkeypatch.setattr(diskmap, "scratch_dir", lambda: blocker)
    out = tmp_path / "score"
    code = main(["score", str(mini_bench), str(mini_bench / "input"), "--out", str(out), "--no-ocr",
                 "--no-conformance"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write the scorer's scratch file" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "results.csv").exists() and blocker.read_text().startswith("a file")


def test_file_names_that_are_not_utf8_are_scored_and_named_escaped(
        mini_bench: Path, tmp_path: Path) -> None:
    """A hostile submission's ``bad\\xff.dcm`` (bytes no codec reads) beside a real ``ÿ`` name: both
    read once, stored apart, scored, and named in the results (the first escaped), no traceback."""
    import csv
    import os
    import shutil
    sub = tmp_path / "submission"
    sub.mkdir()
    sources = sorted(p for p in (mini_bench / "input").rglob("*.dcm"))[:3]
    names = [b"bad\xff name.dcm", "bad\u00ff name.dcm".encode(), b"plain.dcm"]
    for src, name in zip(sources, names):
        shutil.copyfile(src, os.path.join(os.fsencode(sub), name))
    out = tmp_path / "score"
    assert main(["score", str(mini_bench), str(sub), "--out", str(out), "--no-ocr",
                 "--no-conformance"]) in (0, 1)
    with (out / "results.csv").open(encoding="utf-8") as f:
        named = {row["output_file"] for row in csv.DictReader(f) if row["source"] == "key"}
    assert {"bad\\udcff name.dcm", "bad\u00ff name.dcm", "plain.dcm"} <= named


def test_stored_keys_escape_only_what_sqlite_cannot_bind(tmp_path: Path) -> None:
    from midib.score.diskmap import DiskMap, stored_key
    odd, real = "bad\udcff.dcm", "bad\u00ff.dcm"
    assert stored_key("plain.dcm") == "plain.dcm" and stored_key(real) == real
    assert stored_key(odd) != stored_key(real) and stored_key(odd).startswith("\x00")
    dm = DiskMap.write(tmp_path / "k.db", "t", [(odd, 1), (real, 2)])
    assert dm[odd] == 1 and dm[real] == 2 and odd in dm and "bad.dcm" not in dm
