"""End to end on a hand-made benchmark (pydicom's bundled CT and MR, PHI planted by the test).

A correct de-identification must score 100 %, a copy must fail every removal check and pass
every retention check, and leaks the key does not look for must be caught by the sweep.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import pandas as pd
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.answer_key import Check, write_key
from midib.benchmark import Benchmark
from midib.cli import main
from midib.ledger import LedgerEntry, write_ledger
from midib.score.inputs import open_run
from midib.score.scorer import ScoreOptions, score_run

PID = "MRN123456"
SOURCES = {"CT_small.dcm": ("1.2.826.0.1.9.1", "1.2.826.0.1.9.10", "1.2.826.0.1.9.100", "20040119"),
           "MR_small.dcm": ("1.2.826.0.1.9.2", "1.2.826.0.1.9.10", "1.2.826.0.1.9.200", "20040301")}
PHI = {"PatientName": ("DOE^JOHN", "names"), "PatientID": (PID, "mrn"),
       "PatientBirthDate": ("19700304", "dates"), "InstitutionName": ("Springfield General Hospital", "geographic")}


def _entry(n: int, inst: str, file: str, study: str, series: str, kw: str, value: str, phi_class: str,
           vr: str, role: str = "phi", channel: str = "attribute") -> LedgerEntry:
    tag = pydicom.datadict.tag_for_keyword(kw)
    return LedgerEntry(id=f"L{n:04d}", role=role, channel=channel, kind=kw.lower(), phi_class=phi_class,
                       instance=inst, file=file, patient_id=PID, study_uid=study, series_uid=series,
                       modality="", path=f"({tag >> 16:04x},{tag & 0xFFFF:04x})", tag_name=kw, vr=vr,
                       value=value)


def _check(e: LedgerEntry, action: str, expected: dict, category: str = "hipaa", **kw) -> Check:
    return Check(id=f"{e.id}/{action}", instance=e.instance, file=e.file, patient_id=PID,
                 study_uid=e.study_uid, series_uid=e.series_uid, modality="CT", scope="instance",
                 action=action, path=kw.pop("path", e.path), tag_name=e.tag_name, expected=expected,
                 category=category, hipaa_class=e.phi_class, ledger_ids=[e.id], **kw)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hand_made_bench(tmp_path_factory.mktemp("handbench"))


def hand_made_bench(root: Path) -> Path:
    """pydicom's CT and MR with :data:`PHI` planted, their ledger and key, in ``root``."""
    entries, checks = [], []
    for name, (sop, study, series, date) in SOURCES.items():
        ds = pydicom.dcmread(get_testdata_file(name))
        for kw, (value, _) in PHI.items():
            setattr(ds, kw, value)
        ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.StudyDate = sop, study, series, date
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.StudyDescription = "CT chest for John Doe follow up"
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = ds.SOPClassUID, "1.2.826.0.1.9.1"
        ds.ReferencedImageSequence = Sequence([ref])
        rel = f"{PID}/{name}"
        (root / "input" / PID).mkdir(parents=True, exist_ok=True)
        ds.save_as(root / "input" / rel)
        mk = lambda kw, v, cls, vr, **k: _entry(len(entries), sop, rel, study, series, kw, v, cls, vr, **k)
        for kw, (value, cls) in PHI.items():
            e = mk(kw, value, cls, pydicom.datadict.dictionary_VR(kw)); entries.append(e)
            checks.append(_check(e, "patid_consistent" if kw == "PatientID" else "text_removed", {"value": value}))
        e = mk("StudyDate", date, "dates", "DA"); entries.append(e)
        checks.append(_check(e, "date_shifted", {"value": date}))
        for kw, uid in (("SOPInstanceUID", sop), ("StudyInstanceUID", study), ("SeriesInstanceUID", series)):
            e = mk(kw, uid, "other", "UI", channel="uid"); entries.append(e)
            checks += [_check(e, "uid_changed", {"value": uid}), _check(e, "uid_consistent", {"value": uid}, "dicom")]
        e = mk("StudyDescription", "John Doe", "names", "LO", channel="free_text"); entries.append(e)
        checks.append(_check(e, "text_cleaned", {"removed": ["John Doe"], "retained": ["chest", "follow"]}))
        e = mk("Modality", ds.Modality, "none", "CS", role="keep"); entries.append(e)
        checks.append(_check(e, "text_retained", {"value": ds.Modality}, "dicom"))
        e = _entry(len(entries), sop, rel, study, series, "ReferencedImageSequence", "1.2.826.0.1.9.1", "other", "UI", channel="uid")
        e.path = "(0008,1140)[0](0008,1155)"; entries.append(e)
        checks.append(_check(e, "uid_changed", {"value": "1.2.826.0.1.9.1"}))
        checks.append(_check(e, "deid_recorded", {"options": []}, "dicom", path="(0012,0062)"))
        checks[-1].id = f"deid/{sop}"
    write_ledger(root / "answer_key" / "ledger.jsonl", entries)
    write_key(root / "answer_key" / "checks.jsonl", checks, {"profile": "hand"})
    Benchmark(root).write_manifest({"preset": "hand", "seed": 0})
    return root


def new_uid(old: str) -> str:
    return "2.25." + str(int(hashlib.sha256(old.encode()).hexdigest()[:30], 16))


def deidentify(ds: Dataset) -> None:
    """A correct de-identification of the hand-made sources."""
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.InstitutionName = "ANON^P1", "P1", "", ""
    for elem in ds:
        if elem.VR == "DA" and elem.value:   # every date moved by the same 30 days
            d = dt.datetime.strptime(str(elem.value), "%Y%m%d") - dt.timedelta(days=30)
            elem.value = d.strftime("%Y%m%d")
    for kw in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        setattr(ds, kw, new_uid(getattr(ds, kw)))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ref = ds.ReferencedImageSequence[0]
    ref.ReferencedSOPInstanceUID = new_uid(ref.ReferencedSOPInstanceUID)
    ds.StudyDescription = "CT chest for [removed] follow up"
    ds.PatientIdentityRemoved, ds.DeidentificationMethod = "YES", "hand-made test"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113100", "DCM", "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    for tag in [t for t in ds.keys() if t.is_private]:
        del ds[tag]


def make_run(bench: Path, out: Path, edit: Callable[[Dataset], None] | None,
             name: Callable[[int, Dataset], str] = lambda i, ds: f"out/{i:03d}.dcm") -> Path:
    for i, src in enumerate(sorted((bench / "input").rglob("*.dcm"))):
        ds = pydicom.dcmread(src)
        if edit:
            edit(ds)
        target = out / name(i, ds)
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target)
    return out


def score(bench: Path, run: Path, **kw) -> pd.DataFrame:
    result = score_run(Benchmark(bench), open_run(run), ScoreOptions(ocr=False, **kw))
    return pd.DataFrame(result.rows), result


def test_correct_deidentification_scores_100(bench: Path, tmp_path: Path) -> None:
    rows, result = score(bench, make_run(bench, tmp_path / "good", deidentify))
    failed = rows[~rows.passed]
    assert failed.empty, failed[["check_id", "reason"]].to_string()
    assert result.match.methods_used() == "content" and len(result.match.pairs) == 2
    assert set(rows.source) >= {"key", "uid", "dates", "deid"}


def test_copy_fails_every_removal_and_passes_every_retention(bench: Path, tmp_path: Path) -> None:
    rows, _ = score(bench, make_run(bench, tmp_path / "copy", None))
    key = rows[rows.source == "key"]
    removal = key[key.action.isin(["text_removed", "date_shifted", "uid_changed", "text_cleaned", "deid_recorded"])]
    assert not removal.passed.any()
    assert key[key.action == "text_retained"].passed.all()


def test_sweep_catches_phi_moved_elsewhere(bench: Path, tmp_path: Path) -> None:
    def leaky(ds: Dataset) -> None:
        deidentify(ds)
        ds.ImageComments = "Patient john DOE, born 03/04/1970"
        block = ds.private_block(0x0011, "LEAKY", create=True)
        block.add_new(0x01, "LO", "Springfield General Hospital")
    rows, _ = score(bench, make_run(bench, tmp_path / "leaky", leaky))
    sweep = rows[rows.source == "sweep"]
    where = set(sweep.path)
    assert "(0020,4000)" in where and '(0011,"LEAKY",01)' in where
    assert "DOE^JOHN" in {json.loads(e)["value"] for e in sweep.expected}
    assert any("1970" in o for o in sweep.observed)
    assert (~sweep.passed).all()


def test_sweep_catches_phi_in_file_names(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "names", deidentify, name=lambda i, ds: f"Doe_John/{i}.dcm")
    rows, _ = score(bench, run)
    assert (rows[(rows.source == "sweep")].path == "").sum() >= 2


def test_inconsistent_uids_and_broken_references_fail(bench: Path, tmp_path: Path) -> None:
    def sloppy(ds: Dataset) -> None:
        deidentify(ds)
        ds.StudyInstanceUID = new_uid(ds.SOPInstanceUID)   # each instance its own study
        ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "2.25.1"
    rows, _ = score(bench, make_run(bench, tmp_path / "sloppy", sloppy))
    assert not rows[rows.action == "uid_references"].passed.all()
    assert rows[(rows.action == "uid_consistent") & rows.path.eq("(0020,000d)")].passed.sum() == 0


def test_matching_reports_missing_and_duplicate_outputs(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "dups", deidentify)
    shutil.copy(run / "out/000.dcm", run / "out/copy.dcm")
    (run / "out/001.dcm").unlink()
    (run / "notes.txt").write_text("not dicom")
    rows, result = score(bench, run)
    assert len(result.match.unmatched_inputs) == 1 and result.match.extra_outputs == ["notes.txt"]
    assert len(result.match.duplicate_outputs) == 1
    missing = rows[(rows.source == "key") & (rows.instance == result.match.unmatched_inputs[0])]
    assert (missing.reason == "no output matched").all() and len(missing) > 5
    assert len(rows[rows.source == "key"]) == len(list(read_checks(bench)))


def read_checks(bench: Path):
    from midib.answer_key import read_key
    return read_key(bench / "answer_key" / "checks.jsonl")


def test_mapping_csv_is_used(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "mapped", deidentify)
    mapping = tmp_path / "uid.csv"
    olds = [v[0] for v in SOURCES.values()]
    mapping.write_text("id_old,id_new\n" + "".join(f"{o},{new_uid(o)}\n" for o in olds))
    rows, result = score(bench, run, mapping=mapping)
    assert result.match.methods_used() == "mapping"
    # the CSV lists SOP UIDs only: the study and series UIDs keep the maps derived from the pairs
    consistent = rows[rows.action == "uid_consistent"]
    assert set(consistent.path) >= {"(0020,000d)", "(0020,000e)"} and consistent.passed.all()
    assert rows[rows.action == "uid_one_to_one"].passed.all()


def test_mapping_csv_rows_win_over_derived_maps(bench: Path, tmp_path: Path) -> None:
    """A CSV row that names another new UID than the output holds: that output breaks its own
    mapping, and the CSV (the submission's declaration) is what it is judged against."""
    run = make_run(bench, tmp_path / "mapped-wrong", deidentify)
    mapping = tmp_path / "uid.csv"
    olds = [v[0] for v in SOURCES.values()]
    mapping.write_text("id_old,id_new\n" + "".join(f"{o},{new_uid(o)}9\n" for o in olds))
    rows, _ = score(bench, run, mapping=mapping)
    sop = rows[(rows.action == "uid_consistent") & rows.path.eq("(0008,0018)")]
    assert len(sop) == 2 and not sop.passed.any()
    assert sop.reason.str.contains("does not follow the mapping").all()


def test_results_identical_whatever_jobs(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "jobs", deidentify, name=lambda i, ds: f"d{i}/x.dcm")
    one, _ = score(bench, run, jobs=1)
    two, _ = score(bench, run, jobs=2)
    pd.testing.assert_frame_equal(one, two)


def test_cli_writes_score_folder_and_exit_codes(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "cli", None)
    before = sorted(p.name for p in run.rglob("*"))
    out = tmp_path / "score"
    assert main(["score", str(bench), str(run), "--out", str(out), "--no-ocr"]) == 0
    assert sorted(p.name for p in run.rglob("*")) == before          # nothing written into RUN
    summary = json.loads((out / "summary.json").read_text())
    assert summary["format"] == "midib-score" and summary["overall"]["total"] == len(pd.read_csv(out / "results.csv"))
    assert set(summary["by_category"]) <= {"hipaa", "dicom", "best_practice"}
    assert pd.read_parquet(out / "results.parquet").passed.dtype == bool
    assert main(["score", str(bench), str(run), "--out", str(out), "--no-ocr", "--min-score", "99"]) == 1
    assert main(["score", str(tmp_path / "nope"), str(run), "--no-ocr"]) == 2
    assert main(["score", str(bench), str(run), "--no-ocr"]) == 0 and (run / "score" / "summary.json").is_file()


def test_formula_midi_b_gives_the_official_figure(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("midib.keys.midi_b_formula")
    run = make_run(bench, tmp_path / "mb", deidentify)
    run_copy = make_run(bench, tmp_path / "mbcopy", None)
    for target in (run, run_copy):
        out = tmp_path / f"score-{target.name}"
        assert main(["score", str(bench), str(target), "--out", str(out), "--no-ocr",
                     "--formula", "midi-b"]) == 0
        summary = json.loads((out / "summary.json").read_text())
        rows = pd.read_parquet(out / "results.parquet")
        official = rows[(rows.source == "key") & (rows.path != "") & rows.action.isin(
            ["text_removed", "text_retained", "tag_retained", "text_notnull", "date_shifted", "uid_changed",
             "uid_consistent", "patid_consistent", "pixels_hidden", "pixels_retained", "text_cleaned"])]
        by_hand = round(100.0 * official.passed.sum() / len(official), 4)
        assert summary["formula"] == "midi-b" and summary["overall"]["percent"] == by_hand
        assert summary["midi_b"]["total"] == len(official)


def test_profile_option_rederives_the_key_from_the_ledger(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("midib.keys.derive")
    run = make_run(bench, tmp_path / "prof", deidentify)
    out = tmp_path / "score"
    assert main(["score", str(bench), str(run), "--out", str(out), "--no-ocr", "--profile", "basic"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["profile"] == "basic" and summary["overall"]["total"] > 0
    assert main(["score", str(bench), str(run), "--out", str(out), "--profile", "no-such-profile"]) == 2


def test_key_units_give_the_rows_of_the_sequential_pass(bench: Path, tmp_path: Path, monkeypatch) -> None:
    """Workers reading their own byte range of the key (one instance per unit here) give the
    same rows as the instance-by-instance pass over the whole key."""
    from midib.score import checkunits, keyfacts
    run = make_run(bench, tmp_path / "units", deidentify)
    monkeypatch.setattr(checkunits, "UNIT_INSTANCES", 1)
    units, _ = score(bench, run, jobs=2)
    real_gather = keyfacts.gather

    def ungrouped(*args, **kw):
        facts = real_gather(*args, **kw)
        facts.grouped = False   # forces the sequential pass
        return facts
    monkeypatch.setattr(keyfacts, "gather", ungrouped)
    sequential, _ = score(bench, run, jobs=1)
    pd.testing.assert_frame_equal(units, sequential)
    assert len(units) > 0


def test_hostile_submission_links_devices_and_junk_are_reported_not_scored(bench: Path, tmp_path: Path) -> None:
    """A symlink to another run's perfect output must not score; junk is listed with a reason."""
    perfect = make_run(bench, tmp_path / "someone_elses_good_run", deidentify)
    sub = tmp_path / "submission"
    sub.mkdir()
    for i, f in enumerate(sorted(perfect.rglob("*.dcm"))):
        (sub / f"stolen{i}.dcm").symlink_to(f)
    (sub / "folder_link").symlink_to(perfect, target_is_directory=True)
    (sub / "junk.dcm").write_bytes(b"not dicom at all")
    (sub / "empty.dcm").write_bytes(b"")
    os.mkfifo(sub / "pipe.dcm")
    rows, result = score(bench, sub)
    assert not result.match.pairs, "linked files were scored as the submission's own"
    key = rows[rows.source == "key"]
    assert not key.passed.any() and (key.reason == "no output matched").any()
    rejected = {r["file"]: r["reason"] for r in result.match.rejected_outputs}
    assert set(rejected) == {"stolen0.dcm", "stolen1.dcm", "folder_link", "pipe.dcm"}
    assert "outside the submission" in rejected["stolen0.dcm"]
    unreadable = {r["file"] for r in result.match.unreadable_outputs}
    assert unreadable == {"junk.dcm", "empty.dcm"}


def test_links_inside_the_submission_are_followed(bench: Path, tmp_path: Path) -> None:
    run = make_run(bench, tmp_path / "good", deidentify)
    files = sorted(run.rglob("*.dcm"))
    target = run / "elsewhere" / files[0].name
    target.parent.mkdir()
    files[0].rename(target)
    files[0].symlink_to(target)
    _, result = score(bench, run)
    assert not result.match.rejected_outputs


def test_an_output_that_changes_after_matching_is_judged_on_the_one_reading_never_as_empty(
        bench: Path, tmp_path: Path, monkeypatch) -> None:
    """Outputs are read once, in full, before matching (:mod:`midib.score.records`): a file
    replaced by junk afterwards is judged on what was read then (the rows of an unchanged run),
    and the checks that read the file again (pixels, conformance) fail: nothing passes as
    'absent'."""
    from midib.score import scorer
    run = make_run(bench, tmp_path / "changing", None)
    clean, _ = score(bench, run)
    real_maps, spoiled = scorer._maps, []

    def match_then_spoil(match, *args, **kw):  # right after matching, before any check
        found = real_maps(match, *args, **kw)
        victim = sorted(rec.file for rec in match.pairs.values())[0]
        (run / victim).write_bytes(b"not DICOM any more")
        spoiled.append(victim)
        return found
    monkeypatch.setattr(scorer, "_maps", match_then_spoil)
    rows, _ = score(bench, run)
    def again(frame: pd.DataFrame) -> pd.Series:
        return frame.action.str.startswith("pixels_") | (frame.source == "conformance")
    mine, before = rows[rows.output_file == spoiled[0]], clean[clean.output_file == spoiled[0]]
    assert (~again(mine)).sum() > 10 and again(mine).any() and not mine[again(mine)].passed.any()
    assert mine[~again(mine)].reset_index(drop=True).equals(before[~again(before)].reset_index(drop=True))


def test_sources_read_for_content_matching_are_cached_and_give_the_same_pairs(
        bench: Path, tmp_path: Path, monkeypatch) -> None:
    """A tool that renames every SOP instance is matched on content: the sources' features are
    read once, cached for the user, and the second score pairs exactly as the first."""
    from midib.score import workunits
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(tmp_path / "cache"))
    run = make_run(bench, tmp_path / "renamed", deidentify)
    first_rows, first = score(bench, run)
    assert set(first.match.method.values()) <= {"content", "content+pixels"} and first.match.pairs

    def must_not_read(paths):
        raise AssertionError("sources read again despite a warm cache")
    monkeypatch.setattr(workunits, "features_unit", must_not_read)
    second_rows, second = score(bench, run)
    assert {i: r.file for i, r in second.match.pairs.items()} == {i: r.file for i, r in first.match.pairs.items()}
    pd.testing.assert_frame_equal(first_rows, second_rows)


def _leaky(edit: Callable[[Dataset], None]) -> Callable[[Dataset], None]:
    """A correct de-identification, then ``edit`` hides PHI somewhere the walk reads badly."""
    def both(ds: Dataset) -> None:
        deidentify(ds)
        edit(ds)
    return both


def _sweep_failures(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows.source == "sweep") & ~rows.passed]


def test_phi_in_a_first_duplicate_element_is_found_in_the_file_bytes(bench: Path, tmp_path: Path) -> None:
    """pydicom keeps the last of two PatientName elements: the first, holding the name, would
    pass unseen; the sweep of the bytes of a file the byte walker refused finds it."""
    run = make_run(bench, tmp_path / "dup", deidentify)
    target = run / "out/000.dcm"
    data = target.read_bytes()
    at = data.index(b"\x10\x00\x10\x00PN")   # the cleaned PatientName, explicit VR little endian
    target.write_bytes(data[:at] + b"\x10\x00\x10\x00PN\x08\x00DOE^JOHN" + data[at:])
    rows, _ = score(bench, run)
    found = _sweep_failures(rows)
    assert (found.path == "(file bytes)").any() and found.reason.str.contains("DOE").any()


def test_large_and_binary_values_are_judged_not_skipped(bench: Path, tmp_path: Path) -> None:
    """A 70 KB PatientName written as UN is read as the check's value; a private UT of 70 KB and
    a private OW holding text are swept; text runs of a PatientName written as OB bytes are not "covered"
    by the PatientName check, which saw no value there."""
    def big_un(ds: Dataset) -> None:
        ds.add_new(0x00100010, "UN", b"DOE^JOHN" + b" " * 70000)
    rows, _ = score(bench, make_run(bench, tmp_path / "un", _leaky(big_un)))
    name = rows[(rows.action == "text_removed") & rows.path.eq("(0010,0010)")]
    assert len(name) == 2 and not name.passed.any()

    def private_text(ds: Dataset) -> None:
        block = ds.private_block(0x0011, "HOSTILE", create=True)
        block.add_new(0x01, "UT", "Seen for follow up " * 4000 + "MRN123456")
        block.add_new(0x02, "OW", b"Institution Springfield General Hospital")
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "priv", _leaky(private_text)))[0])
    assert found.reason.str.contains("MRN123456").sum() == 2
    assert found.reason.str.contains("Springfield General Hospital").sum() == 2

    def binary_name(ds: Dataset) -> None:
        ds.add_new(0x00100010, "OB", bytes(range(1, 21)) + b"DOE^JOHN" + bytes(range(1, 23)))
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "bin", _leaky(binary_name)))[0])
    assert set(found.path) == {"(0010,0010)"} and len(found) == 2


def test_unreadable_and_non_dicom_files_are_swept(bench: Path, tmp_path: Path) -> None:
    """A README left in a submission, a file named after the patient: not DICOM, still leaks."""
    run = make_run(bench, tmp_path / "junk", deidentify)
    (run / "out" / "README.txt").write_text("Cases of DOE^JOHN, MRN123456, reviewed.\n")
    (run / "out" / "DOE JOHN notes.txt").write_bytes(b"\x00" * 64)
    rows, result = score(bench, run)
    found = _sweep_failures(rows)
    readme = found[found.output_file == "out/README.txt"]
    assert readme.reason.str.contains("MRN123456").any() and readme.reason.str.contains("DOE").any()
    assert (found[found.output_file == "out/DOE JOHN notes.txt"].path == "").any()
    assert {u["file"] for u in result.match.unreadable_outputs} >= {"out/README.txt", "out/DOE JOHN notes.txt"}
    assert rows[rows.source == "key"].passed.all()   # the real outputs are still judged as before


def test_an_earlier_score_in_a_plain_folder_is_not_scored_as_output(bench: Path, tmp_path: Path) -> None:
    """A plain folder scored once by default (RUN/score), then again with --out elsewhere: its
    results.csv quotes every planted value and would read as one long leak; it is reported as
    rejected, and both scores agree."""
    run = make_run(bench, tmp_path / "twice", deidentify)
    assert main(["score", str(bench), str(run), "--no-ocr", "--no-conformance"]) == 0
    first = json.loads((run / "score" / "summary.json").read_text())
    out = tmp_path / "elsewhere"
    assert main(["score", str(bench), str(run), "--no-ocr", "--no-conformance", "--out", str(out)]) == 0
    second = json.loads((out / "summary.json").read_text())
    assert second["overall"] == first["overall"] and first["overall"]["percent"] == 100.0
    rejected = {r["file"] for r in second["matching"]["rejected_outputs"]}
    assert rejected == {"score/results.csv", "score/results.parquet", "score/summary.json"}


def test_a_file_merely_named_like_an_earlier_score_is_scored(bench: Path, tmp_path: Path) -> None:
    """A planted score/summary.json saying midib-score does not hide a results.csv that is not
    one (a copy of an input there is a leak); a FIFO named summary.json does not hang the walk;
    and the default score folder refuses to replace files it did not write."""
    run = make_run(bench, tmp_path / "planted", deidentify)
    (run / "score").mkdir()
    (run / "score" / "summary.json").write_text('{"format": "midib-score"}')
    shutil.copy(sorted((bench / "input").rglob("*.dcm"))[0], run / "score" / "results.csv")
    rows, _ = score(bench, run)
    assert (~rows[rows.output_file == "score/results.csv"].passed).any()
    assert main(["score", str(bench), str(run), "--no-ocr", "--no-conformance"]) == 2
    fifo = make_run(bench, tmp_path / "fifo", deidentify)
    (fifo / "score").mkdir()
    os.mkfifo(fifo / "score" / "summary.json")
    rows, result = score(bench, fifo)
    assert rows[rows.source == "key"].passed.all()
    assert {r["file"] for r in result.match.rejected_outputs} == {"score/summary.json"}


def test_names_of_rejected_entries_and_a_kept_original_patient_id_fail(bench: Path, tmp_path: Path) -> None:
    """A dangling link named after the patient is never read, but its name leaks; a PatientID
    holding the pseudonym and the original MRN is no replacement; a name that is not UTF-8
    reaches summary.json as an escape, never a crash."""
    def both_ids(ds: Dataset) -> None:
        deidentify(ds)
        ds.PatientID = ["P1", PID]
    run = make_run(bench, tmp_path / "rej", both_ids)
    os.symlink("/nonexistent", run / "out" / "DOE JOHN.dcm")
    (run / "out" / b"bad\xff.txt".decode("utf-8", "surrogateescape")).write_bytes(b"nothing here")
    rows, _ = score(bench, run)
    named = rows[(rows.output_file == "out/DOE JOHN.dcm") & ~rows.passed]
    assert named.reason.str.contains("DOE").any()
    patid = rows[rows.action == "patid_consistent"]
    assert len(patid) == 2 and not patid.passed.any() and patid.reason.str.contains("still holds").all()
    out = tmp_path / "rej-score"
    assert main(["score", str(bench), str(run), "--no-ocr", "--no-conformance", "--out", str(out)]) == 0
    assert "\\udcff" in (out / "summary.json").read_text() and json.loads((out / "summary.json").read_text())
